"""Tracefs instances made before a run needs them: at most one prepared spare per process.

Making an instance costs 50-100 ms of kernel work, most of it waiting for RCU grace periods
(the clock change resets the buffer, the resize reallocates it) while holding tracefs's global
lock, and removing one costs 40-50 ms more. Made at the start of a run, it held up the
worker's time 0 (median 14 ms, up to 40 ms on a quiet machine) and slowed its start.

So a process keeps one *spare*: created, ``trace_clock=mono``, buffer sized, events enabled,
per-CPU pipes open, and **tracing off**, so it records nothing (the enabled events' probes run
and find its buffer off: the host pays a few nanoseconds per TCP event). A run claims it by
turning tracing on (one write, see session.py). One background *upkeep* thread does the rest,
one job at a time, each :data:`UPKEEP_DELAY_S` after what asked for it:

- when a run claims the spare, it prepares the next one: by the time the run ends (or the
  next run of a suite starts) it is ready, and its kernel work falls in the run's script
  rather than in its worker's start (namespace creation, which waits for RCU too);
- when a run's capture stops, it removes the run's instance, and prepares a spare if none is
  ready or coming (a process's first run, parallel runs).

The delay keeps our own tracefs work off the start of a run that follows at once: every
tracefs write takes one global lock, which a removal holds for 40-50 ms, so a claim queued
behind it held up a back-to-back run's time 0. A run that starts while the next spare is still
coming reserves it (its name is chosen when it is scheduled) instead of making another one;
the upkeep then makes it at once and turns its tracing on before any other job.

Every instance is named ``drillbook-<pid>-<n>``, the spare too: the next start's sweep
removes what a SIGKILLed process left (tracefs.py). The spare is removed at interpreter exit
(atexit), after :data:`SPARE_IDLE_S` without a run (its enabled events cost the host a little
on every TCP event), and by :func:`discard_spare` (tests and host checks, before they look for
leftovers). A one-script command (``drillbook run x.pkt``) calls ``keep_spares(False)``: it
would never use a next spare and its exit would wait for one.

A process's first run has no spare from a run before it. :func:`prime_spare` prepares one
whether or not spares are kept after runs: ``drillbook run`` calls it (through
``evidence.prepare_capture``) when it starts, before it parses the script, and a notebook
when ``%load_ext drillbook`` loads; the first run then claims it like any later run, and
this process's upkeep thread already runs (starting a thread costs the caller milliseconds
on a busy machine).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from drillbook.runtime.capture.formats import EventFormat
from drillbook.runtime.capture.ringbuffer import PageLayout, parse_header_page
from drillbook.runtime.capture.tracefs import (
    Instance,
    TracefsUnavailable,
    overruns,
    sweep_stale,
    tracefs_root,
)
from drillbook.runtime.threads import without_process_signals

SPARE_IDLE_S = 300.0
UPKEEP_DELAY_S = 0.15  # after a claim or a stop: a run's worker start takes ~0.1 s
UPKEEP_THREAD = "drillbook-tracefs-upkeep"


@dataclass
class Prepared:
    """An instance ready to record: everything done but turning tracing on."""

    instance: Instance
    formats: list[EventFormat] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    layout: PageLayout = field(default_factory=PageLayout)
    page_size: int = 4096
    fds: dict[int, int] = field(default_factory=dict)  # cpu -> its trace_pipe_raw
    stats_fds: list[int] = field(default_factory=list)  # per-CPU stats (tracefs.open_stats)
    recording: bool = False  # tracing is on (claimed)

    def overruns(self) -> int:
        return overruns(self.stats_fds)

    def record(self) -> None:
        if not self.recording:
            self.instance.record()
            self.recording = True

    def close(self) -> None:
        for fd in [*self.fds.values(), *self.stats_fds]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds, self.stats_fds = {}, []

    def remove(self) -> None:
        self.close()
        self.instance.remove()


def prepare(instance: Instance) -> Prepared:
    """Make ``instance`` and set it up with tracing off (raises OSError/TracefsUnavailable,
    leaving nothing behind)."""
    sweep_stale(instance.root)
    instance.create()
    prepared = Prepared(instance)
    try:
        with (
            contextlib.suppress(OSError),
            open(os.path.join(instance.root, "events", "header_page")) as header,
        ):
            prepared.layout = parse_header_page(header.read())
        prepared.formats, prepared.missing = instance.formats()
        for event_format in prepared.formats:
            event_format.decoder()  # made here, beside the runs, not on a run's path
        instance.configure(prepared.formats)
        with contextlib.suppress(OSError, ValueError):
            prepared.page_size = int(instance.read("buffer_subbuf_size_kb")) * 1024
        for cpu in instance.cpus():
            prepared.fds[cpu] = instance.open_pipe(cpu)
            prepared.stats_fds.append(instance.open_stats(cpu))
    except BaseException:
        prepared.remove()
        raise
    return prepared


class Coming:
    """A spare being prepared, reserved by a run: its name is known now, the rest later."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.prepared: Prepared | None = None
        self.reserved = False
        self.abandoned = False  # the run stopped before it arrived: its maker removes it
        self.done = threading.Event()


