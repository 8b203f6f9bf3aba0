"""The table printed at the end of a suite, and the agreement report."""

from __future__ import annotations

from drillbook.suite.expected import Agreement
from drillbook.suite.result import Cause, SuiteResult, Verdict

MAX_LISTED = 40


def summary_table(suite: SuiteResult) -> str:
    """Totals by verdict and cause, the failures one per line, and run_all.py's last line."""
    lines = ["", f"{'verdict':<10}{'count':>6}", "-" * 16]
    for verdict in Verdict:
        lines.append(f"{verdict.value:<10}{suite.count(verdict):>6}")
    causes = sorted(suite.causes.items(), key=lambda item: (-item[1], item[0].value))
    if causes:
        lines += ["", f"{'cause':<10}{'count':>6}", "-" * 16]
        lines += [f"{cause.value:<10}{count:>6}" for cause, count in causes]
    failed = [result for result in suite.results if not result.passed]
    if failed:
        lines += ["", "not passing:"]
        lines += [f"  {r.verdict.value:<5} {r.case.label}: {r.message}"
                  for r in failed[:MAX_LISTED]]
        if len(failed) > MAX_LISTED:
            lines.append(f"  ... and {len(failed) - MAX_LISTED} more")
    lines += ["", footer(suite)]
    return "\n".join(lines)


def footer(suite: SuiteResult) -> str:
    """One line in the spirit of run_all.py's ``Ran N tests: ...``."""
    timed_out = sum(1 for r in suite.results if r.cause is Cause.ABORTED
                    and r.verdict is Verdict.FAIL)
    note = " (interrupted)" if suite.interrupted else ""
    return (f"Ran {len(suite.results)} runs: {suite.count(Verdict.PASS)} passing, "
            f"{suite.count(Verdict.FAIL)} failing ({timed_out} timed out), "
            f"{suite.count(Verdict.ERROR)} errors, {suite.retried} retried; "
            f"wall {suite.wall_s:.1f} s with --jobs {suite.jobs}{note}")


def agreement_report(agreement: Agreement, limit: int = MAX_LISTED) -> str:
    """The agreement figure, then the rows that disagree."""
    lines = ["", agreement.summary()]
    flaky = len(agreement.comparisons) - len(agreement.scored)
    lines.append(f"rows compared: {len(agreement.comparisons)} ({flaky} flaky), "
                 f"runs without a row: {len(agreement.unrecorded)}")
    shown = agreement.disagreements[:limit]
    if shown:
        lines.append("disagreements (expected | drillbook):")
    for c in shown:
        expected = c.row.first_error or c.row.verdict
        got = c.result.message or c.result.verdict.value
        lines.append(f"  {c.result.case.label}: {expected} | {got}")
    if len(agreement.disagreements) > limit:
        lines.append(f"  ... and {len(agreement.disagreements) - limit} more")
    verdict = "agrees" if agreement.ok else "does NOT agree"
    lines.append(f"{verdict} (needs ≥ {100 * agreement.min_verdict:.0f} % verdicts, "
                 f"≥ {100 * agreement.min_line:.0f} % lines)")
    return "\n".join(lines)
