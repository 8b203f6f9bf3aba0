"""Agreement with recorded verdicts: the format of the corpus's ``expected.tsv``.

Columns: ``path`` (relative to the corpus's ``gtests-net/``), ``ip_mode``, ``verdict``
(``pass``/``fail``/``flaky``) and ``first_error`` (``file.pkt:LINE: message``). Verdicts are
compared per row, flaky rows left out; for rows that fail on both sides the LINE of the first
error is compared too (the engine's conformance criterion: ≥ 95 % verdict agreement and ≥ 80 %
same line among the agreeing failures).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drillbook.config import IpMode
from drillbook.suite.result import CaseResult, Verdict, error_line

MIN_VERDICT_AGREEMENT = 0.95
MIN_LINE_AGREEMENT = 0.80


@dataclass(frozen=True)
class ExpectedRow:
    """One recorded verdict."""

    path: str
    mode: IpMode
    verdict: str  # pass | fail | flaky
    first_error: str = ""

    @property
    def line(self) -> int | None:
        return error_line(self.first_error)


@dataclass(frozen=True)
class Comparison:
    """One case against its recorded row."""

    result: CaseResult
    row: ExpectedRow

    @property
    def flaky(self) -> bool:
        return self.row.verdict == "flaky"

    @property
    def verdict_agrees(self) -> bool:
        got = "pass" if self.result.verdict is Verdict.PASS else "fail"
        return self.result.verdict is not Verdict.ERROR and got == self.row.verdict

    @property
    def both_fail(self) -> bool:
        return self.verdict_agrees and self.row.verdict == "fail"

    @property
    def line_agrees(self) -> bool:
        return self.both_fail and self.result.line == self.row.line


@dataclass(frozen=True)
class Agreement:
    """How far a suite's verdicts agree with the recorded ones."""

    comparisons: tuple[Comparison, ...]
    unrecorded: tuple[CaseResult, ...]  # cases with no row
    min_verdict: float = MIN_VERDICT_AGREEMENT
    min_line: float = MIN_LINE_AGREEMENT

    @property
    def scored(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if not c.flaky)

    @property
    def verdict_agreeing(self) -> int:
        return sum(1 for c in self.scored if c.verdict_agrees)

    @property
    def verdict_ratio(self) -> float:
        return _ratio(self.verdict_agreeing, len(self.scored))

    @property
    def both_failing(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.scored if c.both_fail)

    @property
    def line_agreeing(self) -> int:
        return sum(1 for c in self.both_failing if c.line_agrees)

    @property
    def line_ratio(self) -> float:
        return _ratio(self.line_agreeing, len(self.both_failing))

    @property
    def disagreements(self) -> tuple[Comparison, ...]:
        """Scored rows whose verdict differs, then agreeing failures at another line."""
        verdicts = [c for c in self.scored if not c.verdict_agrees]
        lines = [c for c in self.both_failing if not c.line_agrees]
        return tuple(verdicts + lines)

    @property
    def ok(self) -> bool:
        return self.verdict_ratio >= self.min_verdict and self.line_ratio >= self.min_line

    def summary(self) -> str:
        """The figure the conformance test prints and the README records."""
        return (f"verdict agreement {self.verdict_agreeing}/{len(self.scored)} "
                f"({100 * self.verdict_ratio:.1f} %, flaky rows left out), "
                f"same first-error line {self.line_agreeing}/{len(self.both_failing)} "
                f"({100 * self.line_ratio:.1f} %) of the agreeing failures")


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def load_expected(path: str) -> list[ExpectedRow]:
    """Read an ``expected.tsv`` (header row ``path ip_mode verdict first_error``)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [_row(record, path, number) for number, record in enumerate(reader, start=2)]


def _row(record: dict[str, str], path: str, number: int) -> ExpectedRow:
    try:
        return ExpectedRow(record["path"], IpMode(record["ip_mode"]), record["verdict"],
                           record.get("first_error") or "")
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}:{number}: not an expected.tsv row: {exc}") from None


def compare(
    results: Iterable[CaseResult], rows: Sequence[ExpectedRow],
    min_verdict: float = MIN_VERDICT_AGREEMENT, min_line: float = MIN_LINE_AGREEMENT,
) -> Agreement:
    """Pair each result with its row: same mode, and the row's path a suffix of the case's
    path (so a suite over any folder of the corpus finds its rows). Rows without a result are
    left out: a suite over part of the corpus is scored on that part."""
    index = {(row.mode, row.path): row for row in rows}
    comparisons, unrecorded = [], []
    for result in results:
        row = _find(index, result)
        if row is None:
            unrecorded.append(result)
        else:
            comparisons.append(Comparison(result, row))
    return Agreement(tuple(comparisons), tuple(unrecorded), min_verdict, min_line)


def _find(index: dict[tuple[IpMode, str], ExpectedRow], result: CaseResult
          ) -> ExpectedRow | None:
    parts = result.case.path.replace("\\", "/").split("/")
    for start in range(len(parts)):
        row = index.get((result.case.mode, "/".join(parts[start:])))
        if row is not None:
            return row
    return None
