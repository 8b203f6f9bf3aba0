"""What a server needs before students' kernels can run drillbook without root, and a fix for
what ``make hub`` may fix.

A student's kernel runs as the student. drillbook's worker then enters a user namespace and
makes its network namespace and ``tun0`` there (``drillbook/runtime/userns.py``), which needs:

- ``/dev/net/tun`` readable and writable by everyone (mode 0666, the usual default; creating a
  TUN device still needs CAP_NET_ADMIN in the namespace that owns it, so this hands no student
  any power over the host's network);
- unprivileged user namespaces allowed (no sysctl or AppArmor knob forbidding them).

And for the per-student limits: cgroup controllers ``pids``, ``memory`` and ``cpu`` that root
can write (v2 or v1). Without them the hub falls back to RLIMIT_NPROC for processes and has no
memory or CPU limit; :func:`needs` says so.

And so that a student sees only their own processes: the hub starts each server in its own PID
namespace with its own /proc (:mod:`drillbook.classroom.pidns`), which needs a hub with
CAP_SYS_ADMIN (root on the host, not in a restricted container). :func:`observe` tries it once
as ``nobody``; the host's own /proc is never changed. An administrator who turns this off
(``DRILLBOOK_HUB_PRIVATE_PROCESSES=0``) is told to mount /proc with ``hidepid=invisible``.

Facts are gathered by :func:`observe` (reads /proc, /sys, /dev) and judged by :func:`needs`
(pure), so the judgement is tested without changing the machine. ``python -m
drillbook.classroom.host [--fix]`` prints the verdict; ``--fix`` (root) makes /dev/net/tun
usable by all, the one change that is safe to make for the administrator.
"""

from __future__ import annotations

import argparse
import os
import pwd
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from drillbook.classroom.limits import CgroupLayout

TUN_PATH = "/dev/net/tun"
PRIVATE_PROCESSES_ENV = "DRILLBOOK_HUB_PRIVATE_PROCESSES"  # "0": servers share the host's pids
PROBE_USER = "nobody"
# nbgrader's exchange (its default root), where students fetch and submit assignments, unless a
# site config in one of these folders sets c.Exchange.root.
NBGRADER_EXCHANGE = "/srv/nbgrader/exchange"
NBGRADER_CONFIG_DIRS = ("/etc/jupyter", "/usr/local/etc/jupyter", f"{sys.prefix}/etc/jupyter")

# Knobs that forbid unprivileged user namespaces: (path, value that forbids, how to allow).
USERNS_KNOBS = (
    ("/proc/sys/user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces=15000"),
    ("/proc/sys/kernel/unprivileged_userns_clone", "0",
     "sysctl -w kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile that "
     "allows userns for the interpreter students run)"),
)


class Severity(Enum):
    """Whether the hub can work without it."""

    REQUIRED = "missing"
    DEGRADED = "limited"
    ADVICE = "advice"


class ProcessView(Enum):
    """What a student's server sees of other processes."""

    PRIVATE = "each in its own PID namespace"  # tried here, works
    UNTRIED = "PID namespaces not checked (needs root)"
    UNAVAILABLE = "no PID namespace possible"  # tried here, failed: servers would not start
    OFF = "in the host's PID namespace"  # the administrator turned private processes off


@dataclass(frozen=True)
class Need:
    """One thing the host lacks, and the exact command that gives it."""

    severity: Severity
    what: str
    fix: str
    make_fixes: bool = False  # `make hub` (host --fix) does this itself

    def render(self) -> str:
        by = " (make hub does this)" if self.make_fixes else ""
        return f"{self.severity.value}: {self.what}\n    fix: {self.fix}{by}"


@dataclass(frozen=True)
class HostFacts:
    """What :func:`observe` read; every field is plain data so :func:`needs` is pure."""

    tun_mode: int | None  # permission bits of /dev/net/tun; None when it does not exist
    knobs: dict[str, str] = field(default_factory=dict)  # path -> value, for USERNS_KNOBS
    cgroups: CgroupLayout = field(default_factory=CgroupLayout)
    proc_hidepid: bool = False
    pid1: str = ""
    process_view: ProcessView = ProcessView.UNTRIED
    process_view_error: str = ""  # why a PID namespace could not be made (UNAVAILABLE)
    exchange: str = ""  # nbgrader's exchange students will use; "" when a site config sets it
    exchange_mode: int | None = None  # its permission bits; None when it does not exist


