"""The caller's side of a run's kernel evidence, around the worker: start the capture, then
add the attributed kernel events and the explanations to the worker's trace.

``explain=False`` turns all of it off (no tracefs instance, no explanations); the worker still
records its counters and cookies, which cost nothing on the hot path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from drillbook.runtime.capture.attribute import attribute
from drillbook.runtime.capture.session import CaptureResult, KernelCapture
from drillbook.trace.kernel import KernelSources
from drillbook.trace.model import Trace

ENV_SWITCH = "DRILLBOOK_EXPLAIN"  # "0": no tracefs capture and no explanations


def wanted(explain: bool | None) -> bool:
    if explain is not None:
        return explain
    return os.environ.get(ENV_SWITCH, "1") != "0"


class RunEvidence:
    """One run's capture, as seen from the caller."""

    def __init__(self, capture: KernelCapture | None) -> None:
        self.capture = capture
        self.result: CaptureResult | None = None

    @property
    def instance_path(self) -> str:
        return self.capture.instance_path if self.capture is not None else ""

    def stop(self) -> None:
        if self.capture is not None and self.result is None:
            self.result = self.capture.stop()

    def complete(self, trace: Trace) -> Trace:
        """The trace with the run's own kernel events, the sources and the explanations."""
        from drillbook.explain import explain_trace

        self.stop()
        trace = replace(trace, sources=self._sources(trace))
        result = self.result
        if result is not None and result.armed and trace.sources.tracefs:
            cookies = {s.cookie for s in trace.sockets}
            events = attribute(
                result.pages, result.layout, result.formats, cookies, trace.started_monotonic_ns
            )
            trace = replace(trace, kernel_events=events)
        return replace(trace, explanations=explain_trace(trace))

    def _sources(self, trace: Trace) -> KernelSources:
        sources = trace.sources
        result = self.result
        if result is None:
            return replace(sources, tracefs=False, tracefs_note="kernel events were not asked for")
        armed = result.armed and sources.tracefs
        note = "" if armed else (result.note or sources.tracefs_note or "tracefs was not armed")
        return replace(
            sources,
            tracefs=armed,
            tracefs_note=note,
            events=tuple(f"{f.system}:{f.name}" for f in result.formats) if armed else (),
            missing=tuple(result.missing),
            overruns=result.overruns,
        )


def prepare_capture(explain: bool | None = None) -> None:
    """Get this process's first capture ready in the background, before its run starts:
    the spare keeper's upkeep thread prepares a tracefs instance now (spare.py), so that the
    run claims a ready one like any later run instead of making its own on its path.

    ``drillbook run`` calls it as it starts, before it parses the script; a notebook when the
    extension loads. Only when the run will capture (``explain``, else ``DRILLBOOK_EXPLAIN``)
    and this process is root: otherwise nothing is attempted, started or printed. Never
    raises; the instance goes at exit like any spare."""
    if wanted(explain) and os.geteuid() == 0:
        from drillbook.runtime.capture.spare import prime_spare

        prime_spare()


def _import_explainers() -> None:
    import drillbook.explain  # noqa: F401 (imported on the capture thread, during the run)


@contextmanager
def run_evidence(explain: bool | None = None) -> Iterator[RunEvidence]:
    """Start the capture (root only; otherwise it records why not); remove it on every exit."""
    evidence = RunEvidence(KernelCapture.start(_import_explainers) if wanted(explain) else None)
    try:
        yield evidence
    finally:
        evidence.stop()
