"""The live progress line: counts so far, elapsed time and what is running.

On a terminal the line is redrawn in place (``\\r``) and failures are printed above it as they
come; elsewhere (CI logs, pipes) one line per finished case is printed, like run_all.py -v.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

from drillbook.suite.discovery import Case
from drillbook.suite.result import CaseResult, Verdict

_TAGS = {Verdict.PASS: "OK  ", Verdict.FAIL: "FAIL", Verdict.ERROR: "ERR "}


class ProgressLine:
    """A :class:`~drillbook.suite.runner.Listener` that draws progress on *stream*."""

    def __init__(self, stream: TextIO, total: int, *, live: bool | None = None,
                 width: int = 100) -> None:
        self.stream = stream
        self.total = total
        self.live = stream.isatty() if live is None else live
        self.width = width
        self._lock = threading.Lock()
        self._running: dict[Case, None] = {}
        self._counts = {verdict: 0 for verdict in Verdict}
        self._start = time.monotonic()

    def started(self, case: Case) -> None:
        with self._lock:
            self._running[case] = None
            self._draw()

    def finished(self, result: CaseResult) -> None:
        with self._lock:
            self._running.pop(result.case, None)
            self._counts[result.verdict] += 1
            if self.live:
                if not result.passed:
                    self._clear()
                    self.stream.write(self._line_for(result) + "\n")
                self._draw()
            else:
                self.stream.write(f"{self.status()}  {self._line_for(result)}\n")
            self.stream.flush()

    def close(self) -> None:
        """Remove the live line (the summary follows)."""
        with self._lock:
            if self.live:
                self._clear()
                self.stream.flush()

    def status(self) -> str:
        """``[ 12/493] 10 ok 2 fail 0 err 34s``."""
        done = sum(self._counts.values())
        elapsed = time.monotonic() - self._start
        return (f"[{done:>{len(str(self.total))}}/{self.total}] "
                f"{self._counts[Verdict.PASS]} ok {self._counts[Verdict.FAIL]} fail "
                f"{self._counts[Verdict.ERROR]} err {elapsed:.0f}s")

    def _line_for(self, result: CaseResult) -> str:
        retried = f" after {result.attempts} attempts" if result.attempts > 1 else ""
        text = f"{_TAGS[result.verdict]} {result.case.label} {result.duration_s:.1f}s{retried}"
        return f"{text}: {result.message}" if result.message else text

    def _draw(self) -> None:
        if not self.live:
            return
        running = ", ".join(case.label for case in self._running)
        line = f"{self.status()} | {running}" if running else self.status()
        self._clear()
        self.stream.write(line[: self.width])
        self.stream.flush()

    def _clear(self) -> None:
        self.stream.write("\r\x1b[K")
