"""A run's figures as images for a cell: one image per kind, drawn here or by helper processes.

Drawing is most of what a cell costs beyond the run itself (about 0.5 CPU-seconds for the SACK
example's four panels), and while the kernel draws, another CPU is usually idle. So the magic
keeps a :class:`FigurePool` of two helper processes, started when the extension loads, and
draws the panels side by side: the trace goes over as its JSON, each kind is one task, and the
images come back in order. On the 2-CPU test machine this halved the cell's time beyond the
script (0.97 s -> 0.50 s, median of 9); when every CPU is busy anyway it gains nothing
(``%config Drill.parallel_figures = False`` turns it off). Any trouble with the pool (a helper
died, one CPU only) falls back to drawing in the kernel, which gives the same images.

SVG keeps text as text (``svg.fonttype: none``): writing it costs about half of rasterising the
same figure to PNG, and labels stay sharp and selectable.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from types import MappingProxyType

from drillbook.jupyter.result import FigureImage
from drillbook.trace.codec import trace_to_json
from drillbook.trace.model import Trace

__all__ = ["FigurePool", "chosen_kinds", "render_images", "render_kind"]

MIME = MappingProxyType({"svg": "image/svg+xml", "png": "image/png"})


def chosen_kinds(trace: Trace, kinds: tuple[str, ...] | None) -> tuple[str, ...]:
    """``kinds``, or drillbook.render's pick of the plots that have something to show."""
    if kinds is not None:
        return kinds
    from drillbook.render import relevant_kinds

    return tuple(relevant_kinds(trace))


def render_kind(
    trace: Trace, kind: str, *, dpi: int = 80, image_format: str = "svg"
) -> FigureImage:
    """One panel of the run as an image."""
    import matplotlib

    from drillbook.render import figure_for

    if image_format not in MIME:
        raise ValueError(f"image format must be svg or png, got {image_format!r}")
    figure = figure_for(trace, kinds=(kind,))
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format=image_format, dpi=dpi, facecolor="white")
    return FigureImage(MIME[image_format], buffer.getvalue(), f"drillbook: {kind}")


def render_images(
    trace: Trace,
    kinds: tuple[str, ...] | None,
    *,
    dpi: int = 80,
    image_format: str = "svg",
) -> tuple[FigureImage, ...]:
    """The run's figures, one image per kind, drawn in this process (``()``: none)."""
    return tuple(
        render_kind(trace, kind, dpi=dpi, image_format=image_format)
        for kind in chosen_kinds(trace, kinds)
    )


def _render_task(trace_json: str, kind: str, dpi: int, image_format: str) -> FigureImage:
    from drillbook.trace.codec import trace_from_json

    return render_kind(trace_from_json(trace_json), kind, dpi=dpi, image_format=image_format)


def _warm() -> None:
    """Pay the imports (matplotlib, fonts, the trace codec) before the first cell does.

    The helpers ignore SIGINT: an interrupted cell or a kernel shutdown stops them through the
    pool, without each printing a KeyboardInterrupt traceback into the notebook's log."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import matplotlib

    matplotlib.use("agg")
    from drillbook.render import figure_for  # noqa: F401
    from drillbook.trace.codec import trace_from_json  # noqa: F401


class FigurePool:
    """Two helper processes that draw a run's panels side by side."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    @property
    def useful(self) -> bool:
        """Worth it only with a CPU to spare."""
        return (os.cpu_count() or 1) > 1 and self.workers > 1

    def start(self) -> None:
        """Spawn and warm the helpers (in the background: this returns at once)."""
        if self._executor is not None or not self.useful:
            return
        # spawn, not fork: a forked Jupyter kernel would copy its threads' locks and sockets.
        context = multiprocessing.get_context("spawn")
        self._executor = ProcessPoolExecutor(self.workers, mp_context=context,
                                             initializer=_warm)
        for _ in range(self.workers):
            self._executor.submit(_warm)

    def render(
        self,
        trace: Trace,
        kinds: tuple[str, ...] | None,
        *,
        dpi: int = 80,
        image_format: str = "svg",
    ) -> tuple[FigureImage, ...]:
        """Like :func:`render_images`, the kinds drawn in parallel."""
        chosen = chosen_kinds(trace, kinds)
        if len(chosen) < 2 or not self.useful:
            return render_images(trace, chosen, dpi=dpi, image_format=image_format)
        self.start()
        assert self._executor is not None
        payload = trace_to_json(trace)
        try:
            futures: list[Future[FigureImage]] = [
                self._executor.submit(_render_task, payload, kind, dpi, image_format)
                for kind in chosen
            ]
            return tuple(future.result() for future in futures)
        except (OSError, RuntimeError):
            # A broken pool (a helper was killed, the system refused a process): draw here.
            self.close()
            return render_images(trace, chosen, dpi=dpi, image_format=image_format)

    def close(self) -> None:
        """Stop the helpers."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
