"""``%%drill --tweak``: controls to change a script and see the kernel react.

A ``TagsInput`` holds the inbound packets in arrival order (drag a tag to move a packet, remove
it to drop the packet, type its name to bring it back); a list of the events in the order they
will run gives each one a time shift (ms); Run runs the edited script in a fresh namespace. Each
change is an action on one event (:mod:`drillbook.script.packet_edits`), kept in a history: a
shift stays with its packet wherever the packet moves, the actions resolve to one
:data:`~drillbook.script.edits.ScriptEdit` sequence, the edited script is shown before Run, and
Undo takes the actions back one by one.

The runs are compared in tabs that each take the notebook's full width (this run, the previous
run, the differences between them as text), never in two cramped columns. Redrawing is in place
and without flicker: the panels are ``HTML`` widgets whose value is replaced in one assignment.
An error in a callback is shown in the controls' output area.

Everything a user can click is also a method (``set_order``, ``shift``, ``set_time``,
``undo``, ``run``), so tests and lab authors drive the controls from code.
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from drillbook.config import RunConfig
from drillbook.errors import DrillbookError
from drillbook.jupyter.compare import run_differences
from drillbook.jupyter.frames import scrolling_pre
from drillbook.jupyter.result import DrillResult
from drillbook.jupyter.runner import RunRequest, run_parsed, run_text
from drillbook.script.edits import ScriptEdit, inbound_indices
from drillbook.script.model import Event, PacketSpec, Script, TcpSpec, TimeKind
from drillbook.script.packet_edits import (
    DropInbound,
    EditHistory,
    PacketEdit,
    ShiftEvent,
    moves_between,
    running_order,
)

__all__ = ["DrillControls", "EDITED_PATH"]

EDITED_PATH = "edited"

Runner = Callable[[Script], DrillResult]
TAB_TITLES = ("This run", "Previous run", "Differences")


class DrillControls:
    """Controls over one script: shift events, move or drop inbound packets, undo, re-run."""

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
        self.history = EditHistory(script)
        self.result: DrillResult | None = None
        self.previous: DrillResult | None = None
        self.ran_text = ""  # the script text of the latest run
        self.runs = 0
        self._syncing = False
        self._inbound = inbound_indices(script)
        self.inbound_tags = tuple(
            _tag(k, script.events[i]) for k, i in enumerate(self._inbound)
        )
        self._event_of_tag = dict(zip(self.inbound_tags, self._inbound, strict=True))
        self._shift_boxes = self._make_shift_boxes()
        self.order_input = widgets.TagsInput(
            value=list(self.inbound_tags),
            allowed_tags=list(self.inbound_tags),
            allow_duplicates=False,
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.undo_button = widgets.Button(description="Undo", icon="undo",
                                          tooltip="take back the last edit")
        self.reset_button = widgets.Button(description="Reset", icon="refresh",
                                           tooltip="back to the script as written")
        self.status = widgets.HTML()
        self.errors = widgets.Output()
        self.times = widgets.GridBox(
            layout=widgets.Layout(grid_template_columns="minmax(0, 1fr) 130px",
                                  grid_gap="2px 12px", align_items="center"),
        )
        self.edits_view = widgets.HTML()
        self.script_view = widgets.HTML()
        self.current_panel = widgets.HTML("<i>(not run yet)</i>")
        self.previous_panel = widgets.HTML()
        self.differences_panel = widgets.HTML()
        # Widgets stretch across the column by themselves; width 100% plus their margins
        # would stick out by a few pixels.
        self.results = widgets.Tab(children=[self.current_panel])
        self.results.set_title(0, TAB_TITLES[0])
        self.run_button.on_click(self._on_run_clicked)
        self.undo_button.on_click(self._on_undo_clicked)
        self.reset_button.on_click(self._on_reset_clicked)
        self.order_input.observe(self._on_order_changed, names="value")
        for event, box in self._shift_boxes.items():
            box.observe(self._shift_observer(event), names="value")
        self.widget = self._layout()
        self._sync()

    # ---------------------------------------------------------------- what the user changes

    def set_order(self, order: Sequence[int]) -> None:
        """Inbound packets in this order (0-based among inbound packets); missing ones drop."""
        self.order_input.value = [self.inbound_tags[k] for k in order]

    def shift(self, event_index: int, delta_us: int) -> None:
        """Shift event ``event_index`` (as written) by ``delta_us``, wherever it moves."""
        if event_index not in self._shift_boxes:
            raise ValueError(f"event {event_index} has no editable time")
        self._record(ShiftEvent(event_index, delta_us))

    def set_time(self, event_index: int, time_us: int) -> None:
        """Give event ``event_index`` (as written) this written time in its own slot: a
        shift by the difference from what it is written with."""
        event = self.script.events[event_index]
        wanted = time_us - event.time.start_us - self.history.state.shift_of(event_index)
        self.shift(event_index, wanted)

    def undo(self) -> PacketEdit | None:
        """Take back the last edit (None when there was none)."""
        undone = self.history.undo()
        self._sync()
        return undone

    def reset(self) -> None:
        """Back to the script as written (every edit taken back)."""
        self.history.clear()
        self._sync()

    def order(self) -> tuple[int, ...]:
        """The current inbound order, as indices among the original inbound packets."""
        return tuple(self._inbound.index(e) for e in self.history.state.order)

    def edits(self) -> tuple[ScriptEdit, ...]:
        """The edits made so far as one positional ScriptEdit sequence over the script."""
        return self.history.positional()

    def edited_script(self) -> Script:
        """The script with the edits applied."""
        return self.history.edited()

    def edited_text(self) -> str:
        """The edited script as text (what Run runs)."""
        from drillbook.script.printer import format_script

        return format_script(self.edited_script())

    # ---------------------------------------------------------------- running

    def run(self) -> DrillResult:
        """Run the edited script in a fresh namespace and redraw; errors propagate."""
        self.status.value = "<i>running...</i>"
        text = self.edited_text()
        try:
            result = self._runner(self.edited_script())
        except BaseException:
            self.status.value = "<b style='color:#d93025'>the run did not complete</b>"
            raise
        self.previous, self.result = self.result, result
        previous_text, self.ran_text = self.ran_text, text
        self.runs += 1
        self._redraw(previous_text)
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

    def _redraw(self, previous_text: str) -> None:
        # Replace each panel's value in one assignment: no clear-and-redraw, so no flicker.
        assert self.result is not None
        self.current_panel.value = _run_panel(self.result, self.ran_text)
        self.status.value = html.escape(self.result.verdict.headline)
        if self.previous is not None:
            self.previous_panel.value = _run_panel(self.previous, previous_text)
            lines = run_differences(self.previous.trace, self.result.trace,
                                    self.previous.verdict.headline,
                                    self.result.verdict.headline)
            self.differences_panel.value = scrolling_pre("\n".join(lines))
            if len(self.results.children) == 1:
                self.results.children = [self.current_panel, self.previous_panel,
                                         self.differences_panel]
                for index, title in enumerate(TAB_TITLES):
                    self.results.set_title(index, title)
        self.results.selected_index = 0

    def _layout(self) -> widgets.Widget:
        times_box = widgets.Accordion(children=[self.times],
                                      titles=("Event times: shift an event (ms)",))
        times_box.selected_index = None
        order_help = widgets.HTML(
            "<b>Inbound packets, in arrival order</b>: drag to reorder, &times; to drop, "
            "type a name to bring one back."
        )
        buttons = widgets.HBox([self.run_button, self.undo_button, self.reset_button,
                                self.status])
        return widgets.VBox(
            [order_help, self.order_input, times_box, self.edits_view, self.script_view,
             buttons, self.errors, self.results],
        )

    # ---------------------------------------------------------------- state -> widgets

    def _sync(self) -> None:
        """Show the history's state in every control (without recording anything)."""
        state = self.history.state
        self._syncing = True
        try:
            tags = {e: t for t, e in self._event_of_tag.items()}
            self.order_input.value = [tags[e] for e in state.order]
            for event, box in self._shift_boxes.items():
                box.value = state.shift_of(event) / 1000
            shown = [e for e in running_order(self.script, state) if e in self._shift_boxes]
            self.times.children = [w for e in shown for w in self._time_row(e)]
        finally:
            self._syncing = False
        self.undo_button.disabled = not self.history.edits
        self.edits_view.value = self._edits_html()
        self._show_script()

    def _time_row(self, event_index: int) -> tuple[widgets.Widget, widgets.Widget]:
        event = self.script.events[event_index]
        label = widgets.HTML(
            f"<code>line {event.line}: {html.escape(_event_text(self.script, event))}</code>",
            layout=widgets.Layout(min_width="0"),
        )
        return label, self._shift_boxes[event_index]

    def _edits_html(self) -> str:
        if not self.history.edits:
            return ""
        items = "".join(f"<li>{html.escape(self._describe(e))}</li>"
                        for e in self.history.edits)
        return f"<b>Edits</b> (Undo takes back the last):<ol style='margin:2px 0'>{items}</ol>"

    def _describe(self, edit: PacketEdit) -> str:
        event = self.script.events[edit.event]
        what = f"line {event.line} ({_event_text(self.script, event)})"
        if isinstance(edit, ShiftEvent):
            return f"{edit.delta_us / 1000:+g} ms on {what}"
        if isinstance(edit, DropInbound):
            return f"drop {what}"
        return f"{what} arrives {_ordinal(edit.position + 1)}"

    def _show_script(self) -> None:
        try:
            text = self.edited_text()
        except Exception as error:  # the preview must not hide the controls; say why
            text = f"(cannot print the edited script: {error})"
        self.script_view.value = (
            "<details open><summary>The script Run runs</summary>"
            f"{scrolling_pre(text)}</details>"
        )

    def _make_shift_boxes(self) -> dict[int, widgets.BoundedFloatText]:
        boxes: dict[int, widgets.BoundedFloatText] = {}
        for index, event in enumerate(self.script.events):
            if event.time.kind is TimeKind.ANY:
                continue  # `*` has no time to shift
            boxes[index] = widgets.BoundedFloatText(
                value=0.0, min=-3_600_000.0, max=3_600_000.0, step=1.0,
                layout=widgets.Layout(width="120px"),
            )
        return boxes

    # ---------------------------------------------------------------- widgets -> actions

    def _record(self, *edits: PacketEdit) -> None:
        try:
            for edit in edits:
                self.history.add(edit)
        finally:
            self._sync()

    def _on_order_changed(self, change: Any) -> None:
        if self._syncing:
            return
        wanted = tuple(self._event_of_tag[t] for t in change["new"] if t in self._event_of_tag)
        self._guarded(lambda: self._record(*moves_between(self.history.state.order, wanted)))

    def _shift_observer(self, event: int) -> Callable[[Any], None]:
        def observe(change: Any) -> None:
            if self._syncing:
                return
            delta = round(change["new"] * 1000) - self.history.state.shift_of(event)
            if delta:
                self._guarded(lambda: self._record(ShiftEvent(event, delta)))

        return observe

    # ---------------------------------------------------------------- callbacks

    def _on_run_clicked(self, _button: Any) -> None:
        self._guarded(self.run)

    def _on_undo_clicked(self, _button: Any) -> None:
        self._guarded(self.undo)

    def _on_reset_clicked(self, _button: Any) -> None:
        self._guarded(self.reset)

    def _guarded(self, action: Callable[[], object]) -> None:
        """Run a callback; show its error in the output area (never swallow it)."""
        self.errors.clear_output()
        try:
            action()
        except DrillbookError as error:
            self.errors.append_stdout(error.render() + "\n")
        except Exception:
            self.errors.append_stderr(traceback.format_exc())


def _run_panel(result: DrillResult, script_text: str) -> str:
    """One run: its banner and figures, then the script that ran (folded)."""
    return (
        f"{result.html()}\n<details><summary>The script that ran</summary>"
        f"{scrolling_pre(script_text)}</details>"
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


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

