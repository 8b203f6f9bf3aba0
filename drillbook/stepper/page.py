"""The stepper as one piece of HTML: the sequence diagram, a slider and buttons over its rows, a
highlight on the current row, and the socket at that row beside it.

Everything is precomputed: each row's panel is written into the page (hidden but the current
one) and the script only shows one and moves the highlight. The script is plain inline
JavaScript and the diagram a data URI, so the same HTML works in a notebook and in an exported
lesson with no kernel and no network.

Keys: ←/→ (or ↑/↓) step, PageUp/PageDown ten at a time, Home/End jump, once the stepper
has the focus (click it or Tab to it). In JupyterLab ↑/↓/→ are also command-mode shortcuts
(select the cell below, expand a heading): the stepper handles those keys itself and marks
them handled (``preventDefault``, which JupyterLab's shortcut handling respects), stops them
there, and carries ``data-lm-suppress-shortcuts`` as drillbook's variants slider does.
"""

from __future__ import annotations

import base64
import html
import uuid
from collections.abc import Sequence

from drillbook.jupyter.frames import SCROLL_FRAME
from drillbook.render.row_boxes import RowBox, SequenceImage
from drillbook.stepper.model import Scoreboard, SocketView, StepView

__all__ = ["stepper_html"]

STYLE = """
.drillbook-stepper{font-family:sans-serif;font-size:13px;border:1px solid #ccc;border-radius:4px;
padding:6px;max-width:100%;box-sizing:border-box;outline:none}
.drillbook-stepper:focus-within{border-color:#1565c0;box-shadow:0 0 0 1px #1565c0}
.drillbook-stepper .dbs-controls{display:flex;align-items:center;gap:6px;flex-wrap:wrap}
.drillbook-stepper button{border:1px solid #999;background:#f4f4f4;border-radius:3px;
padding:2px 8px;cursor:pointer}
.drillbook-stepper input[type=range]{flex:1 1 12em;min-width:8em}
.drillbook-stepper .dbs-position{font-family:monospace;white-space:nowrap}
.drillbook-stepper .dbs-frame{overflow:auto;max-height:24em;margin:6px 0;border:1px solid #eee;
max-width:100%;contain:inline-size}
.drillbook-stepper .dbs-canvas{position:relative;cursor:pointer}
.drillbook-stepper .dbs-canvas img{display:block;width:100%;max-width:none}
.drillbook-stepper .dbs-mark{position:absolute;background:rgba(255,193,7,.25);
border:2px solid #e69f00;border-radius:3px;pointer-events:none;box-sizing:border-box}
.drillbook-stepper section[hidden]{display:none}
.drillbook-stepper .dbs-event{font-family:monospace;font-weight:bold;overflow-wrap:anywhere}
.drillbook-stepper .dbs-why{background:#fff8e1;border-left:3px solid #e69f00;padding:3px 6px;
margin:4px 0}
.drillbook-stepper .dbs-why code{font-family:monospace}
.drillbook-stepper table.dbs-socket{border-collapse:collapse;margin:4px 0!important;
width:auto!important;table-layout:auto!important}
.drillbook-stepper table.dbs-socket tr{background:none!important}
.drillbook-stepper table.dbs-socket th,.drillbook-stepper table.dbs-socket td{
text-align:left!important;vertical-align:top!important;padding:1px 14px 1px 0!important}
.drillbook-stepper table.dbs-socket th{font-weight:normal;color:#555;white-space:nowrap}
.drillbook-stepper table.dbs-socket td{font-family:monospace}
.drillbook-stepper .dbs-changed{background:#e3f2fd;font-weight:bold}
.drillbook-stepper .dbs-board{position:relative;height:14px;background:#fde0dc;
border:1px solid #c62828;margin:2px 0;max-width:36em}
.drillbook-stepper .dbs-board span{position:absolute;top:0;bottom:0;background:#7b1fa2}
.drillbook-stepper .dbs-note{color:#666;font-size:92%}
"""

