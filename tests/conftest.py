"""Shared fixtures: where the conformance corpus is (beside the project, never inside it);
this checkout staged for other accounts. Slow installs a selected test needs start in the
background once collection is done (background_setup.py). At the end no tracefs instance of
the session is left (tracefs_session.py).

``make test`` runs the suite on three pytest-xdist workers (``-n 3 --dist loadgroup``): most of
the suite waits on kernel timers, script sleeps and process start-ups, so three lanes overlap
that waiting. ``LANES`` keeps together the tests that share an expensive session fixture (one
JupyterLab and Chromium, one set of lab exports), and ``FIRST`` puts the long units at the head
of the queue so that they start at once on different workers instead of one starting last.
Tests that run scripts without real-time priority (the hub's students, other accounts) never
run beside tests that keep the CPUs busy (calm_lock.py).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import background_setup
import pytest
from calm_lock import holding, lock_path, need_of
from other_user import Stage, missing_tools, staged
from tracefs_session import SessionInstances, finish_instances, summary

PROJECT = Path(__file__).resolve().parents[1]
INSTANCES = pytest.StashKey[SessionInstances]()
# What each xdist worker's session end found, (swept, ours) as lists (pytest_testnodedown).
WORKERS_INSTANCES = pytest.StashKey[list[tuple[list[str], list[str]]]]()


def corpus_path() -> Path:
    """``$DRILLBOOK_CORPUS``, default ``<project>/../shared/corpus``."""
    default = PROJECT.parent / "shared" / "corpus"
    return Path(os.environ.get("DRILLBOOK_CORPUS", default))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The corpus folder (with gtests-net/ and expected.tsv); skips when it is absent."""
    path = corpus_path()
    if not (path / "gtests-net").is_dir():
        pytest.skip(f"corpus not found at {path} (set DRILLBOOK_CORPUS)")
    return path


@pytest.fixture(scope="session")
def stage() -> Iterator[Stage]:
    """This checkout staged for other accounts (see other_user.py); skips with the reason
    where this process cannot run anything as another account."""
    problem = missing_tools()
    if problem:
        pytest.skip(problem)
    with staged() as folder:
        yield folder


# Test files (under tests/) that must share one worker, so that a session or module fixture is
# built once: one JupyterLab and Chromium (browser/conftest.py), one set of lab exports
# (notebooks/lab_exports.py), one run of each notebook a module's fixture executes. "corpus"
# holds the longest test and the two modules whose slow installs start in the background from
# collection on (see pytest_collection_finish): the installs are done long before the corpus is.
LANES = {
    "conformance/test_corpus.py": "corpus",
    "kernel/test_hub.py": "corpus",
    "kernel/test_private_clone.py": "corpus",
    "browser/test_notebooks_in_lab.py": "lab",
    "browser/test_controls_in_lab.py": "lab",
    "browser/test_make_lab.py": "lab",
    "browser/test_highlight_lab.py": "lab",
    "browser/test_stepper_browser.py": "lab",
    "browser/test_lesson_browser.py": "exports",
    "notebooks/test_export.py": "exports",
    "notebooks/test_labs.py": "exports",
    "notebooks/test_lab_claims.py": "exports",
    # The demo notebook, run by a module fixture: split over both workers, it would run twice.
    # (test_course.py's fixture runs every student lab on each worker that takes one of its
    # tests, but as one lane its three labs at a time ran beside the hub test's students, whose
    # runs cannot have real-time priority, and made their packets 35-55 ms late.)
    "notebooks/test_notebooks.py": "demo",
}
# The queue's head, longest first (xdist hands the units out in this order, to whichever worker
# asks; the corpus lane always to gw0, the worker that starts the background installs); the
# rest follow in their usual order.
FIRST = ("conformance/test_corpus.py", "kernel/test_hub.py", "kernel/test_private_clone.py",
         "browser/", "notebooks/test_course.py", "notebooks/test_export.py",
         "notebooks/test_labs.py", "notebooks/test_lab_claims.py", "notebooks/test_lab_why.py",
         "notebooks/test_notebooks.py")


