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

from drillbook.options import FLAGS

__all__ = [
    "FIGURE_KINDS",
    "CellOptions",
    "FLAG_OPTIONS",
    "VALUE_OPTIONS",
    "figure_kinds",
    "packetdrill_argv",
    "parse_duration_us",
]

# packetdrill's flags a cell offers (drillbook.options.FLAGS says which): those that take a
# value are passed as `--name=value`, the switches as `--name`.
VALUE_OPTIONS: tuple[tuple[str, type, str], ...] = tuple(
    (name, flag.cell_type, flag.help) for name, flag in FLAGS.items()
    if flag.takes_value and flag.cell_type is not None)
FLAG_OPTIONS: tuple[tuple[str, str], ...] = tuple(
    (name, flag.help) for name, flag in FLAGS.items()
    if not flag.takes_value and flag.cell_type is not None)

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
