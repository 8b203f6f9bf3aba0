"""drillbook: packetdrill scripts against the real Linux kernel, in Jupyter and on the shell.

``drillbook.parse(text_or_path, **flags)`` and ``drillbook.run(text_or_path, **flags)`` are the
Python API (drillbook.api). What they use is imported when they are called, so that ``import
drillbook`` stays light: it must not pull in matplotlib, IPython, ipywidgets or pyroute2 (a test
enforces this).
"""

from __future__ import annotations

from typing import Any

from drillbook.api import parse, run
from drillbook.errors import (
    DrillbookError,
    RunAborted,
    SandboxError,
    ScriptError,
    ScriptSemanticError,
    ScriptSyntaxError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "DrillbookError",
    "RunAborted",
    "SandboxError",
    "ScriptError",
    "ScriptSemanticError",
    "ScriptSyntaxError",
    "UsageError",
    "__version__",
    "load_ipython_extension",
    "parse",
    "run",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext drillbook`` registers ``%%drill`` and ``%drill``."""
    from drillbook.jupyter.magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext drillbook``: stop what the extension started (figure helper processes)."""
    from drillbook.jupyter.magic import unload_ipython_extension as _unload

    _unload(ipython)
