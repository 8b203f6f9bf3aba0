"""One worker process per run: the messages (``request.py``), the caller's side (``client.py``),
the worker's side (``worker.py``), the zygote that forks workers, the entry that runs a script
inside one (``entry.py``) and the check that runs leave the host unchanged (``hostcheck.py``)."""
