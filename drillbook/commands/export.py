"""``drillbook export``: execute lab notebooks and write one self-contained HTML lesson each.

    drillbook export labs/01-handshake.ipynb labs/02-sack.ipynb --out site/

Exit codes: 0 every lesson was written; 1 a lab failed (a cell raised, an error output, a
self-check that fails with the solutions); 2 a usage error (no such notebook, bad flag).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drillbook.errors import DrillbookError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The ``drillbook export`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="drillbook export",
        description="Execute lab notebooks against the real kernel (solutions included) and "
        "write one self-contained HTML lesson per lab: figures inline, no network resources, "
        "solution cells hidden. Any error output fails the export.",
        exit_on_error=False,
    )
    parser.add_argument("notebooks", nargs="+", metavar="LAB.ipynb", help="lab notebooks")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="folder for the HTML")
    parser.add_argument("--timeout", type=int, default=180, help="seconds allowed per cell")
    parser.add_argument("--executed", metavar="DIR", default=None,
                        help="also save the executed notebooks in DIR")
    parser.add_argument("--no-execute", dest="execute", action="store_false",
                        help="export the notebooks' saved outputs without running them")
    return parser


def main(argv: list[str]) -> int:
    """Run ``drillbook export`` with ``argv``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except argparse.ArgumentError as error:
        print(f"drillbook export: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as done:  # --help, or argparse's own usage error
        return EXIT_OK if done.code in (0, None) else EXIT_USAGE
    paths = [Path(name) for name in args.notebooks]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"drillbook export: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    from drillbook.lessons import export_lesson

    status = EXIT_OK
    for path in paths:
        try:
            written = export_lesson(
                path,
                Path(args.out),
                execute=args.execute,
                timeout_s=args.timeout,
                executed_dir=Path(args.executed) if args.executed else None,
            )
        except DrillbookError as error:
            print(f"drillbook export: {error.render()}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        print(written)
    return status
