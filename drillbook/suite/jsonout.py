"""Machine-readable results: one JSON document with every case's outcome (for CI artifacts and
for comparing two suite runs, e.g. at different ``--jobs``)."""

from __future__ import annotations

import json
from typing import Any

from drillbook.suite.result import CaseResult, SuiteResult


def to_json(suite: SuiteResult) -> str:
    """The suite as JSON: totals, then one object per case in discovery order."""
    data = {
        "wall_s": round(suite.wall_s, 3),
        "jobs": suite.jobs,
        "interrupted": suite.interrupted,
        "results": [_case(result) for result in suite.results],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _case(result: CaseResult) -> dict[str, Any]:
    return {
        "path": result.case.name,
        "ip_mode": result.case.mode.value,
        "verdict": result.verdict.value,
        "cause": result.cause.value,
        "line": result.line,
        "message": result.message,
        "details": result.details,
        "attempts": result.attempts,
        "duration_s": round(result.duration_s, 3),
    }
