"""The caller's side of a run's kernel-event capture: arm a tracefs instance, drain it while
the run goes on, hand back the raw events, and remove the instance on every exit.

It runs in the process that started the run (a shell, pytest, a Jupyter kernel), never in the
worker: the worker keeps its CPU time for the script's timing, and the instance is removed
even when the worker dies. A capture thread arms the instance while the worker starts (the
worker waits for tracing to be on before its time 0, see gate.py), then reads every CPU's
``trace_pipe_raw`` every few milliseconds, so that the small per-CPU buffer never fills with
the host's own TCP traffic. Nothing is decoded during the run: pages are kept as bytes and
parsed after it (attribute.py).

Theory of exits: ``stop()`` (called from a ``finally``) removes the instance whether the run
passed, failed, timed out or was interrupted. A SIGKILL of this process leaves the instance
behind; the next capture's start sweeps instances whose pid is dead (tracefs.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field

from drillbook.runtime.capture.formats import EventFormat
from drillbook.runtime.capture.ringbuffer import (
    MISSED_EVENTS,
    MISSED_STORED,
    PageLayout,
    parse_header_page,
)
from drillbook.runtime.capture.tracefs import (
    Instance,
    TracefsUnavailable,
    sweep_stale,
    tracefs_root,
)

DRAIN_INTERVAL_S = 0.02
REMOVAL_THREAD = "drillbook-tracefs-removal"
READ_SIZE = 1 << 16


@dataclass
class CaptureResult:
    """What a capture saw: raw events of every CPU, the formats to decode them, what was lost."""

    formats: list[EventFormat] = field(default_factory=list)
    pages: list[tuple[int, bytes]] = field(default_factory=list)  # (cpu, one raw page)
    layout: PageLayout = field(default_factory=PageLayout)
    missing: list[str] = field(default_factory=list)
    overruns: int = 0
    armed: bool = False
    note: str = ""


class KernelCapture:
    """One run's capture. ``start()`` never raises: without tracefs it records why."""

    def __init__(self) -> None:
        self.instance: Instance | None = None
        self.result = CaptureResult()
        self._pages: list[tuple[int, bytes]] = []
        self._layout = PageLayout()
        self._page_size = 4096
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def instance_path(self) -> str:
        """The instance's folder, for the worker's gate ("" without a capture)."""
        return self.instance.path if self.instance is not None else ""

    @classmethod
    def start(cls) -> KernelCapture:
        """Name the instance and start the capture thread, which makes and arms it (the
        slow part) while the worker starts."""
        capture = cls()
        try:
            root = tracefs_root()
        except TracefsUnavailable as exc:
            capture.result.note = str(exc)
            return capture
        capture.instance = Instance.named(root)
        capture._thread = threading.Thread(
            target=capture._run, name="drillbook-capture", daemon=True
        )
        capture._thread.start()
        return capture

    def _run(self) -> None:
        instance = self.instance
        assert instance is not None
        fds: dict[int, int] = {}
        try:
            sweep_stale(instance.root)
            instance.create()
            with (
                contextlib.suppress(OSError),
                open(os.path.join(instance.root, "events", "header_page")) as header,
            ):
                self._layout = parse_header_page(header.read())
            formats, missing = instance.formats()
            self.result.formats, self.result.missing = formats, missing
            instance.arm(formats)
            with contextlib.suppress(OSError, ValueError):
                self._page_size = int(instance.read("buffer_subbuf_size_kb")) * 1024
            fds = {cpu: instance.open_pipe(cpu) for cpu in instance.cpus()}
            self.result.armed = True
            while not self._stop.wait(DRAIN_INTERVAL_S):
                self._drain(fds)
            self._drain(fds)
            self.result.overruns = instance.overruns()
        except (OSError, TracefsUnavailable) as exc:
            self.result.note = f"tracefs: {exc}"
            # The worker waits for tracing to be on: remove the instance so that it goes on.
            instance.remove()
        finally:
            for fd in fds.values():
                os.close(fd)

    def _drain(self, fds: dict[int, int]) -> None:
        for cpu, fd in fds.items():
            while True:
                try:
                    data = os.read(fd, READ_SIZE)
                except BlockingIOError:
                    break
                if not data:
                    break
                self._pages.append((cpu, data))

    def stop(self) -> CaptureResult:
        """End the capture, have the instance removed, and return its raw pages.

        Removing an instance waits for RCU grace periods (35-90 ms here): a thread of its own
        does it, so the caller gets its trace at once. It is not a daemon thread, so the
        interpreter waits for it before exiting; :func:`wait_for_removals` waits for it too.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self.instance is not None:
            threading.Thread(target=self.instance.remove, name=REMOVAL_THREAD).start()
        page_size = self._page_size
        layout = self.result.layout = self._layout
        for cpu, data in self._pages:
            for start in range(0, len(data), page_size):
                page = data[start : start + page_size]
                self.result.pages.append((cpu, page))
                self.result.overruns += _missed(page, layout)
        self._pages.clear()
        return self.result


def wait_for_removals(timeout_s: float = 10.0) -> None:
    """Wait until every instance this process stopped is removed."""
    for thread in threading.enumerate():
        if thread.name == REMOVAL_THREAD:
            thread.join(timeout_s)


def _missed(page: bytes, layout: PageLayout) -> int:
    """Events lost before this page (its commit word's flags; at least 1 when uncounted)."""
    commit = int.from_bytes(
        page[layout.commit_offset : layout.commit_offset + layout.commit_size], "little"
    )
    if not commit & MISSED_EVENTS:
        return 0
    if commit & MISSED_STORED:
        end = layout.data_offset + (commit & ~(MISSED_EVENTS | MISSED_STORED) & 0xFFFFFFFF)
        if end + 8 <= len(page):
            return max(int.from_bytes(page[end : end + 8], "little"), 1)
    return 1
