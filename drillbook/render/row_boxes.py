"""The sequence diagram with where each of its rows sits, for a page to highlight one row.

A row's box is given as fractions of the figure (left, top, width, height, from its top-left
corner), so a page can lay a highlight over the image at any size it is shown. The figure is
the one ``figure_for(trace, kinds=("sequence",))`` draws, saved without cropping (cropping
would move the boxes).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure

from drillbook.render.figure import MAX_ROWS, WIDTH_IN, panel_for
from drillbook.render.sequence import Layout, SequenceArtists, draw_sequence
from drillbook.trace.model import Trace

__all__ = ["RowBox", "SequenceImage", "sequence_image"]


@dataclass(frozen=True)
class RowBox:
    """Where one row is drawn, as fractions of the figure's width and height."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class SequenceImage:
    """The sequence diagram as an image, its rows, and each row's box on the image."""

    mime: str
    data: bytes
    artists: SequenceArtists
    boxes: tuple[RowBox, ...]
    width_px: int  # the image's natural size in CSS pixels
    height_px: int


def _figure(trace: Trace) -> tuple[Figure, SequenceArtists]:
    panel = panel_for(trace, "sequence")
    height = panel.total
    fig = Figure(figsize=(WIDTH_IN, height))
    bottom = height - panel.top - panel.height
    rect = (panel.left / WIDTH_IN, bottom / height,
            (WIDTH_IN - panel.left - panel.right) / WIDTH_IN, panel.height / height)
    artists = draw_sequence(fig.add_axes(rect), trace, max_rows=MAX_ROWS)
    return fig, artists


def _boxes(fig: Figure, artists: SequenceArtists) -> tuple[RowBox, ...]:
    ax = fig.axes[0]
    lay = Layout()
    to_figure = ax.transData + fig.transFigure.inverted()
    boxes = []
    for row, y in zip(artists.rows, artists.row_y, strict=True):
        top = y - (lay.row if row.ghost is not None else 0.0) - 0.45  # a ghost sits above
        (x0, y0), (x1, y1) = to_figure.transform([(0.0, top), (lay.right, y + 0.55)])
        boxes.append(RowBox(left=x0, top=1.0 - y0, width=x1 - x0, height=y0 - y1))
    return tuple(boxes)


def sequence_image(trace: Trace, *, image_format: str = "svg", dpi: int = 80) -> SequenceImage:
    """Draw the run's sequence diagram and say where each row is on the image."""
    fig, artists = _figure(trace)
    boxes = _boxes(fig, artists)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format=image_format, dpi=dpi, facecolor="white")
    mime = "image/svg+xml" if image_format == "svg" else "image/png"
    # An SVG is sized in points, which a browser shows at 96 CSS pixels per inch.
    width, height = fig.get_size_inches() * (96 if image_format == "svg" else dpi)
    return SequenceImage(mime, buffer.getvalue(), artists, boxes, round(width), round(height))
