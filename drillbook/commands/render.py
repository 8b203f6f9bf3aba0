"""``drillbook render``: run a script (or load a saved trace) and write its figures.

    drillbook render SCRIPT.pkt --out fig.svg [--kind KIND ...] [packetdrill flags...]
    drillbook render --trace trace.json --out fig.png [--kind KIND ...]

Exit codes, as for ``drillbook run``: 0 the figure was written and the script passed; 1 the
figure was written and the script failed against the kernel (the failure goes to stderr, the
figure shows it); 2 a script or usage error; 3 the sandbox could not be set up or the run was
aborted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drillbook.errors import DrillbookError, RunAborted, SandboxError, ScriptError
from drillbook.trace.codec import trace_to_json
from drillbook.trace.model import Trace

KIND_CHOICES = ("auto", "all", "sequence", "sack", "time-sequence", "window")
ALL_KINDS = ("sequence", "sack", "time-sequence", "window")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SANDBOX = 0, 1, 2, 3


class UsageError(Exception):
    """A bad command line (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The ``drillbook render`` argument parser (packetdrill flags pass through)."""
    parser = argparse.ArgumentParser(
        prog="drillbook render",
        description="Run a packetdrill script against the kernel (or load a saved trace) and "
        "draw it: sequence diagram, SACK blocks, time-sequence graph, windows.",
        epilog="Any other flag is a packetdrill flag (--ip_version, --tolerance_usecs, -D ...). "
        "Exit codes: 0 passed, 1 failed against the kernel (figure still written), "
        "2 script or usage error, 3 sandbox error.",
        add_help=True,
        exit_on_error=False,
    )
    parser.add_argument("script", nargs="?", help="the .pkt script to run")
    parser.add_argument("-o", "--out", required=True, help="image to write: .svg, .png or .pdf")
    parser.add_argument("--kind", action="append", choices=KIND_CHOICES,
                        help="which plot(s); repeatable. auto (default): those with something "
                        "to show; all: every plot")
    parser.add_argument("--trace", help="render this saved trace (JSON) instead of running")
    parser.add_argument("--save-trace", help="also save the run's trace as JSON here")
    parser.add_argument("--dpi", type=int, default=110, help="PNG resolution (default 110)")
    parser.add_argument("--no-explain", dest="explain", action="store_false",
                        help="leave the kernel's explanations off the sequence diagram")
    return parser


def chosen_kinds(kinds: list[str] | None) -> tuple[str, ...] | None:
    """None means "the plots with something to show" (drillbook.render.relevant_kinds)."""
    if not kinds or kinds == ["auto"]:
        return None
    if "all" in kinds:
        return ALL_KINDS
    return tuple(dict.fromkeys(k for k in kinds if k != "auto"))


def load_trace(path: str) -> Trace:
    """A trace saved as JSON (``Trace.to_json``)."""
    from drillbook.trace.codec import trace_from_json

    try:
        trace: Trace = trace_from_json(Path(path).read_text())
    except (ValueError, KeyError, TypeError) as error:  # not JSON, or not a trace
        raise UsageError(f"cannot read a trace from {path}: {error!r}") from error
    return trace


def run_trace(script_path: str, flags: list[str]) -> Trace:
    """Parse ``script_path`` with ``flags`` (packetdrill's) and run it in a fresh namespace."""
    # (noqa: until drillbook/options.py lands, isort takes it for a third-party module)
    from drillbook.options import build_config  # noqa: I001
    from drillbook.runtime.capture.evidence import prepare_capture
    from drillbook.runtime.capture.spare import keep_spares

    # One run: it claims a tracefs instance prepared while the script is parsed, and none
    # is prepared after it (runtime/capture/spare.py).
    prepare_capture()
    keep_spares(False)
    from drillbook.parser import parse_script
    from drillbook.runtime.api import run_script

    text = Path(script_path).read_text()
    config = build_config((), list(flags))  # -D symbols apply while parsing
    script = parse_script(text, path=script_path, config=config)
    config = build_config(tuple(script.options), list(flags))  # command line wins
    trace: Trace = run_script(script, config)
    return trace


def _trace_for(args: argparse.Namespace, rest: list[str]) -> Trace:
    if args.trace:
        if args.script or rest:
            raise UsageError("--trace renders a saved trace: give no script and no flags")
        return load_trace(args.trace)
    if not args.script:
        raise UsageError("give a script to run, or --trace TRACE.json")
    if not Path(args.script).is_file():
        raise UsageError(f"no such script: {args.script}")
    return run_trace(args.script, rest)


def _write(trace: Trace, args: argparse.Namespace) -> Path:
    from drillbook.render import figure_for, save_figure

    kinds = chosen_kinds(args.kind)
    explain = getattr(args, "explain", True)
    figure = figure_for(trace, kinds, explanations=explain)
    return save_figure(figure, args.out, dpi=args.dpi)


def main(argv: list[str]) -> int:
    """Entry point for ``drillbook render``; returns the exit code."""
    parser = build_parser()
    try:
        args, rest = parser.parse_known_args(argv)
        if Path(args.out).suffix.lower() not in (".svg", ".png", ".pdf"):
            raise UsageError(f"--out {args.out}: use a .svg, .png or .pdf file name")
        trace = _trace_for(args, rest)
    except SystemExit as stop:  # --help, or argparse's own usage error
        return EXIT_OK if stop.code in (0, None) else EXIT_USAGE
    except (argparse.ArgumentError, UsageError) as error:
        print(f"drillbook render: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ScriptError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_USAGE
    except (SandboxError, RunAborted) as error:
        print(f"drillbook render: {error}", file=sys.stderr)
        return EXIT_SANDBOX
    except (DrillbookError, OSError, ValueError) as error:
        print(f"drillbook render: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.save_trace:
        Path(args.save_trace).write_text(trace_to_json(trace))
    out = _write(trace, args)
    print(f"wrote {out}")
    if trace.failure is not None:
        print(trace.failure.render(), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
