"""Windows over time: what each side advertises (from the packets) and the kernel sender's
congestion window and slow-start threshold (from the TCP_INFO snapshots).

The advertised windows are bytes (window << wscale once both SYNs carried wscale, RFC 7323
§2.2); cwnd and ssthresh are segments, as TCP_INFO reports them (tcpi_snd_cwnd,
tcpi_snd_ssthresh), so they get their own axis on the right. Until the first loss the kernel
reports ssthresh as 0x7fffffff ("infinite"); that is drawn clipped at the top and marked ∞.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text

from drillbook.render.flows import scaled_window, tcp_packets, window_shift
from drillbook.render.style import FONTS, INFINITE_SSTHRESH, PALETTE, placeholder
from drillbook.trace.model import Direction, TcpInfoSnapshot, Trace

MS = 1000.0
TITLE = "Windows: advertised (bytes, left axis) and cwnd, ssthresh (segments, right axis)"


@dataclass(frozen=True)
class WindowArtists:
    """What draw_window drew, by role; ``cwnd_ax`` is the right-hand (segments) axis."""

    advertised: tuple[tuple[Direction, Line2D], ...]
    cwnd: Line2D | None
    ssthresh: Line2D | None
    infinite_marks: tuple[Text, ...]
    cwnd_ax: Axes | None


# States whose cwnd/ssthresh mean nothing: a listener or an unconnected socket reports the
# defaults (or zeros), which would draw a fake drop.
NO_CONGESTION_STATES = frozenset({"LISTEN", "CLOSE", "NEW_SYN_RECV", ""})


def tcp_info_snapshots(trace: Trace) -> tuple[TcpInfoSnapshot, ...]:
    """The run's TCP_INFO snapshots in time order."""
    snaps = [s.tcp_info for s in trace.steps if s.tcp_info is not None]
    return tuple(sorted(snaps, key=lambda s: s.time_us))


def congestion_snapshots(trace: Trace) -> tuple[TcpInfoSnapshot, ...]:
    """The snapshots of a connected socket, where cwnd and ssthresh are real."""
    return tuple(s for s in tcp_info_snapshots(trace) if s.state not in NO_CONGESTION_STATES)


def _advertised(ax: Axes, trace: Trace, direction: Direction, x_end: float) -> Line2D | None:
    shift = window_shift(trace, direction)
    points = [(p.time_us / MS, w) for p in tcp_packets(trace, direction)
              if (w := scaled_window(p, shift)) is not None]
    if not points:
        return None
    colour = PALETTE.outbound if direction is Direction.OUTBOUND else PALETTE.inbound
    who = "kernel" if direction is Direction.OUTBOUND else "peer"
    xs = [x for x, _ in points] + [max(x_end, points[-1][0])]
    ys = [y for _, y in points] + [points[-1][1]]
    (line,) = ax.plot(xs, ys, drawstyle="steps-post", color=colour, lw=1.5,
                      label=f"window advertised by the {who} (bytes)")
    return line


def _congestion(ax2: Axes, snaps: tuple[TcpInfoSnapshot, ...],
                x_end: float) -> tuple[Line2D, Line2D, list[Text]]:
    xs = [s.time_us / MS for s in snaps] + [x_end]
    cwnd = [s.snd_cwnd for s in snaps]
    finite = [s.snd_ssthresh for s in snaps if s.snd_ssthresh < INFINITE_SSTHRESH]
    ceiling = max(cwnd + finite + [1]) * 1.35
    clipped = [min(s.snd_ssthresh, ceiling) if s.snd_ssthresh < INFINITE_SSTHRESH else ceiling
               for s in snaps]
    (c_line,) = ax2.plot(xs, cwnd + cwnd[-1:], drawstyle="steps-post", color=PALETTE.cwnd,
                         lw=1.8, linestyle="--", label="cwnd (segments)")
    (s_line,) = ax2.plot(xs, clipped + clipped[-1:], drawstyle="steps-post",
                         color=PALETTE.ssthresh, lw=1.4, linestyle=":",
                         label="ssthresh (segments)")
    marks: list[Text] = []
    if any(s.snd_ssthresh >= INFINITE_SSTHRESH for s in snaps):
        first = next(s for s in snaps if s.snd_ssthresh >= INFINITE_SSTHRESH)
        # Above the line it names, a few points clear of it (va="bottom" alone sat on it).
        marks.append(ax2.annotate(" ssthresh = ∞ (0x7fffffff) ", (first.time_us / MS, ceiling),
                                  xytext=(0, 4), textcoords="offset points", ha="left",
                                  va="bottom", color=PALETTE.ssthresh, fontsize=FONTS.small))
    ax2.set_ylim(0, ceiling * 1.25)  # room for the ∞ mark above the clipped line
    return c_line, s_line, marks


def draw_window(ax: Axes, trace: Trace, *, title: bool = True) -> WindowArtists:
    """Draw advertised windows (left axis, bytes) and cwnd/ssthresh (right axis, segments)."""
    snaps = congestion_snapshots(trace)
    times = [p.time_us for p in trace.packets] + [s.time_us for s in tcp_info_snapshots(trace)]
    x_end = (max(times) if times else 0) / MS
    advertised = []
    for direction in (Direction.INBOUND, Direction.OUTBOUND):
        line = _advertised(ax, trace, direction, x_end)
        if line is not None:
            advertised.append((direction, line))
    if not advertised and not snaps:
        placeholder(ax, "no windows in this run (no TCP packets, no TCP_INFO)",
                    TITLE)
        return WindowArtists((), None, None, (), None)
    cwnd_ax: Axes | None = None
    c_line = s_line = None
    marks: list[Text] = []
    if snaps:
        cwnd_ax = ax.twinx()
        c_line, s_line, marks = _congestion(cwnd_ax, snaps, x_end)
        cwnd_ax.set_ylabel("segments", fontsize=FONTS.label)
        cwnd_ax.tick_params(labelsize=FONTS.small)
    _axes(ax, cwnd_ax, title)
    if snaps:
        _focus(ax, snaps[0].time_us / MS, x_end, marks)
    return WindowArtists(tuple(advertised), c_line, s_line, tuple(marks), cwnd_ax)


def _focus(ax: Axes, start: float, end: float, marks: list[Text]) -> None:
    """Start the time axis where the connection does (the lines before it step in from the
    left edge), so a 100 ms wait in the handshake does not squeeze the transfer to a sliver;
    keep the ∞ mark inside the plot."""
    pad = max((end - start) * 0.04, 0.05)
    ax.set_xlim(start - pad, end + pad)
    for mark in marks:
        assert isinstance(mark, Annotation)
        mark.xy = (start - pad, mark.xy[1])
        mark.set_horizontalalignment("left")


def _axes(ax: Axes, cwnd_ax: Axes | None, title: bool) -> None:
    ax.set_xlabel("time (ms since the script's 0)", fontsize=FONTS.label)
    ax.set_ylabel("bytes", fontsize=FONTS.label)
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=FONTS.small)
    ax.grid(True, color="#EEEEEE", lw=0.6)
    handles, labels = ax.get_legend_handles_labels()
    if cwnd_ax is not None:
        more, more_labels = cwnd_ax.get_legend_handles_labels()
        handles, labels = handles + more, labels + more_labels
    (cwnd_ax or ax).legend(handles, labels, loc="lower right", fontsize=FONTS.small,
                           frameon=True, framealpha=0.9)
    if title:
        ax.set_title(TITLE, loc="left", fontsize=FONTS.title)