class SpareKeeper:
    """This process's spare and its upkeep thread (see the module doc)."""

    def __init__(self) -> None:
        self.enabled = True
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Condition()
        self._ready: Prepared | None = None
        self._coming: Coming | None = None
        self._jobs: deque[tuple[float, Callable[[], None]]] = deque()  # (due, job)
        self._hurry = threading.Event()  # someone waits: no job waits for its due time
        self._busy = False  # the upkeep thread is doing a job
        self._thread_started = False
        self._closed = False
        self._expiry: threading.Timer | None = None

    # -- the runs' side --------------------------------------------------------------------

    def take(self) -> Prepared | Coming | None:
        """The ready spare, else the one being prepared (reserved for the caller), else None.
        Never waits."""
        with self._lock:
            if self._ready is not None:
                ready, self._ready = self._ready, None
                self._cancel_expiry()
                self._schedule_spare(ready.instance.root)
                return ready
            if self._coming is not None and not self._coming.reserved:
                self._coming.reserved = True
                self._hurry.set()
                return self._coming
            return None

    def abandon(self, coming: Coming) -> Prepared | None:
        """The run that reserved ``coming`` no longer wants it: what arrived already (for the
        caller to remove), else its maker removes it when it is made."""
        with self._lock:
            coming.abandoned = True
            return coming.prepared

    def after_run(self, instance: Instance) -> None:
        """A run's capture stopped: remove its instance; prepare a spare if none comes."""
        with self._lock:
            self._jobs.append((time.monotonic() + UPKEEP_DELAY_S, instance.remove))
            self._schedule_spare(instance.root)
            self._start_upkeep()

    def prime(self, root: str) -> None:
        """Prepare a spare now, if none is ready or coming, even when no spare is kept after
        runs (for a process's first run: the CLI at its start, a notebook at load)."""
        with self._lock:
            self._schedule_spare(root, delay_s=0.0, first=True)

    def _schedule_spare(
        self, root: str, delay_s: float = UPKEEP_DELAY_S, first: bool = False
    ) -> None:
        wanted = self.enabled or first
        if wanted and not self._closed and self._ready is None and self._coming is None:
            coming = self._coming = Coming(Instance.named(root))
            self._jobs.append((time.monotonic() + delay_s, lambda: self._make(coming)))
            self._start_upkeep()

    # -- waiting and clean-up ----------------------------------------------------------------

    def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until the upkeep thread has done every job given to it so far."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._hurry.set()
            while (self._jobs or self._busy) and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)

    def discard(self, timeout_s: float = 10.0) -> None:
        """Wait for the upkeep, then remove the spare (nothing of this process's is left)."""
        self.settle(timeout_s)
        with self._lock:
            ready, self._ready = self._ready, None
            self._cancel_expiry()
        if ready is not None:
            ready.remove()

    def close(self) -> None:
        """At exit: no more spares; remove the one there is."""
        with self._lock:
            self._closed = True
        self.discard()

    def forget(self) -> None:
        """In a forked child: the parent's spare and threads are not ours."""
        self._reset()

    # -- the upkeep thread -----------------------------------------------------------------

    def _start_upkeep(self) -> None:
        """Wake the upkeep thread (called holding the lock); start it the first time: it
        then waits for jobs for the life of the process (a thread's start costs the caller
        milliseconds on a busy machine)."""
        self._lock.notify_all()
        if not self._thread_started:
            self._thread_started = True
            threading.Thread(
                target=without_process_signals(self._upkeep), name=UPKEEP_THREAD, daemon=True
            ).start()

    def _upkeep(self) -> None:
        while True:
            with self._lock:
                while not self._jobs:
                    self._busy = False
                    self._hurry.clear()
                    self._lock.notify_all()
                    self._lock.wait()
                self._busy = True
                due, job = self._jobs.popleft()
            self._hurry.wait(due - time.monotonic())
            with contextlib.suppress(Exception):
                job()

    def _make(self, coming: Coming) -> None:
        made: Prepared | None = None
        with contextlib.suppress(OSError, TracefsUnavailable):
            with self._lock:
                wanted = not self._closed or coming.reserved
            if wanted:
                made = prepare(coming.instance)
                with self._lock:
                    claimed = coming.reserved and not coming.abandoned
                if claimed:  # a run waits: its tracing on before the next job's removal
                    made.record()
        unwanted = None
        with self._lock:
            self._coming = None
            if coming.reserved and not coming.abandoned:
                coming.prepared = made
            elif made is not None and not self._closed and not coming.reserved:
                self._ready = made
                expire = without_process_signals(self._expire)
                self._expiry = threading.Timer(SPARE_IDLE_S, expire, (made,))
                self._expiry.daemon = True
                self._expiry.start()
            else:
                unwanted = made
            coming.done.set()
        if unwanted is not None:
            unwanted.remove()

    def _expire(self, spare: Prepared) -> None:
        with self._lock:
            if self._ready is not spare:
                return
            self._ready = None
        spare.remove()

    def _cancel_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None


KEEPER = SpareKeeper()
atexit.register(KEEPER.close)
os.register_at_fork(after_in_child=KEEPER.forget)


def keep_spares(enabled: bool) -> None:
    """Whether this process prepares a spare after each run (on by default)."""
    KEEPER.enabled = enabled


def prime_spare() -> None:
    """Prepare a spare in the background now, for this process's first run, even after
    ``keep_spares(False)`` (root with tracefs only; never raises)."""
    with contextlib.suppress(TracefsUnavailable):
        KEEPER.prime(tracefs_root())


def wait_for_upkeep(timeout_s: float = 10.0) -> None:
    """Wait until the instances this process stopped are removed (the spare stays)."""
    KEEPER.settle(timeout_s)


def discard_spare(timeout_s: float = 10.0) -> None:
    """Remove this process's spare too (before looking for leftover instances)."""
    KEEPER.discard(timeout_s)
