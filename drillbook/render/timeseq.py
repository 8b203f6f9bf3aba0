"""The time-sequence graph, drawn the way tcptrace and Wireshark draw it (teaching anchors
§4.2-4.3): each data segment an I-beam from seq to end_seq at its time, the other side's
cumulative ACKs a green step line, the receive window (ack + window << wscale) a yellow step
line above it, SACK blocks as purple spans at the time of the ACK carrying them (the newest
darker), and retransmissions in red with an "R".
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.text import Text

from drillbook.render.flows import (
    acks,
    data_direction,
    data_segments,
    other,
    retransmitted,
    scaled_window,
    window_shift,
)
from drillbook.render.style import FONTS, PALETTE, placeholder
from drillbook.trace.model import Direction, PacketRecord, Trace

MS = 1000.0  # the x axis is in milliseconds


@dataclass(frozen=True)
class SegmentBeam:
    """One data segment's I-beam."""

    beam: LineCollection
    packet: PacketRecord
    retransmission: bool


@dataclass(frozen=True)
class SackSpan:
    """A SACK block drawn at the time of the ACK that carried it."""

    line: LineCollection
    block: tuple[int, int]
    newest: bool


@dataclass(frozen=True)
class TimeSequenceArtists:
    """What draw_time_sequence drew, by role."""

    direction: Direction
    segments: tuple[SegmentBeam, ...]
    ack_line: Line2D | None
    window_line: Line2D | None
    sacks: tuple[SackSpan, ...]
    retransmit_marks: tuple[Text, ...]
    dup_acks: Line2D | None = None  # tcptrace's little ticks: an ACK that moved nothing
    zero_windows: Line2D | None = None  # tcptrace's crosses: a zero receive window


def _x_range(segments: tuple[PacketRecord, ...], replies: tuple[PacketRecord, ...]) -> tuple[
        float, float]:
    """From the first data segment to the last ACK, so a handshake 100 ms earlier does not
    squeeze the transfer into a sliver."""
    start = min(s.time_us for s in segments)
    later = [p.time_us for p in replies if p.time_us >= start]
    end = max([s.time_us for s in segments] + later)
    pad = max((end - start) * 0.06, 20.0)
    return (start - pad) / MS, (end + pad) / MS


def _beam(ax: Axes, seg: PacketRecord, serif: float, colour: str) -> LineCollection:
    x = seg.time_us / MS
    lines = [
        [(x, seg.seq), (x, seg.end_seq)],
        [(x - serif, seg.seq), (x + serif, seg.seq)],
        [(x - serif, seg.end_seq), (x + serif, seg.end_seq)],
    ]
    beam = LineCollection(lines, colors=colour, linewidths=1.6, zorder=3)
    ax.add_collection(beam)
    return beam


def _step_line(ax: Axes, points: list[tuple[float, float]], x_end: float, colour: str,
               label: str) -> Line2D | None:
    if not points:
        return None
    xs = [x for x, _ in points] + [x_end]
    ys = [y for _, y in points] + [points[-1][1]]
    (line,) = ax.plot(xs, ys, drawstyle="steps-post", color=colour, lw=1.4, label=label,
                      zorder=2)
    return line


def duplicate_acks(replies: tuple[PacketRecord, ...]) -> tuple[PacketRecord, ...]:
    """ACKs without data that repeat the previous ACK number (RFC 5681 §2's duplicate ACK,
    window updates aside: the window must be unchanged too)."""
    dups: list[PacketRecord] = []
    for before, now in zip(replies, replies[1:], strict=False):
        if (now.ack == before.ack and now.payload_len == 0 and now.window == before.window
                and not any(f in now.flags for f in "SFR")):
            dups.append(now)
    return tuple(dups)


def _marks(ax: Axes, points: list[tuple[float, float]], marker: str,
           colour: str) -> Line2D | None:
    if not points:
        return None
    (line,) = ax.plot([x for x, _ in points], [y for _, y in points], linestyle="",
                      marker=marker, markersize=9, color=colour, zorder=4)
    return line


def _sack_spans(ax: Axes, replies: tuple[PacketRecord, ...]) -> list[SackSpan]:
    spans: list[SackSpan] = []
    for packet in replies:
        x = packet.time_us / MS
        for k, block in enumerate(packet.sack_blocks):
            colour = PALETTE.sack_newest if k == 0 else PALETTE.sack_older
            coll = LineCollection([[(x, block[0]), (x, block[1])]], colors=colour,
                                  linewidths=4.0 if k == 0 else 3.0, zorder=2, alpha=0.9)
            ax.add_collection(coll)
            spans.append(SackSpan(coll, block, k == 0))
    return spans


