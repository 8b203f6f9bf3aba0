"""The public Python API: ``drillbook.parse`` and ``drillbook.run``.

Both take a script as text or as a path and packetdrill's flags as keyword arguments, and go
through the same pipeline as a ``%%drill`` cell (drillbook.jupyter.runner): the script's own
``--flag`` lines first, then the keywords on top, then the body parsed with the result. They
return what the cell returns: a :class:`~drillbook.script.model.Script`, a
:class:`~drillbook.jupyter.result.DrillResult`.

Flags are spelled as on packetdrill's command line, with ``_`` as there: ``tolerance_usecs=
10000``, ``ip_version="ipv6"``, ``non_fatal="packet"``, ``strict_segments=True`` (``False`` or
``None`` leaves a switch off), and ``define={"NAME": "value"}`` for ``-D NAME=value``.

This module imports the parser, the runtime and the notebook pipeline only when called, so that
``import drillbook`` stays light.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from drillbook.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from drillbook.jupyter.result import DrillResult
    from drillbook.script.model import Script

FlagValue = str | int | float | bool | None | Mapping[str, object] | Sequence[str]

TEXT_PATH = "<script>"  # the name errors give a script passed as text


def parse(text_or_path: str | os.PathLike[str] | Script, **flags: FlagValue) -> Script:
    """Parse and check a script (text, or a path to a ``.pkt`` file) as ``--dry_run`` does.

    Raises ScriptSyntaxError or ScriptSemanticError (``path:line:col``, a caret, a hint) for a
    wrong script, UsageError for an unknown flag or a file that cannot be read.
    """
    from drillbook.jupyter.runner import RunRequest, parse_cell
    from drillbook.script.checks import check_script

    text, path = _text_and_path(text_or_path)
    script, _ = parse_cell(text, path, RunRequest(argv=flags_to_argv(flags)))
    check_script(script)
    return script


def run(
    text_or_path: str | os.PathLike[str] | Script,
    *,
    explore: bool = False,
    figures: Sequence[str] | None = (),
    pcap: str | None = None,
    timing_retries: int = 0,
    timeout_s: float | None = 180.0,
    **flags: FlagValue,
) -> DrillResult:
    """Run a script against the real kernel in a fresh network namespace.

    Returns a DrillResult (``.passed``, ``.failure``, ``.trace``, ``.script``, ``.to_pcap()``)
    whether the kernel agreed or not. ``figures`` names the figures to draw into
    ``.images`` (None: the notebook's choice; the default, none, saves ~0.5 s);
    ``timing_retries`` runs a script that failed only on timing again (the notebook's is 2).
    Raises for a wrong script or flag (as :func:`parse`), SandboxError where the machine cannot
    make a namespace, RunAborted when the run dies or exceeds ``timeout_s``.
    """
    from drillbook.jupyter.runner import RunRequest, run_text

    text, path = _text_and_path(text_or_path)
    request = RunRequest(
        argv=flags_to_argv(flags), explore=explore, timeout_s=timeout_s,
        figures=None if figures is None else tuple(figures), pcap=pcap,
        timing_retries=timing_retries,
    )
    return run_text(text, path, request)


def flags_to_argv(flags: Mapping[str, FlagValue]) -> tuple[str, ...]:
    """Keyword flags as packetdrill's command line: ``tolerance_usecs=10`` is
    ``--tolerance_usecs=10``, ``define={"X": 1}`` is ``-D X=1``."""
    argv: list[str] = []
    for name, value in flags.items():
        if name in ("define", "D"):
            argv += [arg for definition in _definitions(value) for arg in ("-D", definition)]
        elif value is True:
            argv.append(f"--{name}")
        elif value is not None and value is not False:
            if not isinstance(value, str | int | float):
                raise UsageError(f"flag {name}={value!r}: expected a string or a number")
            argv.append(f"--{name}={value}")
    return tuple(argv)


def _definitions(value: FlagValue) -> list[str]:
    if isinstance(value, Mapping):
        return [f"{key}={item}" for key, item in value.items()]
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(item) for item in value]
    raise UsageError(f"define={value!r}: expected a mapping of NAME to value, or 'NAME=value'")


def _text_and_path(text_or_path: str | os.PathLike[str] | Script) -> tuple[str, str]:
    """(text, path for messages). A str with a line break is script text; one without names
    a file when it ends in ``.pkt`` or names one that exists, and is script text otherwise."""
    from drillbook.commands.run import read_script
    from drillbook.script.model import Script

    if isinstance(text_or_path, Script):
        return text_or_path.source.text, text_or_path.source.path
    if isinstance(text_or_path, os.PathLike):
        path = os.fspath(text_or_path)
        return read_script(path), path
    if not isinstance(text_or_path, str):
        raise UsageError(f"expected script text or a path, not {type(text_or_path).__name__}")
    if "\n" not in text_or_path and (text_or_path.endswith(".pkt")
                                     or os.path.isfile(text_or_path)):
        return read_script(text_or_path), text_or_path
    return text_or_path, TEXT_PATH


__all__ = ["flags_to_argv", "parse", "run"]
