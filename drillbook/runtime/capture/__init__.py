"""Kernel event capture for a run: a tracefs instance of its own (root), the namespace's
counters and socket cookies (always), and the attribution of events to the run's sockets.

- ``session.KernelCapture``: the caller's side (arm, drain, remove the instance);
- ``observer.RunObserver``: the worker's side (cookies, counter samples, the wait before time 0);
- ``attribute.attribute``: which captured events are the run's (by cookie and socket lifetime);
- ``tracefs``, ``formats``, ``ringbuffer``, ``counters``: the kernel interfaces they read.
"""
