"""The options of ``%%drill`` turned into packetdrill flags.

The magic's options mirror packetdrill's command line (reference §5), with a few friendlier
spellings (``--ip ipv6``, ``--tolerance 4ms``). They become packetdrill's own flags so that a
script's header lines and the cell's options combine exactly as in packetdrill. Pure functions:
no IPython here.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "FIGURE_KINDS",
    "CellOptions",
    "FLAG_OPTIONS",
    "VALUE_OPTIONS",
    "figure_kinds",
    "packetdrill_argv",
    "parse_duration_us",
]

# Options that take a value and are passed to packetdrill as `--name=value`.
VALUE_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("tolerance_usecs", int, "timing tolerance in microseconds (packetdrill's flag)"),
    ("tolerance_percent", float, "timing tolerance as a percentage of the gap"),
    ("local_ip", str, "the kernel's address (default 192.168.0.1, or the ipv6 one)"),
    ("remote_ip", str, "the remote peer's address (default 192.0.2.1)"),
    ("gateway_ip", str, "the gateway address"),
    ("netmask_ip", str, "the netmask (default 255.255.0.0)"),
    ("mtu", int, "MTU of the TUN device (default 1500)"),
    ("mss", int, "MSS hint for GSO inbound packets"),
    ("bind_port", int, "the port the socket binds (default 8080)"),
    ("connect_port", int, "the port the socket connects to (default 8080)"),
    ("speed", int, "the TUN device's speed in Mbit/s"),
    ("tcp_ts_tick_usecs", int, "the kernel's TS clock tick, to check TS values"),
    ("non_fatal", str, "packet,syscall: report these mismatches as warnings and go on"),
    ("init_scripts", str, "comma-separated shell scripts to run before the script"),
)

# Switches passed to packetdrill as `--name`.
FLAG_OPTIONS: tuple[tuple[str, str], ...] = (
    ("strict_segments", "do not aggregate outbound segments (match them one by one)"),
    ("tcp_ts_ecr_scaled", "TS ecr values are scaled like TS val"),
    ("send_omit_free", "pass MSG_ZEROCOPY buffers without freeing them"),
    ("dry_run", "parse and check, do not run"),
    ("verbose", "print every packet and syscall (packetdrill -v)"),
)

IP_MODES = ("ipv4", "ipv6", "ipv4-mapped-ipv6")

# drillbook.render's figure kinds (a test keeps the two equal; importing render here would
# pull in matplotlib just to parse options).
FIGURE_KINDS = ("sequence", "sack", "time-sequence", "window")
_KIND_ALIASES = MappingProxyType(
    {
        "time_sequence": "time-sequence",
        "timeseq": "time-sequence",
        "tcptrace": "time-sequence",
        "windows": "window",
        "seq": "sequence",
    }
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s)\s*$")
_UNIT_US = MappingProxyType({"us": 1, "ms": 1000, "s": 1_000_000})


@dataclass(frozen=True)
class CellOptions:
    """What the notebook-only options ask for (the rest become packetdrill flags)."""

    argv: tuple[str, ...]
    tweak: bool = False
    explore: bool = False
    pcap: str | None = None
    out: str | None = None
    figures: tuple[str, ...] | None = None
    check: bool = False


def parse_duration_us(text: str) -> int:
    """``4ms`` -> 4000, ``500us`` -> 500, ``0.01s`` -> 10000; a unit is required."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"cannot read duration {text!r}: give a unit, e.g. 4ms, 500us or 0.01s")
    return round(float(match.group(1)) * _UNIT_US[match.group(2)])


def figure_kinds(figures: str | None, no_figures: bool) -> tuple[str, ...] | None:
    """``--figures sequence,sack`` -> ('sequence', 'sack'); ``--no-figures`` -> ().

    ``auto`` (or nothing) lets drillbook.render pick what has something to show; ``all``
    asks for every kind; ``none`` for none.
    """
    if no_figures:
        return ()
    words = [word.strip() for word in (figures or "").split(",") if word.strip()]
    if not words or words == ["auto"]:
        return None
    if words == ["all"]:
        return FIGURE_KINDS
    if words == ["none"]:
        return ()
    kinds = tuple(_KIND_ALIASES.get(word, word) for word in words)
    unknown = [word for word, kind in zip(words, kinds, strict=True) if kind not in FIGURE_KINDS]
    if unknown:
        raise ValueError(
            f"unknown figure kind {unknown[0]!r}: choose from auto, all, none, "
            + ", ".join(FIGURE_KINDS)
        )
    return kinds


def packetdrill_argv(args: argparse.Namespace) -> tuple[str, ...]:
    """packetdrill's flags for the parsed magic options (only those the user gave)."""
    argv: list[str] = []
    if args.ip is not None:
        argv.append(f"--ip_version={args.ip}")
    tolerance = args.tolerance_usecs
    if args.tolerance is not None:
        tolerance = parse_duration_us(args.tolerance)
    for name, _kind, _help in VALUE_OPTIONS:
        value = tolerance if name == "tolerance_usecs" else getattr(args, name)
        if value is not None:
            argv.append(f"--{name}={value}")
    for name, _help in FLAG_OPTIONS:
        if getattr(args, name):
            argv.append(f"--{name}")
    for define in args.define or ():
        if "=" not in define:
            raise ValueError(f"-D needs SYMBOL=VALUE, got {define!r}")
        argv.extend(("-D", define))
    return tuple(argv)
