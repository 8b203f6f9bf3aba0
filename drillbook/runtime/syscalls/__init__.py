"""The system-call executor: a table of handlers over libc (ctypes), the script's fd table,
TCP_INFO reads and the readiness test of receive calls (entry point ``executor.py``)."""
