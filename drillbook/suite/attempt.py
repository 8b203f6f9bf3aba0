"""One attempt at one case: parse with the mode's flags, run in a worker, classify.

Every outcome becomes a :class:`CaseResult`; nothing but ``KeyboardInterrupt`` escapes, so one
broken script or one dead worker cannot stop a suite.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Sequence

from drillbook.errors import RunAborted, SandboxError, ScriptError, UsageError
from drillbook.suite.discovery import Case
from drillbook.suite.load import load_case
from drillbook.suite.result import CaseResult, Cause, Verdict

# Trace failure kinds (drillbook.trace.model.FailureKind values) -> suite causes.
_CAUSES = {cause.value: cause for cause in Cause}


def attempt_case(case: Case, flags: Sequence[str], timeout_s: float) -> CaseResult:
    """Run *case* once with packetdrill *flags* (mode flags included); never raises
    except on KeyboardInterrupt."""
    start = time.monotonic()
    result = _attempt(case, flags, timeout_s, start)
    return _with_duration(result, time.monotonic() - start)


def _attempt(case: Case, flags: Sequence[str], timeout_s: float, start: float) -> CaseResult:
    from drillbook.runtime.api import run_script

    try:
        script, config = load_case(case.path, flags)
        trace = run_script(script, config, timeout_s=timeout_s)
    except ScriptError as exc:
        return _script_error(case, exc)
    except UsageError as exc:
        return CaseResult(case, Verdict.ERROR, Cause.SCRIPT, f"usage error: {exc.render()}")
    except SandboxError as exc:
        return _split(case, Verdict.ERROR, Cause.SANDBOX, exc.render())
    except RunAborted as exc:
        # A run that exceeded the suite's timeout is a failure, as run_all.py counts it
        # ("timed out"); a worker that died early is drillbook's own error.
        timed_out = time.monotonic() - start >= timeout_s
        verdict = Verdict.FAIL if timed_out else Verdict.ERROR
        return _split(case, verdict, Cause.ABORTED, exc.render())
    except OSError as exc:  # the script file vanished or is unreadable
        return CaseResult(case, Verdict.ERROR, Cause.SCRIPT, f"{case.path}: {exc}")
    except Exception as exc:  # drillbook's own bug: report it, keep the suite going
        details = traceback.format_exc()
        message = f"drillbook crashed: {type(exc).__name__}: {exc}"
        return CaseResult(case, Verdict.ERROR, Cause.ABORTED, message, details)
    if trace.passed or trace.failure is None:
        return CaseResult(case, Verdict.PASS, output=trace.output)
    failure = trace.failure
    cause = _CAUSES.get(failure.kind.value, Cause.RUNTIME)
    name = os.path.basename(case.path)
    head = f"{name}:{failure.line}: {failure.message}"
    return CaseResult(case, Verdict.FAIL, cause, head, "\n".join(failure.details),
                      output=trace.output)


def _script_error(case: Case, exc: ScriptError) -> CaseResult:
    """packetdrill's wording for a refused script: ``name.pkt:LINE: message``."""
    name = os.path.basename(case.path)
    if exc.span.line > 0:
        head = f"{name}:{exc.span.line}: {exc.message}"
        return CaseResult(case, Verdict.FAIL, Cause.SCRIPT, head, exc.render())
    # Raised inside the worker: the location is already in the rendered text.
    return _split(case, Verdict.FAIL, Cause.SCRIPT, exc.render())


def _split(case: Case, verdict: Verdict, cause: Cause, text: str) -> CaseResult:
    head, _, rest = text.partition("\n")
    return CaseResult(case, verdict, cause, _short_path(head, case.path), rest)


def _short_path(head: str, path: str) -> str:
    """Messages name the script by its base name, as packetdrill does."""
    return head.replace(path + ":", os.path.basename(path) + ":", 1)


def _with_duration(result: CaseResult, seconds: float) -> CaseResult:
    from dataclasses import replace

    return replace(result, duration_s=seconds)
