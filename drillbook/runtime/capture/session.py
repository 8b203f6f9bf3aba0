"""The caller's side of a run's kernel-event capture: claim a prepared tracefs instance, drain
it while the run goes on, hand back the raw events, and have the instance removed on every exit.

It runs in the process that started the run (a shell, pytest, a Jupyter kernel), never in the
worker: the worker keeps its CPU time for the script's timing, and the instance is removed
even when the worker dies. ``start()`` takes this process's spare instance (spare.py: made
before, tracing off) or reserves the one being prepared, else names a new one; a capture
thread then makes it if needed and turns tracing on while the worker starts (the worker waits
for tracing to be on before its time 0, see observer.py), then reads every CPU's
``trace_pipe_raw`` every few milliseconds, so that the small per-CPU buffer never fills with
the host's own TCP traffic. Nothing is decoded during the run: pages are kept as bytes and
parsed after it (attribute.py).

A spare records nothing while its tracing is off, so a claimed one holds only events from its
claim on; the tests check that (tests/kernel/test_explain_kernel.py).

Theory of exits: ``stop()`` (called from a ``finally``) hands the instance to the spare
keeper's upkeep thread, which removes it, whether the run passed, failed, timed out or was
interrupted; the interpreter's exit waits for that (atexit). A SIGKILL of this process leaves
its instances behind; the next capture's start sweeps instances whose pid is dead
(tracefs.py).
"""

from __future__ import annotations

import _thread
import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from drillbook.runtime.capture.formats import EventFormat
from drillbook.runtime.capture.ringbuffer import (
    MISSED_EVENTS,
    MISSED_STORED,
    PageLayout,
)
from drillbook.runtime.capture.spare import (
    KEEPER,
    Coming,
    Prepared,
    prepare,
)
from drillbook.runtime.capture.tracefs import (
    Instance,
    TracefsUnavailable,
    tracefs_root,
)
from drillbook.runtime.threads import without_process_signals

DRAIN_INTERVAL_S = 0.02
COMING_WAIT_S = 10.0  # the upkeep thread always finishes; this only bounds a stuck kernel
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
        self.from_spare = False  # claimed a spare prepared before the run
        self._source: Prepared | Coming | None = None
        self._pages: list[tuple[int, bytes]] = []
        self._layout = PageLayout()
        self._page_size = 4096
        self._stop = threading.Event()
        self._running = False
        self._ended = threading.Event()  # the capture thread returned
        self._warm_up: Callable[[], object] = lambda: None
        # The armed instance whose pipes are still open; the capture thread and stop() drain
        # under this lock, and whichever comes first after the stop does the last drain.
        self._drain_lock = threading.Lock()
        self._draining: Prepared | None = None

    @property
    def instance_path(self) -> str:
        """The instance's folder, for the worker's gate ("" without a capture)."""
        return self.instance.path if self.instance is not None else ""

    @classmethod
    def start(cls, warm_up: Callable[[], object] = lambda: None) -> KernelCapture:
        """Take the spare (or reserve the one coming, or name a new instance) and start the
        capture thread, which makes it if needed and turns tracing on while the worker
        starts. ``warm_up`` runs on that thread once tracing is on (the caller's first run
        imports what it needs after the worker returns there, not on its own path)."""
        capture = cls()
        capture._warm_up = warm_up
        try:
            root = tracefs_root()
        except TracefsUnavailable as exc:
            capture.result.note = str(exc)
            return capture
        source = capture._source = KEEPER.take()
        capture.instance = source.instance if source is not None else Instance.named(root)
        # A bare thread: threading.Thread.start() waits until the new thread runs, which costs
        # the caller milliseconds on a busy machine; nothing here needs that handshake.
        capture._running = True
        _thread.start_new_thread(without_process_signals(capture._run_and_end), ())
        return capture

    def _run_and_end(self) -> None:
        try:
            self._run()
        finally:
            self._ended.set()

    def _run(self) -> None:
        instance = self.instance
        assert instance is not None
        prepared: Prepared | None = None
        try:
            prepared = self._prepared(instance)
            if prepared is None:
                return  # stopped before the spare it waited for arrived
            self.result.formats, self.result.missing = prepared.formats, prepared.missing
            self._layout, self._page_size = prepared.layout, prepared.page_size
            prepared.record()
            with self._drain_lock:
                self._draining = prepared
                self.result.armed = True
            with contextlib.suppress(Exception):
                self._warm_up()
            while not self._stop.wait(DRAIN_INTERVAL_S):
                with self._drain_lock:
                    if self._draining is None:
                        break
                    self._drain(prepared.fds)
            self._last_drain()
        except (OSError, TracefsUnavailable) as exc:
            self.result.note = f"tracefs: {exc}"
            # The worker waits for tracing to be on: remove the instance so that it goes on
            # (its pipes first: an open reader keeps it busy).
            with self._drain_lock:
                self._draining = None
            if prepared is not None:
                prepared.close()
            instance.remove()
        finally:
            if prepared is not None and self._draining is None:
                prepared.close()

    def _last_drain(self) -> None:
        """What the pipes still hold, the overrun count, and the pipes closed (once)."""
        with self._drain_lock:
            prepared, self._draining = self._draining, None
            if prepared is not None:
                self._drain(prepared.fds)
                self.result.overruns = prepared.overruns()
                prepared.close()

    def _prepared(self, instance: Instance) -> Prepared | None:
        """The run's instance, ready but for tracing on: the spare, the one coming, or one
        made now (the first run of a process, or parallel runs)."""
        source = self._source
        if isinstance(source, Prepared):
            self.from_spare = True
            return source
        if isinstance(source, Coming):
            waited = 0.0
            while not source.done.wait(0.005):
                waited += 0.005
                if self._stop.is_set() or waited > COMING_WAIT_S:
                    arrived = KEEPER.abandon(source)
                    if arrived is not None:
                        arrived.close()  # stop() has the instance removed
                    return None
            if source.prepared is not None:
                self.from_spare = True
                return source.prepared
        return prepare(instance)

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

        Removing an instance waits for RCU grace periods (35-90 ms here): the spare keeper's
        upkeep thread does it, then prepares the next spare, so the caller gets its trace at
        once. The interpreter's exit waits for it (atexit); :func:`wait_for_removals` too.
        """
        self._stop.set()
        # The last drain here, not on the capture thread: waking it could cost milliseconds
        # on a busy machine. A capture still arming is waited for.
        self._last_drain()
        if self._running and not self.result.armed:
            self._ended.wait(timeout=5.0)
        if self.instance is not None:
            KEEPER.after_run(self.instance)
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
    """Wait until every instance this process stopped is removed (a spare may remain:
    spare.discard_spare removes it too)."""
    KEEPER.settle(timeout_s)


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
