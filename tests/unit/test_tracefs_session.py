"""The session's last look at tracefs instances (tests/tracefs_session.py), on a folder laid
out like tracefs: dead processes' instances go, this session's are reported, another live
process's are left alone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tracefs_session import finish_instances, summary


def test_the_session_sweeps_the_dead_reports_its_own_and_spares_the_living(
        tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    child = subprocess.Popen(["sleep", "30"])
    try:
        names = {"dead": f"drillbook-{dead.pid}-1", "mine": f"drillbook-{os.getpid()}-2",
                 "child": f"drillbook-{child.pid}-3", "other": "drillbook-1-4",
                 "foreign": "someone-else"}
        for name in names.values():
            (tmp_path / "instances" / name).mkdir(parents=True)
        discarded: list[bool] = []
        found = finish_instances(str(tmp_path), lambda: discarded.append(True))
    finally:
        child.kill()
        child.wait()
    assert discarded == [True]  # this process's spare goes first
    assert found.swept == [names["dead"]]
    assert sorted(found.ours) == sorted([names["mine"], names["child"]])
    left = {p.name for p in (tmp_path / "instances").iterdir()}
    assert left == set(names.values()) - {names["dead"]}
    assert [line.split(":")[0] for line in summary(found)] == [
        "removed 1 tracefs instance(s) of killed processes",
        "tracefs instance(s) of this test session left behind"]
