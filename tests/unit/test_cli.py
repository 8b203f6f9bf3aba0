"""The command line: packetdrill's flags, subcommand dispatch, and hostile inputs (never a
traceback, always exit 2 for the user's mistake)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drillbook.cli import main
from drillbook.config import IpMode, RunConfig
from drillbook.errors import ScriptSemanticError, ScriptSyntaxError, UsageError
from drillbook.options import ArgvFlags, build_config, parse_argv
from drillbook.parser import parse_header_options
from drillbook.script.model import HeaderOption

PROJECT = Path(__file__).resolve().parents[2]
GOOD = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n"


# ---------------------------------------------------------------- flags


def test_every_flag_spelling() -> None:
    argv = [
        "--ip_version=ipv6", "--bind_port", "9090", "--connect_port=9091", "--local_ip=fd::1",
        "--remote_ip=fd::2/64", "--gateway_ip=fd::3", "--netmask_ip=255.0.0.0", "--mtu=1520",
        "--speed=100", "--mss=1000", "--tolerance_usecs=6000", "--tolerance_percent=5.5",
        "--tcp_ts_ecr_scaled", "--tcp_ts_tick_usecs=1000", "--strict_segments",
        "--non_fatal=packet,syscall", "--init_scripts=a.sh,b.sh", "--code_command=python3 -u",
        "--code_format=python", "--code_sockopt=TCP_INFO", "-D", "A=1", "-DB=x",
        "--define=C=\"s\"", "--dry_run", "-v", "--debug", "--debug", "--send_omit_free",
        "--is_anyip", "--psp_udp_port=1000", "--so_filename=x.so", "--so_flags=f",
        "--wire_server_port=8081", "x.pkt", "y.pkt",
    ]
    flags = parse_argv(argv)
    assert flags.scripts == ("x.pkt", "y.pkt")
    config = build_config((), flags)
    assert config.ip_mode is IpMode.IPV6
    assert (config.bind_port, config.connect_port) == (9090, 9091)
    assert (config.local_ip, config.remote_ip, config.gateway_ip) == ("fd::1", "fd::2/64", "fd::3")
    assert (config.netmask_ip, config.mtu, config.speed, config.mss) == ("255.0.0.0", 1520, 100,
                                                                         1000)
    assert (config.tolerance_usecs, config.tolerance_percent) == (6000, 5.5)
    assert config.tcp_ts_ecr_scaled and config.tcp_ts_tick_usecs == 1000
    assert config.strict_segments and config.non_fatal_packet and config.non_fatal_syscall
    assert config.init_scripts == ("a.sh", "b.sh")
    assert (config.code_command, config.code_format, config.code_sockopt) == (
        "python3 -u", "python", "TCP_INFO")
    assert config.define_map == {"A": "1", "B": "x", "C": '"s"'}
    assert config.dry_run and config.verbose and config.debug == 2
    assert config.send_omit_free and config.is_anyip and config.psp_udp_port == 1000
    assert dict(config.extra) == {"so_filename": "x.so", "so_flags": "f",
                                  "wire_server_port": "8081"}


def test_command_line_wins_over_the_script_header() -> None:
    header = parse_header_options("--tolerance_usecs=10000\n--mtu=1400\n--define=X=1\n0 `x`\n")
    config = build_config(header, parse_argv(["--mtu=1500", "-D", "X=2"]))
    assert (config.tolerance_usecs, config.mtu, config.define_map) == (10000, 1500, {"X": "2"})
    # raw strings are accepted too (the form other modules use)
    assert build_config(header, ["--mtu", "1300"]).mtu == 1300


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tolerance_usecs=0"], "Command Line: bad --tolerance_usecs: 0"),
        (["--tolerance_percent=101"], "Command Line: bad --tolerance_percent: 101"),
        (["--ip_version=ipv5"], "Command Line: bad --ip_version: ipv5"),
        (["--bind_port=70000"], "Command Line: bad --bind_port: 70000"),
        (["--mss=0"], "Command Line: bad --mss: 0"),
        (["--tcp_ts_tick_usecs=2000000"], "Command Line: bad --tcp_ts_tick_usecs: 2000000"),
        (["-D", "=1"], "Command Line: bad definition: =1"),
        (["-D", "X"], "Command Line: bad definition: X"),
    ],
)
def test_bad_values_use_packetdrills_words(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        build_config((), parse_argv(argv))
    assert str(info.value) == message


def test_unknown_flags_are_named() -> None:
    with pytest.raises(UsageError, match="--nope"):
        parse_argv(["--nope", "x.pkt"])
    with pytest.raises(UsageError, match="'q'"):
        parse_argv(["-q"])
    with pytest.raises(UsageError, match="requires an argument"):
        parse_argv(["--mtu"])
    assert parse_argv(["--tolerance_u=5"]).flags == (HeaderOption("tolerance_usecs", "5"),)


def test_header_define_and_ip_version_reach_the_body() -> None:
    from drillbook.parser import parse_with_flags

    text = "--define=C=frag_needed\n--ip_version=ipv6\n0 < icmp packet_too_big mtu 1400\n"
    script, config = parse_with_flags(text, "h.pkt", ["-D", "C=x"])
    assert config.ip_mode is IpMode.IPV6 and config.define_map == {"C": "x"}
    assert script.events[0].line == 3


def test_header_option_errors_point_at_the_line() -> None:
    header = parse_header_options("\n--nope=1\n0 `x`\n")
    with pytest.raises(ScriptSemanticError) as info:
        build_config(header, ArgvFlags())
    assert info.value.span.line == 2 and "option 'nope' unknown" in info.value.message


def test_defaults_are_packetdrills() -> None:
    assert build_config((), ArgvFlags()) == RunConfig()


# ---------------------------------------------------------------- dispatch


def test_help_and_dispatch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "exit status" in out and "run" in out
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    assert main(["run", "--help"]) == 0
    assert "--tolerance_usecs" in capsys.readouterr().out
    assert main(["run", "--dry_run"]) == 2
    assert "no script" in capsys.readouterr().err
    script = tmp_path / "ok.pkt"
    script.write_text(GOOD)
    assert main(["--dry_run", str(script)]) == 0
    assert main(["run", "--dry_run", str(script), str(script)]) == 0


def test_missing_subcommand_module(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installation without a command's module says so instead of a traceback (None in
    sys.modules makes the import fail the way a missing module does)."""
    monkeypatch.setitem(sys.modules, "drillbook.commands.export", None)
    assert main(["export"]) == 2
    assert "not available" in capsys.readouterr().err


