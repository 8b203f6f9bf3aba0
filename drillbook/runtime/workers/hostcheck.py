"""A snapshot of the host state a run could leak into, to prove that runs leave none.

A run must leave the host as it found it: no links, no named or lingering network namespaces,
no processes, no open TUN devices, no files in /tmp, no changed TCP or core sysctls. Tests
capture a :class:`HostState` before and after runs (passing, failing, timed out, interrupted,
killed) and check :func:`diff` is empty. Everything is read from /proc, /sys and /run, in the
caller's namespaces.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from drillbook.runtime.workers.zygote import ZYGOTE_MODULE

SYSCTL_GLOBS = ("net/ipv4/tcp_*", "net/core/*")


@dataclass(frozen=True)
class HostState:
    """What the host looked like at one moment (see module doc)."""

    links: frozenset[str]
    netns_names: frozenset[str]
    netns_inodes: frozenset[int]
    # (pid, command line) below the caller, except drillbook's zygote: it lives exactly as long
    # as the caller does, by design (drillbook/runtime/workers/zygote.py), and holds no namespace.
    descendants: frozenset[tuple[int, str]]
    tun_fds: frozenset[tuple[int, int]]  # (pid, fd) holding /dev/net/tun open
    tmp_files: frozenset[str]
    sysctls: tuple[tuple[str, str], ...]
    # tracefs instances of the caller's own runs (runtime/capture/tracefs.py); another
    # process's are its own business (a killed one's are swept by the next run's start).
    tracefs_instances: frozenset[str] = frozenset()

    @classmethod
    def capture(cls, tmp_dir: str = "/tmp") -> HostState:
        """Read the current state of the host (as seen from the caller's namespaces)."""
        stats = dict(_proc_stats())
        return cls(
            links=frozenset(_listdir("/sys/class/net")),
            netns_names=frozenset(_listdir("/run/netns")),
            netns_inodes=frozenset(_netns_inodes(stats)),
            descendants=frozenset(
                (pid, cmdline)
                for pid in _descendants(stats)
                if ZYGOTE_MODULE not in (cmdline := _cmdline(pid))
            ),
            tun_fds=frozenset(_tun_fds(stats)),
            tmp_files=frozenset(_listdir(tmp_dir)),
            sysctls=tuple(_sysctls()),
            tracefs_instances=frozenset(_own_tracefs_instances()),
        )

    @property
    def descendant_pids(self) -> frozenset[int]:
        """The pids of :attr:`descendants`."""
        return frozenset(pid for pid, _ in self.descendants)


def diff(before: HostState, after: HostState) -> list[str]:
    """Human-readable differences, one per line; empty when nothing changed."""
    lines: list[str] = []
    lines += _set_diff("link", before.links, after.links)
    lines += _set_diff("named netns", before.netns_names, after.netns_names)
    lines += _set_diff("netns inode", before.netns_inodes, after.netns_inodes)
    lines += _set_diff("descendant process", before.descendants, after.descendants)
    lines += _set_diff("open /dev/net/tun (pid, fd)", before.tun_fds, after.tun_fds)
    lines += _set_diff("file in /tmp", before.tmp_files, after.tmp_files)
    lines += _set_diff("tracefs instance", before.tracefs_instances, after.tracefs_instances)
    old, new = dict(before.sysctls), dict(after.sysctls)
    for name in sorted(old.keys() | new.keys()):
        if old.get(name) != new.get(name):
            lines.append(f"sysctl {name}: {old.get(name)!r} -> {new.get(name)!r}")
    return lines


def _set_diff(what: str, old: Iterable[object], new: Iterable[object]) -> list[str]:
    old_set, new_set = set(old), set(new)
    added = [f"new {what}: {item}" for item in sorted(new_set - old_set, key=str)]
    gone = [f"{what} gone: {item}" for item in sorted(old_set - new_set, key=str)]
    return added + gone


def _own_tracefs_instances() -> list[str]:
    """This process's tracefs instances, once the removals it started have finished and its
    spare instance (runtime/capture/spare.py) is removed: what a run leaves, not what the
    process keeps ready for the next one."""
    from drillbook.runtime.capture.spare import discard_spare
    from drillbook.runtime.capture.tracefs import leftover_instances

    discard_spare()
    mine = f"drillbook-{os.getpid()}-"
    return [name for name in leftover_instances() if name.startswith(mine)]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _proc_stats() -> Iterator[tuple[int, int]]:
    """(pid, ppid) of every process."""
    for name in _listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue  # exited while we looked
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
        yield int(name), int(raw[raw.rindex(b")") + 2:].split()[1])


def _descendants(stats: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in stats.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def all_descendant_pids() -> set[int]:
    """The pids of this process's descendants now (children, theirs, ...), the zygote and its
    workers included (HostState.descendant_pids leaves the zygote out)."""
    return _descendants(dict(_proc_stats()))


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _netns_inodes(stats: dict[int, int]) -> Iterator[int]:
    for pid in stats:
        try:
            yield os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            continue


def _tun_fds(stats: dict[int, int]) -> Iterator[tuple[int, int]]:
    for pid in stats:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/net/tun":
                    yield pid, int(fd)
            except OSError:
                continue


def _sysctls() -> Iterator[tuple[str, str]]:
    root = Path("/proc/sys")
    for pattern in SYSCTL_GLOBS:
        for path in sorted(root.glob(pattern)):
            try:
                value = path.read_text().strip()
            except OSError:
                continue  # write-only or unreadable entries
            yield str(path.relative_to(root)).replace("/", "."), value
