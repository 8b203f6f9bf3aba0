"""Shared fixtures: where the conformance corpus is (beside the project, never inside it);
this checkout staged for other accounts. Slow installs a selected test needs start in the
background once collection is done (background_setup.py). At the end no tracefs instance of
the session is left (tracefs_session.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import background_setup
import pytest
from other_user import Stage, missing_tools, staged
from tracefs_session import SessionInstances, finish_instances, summary

PROJECT = Path(__file__).resolve().parents[1]
INSTANCES = pytest.StashKey[SessionInstances]()


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


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    background_setup.start_for(
        getattr(item, "fixturenames", ()) for item in session.items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    background_setup.close_all()
    # No tracefs instance outlives the session, even one a killed process left
    # (tracefs_session.py); one of this session's own that cannot go fails it.
    instances = finish_instances()
    session.config.stash[INSTANCES] = instances
    if instances.ours and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    instances = config.stash.get(INSTANCES, None)
    for line in summary(instances) if instances is not None else []:
        terminalreporter.write_line(line, red=bool(instances.ours), yellow=not instances.ours)
