"""Running without root: a user namespace in front of the network namespace.

A normal user has no CAP_NET_ADMIN or CAP_SYS_ADMIN on the host, but where the kernel allows
unprivileged user namespaces, ``unshare(CLONE_NEWUSER)`` gives the process every capability
*inside* a new user namespace, with the caller's uid and gid mapped to 0 (user_namespaces(7)).
Network and mount namespaces unshared afterwards are owned by that user namespace, so the
worker can then bring up ``lo``, create ``tun0``, mount its private ``/tmp`` and write the
namespace's own ``net.*`` sysctls — all it needs — while the host stays out of reach.

The worker calls :func:`enter_if_unprivileged` right before it unshares the network and mount
namespaces (it must be single-threaded: unshare(CLONE_NEWUSER) refuses a threaded process).
Where the machine forbids this, :class:`~drillbook.errors.SandboxError` says exactly what is
missing.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass

from drillbook.errors import SandboxError

CLONE_NEWUSER = 0x10000000
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
TUN_PATH = "/dev/net/tun"

# Knobs that forbid unprivileged user namespaces, with the value that forbids them.
_SYSCTL_BLOCKERS = (
    ("/proc/sys/user/max_user_namespaces", "0",
     "user namespaces are disabled (sysctl user.max_user_namespaces = 0)"),
    ("/proc/sys/kernel/unprivileged_userns_clone", "0",
     "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone = 0)"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "AppArmor forbids unprivileged user namespaces "
     "(sysctl kernel.apparmor_restrict_unprivileged_userns = 1)"),
)


@dataclass(frozen=True)
class IdMaps:
    """The one-line uid/gid maps of the new namespace: the caller becomes root inside."""

    uid: int
    gid: int

    @property
    def uid_map(self) -> str:
        return f"0 {self.uid} 1\n"

    @property
    def gid_map(self) -> str:
        return f"0 {self.gid} 1\n"


def effective_capabilities(status_path: str = "/proc/self/status") -> int:
    """The CapEff bit mask of the calling process."""
    with open(status_path, encoding="ascii") as handle:
        for line in handle:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def is_privileged() -> bool:
    """True when the caller can make namespaces and TUN devices without a user namespace."""
    caps = effective_capabilities()
    return all(caps >> bit & 1 for bit in (CAP_NET_ADMIN, CAP_SYS_ADMIN))


def missing_for_userns() -> list[str]:
    """What this machine lacks for an unprivileged run (empty: worth trying)."""
    missing = []
    for path, forbidding, reason in _SYSCTL_BLOCKERS:
        try:
            with open(path, encoding="ascii") as handle:
                if handle.read().strip() == forbidding:
                    missing.append(reason)
        except OSError:
            continue  # the knob does not exist on this kernel: nothing forbids it
    if not os.path.exists(TUN_PATH):
        missing.append(f"{TUN_PATH} does not exist (load the tun module: modprobe tun)")
    elif not os.access(TUN_PATH, os.R_OK | os.W_OK):
        missing.append(f"{TUN_PATH} is not readable and writable by uid {os.getuid()} "
                       f"(chmod 0666 {TUN_PATH})")
    return missing


def _unprivileged_error(reasons: list[str]) -> SandboxError:
    return SandboxError(
        "drillbook needs CAP_NET_ADMIN and CAP_SYS_ADMIN, or unprivileged user namespaces, "
        "to make its network namespace; without root here: " + "; ".join(reasons)
        + ". Run as root (sudo), or fix the above.")


def enter_user_namespace(maps: IdMaps | None = None) -> None:
    """Unshare a user namespace and map the caller to root in it; SandboxError if refused."""
    maps = maps or IdMaps(os.getuid(), os.getgid())
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(ctypes.c_int(CLONE_NEWUSER)) != 0:
        code = ctypes.get_errno()
        raise _unprivileged_error([_unshare_reason(code)])
    # setgroups must be denied before an unprivileged process may write gid_map.
    _write("/proc/self/setgroups", "deny\n")
    _write("/proc/self/uid_map", maps.uid_map)
    _write("/proc/self/gid_map", maps.gid_map)


def _unshare_reason(code: int) -> str:
    reasons = {
        errno.EPERM: "the kernel refused a user namespace (EPERM: disabled by a sysctl, a "
                     "security module, or a seccomp filter of the container)",
        errno.ENOSPC: "the user namespace limit is reached (sysctl user.max_user_namespaces)",
        errno.EINVAL: "the process is multi-threaded (unshare(CLONE_NEWUSER) needs one thread)",
        errno.EUSERS: "user namespaces are nested too deeply",
    }
    return reasons.get(code, f"unshare(CLONE_NEWUSER) failed: {os.strerror(code)}")


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(text)
    except OSError as exc:
        raise _unprivileged_error([f"cannot write {path}: {exc.strerror}"]) from exc


def enter_if_unprivileged() -> bool:
    """Called by the worker before it unshares its network namespace: without the needed
    capabilities, enter a user namespace (True), or raise SandboxError naming exactly what
    is missing; with them, do nothing (False)."""
    if is_privileged():
        return False
    missing = missing_for_userns()
    if missing:
        raise _unprivileged_error(missing)
    enter_user_namespace()
    return True
