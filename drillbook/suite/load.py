"""Read a script and build its RunConfig the way packetdrill does: the script's own header
lines first, then the command-line flags (the suite's mode flags), which win; only then is the
body parsed, with the final configuration (its IP mode and ``-D`` symbols matter)."""

from __future__ import annotations

from collections.abc import Sequence

from drillbook.config import RunConfig
from drillbook.script.model import Script
from drillbook.source import Source


def load_case(path: str, flags: Sequence[str]) -> tuple[Script, RunConfig]:
    """Parse the script at *path* with packetdrill *flags*; raises ScriptError/UsageError
    (and OSError when the file cannot be read)."""
    from drillbook.options import build_config, parse_argv
    from drillbook.parser import parse_header_options, parse_script

    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        text = handle.read()
    header = parse_header_options(text, path)
    config = build_config(header, parse_argv(list(flags)), Source(path, text))
    return parse_script(text, path, config), config
