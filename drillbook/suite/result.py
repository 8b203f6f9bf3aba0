"""What one case of a suite came to, and the whole suite: pure data for the reporters."""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass

from drillbook.suite.discovery import Case

_LINE = re.compile(r"^[^\s:]*:(\d+)(?::\d+)?:")


class Verdict(enum.Enum):
    """A case's verdict. ``ERROR``: the machine could not run it (sandbox, worker crash)."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


class Cause(enum.Enum):
    """Why a case did not pass (``NONE`` when it passed)."""

    NONE = "none"
    PACKET = "packet"  # a field of an outbound packet differs
    TIMING = "timing"  # an event happened outside the tolerance
    TIMEOUT = "timeout"  # an expected packet never came
    SYSCALL = "syscall"
    COMMAND = "command"
    CODE = "code"
    RUNTIME = "runtime"
    SCRIPT = "script"  # a syntax or semantic error (packetdrill refuses the script)
    ABORTED = "aborted"  # the run exceeded the suite's timeout or the worker died
    SANDBOX = "sandbox"  # the namespace/TUN device could not be made

    @property
    def retryable(self) -> bool:
        """Timing noise only: a run late by the machine may pass again; a field mismatch never
        does, so it is never retried (packetdrill's verdict would not change either)."""
        return self in (Cause.TIMING, Cause.TIMEOUT)


@dataclass(frozen=True)
class CaseResult:
    """The last attempt's outcome of one case."""

    case: Case
    verdict: Verdict
    cause: Cause = Cause.NONE
    message: str = ""  # first line, packetdrill's wording: "name.pkt:LINE: message"
    details: str = ""  # the rest (script packet, actual packet, worker stderr...)
    duration_s: float = 0.0  # all attempts
    attempts: int = 1
    output: str = ""  # the run's captured output (shell commands, -v)

    @property
    def line(self) -> int | None:
        """The script line of the first error, or None."""
        return error_line(self.message)

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS


def error_line(message: str) -> int | None:
    """The LINE of ``file.pkt:LINE: message`` (or ``file:LINE:COL: message``)."""
    match = _LINE.match(message)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class SuiteResult:
    """Every case's result, in discovery order, and the wall time of the whole suite."""

    results: tuple[CaseResult, ...]
    wall_s: float
    jobs: int
    interrupted: bool = False

    def count(self, verdict: Verdict) -> int:
        return sum(1 for result in self.results if result.verdict is verdict)

    @property
    def causes(self) -> Counter[Cause]:
        return Counter(result.cause for result in self.results if not result.passed)

    @property
    def all_passed(self) -> bool:
        return not self.interrupted and all(result.passed for result in self.results)

    @property
    def retried(self) -> int:
        return sum(1 for result in self.results if result.attempts > 1)
