"""Turn an executed lab notebook into one self-contained HTML lesson (nbconvert).

What the lesson guarantees:
- figures inline: ``%%drill`` figures are PNG outputs, which nbconvert writes as data URIs;
  images attached to markdown are embedded too (``embed_images``);
- nothing fetched from the network: the template leaves out require.js, MathJax, Mermaid and
  the widget manager (all CDN scripts in nbconvert's ``lab`` template), and
  :mod:`drillbook.lessons.offline` strips anything remote that a cell output brought in;
- scripts coloured: ``%%drill`` cells are highlighted by drillbook's Pygments lexer
  (:mod:`drillbook.highlight`), with JupyterLab's colours for each kind of token;
- solutions hidden: cells tagged ``solution`` (or ``remove-cell``) are removed; their effect
  stays, since the notebook was executed with them;
- interactivity without a kernel comes from :mod:`drillbook.lessons.variants` players, which
  are plain HTML and inline JavaScript in the outputs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from jinja2 import DictLoader
from nbconvert import HTMLExporter as _HTMLExporter
from nbconvert.preprocessors import HighlightMagicsPreprocessor as _HighlightMagicsPreprocessor
from nbconvert.preprocessors import TagRemovePreprocessor as _TagRemovePreprocessor

from drillbook.highlight.nbconvert import HIGHLIGHT_MAGICS_CONFIG
from drillbook.highlight.vocabulary import css_rules
from drillbook.lessons.execute import LessonError
from drillbook.lessons.offline import network_resources, strip_network_resources

# nbconvert is untyped: going through Any keeps mypy --strict quiet at the call sites.
HTMLExporter: Any = _HTMLExporter
TagRemovePreprocessor: Any = _TagRemovePreprocessor
HighlightMagicsPreprocessor: Any = _HighlightMagicsPreprocessor

__all__ = ["HIDDEN_TAGS", "LESSON_TEMPLATE", "lesson_html"]

HIDDEN_TAGS = frozenset({"solution", "remove-cell"})
"""Cells with one of these tags are not part of the lesson."""

# nbconvert's lab template with its CDN script blocks emptied (see the module docstring).
LESSON_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style type="text/css">
DRILLBOOK_HIGHLIGHT_CSS</style>{%- endblock html_head_css -%}
""".replace("DRILLBOOK_HIGHLIGHT_CSS", css_rules())

_TEMPLATE_FILE = "drillbook_lesson.html.j2"


def _exporter() -> Any:
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_FILE: LESSON_TEMPLATE})],
        embed_images=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.template_file = _TEMPLATE_FILE
    remover = TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_TAGS), enabled=True)
    exporter.register_preprocessor(remover, enabled=True)
    # %%drill cells get the packetdrill lexer whatever the environment's nbconvert config says.
    languages = HIGHLIGHT_MAGICS_CONFIG["HighlightMagicsPreprocessor"]["languages"]
    exporter.register_preprocessor(HighlightMagicsPreprocessor(languages=languages), enabled=True)
    return exporter


def _assume_ipython(metadata: Any) -> None:
    """Say the Python cells are IPython's where the notebook does not (a notebook saved
    without a kernel run has ``language_info: {name: python}`` only): nbconvert picks a cell
    magic's lexer, ``%%drill``'s included, only for IPython cells."""
    kernel_language = metadata.get("kernelspec", {}).get("language", "python")
    language_info = metadata.setdefault("language_info", {"name": kernel_language})
    if kernel_language == "python" and language_info.get("name", "python") == "python":
        language_info.setdefault("pygments_lexer", "ipython3")


def lesson_html(notebook: Any, *, title: str, resources_path: Path | None = None) -> str:
    """The HTML lesson for an executed ``notebook`` (which is not modified)."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)  # widget state would pull the manager from a CDN
    notebook.metadata["title"] = title
    _assume_ipython(notebook.metadata)
    resources: dict[str, Any] = {"metadata": {"name": title}}
    if resources_path is not None:
        resources["metadata"]["path"] = str(resources_path)
    body, _ = _exporter().from_notebook_node(notebook, resources=resources)
    page = strip_network_resources(str(body))
    left = network_resources(page)
    if left:
        raise LessonError(f"{title}: the lesson would still load from the network: {left[0]}")
    return page
