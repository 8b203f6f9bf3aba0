"""``drillbook run [packetdrill flags] SCRIPT...``: packetdrill's own command line.

Scripts run one after another and the first failure stops the command, as packetdrill does.
``--dry_run`` parses and checks without touching the kernel.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from drillbook.errors import UsageError
from drillbook.options import ArgvFlags, flags_help, parse_argv

if TYPE_CHECKING:
    from drillbook.config import RunConfig
    from drillbook.script.model import Script
    from drillbook.trace.model import Trace

HELP = """usage: drillbook run [packetdrill flags] SCRIPT.pkt...

Run packetdrill scripts against the running kernel, each in a fresh network namespace.
Flags are packetdrill's (config.c), as --flag=value or --flag value (-D NAME=VALUE is
--define, -v is --verbose); a script's own --flag lines apply first, the command line wins:
""" + flags_help() + """\
--dry_run parses and checks the scripts (syntax, packetdrill's semantic checks, unknown
symbols) without running them.

drillbook's own flags:
  --explain       print why the kernel acted, one line per explained event:
                  FILE:LINE: cause=... key=value ... — sentence
  --trace FILE    write the run's trace (versioned JSON, explanations included) to FILE
                  (with several scripts, one FILE per script: FILE gets .1, .2, ... added)
  --no-kernel-events  no tracefs capture and no explanations (DRILLBOOK_EXPLAIN=0 too)

exit status:
  0  every script passed (or, with --dry_run, parsed and checked)
  1  a script failed against the kernel
  2  a script or usage error (syntax, semantics, flags, unreadable file)
  3  a sandbox error (namespace or TUN could not be set up) or an aborted run
"""


def read_script(path: str) -> str:
    """The script's text; an unreadable path is a usage error (exit 2), never a traceback.

    Bytes that are not UTF-8 become U+FFFD: harmless in comments, a syntax error elsewhere.
    """
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise UsageError(f"{path}: cannot read script: it is a directory") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read script: {exc.strerror or exc}") from None
    return data.decode("utf-8", errors="replace")


def load(path: str, flags: ArgvFlags) -> tuple[Script, RunConfig]:
    """Parse ``path`` with packetdrill's order: header lines, command line, then the body."""
    from drillbook.parser import parse_with_flags  # (the grammar: after prepare_capture)

    return parse_with_flags(read_script(path), path, flags)


@dataclass(frozen=True)
class OwnFlags:
    """drillbook's flags beside packetdrill's (taken out before packetdrill's are parsed)."""

    explain: bool = False
    trace_path: str | None = None
    kernel_events: bool = True

    @property
    def capture(self) -> bool | None:
        """``run_script``'s ``explain``: None lets ``DRILLBOOK_EXPLAIN`` decide."""
        return None if self.kernel_events else False


def split_own_flags(argv: list[str]) -> tuple[OwnFlags, list[str]]:
    """``--explain``, ``--trace FILE`` / ``--trace=FILE`` and ``--no-kernel-events`` out of
    argv (before ``--``); the rest is packetdrill's."""
    own = OwnFlags()
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            rest.extend(argv[index - 1 :])
            break
        if arg == "--explain":
            own = replace(own, explain=True)
        elif arg == "--no-kernel-events":
            own = replace(own, kernel_events=False)
        elif arg == "--trace" or arg.startswith("--trace="):
            if arg == "--trace":
                if index >= len(argv):
                    raise UsageError("option '--trace' requires an argument")
                value, index = argv[index], index + 1
            else:
                value = arg.split("=", 1)[1]
            if not value:
                raise UsageError("option '--trace' requires a file name")
            own = replace(own, trace_path=value)
        else:
            rest.append(arg)
    return own, rest


def run_one(
    path: str, flags: ArgvFlags, own: OwnFlags = OwnFlags(), trace_path: str | None = None
) -> int:
    """Dry-run or run one script; returns its exit status."""
    script, config = load(path, flags)
    if config.dry_run:
        from drillbook.script.checks import check_script

        check_script(script)
        return 0
    from drillbook.runtime.api import run_script

    trace = run_script(script, config, explain=own.capture)
    if config.verbose and trace.output:
        sys.stdout.write(trace.output if trace.output.endswith("\n") else trace.output + "\n")
    if trace_path:
        write_trace(trace, trace_path)
    if own.explain:
        for explanation in trace.explanations:
            print(explanation.render(path))
    if trace.passed:
        return 0
    assert trace.failure is not None
    print(trace.failure.render(name=path), file=sys.stderr)  # as packetdrill: the path typed
    return 1


def write_trace(trace: Trace, path: str) -> None:
    from drillbook.trace.codec import trace_to_json

    try:
        Path(path).write_text(trace_to_json(trace), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the trace: {exc.strerror or exc}") from None


def main(argv: list[str]) -> int:
    """``drillbook run``: returns the exit status (errors are raised to drillbook.cli)."""
    own, argv = split_own_flags(argv)
    flags = parse_argv(argv)
    if flags.help:
        sys.stdout.write(HELP)
        return 0
    if not flags.scripts:
        raise UsageError("drillbook run: no script given (see drillbook run --help)")
    several = len(flags.scripts) > 1
    if not any(flag.name == "dry_run" for flag in flags.flags):
        from drillbook.runtime.capture.evidence import prepare_capture

        # The first run claims a tracefs instance prepared while the script is parsed, not
        # one made on its path (runtime/capture/spare.py); nothing without a capture.
        prepare_capture(own.capture)
    from drillbook.runtime.capture.spare import keep_spares

    for number, path in enumerate(flags.scripts, 1):
        trace_path = own.trace_path
        if trace_path and several:
            trace_path = f"{trace_path}.{number}"
        # A tracefs instance is prepared ahead only for a next script: the last run's exit
        # would otherwise wait for a spare nobody uses (runtime/capture/spare.py).
        keep_spares(number < len(flags.scripts))
        status = run_one(path, flags, own, trace_path)
        if status:
            return status
    return 0


__all__ = ["HELP", "OwnFlags", "load", "main", "read_script", "run_one", "split_own_flags"]
