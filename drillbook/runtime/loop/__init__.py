"""The run loop: walks a script's events in time over the sandbox and the syscall executor and
records what happened (theory of operation in ``driver.py``)."""