SCRIPT = """
(function () {
  var root = document.currentScript ? document.currentScript.parentElement : null;
  if (!root || !root.classList.contains("drillbook-stepper")) {
    root = document.getElementById(%(id)s);
  }
  if (!root || root.dataset.ready) { return; }
  root.dataset.ready = "1";
  var sections = root.querySelectorAll("section[data-index]");
  var slider = root.querySelector("input[type=range]");
  var mark = root.querySelector(".dbs-mark");
  var frame = root.querySelector(".dbs-frame");
  var canvas = root.querySelector(".dbs-canvas");
  var position = root.querySelector(".dbs-position");
  var count = sections.length;
  function box(i) { return sections[i].dataset.box.split(",").map(parseFloat); }
  function show(i) {
    i = Math.max(0, Math.min(count - 1, i));
    for (var k = 0; k < count; k++) { sections[k].hidden = k !== i; }
    var b = box(i);
    mark.style.left = (100 * b[0]) + "%%";
    mark.style.top = (100 * b[1]) + "%%";
    mark.style.width = (100 * b[2]) + "%%";
    mark.style.height = (100 * b[3]) + "%%";
    slider.value = String(i);
    root.dataset.current = String(i);
    position.textContent = "event " + (i + 1) + " of " + count;
    var top = b[1] * canvas.offsetHeight, bottom = (b[1] + b[3]) * canvas.offsetHeight;
    if (top < frame.scrollTop || bottom > frame.scrollTop + frame.clientHeight) {
      frame.scrollTop = Math.max(0, top - frame.clientHeight / 3);
    }
  }
  function current() { return parseInt(root.dataset.current, 10); }
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  root.querySelectorAll("button[data-go]").forEach(function (button) {
    button.addEventListener("click", function () {
      var go = button.dataset.go;
      show(go === "first" ? 0 : go === "last" ? count - 1 : current() + parseInt(go, 10));
    });
  });
  canvas.addEventListener("click", function (event) {
    var rect = canvas.getBoundingClientRect();
    var y = (event.clientY - rect.top) / rect.height;
    for (var k = 0; k < count; k++) {
      var b = box(k);
      if (y >= b[1] && y <= b[1] + b[3]) { show(k); root.focus(); return; }
    }
  });
  var steps = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, PageDown: 10,
               PageUp: -10};
  root.addEventListener("keydown", function (event) {
    var target = null;
    if (event.key in steps) { target = current() + steps[event.key]; }
    else if (event.key === "Home") { target = 0; }
    else if (event.key === "End") { target = count - 1; }
    if (target === null) { return; }
    // Keep the key from JupyterLab's notebook shortcuts and from scrolling the page.
    event.preventDefault();
    event.stopPropagation();
    show(target);
  });
  show(current());
})();
"""


def _row(name: str, value: str, changed: bool) -> str:
    cls = ' class="dbs-changed"' if changed else ""
    return f"<tr><th>{html.escape(name)}</th><td{cls}>{html.escape(value)}</td></tr>"


def _socket_rows(socket: SocketView, before: SocketView | None) -> list[tuple[str, str, bool]]:
    def pair(*names: str) -> tuple[str, ...]:
        return tuple(str(getattr(socket, n)) for n in names)

    def changed(*names: str) -> bool:
        return before is not None and any(getattr(before, n) != getattr(socket, n)
                                          for n in names)

    return [
        ("TCP state", socket.state, changed("state")),
        ("congestion state", socket.ca_state, changed("ca_state")),
        ("cwnd / ssthresh", "{} / {} packets".format(*pair("cwnd", "ssthresh")),
         changed("cwnd", "ssthresh")),
        ("srtt / rttvar", "{} / {}".format(*pair("srtt", "rttvar")), changed("srtt", "rttvar")),
        ("RTO", socket.rto, changed("rto")),
        ("packets in flight",
         f"{socket.packets_in_flight} (unacked {socket.unacked}, SACKed {socket.sacked}, "
         f"lost {socket.lost}, retransmitted {socket.retrans})",
         changed("unacked", "sacked", "lost", "retrans")),
    ]


def _scoreboard(board: Scoreboard) -> str:
    span = max(1, board.right - board.left)
    blocks = "".join(
        f'<span style="left:{100 * (s - board.left) / span:.2f}%;'
        f'width:{100 * (e - s) / span:.2f}%" title="{s}:{e}"></span>'
        for s, e in board.blocks)
    ranges = " ".join(f"{s}:{e}" for s, e in board.blocks) or "none"
    return (f'<div class="dbs-note">{html.escape(board.title)}: {board.left}:{board.right} '
            f'({board.right - board.left} bytes), SACKed {html.escape(ranges)}</div>'
            f'<div class="dbs-board">{blocks}</div>')


