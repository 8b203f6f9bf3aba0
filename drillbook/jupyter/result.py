"""The value of a ``%%drill`` cell: :class:`DrillResult`.

It is what ``_`` holds after the cell: the parsed script, the run's trace, the configuration,
the rendered figures and, in explore mode, the script rewritten with the kernel's packets.
Its rich display is a verdict banner followed by the figures as embedded PNG images, so the
output survives export to HTML (no widget, no JavaScript); ``text/plain`` carries the verdict.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drillbook.config import RunConfig
from drillbook.jupyter.frames import (
    SCROLL_FRAME,
    SCROLL_STYLE,
    natural_width_px,
    scroll_hint,
    scrolling_pre,
)
from drillbook.jupyter.verdict import Verdict, verdict_for
from drillbook.script.model import Script
from drillbook.trace.kernel import Explanation
from drillbook.trace.model import Failure, Trace
from drillbook.trace.pcap import write_pcap
from drillbook.trace.report import text_report

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from drillbook.stepper import Stepper

__all__ = ["DrillResult", "FigureImage"]


@dataclass(frozen=True)
class FigureImage:
    """One rendered figure: ``mime`` is ``image/png`` or ``image/svg+xml``."""

    mime: str
    data: bytes = field(repr=False)
    title: str = ""

    def html(self) -> str:
        """An ``<img>`` with the image inline (a data URI), so it survives export.

        SVG goes through a data URI too: inlined, two matplotlib SVGs on one page may share
        element ids (clip paths), and an ``<img>`` keeps each one to itself.
        The image is shown at the size it was drawn (its text is sized for that), in a frame
        that scrolls sideways when the column is narrower: a long figure scrolls instead of
        shrinking until its labels cannot be read.
        """
        encoded = base64.b64encode(self.data).decode("ascii")
        alt = html.escape(self.title or "drillbook figure")
        frame = (
            f'<div class="{SCROLL_FRAME}" style="{SCROLL_STYLE}">'
            f'<img alt="{alt}" style="max-width:none;display:block" '
            f'src="data:{self.mime};base64,{encoded}"/></div>'
        )
        width = natural_width_px(self.mime, self.data)
        if width is None:
            return frame
        # The container: the column's width, which the hint's rule compares with the figure's.
        return (f'<div style="container-type:inline-size">'
                f"{scroll_hint(width, _HIDDEN_PART.get(self.title, 'the rest'))}{frame}</div>")


# What a figure keeps at its right edge, for the hint above it when the column is narrower.
_HIDDEN_PART = {
    "drillbook: sequence": "the syscalls, the kernel's explanations and the TCP states",
}


@dataclass(frozen=True, repr=False)
class DrillResult:
    """One run of a script: ``passed``, ``trace``, ``script``, figures, explore's rewrite."""

    script: Script
    trace: Trace
    config: RunConfig = field(default_factory=RunConfig)
    explore: bool = False
    explore_grace_us: int | None = None
    images: tuple[FigureImage, ...] = ()
    rewritten_script: str | None = None  # explore mode: the script with the kernel's packets
    figure_kinds: tuple[str, ...] | None = None
    pcap_path: str | None = None
    elapsed_s: float = 0.0  # wall time of the whole cell: parse, run, render
    step: bool = False  # show the stepper in place of the static sequence diagram (--step)

    @property
    def passed(self) -> bool:
        """True when the kernel did what the script says (explore mode: the run completed)."""
        return self.trace.passed

    @property
    def failure(self) -> Failure | None:
        return self.trace.failure

    @property
    def explanations(self) -> tuple[Explanation, ...]:
        """Why the kernel acted, per script line (``cause=``, ``reason=``, ``state=`` ...)."""
        return self.trace.explanations

    def explain(self) -> str:
        """The explanations as ``drillbook run --explain`` prints them, one per line."""
        return "\n".join(e.render(self.trace.script_path.rsplit("/", 1)[-1]) for e in
                         self.explanations)

    @property
    def verdict(self) -> Verdict:
        return verdict_for(
            self.script, self.trace, explore=self.explore, grace_us=self.explore_grace_us
        )

    def to_pcap(self, path: str) -> str:
        """Write every packet of the run to a pcap file; returns the path."""
        write_pcap(self.trace, path)
        return path

    def figures(self, kinds: tuple[str, ...] | None = None) -> Figure:
        """A fresh matplotlib Figure of the run (``kinds`` as for ``drillbook.render``)."""
        from drillbook.render import figure_for

        chosen = kinds if kinds is not None else self.figure_kinds
        if chosen is None:
            return figure_for(self.trace)
        return figure_for(self.trace, kinds=chosen)

    def stepper(self) -> Stepper:
        """A slider over the run's events: the current one highlighted in the sequence diagram,
        the socket at that moment beside it (works in exported lessons too)."""
        from drillbook.stepper import stepper_for

        image = self.images[0] if self.images else None
        return stepper_for(self.trace, image_format="png" if image and image.mime ==
                           "image/png" else "svg")

    def report(self) -> str:
        """The run as text (packetdrill-like report)."""
        return text_report(self.trace)

    def __repr__(self) -> str:
        return self.verdict.text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.verdict.text)

    def html(self) -> str:
        """The verdict banner, the figures, and explore mode's rewritten script."""
        parts = [self.verdict.html()]
        stepper = self.stepper().html if self.step else None
        for image in self.images:
            if stepper is not None and image.title == "drillbook: sequence":
                parts.append(stepper)
                stepper = None
            else:
                parts.append(image.html())
        if stepper is not None:
            parts.append(stepper)
        if self.rewritten_script is not None:
            parts.append(
                "<details open><summary>The script with the kernel's packets "
                "(<code>.rewritten_script</code>; it passes when run)</summary>"
                f"{scrolling_pre(self.rewritten_script)}</details>"
            )
        if self.trace.output:
            parts.append(scrolling_pre(self.trace.output))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self.verdict.text, "text/html": self.html()}
        for image in self.images[:1]:
            # The first figure also as its own MIME type, for front-ends that want one image.
            if image.mime == "image/png":
                bundle["image/png"] = base64.b64encode(image.data).decode("ascii")
            else:
                bundle[image.mime] = image.data.decode()
        return bundle
