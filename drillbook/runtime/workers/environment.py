"""The environment of a process drillbook starts (the zygote, a fresh worker): the caller's,
with this very drillbook first on PYTHONPATH, so that the child imports the same package even
when it is not installed (a checkout on sys.path, a test's staged copy)."""

from __future__ import annotations

import os
from collections.abc import Mapping

# The folder above drillbook/ (this file is drillbook/runtime/workers/environment.py).
PACKAGE_PARENT = os.path.abspath(os.path.join(__file__, "../../../.."))


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` plus ``extra``, with drillbook's parent folder first on PYTHONPATH."""
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    return env


__all__ = ["PACKAGE_PARENT", "child_environment"]
