"""Step through a run: a slider over the sequence diagram's events that highlights the current
one and shows the socket at that moment (TCP state, cwnd, ssthresh, srtt/RTO, bytes in flight,
the SACK scoreboard, counter deltas, the kernel's explanation).

:func:`stepper_for` builds it from a Trace alone: :mod:`drillbook.stepper.model` computes the
socket at each row (pure), :mod:`drillbook.render.row_boxes` draws the diagram and says where
each row is, :mod:`drillbook.stepper.page` writes the HTML with its inline script. The result
works in a notebook (``%%drill --step``, ``DrillResult.stepper()``) and in an exported lesson,
without a kernel and without the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drillbook.trace.model import Trace

__all__ = ["Stepper", "stepper_for"]


@dataclass(frozen=True)
class Stepper:
    """A stepper ready to show: Jupyter displays it as HTML."""

    html: str = field(repr=False)
    events: int

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<drillbook stepper over {self.events} events>"


def stepper_for(trace: Trace, *, image_format: str = "svg", dpi: int = 80) -> Stepper:
    """The stepper of one run."""
    from drillbook.render.row_boxes import sequence_image
    from drillbook.stepper.model import step_views
    from drillbook.stepper.page import stepper_html

    image = sequence_image(trace, image_format=image_format, dpi=dpi)
    views = step_views(trace, image.artists.rows)
    name = trace.script_path.rsplit("/", 1)[-1]
    return Stepper(stepper_html(image, views, title=f"Step through {name}"), len(views))
