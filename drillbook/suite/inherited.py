"""The TCP settings a fresh network namespace takes from the host, which recorded verdicts
depend on.

Most TCP sysctls start at the kernel's built-in defaults in a new namespace, but a few are
copied from the initial namespace when the namespace is made: the congestion control, and the
buffer sizes ``tcp_rmem``/``tcp_wmem``. ``tcp_allowed_congestion_control`` is global, and a
namespace's root can only switch to an allowed algorithm, so ``defaults.sh``'s
``tcp_congestion_control=cubic`` fails where cubic is not allowed. A host whose settings were
changed (for instance by running the C packetdrill outside a namespace: its ``defaults.sh``
then sets the host's own sysctls) therefore gives different verdicts from one left at its
defaults; this is the line that says so beside an agreement figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYSCTL_DIR = Path("/proc/sys/net/ipv4")


@dataclass(frozen=True)
class InheritedTcpSettings:
    """What a new namespace starts with, read in the caller's namespace: the initial one when
    drillbook runs as root on the host, which is where new namespaces copy them from."""

    congestion_control: str
    allowed_congestion_control: str
    rmem: str
    wmem: str

    def describe(self) -> str:
        return (f"namespaces start with: congestion control {self.congestion_control} "
                f"(allowed: {self.allowed_congestion_control}), tcp_rmem {self.rmem}, "
                f"tcp_wmem {self.wmem}")


def _read(name: str, folder: Path) -> str:
    try:
        return " ".join((folder / name).read_text().split())
    except OSError:
        return "unknown"


def inherited_tcp_settings(folder: Path = SYSCTL_DIR) -> InheritedTcpSettings:
    return InheritedTcpSettings(
        congestion_control=_read("tcp_congestion_control", folder),
        allowed_congestion_control=_read("tcp_allowed_congestion_control", folder),
        rmem=_read("tcp_rmem", folder),
        wmem=_read("tcp_wmem", folder),
    )


__all__ = ["InheritedTcpSettings", "inherited_tcp_settings"]
