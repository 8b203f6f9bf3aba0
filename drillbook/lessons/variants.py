"""Precomputed variants: several runs' figures behind buttons and a slider, no kernel needed.

An exported lesson cannot re-run a script (there is no kernel behind a static page, and widget
state does not survive export: nbconvert #1214). So a lab runs the variants an exercise asks
about while it executes (each reordering, each timing) and shows them with a
:class:`VariantPlayer`: plain HTML with the figures inline as data URIs, a few lines of inline
JavaScript and CSS, nothing fetched from the network. Without JavaScript the first figure stays
visible: it is the static fallback.

The URL fragment selects a variant too: ``lesson.html#<name>=2`` shows the third one, so a
course author can link to it (and a browser test can operate the control without clicking).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drillbook.jupyter.frames import SCROLL_FRAME
from drillbook.trace.model import Trace

__all__ = ["Variant", "VariantPlayer", "player_id", "variant_image", "variants"]


@dataclass(frozen=True)
class Variant:
    """One precomputed figure: ``label`` names it on its button."""

    label: str
    image: bytes = field(repr=False)
    mime: str = "image/png"
    caption: str = ""

    def data_uri(self) -> str:
        """The image inline, so the page needs nothing else to show it."""
        return f"data:{self.mime};base64,{base64.b64encode(self.image).decode('ascii')}"

    @property
    def digest(self) -> str:
        """A short fingerprint of the image (tests use it to see which figure is shown)."""
        return hashlib.sha1(self.image).hexdigest()[:12]


def player_id(name: str) -> str:
    """The element id of the player called ``name`` (letters, digits and dashes only)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"drillbook-variants-{slug or 'player'}"


_STYLE = """
.drillbook-variants{border:1px solid #ccc;border-radius:6px;padding:8px;margin:6px 0;
font-family:sans-serif}
.drillbook-variants .dbv-title{font-weight:bold;margin-bottom:4px}
.drillbook-variants .dbv-controls{display:flex;flex-wrap:wrap;gap:4px;align-items:center}
.drillbook-variants button{border:1px solid #888;border-radius:4px;background:#f4f4f4;
padding:2px 8px;cursor:pointer;font-family:monospace}
.drillbook-variants button[aria-pressed=true]{background:#1565c0;color:#fff;border-color:#1565c0}
.drillbook-variants input[type=range]{width:12em}
.drillbook-variants figure{margin:6px 0;overflow-x:auto;max-width:100%;contain:inline-size}
.drillbook-variants figure[hidden]{display:none}
.drillbook-variants img{max-width:none;display:block}
.drillbook-variants figcaption{font-size:90%;color:#444}
"""

# Plain ES5, no modules, no external code: it must run in a static page and in JupyterLab.
_SCRIPT = """
(function () {
  var root = document.getElementById(%(id)s);
  if (!root || root.getAttribute("data-ready")) { return; }
  root.setAttribute("data-ready", "1");
  var figures = root.querySelectorAll("figure[data-index]");
  var buttons = root.querySelectorAll("button[data-index]");
  var slider = root.querySelector("input[type=range]");
  var label = root.querySelector(".dbv-label");
  function show(index) {
    index = Math.max(0, Math.min(figures.length - 1, index | 0));
    for (var i = 0; i < figures.length; i++) { figures[i].hidden = (i !== index); }
    for (var j = 0; j < buttons.length; j++) {
      buttons[j].setAttribute("aria-pressed", String(j === index));
    }
    if (slider) { slider.value = String(index); }
    if (label) { label.textContent = figures[index].getAttribute("data-label"); }
    root.setAttribute("data-current", String(index));
  }
  for (var k = 0; k < buttons.length; k++) {
    buttons[k].addEventListener("click", function () {
      show(parseInt(this.getAttribute("data-index"), 10));
    });
  }
  if (slider) {
    slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
    // In JupyterLab the arrow keys are notebook shortcuts (select the cell above/below), and a
    // matched shortcut cancels the key's default action, so the slider never moved. The
    // attribute data-lm-suppress-shortcuts (on the element) tells JupyterLab to leave keys
    // pressed here alone; keeping them from bubbling does the same in other front-ends.
    slider.addEventListener("keydown", function (event) {
      if (/^Arrow|^Page|^Home$|^End$/.test(event.key)) { event.stopPropagation(); }
    });
  }
  function fromFragment() {
    var parts = window.location.hash.replace(/^#/, "").split("&");
    for (var p = 0; p < parts.length; p++) {
      var pair = parts[p].split("=");
      if (pair.length === 2 && pair[0] === %(name)s && /^[0-9]+$/.test(pair[1])) {
        show(parseInt(pair[1], 10));
        root.scrollIntoView();
      }
    }
  }
  window.addEventListener("hashchange", fromFragment);
  fromFragment();
})();
"""


