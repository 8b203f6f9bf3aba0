"""Keep an exported lesson offline: find and strip anything that would fetch from the network.

A lesson must open on a laptop with no network (the nbconvert complaints #754, #1770): no
``<script src="https://...">`` (require.js, MathJax, widget managers from a CDN), no
stylesheet ``<link>`` or ``@import`` of a remote URL. The exporter's template leaves those out
already; :func:`strip_network_resources` is the safety net, :func:`network_resources` the
test. Pure string functions, no HTML parser needed for tags this regular.
"""

from __future__ import annotations

import re

__all__ = ["network_resources", "strip_network_resources"]

_REMOTE = r"""(?:https?:)?//"""
_SCRIPT_SRC = re.compile(
    rf"""<script\b[^>]*\bsrc\s*=\s*["']?{_REMOTE}[^>]*>\s*</script\s*>""", re.IGNORECASE
)
_LINK_HREF = re.compile(
    rf"""<link\b(?=[^>]*\brel\s*=\s*["']?(?:stylesheet|preload|modulepreload|icon))"""
    rf"""[^>]*\bhref\s*=\s*["']?{_REMOTE}[^>]*>""",
    re.IGNORECASE,
)
_CSS_IMPORT = re.compile(rf"""@import\s+(?:url\()?\s*["']?{_REMOTE}[^;]*;""", re.IGNORECASE)
_DYNAMIC_IMPORT = re.compile(rf"""\bimport\(\s*["']{_REMOTE}[^"']*["']\s*\)""")
_IMG_REMOTE = re.compile(rf"""<img\b[^>]*\bsrc\s*=\s*["']?{_REMOTE}[^>]*>""", re.IGNORECASE)

_PATTERNS = (_SCRIPT_SRC, _LINK_HREF, _CSS_IMPORT, _DYNAMIC_IMPORT, _IMG_REMOTE)


def network_resources(page: str) -> list[str]:
    """Every tag or statement in ``page`` that would load something from the network."""
    return [match.group(0) for pattern in _PATTERNS for match in pattern.finditer(page)]


def strip_network_resources(page: str) -> str:
    """``page`` without remote scripts, stylesheets, imports or images."""
    for pattern in _PATTERNS:
        page = pattern.sub("", page)
    return page