def _why(view: StepView) -> str:
    parts = []
    for explanation in view.explanations:
        keys = explanation.keys()
        keys_html = f"<code>{html.escape(keys)}</code> — " if keys else ""
        parts.append(f'<div class="dbs-why">why: {keys_html}{html.escape(explanation.sentence)}'
                     "</div>")
    return "".join(parts)


def _panel(view: StepView, before: StepView | None, box: RowBox) -> str:
    head = (f'<div><span class="dbs-note">line {view.line if view.line is not None else "—"}'
            f' · {html.escape(view.time)}</span> '
            f'<span class="dbs-event">{html.escape(view.event)}</span></div>')
    rows: list[tuple[str, str, bool]] = []
    if view.socket is not None:
        rows += _socket_rows(view.socket, before.socket if before else None)
    if view.bytes_outstanding or (before is not None and before.bytes_outstanding):
        rows.append(("bytes in flight",
                     f"{view.bytes_in_flight} ({view.bytes_outstanding} sent, not yet "
                     "acknowledged, less what the peer SACKed)",
                     before is not None and before.bytes_in_flight != view.bytes_in_flight))
    if view.counters:
        since = (f" (since line {view.counters_since_line})"
                 if view.counters_since_line is not None and view.counters_since_line
                 != view.line else "")
        rows.append(("counters" + since,
                     ", ".join(f"{d.name} +{d.delta}" for d in view.counters), False))
    table = "".join(_row(name, value, changed) for name, value, changed in rows)
    body = f'<table class="dbs-socket">{table}</table>' if table else ""
    if view.socket is None:
        body = '<div class="dbs-note">no socket under test yet</div>' + body
    elif view.snapshot_line is not None and view.snapshot_line != view.line:
        body += f'<div class="dbs-note">TCP_INFO as after line {view.snapshot_line}</div>'
    boards = "".join(_scoreboard(b) for b in (view.send_scoreboard, view.receive_scoreboard)
                     if b is not None)
    coords = ",".join(f"{v:.5f}" for v in (box.left, box.top, box.width, box.height))
    hidden = "" if view.row == 0 else " hidden"
    return (f'<section data-index="{view.row}" data-box="{coords}"{hidden}>'
            f"{head}{_why(view)}{body}{boards}</section>")


def stepper_html(image: SequenceImage, views: Sequence[StepView], *, title: str = "") -> str:
    """The stepper over ``views`` (one per row of ``image``'s diagram)."""
    if len(views) != len(image.boxes):
        raise ValueError(f"{len(views)} views for {len(image.boxes)} rows")
    if not views:
        return '<div class="drillbook-stepper">no events to step through</div>'
    ident = f"drillbook-stepper-{uuid.uuid4().hex[:12]}"
    encoded = base64.b64encode(image.data).decode("ascii")
    panels = "".join(_panel(view, views[i - 1] if i else None, image.boxes[i])
                     for i, view in enumerate(views))
    label = html.escape(title or "Step through the run")
    first = image.boxes[0]
    mark = (f"left:{100 * first.left:.3f}%;top:{100 * first.top:.3f}%;"
            f"width:{100 * first.width:.3f}%;height:{100 * first.height:.3f}%")
    return (
        f'<div class="drillbook-stepper" id="{ident}" data-current="0" tabindex="0" '
        f'data-lm-suppress-shortcuts="true" role="group" aria-label="{label}">'
        f"<style>{STYLE}</style>"
        '<div class="dbs-controls">'
        '<button type="button" data-go="first" title="first event (Home)">◀◀</button>'
        '<button type="button" data-go="-1" title="previous event (←)">◀</button>'
        f'<input type="range" min="0" max="{len(views) - 1}" step="1" value="0" '
        f'data-lm-suppress-shortcuts="true" aria-label="event">'
        '<button type="button" data-go="+1" title="next event (→)">▶</button>'
        '<button type="button" data-go="last" title="last event (End)">▶▶</button>'
        f'<span class="dbs-position">event 1 of {len(views)}</span></div>'
        f'<div class="dbs-frame {SCROLL_FRAME}">'
        f'<div class="dbs-canvas" style="width:{image.width_px}px">'
        f'<img alt="sequence diagram" src="data:{image.mime};base64,{encoded}"/>'
        f'<div class="dbs-mark" style="{mark}"></div></div></div>'
        f'<div class="dbs-panels">{panels}</div>'
        f"<script>{SCRIPT % {'id': repr(ident)}}</script></div>"
    )
