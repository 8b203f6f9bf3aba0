"""The script model: packetdrill scripts as frozen dataclasses with source spans."""

from drillbook.script.model import *  # noqa: F403
from drillbook.script.model import __all__ as _model_all

__all__ = list(_model_all)
