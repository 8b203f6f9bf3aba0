"""Run a script against the real kernel: the one call every front end uses."""

from __future__ import annotations

import os

from drillbook.config import RunConfig
from drillbook.errors import RunAborted
from drillbook.script.model import Script
from drillbook.trace.model import Trace

DEFAULT_TIMEOUT_S = 180.0  # upstream's run_all.py kills a test after 180 s


def run_script(
    script: Script,
    config: RunConfig | None = None,
    *,
    explore: bool = False,
    explore_grace_us: int = 300_000,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    explain: bool | None = None,
) -> Trace:
    """Run ``script`` in a worker process inside a fresh network namespace; return its Trace.

    Raises SandboxError when the namespace cannot be made, RunAborted when the worker dies or
    times out. A script that fails against the kernel returns a Trace with ``failure`` set.

    ``explain`` (default: on, unless ``DRILLBOOK_EXPLAIN=0``) captures the kernel's own events
    for the run (root only) and adds explanations to the trace (runtime/capture/evidence.py).
    """
    import json

    from drillbook.runtime.capture.evidence import run_evidence
    from drillbook.runtime.workers.client import run_in_worker
    from drillbook.runtime.workers.request import WorkerRequest, config_to_dict
    from drillbook.trace.codec import trace_from_json

    config = config or RunConfig()
    path = script.source.path
    folder = os.path.dirname(os.path.abspath(path)) if os.path.exists(path) else os.getcwd()
    with run_evidence(explain) as evidence:
        request = WorkerRequest(
            script_text=script.source.text,
            script_path=path,
            cwd=folder,
            config=config_to_dict(config),
            explore=explore,
            explore_grace_us=explore_grace_us,
            capture_instance=evidence.instance_path,
        )
        try:
            reply = run_in_worker(request, timeout_s=timeout_s)
        except RunAborted as aborted:
            if isinstance(aborted.trace, dict):  # a partial trace from a run that timed out
                aborted.trace = trace_from_json(json.dumps(aborted.trace))
            raise
        reply.raise_for_error()
        if reply.result is None:
            raise RunAborted("the worker returned no trace")
        trace = trace_from_json(json.dumps(reply.result))
        if evidence.capture is None:
            return trace
        return evidence.complete(trace)
