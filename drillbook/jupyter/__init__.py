"""drillbook in Jupyter: the ``%%drill`` magic, its result object, controls and explore mode.

IPython and ipywidgets are imported only inside this package (and only by the modules that
need them), so ``import drillbook`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext drillbook.jupyter`` works as well as ``%load_ext drillbook``."""
    from drillbook.jupyter.magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext drillbook.jupyter``: stop the figure helper processes."""
    from drillbook.jupyter.magic import unload_ipython_extension as _unload

    _unload(ipython)
