"""The window plot says what its axes measure, and its ssthresh = ∞ mark stays clear of the
line it names (issue 13's defects, measured on the drawn figure)."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from trace_fixtures import handshake_trace, retransmit_trace

from drillbook.render import figure_for
from drillbook.render.window import draw_window


def test_title_names_the_units_of_both_axes() -> None:
    figure = figure_for(handshake_trace(), kinds=("window",))
    ax = figure.axes[0]
    title = ax.get_title(loc="left")
    assert ax.get_ylabel() == "bytes" and "bytes" in title
    assert "packets" not in title  # the advertised windows are bytes, not packets
    assert "segments" in title and figure.axes[1].get_ylabel() == "segments"


def test_infinite_ssthresh_mark_does_not_touch_its_line() -> None:
    figure = Figure(figsize=(9.6, 4.15))  # the window panel as figure_for lays it out
    art = draw_window(figure.add_axes((0.125, 0.16, 0.68, 0.72)), retransmit_trace())
    renderer = FigureCanvasAgg(figure).get_renderer()
    assert art.ssthresh is not None and art.cwnd_ax is not None and art.infinite_marks
    mark = art.infinite_marks[0].get_window_extent(renderer)
    ceiling = max(art.ssthresh.get_ydata())  # type: ignore[arg-type]
    _, line_y = art.cwnd_ax.transData.transform((0, ceiling))
    assert mark.y0 > line_y + 1.5, (mark, line_y)  # above the line, with a gap
    top = art.cwnd_ax.get_window_extent(renderer).y1
    assert mark.y1 <= top, "the mark must stay inside the plot"
