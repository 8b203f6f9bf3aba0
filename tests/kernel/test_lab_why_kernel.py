"""The labs' "why" exercises against the real kernel: the teacher's answer is what the kernel
says, as root (tracepoints, counters, TCP_INFO) and as a normal user (counters and TCP_INFO
only: the hub's students run rootless, through a user namespace); a wrong prediction is told
the kernel's cause or reason and its sentence."""

from __future__ import annotations

import pytest
from lab_why import WHY_LABS, WhyCheck, why_checks, wrong_answer
from test_nonroot import NormalUser, normal_user  # noqa: F401 (a fixture)

from drillbook.config import RunConfig
from drillbook.parser import parse_script
from drillbook.runtime.api import run_script
from drillbook.trace.codec import trace_from_json
from drillbook.trace.model import Trace

pytestmark = pytest.mark.kernel

EXERCISES = [why for lab in WHY_LABS for why in why_checks(lab)]
ATTEMPTS = 3  # a shared machine may miss a script's timing window: that is not what we test
# Without CAP_SYS_NICE the worker cannot take SCHED_RR: a loaded machine misses more windows.
ATTEMPTS_WITHOUT_ROOT = 5

RUN_AND_PRINT = """
import sys
from drillbook.config import RunConfig
from drillbook.parser import parse_script
from drillbook.runtime.api import run_script
from drillbook.trace.codec import trace_to_json
path, tolerance = sys.argv[1], int(sys.argv[2])
with open(path) as script:
    trace = run_script(parse_script(script.read(), path), RunConfig(tolerance_usecs=tolerance))
print(trace_to_json(trace))
"""


def _name(why: WhyCheck) -> str:
    return f"{why.lab}-{why.run}"


def _assert_the_kernel_answers(why: WhyCheck, trace: Trace) -> None:
    right = why.check(trace, why.solution)
    assert right.ok, right.text
    wrong = why.check(trace, wrong_answer(why))
    assert not wrong.ok
    # The feedback names what the kernel said, and why, in its own sentence.
    said = [e for line in ([why.lines] if isinstance(why.lines, int) else why.lines)
            for e in trace.explanations_at(line) if e.cause is not None or e.reason]
    assert said and said[0].sentence.split(":")[0] in wrong.message, wrong.text
    expected = why.solution if isinstance(why.solution, list) else [why.solution]
    assert all(str(value).lower() in wrong.message.lower() for value in expected), wrong.text


@pytest.mark.parametrize("why", EXERCISES, ids=_name)
def test_the_teachers_answer_is_what_the_kernel_says_as_root(why: WhyCheck) -> None:
    script = parse_script(why.script, f"{why.lab}:{why.run}")
    for _ in range(ATTEMPTS):
        trace = run_script(script, RunConfig(tolerance_usecs=why.tolerance_usecs))
        if trace.passed:
            break
    assert trace.passed, trace.failure.render() if trace.failure else ""
    assert trace.sources.tracefs, trace.sources
    _assert_the_kernel_answers(why, trace)


@pytest.mark.other_user
def test_the_teachers_answers_are_what_the_kernel_says_without_root(
        normal_user: NormalUser) -> None:  # noqa: F811
    for why in EXERCISES:
        path = normal_user.stage.add_file(f"why/{_name(why)}.pkt", why.script)
        for _ in range(ATTEMPTS_WITHOUT_ROOT):
            proc = normal_user.run("-c", RUN_AND_PRINT, str(path), str(why.tolerance_usecs))
            assert proc.returncode == 0, proc.stderr
            trace = trace_from_json(proc.stdout.splitlines()[-1])
            if trace.passed:
                break
        assert trace.passed, (_name(why), trace.failure.render() if trace.failure else "")
        assert not trace.sources.tracefs and trace.sources.counters, trace.sources
        _assert_the_kernel_answers(why, trace)
