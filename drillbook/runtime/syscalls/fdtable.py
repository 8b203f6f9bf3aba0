"""The script-fd to live-fd table.

File descriptors in a script are labels: ``socket(...) = 3`` names whatever fd the kernel
returns "3" for the rest of the script (reference §3.1). packetdrill keeps one list of fds
(sockets, files, epoll and pipe fds); this is that list. It is shared by the main thread and the
blocking-syscall thread, so every access takes a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class FdEntry:
    """One open fd the script knows: its label, the kernel's fd, and what it is."""

    script_fd: int
    live_fd: int
    kind: str  # "socket" | "file" | "epoll" | "pipe"
    family: int = 0
    sock_type: int = 0
    protocol: int = 0


class FdError(Exception):
    """A label that is unknown or already taken; the message is packetdrill's."""


class FdTable:
    """Thread-safe script fd -> FdEntry map."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, FdEntry] = {}
        self.version = 0  # changes whenever an fd is added, relabelled or closed
        self._opened: dict[int, int] = {}  # live fd -> the version that added it

    def get(self, script_fd: int) -> FdEntry | None:
        with self._lock:
            return self._entries.get(script_fd)

    def live_fd(self, script_fd: int) -> int | None:
        entry = self.get(script_fd)
        return None if entry is None else entry.live_fd

    def to_live(self, script_fd: int) -> int:
        """The live fd for ``script_fd``; FdError with packetdrill's words if there is none."""
        entry = self.get(script_fd)
        if entry is None:
            raise FdError(f"unable to find fd with script fd {script_fd}")
        return entry.live_fd

    def add(self, entry: FdEntry) -> None:
        """Record a new fd, refusing a label or live fd that is already open."""
        with self._lock:
            if entry.script_fd in self._entries:
                raise FdError(f"duplicate fd {entry.script_fd} in script")
            if any(e.live_fd == entry.live_fd for e in self._entries.values()):
                raise FdError(f"duplicate live fd {entry.live_fd}")
            self._entries[entry.script_fd] = entry
            self.version += 1
            self._opened[entry.live_fd] = self.version

    def relabel(self, entry: FdEntry) -> None:
        """Record ``entry``, replacing any entry with the same label or live fd.

        An accepted child takes the script fd the accept() line names without the duplicate
        checks (packetdrill's run_syscall_accept overwrites the child socket's labels).
        """
        with self._lock:
            stale = [k for k, e in self._entries.items() if e.live_fd == entry.live_fd]
            for key in stale:
                del self._entries[key]
            self._entries[entry.script_fd] = entry
            self.version += 1
            self._opened[entry.live_fd] = self.version

    def close(self, script_fd: int, live_fd: int) -> FdEntry:
        """Forget a closed fd; FdError if the pair is not in the table."""
        with self._lock:
            entry = self._entries.get(script_fd)
            if entry is None or entry.live_fd != live_fd:
                raise FdError(
                    f"unable to find fd with script fd {script_fd} and live fd {live_fd}"
                )
            del self._entries[script_fd]
            self.version += 1
            self._opened.pop(live_fd, None)
            return entry

    def entries(self) -> list[FdEntry]:
        """Every open fd the script knows, now."""
        with self._lock:
            return list(self._entries.values())

    def drain(self) -> list[FdEntry]:
        """Remove and return every entry (for closing all fds at the end of a run)."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            self._opened.clear()
            self.version += 1
            return entries

    def opened_version(self, live_fd: int) -> int:
        """The :attr:`version` at which ``live_fd`` was added (0: not in the table): tells a
        new socket from an earlier one that had the same fd number."""
        with self._lock:
            return self._opened.get(live_fd, 0)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


__all__ = ["FdEntry", "FdError", "FdTable"]
