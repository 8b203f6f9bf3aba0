"""The differences between two runs of a tweaked script, as text (drillbook/jupyter/compare.py)."""

from __future__ import annotations

from dataclasses import replace

from trace_fixtures import handshake_trace, sack_trace

from drillbook.jupyter.compare import ChangeKind, kernel_packet_changes, run_differences
from drillbook.trace.model import Direction


def test_the_same_run_twice_has_no_differences() -> None:
    assert kernel_packet_changes(sack_trace(), sack_trace()) == ()
    lines = run_differences(sack_trace(), sack_trace(), "PASS a", "PASS b")
    assert lines[:2] == ("previous run: PASS a", "this run:     PASS b")
    assert "the same" in lines[-1]


def test_timestamp_values_are_not_differences() -> None:
    trace = handshake_trace()
    stamped = replace(trace, packets=tuple(
        replace(p, summary=p.summary + " <TS val 1 ecr 2>") for p in trace.packets))
    restamped = replace(trace, packets=tuple(
        replace(p, summary=p.summary + " <TS val 7 ecr 9>") for p in trace.packets))
    assert kernel_packet_changes(stamped, restamped) == ()


def test_changed_appeared_and_disappeared_kernel_packets() -> None:
    before = sack_trace()
    outbound = [i for i, p in enumerate(before.packets) if p.direction is Direction.OUTBOUND]
    packets = list(before.packets)
    changed = packets[outbound[1]]
    packets[outbound[1]] = replace(changed, summary=changed.summary + " <nop>")
    del packets[outbound[-1]]
    after = replace(before, packets=tuple(packets))
    changes = kernel_packet_changes(before, after)
    assert [c.kind for c in changes] == [ChangeKind.CHANGED, ChangeKind.DISAPPEARED]
    text = "\n".join(run_differences(before, after, "PASS", "PASS"))
    assert "changed:" in text and "was:" in text and "disappeared:" in text
    appeared = kernel_packet_changes(after, before)
    assert ChangeKind.APPEARED in [c.kind for c in appeared]
