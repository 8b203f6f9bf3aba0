"""Execute code in a kernel through the server's websocket, as JupyterLab does.

One websocket per kernel (``/user/NAME/api/kernels/ID/channels``, JSON messages of the Jupyter
messaging protocol with a ``channel`` field). :meth:`KernelChannel.execute` sends one
``execute_request`` and gathers what the kernel published for it — streams, rich displays,
results, errors — until the kernel is idle again and its ``execute_reply`` has come.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import websocket

OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error", "update_display_data")
FIGURE_TYPES = ("image/svg+xml", "image/png")


class KernelTimeout(Exception):
    """The kernel did not finish a cell in time."""


@dataclass(frozen=True)
class CellRun:
    """What one executed cell gave, nbformat-like outputs, and when."""

    source: str
    outputs: list[dict[str, Any]]
    seconds: float
    first_figure_s: float | None  # seconds from the request to the first figure, if any
    status: str  # the execute_reply's status: "ok", "error" or "aborted"


@dataclass
class KernelChannel:
    """A websocket to one kernel, authenticated with the student's token."""

    url: str
    token: str
    username: str = "student"
    session: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self._ws = websocket.create_connection(
            self.url, header=[f"Authorization: token {self.token}"], timeout=30)

    def close(self) -> None:
        self._ws.close()

    def __enter__(self) -> KernelChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, code: str, timeout_s: float = 300.0) -> CellRun:
        """Run ``code``; return its outputs once the kernel is idle and has replied."""
        msg_id = uuid.uuid4().hex
        started = time.monotonic()
        self._ws.send(json.dumps(self._request(msg_id, code)))
        outputs: list[dict[str, Any]] = []
        first_figure: float | None = None
        idle, status = False, ""
        while not (idle and status):
            left = timeout_s - (time.monotonic() - started)
            if left <= 0:
                raise KernelTimeout(f"no answer after {timeout_s:.0f} s to:\n{code[:200]}")
            self._ws.settimeout(left)
            message = json.loads(self._ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["header"]["msg_type"], message.get("content", {})
            if kind in OUTPUT_TYPES:
                outputs.append(_as_output(kind, content))
                if first_figure is None and any(t in content.get("data", {})
                                                for t in FIGURE_TYPES):
                    first_figure = time.monotonic() - started
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind == "execute_reply":
                status = str(content.get("status", "ok"))
        return CellRun(code, outputs, time.monotonic() - started, first_figure, status)

    def _request(self, msg_id: str, code: str) -> dict[str, Any]:
        return {
            "header": {"msg_id": msg_id, "username": self.username, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3",
                       "date": datetime.now(UTC).isoformat()},
            "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": False},
        }


def _as_output(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    if kind == "stream":
        return {"output_type": "stream", "name": content.get("name"),
                "text": content.get("text", "")}
    if kind == "error":
        return {"output_type": "error", "ename": content.get("ename", ""),
                "evalue": content.get("evalue", ""), "traceback": content.get("traceback", [])}
    return {"output_type": "display_data" if kind == "update_display_data" else kind,
            "data": content.get("data", {}), "metadata": content.get("metadata", {})}
