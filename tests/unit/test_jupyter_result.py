"""DrillResult's display and the controls' edits, without the kernel.

The traces are the hand-built seed traces (tests/unit/trace_fixtures.py); figures are really
drawn by drillbook.render. The controls get a runner that returns such a result, so that the
widget side (order, times, redraw in place, errors shown) is checked without root; the real
re-run in a namespace is tests/kernel/test_jupyter_controls.py.
"""

from __future__ import annotations

import base64
import functools

import pytest
from test_jupyter_explore import SACK, _script
from trace_fixtures import sack_mismatch_trace, sack_trace

from drillbook.config import RunConfig
from drillbook.errors import ScriptSyntaxError
from drillbook.jupyter.controls import DrillControls
from drillbook.jupyter.result import DrillResult
from drillbook.jupyter.runner import RunRequest, render_images
from drillbook.script.edits import inbound_indices
from drillbook.script.model import PacketSpec, Script, TcpSpec


@functools.cache
def _result(trace_kind: str = "pass", image_format: str = "svg") -> DrillResult:
    trace = sack_trace() if trace_kind == "pass" else sack_mismatch_trace()
    images = render_images(trace, ("sequence", "sack"), image_format=image_format)
    return DrillResult(script=_script(), trace=trace, images=images)


@pytest.mark.parametrize("image_format", ["svg", "png"])
def test_mimebundle_has_verdict_html_and_an_image(image_format: str) -> None:
    result = _result(image_format=image_format)
    bundle = result._repr_mimebundle_()
    assert bundle["text/plain"].startswith("PASS cell")
    mime = {"svg": "image/svg+xml", "png": "image/png"}[image_format]
    assert mime in bundle
    html = bundle["text/html"]
    assert "drillbook-verdict" in html
    assert f'src="data:{mime};base64,' in html  # embedded: survives export
    if image_format == "png":
        assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    else:
        assert "<svg" in bundle["image/svg+xml"]


def test_failed_result_shows_the_failure_first() -> None:
    result = _result("fail")
    assert not result.passed
    assert repr(result).startswith("FAIL cell:24:1: error handling packet")
    assert result.html().index("FAIL cell:24") < result.html().index("<img")


def test_no_figures() -> None:
    assert render_images(sack_trace(), ()) == ()


def test_figures_gives_a_matplotlib_figure() -> None:
    figure = _result().figures(("sack",))
    assert len(figure.axes) >= 1


class _Recorder:
    """A runner that records the scripts it is given and answers with a fixture result."""

    def __init__(self) -> None:
        self.scripts: list[Script] = []

    def __call__(self, script: Script) -> DrillResult:
        self.scripts.append(script)
        if len(self.scripts) == 3:
            raise ScriptSyntaxError("boom", source=script.source)
        return DrillResult(script=script, trace=sack_trace(), images=_result().images)


def _data_starts(script: Script) -> list[int]:
    starts = []
    for index in inbound_indices(script):
        action = script.events[index].action
        assert isinstance(action, PacketSpec) and isinstance(action.body, TcpSpec)
        if action.body.payload_len:
            starts.append(action.body.start_seq)
    return starts


def test_controls_turn_order_and_times_into_edits_and_redraw_in_place() -> None:
    runner = _Recorder()
    controls = DrillControls(_script(), RunConfig(), RunRequest(), runner=runner)
    assert len(controls.inbound_tags) == 10
    assert controls.inbound_tags[9] == "#10 . 1001:2001(1000)"
    assert controls.edits() == ()
    first = controls.run()
    current_panel = controls.current_panel
    assert controls.current_panel.value.startswith(first.html())
    assert len(controls.results.children) == 1  # no empty "previous run" before a second
    bundle = controls._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == first.html()  # an export without widget state shows this

    controls.set_order([0, 1, 9, 2, 3, 5, 6, 7, 8])  # segment 2 first, 4001:5001 dropped
    controls.set_time(8, 200_000)  # on packet #3, which the new order moves a slot later
    assert [type(e).__name__ for e in controls.history.edits] == [
        "DropInbound", "MoveInbound", "ShiftEvent"]
    assert [type(e).__name__ for e in controls.edits()] == [
        "DropEvent", "ReorderInbound", "ShiftTime"]
    edited = controls.edited_script()
    assert _data_starts(edited) == [1001, 1, 2001, 5001, 7001, 3001, 6001]
    moved = next(e for e in edited.events if e.action == controls.script.events[8].action)
    assert moved.time.start_us == 200_000  # the time went with the packet (issue 13)
    assert edited.events[8].time == controls.script.events[8].time  # not with its old slot
    controls.run()
    assert runner.scripts[-1] == edited
    assert controls.previous is first
    assert controls.current_panel is current_panel  # same widget, new value: no flicker
    assert controls.previous_panel.value.startswith(first.html())
    assert [controls.results.get_title(i) for i in range(3)] == [
        "This run", "Previous run", "Differences"]
    assert "previous run: PASS" in controls.differences_panel.value

    controls.run_button.click()  # the third run raises: shown in the output, not lost
    assert "boom" in controls.errors.outputs[0]["text"]
    assert controls.runs == 2

    assert controls.undo() is not None and len(controls.history.edits) == 2
    controls.reset()
    assert controls.edits() == ()


def test_controls_show_the_edited_script_text() -> None:
    controls = DrillControls(_script(), RunConfig(), RunRequest(), runner=_Recorder())
    controls.set_order([0, 1, 9, 2, 3, 4, 5, 6, 7, 8])
    assert "1001:2001" in controls.script_view.value
    first_event = next(line for line in SACK.splitlines() if not line.startswith("//"))
    assert first_event.split()[1] in controls.script_view.value


def test_figure_pool_draws_the_same_panels_as_the_kernel() -> None:
    from drillbook.jupyter.figures import FigurePool

    trace = sack_trace()
    pool = FigurePool()
    try:
        parallel = pool.render(trace, None)
        serial = render_images(trace, None)
        assert [(i.mime, i.title) for i in parallel] == [(i.mime, i.title) for i in serial]
        assert [i.title for i in parallel] == [
            "drillbook: sequence", "drillbook: sack", "drillbook: time-sequence",
            "drillbook: window",
        ]
        assert all(b"<svg" in image.data for image in parallel)
        pool.close()  # a closed pool starts again on the next render
        assert len(pool.render(trace, ("sack", "window"), image_format="png")) == 2
    finally:
        pool.close()
