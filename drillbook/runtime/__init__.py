"""All kernel I/O of a run, in parts that depend on each other in one direction only:

- ``loop/``: the run loop. It walks the script's events in time, injects and reads packets, makes
  the calls, runs shell commands and ``%{ }%`` blocks, and records the trace
  (theory of operation in ``loop/driver.py``).
- ``syscalls/``: the system-call executor: one table of handlers over libc via ctypes, the
  script's fd table, TCP_INFO, the readiness test of receive calls.
- ``sandbox/``: what isolates a run from the host: the TUN device and packet socket in a fresh
  network namespace, rtnetlink, the addresses, the user namespace of rootless runs, the
  process-level primitives (unshare, mounts, shell commands, the session guardian).
- ``workers/``: one worker process per run: the request/reply messages, the caller's side
  (``client.py``), the worker's side (``worker.py``), the warm zygote that forks workers, the
  entry function that runs a script inside one, and the host-leak check.
- ``capture/`` (to come): kernel-event capture (tracefs, counters) for explanations.

``threads.py``: helper threads that leave Ctrl-C and other process signals to the waiting threads.

``api.py`` is the entry from the rest of drillbook: run one script in a worker, get a Trace.
Dependencies: ``workers`` → ``loop`` → ``syscalls``; ``workers`` and ``loop`` → ``sandbox``;
nothing here imports ``workers`` except ``api.py``.
"""
