"""The fake kernel's virtual clock lets a woken blocking call finish returning before time moves
past its return (the run loop's blocking-call thread needs real time that virtual time skips)."""

from __future__ import annotations

import threading
import time

from drillbook.testing import FakeClock


def test_time_does_not_move_past_a_booked_return_before_the_call_has_returned() -> None:
    clock = FakeClock()
    returned = threading.Event()
    booked = threading.Event()
    seen: list[int] = []

    def blocking_call() -> None:
        clock.book(100, returned)
        booked.set()
        assert clock.sleep_until(100)
        time.sleep(0.02)  # a loaded machine: the woken thread is late handing its result over
        seen.append(clock.now_us())
        returned.set()

    thread = threading.Thread(target=blocking_call)
    thread.start()
    assert booked.wait(5)
    assert clock.wait_until(150) == 150
    assert seen == [100]  # it returned at its own time, before the clock went on
    thread.join(5)


def test_a_wait_up_to_a_booked_return_does_not_wait_for_it() -> None:
    clock = FakeClock()
    returned = threading.Event()
    booked = threading.Event()
    main_went_on = threading.Event()

    def blocking_call() -> None:
        clock.book(100, returned)
        booked.set()
        clock.sleep_until(100)
        main_went_on.wait(5)  # returns only once the main thread has gone on
        returned.set()

    thread = threading.Thread(target=blocking_call)
    thread.start()
    assert booked.wait(5)
    started = time.monotonic()
    assert clock.wait_until(100) == 100
    assert time.monotonic() - started < 1.0
    main_went_on.set()
    thread.join(5)
