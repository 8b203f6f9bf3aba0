"""``%%drill`` highlighting in JupyterLab's own export (File > Save and Export Notebook As).

That menu runs nbconvert inside the Jupyter server, with the server's configuration, which
does not read ``jupyter_nbconvert_config.json``. This server extension, enabled by the
``etc/jupyter/jupyter_server_config.d/drillbook.json`` the package installs, adds drillbook's
``%%drill`` -> ``packetdrill`` mapping to the server's configuration when the server starts
(a mapping the user configured for ``%%drill`` wins).
"""

from __future__ import annotations

from typing import Any

from drillbook.highlight.nbconvert import HIGHLIGHT_MAGICS_CONFIG

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]

_SECTION = "HighlightMagicsPreprocessor"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "drillbook.highlight.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    section = serverapp.config[_SECTION]  # traitlets makes the section when it is missing
    ours = HIGHLIGHT_MAGICS_CONFIG[_SECTION]["languages"]
    theirs = dict(section["languages"]) if "languages" in section else {}
    section["languages"] = {**ours, **theirs}
