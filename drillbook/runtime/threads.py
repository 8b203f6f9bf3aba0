"""Background threads that leave process signals to the other threads.

A signal directed at the whole process (Ctrl-C's SIGINT, a timeout's SIGTERM, SIGCHLD, ...) goes
to any one thread that does not block it. Python runs its handler in the main thread, but only
the thread that took the signal has its system call interrupted: when a background thread takes
a Ctrl-C, the main thread's sleep, select or lock wait does not wake, and KeyboardInterrupt comes
only once that wait ends by itself. A helper thread that blocks these signals leaves them to the
threads that wait for them.

A process started from such a thread inherits its signal mask (fork copies the calling thread's
mask; ``subprocess`` does not reset it): never use this for a thread that starts processes.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

PROCESS_SIGNALS = frozenset({
    signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGALRM,
    signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2,
})  # fmt: skip


def without_process_signals(target: Callable[..., None]) -> Callable[..., None]:
    """``target`` for a background thread that leaves process signals to the other threads."""

    def run(*args: object) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, PROCESS_SIGNALS)
        target(*args)

    return run


__all__ = ["PROCESS_SIGNALS", "without_process_signals"]
