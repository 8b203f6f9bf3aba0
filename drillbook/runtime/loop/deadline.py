"""The signal that the caller's time limit is up, raised into a running script.

It lives with the run loop (which catches it and returns the trace so far) rather than with the
worker (which raises it from its SIGTERM handler), so that the loop never imports the worker
that imports it.
"""

from __future__ import annotations


class WorkerTimeout(BaseException):
    """Raised inside the worker (from its SIGTERM handler) when the parent's timeout expires.
    An entry may catch it and return what it has so far: the parent then raises RunAborted
    carrying that partial result as ``trace``. Like KeyboardInterrupt it is not an
    Exception, so ``except Exception`` does not swallow it by accident."""
