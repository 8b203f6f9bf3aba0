"""The sequence diagram: remote peer (TUN) on the left, the local kernel socket on the right.

One row per event, in the order they happened (see events.py for why the y axis is not time);
each row prints its real time and script line. Inbound (`<`) packets run left to right,
outbound (`>`) right to left, labelled in packetdrill notation. Syscalls are boxes on the
kernel side, TCP state changes (from the TCP_INFO snapshots) sit in a column on the right and
colour the kernel lifeline. What went wrong is drawn, not only told: the expected packet as a
dashed ghost above the actual one with the differing field named, a missing packet as a ghost
crossed out, and packets no line accounted for in their own colour.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle
from matplotlib.text import Text
from matplotlib.typing import LineStyleType

from drillbook.render.events import (
    Gap,
    PacketStatus,
    Row,
    Window,
    format_time,
    sequence_rows,
    visible_rows,
)
from drillbook.render.labels import blocked_us, failure_note, step_box_label, verdict_title
from drillbook.render.style import FONTS, PALETTE
from drillbook.trace.model import Direction, FailureKind, Outcome, PacketRecord, Trace


@dataclass(frozen=True)
class Layout:
    """Columns in data units (about an inch each at the default figure width).

    The whole is 12.25 in, 1176 px shown at its size: it fits JupyterLab's notebook column in
    a 1400 px window with the file browser closed (about 1200 px). With the file browser open
    (about 950 px) the time column, both lifelines and every packet with its label are still
    in view, and the side column (syscalls, the kernel's explanations, TCP states) scrolls into
    view in the figure's frame."""

    time_x: float = 1.15  # right edge of the time column
    peer_x: float = 1.4
    kernel_x: float = 6.8
    box_x: float = 7.0  # left edge of syscall boxes and notes
    state_x: float = 11.3  # the TCP state column
    right: float = 12.25
    row: float = 1.0
    gap: float = 0.9  # extra height of a "+100 ms" band
    header: float = 2.3
    footer: float = 1.2  # room for the legend


@dataclass(frozen=True)
class PacketArrow:
    """One drawn packet: its arrow, its label, and what it stands for."""

    arrow: FancyArrowPatch
    label: Text
    packet: PacketRecord
    status: PacketStatus
    row: int


@dataclass(frozen=True)
class SequenceArtists:
    """Everything draw_sequence drew, by role (for tests and for callers that restyle)."""

    arrows: tuple[PacketArrow, ...]  # one per packet step and per unexpected packet
    ghosts: tuple[PacketArrow, ...]  # the expected packets of mismatched steps
    boxes: tuple[Text, ...]  # syscall/command boxes (Text with a bbox patch)
    states: tuple[Text, ...]  # TCP state names, where the state changed
    times: tuple[Text, ...]  # the time (and script line) printed beside each row
    gaps: tuple[tuple[Rectangle, Text], ...]  # bands marking large gaps in time
    marks: tuple[Text, ...]  # failure notes, "never sent", "unexpected"
    lifelines: tuple[Line2D, ...]
    rows: tuple[Row, ...]
    row_y: tuple[float, ...]
    blocked: tuple[Line2D, ...] = ()  # a bar beside the kernel from a blocking call to its return
    explanations: tuple[Text, ...] = ()  # why the kernel sent a packet (cause=, reason=), beside it


def _row_positions(rows: tuple[Row, ...], gaps: tuple[Gap, ...], lay: Layout) -> list[float]:
    """y of each row (downwards); mismatch rows are two high (ghost above actual)."""
    after = {g.after_row for g in gaps}
    ys: list[float] = []
    y = 0.0
    for i, row in enumerate(rows):
        if row.ghost is not None:
            y += lay.row
        ys.append(y)
        y += lay.row + (lay.gap if i in after else 0.0)
    return ys


@dataclass(frozen=True)
class ArrowStyle:
    """How one packet arrow looks."""

    color: str
    linestyle: LineStyleType = "-"
    alpha: float = 1.0
    lw: float = 1.4


GHOST = ArrowStyle(PALETTE.ghost, (0, (4, 3)), 0.55, 1.3)


def _status_style(status: PacketStatus, direction: Direction) -> ArrowStyle:
    base = ArrowStyle(PALETTE.inbound if direction is Direction.INBOUND else PALETTE.outbound)
    styles = {
        PacketStatus.MISMATCH: replace(base, color=PALETTE.error, lw=1.8),
        PacketStatus.LATE: replace(base, color=PALETTE.error, lw=1.8),
        PacketStatus.WARNING: replace(base, color=PALETTE.window, lw=1.6),
        PacketStatus.MISSING: ArrowStyle(PALETTE.error, (0, (4, 3)), 0.6),
        PacketStatus.UNEXPECTED: ArrowStyle(PALETTE.unexpected, (0, (5, 2, 1, 2)), lw=1.6),
        PacketStatus.NOT_RUN: ArrowStyle(PALETTE.not_run, alpha=0.8),
    }
    return styles.get(status, base)


def _arrow(ax: Axes, packet: PacketRecord, y: float, style: ArrowStyle,
           lay: Layout, label_prefix: str = "") -> tuple[FancyArrowPatch, Text]:
    """A slightly slanted arrow (a ladder diagram's hint that packets take time)."""
    inbound = packet.direction is Direction.INBOUND
    x0, x1 = (lay.peer_x, lay.kernel_x) if inbound else (lay.kernel_x, lay.peer_x)
    arrow = FancyArrowPatch(
        (x0, y + 0.02), (x1, y + 0.28), arrowstyle="-|>", mutation_scale=11,
        shrinkA=0, shrinkB=0, color=style.color, linestyle=style.linestyle,
        alpha=style.alpha, lw=style.lw, zorder=3,
    )
    ax.add_patch(arrow)
    label = ax.text(
        (x0 + x1) / 2, y - 0.06, f"{label_prefix}{packet.summary}", ha="center", va="bottom",
        fontsize=FONTS.label, family=FONTS.mono, color=style.color,
        alpha=max(style.alpha, 0.75), zorder=4,
    )
    return arrow, label


def _draw_packet(ax: Axes, i: int, row: Row, y: float, lay: Layout, marks: list[Text],
                 failure: FailureKind | None) -> tuple[PacketArrow, PacketArrow | None]:
    assert row.packet is not None
    ghost: PacketArrow | None = None
    if row.ghost is not None:
        prefix = "script expected: "
        if row.status is PacketStatus.LATE:  # same packet, other time: say when it was due
            prefix = f"script expected at {format_time(row.ghost.time_us)}: "
        garrow, glabel = _arrow(ax, row.ghost, y - lay.row, GHOST, lay, prefix)
        glabel.set_fontstyle("italic")
        ghost = PacketArrow(garrow, glabel, row.ghost, PacketStatus.OK, i)
    arrow, label = _arrow(ax, row.packet, y, _status_style(row.status, row.packet.direction), lay)
    drawn = PacketArrow(arrow, label, row.packet, row.status, i)
    mid = (lay.peer_x + lay.kernel_x) / 2
    if row.status is PacketStatus.MISSING:
        # The cross sits near the arrow's head, clear of the centred label.
        far = lay.peer_x if row.packet.direction is Direction.OUTBOUND else lay.kernel_x
        cross_x = far + (mid - far) * 0.35
        marks.append(ax.text(cross_x, y + 0.2, "✗", ha="center", va="center", fontsize=14,
                             color=PALETTE.error, fontweight="bold", zorder=5))
        if row.packet.direction is Direction.OUTBOUND and failure is FailureKind.TIMEOUT:
            marks.append(_side_note(ax, y, "✗ never sent by the kernel\n(timed out waiting)",
                                    lay))
    elif row.status is PacketStatus.UNEXPECTED:
        # Not necessarily wrong: packetdrill only checks packets up to the last `>` line.
        marks.append(_side_note(ax, y, "? not in the script (unchecked)", lay,
                                PALETTE.unexpected))
    elif row.status is PacketStatus.WARNING and row.step is not None and row.step.message:
        note = "\n".join(["⚠ warning", *textwrap.wrap(row.step.message, width=56)[:2]])
        marks.append(_side_note(ax, y - 0.5, note, lay, PALETTE.window))
    if len(row.parts) > 1:
        marks.append(_side_note(ax, y, _parts_note(row.parts), lay, PALETTE.muted))
    return drawn, ghost


def _parts_note(parts: tuple[PacketRecord, ...]) -> str:
    """``= 5 wire segments: 1:2001 … 8001:10001`` for an aggregated match."""
    ranges = [f"{p.seq}:{p.end_seq}" for p in parts]
    shown = " ".join(ranges) if len(ranges) <= 3 else f"{ranges[0]} … {ranges[-1]}"
    return f"= {len(parts)} segments on the wire: {shown}"


def _side_note(ax: Axes, y: float, text: str, lay: Layout, colour: str = PALETTE.error) -> Text:
    return ax.text(lay.box_x, y + 0.1, text, ha="left", va="center", fontsize=FONTS.label,
                   family=FONTS.sans, color=colour, zorder=5, linespacing=1.15,
                   fontweight="bold")


def _draw_box(ax: Axes, row: Row, y: float, lay: Layout) -> Text:
    assert row.step is not None
    step = row.step
    failed = step.outcome is Outcome.FAILED
    faded = step.outcome is Outcome.NOT_RUN
    edge = PALETTE.error if failed else (PALETTE.not_run if faded else PALETTE.syscall_edge)
    return ax.text(
        lay.box_x, y + 0.1, step_box_label(step), ha="left", va="center",
        fontsize=FONTS.label, family=FONTS.mono,
        color=PALETTE.not_run if faded else (PALETTE.error if failed else PALETTE.text),
        bbox={"boxstyle": "round,pad=0.3", "fc": PALETTE.syscall, "ec": edge,
              "lw": 1.4 if failed else 0.8},
        zorder=4,
    )


def _draw_blocked(ax: Axes, rows: tuple[Row, ...], ys: list[float],
                  lay: Layout) -> list[Line2D]:
    """A bracket from each blocking call that waited to the row where it returned."""
    bars: list[Line2D] = []
    for i, row in enumerate(rows):
        waited = blocked_us(row.step) if row.step is not None else None
        if waited is None or waited < 1000 or row.time_us is None:
            continue
        back = row.time_us + waited
        end = i  # the last row that happened before the call returned
        while end + 1 < len(rows) and (rows[end + 1].time_us or 0) <= back:
            end += 1
        x = lay.kernel_x + 0.12
        (bar,) = ax.plot([x, x], [ys[i] + 0.3, ys[end] + 0.5], color=PALETTE.syscall_edge,
                         lw=2.2, alpha=0.5, solid_capstyle="butt", zorder=2)
        bars.append(bar)
    return bars


def _draw_time(ax: Axes, row: Row, y: float, lay: Layout) -> Text:
    line = f"  L{row.line}" if row.line is not None else "  ---"
    faded = row.step is not None and row.step.outcome is Outcome.NOT_RUN
    return ax.text(lay.time_x, y + 0.1, f"{format_time(row.time_us)}{line}", ha="right",
                   va="center", fontsize=FONTS.small, family=FONTS.mono,
                   color=PALETTE.not_run if faded else PALETTE.muted)


def _state_colour(state: str) -> str:
    """Opening states warm, ESTABLISHED green, closing states grey (a reading aid only)."""
    if state == "ESTABLISHED":
        return "#B8E0C8"
    if state in ("LISTEN", "SYN_SENT", "SYN_RECV"):
        return "#FBE3B0"
    return "#D9D9D9"


def _draw_states(ax: Axes, rows: tuple[Row, ...], ys: list[float], bottom: float,
                 lay: Layout) -> list[Text]:
    texts: list[Text] = []
    changes = [(ys[i], r.state) for i, r in enumerate(rows) if r.state is not None]
    for k, (y, state) in enumerate(changes):
        assert state is not None
        end = changes[k + 1][0] if k + 1 < len(changes) else bottom
        ax.add_patch(Rectangle((lay.kernel_x - 0.07, y + 0.1), 0.14, end - y - 0.1, lw=0,
                               fc=_state_colour(state), zorder=1))
        texts.append(ax.text(lay.state_x, y + 0.1, f"→ {state}", ha="left", va="center",
                             fontsize=FONTS.small, family=FONTS.sans, color=PALETTE.text,
                             bbox={"boxstyle": "round,pad=0.2", "fc": _state_colour(state),
                                   "ec": "none"}))
    return texts


def _draw_gaps(ax: Axes, gaps: tuple[Gap, ...], rows: tuple[Row, ...], ys: list[float],
               lay: Layout) -> list[tuple[Rectangle, Text]]:
    out: list[tuple[Rectangle, Text]] = []
    for gap in gaps:
        nxt = gap.after_row + 1
        top = ys[gap.after_row] + 0.45
        if nxt < len(rows):
            ghost_room = lay.row if rows[nxt].ghost is not None else 0.0  # the ghost sits above
            bottom = ys[nxt] - ghost_room - 0.5
        else:  # events left out after the last row shown
            bottom = top + lay.gap * 0.8
        rect = Rectangle((0.05, top), lay.right - 0.1, bottom - top, fc=PALETTE.gap_band,
                         ec="none", zorder=0)
        ax.add_patch(rect)
        text = ax.text((lay.peer_x + lay.kernel_x) / 2, (top + bottom) / 2,
                       gap.label, ha="center", va="center",
                       fontsize=FONTS.small, family=FONTS.sans, color=PALETTE.muted,
                       fontstyle="italic", zorder=1)
        out.append((rect, text))
    return out


def _draw_lifelines(ax: Axes, trace: Trace, bottom: float, lay: Layout) -> list[Line2D]:
    lines: list[Line2D] = []
    heads = (
        (lay.peer_x, "remote peer (TUN)", trace.remote_ip),
        (lay.kernel_x, "local kernel socket", trace.local_ip),
    )
    for x, title, ip in heads:
        (line,) = ax.plot([x, x], [-0.6, bottom], color="#9A9A9A", lw=1.0, zorder=1)
        lines.append(line)
        ax.text(x, -1.0, f"{title}\n{ip}" if ip else title, ha="center", va="bottom",
                fontsize=FONTS.title, family=FONTS.sans, fontweight="bold", color=PALETTE.text,
                linespacing=1.2)
    ax.text(lay.time_x, -0.5, "time   line", ha="right", va="bottom", fontsize=FONTS.small,
            family=FONTS.mono, color=PALETTE.muted)
    ax.text(lay.state_x, -0.5, "TCP state", ha="left", va="bottom", fontsize=FONTS.small,
            family=FONTS.sans, color=PALETTE.muted)
    return lines


LEGEND = (
    (PacketStatus.OK, "inbound: injected by the peer (<)"),
    (PacketStatus.OK, "outbound: sent by the kernel (>)"),
    (PacketStatus.MISMATCH, "differs from the script"),
    (PacketStatus.WARNING, "differs (non-fatal: a warning)"),
    (PacketStatus.MISSING, "expected, never came"),
    (PacketStatus.UNEXPECTED, "no script line expected it"),
    (PacketStatus.NOT_RUN, "not run (after the failure)"),
)


def _legend(ax: Axes, arrows: list[PacketArrow], ghosts: list[PacketArrow]) -> None:
    """A key in the footer, for the kinds of arrow actually drawn."""
    shown = {a.status for a in arrows} | {PacketStatus.OK}
    shown |= {PacketStatus.MISMATCH for a in arrows if a.status is PacketStatus.LATE}
    handles: list[Line2D] = []
    for k, (status, text) in enumerate(LEGEND):
        if status not in shown:
            continue
        direction = Direction.OUTBOUND if k == 1 else Direction.INBOUND
        style = _status_style(status, direction)
        handles.append(Line2D([], [], color=style.color, linestyle=style.linestyle,
                              alpha=style.alpha, lw=style.lw, label=text))
    if ghosts:
        handles.append(Line2D([], [], color=GHOST.color, linestyle=GHOST.linestyle,
                              alpha=GHOST.alpha, lw=GHOST.lw, label="what the script expected"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=4,
              fontsize=FONTS.small, frameon=False, handlelength=2.6, columnspacing=1.5)


def _is_failing(row: Row, trace: Trace) -> bool:
    return (trace.failure is not None and row.step is not None
            and row.step.line == trace.failure.line)


def _timed_out(row: Row, trace: Trace) -> bool:
    """The outbound packet never came: the cross and its own note say it all."""
    return (row.status is PacketStatus.MISSING and trace.failure is not None
            and trace.failure.kind is FailureKind.TIMEOUT and row.direction is Direction.OUTBOUND)


def _window(trace: Trace, gap_threshold_us: int, max_rows: int | None) -> Window:
    failure_line = trace.failure.line if trace.failure is not None else None
    return visible_rows(sequence_rows(trace), gap_threshold_us, max_rows, failure_line)


def sequence_height(trace: Trace, gap_threshold_us: int = 2000,
                    max_rows: int | None = None) -> float:
    """The data height of the diagram (≈ inches at a 0.3 in row), for sizing a figure."""
    window = _window(trace, gap_threshold_us, max_rows)
    rows, gaps = window.rows, window.gaps
    lay = Layout()
    ys = _row_positions(rows, gaps, lay)
    trailing = bool(gaps) and gaps[-1].after_row == len(rows) - 1
    last = (ys[-1] if ys else 0.0) + (lay.gap if trailing else 0.0)
    return last + lay.row + lay.header + lay.footer


def draw_sequence(ax: Axes, trace: Trace, *, gap_threshold_us: int = 2000,
                  max_rows: int | None = None, title: bool = True,
                  legend: bool = True, explanations: bool = True) -> SequenceArtists:
    """Draw ``trace`` as a sequence diagram on ``ax``; gaps of at least ``gap_threshold_us``
    between consecutive events become labelled bands. With ``max_rows``, a long run shows its
    first events and those leading to the failure, with a band counting the ones left out.
    With ``explanations`` (the default), a packet the kernel explained (a retransmission's
    cause, a reset's reason) carries that explanation beside its arrow."""
    lay = Layout()
    window = _window(trace, gap_threshold_us, max_rows)
    rows, gaps = window.rows, window.gaps
    ys = _row_positions(rows, gaps, lay)
    trailing = bool(gaps) and gaps[-1].after_row == len(rows) - 1
    bottom = (ys[-1] if ys else 0.0) + lay.row * 0.7 + (lay.gap if trailing else 0.0)
    arrows: list[PacketArrow] = []
    ghosts: list[PacketArrow] = []
    boxes: list[Text] = []
    marks: list[Text] = []
    times = [_draw_time(ax, row, y, lay) for row, y in zip(rows, ys, strict=True)]
    for i, (row, y) in enumerate(zip(rows, ys, strict=True)):
        if row.packet is not None:
            kind = trace.failure.kind if trace.failure is not None else None
            drawn, ghost = _draw_packet(ax, i, row, y, lay, marks, kind)
            arrows.append(drawn)
            if ghost is not None:
                ghosts.append(ghost)
        elif row.step is not None:
            boxes.append(_draw_box(ax, row, y, lay))
        if trace.failure is None or not _is_failing(row, trace) or _timed_out(row, trace):
            continue
        note = failure_note(trace.failure)
        if row.packet is not None:
            marks.append(_side_note(ax, y - (0.5 if row.ghost else 0), note, lay))
        else:  # the box fills the side column; the lane between the lifelines is free
            marks.append(ax.text((lay.peer_x + lay.kernel_x) / 2, y + 0.1, note, ha="center",
                                 va="center", fontsize=FONTS.label, family=FONTS.sans,
                                 color=PALETTE.error, fontweight="bold", zorder=5))
    why = _draw_explanations(ax, trace, rows, ys, lay, marks) if explanations else []
    states = _draw_states(ax, rows, ys, bottom, lay)
    band_artists = _draw_gaps(ax, gaps, rows, ys, lay)
    lifelines = _draw_lifelines(ax, trace, bottom, lay)
    blocked = _draw_blocked(ax, rows, ys, lay)
    if legend and arrows:
        _legend(ax, arrows, ghosts)
    ax.set_xlim(0, lay.right)
    ax.set_ylim(bottom + 0.2 + (lay.footer if legend else 0.0), -lay.header)
    ax.set_axis_off()
    if title:
        ax.set_title(verdict_title(trace), loc="left", fontsize=FONTS.title, family=FONTS.sans,
                     color=PALETTE.error if trace.failure else PALETTE.text)
    return SequenceArtists(
        arrows=tuple(arrows), ghosts=tuple(ghosts), boxes=tuple(boxes), states=tuple(states),
        times=tuple(times), gaps=tuple(band_artists), marks=tuple(marks),
        lifelines=tuple(lifelines), rows=rows, row_y=tuple(ys), blocked=tuple(blocked),
        explanations=tuple(why),
    )


def _draw_explanations(ax: Axes, trace: Trace, rows: tuple[Row, ...], ys: list[float],
                       lay: Layout, marks: list[Text]) -> list[Text]:
    """``why: cause=rto rto=300ms backoff=1`` and the sentence, beside the packet's arrow, in
    the side column (rows that already carry a note there keep only that note)."""
    noted = {round(mark.get_position()[1], 1) for mark in marks}
    drawn: list[Text] = []
    for row, y in zip(rows, ys, strict=True):
        if row.packet is None or row.step is None or round(y + 0.1, 1) in noted:
            continue
        found = [e for e in trace.explanations
                 if e.packet_time_us is not None and e.step_index == row.step.index]
        if not found:
            continue
        explanation = found[0]
        lines = [f"why: {explanation.keys()}",
                 *textwrap.wrap(explanation.sentence, width=84, max_lines=2, placeholder=" …")]
        drawn.append(ax.text(lay.box_x, y + 0.1, "\n".join(lines), ha="left", va="center",
                             fontsize=FONTS.small, family=FONTS.sans, color=PALETTE.explain,
                             zorder=5, linespacing=1.1))
    return drawn
