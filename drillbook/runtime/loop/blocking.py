"""The blocking-syscall thread: packetdrill runs a `...end` syscall on a second thread.

The main thread hands the call over, then waits until the thread is either asleep in the kernel
(state ``S`` in /proc/self/task/<tid>/stat) or finished, and goes on with the script. When the
call returns, the thread checks its result and its return time; a failure there ends the run.
Only one blocking call runs at a time: the next one waits up to 1 s for it, then fails.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

IDLE_WAIT_S = 1.0  # packetdrill's await_idle_thread limit
ENTER_WAIT_S = 1.0  # at most this long for the thread to reach its C call
NAP_S = 50e-6  # how long the main thread naps while a woken blocking call returns
POLL_S = 20e-6  # how often the main thread looks whether the call sleeps in the kernel


@dataclass
class BlockingCall:
    """One blocking call handed to the thread; ``run`` does the call and all its checks."""

    line: int
    name: str
    run: Callable[[], None]


def install_sigchld_handler() -> None:
    """A do-nothing SIGCHLD handler with SA_RESTART: a call interrupted before it did anything
    restarts, one that did part of its work returns the partial result (as with SIG_DFL in C,
    whose "ignore" would otherwise discard the signal before it interrupts anything)."""
    signal.signal(signal.SIGCHLD, _ignore_signal)
    signal.siginterrupt(signal.SIGCHLD, False)


def _ignore_signal(signum: int, frame: object) -> None:
    return None


class BlockingCallThread:
    """A daemon thread that runs one BlockingCall at a time."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._pending: BlockingCall | None = None
        self._running: BlockingCall | None = None
        self._tid = 0
        self._exiting = False
        self.entering = threading.Event()  # set as the thread enters its C call (or finishes)
        self._thread = threading.Thread(target=self._loop, name="drillbook-blocking", daemon=True)
        self._thread.start()
        with self._lock:
            while self._tid == 0:
                self._lock.wait()
        # Opened once and re-read with pread: each look at the thread's state is then one
        # system call, not three (open, read, close), while the main thread waits on it.
        self._stat_fd = os.open(f"/proc/self/task/{self._tid}/stat", os.O_RDONLY | os.O_CLOEXEC)

    @property
    def ident(self) -> int | None:
        """The thread's identifier (threading.get_ident() inside it)."""
        return self._thread.ident

    @property
    def busy(self) -> BlockingCall | None:
        with self._lock:
            return self._pending or self._running

    def await_idle(self, timeout_s: float = IDLE_WAIT_S) -> bool:
        """Wait until no call runs; False if one is still running after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._pending is not None or self._running is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def submit(self, call: BlockingCall) -> None:
        """Start ``call`` and return once it sleeps in the kernel or has finished."""
        self.entering.clear()
        with self._lock:
            self._pending = call
            self._lock.notify_all()
        # Stay off the GIL until the thread has reached its C call (it sets ``entering`` just
        # before it, or when it finishes without one): taking the GIL back and forth would
        # delay it by switch intervals.
        self.entering.wait(ENTER_WAIT_S)
        while True:
            # Sleep rather than yield: the thread needs the GIL to reach its C call, and a
            # main thread that keeps taking the GIL back delays it by milliseconds.
            time.sleep(POLL_S)
            with self._lock:
                if self._running is not call:
                    return
            if _thread_sleeping(self._stat_fd):
                return

    def let_return(self, max_us: int = 300) -> None:
        """Step aside for the blocking thread for a moment, if its call was just woken.

        After an injection the call may just have been woken (a read's data arrived, a write
        got room): its return time is taken once it holds the GIL again, and in the kernel it
        needs a CPU. So the main thread naps (which frees both the GIL and its CPU; at
        real-time priority the busy wait it did before kept the woken thread off this CPU),
        and naps again while the thread is runnable. A call asleep in the kernel after the
        first nap is not waited for.
        """
        if self._running is None:
            return
        deadline = time.monotonic_ns() + max_us * 1000
        while True:
            time.sleep(NAP_S)  # also hands the GIL to a call that came back meanwhile
            if self._running is None or time.monotonic_ns() >= deadline:
                return
            if _thread_sleeping(self._stat_fd):
                return

    def interrupt(self) -> None:
        """Deliver SIGCHLD to the thread if it is inside a call.

        In packetdrill, a shell command run with system(3) blocks SIGCHLD in the main thread,
        so the child's exit signal lands on the syscall thread and interrupts its blocking
        call: a blocking write() then returns the bytes copied so far. Scripts' verdicts depend
        on this (blocking-write.pkt), so drillbook does the same after each shell command.
        """
        with self._lock:
            running = self._running is not None
            ident = self._thread.ident
        if running and ident is not None:
            signal.pthread_kill(ident, signal.SIGCHLD)

    def stop(self) -> None:
        with self._lock:
            self._exiting = True
            self._lock.notify_all()
        if self._stat_fd >= 0:
            os.close(self._stat_fd)
            self._stat_fd = -1

    def _loop(self) -> None:
        with self._lock:
            self._tid = threading.get_native_id()
            self._lock.notify_all()
        while True:
            with self._lock:
                while self._pending is None and not self._exiting:
                    self._lock.wait()
                if self._exiting:
                    return
                call = self._pending
                self._pending = None
                self._running = call
                self._lock.notify_all()
            assert call is not None
            try:
                call.run()
            finally:
                with self._lock:
                    self._running = None
                    self._lock.notify_all()
                self.entering.set()


def _thread_sleeping(stat_fd: int) -> bool:
    try:
        stat = os.pread(stat_fd, 512, 0)  # a /proc file read from offset 0 is generated anew
    except OSError:
        return True  # the thread is gone (or stopped)
    # The state letter follows the parenthesised command name.
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state == b"S"
