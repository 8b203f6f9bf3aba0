"""Shared fixtures: where the conformance corpus is (beside the project, never inside it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


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
