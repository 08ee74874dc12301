"""LatestHandoff: the worker handles the newest offer of each kind, drops stale ones, never
makes an offer wait for a slow handler, and stops when told (no wall-clock assertions: a
blocked offer shows as a thread that does not finish)."""

from __future__ import annotations

import threading

from feagi_hailo_ros.ros.handoff import LatestHandoff

WAIT = 10.0  # seconds a step may take before the test calls it hung (never a speed check)


class SlowHandler:
    """Records what it handles; each call waits until the test opens ``gate``."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.handled: list[tuple[str, object]] = []
        self.done = threading.Condition()

    def __call__(self, kind: str, item: object) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT), "the test never opened the gate"
        with self.done:
            self.handled.append((kind, item))
            self.done.notify_all()

    def wait_for(self, n: int) -> bool:
        with self.done:
            return self.done.wait_for(lambda: len(self.handled) >= n, WAIT)


def _offer_in_thread(handoff: LatestHandoff, offers: list[tuple[str, object]]) -> bool:
    """Make the offers on another thread; True when all returned (none waited on the worker)."""
    t = threading.Thread(target=lambda: [handoff.offer(k, i) for k, i in offers])
    t.start()
    t.join(WAIT)
    return not t.is_alive()


def test_newest_offer_is_handled_and_stale_ones_dropped_while_the_handler_is_slow() -> None:
    handler = SlowHandler()
    handoff = LatestHandoff(handler)
    handoff.start()
    try:
        handoff.offer("firing", 0)
        assert handler.entered.wait(WAIT)  # the worker is now stuck in the handler with 0
        # Burst after burst while the handler is blocked: none of these offers waits.
        assert _offer_in_thread(handoff, [("firing", b) for b in range(1, 50)]
                                + [("cloud", "c1"), ("cloud", "c2")])
        handler.gate.set()
        assert handler.wait_for(3)
        assert handler.handled == [("firing", 0), ("firing", 49), ("cloud", "c2")]
        assert handoff.dropped == {"firing": 48, "cloud": 1}
        assert handoff.handled == {"firing": 2, "cloud": 1}
    finally:
        handler.gate.set()
        handoff.stop()


def test_every_offer_is_handled_when_the_worker_keeps_up() -> None:
    handled: list[int] = []
    done = threading.Event()

    def handle(kind: str, item: int) -> None:
        handled.append(item)
        if item == 19:
            done.set()

    handoff = LatestHandoff(handle)
    handoff.start()
    try:
        for b in range(20):
            handoff.offer("firing", b)
            # The next offer only after this one was taken: nothing is stale.
            assert _wait(lambda b=b: b in handled)
        assert done.wait(WAIT)
        assert handled == list(range(20)) and handoff.dropped == {}
    finally:
        handoff.stop()


def _wait(predicate) -> bool:
    event = threading.Event()
    for _ in range(int(WAIT / 0.001)):
        if predicate():
            return True
        event.wait(0.001)
    return False


def test_stop_ends_the_worker_and_drops_what_was_not_taken() -> None:
    handler = SlowHandler()
    handoff = LatestHandoff(handler, name="test_worker")
    handoff.start()
    handoff.offer("firing", 1)
    assert handler.entered.wait(WAIT)
    handoff.offer("firing", 2)  # waiting in the slot when the stop comes
    stopper = threading.Thread(target=handoff.stop)
    stopper.start()
    handler.gate.set()  # the item in hand finishes; the stop waits for it
    stopper.join(WAIT)
    assert not stopper.is_alive() and not handoff.running
    assert handler.handled == [("firing", 1)]
    assert not any(t.name == "test_worker" for t in threading.enumerate())
    handoff.offer("firing", 3)  # stopped: dropped, nothing runs it
    assert handler.handled == [("firing", 1)]


def test_offers_before_start_are_dropped_and_a_restart_works() -> None:
    got: list[object] = []
    seen = threading.Event()
    handoff = LatestHandoff(lambda kind, item: (got.append(item), seen.set()))
    handoff.offer("firing", "early")
    handoff.start()
    handoff.offer("firing", "first")
    assert seen.wait(WAIT)
    handoff.stop()
    seen.clear()
    handoff.start()
    handoff.offer("firing", "again")
    assert seen.wait(WAIT)
    handoff.stop()
    assert got == ["first", "again"]


def test_a_handler_error_ends_the_worker_and_is_reported() -> None:
    errors: list[BaseException] = []
    reported = threading.Event()

    def handle(kind: str, item: object) -> None:
        raise RuntimeError("publisher gone")

    handoff = LatestHandoff(handle, on_error=lambda exc: (errors.append(exc), reported.set()))
    handoff.start()
    handoff.offer("firing", 1)
    assert reported.wait(WAIT)
    assert isinstance(handoff.error, RuntimeError) and errors == [handoff.error]
    assert _wait(lambda: not handoff.running)
    handoff.stop()
