"""Drawers against the seed-example traces: the artists must say what the trace says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from trace_fixtures import (
    handshake_trace,
    retransmit_trace,
    sack_mismatch_trace,
    sack_trace,
    timeout_trace,
    tso_trace,
    unexpected_trace,
)

from drillbook.render import (
    PALETTE,
    draw_sack,
    draw_sequence,
    draw_time_sequence,
    draw_window,
    figure_for,
    relevant_kinds,
    save_figure,
)
from drillbook.render.events import PacketStatus, unexpected_packets
from drillbook.trace.model import Direction, StepKind, Trace

RENDER_DIR = Path(__file__).resolve().parents[2] / "drillbook" / "render"


def axes() -> Axes:
    return Figure(figsize=(13, 8)).add_axes((0, 0, 1, 1))


def packet_steps(trace: Trace) -> int:
    return sum(1 for s in trace.steps if s.kind in (StepKind.INBOUND, StepKind.OUTBOUND))


@pytest.mark.parametrize("make", [handshake_trace, sack_trace, sack_mismatch_trace,
                                  timeout_trace, unexpected_trace, retransmit_trace])
def test_one_arrow_per_packet_step_and_unexpected_packet(make: object) -> None:
    trace = make()  # type: ignore[operator]
    art = draw_sequence(axes(), trace)
    assert len(art.arrows) == packet_steps(trace) + len(unexpected_packets(trace))
    for arrow in art.arrows:
        assert arrow.label.get_text() == arrow.packet.summary
    syscalls = [s for s in trace.steps if s.kind is StepKind.SYSCALL]
    assert len(art.boxes) == len(syscalls)


def test_arrow_labels_are_the_summaries_in_order() -> None:
    trace = sack_trace()
    art = draw_sequence(axes(), trace)
    assert [a.label.get_text() for a in art.arrows] == [p.summary for p in trace.packets]


def test_arrows_point_the_way_the_packet_went() -> None:
    art = draw_sequence(axes(), handshake_trace())
    for arrow in art.arrows:
        (x0, _), (x1, _) = arrow.arrow._posA_posB  # type: ignore[attr-defined]
        assert (x1 > x0) == (arrow.packet.direction is Direction.INBOUND)


def test_syscall_boxes_show_return_values() -> None:
    art = draw_sequence(axes(), handshake_trace())
    texts = [b.get_text() for b in art.boxes]
    assert "write(4, ..., 10) = 10" in texts
    assert "accept(3, ..., ...) = 4" in texts
    assert all(b.get_bbox_patch() is not None for b in art.boxes)


def test_states_and_times_are_printed() -> None:
    trace = handshake_trace()
    art = draw_sequence(axes(), trace)
    assert [t.get_text() for t in art.states][-3:] == ["→ CLOSE_WAIT", "→ LAST_ACK", "→ CLOSE"]
    assert len(art.times) == len(trace.steps)
    assert art.times[6].get_text() == "100.040 ms  L7"
    assert [label.get_text() for _, label in art.gaps] == ["⋯  +100 ms  ⋯", "⋯  +5 ms  ⋯"]


def test_rows_are_one_per_event_not_time_proportional() -> None:
    art = draw_sequence(axes(), sack_trace())
    ys = art.row_y
    assert len(ys) == len(art.rows) == 24
    assert all(b - a >= 0.999 for a, b in zip(ys, ys[1:], strict=False))
    # the SACK exchange's 16 packets within 0.2 ms get one row each: equal spacing
    assert {round(b - a, 6) for a, b in zip(ys[8:], ys[9:], strict=False)} == {1.0}


def test_mismatch_draws_a_ghost_and_names_the_field() -> None:
    trace = sack_mismatch_trace()
    ax = axes()
    art = draw_sequence(ax, trace)
    (ghost,) = art.ghosts
    assert ghost.packet.ack == 2001
    assert ghost.arrow.get_linestyle() != "-"
    assert ghost.arrow.get_alpha() is not None and ghost.arrow.get_alpha() < 1
    actual = art.arrows[-1]
    assert actual.status is PacketStatus.MISMATCH
    assert to_hex(actual.arrow.get_edgecolor()) == PALETTE.error.lower()
    assert any("tcp_ack differs" in m.get_text() for m in art.marks)
    legend = ax.get_legend()
    assert legend is not None
    assert {t.get_text() for t in legend.get_texts()} == {
        "inbound: injected by the peer (<)", "outbound: sent by the kernel (>)",
        "differs from the script", "what the script expected"}


def test_missing_and_unexpected_are_marked() -> None:
    art = draw_sequence(axes(), timeout_trace())
    statuses = [a.status for a in art.arrows]
    assert PacketStatus.MISSING in statuses and PacketStatus.UNEXPECTED in statuses
    notes = " ".join(m.get_text() for m in art.marks)
    assert "never sent" in notes and "not in the script" in notes
    unexpected = next(a for a in art.arrows if a.status is PacketStatus.UNEXPECTED)
    assert to_hex(unexpected.arrow.get_edgecolor()) == PALETTE.unexpected.lower()


def test_sack_bars_match_the_blocks_and_newest_stands_out() -> None:
    trace = sack_trace()
    art = draw_sack(axes(), trace)
    outbound_blocks = [b for p in trace.packets if p.direction is Direction.OUTBOUND
                       for b in p.sack_blocks]
    assert [bar.block for bar in art.blocks] == outbound_blocks
    for bar in art.blocks:
        assert (bar.patch.get_x(), bar.patch.get_x() + bar.patch.get_width()) == bar.block
    newest = {to_hex(b.patch.get_facecolor()) for b in art.blocks if b.newest}
    older = {to_hex(b.patch.get_facecolor()) for b in art.blocks if not b.newest}
    assert newest == {PALETTE.sack_newest.lower()} and older == {PALETTE.sack_older.lower()}
    assert [r.get_x() + r.get_width() for r in art.cumulative] == [1001] * 7 + [8001]
    assert [int(t.get_x()) for t in art.triggers] == [1, 2001, 4001, 5001, 7001, 3001, 6001,
                                                      1001]


def test_time_sequence_beams_acks_window_and_retransmission() -> None:
    trace = retransmit_trace()
    art = draw_time_sequence(axes(), trace)
    assert art.direction is Direction.OUTBOUND
    assert [(b.packet.seq, b.packet.end_seq) for b in art.segments] == [
        (1, 1001), (1001, 2001), (2001, 3001), (3001, 4001), (1001, 2001)]
    assert [b.retransmission for b in art.segments] == [False] * 4 + [True]
    assert [m.get_text() for m in art.retransmit_marks] == ["R"]
    vertical = art.segments[0].beam.get_segments()[0]
    assert [y for _, y in vertical] == [1, 1001]
    assert art.ack_line is not None and art.window_line is not None
    acks = list(art.ack_line.get_ydata())  # type: ignore[arg-type]
    wins = list(art.window_line.get_ydata())  # type: ignore[arg-type]
    assert acks[-2] == 5001 and wins[-2] == 5001 + (257 << 7)
    assert {s.block for s in art.sacks} == {(2001, 3001), (2001, 4001), (2001, 5001)}
    assert art.dup_acks is not None and art.zero_windows is None
    assert list(art.dup_acks.get_ydata()) == [1001, 1001, 1001]  # type: ignore[arg-type]


def test_time_sequence_inbound_for_the_sack_example() -> None:
    art = draw_time_sequence(axes(), sack_trace())
    assert art.direction is Direction.INBOUND
    assert len(art.segments) == 8 and not any(b.retransmission for b in art.segments)
    assert sum(s.newest for s in art.sacks) == 6


def test_window_plot_clips_infinite_ssthresh() -> None:
    trace = retransmit_trace()
    art = draw_window(axes(), trace)
    assert art.cwnd is not None and art.ssthresh is not None and art.cwnd_ax is not None
    cwnd = list(art.cwnd.get_ydata())  # type: ignore[arg-type]
    assert max(cwnd) == 10 and min(cwnd) == 7
    ss = list(art.ssthresh.get_ydata())  # type: ignore[arg-type]
    assert max(ss) < 100 and min(ss) == 7
    assert art.infinite_marks and "∞" in art.infinite_marks[0].get_text()
    assert {d for d, _ in art.advertised} == {Direction.INBOUND, Direction.OUTBOUND}


def test_relevant_kinds() -> None:
    assert relevant_kinds(sack_trace()) == ("sequence", "sack", "time-sequence", "window")
    assert relevant_kinds(handshake_trace()) == ("sequence", "time-sequence", "window")


def test_figure_for_and_save(tmp_path: Path) -> None:
    fig = figure_for(sack_trace())
    assert len(fig.axes) == 5  # four panels, the window plot with a second y axis
    png = save_figure(fig, tmp_path / "f.png", dpi=20)  # low resolution: the test stays fast
    svg = save_figure(figure_for(sack_trace(), ["sack"]), tmp_path / "f.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:500]
    with pytest.raises(ValueError, match="format"):
        save_figure(fig, tmp_path / "f.gif")
    with pytest.raises(ValueError, match="unknown figure kind"):
        figure_for(sack_trace(), ["ladder"])


def test_no_pyplot_in_render() -> None:
    for path in RENDER_DIR.glob("*.py"):
        assert "pyplot" not in path.read_text(), path


def test_import_drillbook_does_not_import_matplotlib() -> None:
    code = "import sys, drillbook; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_aggregate_arrow_names_its_wire_segments() -> None:
    from trace_fixtures import tso_trace

    trace = tso_trace()
    art = draw_sequence(axes(), trace)
    assert len(art.arrows) == packet_steps(trace)  # the two wire segments are not "unexpected"
    assert any(m.get_text() == "= 2 segments on the wire: 1:2001 2001:4001" for m in art.marks)
    assert not any("not in the script" in m.get_text() for m in art.marks)


def test_blocking_call_is_bracketed_until_it_returns() -> None:
    from dataclasses import replace

    trace = handshake_trace()
    steps = list(trace.steps)
    i = next(i for i, s in enumerate(steps) if s.syscall and s.syscall.name == "write")
    call = steps[i].syscall
    assert call is not None and steps[i].actual_us is not None
    returned = steps[i].actual_us + 5_070  # after the peer's FIN (row L12), before L13
    steps[i] = replace(steps[i], syscall=replace(call, blocking=True, return_us=returned))
    art = draw_sequence(axes(), replace(trace, steps=tuple(steps)))
    box = next(b for b in art.boxes if b.get_text().startswith("write"))
    assert box.get_text().endswith("(blocked, returned 5.1 ms later)")
    (bar,) = art.blocked
    top, bottom = bar.get_ydata()  # type: ignore[misc]
    rows = [r.line for r in art.rows]
    assert top == art.row_y[rows.index(9)] + 0.3
    assert bottom == art.row_y[rows.index(12)] + 0.5


@pytest.mark.parametrize("make", [handshake_trace, sack_trace, sack_mismatch_trace,
                                  timeout_trace, unexpected_trace, tso_trace])
def test_sequence_labels_do_not_overlap(make: object) -> None:
    from itertools import combinations

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    trace: Trace = make()  # type: ignore[operator]
    fig = figure_for(trace, ["sequence"])  # the size the diagram is laid out for
    renderer = FigureCanvasAgg(fig).get_renderer()
    art = draw_sequence(fig.axes[0], trace)  # drawn again on the same axes: same places
    texts = [a.label for a in (*art.arrows, *art.ghosts)]
    texts += [*art.boxes, *art.states, *art.times, *art.marks]
    boxes = [t.get_window_extent(renderer).shrunk(0.98, 0.9) for t in texts]
    clashes = [(a.get_text(), b.get_text()) for (a, ba), (b, bb)
               in combinations(zip(texts, boxes, strict=True), 2) if ba.overlaps(bb)]
    assert clashes == []


def test_empty_trace_draws_placeholders_without_warnings(tmp_path: Path) -> None:
    import warnings

    empty = Trace(script_path="x.pkt", script_text="", ip_mode="ipv4", steps=(), packets=())
    assert relevant_kinds(empty) == ("sequence",)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = figure_for(empty, ["sequence", "sack", "time-sequence", "window"])
        save_figure(fig, tmp_path / "empty.png", dpi=20)
    texts = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert {"no ACKs in this run", "no data segments in this run"} <= texts


def test_long_runs_show_their_start_and_the_failure() -> None:
    from dataclasses import replace

    from drillbook.trace.model import Failure, FailureKind

    trace = sack_trace()  # 24 events; pretend line 22 failed and allow 12 rows
    failure = Failure(kind=FailureKind.CODE, line=22, column=1, message="error in Python code",
                      details=("AssertionError: 18",))
    art = draw_sequence(axes(), replace(trace, failure=failure), max_rows=12)
    assert [r.line for r in art.rows] == [1, 2, 3, 4, 5, 6, 7, 8, 21, 22, 23, 24]
    assert [label.get_text() for _, label in art.gaps] == [
        "⋯  +100 ms  ⋯", "⋯  12 events not shown  ⋯"]
    assert any("AssertionError: 18" in m.get_text() for m in art.marks)
    short = draw_sequence(axes(), trace, max_rows=12)  # no failure: the first 12, then a band
    assert [r.line for r in short.rows] == list(range(1, 13))
    assert short.gaps[-1][1].get_text() == "⋯  12 events not shown  ⋯"


def test_non_fatal_mismatch_is_a_warning_with_its_ghost() -> None:
    from dataclasses import replace

    from drillbook.trace.model import Outcome

    failed = sack_mismatch_trace()
    steps = list(failed.steps)
    message = "live packet field tcp_ack: expected: 2001 vs actual: 8001"
    steps[-1] = replace(steps[-1], outcome=Outcome.WARNING, message=message)
    trace = replace(failed, steps=tuple(steps), failure=None, warnings=(message,))
    ax = axes()
    art = draw_sequence(ax, trace)
    assert art.arrows[-1].status is PacketStatus.WARNING and len(art.ghosts) == 1
    assert any(m.get_text().startswith("⚠ warning\nlive packet field tcp_ack")
               for m in art.marks)
    legend = ax.get_legend()
    assert legend is not None
    assert "differs (non-fatal: a warning)" in {t.get_text() for t in legend.get_texts()}
    assert ax.get_title(loc="left") == "sack.pkt: passed (1 warning)"
