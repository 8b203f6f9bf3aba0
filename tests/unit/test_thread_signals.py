"""Helper threads leave Ctrl-C and the other process signals to the threads that wait for them
(drillbook/runtime/threads.py): a background thread that took a process-directed SIGINT would
not wake the main thread's wait."""

from __future__ import annotations

import signal
import socket
import threading

from drillbook.runtime.threads import PROCESS_SIGNALS, without_process_signals
from drillbook.runtime.workers.zygote import ZygoteClient


def blocked_signals(native_id: int) -> set[signal.Signals]:
    """The signals thread ``native_id`` of this process blocks (SigBlk of its status)."""
    with open(f"/proc/self/task/{native_id}/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("SigBlk:"))
    mask = int(line.split()[1], 16)
    return {sig for sig in signal.Signals if mask >> (sig - 1) & 1}


def test_a_helper_thread_blocks_the_process_signals() -> None:
    seen: list[set[signal.Signals]] = []

    def target() -> None:
        seen.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, [])))

    thread = threading.Thread(target=without_process_signals(target))
    thread.start()
    thread.join()
    assert seen == [set(PROCESS_SIGNALS)]
    assert {signal.SIGINT, signal.SIGTERM} <= PROCESS_SIGNALS
    assert not set(signal.pthread_sigmask(signal.SIG_BLOCK, [])) & PROCESS_SIGNALS  # not ours


def test_the_zygote_reader_thread_leaves_ctrl_c_to_the_waiting_threads() -> None:
    client = ZygoteClient()  # not the process's shared one: this test ends it
    reader = client._reader
    try:
        assert reader.native_id is not None
        assert blocked_signals(reader.native_id) >= PROCESS_SIGNALS
    finally:
        client._sock.shutdown(socket.SHUT_RDWR)  # the zygote sees its client gone and exits
        reader.join(10)
    assert not reader.is_alive() and client._proc.returncode is not None
