"""Read a script and build its RunConfig exactly as ``drillbook run`` does (the script's own
header lines first, then the command-line flags, which win; only then is the body parsed with
the final configuration), so a suite and a single run can never disagree on a script."""

from __future__ import annotations

from collections.abc import Sequence

from drillbook.config import RunConfig
from drillbook.script.model import Script


def load_case(path: str, flags: Sequence[str]) -> tuple[Script, RunConfig]:
    """Parse the script at *path* with packetdrill *flags*; raises ScriptError or UsageError
    (an unreadable file is a usage error, as for ``drillbook run``)."""
    from drillbook.commands.run import load
    from drillbook.options import parse_argv

    return load(path, parse_argv(list(flags)))
