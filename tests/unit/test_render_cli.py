"""``drillbook render`` without the kernel: arguments, usage errors, rendering a saved trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from trace_fixtures import sack_mismatch_trace, sack_trace

from drillbook.commands.render import ALL_KINDS, chosen_kinds, main
from drillbook.trace.codec import trace_to_json


def test_kind_choice() -> None:
    assert chosen_kinds(None) is None
    assert chosen_kinds(["auto"]) is None
    assert chosen_kinds(["all"]) == ALL_KINDS
    assert chosen_kinds(["sack", "sequence", "sack"]) == ("sack", "sequence")


@pytest.mark.parametrize("argv, message", [
    (["--out", "x.svg"], "give a script"),
    (["--out", "x.gif", "a.pkt"], "use a .svg, .png or .pdf"),
    (["--out", "x.svg", "does-not-exist.pkt"], "no such script"),
    (["--out", "x.svg", "--kind", "ladder", "a.pkt"], "invalid choice"),
    (["--out", "x.svg", "--trace", "t.json", "a.pkt"], "give no script"),
])
def test_usage_errors_exit_2(argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_out_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["a.pkt"]) == 2
    assert "--out" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "Exit codes" in capsys.readouterr().out


def test_render_saved_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("drillbook.trace.codec", reason="the JSON codec has not landed yet")
    saved = tmp_path / "t.json"
    saved.write_text(trace_to_json(sack_trace()))
    out = tmp_path / "f.svg"
    assert main(["--trace", str(saved), "--out", str(out), "--kind", "sack"]) == 0
    assert b"<svg" in out.read_bytes()[:500]
    bad = tmp_path / "bad.json"
    bad.write_text(trace_to_json(sack_mismatch_trace()))
    png = tmp_path / "f.png"
    assert main(["--trace", str(bad), "--out", str(png), "--kind", "sack", "--dpi", "30"]) == 1
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "tcp_ack" in capsys.readouterr().err


def test_unreadable_trace_is_a_usage_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("drillbook.trace.codec", reason="the JSON codec has not landed yet")
    for name, text in (("not-json.json", "{oops"), ("not-trace.json", '{"steps": 3}')):
        path = tmp_path / name
        path.write_text(text)
        assert main(["--trace", str(path), "--out", str(tmp_path / "f.svg")]) == 2
        assert "cannot read a trace" in capsys.readouterr().err
    assert main(["--trace", str(tmp_path / "missing.json"), "--out", "f.svg"]) == 2
