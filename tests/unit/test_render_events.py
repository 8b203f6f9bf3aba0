"""Pure row/flow logic behind the figures (no matplotlib drawing)."""

from __future__ import annotations

from trace_fixtures import (
    handshake_trace,
    retransmit_trace,
    sack_mismatch_trace,
    sack_trace,
    timeout_trace,
    unexpected_trace,
)

from drillbook.render.events import (
    PacketStatus,
    format_gap,
    format_time,
    sequence_rows,
    time_gaps,
    unexpected_packets,
)
from drillbook.render.flows import (
    data_direction,
    data_segments,
    retransmitted,
    sack_direction,
    scaled_window,
    window_shift,
)
from drillbook.render.sack import ack_rows
from drillbook.trace.model import Direction, StepKind


def test_rows_follow_steps_in_order_and_pass_clean() -> None:
    trace = handshake_trace()
    rows = sequence_rows(trace)
    assert [r.step for r in rows] == list(trace.steps)
    assert {r.status for r in rows} == {PacketStatus.OK}
    assert unexpected_packets(trace) == ()


def test_state_changes_are_marked_once_each() -> None:
    states = [r.state for r in sequence_rows(handshake_trace()) if r.state]
    assert states == ["CLOSE", "LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK",
                      "CLOSE"]


def test_gaps_find_the_100ms_and_5ms_pauses() -> None:
    rows = sequence_rows(handshake_trace())
    gaps = time_gaps(rows, 1000)
    assert [format_gap(g.gap_us) for g in gaps] == ["+100 ms", "+5 ms"]
    assert rows[gaps[0].after_row].time_us == 71
    assert time_gaps(rows, 200_000) == ()


def test_mismatch_row_carries_expected_as_ghost() -> None:
    trace = sack_mismatch_trace()
    row = sequence_rows(trace)[-1]
    assert row.status is PacketStatus.MISMATCH
    assert row.ghost is not None and row.ghost.ack == 2001
    assert row.packet is not None and row.packet.ack == 8001


def test_timeout_is_missing_and_stray_packet_is_unexpected() -> None:
    trace = timeout_trace()
    rows = sequence_rows(trace)
    statuses = [r.status for r in rows if r.is_packet]
    assert statuses.count(PacketStatus.MISSING) == 1
    assert statuses.count(PacketStatus.UNEXPECTED) == 1
    assert statuses.count(PacketStatus.NOT_RUN) == 2
    missing = statuses.index(PacketStatus.MISSING)
    assert statuses[missing + 1] is PacketStatus.UNEXPECTED  # merged in by time


def test_unexpected_packet_after_the_last_line() -> None:
    trace = unexpected_trace()
    (extra,) = unexpected_packets(trace)
    rows = sequence_rows(trace)
    assert rows[-1].packet == extra and rows[-1].step is None


def test_formats() -> None:
    assert format_time(100_052) == "100.052 ms"
    assert format_time(None) == "—"
    assert format_gap(250) == "+250 µs"
    assert format_gap(1_500_000) == "+1.5 s"


def test_sack_rows_pair_each_ack_with_the_segment_that_caused_it() -> None:
    trace = sack_trace()
    assert sack_direction(trace) is Direction.OUTBOUND
    rows = ack_rows(trace)
    assert len(rows) == 8
    arrivals = [(r.trigger.seq - 1) // 1000 + 1 for r in rows if r.trigger is not None]
    assert arrivals == [1, 3, 5, 6, 8, 4, 7, 2]
    assert rows[4].blocks == ((7001, 8001), (4001, 6001), (2001, 3001))
    assert rows[-1].ack == 8001 and rows[-1].blocks == ()


def test_data_direction_and_retransmissions() -> None:
    assert data_direction(sack_trace()) is Direction.INBOUND
    trace = retransmit_trace()
    assert data_direction(trace) is Direction.OUTBOUND
    segs = data_segments(trace, Direction.OUTBOUND)
    flags = retransmitted(segs)
    assert [(s.seq, f) for s, f in zip(segs, flags, strict=True) if f] == [(1001, True)]


def test_window_scaling_needs_both_syns() -> None:
    trace = retransmit_trace()
    assert window_shift(trace, Direction.INBOUND) == 7
    assert window_shift(trace, Direction.OUTBOUND) == 7
    assert window_shift(sack_trace(), Direction.INBOUND) == 0
    syn = next(s.actual for s in trace.steps if s.kind is StepKind.INBOUND)
    assert syn is not None and scaled_window(syn, 7) == 32792  # a SYN's window is not scaled


def test_aggregated_match_owns_its_wire_segments() -> None:
    from trace_fixtures import tso_trace

    from drillbook.render.events import aggregate_parts

    trace = tso_trace()
    parts = aggregate_parts(trace)
    (index,) = parts
    assert [(p.seq, p.end_seq) for p in parts[index]] == [(1, 2001), (2001, 4001)]
    assert unexpected_packets(trace) == ()
    row = next(r for r in sequence_rows(trace) if r.parts)
    assert row.packet is not None and row.packet.summary.startswith("P. 1:4001(4000)")


def test_packet_step_without_records_gets_a_stand_in() -> None:
    from dataclasses import replace

    from drillbook.trace.model import Outcome

    trace = handshake_trace()
    steps = list(trace.steps)
    last = steps[-1]
    steps[-1] = replace(last, expected=None, actual=None, outcome=Outcome.FAILED,
                        text="+0 < . 2:2(0) ack 12 win 4000")
    never_sent = tuple(p for p in trace.packets if p != last.actual)
    rows = sequence_rows(replace(trace, steps=tuple(steps), packets=never_sent))
    assert rows[-1].packet is not None
    assert rows[-1].packet.summary == ". 2:2(0) ack 12 win 4000"
    assert rows[-1].packet.direction is Direction.INBOUND
    assert rows[-1].status is PacketStatus.MISSING
