"""Whole-corpus benchmark: every script in all three IP modes, as upstream's run_all.py runs
them, at one or more ``--jobs`` values.

    .venv/bin/python benchmarks/bench_corpus.py --jobs 2,3

For each --jobs value it prints the wall time (and its ratio to the C packetdrill's 225 s for
all modes at 2 jobs on this kind of machine), the agreement with expected.tsv, and how many
verdicts differ from the first --jobs value's run (0 means "verdicts stay identical").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drillbook.suite import (  # noqa: E402
    SuiteOptions,
    SuiteResult,
    Verdict,
    compare,
    discover,
    load_expected,
    run_suite,
)
from drillbook.suite.jsonout import to_json  # noqa: E402

C_PACKETDRILL_WALL_S = 225.0  # ../shared/corpus/README.md: all modes, two runs in parallel
PROJECT = Path(__file__).resolve().parents[1]


def _corpus() -> Path:
    return Path(os.environ.get("DRILLBOOK_CORPUS", PROJECT.parent / "shared" / "corpus"))


def _verdicts(suite: SuiteResult) -> dict[tuple[str, str], str]:
    return {(r.case.name, r.case.mode.value): r.verdict.value for r in suite.results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="2", help="comma-separated --jobs values")
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--path", default=None, help="default: the corpus's gtests-net")
    parser.add_argument("--save", default=None,
                        help="write each run's results as JSON to this path ({jobs} expands)")
    args = parser.parse_args()
    corpus = _corpus()
    cases = discover([args.path or str(corpus / "gtests-net")])
    rows = load_expected(str(corpus / "expected.tsv"))
    baseline: dict[tuple[str, str], str] | None = None
    print(f"{len(cases)} runs; C packetdrill reference: {C_PACKETDRILL_WALL_S:.0f} s at --jobs 2")
    for jobs in (int(word) for word in args.jobs.split(",")):
        load_before = os.getloadavg()[0]
        suite = run_suite(cases, SuiteOptions(jobs=jobs, retries=args.retries))
        if args.save:
            Path(args.save.format(jobs=jobs)).write_text(to_json(suite))
        agreement = compare(suite.results, rows)
        verdicts = _verdicts(suite)
        baseline = baseline or verdicts
        changed = sum(1 for key, value in verdicts.items() if baseline.get(key) != value)
        print(f"--jobs {jobs}: wall {suite.wall_s:.1f} s "
              f"({suite.wall_s / C_PACKETDRILL_WALL_S:.2f}x the C packetdrill), "
              f"{suite.count(Verdict.PASS)} pass; "
              f"{agreement.summary()}; verdicts differing from the first run: {changed}; "
              f"load average "
              f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after on {os.cpu_count()} CPUs",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