# ---------------------------------------------------------------- hostile inputs

HOSTILE: dict[str, bytes] = {
    "binary": bytes(range(256)) * 40,
    "invalid_utf8": b"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3 // \xff\xfe\n+0 \xc3\x28\n",
    "long_line": b'0 write(3, "' + b"a" * 200_000 + b'", 1) = 1 ? ' + b"x" * 1000 + b"\n",
    "huge_token": b'0 "' + b"b" * 200_000 + b'"\n',
    "assignment_chain": b"0 f(" + b"A=" * 50_000 + b"1) = 1\n",
    "many_tokens": b"0 write(3, ..., " + b"1|" * 10_000 + b"?) = 1\n",
    "nested": b"0 write(3, " + b"[" * 5000 + b"1" + b"]" * 5000 + b", 1) = 1\n",
    "nested_braces": b"0 f(" + b"{" * 5000 + b"\n",
    "empty": b"",
    "blank": b"  \n\t\n// only a comment\n",
    "nul": b"0 close(3) = 0\x00\n",
    "unclosed_comment": b"/* " + b"*" * 10_000,
    "backslashes": b'0 f("' + b"\\" * 50_000 + b"\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_are_script_errors(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / f"{name}.pkt"
    script.write_bytes(HOSTILE[name])
    assert main(["--dry_run", str(script)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{script}:")
    assert "Traceback" not in err
    assert len(err) < 2000  # a long line is shown as a window around the caret


@pytest.mark.parametrize("target", ["missing.pkt", "a_dir"])
def test_unreadable_paths(target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a_dir").mkdir()
    assert main(["run", "--dry_run", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert "cannot read script" in err and "Traceback" not in err


def test_a_long_or_chain_parses_and_prints(tmp_path: Path) -> None:
    from drillbook.parser import parse_script
    from drillbook.script.printer import format_script

    text = "0 write(3, ..., " + "1|" * 1000 + "1) = 1\n"
    printed = format_script(parse_script(text))
    assert printed.count("|") == 1000
    with pytest.raises(ScriptSyntaxError, match="expression too long"):
        parse_script("0 write(3, ..., " + "1|" * 1001 + "1) = 1\n")


def test_hostile_input_through_the_real_cli(tmp_path: Path) -> None:
    script = tmp_path / "nested.pkt"
    script.write_bytes(HOSTILE["nested"])
    result = subprocess.run(
        [sys.executable, "-m", "drillbook", "run", "--dry_run", str(script)],
        capture_output=True, text=True, cwd=PROJECT, timeout=60,
    )
    assert result.returncode == 2
    assert "nested too deeply" in result.stderr and "Traceback" not in result.stderr


def test_run_help_and_the_cell_options_come_from_the_one_flag_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    from drillbook.jupyter.cellargs import FLAG_OPTIONS, VALUE_OPTIONS
    from drillbook.options import FLAGS

    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(f"--{name}" in text for name in FLAGS)
    offered = [name for name, *_ in VALUE_OPTIONS] + [name for name, _ in FLAG_OPTIONS]
    assert set(offered) <= set(FLAGS) and "tolerance_usecs" in offered


# ---------------------------------------------------------------- Ctrl-C at any point

# A Ctrl-C can land while a dataclass or named tuple is being built (during an import): the
# interrupt then leaves code that ``exec`` ran from a string, and lands in a class body's
# __set_name__ wrapped in a RuntimeError (Python 3.11). Either way the command says
# "interrupted" and exits 130, not -2 (CPython's unhandled-interrupt mark) or 3 (a "bug").
INTERRUPTED_IN = {
    "exec": "exec('raise KeyboardInterrupt', {})",
    "__set_name__": (
        "exec('class D:\\n def __set_name__(self, owner, name): raise KeyboardInterrupt\\n"
        "class C:\\n x = D()', {})"
    ),
}


@pytest.mark.parametrize("where", sorted(INTERRUPTED_IN))
def test_an_interrupt_anywhere_exits_130(where: str, tmp_path: Path) -> None:
    script = tmp_path / "x.pkt"
    script.write_text(GOOD)
    # Run as ``python -m``, as the command is: with ``-c`` CPython exits through another path
    # that ignores its mark.
    (tmp_path / "interrupted_cli.py").write_text(
        "import sys\n"
        "import drillbook.cli as cli\n"
        f"cli._dispatch = lambda name, argv: {INTERRUPTED_IN[where]}\n"
        f"sys.exit(cli.main(['run', {str(script)!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PROJECT)])}
    done = subprocess.run([sys.executable, "-m", "interrupted_cli"], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr.strip()) == (130, "drillbook: interrupted")