@dataclass(frozen=True)
class VariantPlayer:
    """Figures of precomputed runs, switchable with buttons (and a slider when there are many)."""

    name: str
    variants: tuple[Variant, ...]
    title: str = ""
    slider: bool = True

    @property
    def element_id(self) -> str:
        """The player's element id in the page."""
        return player_id(self.name)

    @property
    def fragment_name(self) -> str:
        """The key used in the URL fragment: ``#<fragment_name>=<index>``."""
        return self.element_id.removeprefix("drillbook-variants-")

    def html(self) -> str:
        """The player: style, controls, every figure inline, the script that switches them."""
        if not self.variants:
            return "<p><em>(no variants)</em></p>"
        element = html.escape(self.element_id)
        parts = [
            f'<div class="drillbook-variants" id="{element}" data-current="0">',
            f"<style>{_STYLE}</style>",
        ]
        if self.title:
            parts.append(f'<div class="dbv-title">{html.escape(self.title)}</div>')
        parts.append(self._controls())
        parts.extend(self._figure(i, v) for i, v in enumerate(self.variants))
        script = _SCRIPT % {
            "id": json.dumps(self.element_id),
            "name": json.dumps(self.fragment_name),
        }
        parts.append(f"<script>{script}</script>")
        parts.append("</div>")
        return "\n".join(parts)

    def _controls(self) -> str:
        buttons = "".join(
            f'<button type="button" data-index="{i}" aria-pressed="{str(i == 0).lower()}">'
            f"{html.escape(v.label)}</button>"
            for i, v in enumerate(self.variants)
        )
        slider = ""
        if self.slider and len(self.variants) > 2:
            slider = (
                f'<input type="range" min="0" max="{len(self.variants) - 1}" step="1" '
                f'value="0" data-lm-suppress-shortcuts="true" '
                f'aria-label="{html.escape(self.title or self.name)}">'
            )
        first = html.escape(self.variants[0].label)
        return (
            f'<div class="dbv-controls" role="group">{buttons}{slider}'
            f'<span class="dbv-label">{first}</span></div>'
        )

    @staticmethod
    def _figure(index: int, variant: Variant) -> str:
        hidden = " hidden" if index else ""
        label = html.escape(variant.label)
        caption = ""
        if variant.caption:
            caption = f"<figcaption>{html.escape(variant.caption)}</figcaption>"
        return (
            f'<figure class="{SCROLL_FRAME}" data-index="{index}" data-label="{label}" '
            f'data-digest="{variant.digest}"{hidden}>'
            f'<img alt="{label}" src="{variant.data_uri()}"/>{caption}</figure>'
        )

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        labels = ", ".join(v.label for v in self.variants)
        return f"VariantPlayer({self.name!r}: {labels})"


def variant_image(value: Any, *, dpi: int = 80) -> tuple[bytes, str]:
    """PNG (or SVG) bytes for a ``%%drill`` result, a Trace, a matplotlib Figure or raw bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value), "image/png"
    images = getattr(value, "images", None)
    if images:
        first = images[0]
        return bytes(first.data), str(first.mime)
    figure = value
    trace = value if isinstance(value, Trace) else getattr(value, "trace", None)
    if isinstance(trace, Trace):
        from drillbook.render import figure_for

        figure = figure_for(trace)
    if not hasattr(figure, "savefig"):
        raise TypeError(f"cannot make a figure of {type(value).__name__}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue(), "image/png"


def variants(
    name: str,
    runs: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    title: str = "",
    captions: Mapping[str, str] | None = None,
    slider: bool = True,
) -> VariantPlayer:
    """A player over precomputed runs: ``{label: result_or_figure}``, shown in that order."""
    items = runs.items() if isinstance(runs, Mapping) else runs
    made = []
    for label, value in items:
        image, mime = variant_image(value)
        caption = (captions or {}).get(label, "")
        made.append(Variant(label=label, image=image, mime=mime, caption=caption))
    return VariantPlayer(name=name, variants=tuple(made), title=title, slider=slider)
