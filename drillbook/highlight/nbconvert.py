"""nbconvert's side of ``%%drill`` highlighting: map the magic to the ``packetdrill`` lexer.

nbconvert's ``HighlightMagicsPreprocessor`` (on in its HTML exporters) gives a cell that starts
with a known cell magic the Pygments lexer named for that magic; ``%%drill`` is not one of its
defaults. ``drillbook export`` passes :data:`HIGHLIGHT_MAGICS_CONFIG`; for plain ``jupyter
nbconvert`` the package installs the same setting as ``etc/jupyter/jupyter_nbconvert_config.json``
in its environment (``drillbook/highlight/jupyter_nbconvert_config.json``, a test checks the
two agree), which every nbconvert run there reads; JupyterLab's export menu, which runs
nbconvert inside the server, gets it from :mod:`drillbook.highlight.server`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HIGHLIGHT_MAGICS_CONFIG", "MAGIC", "LEXER_ALIAS"]

MAGIC = "%%drill"
LEXER_ALIAS = "packetdrill"

HIGHLIGHT_MAGICS_CONFIG: dict[str, Any] = {
    "HighlightMagicsPreprocessor": {"languages": {MAGIC: LEXER_ALIAS}},
}
