"""drillbook: packetdrill scripts against the real Linux kernel, in Jupyter and on the shell.

The public API is imported lazily so that ``import drillbook`` stays light: it must not pull
in matplotlib, IPython, ipywidgets or pyroute2 (a test enforces this).
"""

from __future__ import annotations

from typing import Any

from drillbook.errors import (
    DrillbookError,
    RunAborted,
    SandboxError,
    ScriptError,
    ScriptSemanticError,
    ScriptSyntaxError,
)

__version__ = "0.1.0"

__all__ = [
    "DrillbookError",
    "RunAborted",
    "SandboxError",
    "ScriptError",
    "ScriptSemanticError",
    "ScriptSyntaxError",
    "__version__",
    "load_ipython_extension",
    "unload_ipython_extension",
    "parse",
    "run",
]


def parse(text: str, path: str = "<script>", **config: Any) -> Any:
    """Parse packetdrill script text into a :class:`drillbook.script.Script`."""
    from drillbook.parser import parse_script

    return parse_script(text, path=path, **config)


def run(script_or_text: Any, **options: Any) -> Any:
    """Run a script against the real kernel and return its :class:`drillbook.trace.Trace`."""
    from drillbook.runtime.api import run_script

    return run_script(script_or_text, **options)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext drillbook`` registers ``%%drill`` and ``%drill``."""
    from drillbook.jupyter.magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext drillbook``: stop what the extension started (figure helper processes)."""
    from drillbook.jupyter.magic import unload_ipython_extension as _unload

    _unload(ipython)
