"""Per-student limits: processes, memory and CPU share, so that no student can exhaust the server.

Each student's server (and everything it starts: kernels, drillbook's workers, the shell lines
of a script, inside or outside user namespaces) is put in its own cgroup under the hub's:
``pids.max`` caps tasks, ``memory.max`` (v1 ``memory.limit_in_bytes``) caps memory, ``cpu.weight``
(v1 ``cpu.shares``) gives every student the same share of a busy CPU, and an optional
``cpu.max`` (v1 CFS quota) caps a student at a number of cores. cgroup v2 is used where its
controllers are available to the hub, v1 hierarchies otherwise (as on these machines).
RLIMIT_NPROC is set as well: it holds even without a pids controller, since the kernel counts
a user's tasks by their real uid, in every user namespace.

Which files get which values is decided by :func:`limit_files` (pure); :class:`StudentGroup`
does the writing.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HUB_GROUP = "drillbook-hub"
CONTROLLERS = ("pids", "memory", "cpu")
CFS_PERIOD_US = 100_000
GIB = 1 << 30


@dataclass(frozen=True)
class StudentLimits:
    """What one student may use at most. ``cpu_cores`` None: no hard cap, only a fair share."""

    max_processes: int = 512
    memory_bytes: int = 2 * GIB
    cpu_cores: float | None = None
    cpu_weight: int = 100  # cgroup v2 scale: 100 is the default share, 200 twice that

    def __post_init__(self) -> None:
        if self.max_processes < 16:
            raise ValueError(f"max_processes {self.max_processes}: a Jupyter server alone "
                             "needs a few dozen tasks (use 64 or more)")
        if self.memory_bytes < 256 << 20:
            raise ValueError(f"memory_bytes {self.memory_bytes}: a server with a kernel "
                             "needs ~200 MB (use 512 MB or more)")


@dataclass(frozen=True)
class CgroupLayout:
    """Where the hub may make per-student groups: controller -> parent folder, and the
    cgroup version in use ("v1", "v2", or "" when no controller is writable)."""

    version: str = ""
    paths: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_this_process(cls) -> CgroupLayout:
        """The layout seen from the calling process (the hub)."""
        return parse_layout(_read("/proc/self/mounts"), _read("/proc/self/cgroup"),
                            _writable_dir, _read)


def parse_layout(mounts: str, own: str, usable: Callable[[str], bool] = lambda _: True,
                 read: Callable[[str], str] = lambda _: "") -> CgroupLayout:
    """The core of :meth:`CgroupLayout.of_this_process`: ``mounts`` is /proc/self/mounts,
    ``own`` /proc/self/cgroup; ``usable(folder)`` says whether a folder can be written and
    ``read(path)`` reads a cgroup file (for v2's cgroup.controllers)."""
    check = usable
    own_v1: dict[str, str] = {}
    own_v2 = "/"
    for line in own.splitlines():
        number, names, path = (line.split(":", 2) + ["", ""])[:3]
        if number == "0" and names == "":
            own_v2 = path or "/"
        for name in names.split(","):
            own_v1[name] = path
    v2_paths, v1_paths = {}, {}
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        point, kind, options = parts[1], parts[2], parts[3].split(",")
        if kind == "cgroup2":
            base = _join(point, own_v2)
            enabled = read(os.path.join(base, "cgroup.controllers")).split()
            for name in CONTROLLERS:
                if name in enabled and check(base):
                    v2_paths[name] = os.path.join(base, HUB_GROUP)
        elif kind == "cgroup":
            for name in CONTROLLERS:
                if name in options and name in own_v1:
                    base = _join(point, own_v1[name])
                    if check(base):
                        v1_paths[name] = os.path.join(base, HUB_GROUP)
    if v2_paths and len(v2_paths) >= len(v1_paths):
        return CgroupLayout("v2", v2_paths)
    if v1_paths:
        return CgroupLayout("v1", v1_paths)
    return CgroupLayout()


def limit_files(version: str, limits: StudentLimits) -> dict[str, list[tuple[str, str]]]:
    """controller -> [(file, value)] to write into a student's group, in order."""
    if version == "v2":
        cpu = [("cpu.weight", str(limits.cpu_weight))]
        if limits.cpu_cores is not None:
            cpu.append(("cpu.max", f"{int(limits.cpu_cores * CFS_PERIOD_US)} {CFS_PERIOD_US}"))
        return {"pids": [("pids.max", str(limits.max_processes))],
                "memory": [("memory.max", str(limits.memory_bytes)),
                           ("memory.swap.max", "0")],
                "cpu": cpu}
    shares = max(2, limits.cpu_weight * 1024 // 100)  # v1 default 1024 == v2 default 100
    cpu = [("cpu.shares", str(shares))]
    if limits.cpu_cores is not None:
        cpu += [("cpu.cfs_period_us", str(CFS_PERIOD_US)),
                ("cpu.cfs_quota_us", str(int(limits.cpu_cores * CFS_PERIOD_US)))]
    return {"pids": [("pids.max", str(limits.max_processes))],
            "memory": [("memory.limit_in_bytes", str(limits.memory_bytes))],
            "cpu": cpu}


@dataclass(frozen=True)
class StudentGroup:
    """The cgroups of one student's server, one per controller the layout has."""

    layout: CgroupLayout
    student: str

    def folders(self) -> dict[str, Path]:
        return {name: Path(parent, self.student) for name, parent in self.layout.paths.items()}

    def create(self, limits: StudentLimits) -> None:
        """Make the groups (idempotent) and write the limits; root only."""
        files = limit_files(self.layout.version, limits)
        for name, folder in self.folders().items():
            if self.layout.version == "v2":
                _enable_v2_controllers(folder.parent)
            folder.mkdir(parents=True, exist_ok=True)
            for filename, value in files.get(name, []):
                _write_if_present(folder / filename, value)

    def join(self, pid: int) -> None:
        """Move ``pid`` into every group. Safe to call in a preexec function (no allocation
        beyond small writes)."""
        for folder in self.folders().values():
            (folder / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        """Every process now in the student's groups."""
        found: set[int] = set()
        for folder in self.folders().values():
            found |= {int(p) for p in _read(str(folder / "cgroup.procs")).split()}
        return found

    def remove(self, wait_s: float = 5.0) -> None:
        """Remove the groups once their processes are gone (waits up to ``wait_s``)."""
        deadline = time.monotonic() + wait_s
        for folder in self.folders().values():
            while folder.exists():
                try:
                    folder.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)


def set_process_rlimit(limits: StudentLimits) -> None:
    """RLIMIT_NPROC for the calling process and its children (call before dropping to the
    student's uid)."""
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))


def _enable_v2_controllers(parent: Path) -> None:
    parent.mkdir(exist_ok=True)
    wanted = " ".join(f"+{name}" for name in CONTROLLERS
                      if name in _read(str(parent / "cgroup.controllers")).split())
    _write_if_present(parent / "cgroup.subtree_control", wanted)


def _write_if_present(path: Path, value: str) -> None:
    if value and path.exists():
        path.write_text(value)


def _join(point: str, own: str) -> str:
    return os.path.normpath(point + "/" + own.lstrip("/"))


def _writable_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""
