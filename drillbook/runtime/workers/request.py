"""The messages between a caller and its worker process: the request (script, folder,
configuration, entry function), the reply (result or error, output, timings) and the
configuration's JSON form. Both sides import this module; neither imports the other.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from drillbook.config import IpMode, RunConfig
from drillbook.errors import RunAborted, SandboxError, ScriptError

DEFAULT_ENTRY = "drillbook.runtime.workers.entry:drive"


PARENT_PID_ENV = "DRILLBOOK_PARENT_PID"
EXIT_PARENT_GONE = 70


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """A JSON-able dict of *config* (enums by value, tuples as lists)."""
    data = {key: _lists(value) for key, value in dataclasses.asdict(config).items()}
    data["ip_mode"] = config.ip_mode.value
    return data


def _lists(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_lists(item) for item in value]
    return value


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """Inverse of :func:`config_to_dict`; unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown RunConfig fields: {sorted(unknown)}")
    values = {key: _tuples(value) for key, value in data.items()}
    if "ip_mode" in values:
        values["ip_mode"] = IpMode(values["ip_mode"])
    return RunConfig(**values)


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


@dataclass(frozen=True)
class WorkerRequest:
    """Everything the worker needs to run one script."""

    script_text: str
    script_path: str
    cwd: str
    config: dict[str, Any] = field(default_factory=dict)
    entry: str = DEFAULT_ENTRY
    # Explore mode (drillbook's, not a packetdrill flag): record what the kernel sends instead
    # of asserting it, and sniff explore_grace_us longer after the last event.
    explore: bool = False
    explore_grace_us: int = 300_000
    # The caller's tracefs instance for this run's kernel events (runtime/capture/): the worker
    # waits before time 0 until it records. "" when nothing is captured.
    capture_instance: str = ""

    @property
    def run_config(self) -> RunConfig:
        """The configuration as a RunConfig again."""
        return config_from_dict(self.config)

    def to_json(self) -> str:
        """The request as sent on the worker's stdin."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerRequest:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


class WorkerErrorKind(enum.Enum):
    """Why a worker could not return a result."""

    SANDBOX = "sandbox"  # the namespace or the TUN device could not be made
    SCRIPT = "script"  # a ScriptError, rendered in the worker
    CRASH = "crash"  # any other exception: a bug
    TIMEOUT = "timeout"  # the parent's deadline (only reaches it inside the RunAborted)


@dataclass(frozen=True)
class WorkerError:
    """Why a worker could not return a result, as it crosses the pipe."""

    kind: WorkerErrorKind
    message: str
    type_name: str = ""
    traceback: str = ""
    stderr_tail: str = ""


@dataclass(frozen=True)
class WorkerReply:
    """The entry function's result (or an error), the child's output, and timings in ns
    (``spawn``: parent before spawning; ``child_start``, ``sandbox_ready``, ``entry_done``
    taken by the child, all ``time.time_ns()``)."""

    result: dict[str, Any] | None
    error: WorkerError | None
    stdout: str
    stderr: str
    returncode: int
    timings: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the entry returned a result."""
        return self.error is None

    def raise_for_error(self) -> None:
        """Raise the error as a drillbook exception (ScriptError for kind ``script``,
        SandboxError for ``sandbox``, RunAborted for ``crash``)."""
        if self.error is None:
            return
        if self.error.kind is WorkerErrorKind.SCRIPT:
            raise RemoteScriptError(self.error.message)
        if self.error.kind is WorkerErrorKind.SANDBOX:
            raise SandboxError(self.error.message)
        raise RunAborted(_crash_message(self.error))


class RemoteScriptError(ScriptError):
    """A ScriptError raised inside the worker; its message arrives already rendered
    (``path:line:col: message`` plus the caret excerpt), so it is shown as is."""

    def __str__(self) -> str:
        return self.message

    def render(self) -> str:
        return self.message


def _crash_message(error: WorkerError) -> str:
    text = f"the worker crashed: {error.type_name}: {error.message}"
    if error.traceback:
        text += "\n" + error.traceback.rstrip()
    return text
