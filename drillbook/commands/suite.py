"""``drillbook suite PATH... --jobs N``: run every script under the paths, as upstream's
``run_all.py`` does, N at a time.

Exit codes: 0 every run passed (with ``--expected``: the verdicts agree), 1 some run failed (or
the verdicts disagree), 2 usage error, 3 the machine cannot host a sandbox (every run hit a
sandbox error), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from drillbook.suite import (
    SuiteOptions,
    SuiteResult,
    agreement_report,
    compare,
    discover,
    load_expected,
    parse_modes,
    run_suite,
    summary_table,
    to_junit,
    to_tap,
)
from drillbook.suite.expected import MIN_LINE_AGREEMENT, MIN_VERDICT_AGREEMENT
from drillbook.suite.inherited import inherited_tcp_settings
from drillbook.suite.jobs import cpu_count, default_jobs, jobs_warning
from drillbook.suite.jsonout import to_json
from drillbook.suite.progress import ProgressLine
from drillbook.suite.result import Cause
from drillbook.suite.runner import DEFAULT_TIMEOUT_S

DESCRIPTION = """\
Run every .pkt script under the paths as upstream's run_all.py does (ipv4,
ipv4-mapped-ipv6 and ipv6; upstream's flags and -D symbols; the v4.pkt/v6.pkt
name rules; the script's folder as working directory), N at a time, each in its
own network namespace.

exit status:
  0    every run passed (with --expected: the verdicts agree enough)
  1    some run failed (with --expected: the verdicts disagree)
  2    usage error
  3    no run could set up its sandbox (a machine problem)
  130  interrupted"""

EXPECTED_RETRIES = 2  # timing-only failures, as the engine's conformance criterion allows
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SANDBOX, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``drillbook suite`` (other options go to packetdrill)."""
    parser = argparse.ArgumentParser(
        prog="drillbook suite", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Any other --flag=value is passed to every run as a packetdrill flag, after "
               "upstream's per-mode flags (so it wins); write it with '='.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="scripts or folders")
    parser.add_argument("-j", "--jobs", type=_positive_int, default=default_jobs(cpu_count()),
                        help="runs at a time, each in its own namespace (default 2, or 1 on "
                             "a machine with one CPU)")
    parser.add_argument("--modes", type=parse_modes, default=parse_modes("all"),
                        help="comma-separated: ipv4, ipv4-mapped-ipv6, ipv6, all (default)")
    parser.add_argument("--retries", type=_natural_int, default=None,
                        help="re-run a case that failed on timing only, up to N times "
                             f"(default 0; {EXPECTED_RETRIES} with --expected, as the "
                             "conformance test)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds before a run is killed (run_all.py: 180)")
    parser.add_argument("--expected", metavar="TSV",
                        help="report agreement with recorded verdicts (expected.tsv format)")
    parser.add_argument("--min-agreement", type=float, default=MIN_VERDICT_AGREEMENT,
                        help="verdict agreement needed for exit 0 with --expected")
    parser.add_argument("--min-line-agreement", type=float, default=MIN_LINE_AGREEMENT,
                        help="same-line share of agreeing failures needed with --expected")
    parser.add_argument("--tap", metavar="FILE", help="write TAP 13 results to FILE")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML results to FILE")
    parser.add_argument("--json", metavar="FILE", help="write every case's result as JSON")
    parser.add_argument("--no-upstream-flags", action="store_true",
                        help="do not add run_all.py's per-mode flags and -D symbols")
    parser.add_argument("-D", "--define", action="append", default=[], metavar="NAME=VALUE",
                        help="a packetdrill -D symbol for every run")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _natural_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``drillbook suite``; return the exit code (see the module doc)."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse exits 2 on errors, 0 on --help
        return int(exc.code or 0)
    bad = [word for word in extra if not word.startswith("-")]
    if bad:
        parser.print_usage(sys.stderr)
        print(f"drillbook suite: error: unexpected argument {bad[0]!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        cases = discover(args.paths, args.modes)
    except FileNotFoundError as exc:
        print(f"drillbook suite: {exc}", file=sys.stderr)
        return EXIT_USAGE
    warning = jobs_warning(args.jobs, cpu_count())
    if warning:
        print(f"drillbook suite: warning: {warning}", file=sys.stderr)
    flags = tuple(extra) + tuple(f"-D{item}" for item in args.define)
    options = SuiteOptions(jobs=args.jobs, retries=retries_for(args), timeout_s=args.timeout,
                           extra_flags=flags, upstream_flags=not args.no_upstream_flags)
    progress = ProgressLine(sys.stderr, len(cases), live=None if not args.quiet else False)
    suite = run_suite(cases, options, None if args.quiet else progress)
    progress.close()
    return _report(suite, args)


def retries_for(args: argparse.Namespace) -> int:
    """``--retries``, defaulting to 0, or to EXPECTED_RETRIES with ``--expected``: comparing
    with recorded verdicts is the conformance measurement, so the command and
    tests/conformance/test_corpus.py report the same figure."""
    if args.retries is not None:
        return int(args.retries)
    return EXPECTED_RETRIES if args.expected else 0


def _report(suite: SuiteResult, args: argparse.Namespace) -> int:
    print(summary_table(suite))
    _write(args.tap, to_tap(suite))
    _write(args.junit, to_junit(suite))
    _write(args.json, to_json(suite))
    if suite.interrupted:
        return EXIT_INTERRUPTED
    if suite.results and all(r.cause is Cause.SANDBOX for r in suite.results):
        print("drillbook suite: no run could set up its sandbox (see the messages above)",
              file=sys.stderr)
        return EXIT_SANDBOX
    if args.expected:
        agreement = compare(suite.results, load_expected(args.expected),
                            args.min_agreement, args.min_line_agreement)
        print(agreement_report(agreement))
        print(inherited_tcp_settings().describe())
        return EXIT_OK if agreement.ok else EXIT_FAILED
    return EXIT_OK if suite.all_passed else EXIT_FAILED


def _write(path: str | None, text: str) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
