"""The loop's own rehearsal before time 0: the script's first events run once over the fake
kernel (``fake_kernel.py``, the one ``drillbook.testing`` offers tests), through the real
interpreter, recorder and loop parts.

Why: ``rehearsal.py`` warms the syscall handlers and packet building, but not the code that
runs around them at every event: the interpreter's next action and its judgements, the
recorder, the step bookkeeping, the packet and call parts of the loop. Measured with a
per-event lateness printout on ``syn-data-icmp-unreach-frag-needed-with-seq.pkt`` (ipv4, two
runs each): the first ``socket()`` completed 256–288 µs after time 0 and the next ``+0`` call
started 180–197 µs late; with this rehearsal 235–236 µs and 140–151 µs. (Most of what is
left of the first ``socket()`` is Python around the C call, ~90 µs before and ~120 µs after
it, in the real fd table and socket events: the C call itself takes ~30 µs.)

The fake run uses its own interpreter, engine, fd table and clock (virtual: nothing waits), so
nothing of it reaches the real run but warm code. It runs in explore mode, so that a packet the
fake kernel gets wrong (it is no TCP stack) is a warning and the walk goes on. Left out:
blocking calls (they would start
a thread and wait for virtual time), and the end of the run (cleanup, the %{ }% interpreter,
RSTs). A fake run that fails simply stops there: it only warms code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace

from drillbook.config import RunConfig
from drillbook.runtime.loop.fake_kernel import FakeKernel, KernelBehaviour
from drillbook.script.model import Event, Script, SyscallSpec

MAX_EVENTS = 60  # the first events are the cold ones; later ones repeat their paths
# The real kernel often sends a large packet as TSO fragments, which the matcher gathers: the
# fake one sends the first packet longer than two 536-byte segments so, to rehearse that path.
REHEARSAL_KERNEL = KernelBehaviour(split_first_above=2 * 536)


def rehearsable(event: Event) -> bool:
    """Whether the fake run can take ``event`` without waiting (not a blocking call)."""
    action = event.action
    return not (isinstance(action, SyscallSpec) and action.is_blocking)


def loop_rehearsal_script(script: Script) -> Script:
    """The script the fake run walks: its first events, without blocking calls, and no init
    or cleanup command."""
    events = tuple(e for e in script.events[:MAX_EVENTS] if rehearsable(e))
    return replace(script, events=events, init_command=None, cleanup_command=None)


def rehearse_loop(
    script: Script, config: RunConfig, walk: Callable[[Script, FakeKernel], None]
) -> None:
    """Run ``walk`` (the loop's event walk over a fresh fake kernel) on the rehearsal script.
    Any failure of the fake run is dropped: the real run reports its own."""
    fake_script = loop_rehearsal_script(script)
    if not fake_script.events:
        return
    with contextlib.suppress(Exception):
        walk(fake_script, FakeKernel(fake_script, config, REHEARSAL_KERNEL))


__all__ = ["MAX_EVENTS", "REHEARSAL_KERNEL", "loop_rehearsal_script", "rehearsable",
           "rehearse_loop"]
