"""The failure shown in the README's "Running scripts" section is what its command prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

PROJECT = Path(__file__).resolve().parents[2]
TIME = re.compile(r"\b\d+\.\d{6}\b")


def _readme_sample() -> tuple[list[str], list[str]]:
    """(the command, the sample's lines) from the README."""
    readme = (PROJECT / "README.md").read_text()
    intro = readme.index("Failures read as packetdrill writes them")
    command = re.search(r"`(drillbook run [^`]+)`", readme[intro:])
    assert command is not None
    block = readme[intro:].split("```", 2)[1]
    return command.group(1).split(), block.strip().splitlines()


def test_the_readme_failure_sample_is_what_its_command_prints() -> None:
    command, sample = _readme_sample()
    assert command[:2] == ["drillbook", "run"]
    done = subprocess.run(
        [sys.executable, "-m", "drillbook", *command[1:]],
        cwd=PROJECT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stderr
    printed = done.stderr.strip().splitlines()
    # The first line names the path as typed, as packetdrill does; times vary between runs.
    assert printed[0] == sample[0]
    assert [TIME.sub("T", line) for line in printed[1:3]] == [
        TIME.sub("T", line) for line in sample[1:3]
    ]
