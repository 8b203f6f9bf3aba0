"""A process's first capture is prepared at the command's start only when its run will
capture, and only as root: otherwise nothing is attempted (no root needed: the spare keeper
is replaced by a recorder)."""

from __future__ import annotations

import pytest

from drillbook.commands import run as run_command
from drillbook.runtime.capture import evidence, spare


@pytest.fixture
def primed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(spare, "prime_spare", lambda: calls.append("prime"))
    monkeypatch.delenv(evidence.ENV_SWITCH, raising=False)
    monkeypatch.setattr(spare.KEEPER, "enabled", spare.KEEPER.enabled)  # run.main sets it
    return calls


@pytest.mark.parametrize(
    ("explain", "env", "euid", "expected"),
    [(None, None, 0, ["prime"]), (True, None, 0, ["prime"]), (False, None, 0, []),
     (None, "0", 0, []), (None, None, 1000, []), (True, None, 1000, [])],
    ids=["default", "on", "off", "env-off", "not-root", "on-not-root"])
def test_prepare_capture_only_when_the_run_will_capture_as_root(
    primed: list[str], monkeypatch: pytest.MonkeyPatch, explain: bool | None, env: str | None,
    euid: int, expected: list[str],
) -> None:
    if env is not None:
        monkeypatch.setenv(evidence.ENV_SWITCH, env)
    monkeypatch.setattr(evidence.os, "geteuid", lambda: euid)
    evidence.prepare_capture(explain)
    assert primed == expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(["--explain"], [("prepare", None), "parse"]),
     ([], [("prepare", None), "parse"]),
     (["--no-kernel-events"], [("prepare", False), "parse"]),
     (["--dry_run"], ["parse"])],
    ids=["explain", "default", "no-kernel-events", "dry-run"])
def test_drillbook_run_prepares_the_capture_before_it_parses(
    primed: list[str], monkeypatch: pytest.MonkeyPatch, flags: list[str],
    expected: list[object],
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(evidence, "prepare_capture", lambda explain: calls.append(
        ("prepare", explain)))

    def parse(*_: object) -> int:
        calls.append("parse")
        return 0

    monkeypatch.setattr(run_command, "run_one", parse)
    assert run_command.main([*flags, "x.pkt"]) == 0
    assert calls == expected
