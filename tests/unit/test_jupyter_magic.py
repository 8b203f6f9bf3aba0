"""%%drill's surface in a real in-process IPython shell: loading, help, options, %config.

Nothing here runs a script against the kernel (tests/kernel/test_jupyter*.py and
tests/notebooks/ do); these check what happens before a run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from drillbook.jupyter.cellargs import (
    FIGURE_KINDS,
    figure_kinds,
    packetdrill_argv,
    parse_duration_us,
)
from drillbook.jupyter.magic import Drill


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ip = InteractiveShell.instance()
    result = ip.run_cell("%load_ext drillbook")
    assert result.success
    return ip


def _drill(shell: InteractiveShell) -> Drill:
    return next(c for c in shell.configurables if isinstance(c, Drill))


def test_load_ext_registers_line_and_cell_magics(shell: InteractiveShell) -> None:
    assert shell.find_cell_magic("drill") is not None
    assert shell.find_line_magic("drill") is not None


def test_help_lists_the_options(shell: InteractiveShell) -> None:
    doc = shell.find_cell_magic("drill").__doc__
    for option in ("--tweak", "--explore", "--tolerance", "--pcap", "--out", "-D",
                   "--local_ip", "--strict_segments", "--figures"):
        assert option in doc


def test_unknown_option_is_refused(shell: InteractiveShell) -> None:
    result = shell.run_cell("%%drill --bogus\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert "--bogus" in str(result.error_in_exec)


def test_bad_tolerance_is_refused(shell: InteractiveShell) -> None:
    result = shell.run_cell("%%drill --tolerance 4\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert "unit" in str(result.error_in_exec)


def test_out_needs_a_name(shell: InteractiveShell) -> None:
    result = shell.run_cell("%%drill --out 1x\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
    assert isinstance(result.error_in_exec, UsageError)


def test_line_magic_needs_a_file(shell: InteractiveShell) -> None:
    result = shell.run_cell("%drill /nonexistent/x.pkt")
    assert isinstance(result.error_in_exec, UsageError)
    assert "cannot read" in str(result.error_in_exec)


def test_config_sets_defaults(shell: InteractiveShell) -> None:
    assert shell.run_cell("%config Drill.tolerance_usecs = 10000").success
    assert shell.run_cell("%config Drill.ip_version = 'ipv6'").success
    drill = _drill(shell)
    try:
        assert drill.tolerance_usecs == 10000
        assert drill._default_argv() == ("--ip_version=ipv6", "--tolerance_usecs=10000")
    finally:
        drill.tolerance_usecs = None
        drill.ip_version = ""


def _args(**given: object) -> argparse.Namespace:
    from drillbook.jupyter.cellargs import FLAG_OPTIONS, VALUE_OPTIONS

    values: dict[str, object] = {name: None for name, _k, _h in VALUE_OPTIONS}
    values.update({name: False for name, _h in FLAG_OPTIONS})
    values.update(ip=None, tolerance=None, define=None)
    values.update(given)
    return argparse.Namespace(**values)


def test_options_become_packetdrill_flags() -> None:
    argv = packetdrill_argv(
        _args(ip="ipv6", tolerance="10ms", define=["X=1", "CODE=host_unreachable"], mtu=1400,
              strict_segments=True, local_ip="10.0.0.1")
    )
    assert argv == (
        "--ip_version=ipv6", "--local_ip=10.0.0.1", "--mtu=1400", "--tolerance_usecs=10000",
        "--strict_segments", "-D", "X=1", "-D", "CODE=host_unreachable",
    )
    assert packetdrill_argv(_args(tolerance_usecs=2500)) == ("--tolerance_usecs=2500",)
    with pytest.raises(ValueError, match="SYMBOL=VALUE"):
        packetdrill_argv(_args(define=["X"]))


@pytest.mark.parametrize(
    ("text", "us"), [("4ms", 4000), ("500us", 500), ("0.01s", 10_000), (" 2.5 ms", 2500)]
)
def test_durations(text: str, us: int) -> None:
    assert parse_duration_us(text) == us


@pytest.mark.parametrize("text", ["4", "ms", "4 min", "-1ms"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration_us(text)


def test_figure_kinds() -> None:
    assert figure_kinds(None, False) is None
    assert figure_kinds("auto", False) is None
    assert figure_kinds("sequence, sack", False) == ("sequence", "sack")
    assert figure_kinds("timeseq,window", False) == ("time-sequence", "window")
    assert figure_kinds("sequence", True) == ()
    assert figure_kinds("none", False) == ()
    assert figure_kinds("all", False) == FIGURE_KINDS
    with pytest.raises(ValueError, match="unknown figure kind 'pie'"):
        figure_kinds("sequence,pie", False)


def test_figure_kinds_are_renders() -> None:
    from drillbook.render import KINDS

    assert FIGURE_KINDS == KINDS


def test_unknown_figure_kind_is_refused(shell: InteractiveShell) -> None:
    result = shell.run_cell("%%drill --figures pie\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
    assert type(result.error_in_exec) is UsageError


def test_usage_error_is_ipythons(shell: InteractiveShell) -> None:
    # IPython prints a UsageError's message without a traceback only for that exact class.
    result = shell.run_cell("%%drill --ip ipv5\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
    assert type(result.error_in_exec) is UsageError


def test_import_drillbook_stays_light() -> None:
    code = (
        "import sys, drillbook\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
