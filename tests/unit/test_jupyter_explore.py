"""Explore mode's rewrite and the verdict banner, on the seed SACK script and hand-built traces.

The traces come from tests/unit/trace_fixtures.py (they mirror real runs of the seed
examples); the script is the seed text parsed by drillbook's parser.
"""

from __future__ import annotations

from dataclasses import replace

from seed_scripts import SACK
from trace_fixtures import OUT, packet, sack_mismatch_trace, sack_trace

from drillbook.config import RunConfig
from drillbook.jupyter.explore import observed_tcp_spec, rewrite_script
from drillbook.jupyter.verdict import VerdictKind, explore_differences, verdict_for
from drillbook.parser import parse_script
from drillbook.script.model import PacketSpec, Script, TcpSpec, TimeKind
from drillbook.trace.model import Outcome, Step, Trace


def _script() -> Script:
    return parse_script(SACK, path="cell")


def _tcp(script: Script, index: int) -> TcpSpec:
    action = script.events[index].action
    assert isinstance(action, PacketSpec) and isinstance(action.body, TcpSpec)
    return action.body


def _explored(trace: Trace, index: int, actual_sack: str | None, time_us: int) -> Trace:
    """``trace`` as explore mode would record it if the kernel answered event ``index``
    with a different SACK block at ``time_us``."""
    steps = list(trace.steps)
    options = ("nop", "nop", actual_sack) if actual_sack else ()
    actual = packet(OUT, time_us, ".", 1, 1, ack=1001, win=62, options=options)
    steps[index] = replace(steps[index], actual=actual, outcome=Outcome.WARNING)
    packets = tuple(p for p in trace.packets if p != trace.steps[index].actual) + (actual,)
    return replace(trace, steps=tuple(steps), packets=tuple(sorted(packets,
                                                                    key=lambda p: p.time_us)))


def test_rewrite_of_a_matching_run_changes_only_win_and_nothing_else() -> None:
    script = _script()
    rewritten = rewrite_script(script, sack_trace(), RunConfig())
    assert len(rewritten.events) == len(script.events)
    for index, (old, new) in enumerate(zip(script.events, rewritten.events, strict=True)):
        assert new.time == old.time
        if isinstance(old.action, PacketSpec) and old.action.direction.value == ">":
            assert _tcp(rewritten, index).window is None
            assert _tcp(rewritten, index).ack == _tcp(script, index).ack
        else:
            assert new.action == old.action  # inbound lines and syscalls as written


def test_rewrite_takes_the_kernels_packet() -> None:
    script = _script()
    trace = _explored(sack_trace(), 11, "sack 2001:2501", 100_150)
    body = _tcp(rewrite_script(script, trace, RunConfig()), 11)
    assert body.options is not None
    assert [o.kind for o in body.options] == ["nop", "nop", "sack"]
    assert body.options[2].blocks == ((2001, 2501),)
    assert body.window is None and body.ack == 1001


def test_rewrite_moves_a_late_packet_and_keeps_an_on_time_one() -> None:
    script = _script()
    on_time = _explored(sack_trace(), 11, None, 100_130)
    assert rewrite_script(script, on_time, RunConfig()).events[11].time.start_us == 0
    late = _explored(sack_trace(), 11, None, 140_115)  # a delayed ACK, 40 ms later
    moved = rewrite_script(script, late, RunConfig()).events[11].time
    assert moved.kind is TimeKind.RELATIVE and moved.start_us == 40_000


def test_rewrite_drops_unanswered_lines_and_adds_grace_packets() -> None:
    script = _script()
    trace = sack_trace()
    steps = list(trace.steps)
    last = steps[23]
    assert last.actual is not None
    steps[23] = replace(last, actual=None, outcome=Outcome.WARNING)
    late = packet(OUT, last.actual.time_us + 40_000, ".", 1, 1, ack=8001, win=63)
    packets = tuple(p for p in trace.packets if p != last.actual) + (late,)
    explored = replace(trace, steps=tuple(steps), packets=packets)
    rewritten = rewrite_script(script, explored, RunConfig())
    assert len(rewritten.events) == len(script.events)  # one dropped, one added
    added = rewritten.events[-1]
    assert added.time.kind is TimeKind.RELATIVE and added.time.start_us == 40_000
    assert _tcp(rewritten, 23).ack == 8001
    assert "extra at 0.140" in "\n".join(explore_differences(explored))


def test_packets_after_the_grace_period_are_not_the_scripts() -> None:
    trace = sack_trace()
    last = trace.steps[-1].actual
    assert last is not None
    # A challenge ACK to the run's clean-up RST, 500 ms after the end: not part of the answer.
    cleanup = packet(OUT, last.time_us + 500_000, ".", 1, 1, ack=8001, win=63)
    explored = replace(trace, packets=(*trace.packets, cleanup))
    script = _script()
    assert len(rewrite_script(script, explored, RunConfig(), 300_000).events) == 24
    assert len(rewrite_script(script, explored, RunConfig()).events) == 25
    assert explore_differences(explored, grace_us=300_000) == ()


def test_observed_spec_keeps_any_options() -> None:
    written = TcpSpec("S.", 0, 0, 0, ack=1, any_options=True)
    actual = packet(OUT, 5, "S.", 0, 0, ack=1, win=64240, options=("mss 1460",))
    spec = observed_tcp_spec(actual, written)
    assert spec.any_options and spec.options is None and spec.window is None


def test_pass_verdict() -> None:
    verdict = verdict_for(_script(), sack_trace())
    assert verdict.status is VerdictKind.PASS
    assert verdict.headline.startswith("PASS cell (24 events")
    assert "drillbook-pass" in verdict.html()


def test_failure_verdict_names_line_column_and_carets_the_line() -> None:
    script = _script()
    verdict = verdict_for(script, sack_mismatch_trace())
    assert verdict.status is VerdictKind.FAIL
    assert verdict.headline == (
        "FAIL cell:24:1: error handling packet: live packet field tcp_ack: "
        "expected: 2001 vs actual: 8001"
    )
    line, caret = verdict.body[0], verdict.body[1]
    assert line == script.source.line_text(24)
    assert caret.startswith("^") and set(caret) == {"^"}
    assert verdict.body[2].startswith("script packet:")
    assert verdict.body[3].startswith("actual packet:")


def test_explore_verdict_lists_differences() -> None:
    trace = _explored(sack_trace(), 11, "sack 2001:2501", 100_150)
    verdict = verdict_for(_script(), trace, explore=True)
    assert verdict.status is VerdictKind.EXPLORE
    assert any("line 12: script:" in line for line in verdict.body)
    assert any("kernel: > . 1:1(0) ack 1001 win 62 <nop,nop,sack 2001:2501>" in line
               for line in verdict.body)


def test_steps_have_event_indices() -> None:
    # The rewrite maps steps to events by index; the fixtures follow the engine's numbering.
    assert all(isinstance(step, Step) and step.index == i
               for i, step in enumerate(sack_trace().steps))
