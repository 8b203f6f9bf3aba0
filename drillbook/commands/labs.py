"""``drillbook labs``: make the student labs from the teacher versions with nbgrader.

    drillbook labs                       # course/source/*/*.ipynb -> labs/*.ipynb
    drillbook labs --check               # exit 1 when labs/ differs from what nbgrader makes
    drillbook labs --course DIR --out DIR

``make labs`` runs the first form. Exit codes: 0 done (or, with --check, up to date); 1 labs/
differs from generation (--check), or a student lab would still show a solution (a line that
the teacher version has only inside a solution region); 2 usage error, no course folder, or a
broken teacher version (file, cell, line and column named); 3 nbgrader is missing or failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drillbook.errors import DrillbookError

EXIT_OK, EXIT_STALE, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    """The ``drillbook labs`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="drillbook labs",
        description="Generate the student labs (no solutions) from the teacher versions with "
        "'nbgrader generate_assignment', on a scratch copy of the course folder.",
        exit_on_error=False,
    )
    parser.add_argument("--course", default="course", metavar="DIR",
                        help="nbgrader course folder with source/<lab>/<lab>.ipynb "
                        "(default: course)")
    parser.add_argument("--out", default="labs", metavar="DIR",
                        help="folder of the student labs (default: labs)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the student labs are not what "
                        "generation gives")
    return parser


def main(argv: list[str]) -> int:
    """Run ``drillbook labs`` with ``argv``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except argparse.ArgumentError as error:
        print(f"drillbook labs: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as done:
        return EXIT_OK if done.code in (0, None) else EXIT_USAGE
    from drillbook.course.release import (
        generate_student_labs,
        leaks_in,
        stale_labs,
        write_student_labs,
    )

    course, out = Path(args.course), Path(args.out)
    try:
        labs = generate_student_labs(course)
    except DrillbookError as error:
        print(f"drillbook labs: {error.render()}", file=sys.stderr)
        return EXIT_USAGE if error.exit_code == EXIT_USAGE else EXIT_FAILED
    leaks = leaks_in(course, labs)
    for leak in leaks:
        print(f"drillbook labs: a student lab shows a solution: {leak}", file=sys.stderr)
    if leaks:
        return EXIT_STALE
    if args.check:
        stale = stale_labs(labs, out)
        for name in stale:
            print(f"drillbook labs: {out / name} is not what nbgrader generates from "
                  f"{course}/source: run 'make labs'", file=sys.stderr)
        return EXIT_STALE if stale else EXIT_OK
    for path in write_student_labs(labs, out):
        print(path)
    return EXIT_OK