def draw_time_sequence(ax: Axes, trace: Trace, *, direction: Direction | None = None,
                       title: bool = True) -> TimeSequenceArtists:
    """Draw the data sent in ``direction`` (default: the direction with more payload)."""
    direction = direction or data_direction(trace)
    segments = data_segments(trace, direction)
    replies = acks(trace, other(direction))
    if not segments:
        placeholder(ax, "no data segments in this run", "Time-sequence graph")
        return TimeSequenceArtists(direction, (), None, None, (), ())
    x0, x1 = _x_range(segments, replies)
    serif = (x1 - x0) * 0.006
    colour = PALETTE.outbound if direction is Direction.OUTBOUND else PALETTE.inbound
    beams: list[SegmentBeam] = []
    marks: list[Text] = []
    for seg, again in zip(segments, retransmitted(segments), strict=True):
        beam = _beam(ax, seg, serif, PALETTE.error if again else colour)
        beams.append(SegmentBeam(beam, seg, again))
        if again:
            marks.append(ax.text(seg.time_us / MS + serif * 1.5, seg.end_seq, "R",
                                 color=PALETTE.error, fontsize=FONTS.label, fontweight="bold",
                                 ha="left", va="bottom"))
    shift = window_shift(trace, other(direction))
    ack_points = [(p.time_us / MS, float(p.ack)) for p in replies if p.ack is not None]
    win_points = [(p.time_us / MS, float(p.ack + w)) for p in replies
                  if p.ack is not None and (w := scaled_window(p, shift)) is not None]
    ack_line = _step_line(ax, ack_points, x1, PALETTE.ack, "ACK (cumulative)")
    dups = _marks(ax, [(p.time_us / MS, float(p.ack or 0)) for p in duplicate_acks(replies)],
                  "|", PALETTE.ack)
    zeros = _marks(ax, [(p.time_us / MS, float(p.ack)) for p in replies
                        if p.window == 0 and p.ack is not None], "x", PALETTE.error)
    window_line = _step_line(ax, win_points, x1, PALETTE.window, "receive window (ack + win)")
    spans = _sack_spans(ax, replies)
    shown = {"data"} | {"retrans" for b in beams if b.retransmission}
    shown |= {"ack"} if ack_line else set()
    shown |= {"dup"} if dups else set()
    shown |= {"zero"} if zeros else set()
    shown |= {"window"} if window_line else set()
    shown |= {"sack" if s.newest else "sack_old" for s in spans}
    _axes(ax, segments, ack_points, (x0, x1), direction, colour, title, shown)
    _fit_window(ax, win_points)
    return TimeSequenceArtists(direction, tuple(beams), ack_line, window_line, tuple(spans),
                               tuple(marks), dups, zeros)


def _fit_window(ax: Axes, win_points: list[tuple[float, float]]) -> None:
    """Show the window line when it is near the data; when it is far above (a 64 KB window over
    an 8 KB transfer) keep the data readable and say where the window edge is instead."""
    if not win_points:
        return
    low, high = ax.get_ylim()
    top = max(y for _, y in win_points)
    if top <= high:
        return
    if top - low <= 1.6 * (high - low):  # near enough: show it without squashing the data
        ax.set_ylim(low, top + (top - low) * 0.05)
        return
    ax.text(0.99, 0.98, f"receive window edge off the top (up to {top:,.0f})",
            transform=ax.transAxes, ha="right", va="top", color=PALETTE.window,
            fontsize=FONTS.small)


def _legend(shown: set[str], colour: str) -> list[Line2D]:
    """Legend entries for what is on the plot only."""
    entries = [
        ("data", Line2D([], [], color=colour, lw=1.6, label="data segment")),
        ("retrans", Line2D([], [], color=PALETTE.error, lw=1.6, label="retransmission (R)")),
        ("ack", Line2D([], [], color=PALETTE.ack, lw=1.4, label="ACK (cumulative)")),
        ("dup", Line2D([], [], color=PALETTE.ack, marker="|", markersize=9, linestyle="",
                       label="duplicate ACK")),
        ("window", Line2D([], [], color=PALETTE.window, lw=1.4, label="receive window")),
        ("zero", Line2D([], [], color=PALETTE.error, marker="x", linestyle="",
                        label="zero window")),
        ("sack", Line2D([], [], color=PALETTE.sack_newest, lw=4, label="newest SACK block")),
        ("sack_old", Line2D([], [], color=PALETTE.sack_older, lw=3, label="older SACK blocks")),
    ]
    return [handle for key, handle in entries if key in shown]


def _axes(ax: Axes, segments: tuple[PacketRecord, ...], ack_points: list[tuple[float, float]],
          xlim: tuple[float, float], direction: Direction, colour: str, title: bool,
          shown: set[str]) -> None:
    lows = [s.seq for s in segments] + [y for x, y in ack_points if x >= xlim[0]]
    highs = [s.end_seq for s in segments] + [y for x, y in ack_points if x >= xlim[0]]
    span = max(max(highs) - min(lows), 1)
    ax.set_xlim(*xlim)
    ax.set_ylim(min(lows) - span * 0.05, max(highs) + span * 0.12)
    ax.set_xlabel("time (ms since the script's 0)", fontsize=FONTS.label)
    ax.set_ylabel("sequence number (relative)", fontsize=FONTS.label)
    ax.tick_params(labelsize=FONTS.small)
    ax.grid(True, color="#EEEEEE", lw=0.6, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(handles=_legend(shown, colour), loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=FONTS.small, frameon=False)
    if title:
        who = "the kernel (>)" if direction is Direction.OUTBOUND else "the peer (<)"
        ax.set_title(f"Time-sequence graph: data sent by {who}", loc="left",
                     fontsize=FONTS.title)
