"""Which scripts a suite runs, and in which IP modes: upstream's ``run_all.py`` rules.

``run_all.py`` walks each path for ``*.pkt`` files (sorted), and runs every script in ipv4,
ipv4-mapped-ipv6 and ipv6 — except that a name ending ``v6.pkt`` skips the two IPv4 modes and a
name ending ``v4.pkt`` skips ipv6. Each run's working directory is the script's own folder (the
runtime's worker changes there), so ``../common/defaults.sh`` resolves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drillbook.config import IpMode

# run_all.py's order for one script: ipv4, then ipv4-mapped-ipv6, then ipv6.
ALL_MODES: tuple[IpMode, ...] = (IpMode.IPV4, IpMode.IPV4_MAPPED_IPV6, IpMode.IPV6)


@dataclass(frozen=True)
class Case:
    """One run of a suite: a script in one IP mode."""

    path: str  # absolute path of the script
    name: str  # the path as shown in reports (relative to the folder the user named)
    mode: IpMode

    @property
    def label(self) -> str:
        """``name (mode)``, as run_all.py prints a test."""
        return f"{self.name} ({self.mode.value})"


def find_scripts(path: str) -> list[str]:
    """Every ``*.pkt`` file under *path* (or *path* itself when it is a file), sorted."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no such file or folder: {path}")
    found = []
    for folder, _, files in os.walk(path):
        found += [os.path.join(folder, name) for name in files if name.endswith(".pkt")]
    return sorted(found)


def modes_for(path: str, modes: Iterable[IpMode] = ALL_MODES) -> tuple[IpMode, ...]:
    """The modes run_all.py runs *path* in, restricted to *modes* (order kept)."""
    wanted = set(modes)
    if path.endswith("v6.pkt"):
        allowed: tuple[IpMode, ...] = (IpMode.IPV6,)
    elif path.endswith("v4.pkt"):
        allowed = (IpMode.IPV4, IpMode.IPV4_MAPPED_IPV6)
    else:
        allowed = ALL_MODES
    return tuple(mode for mode in allowed if mode in wanted)


def discover(paths: Sequence[str], modes: Iterable[IpMode] = ALL_MODES) -> list[Case]:
    """All cases under *paths*: scripts sorted per path, each in its modes (run_all.py order);
    a script reached through two of the paths runs once."""
    chosen = tuple(modes)
    cases: list[Case] = []
    seen: set[str] = set()
    for root in paths:
        base = root if os.path.isdir(root) else os.path.dirname(root) or "."
        for script in find_scripts(root):
            # Same file twice: compare real paths; but run from the path as named (run_all.py
            # uses abspath), since the script's folder is its working directory.
            real = os.path.realpath(script)
            if real in seen:
                continue
            seen.add(real)
            absolute = os.path.abspath(script)
            name = os.path.relpath(script, base)
            cases += [Case(absolute, name, mode) for mode in modes_for(script, chosen)]
    return cases


def parse_modes(text: str) -> tuple[IpMode, ...]:
    """``"ipv4,ipv6"`` -> modes; accepts run_all.py's ``ipv4-mapped-v6`` spelling too."""
    aliases = {"ipv4-mapped-v6": IpMode.IPV4_MAPPED_IPV6, "v4": IpMode.IPV4,
               "v6": IpMode.IPV6, "mapped": IpMode.IPV4_MAPPED_IPV6}
    modes = []
    for word in filter(None, (part.strip() for part in text.split(","))):
        if word == "all":
            return ALL_MODES
        mode = aliases.get(word) or _mode_by_value(word)
        if mode not in modes:
            modes.append(mode)
    if not modes:
        raise ValueError("no IP mode given")
    return tuple(mode for mode in ALL_MODES if mode in modes)


def _mode_by_value(word: str) -> IpMode:
    try:
        return IpMode(word)
    except ValueError:
        names = ", ".join(mode.value for mode in ALL_MODES)
        raise ValueError(f"unknown IP mode {word!r} (choose from {names}, all)") from None
