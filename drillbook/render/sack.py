"""The SACK-block plot: one row per ACK, sequence space across.

Each row shows what the receiver has told the sender at that moment: the cumulative ACK as a
bar from the first data byte to the ack point, and every SACK block as a bar of its own. RFC
2018 §4 makes the first block the one holding the newest segment, so it is set apart in a
darker colour (as Wireshark's tcptrace graph does). The segment whose arrival caused the ACK is
outlined, so out-of-order arrivals (the seed example's 1,3,5,6,8,4,7,2) read top to bottom.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text

from drillbook.render.events import format_time
from drillbook.render.flows import acks, data_segments, other, sack_direction
from drillbook.render.style import FONTS, PALETTE, placeholder
from drillbook.trace.model import Direction, PacketRecord, Trace

BAR = 0.56  # bar height, in rows


@dataclass(frozen=True)
class AckRow:
    """One ACK: where it puts the cumulative ACK and its SACK blocks (newest first)."""

    packet: PacketRecord
    ack: int
    blocks: tuple[tuple[int, int], ...]
    trigger: PacketRecord | None  # the newest data segment from the other side before it


@dataclass(frozen=True)
class SackBar:
    """A drawn SACK block."""

    patch: Rectangle
    block: tuple[int, int]
    newest: bool
    row: int


@dataclass(frozen=True)
class SackArtists:
    """What draw_sack drew, by role."""

    rows: tuple[AckRow, ...]
    cumulative: tuple[Rectangle, ...]  # one per row (zero width when nothing is acked yet)
    blocks: tuple[SackBar, ...]
    triggers: tuple[Rectangle, ...]
    notes: tuple[Text, ...]


def ack_rows(trace: Trace, direction: Direction | None = None) -> tuple[AckRow, ...]:
    """The ACKs sent in ``direction`` (default: the side that sends SACK blocks)."""
    direction = direction or sack_direction(trace)
    data = data_segments(trace, other(direction))
    rows: list[AckRow] = []
    for packet in acks(trace, direction):
        assert packet.ack is not None
        before = [s for s in data if s.time_us <= packet.time_us]
        trigger = before[-1] if before else None
        rows.append(AckRow(packet, packet.ack, packet.sack_blocks, trigger))
    return tuple(rows)


def _base(trace: Trace, rows: tuple[AckRow, ...], direction: Direction) -> int:
    starts = [s.seq for s in data_segments(trace, other(direction))]
    starts += [r.ack for r in rows]
    return min(starts) if starts else 0


def _segment_guides(ax: Axes, trace: Trace, direction: Direction, base: int) -> None:
    """Light lines at segment edges and the segments' numbers along the top. Numbers count
    segment-sized steps from the first byte, so a segment that never arrived keeps its place."""
    segs = sorted({(s.seq, s.end_seq) for s in data_segments(trace, other(direction))})
    edges = sorted({e for seg in segs for e in seg})
    if 0 < len(edges) <= 24:  # tick the segment edges themselves: 1, 1001, 2001, ...
        ax.set_xticks(edges)
    sizes = Counter(end - start for start, end in segs)
    size = sizes.most_common(1)[0][0] if sizes else 0
    overlapping = any(b[0] < a[1] for a, b in zip(segs, segs[1:], strict=False))
    if overlapping:  # resent in other sizes: numbers would collide, the ticks say enough
        size = 0
    for start, end in segs:
        ax.axvline(start, color="#E0E0E0", lw=0.8, zorder=0)
        ax.axvline(end, color="#E0E0E0", lw=0.8, zorder=0)
        if size and (start - base) % size == 0 and len(segs) <= 24:
            ax.text((start + end) / 2, 1.0, f"seg {(start - base) // size + 1}",
                    transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                    fontsize=FONTS.small, color=PALETTE.muted)


def draw_sack(ax: Axes, trace: Trace, *, direction: Direction | None = None,
              title: bool = True) -> SackArtists:
    """Draw one row per ACK sent in ``direction`` (default: the side sending SACK blocks)."""
    direction = direction or sack_direction(trace)
    rows = ack_rows(trace, direction)
    if not rows:
        placeholder(ax, "no ACKs in this run", "SACK blocks per ACK (RFC 2018)")
        return SackArtists((), (), (), (), ())
    base = _base(trace, rows, direction)
    cumulative: list[Rectangle] = []
    bars: list[SackBar] = []
    triggers: list[Rectangle] = []
    notes: list[Text] = []
    for i, row in enumerate(rows):
        rect = Rectangle((base, i - BAR / 2), max(row.ack - base, 0), BAR, fc=PALETTE.ack,
                         ec="none", alpha=0.85, zorder=2)
        ax.add_patch(rect)
        cumulative.append(rect)
        for k, block in enumerate(row.blocks):
            colour = PALETTE.sack_newest if k == 0 else PALETTE.sack_older
            patch = Rectangle((block[0], i - BAR / 2), block[1] - block[0], BAR, fc=colour,
                              ec=PALETTE.sack_newest, lw=0.6, zorder=2)
            ax.add_patch(patch)
            bars.append(SackBar(patch, block, k == 0, i))
            if block[1] - block[0] < _span(rows, base) * 0.005:  # 1 byte: too thin to see
                ax.plot([(block[0] + block[1]) / 2], [i], marker="D", markersize=6,
                        color=colour, markeredgecolor=PALETTE.sack_newest, zorder=3)
        if row.trigger is not None:
            seg = row.trigger
            box = Rectangle((seg.seq, i - 0.42), seg.end_seq - seg.seq, 0.84, fc="none",
                            ec=PALETTE.text, lw=1.0, linestyle=(0, (3, 2)), zorder=3)
            ax.add_patch(box)
            triggers.append(box)
        notes.append(ax.text(1.01, i, _row_note(row), transform=ax.get_yaxis_transform(),
                             ha="left", va="center", fontsize=FONTS.small, family=FONTS.mono,
                             color=PALETTE.text))
    _segment_guides(ax, trace, direction, base)
    _axes(ax, rows, base, direction, title)
    return SackArtists(rows, tuple(cumulative), tuple(bars), tuple(triggers), tuple(notes))


def _row_note(row: AckRow) -> str:
    blocks = " ".join(f"{a}:{b}" for a, b in row.blocks)
    return f"ack {row.ack}" + (f"  sack {blocks}" if blocks else "")


def _span(rows: tuple[AckRow, ...], base: int) -> int:
    """How much sequence space the plot covers, from ``base``."""
    ends = [base + 1] + [r.ack for r in rows] + [b for r in rows for _, b in r.blocks]
    ends += [r.trigger.end_seq for r in rows if r.trigger is not None]
    return max(ends) - base


def _axes(ax: Axes, rows: tuple[AckRow, ...], base: int, direction: Direction,
          title: bool) -> None:
    span = _span(rows, base)
    ax.set_xlim(base - span * 0.02, base + span * 1.02)
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([format_time(r.packet.time_us) for r in rows], family=FONTS.mono,
                       fontsize=FONTS.small)
    ax.set_xlabel("sequence number (relative, as in the script)", fontsize=FONTS.label)
    who = "kernel" if direction is Direction.OUTBOUND else "peer"
    ax.set_ylabel(f"ACKs sent by the {who}", fontsize=FONTS.label)
    ax.tick_params(axis="x", labelsize=FONTS.small)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [
        Patch(fc=PALETTE.ack, alpha=0.85, label="cumulative ACK"),
        Patch(fc=PALETTE.sack_newest, label="newest SACK block"),
        Patch(fc=PALETTE.sack_older, ec=PALETTE.sack_newest, label="older SACK blocks"),
        Line2D([], [], color=PALETTE.text, linestyle=(0, (3, 2)),
               label="segment just arrived" if direction is Direction.OUTBOUND
               else "newest segment sent before it"),
    ]
    # Below the x label: 0.45 in under the axes, whatever the axes' height.
    fig_height = ax.get_figure(root=True).get_figheight()  # type: ignore[union-attr]
    height_in = max(ax.get_position().height * fig_height, 0.5)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.45 / height_in),
              ncol=4, fontsize=FONTS.small, frameon=False)
    if title:
        ax.set_title("SACK blocks per ACK (RFC 2018)", loc="left", fontsize=FONTS.title,
                     pad=14)