def observe() -> HostFacts:
    """Read the facts from this machine."""
    try:
        tun_mode: int | None = stat.S_IMODE(os.stat(TUN_PATH).st_mode)
    except OSError:
        tun_mode = None
    knobs = {}
    for path, _, _ in USERNS_KNOBS:
        try:
            with open(path, encoding="ascii") as handle:
                knobs[path] = handle.read().strip()
        except OSError:
            continue  # the knob does not exist on this kernel: nothing forbids
    view, error = _try_private_processes()
    return HostFacts(tun_mode=tun_mode, knobs=knobs, cgroups=CgroupLayout.of_this_process(),
                     proc_hidepid=_proc_hidepid(), pid1=_read("/proc/1/comm").strip(),
                     process_view=view, process_view_error=error,
                     exchange=_default_exchange(), exchange_mode=_mode(NBGRADER_EXCHANGE))


def _default_exchange() -> str:
    for folder in NBGRADER_CONFIG_DIRS:
        if "Exchange.root" in _read(os.path.join(folder, "nbgrader_config.py")):
            return ""
    return NBGRADER_EXCHANGE


def _mode(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _try_private_processes() -> tuple[ProcessView, str]:
    """Start ``true`` the way the hub starts a server (its own PID namespace, as nobody)."""
    if os.environ.get(PRIVATE_PROCESSES_ENV, "1") == "0":
        return ProcessView.OFF, ""
    if os.geteuid() != 0:
        return ProcessView.UNTRIED, ""
    try:
        pwd.getpwnam(PROBE_USER)
    except KeyError:
        return ProcessView.UNTRIED, ""  # no account to try it as; the hub's first start will
    true = "/bin/true" if Path("/bin/true").exists() else "/usr/bin/true"
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-m", "drillbook.classroom.pidns", "--user", PROBE_USER,
             "--", true], capture_output=True, text=True, timeout=60, check=False, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as error:
        return ProcessView.UNAVAILABLE, str(error)
    if done.returncode == 0:
        return ProcessView.PRIVATE, ""
    lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
    return ProcessView.UNAVAILABLE, lines[-1]


def needs(facts: HostFacts) -> list[Need]:
    """What is missing or limited, most serious first; empty when everything is in place."""
    found: list[Need] = []
    if facts.tun_mode is None:
        found.append(Need(Severity.REQUIRED, f"{TUN_PATH} does not exist",
                          "modprobe tun (and in a container: pass the device, "
                          "--device /dev/net/tun)"))
    elif facts.tun_mode & 0o006 != 0o006:
        found.append(Need(Severity.REQUIRED,
                          f"{TUN_PATH} is mode {facts.tun_mode:04o}: students cannot open it",
                          f"chmod 0666 {TUN_PATH}", make_fixes=True))
    for path, forbidding, fix in USERNS_KNOBS:
        if facts.knobs.get(path) == forbidding:
            name = path.removeprefix("/proc/sys/").replace("/", ".")
            found.append(Need(Severity.REQUIRED,
                              f"unprivileged user namespaces are forbidden ({name} = "
                              f"{forbidding})", fix))
    missing = [name for name in ("pids", "memory", "cpu") if name not in facts.cgroups.paths]
    if missing:
        found.append(Need(
            Severity.DEGRADED,
            f"no writable cgroup controller for {', '.join(missing)}: those per-student limits "
            "are not enforced (processes fall back to RLIMIT_NPROC)",
            "mount the cgroup controllers (cgroup v2 with memory, pids and cpu enabled in "
            "cgroup.subtree_control), or run the hub where systemd is PID 1 (SystemdSpawner)"))
    found.extend(_process_view_needs(facts))
    found.extend(_exchange_needs(facts))
    return found


