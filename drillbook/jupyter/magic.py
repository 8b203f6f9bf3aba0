"""``%%drill`` and ``%drill``: run a packetdrill script against the real kernel from a notebook.

``%load_ext drillbook`` registers :class:`Drill`, a ``Magics`` that is also a traitlets
``Configurable`` (as JupySQL's ``SqlMagic``), so ``%config Drill.tolerance_usecs = 10000`` sets
a default for every later cell. All state lives on that instance, none in the module.

Errors: a mistake in the script raises a :class:`~drillbook.errors.ScriptError`, which IPython
shows through ``_render_traceback_`` (message, line, column, caret, no Python traceback) and
which fails the cell so that Run All stops. Bad options raise IPython's ``UsageError``. A
failing run is a result, not an error: the cell shows the failure banner and figures (pass
``--check`` to also fail the cell). A cell of a lab's teacher version may hold nbgrader solution
regions: it runs its solution (:func:`drillbook.course.regions.teacher_script`).
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from IPython import display as _display
from IPython.core import magic_arguments as _magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Enum, Float, Int, Unicode, observe

from drillbook.course.regions import teacher_script
from drillbook.jupyter.cellargs import (
    FLAG_OPTIONS,
    IP_MODES,
    VALUE_OPTIONS,
    CellOptions,
    figure_kinds,
    packetdrill_argv,
    parse_duration_us,
)
from drillbook.jupyter.figures import FigurePool
from drillbook.jupyter.runner import RunRequest, parse_cell, run_parsed
from drillbook.trace.errors import raise_for_failures

__all__ = ["Drill", "load_ipython_extension", "unload_ipython_extension"]

CELL_PATH = "cell"

_F = TypeVar("_F", bound=Callable[..., Any])
# IPython's magic_arguments is untyped; give its decorators the types they have.
argument = cast(Callable[..., Callable[[_F], _F]], _magic_arguments.argument)
magic_arguments = cast(Callable[[], Callable[[_F], _F]], _magic_arguments.magic_arguments)
display = cast(Callable[..., None], _display.display)
parse_argstring = cast(
    Callable[[Callable[..., Any], str], argparse.Namespace], _magic_arguments.parse_argstring
)


def _with_value_options(function: Any) -> Any:
    for name, kind, text in reversed(VALUE_OPTIONS):
        function = argument(f"--{name}", type=kind, default=None, help=text)(function)
    for name, text in reversed(FLAG_OPTIONS):
        function = argument(f"--{name}", action="store_true", help=text)(function)
    return function


@magics_class
class Drill(Magics):
    """Run packetdrill scripts against the real Linux kernel and show what happened."""

    tolerance_usecs = Int(
        None, allow_none=True, help="Default timing tolerance in us (None: packetdrill's 4000)"
    ).tag(config=True)
    ip_version = Unicode("", help="Default IP mode: ipv4, ipv6 or ipv4-mapped-ipv6").tag(
        config=True
    )
    figures = Unicode("", help="Default figure kinds, comma-separated ('' = automatic)").tag(
        config=True
    )
    explore_grace_ms = Int(300, help="Explore mode: how long to record after the last event").tag(
        config=True
    )
    timeout_s = Float(120.0, help="Kill a run that takes longer than this").tag(config=True)
    dpi = Int(80, help="Resolution of PNG figures").tag(config=True)
    image_format = Enum(
        ("svg", "png"), "svg", help="Figures as svg (faster, sharp) or png"
    ).tag(config=True)
    check = Bool(False, help="Fail the cell when the run fails (so Run All stops)").tag(
        config=True
    )
    parallel_figures = Bool(
        True,
        help="Draw the panels in two helper processes (about half the drawing time with a "
        "spare CPU; no gain when every CPU is busy: benchmarks/bench_notebook.py compares)",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        # Before the traits are configured: a config file's Drill.parallel_figures reaches
        # the observer below during super().__init__.
        self.figure_pool = FigurePool()
        super().__init__(shell=shell, **kwargs)

    @observe("parallel_figures")
    def _parallel_figures_changed(self, change: Any) -> None:
        # Start the helpers as soon as they are asked for (they take a second to warm up).
        if change["new"]:
            self.figure_pool.start()
        else:
            self.figure_pool.close()

    @magic_arguments()
    @argument("path", nargs="?", default=None, help="a .pkt file to run (line magic only)")
    @argument("--ip", "--ip_version", dest="ip", choices=IP_MODES, help="the IP mode")
    @argument("--tolerance", default=None, help="timing tolerance with a unit: 4ms, 500us, 0.01s")
    @argument("-D", "--define", action="append", metavar="SYMBOL=VALUE", help="define a symbol")
    @_with_value_options
    @argument("--tweak", action="store_true", help="show controls to edit and re-run the script")
    @argument("--explore", action="store_true", help="record what the kernel sends, don't assert")
    @argument("--grace", default=None, help="explore: how long to record after the last event")
    @argument("--pcap", metavar="PATH", default=None,
              help="write the run's packets to a pcap (.pcapng: a comment per packet)")
    @argument("-o", "--out", metavar="NAME", default=None, help="store the result in NAME")
    @argument("--figures", metavar="KINDS", default=None, help="e.g. sequence,sack,window")
    @argument("--no-figures", dest="no_figures", action="store_true", help="draw no figures")
    @argument("--check", action="store_true", help="fail the cell if the run fails")
    @argument("--no-explain", dest="no_explain", action="store_true",
              help="no kernel explanations (beside the diagram's arrows, in _.explanations)")
    @argument("--step", action="store_true",
              help="step through the run: a slider over the sequence diagram's events")
    @argument("--timeout", type=float, default=None, help="kill the run after this many seconds")
    @line_cell_magic
    def drill(self, line: str, cell: str | None = None) -> Any:
        """Run a packetdrill script (the cell, or a .pkt file) against the real kernel.

        The cell's value is a DrillResult (``_`` holds it): ``.passed``, ``.trace``,
        ``.script``, ``.to_pcap(path)``, ``.figures()``, ``.rewritten_script`` (explore mode).
        With ``--tweak`` the value is a DrillControls: controls to change event times, reorder
        or drop inbound packets, and re-run. Defaults: ``%config Drill``.
        """
        args = parse_argstring(self.drill, line)
        text, path = self._source(args, cell)
        if cell is not None:
            # A teacher's cell: its solution regions replace the EDIT ME lines they follow.
            text = teacher_script(text, path)
        options = self._options(args)
        request = self._request(options, args)
        script, config = parse_cell(text, path, request)
        if options.tweak:
            from drillbook.jupyter.controls import DrillControls

            controls = DrillControls(script, config, request)
            controls.run()
            self._store(options.out, controls)
            return controls
        result = run_parsed(script, config, request)
        if args.step:
            result = dataclasses.replace(result, step=True)
        self._store(options.out, result)
        if (options.check or self.check) and not result.passed:
            display(result)
            raise_for_failures(result.trace)
        return result

    def _source(self, args: argparse.Namespace, cell: str | None) -> tuple[str, str]:
        if cell is not None:
            if args.path is not None:
                raise UsageError(
                    f"unrecognized argument {args.path!r}: %%drill runs the cell "
                    "(use the line magic %drill FILE.pkt to run a file)"
                )
            return cell, CELL_PATH
        if args.path is None:
            raise UsageError("%drill needs a .pkt file: %drill path/to/script.pkt [options]")
        file = Path(args.path).expanduser()
        try:
            return file.read_text(), str(file)
        except OSError as error:
            raise UsageError(f"cannot read {args.path}: {error.strerror}") from None

    def _options(self, args: argparse.Namespace) -> CellOptions:
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"--out needs a Python variable name, got {args.out!r}")
        try:
            argv = packetdrill_argv(args)
            kinds = figure_kinds(args.figures or self.figures, args.no_figures)
        except ValueError as error:
            raise UsageError(str(error)) from None
        return CellOptions(
            argv=argv,
            tweak=args.tweak,
            explore=args.explore,
            pcap=args.pcap,
            out=args.out,
            figures=kinds,
            check=args.check,
        )

    def _default_argv(self) -> tuple[str, ...]:
        """``%config`` defaults as flags; the script's header and the cell's flags win."""
        defaults: list[str] = []
        if self.ip_version:
            defaults.append(f"--ip_version={self.ip_version}")
        if self.tolerance_usecs is not None:
            defaults.append(f"--tolerance_usecs={self.tolerance_usecs}")
        return tuple(defaults)

    def _request(self, options: CellOptions, args: argparse.Namespace) -> RunRequest:
        grace_us = self.explore_grace_ms * 1000
        if args.grace is not None:
            try:
                grace_us = parse_duration_us(args.grace)
            except ValueError as error:
                raise UsageError(str(error)) from None
        return RunRequest(
            argv=options.argv,
            defaults=self._default_argv(),
            explore=options.explore,
            explore_grace_us=grace_us,
            timeout_s=args.timeout if args.timeout is not None else self.timeout_s,
            figures=options.figures,
            pcap=options.pcap,
            dpi=self.dpi,
            image_format=self.image_format,
            figure_pool=self.figure_pool if self.parallel_figures else None,
            explain=not getattr(args, "no_explain", False),
        )

    def _store(self, name: str | None, value: Any) -> None:
        if name is not None and self.shell is not None:
            self.shell.user_ns[name] = value


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%drill``/``%drill`` and make ``%config Drill`` work."""
    magics = Drill(shell=ipython)
    ipython.register_magics(magics)
    # %config finds configurables through this list (JupySQL does the same).
    for old in [c for c in ipython.configurables if isinstance(c, Drill)]:
        old.figure_pool.close()  # %reload_ext: the old instance's helpers go
        ipython.configurables.remove(old)
    ipython.configurables.append(magics)
    # Load the grammar and matplotlib while the user types the first cell, so that the first
    # %%drill costs what the others cost.
    if magics.parallel_figures:
        magics.figure_pool.start()
    threading.Thread(target=_warm_up, name="drillbook-warm-up", daemon=True).start()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext drillbook``: stop the figure helpers."""
    for magics in [c for c in ipython.configurables if isinstance(c, Drill)]:
        magics.figure_pool.close()
        ipython.configurables.remove(magics)


def _warm_up() -> None:
    try:
        from drillbook.parser import parse_script
        from drillbook.render import figure_for  # noqa: F401 (imports matplotlib)
        from drillbook.runtime.capture.evidence import prepare_capture

        prepare_capture()  # the first %%drill claims a tracefs instance made now (root only)
        parse_script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", path="warm-up")
    except Exception:  # noqa: S110 - a failed warm-up only means the first cell is slower;
        pass  # the same error then surfaces, with its message, in that cell

