"""One cell run, from text to :class:`DrillResult`: parse, configure, run, render.

The magic and the controls share this pipeline; it holds no state. The options a cell gives
are packetdrill's own flags (``--tolerance_usecs=...``, ``-D X=Y``), so that the script's
header lines and the cell's flags combine exactly as in packetdrill: header first, then the
command line overrides them (reference §5).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from drillbook.config import RunConfig
from drillbook.jupyter.figures import FigurePool, render_images
from drillbook.jupyter.result import DrillResult
from drillbook.retries import run_with_timing_retries
from drillbook.script.model import Script
from drillbook.trace.model import FailureKind, Trace
from drillbook.trace.pcap import write_pcap

__all__ = ["RunRequest", "parse_cell", "render_images", "run_parsed", "run_text"]


@dataclass(frozen=True)
class RunRequest:
    """How to run a cell: packetdrill flags plus what only the notebook has."""

    argv: tuple[str, ...] = ()  # the cell's flags: they override the script's header
    defaults: tuple[str, ...] = ()  # %config defaults as flags: the script's header wins
    explore: bool = False
    explore_grace_us: int = 300_000
    timeout_s: float | None = None
    figures: tuple[str, ...] | None = None  # None: drillbook.render's choice; (): none
    pcap: str | None = None
    dpi: int = 80
    image_format: str = "svg"  # svg (text kept as text: ~2x faster to write than png) or png
    figure_pool: FigurePool | None = field(default=None, compare=False, repr=False)
    # A run that failed only on timing is run again, this many times at most: on a shared,
    # noisy machine a late injection is the machine's noise, not the kernel's behaviour (the
    # trace's warnings say so). A run that failed on a field is never retried.
    timing_retries: int = 2
    explain: bool = True  # the kernel's explanations (tracefs as root, counters always)


def parse_cell(text: str, path: str, request: RunRequest) -> tuple[Script, RunConfig]:
    """Parse ``text`` and build its configuration as packetdrill does (reference §5).

    ``%config`` defaults first, then the script's header lines, then the cell's flags; the body
    is parsed with the result, so a header ``--define`` or ``--ip_version`` applies to it.
    """
    from drillbook.options import build_config, parse_argv
    from drillbook.parser import parse_with_flags

    base = build_config((), parse_argv(list(request.defaults)))
    return parse_with_flags(text, path, list(request.argv), base)


def run_text(text: str, path: str, request: RunRequest) -> DrillResult:
    """Parse and run ``text``; script errors raise (they carry line, column and caret)."""
    started = time.perf_counter()
    script, config = parse_cell(text, path, request)
    return run_parsed(script, config, request, started=started)


def _run_with_timing_retries(script: Script, config: RunConfig, request: RunRequest) -> Trace:
    from drillbook.runtime.api import run_script

    traces = run_with_timing_retries(
        lambda: run_script(script, config, explore=request.explore,
                           explore_grace_us=request.explore_grace_us,
                           timeout_s=request.timeout_s,
                           explain=None if request.explain else False),
        lambda trace: trace.failure is not None and trace.failure.kind is FailureKind.TIMING,
        request.timing_retries,
    )
    notes = [f"run again after a timing error (machine noise?): {trace.failure.render()}"
             for trace in traces[:-1] if trace.failure is not None]
    trace = traces[-1]
    if notes:
        trace = replace(trace, warnings=(*trace.warnings, *notes))
    return trace


def run_parsed(
    script: Script, config: RunConfig, request: RunRequest, *, started: float | None = None
) -> DrillResult:
    """Run ``script`` in a fresh namespace and render what happened."""
    started = time.perf_counter() if started is None else started
    trace = _run_with_timing_retries(script, config, request)
    if request.pcap:
        write_pcap(trace, request.pcap)
    rewritten = None
    if request.explore and trace.passed:  # a run cut short has no complete answer to offer
        from drillbook.jupyter.explore import rewritten_text

        rewritten = rewritten_text(script, trace, config, request.explore_grace_us)
    draw = request.figure_pool.render if request.figure_pool is not None else render_images
    images = draw(trace, request.figures, dpi=request.dpi, image_format=request.image_format)
    return DrillResult(
        script=script,
        trace=trace,
        config=config,
        explore=request.explore,
        explore_grace_us=request.explore_grace_us if request.explore else None,
        images=images,
        rewritten_script=rewritten,
        figure_kinds=request.figures,
        pcap_path=request.pcap,
        elapsed_s=time.perf_counter() - started,
    )