def _exchange_needs(facts: HostFacts) -> list[Need]:
    if not facts.exchange:
        return []
    fix = (f"mkdir -p {facts.exchange} && chmod ugo+rwx {facts.exchange} (nbgrader's default "
           "exchange), or set c.Exchange.root in /etc/jupyter/nbgrader_config.py")
    if facts.exchange_mode is None:
        return [Need(Severity.DEGRADED,
                     f"nbgrader's exchange {facts.exchange} does not exist: the students' "
                     "Assignments list shows an error and they cannot fetch or submit "
                     "(Validate works)", fix)]
    if facts.exchange_mode & 0o003 != 0o003:
        return [Need(Severity.DEGRADED,
                     f"nbgrader's exchange {facts.exchange} is mode {facts.exchange_mode:04o}: "
                     "students cannot submit", f"chmod ugo+rwx {facts.exchange}")]
    return []


def _process_view_needs(facts: HostFacts) -> list[Need]:
    hidepid = "mount -o remount,hidepid=invisible /proc (and the same option in /etc/fstab)"
    if facts.process_view is ProcessView.UNAVAILABLE:
        return [Need(
            Severity.REQUIRED,
            "the hub cannot start a student's server in its own PID namespace "
            f"({facts.process_view_error}): students' servers would not start",
            "run the hub as root on the host (it needs CAP_SYS_ADMIN for PID and mount "
            f"namespaces); where that is impossible: HUB_PRIVATE_PROCESSES=0 and {hidepid}")]
    if facts.process_view is ProcessView.UNTRIED:
        return [Need(
            Severity.ADVICE,
            "not checked whether each student's server can have its own PID namespace",
            "run `python -m drillbook.classroom.host` as root (make hub does)")]
    if facts.process_view is ProcessView.OFF and not facts.proc_hidepid:
        return [Need(
            Severity.DEGRADED,
            "private processes are off (HUB_PRIVATE_PROCESSES=0) and /proc has no hidepid: a "
            "student can list other students' processes and their command lines",
            f"{hidepid}; or HUB_PRIVATE_PROCESSES=1 (the default)")]
    return []


def fix(facts: HostFacts) -> list[str]:
    """Apply the fixes :func:`needs` marks ``make_fixes``; returns what was done. Root only."""
    done = []
    if facts.tun_mode is not None and facts.tun_mode & 0o006 != 0o006:
        os.chmod(TUN_PATH, 0o666)
        done.append(f"chmod 0666 {TUN_PATH}")
    return done


def _proc_hidepid() -> bool:
    for line in _read("/proc/self/mounts").splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[1] == "/proc" and parts[2] == "proc":
            return any(opt.startswith("hidepid=") and opt not in ("hidepid=0", "hidepid=off")
                       for opt in parts[3].split(","))
    return False


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def _try_modprobe(facts: HostFacts) -> HostFacts:
    if facts.tun_mode is None and os.geteuid() == 0:
        subprocess.run(["modprobe", "tun"], capture_output=True, check=False)
        return observe()
    return facts


def main(argv: list[str] | None = None) -> int:
    """Print what the host lacks for a class; exit 1 when something required is missing."""
    parser = argparse.ArgumentParser(prog="python -m drillbook.classroom.host",
                                     description=main.__doc__)
    parser.add_argument("--fix", action="store_true",
                        help=f"make {TUN_PATH} usable by all (root); never touches sysctls")
    args = parser.parse_args(argv)
    facts = observe()
    if args.fix:
        if os.geteuid() != 0:
            print("host: --fix needs root", file=sys.stderr)
            return 2
        facts = _try_modprobe(facts)
        for line in fix(facts):
            print(f"host: did {line}")
        facts = observe()
    found = needs(facts)
    for need in found:
        print("host: " + need.render())
    required = [n for n in found if n.severity is Severity.REQUIRED]
    limits = ", ".join(sorted(facts.cgroups.paths)) or "none (RLIMIT_NPROC only)"
    print(f"host: cgroup limits available: {limits} ({facts.cgroups.version or 'no cgroups'}); "
          f"PID 1 is {facts.pid1 or 'unknown'}; students' servers: "
          f"{facts.process_view.value}")
    if required:
        print(f"host: {len(required)} thing(s) missing: students cannot run drillbook until "
              "they are fixed", file=sys.stderr)
        return 1
    print("host: ready for students (TUN usable by all, unprivileged user namespaces allowed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