def pytest_configure(config: pytest.Config) -> None:
    """Children this session starts get Ctrl-C's default action, whatever the session was
    started from: a job a non-interactive shell starts in the background (``make test &``, a
    runner that does so) ignores SIGINT, an ignored signal stays ignored across exec, and the
    tests that interrupt a run with SIGINT would then see it carry on. A Python handler is
    reset to the default at exec, so installing Python's own makes the children's default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _signal_state() -> tuple[frozenset[int], object, object]:
    return (frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
            signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))


@pytest.fixture(autouse=True)
def _signals_left_as_found() -> Iterator[None]:
    """A test must leave the process's signal mask and its SIGINT/SIGTERM handlers as it
    found them: every process a later test starts inherits a blocked or ignored signal, and a
    test that interrupts a run would then see the run carry on to its end."""
    before = _signal_state()
    yield
    after = _signal_state()
    if after != before:
        signal.pthread_sigmask(signal.SIG_SETMASK, before[0])
        signal.signal(signal.SIGINT, before[1])  # type: ignore[arg-type]
        signal.signal(signal.SIGTERM, before[2])  # type: ignore[arg-type]
        pytest.fail(f"the test left the signals changed (mask, SIGINT, SIGTERM): {before} -> "
                    f"{after}")


def _under_tests(path: str) -> str:
    """``path`` (absolute, or relative to the project) relative to tests/."""
    full = (PROJECT / path).resolve()
    tests = PROJECT / "tests"
    return full.relative_to(tests).as_posix() if full.is_relative_to(tests) else path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = _under_tests(str(item.fspath))
        return next((i for i, head in enumerate(FIRST) if path.startswith(head)), len(FIRST))

    items.sort(key=rank)  # stable: tests keep their order within a file


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """Rootless tests do not run beside busy ones on another worker (calm_lock.py)."""
    with holding(lock_path(item.config), need_of(_under_tests(str(item.fspath)))):
        return (yield)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` with ``LANES`` as the groups: a group's tests go to one worker,
    every other test is a unit of its own. (xdist's own ``xdist_group`` marks do not work with
    pytest 9: xdist renames ``item._nodeid``, which pytest 9 no longer reads.)"""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class LaneScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return LANES.get(_under_tests(nodeid.split("::", 1)[0]), nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            # The corpus lane goes to gw0, which started its installs (workers come up in any
            # order, and xdist hands the queue's head to whichever asks first).
            queue = self.workqueue
            if "corpus" in queue and len(queue) > 1:
                if node.gateway.id == "gw0":
                    queue.move_to_end("corpus", last=False)
                elif next(iter(queue)) == "corpus":
                    queue.move_to_end(list(queue)[1], last=False)
            super()._assign_work_unit(node)

    return LaneScheduling(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    # Every xdist worker collects every test; only gw0 (which gets the corpus lane, where the
    # tests that take these installs are) starts them. Elsewhere a fixture that needs one
    # starts it itself, as without a head start.
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0":
        return
    background_setup.start_for(
        getattr(item, "fixturenames", ()) for item in session.items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    background_setup.close_all()
    # No tracefs instance outlives the session, even one a killed process left
    # (tracefs_session.py); one of this session's own that cannot go fails it.
    instances = finish_instances()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports them and fails
        workeroutput["tracefs_instances"] = (instances.swept, instances.ours)
        return
    for swept, ours in session.config.stash.get(WORKERS_INSTANCES, []):
        instances = SessionInstances(instances.swept + swept, instances.ours + ours)
    session.config.stash[INSTANCES] = instances
    if instances.ours and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: keep what a worker's session end found (see above)."""
    reported = getattr(node, "workeroutput", {}).get("tracefs_instances")
    if reported is not None:
        node.config.stash.setdefault(WORKERS_INSTANCES, []).append(reported)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    instances = config.stash.get(INSTANCES, None)
    for line in summary(instances) if instances is not None else []:
        terminalreporter.write_line(line, red=bool(instances.ours), yellow=not instances.ours)
