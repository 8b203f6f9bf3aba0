"""Explanations: why the kernel did what a run shows. Pure: a Trace in, explanations out.

The vocabulary is fixed (see ``drillbook.trace.kernel.Explanation`` and the README's "Why the
kernel did it"): ``cause=`` rto | tlp | fast-retransmit | rack | syn-retransmit |
synack-retransmit | window-probe | keepalive; ``reason=`` the kernel's reset reason;
``state=OLD->NEW``, ``cong=OLD->NEW``, ``cwnd=OLD->NEW``, ``ssthresh=``, ``rto=``, ``backoff=``;
and one plain sentence.

Each explainer reads the best evidence the run has: attributed tracepoints when tracefs was
armed (root), else the namespace's counter deltas and the socket's TCP_INFO (rootless too).
"""

from __future__ import annotations

from drillbook.explain.context import TraceView
from drillbook.explain.resets import explain_resets
from drillbook.explain.retransmits import explain_retransmissions
from drillbook.explain.states import explain_states
from drillbook.trace.kernel import Explanation
from drillbook.trace.model import Trace

__all__ = ["explain_trace"]


def explain_trace(trace: Trace) -> tuple[Explanation, ...]:
    """Every explanation of a run, in time order."""
    view = TraceView(trace)
    found = [
        *explain_retransmissions(view),
        *explain_resets(view),
        *explain_states(view),
    ]
    return tuple(sorted(found, key=lambda e: (e.time_us, e.line)))
