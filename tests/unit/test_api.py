"""The public Python API without a kernel: ``drillbook.parse`` with text, a path and bad input,
the flags as keywords, and the pinned ``__all__``."""

from __future__ import annotations

from pathlib import Path

import pytest

import drillbook
from drillbook.api import flags_to_argv
from drillbook.script.model import Script

HANDSHAKE = Path(__file__).resolve().parents[2] / "notebooks" / "scripts" / "handshake.pkt"


def test_the_public_surface_is_pinned() -> None:
    assert sorted(drillbook.__all__) == [
        "DrillbookError", "RunAborted", "SandboxError", "ScriptError", "ScriptSemanticError",
        "ScriptSyntaxError", "UsageError", "__version__", "load_ipython_extension", "parse",
        "run", "unload_ipython_extension",
    ]
    for name in drillbook.__all__:
        assert getattr(drillbook, name) is not None, name


def test_parse_text_gives_the_script_the_notebook_uses() -> None:
    script = drillbook.parse(HANDSHAKE.read_text())
    assert isinstance(script, Script)
    assert script.source.path == "<script>"
    assert len(script.events) == 16
    assert script.events[4].span.line == 5  # the SYN


def test_parse_a_path_as_str_or_pathlike() -> None:
    for given in (HANDSHAKE, str(HANDSHAKE)):
        script = drillbook.parse(given)
        assert script.source.path == str(HANDSHAKE)
        assert script.source.text == HANDSHAKE.read_text()


def test_keyword_flags_are_packetdrill_flags() -> None:
    text = HANDSHAKE.read_text().replace("listen(3, 1)", "listen(3, BACKLOG)")
    with pytest.raises(drillbook.ScriptSemanticError, match="BACKLOG"):
        drillbook.parse(text)  # checked as --dry_run checks: an unknown symbol
    script = drillbook.parse(text, define={"BACKLOG": 5})
    assert "5" in repr(script.events[3].action) and "BACKLOG" not in repr(script.events[3])


def test_flags_become_packetdrill_argv() -> None:
    argv = flags_to_argv({"tolerance_usecs": 10000, "strict_segments": True, "verbose": False,
                          "mtu": None, "define": {"A": "1", "B": 2}, "D": "C=3"})
    assert argv == ("--tolerance_usecs=10000", "--strict_segments", "-D", "A=1", "-D", "B=2",
                    "-D", "C=3")


def test_a_wrong_script_names_line_and_column() -> None:
    text = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0 0 0\n"
    with pytest.raises(drillbook.ScriptError) as caught:
        drillbook.parse(text)
    assert caught.value.render().startswith("<script>:2:")


def test_a_wrong_script_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pkt"
    bad.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0 0 0\n")
    with pytest.raises(drillbook.ScriptError) as caught:
        drillbook.parse(bad)
    assert caught.value.render().startswith(f"{bad}:2:")


@pytest.mark.parametrize(("given", "flags", "message"), [
    ("missing.pkt", {}, "missing.pkt: cannot read script: No such file or directory"),
    (str(HANDSHAKE), {"no_such_flag": 1}, "unrecognized option '--no_such_flag'"),
    (str(HANDSHAKE), {"tolerance_usecs": "soon"}, "bad --tolerance_usecs: soon"),
    (str(HANDSHAKE), {"define": 5}, "define=5: expected a mapping"),
    (str(HANDSHAKE), {"mtu": [1500]}, "flag mtu=[1500]: expected a string or a number"),
])
def test_bad_input_is_a_usage_error(given: str, flags: dict[str, object], message: str) -> None:
    with pytest.raises(drillbook.UsageError) as caught:
        drillbook.parse(given, **flags)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_a_directory_is_not_a_script(tmp_path: Path) -> None:
    with pytest.raises(drillbook.UsageError, match="it is a directory"):
        drillbook.parse(tmp_path)


def test_a_parsed_script_can_be_given_again() -> None:
    script = drillbook.parse(HANDSHAKE)
    again = drillbook.parse(script, tolerance_usecs=5000)
    assert again == script and again.source.path == str(HANDSHAKE)
    with pytest.raises(drillbook.UsageError, match="expected script text or a path, not int"):
        drillbook.parse(42)  # type: ignore[arg-type]
