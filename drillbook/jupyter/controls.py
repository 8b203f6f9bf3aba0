"""``%%drill --tweak``: controls to change a script and see the kernel react.

One text box per timed event (its written time, in ms), a ``TagsInput`` holding the inbound
packets (drag a tag to reorder them, remove one to drop that packet, type its name to bring it
back), and a Run button. Run turns the controls into pure :mod:`drillbook.script.edits` values,
applies them, prints the edited script (shown under the figures), parses it back, so that any
message points into the text on screen, and runs it in a fresh namespace.

Redrawing is in place and without flicker: the result panels are ``HTML`` widgets whose value is
replaced in one assignment (nothing is cleared and re-added); the run before stays beside the new
one for comparison. An error in a callback is shown in the controls' output area.

Everything a user can click is also a method (``set_order``, ``set_time``, ``run``), so tests and
lab authors drive the controls from code.
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from drillbook.config import RunConfig
from drillbook.errors import DrillbookError
from drillbook.jupyter.result import DrillResult
from drillbook.jupyter.runner import RunRequest, run_parsed, run_text
from drillbook.script.edits import (
    DropEvent,
    ReorderInbound,
    ScriptEdit,
    SetTime,
    apply_edits,
    inbound_indices,
)
from drillbook.script.model import Event, PacketSpec, Script, TcpSpec, TimeKind

__all__ = ["DrillControls", "EDITED_PATH"]

EDITED_PATH = "edited"

Runner = Callable[[Script], DrillResult]


class DrillControls:
    """Controls over one script: edit times, reorder or drop inbound packets, re-run."""

    def __init__(
        self,
        script: Script,
        config: RunConfig,
        request: RunRequest,
        *,
        runner: Runner | None = None,
    ) -> None:
        self.script = script
        self.config = config
        self.request = request
        self._runner = runner or self._run_edited
        self.result: DrillResult | None = None
        self.previous: DrillResult | None = None
        self.runs = 0
        self._inbound = inbound_indices(script)
        self.inbound_tags = tuple(
            _tag(k, script.events[i]) for k, i in enumerate(self._inbound)
        )
        self._time_boxes = self._make_time_boxes()
        self.order_input = widgets.TagsInput(
            value=list(self.inbound_tags),
            allowed_tags=list(self.inbound_tags),
            allow_duplicates=False,
            layout=widgets.Layout(width="100%"),
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.reset_button = widgets.Button(description="Reset", icon="undo")
        self.status = widgets.HTML()
        self.errors = widgets.Output()
        self.previous_panel = widgets.HTML("<i>(no earlier run)</i>")
        self.current_panel = widgets.HTML("<i>(not run yet)</i>")
        self.script_view = widgets.HTML()
        self.run_button.on_click(self._on_run_clicked)
        self.reset_button.on_click(self._on_reset_clicked)
        self.order_input.observe(self._on_edit, names="value")
        for box in self._time_boxes.values():
            box.observe(self._on_edit, names="value")
        self.widget = self._layout()
        self._show_script()

    # ---------------------------------------------------------------- what the user changes

    def set_order(self, order: Sequence[int]) -> None:
        """Inbound packets in this order (0-based among inbound packets); missing ones drop."""
        self.order_input.value = [self.inbound_tags[k] for k in order]

    def set_time(self, event_index: int, time_us: int) -> None:
        """Set event ``event_index``'s written time (relative ``+t`` or absolute, as written)."""
        if event_index not in self._time_boxes:
            raise ValueError(f"event {event_index} has no editable time")
        self._time_boxes[event_index].value = time_us / 1000

    def reset(self) -> None:
        """Back to the script as written."""
        self.order_input.value = list(self.inbound_tags)
        for index, box in self._time_boxes.items():
            box.value = self.script.events[index].time.start_us / 1000

    def order(self) -> tuple[int, ...]:
        """The current inbound order, as indices among the original inbound packets."""
        positions = {tag: k for k, tag in enumerate(self.inbound_tags)}
        return tuple(positions[tag] for tag in self.order_input.value)

    def edits(self) -> tuple[ScriptEdit, ...]:
        """The controls as pure edits: times first, then drops, then the new order."""
        edits: list[ScriptEdit] = []
        for index, box in self._time_boxes.items():
            time_us = round(box.value * 1000)
            if time_us != self.script.events[index].time.start_us:
                edits.append(SetTime(index, time_us))
        order = self.order()
        kept = sorted(order)
        for k in sorted(set(range(len(self._inbound))) - set(kept), reverse=True):
            edits.append(DropEvent(self._inbound[k]))
        permutation = tuple(kept.index(k) for k in order)
        if permutation != tuple(range(len(permutation))):
            edits.append(ReorderInbound(permutation))
        return tuple(edits)

    def edited_script(self) -> Script:
        """The script with the controls' edits applied."""
        return apply_edits(self.script, self.edits())

    def edited_text(self) -> str:
        """The edited script as text (what Run runs)."""
        from drillbook.script.printer import format_script

        return format_script(self.edited_script())

    # ---------------------------------------------------------------- running

    def run(self) -> DrillResult:
        """Run the edited script in a fresh namespace and redraw; errors propagate."""
        self.status.value = "<i>running...</i>"
        try:
            result = self._runner(self.edited_script())
        except BaseException:
            self.status.value = "<b style='color:#d93025'>the run did not complete</b>"
            raise
        self.previous, self.result = self.result, result
        self.runs += 1
        self._redraw()
        return result

    def _run_edited(self, edited: Script) -> DrillResult:
        if edited == self.script and self.runs == 0:
            return run_parsed(self.script, self.config, self.request)
        # Print and parse back, so that messages point into the script text on screen.
        from drillbook.script.printer import format_script

        return run_text(format_script(edited), EDITED_PATH, self.request)

    @property
    def passed(self) -> bool:
        """The latest run's verdict (False before any run)."""
        return self.result is not None and self.result.passed

    # ---------------------------------------------------------------- display

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        # Front-ends with the widget manager show the controls; an export without widget
        # state still shows the latest run (banner and figures) instead of nothing.
        if self.result is not None:
            bundle["text/html"] = self.result.html()
            bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        verdict = self.result.verdict.headline if self.result else "not run"
        return f"DrillControls({len(self.script.events)} events, {self.runs} runs: {verdict})"

    def _redraw(self) -> None:
        # Replace each panel's value in one assignment: no clear-and-redraw, so no flicker.
        if self.previous is not None:
            self.previous_panel.value = self.previous.html()
        if self.result is not None:
            self.current_panel.value = self.result.html()
            self.status.value = html.escape(self.result.verdict.headline)
        self._show_script()

    def _show_script(self) -> None:
        try:
            text = self.edited_text()
        except Exception as error:  # the preview must not hide the controls; say why
            text = f"(cannot print the edited script: {error})"
        self.script_view.value = (
            "<details open><summary>The script Run runs</summary>"
            f'<pre style="font-family:monospace">{html.escape(text)}</pre></details>'
        )

    def _layout(self) -> widgets.Widget:
        times = widgets.GridBox(
            list(self._time_rows()),
            layout=widgets.Layout(grid_template_columns="repeat(2, max-content)",
                                  grid_gap="0 12px"),
        )
        times_box = widgets.Accordion(children=[times], titles=("Event times (ms)",))
        times_box.selected_index = None
        order_help = widgets.HTML(
            "<b>Inbound packets, in arrival order</b>: drag to reorder, &times; to drop, "
            "type a name to bring one back."
        )
        panels = widgets.HBox(
            [
                widgets.VBox([widgets.HTML("<b>previous run</b>"), self.previous_panel],
                             layout=widgets.Layout(width="50%")),
                widgets.VBox([widgets.HTML("<b>this run</b>"), self.current_panel],
                             layout=widgets.Layout(width="50%")),
            ]
        )
        buttons = widgets.HBox([self.run_button, self.reset_button, self.status])
        return widgets.VBox(
            [order_help, self.order_input, times_box, buttons, self.errors, panels,
             self.script_view]
        )

    def _time_rows(self) -> Any:
        for index, box in self._time_boxes.items():
            event = self.script.events[index]
            yield widgets.HTML(f"<code>{html.escape(_event_text(self.script, event))}</code>")
            yield box

    def _make_time_boxes(self) -> dict[int, widgets.BoundedFloatText]:
        boxes: dict[int, widgets.BoundedFloatText] = {}
        for index, event in enumerate(self.script.events):
            if event.time.kind is TimeKind.ANY:
                continue  # `*` has no time to edit
            prefix = "+" if event.time.is_relative else "@"
            boxes[index] = widgets.BoundedFloatText(
                value=event.time.start_us / 1000,
                min=0.0,
                max=3_600_000.0,
                step=1.0,
                description=f"{prefix} line {event.line}",
                style={"description_width": "initial"},
                layout=widgets.Layout(width="180px"),
            )
        return boxes

    # ---------------------------------------------------------------- callbacks

    def _on_run_clicked(self, _button: Any) -> None:
        self._guarded(self.run)

    def _on_reset_clicked(self, _button: Any) -> None:
        self._guarded(self.reset)

    def _on_edit(self, _change: Any) -> None:
        self._guarded(self._show_script)

    def _guarded(self, action: Callable[[], object]) -> None:
        """Run a callback; show its error in the output area (never swallow it)."""
        self.errors.clear_output()
        try:
            action()
        except DrillbookError as error:
            self.errors.append_stdout(error.render() + "\n")
        except Exception:
            self.errors.append_stderr(traceback.format_exc())


def _tag(k: int, event: Event) -> str:
    """A short, unique name for the k-th inbound packet: ``#3 . 2001:3001(1000)``."""
    action = event.action
    assert isinstance(action, PacketSpec)
    body = action.body
    if isinstance(body, TcpSpec):
        return f"#{k + 1} {body.flags} {body.start_seq}:{body.end_seq}({body.payload_len})"
    return f"#{k + 1} line {event.line}"


def _event_text(script: Script, event: Event) -> str:
    span = event.action.span
    if span.end_offset > span.offset:
        return " ".join(script.source.text[span.offset : span.end_offset].split())
    return script.source.line_text(event.line).strip()

