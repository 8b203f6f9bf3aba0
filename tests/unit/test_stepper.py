"""The stepper without a browser: the socket at each row (pure), where each row is drawn, and
the page (one precomputed panel per row, nothing fetched)."""

from __future__ import annotations

import re
from dataclasses import replace

from trace_fixtures import retransmit_trace, sack_trace, timeout_trace

from drillbook.lessons.offline import network_resources
from drillbook.render.events import sequence_rows
from drillbook.render.figure import WIDTH_IN
from drillbook.render.row_boxes import sequence_image
from drillbook.stepper import stepper_for
from drillbook.stepper.model import step_views
from drillbook.trace.kernel import Cause, CounterDelta, CounterSample, Explanation


def test_the_send_scoreboard_follows_sacks_and_the_cumulative_ack() -> None:
    trace = retransmit_trace()
    views = step_views(trace, sequence_rows(trace))
    by_event = {v.event: v for v in views}
    sent = by_event["> P. 3001:4001(1000) ack 1"]
    assert sent.bytes_outstanding == 4000 and sent.bytes_in_flight == 4000
    assert sent.send_scoreboard is not None and sent.send_scoreboard.blocks == ()
    sacked = by_event["< . 1:1(0) ack 1001 win 257 <nop,nop,sack 2001:5001>"]
    board = sacked.send_scoreboard
    assert board is not None and (board.left, board.right) == (1001, 4001)
    assert board.blocks == ((2001, 4001),)  # the peer's 2001:5001, clipped to what was sent
    assert sacked.bytes_outstanding == 3000 and sacked.bytes_in_flight == 1000
    assert sacked.socket is not None and sacked.socket.cwnd == 7 and sacked.socket.ssthresh == "7"
    done = views[-1]
    assert done.bytes_outstanding == 0 and done.send_scoreboard is None


def test_the_receive_scoreboard_is_the_kernels_own_sack_blocks() -> None:
    trace = sack_trace()
    views = step_views(trace, sequence_rows(trace))
    fifth = [v for v in views if "sack 7001:8001 4001:6001 2001:3001" in v.event][0]
    board = fifth.receive_scoreboard
    assert board is not None and board.left == 1001 and board.right == 8001
    assert board.blocks == ((2001, 3001), (4001, 6001), (7001, 8001))
    assert views[-1].receive_scoreboard is None  # all in order at last
    first = views[0]
    assert first.socket is not None and first.socket.state == "CLOSE"
    assert first.socket.ssthresh == "∞"


def test_a_row_without_a_snapshot_keeps_the_previous_one() -> None:
    trace = timeout_trace()
    views = step_views(trace, sequence_rows(trace))
    last = views[-1]
    assert last.socket is not None
    assert last.snapshot_line is not None and last.snapshot_line != last.line


def test_counters_and_explanations_belong_to_their_step() -> None:
    trace = retransmit_trace()
    retransmission = next(s for s in trace.steps if s.text.startswith("> . 1001:2001"))
    sample = CounterSample(after_step=retransmission.index, time_us=20_170,
                           deltas=(CounterDelta("TcpExt.TCPFastRetrans", 1),
                                   CounterDelta("TcpExt.TCPTimeouts", 0)))
    why = Explanation(kind="retransmission", line=retransmission.line,
                      step_index=retransmission.index, time_us=20_160,
                      sentence="three duplicate ACKs with SACK", cause=Cause.FAST_RETRANSMIT)
    trace = replace(trace, counter_samples=(
        CounterSample(after_step=retransmission.index - 2, time_us=0, deltas=()), sample),
        explanations=(why,))
    views = step_views(trace, sequence_rows(trace))
    view = next(v for v in views if v.line == retransmission.line)
    assert view.counters == (CounterDelta("TcpExt.TCPFastRetrans", 1),)  # zeros left out
    assert view.counters_since_line == retransmission.line - 1
    assert view.explanations == (why,)
    assert all(v.explanations == () for v in views if v is not view)


def test_row_boxes_lie_on_the_figure_in_row_order() -> None:
    trace = sack_trace()
    image = sequence_image(trace)
    assert len(image.boxes) == len(image.artists.rows) == len(sequence_rows(trace))
    tops = [box.top for box in image.boxes]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)
    for box in image.boxes:
        assert box.left >= 0 and box.left + box.width <= 1.0001
        assert box.top > 0 and box.top + box.height < 1
        assert 0 < box.height < 0.1
    assert image.mime == "image/svg+xml" and image.width_px == WIDTH_IN * 96


def test_the_page_has_a_panel_per_row_and_fetches_nothing() -> None:
    trace = sack_trace()
    stepper = stepper_for(trace)
    page = stepper.html
    sections = re.findall(r'<section data-index="(\d+)" data-box="([^"]+)"( hidden)?>', page)
    assert [int(i) for i, _, _ in sections] == list(range(stepper.events))
    assert [hidden for _, _, hidden in sections].count("") == 1  # only the first is shown
    assert network_resources(page) == []
    assert 'data-lm-suppress-shortcuts="true"' in page
    assert "ESTABLISHED" in page and "data:image/svg+xml;base64," in page
    assert re.search(r"<script>.*</script></div>$", page, re.S)
