"""%{ }% blocks: snapshots of a real loopback connection, run once at the end like packetdrill."""

from __future__ import annotations

import pytest
from test_syscalls_netns import in_netns, loopback_executor, needs_netns
from test_syscalls_netns import server_client_pair as pair

from drillbook.runtime.loop.code import CodeRecorder, CodeResult
from drillbook.runtime.syscalls.tcpinfo import SockoptReadError
from drillbook.script.model import CodeBlock

pytestmark = [pytest.mark.kernel, needs_netns]


def _record(blocks: list[tuple[int, str]]) -> CodeResult:
    def scenario() -> CodeResult:
        executor = loopback_executor()
        pair(executor)
        live = executor.live_fd(5)
        assert live is not None
        recorder = CodeRecorder()
        for line, text in blocks:
            recorder.snapshot(CodeBlock(text), line, executor.code_snapshot(live))
        return recorder.run("demo.pkt")

    result: CodeResult = in_netns(scenario)
    return result


def test_passing_blocks_share_variables_and_print() -> None:
    result = _record([
        (10, "assert tcpi_state == TCP_ESTABLISHED, tcpi_state\nseen = tcpi_snd_mss"),
        (12, "assert seen > 1000\nprint('mss', seen, 'ca', tcpi_ca_state == TCP_CA_Open)"),
        (13, "assert SK_MEMINFO_RCVBUF > 0 and tcpi_options & TCPI_OPT_SACK"),
    ])
    assert result.ok, result.error
    assert result.error is None
    assert result.output.startswith("mss ") and result.output.strip().endswith("ca True")


def test_failing_block_reports_its_line_like_packetdrill() -> None:
    result = _record([
        (10, "assert tcpi_state == TCP_ESTABLISHED"),
        (51, "assert tcpi_snd_cwnd == 12345, tcpi_snd_cwnd"),
        (60, "print('never')"),
    ])
    assert not result.ok
    assert result.error is not None
    lines = result.error.splitlines()
    # packetdrill's line (the block's), then the failing statement at its script line
    assert lines[0].startswith("demo.pkt:51: error in Python code: line 51: "
                               "assert tcpi_snd_cwnd == 12345, tcpi_snd_cwnd raised "
                               "AssertionError: ")
    assert 'File "demo.pkt", line 51, in <module>' in result.error  # the traceback below
    assert "code.py" not in result.error
    assert lines[-1] == "demo.pkt: error executing code: 'python3' returned non-zero status 1"
    assert result.first_error_line == 51
    assert "never" not in result.output


def test_snapshot_of_a_non_tcp_fd_fails_with_packetdrill_wording() -> None:
    def scenario() -> str:
        import os

        read_end, write_end = os.pipe()
        try:
            loopback_executor().code_snapshot(read_end)
        except SockoptReadError as error:
            return str(error)
        finally:
            os.close(read_end)
            os.close(write_end)
        return "no error"

    assert in_netns(scenario) == "can't find getsockopt to get TCP info"


def test_no_blocks_runs_nothing() -> None:
    result = CodeRecorder().run("x.pkt", code_command="false")
    assert result.ok and result.output == ""


def test_code_command_is_used() -> None:
    recorder = CodeRecorder()
    recorder.snapshot(CodeBlock("print(tcpi_state)"), 3, {"tcpi_state": 1})
    result = recorder.run("x.pkt", code_command="exit 3; python3")
    assert not result.ok
    assert result.error == (
        "x.pkt: error executing code: 'exit 3; python3' returned non-zero status 3"
    )


def test_source_layout() -> None:
    recorder = CodeRecorder()
    recorder.snapshot(CodeBlock("assert x == 1"), 7, {"x": 1})
    source = recorder.source("a.pkt")
    assert "sys.excepthook = excepthook" in source
    assert "TCP_ESTABLISHED = 1\n" in source and "TCPI_OPT_SYN_DATA = 32\n" in source
    assert source.endswith("x = 1\n\n_file = 'a.pkt'\n_line = 7\nassert x == 1\n\n")
