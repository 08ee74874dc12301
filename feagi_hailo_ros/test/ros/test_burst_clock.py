"""RateMeter: achieved rate, period error percentiles and overruns from known timestamps;
BurstLoop's schedule; the burst thread's real-time policy (set_fifo_priority)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from feagi_hailo_ros.ros.burst_clock import BurstLoop, RateMeter, set_fifo_priority


def test_perfect_clock() -> None:
    meter = RateMeter(100.0)
    for i in range(101):
        meter.record(i * 0.01, 0.001)
    s = meter.summary()
    assert s.achieved_rate_hz == pytest.approx(100.0)
    assert s.period_error_p99_ms == pytest.approx(0.0, abs=1e-9)
    assert s.overruns == 0 and s.bursts == 101


def test_late_bursts_show_in_error_and_overruns() -> None:
    meter = RateMeter(1000.0)
    t = 0.0
    for i in range(200):
        late = 0.003 if i % 50 == 49 else 0.0
        t += 0.001 + late
        meter.record(t, 0.0005 + late)
    s = meter.summary()
    assert s.overruns == 4
    assert s.period_error_p99_ms == pytest.approx(3.0, rel=0.05)
    assert s.period_error_p50_ms == pytest.approx(0.0, abs=1e-6)
    assert s.achieved_rate_hz < 1000.0


def test_restart_forgets_window_keeps_overruns() -> None:
    meter = RateMeter(10.0)
    meter.record(0.0, 1.0)
    meter.record(0.1, 0.0)
    meter.restart(20.0)
    assert meter.summary().achieved_rate_hz == 0.0
    assert meter.overruns == 1 and meter.target_rate_hz == 20.0


def test_burst_loop_calls_back_until_stopped_and_reports_errors() -> None:
    import threading

    from feagi_hailo_ros.ros.burst_clock import BurstLoop

    calls: list[float] = []
    ten = threading.Event()

    def tick() -> None:
        calls.append(0.0)
        if len(calls) >= 10:
            ten.set()

    loop = BurstLoop(tick, 500.0)
    loop.start()
    assert ten.wait(10.0), "the loop never reached 10 bursts"
    loop.stop()
    stopped_at = len(calls)
    assert not loop.running
    threading.Event().wait(0.05)
    assert len(calls) == stopped_at, "callback ran after stop()"

    errors: list[BaseException] = []

    def boom() -> None:
        raise RuntimeError("device lost")

    failing = BurstLoop(boom, 100.0, on_error=errors.append)
    failing.start()
    failing._thread.join(5.0)
    assert not failing.running
    assert isinstance(failing.error, RuntimeError) and errors == [failing.error]


def test_rate_falls_to_zero_once_bursts_stop() -> None:
    meter = RateMeter(100.0)
    for i in range(11):
        meter.record(i * 0.01, 0.001)
    # Last start at 0.10 s; within the stall window the window's rate stands.
    assert meter.summary(0.2, stall_s=0.25).achieved_rate_hz == pytest.approx(100.0)
    # No burst for longer than the stall window: the loop has stopped, the rate is 0.
    stopped = meter.summary(0.36, stall_s=0.25)
    assert stopped.achieved_rate_hz == 0.0 and stopped.bursts == 11
    assert RateMeter(100.0).summary(5.0, stall_s=0.25).achieved_rate_hz == 0.0


class FakeTime:
    """A clock for BurstLoop: ``wait`` advances it; a callback may advance it to stall."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


def run_schedule(stalls: dict[int, float], calls: int, rate_hz: float = 100.0) -> list[float]:
    """Run a BurstLoop on a fake clock for ``calls`` calls; call ``k`` (0-based) takes
    ``stalls.get(k, 0)`` seconds. Returns the fake time of every call."""
    from feagi_hailo_ros.ros.burst_clock import BurstLoop

    t = FakeTime()
    times: list[float] = []

    def burst() -> None:
        times.append(t.now)
        t.now += stalls.get(len(times) - 1, 0.0)
        if len(times) == calls:
            loop.stop()

    loop = BurstLoop(burst, rate_hz, clock=t.clock, wait=t.wait, max_lag_s=0.02)
    loop.run()
    return times


def test_burst_loop_keeps_absolute_deadlines() -> None:
    # A burst that takes part of its period does not move the deadlines after it.
    times = run_schedule({1: 0.004}, 5)
    assert times == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])


def test_burst_loop_catches_up_a_short_stall() -> None:
    # Call 2 stalls 15 ms (1.5 periods, within max_lag_s 20 ms): the missed deadline at
    # 0.04 is made good at once, back to back, and the schedule goes on at 0.05, 0.06.
    times = run_schedule({2: 0.015}, 6)
    assert times == pytest.approx([0.01, 0.02, 0.03, 0.045, 0.05, 0.06])


def test_burst_loop_restarts_after_a_long_stall() -> None:
    # Call 2 stalls 100 ms (10 periods > max_lag_s): no storm of 10 catch-up bursts; the
    # schedule restarts from the end of the stall.
    times = run_schedule({2: 0.1}, 6)
    assert times == pytest.approx([0.01, 0.02, 0.03, 0.13, 0.14, 0.15])


def test_fifo_priority_is_asked_for_the_calling_thread() -> None:
    calls = []
    assert set_fifo_priority(42, setter=lambda *a: calls.append(a)) == ""
    [(pid, policy, param)] = calls
    assert (pid, policy, param.sched_priority) == (0, os.SCHED_FIFO, 42)


@pytest.mark.parametrize("exc, words", [(PermissionError(1, "Operation not permitted"), "rtprio"),
                                        (OSError(22, "Invalid argument"), "refused")])
def test_a_refused_fifo_priority_says_why_and_raises_nothing(exc, words) -> None:
    def refuse(*_):
        raise exc
    reason = set_fifo_priority(10, setter=refuse)
    assert words in reason


@pytest.mark.parametrize("priority", [0, 100, -1])
def test_fifo_priority_outside_1_to_99_is_refused(priority) -> None:
    with pytest.raises(ValueError, match="1..99"):
        set_fifo_priority(priority, setter=lambda *a: None)


def test_on_start_runs_on_the_loop_thread_before_the_first_burst() -> None:
    seen: list[tuple[str, int]] = []
    loop = BurstLoop(lambda: seen.append(("burst", threading.get_ident())), 200.0,
                     on_start=lambda: seen.append(("start", threading.get_ident())))
    loop.start()
    deadline = time.monotonic() + 5.0
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.stop()
    assert [k for k, _ in seen[:2]] == ["start", "burst"]
    assert seen[0][1] == seen[1][1] != threading.get_ident()


def _overrunning_loop(min_idle_fraction: float, burst_s: float, calls: int,
                      rate_hz: float = 1000.0) -> list[tuple[str, float]]:
    """A BurstLoop on a fake clock whose every call takes ``burst_s`` (longer than the
    period: a brain that overruns). Returns the events in order: ("burst", duration) and
    ("wait", seconds)."""
    t = FakeTime()
    events: list[tuple[str, float]] = []

    def burst() -> None:
        t.now += burst_s
        events.append(("burst", burst_s))
        if sum(e == "burst" for e, _ in events) == calls:
            loop.stop()

    def wait(seconds: float) -> None:
        events.append(("wait", seconds))
        t.wait(seconds)

    loop = BurstLoop(burst, rate_hz, clock=t.clock, wait=wait,
                     min_idle_fraction=min_idle_fraction)
    loop.run()
    return events


def test_an_overrunning_loop_without_min_idle_never_waits() -> None:
    # The default (normal scheduling): behind schedule, bursts run back to back (the kernel
    # shares the core fairly with other threads anyway).
    events = _overrunning_loop(0.0, 0.005, 20)
    assert [e for e, _ in events[1:]] == ["burst"] * 20  # only the wait for the first deadline


def test_an_overrunning_loop_idles_after_every_burst_with_min_idle() -> None:
    # Under SCHED_FIFO a loop that never waits owns its core: no normal thread (executor,
    # watchdog, the signal handler's thread) runs there. With min_idle_fraction every burst
    # is followed by a wait of at least that fraction of the burst's duration, however far
    # behind the schedule is, so normal threads keep min_idle / (1 + min_idle) of the core.
    events = _overrunning_loop(0.25, 0.005, 20)
    after_first = events[1:]
    # (No idle after the last burst: it stopped the loop.)
    assert [e for e, _ in after_first] == ["burst", "wait"] * 19 + ["burst"]
    waits = [s for e, s in after_first if e == "wait"]
    assert all(s >= 0.25 * 0.005 - 1e-12 for s in waits)


def test_min_idle_does_not_move_a_loop_that_keeps_its_deadlines() -> None:
    # A burst of 10 % of the period leaves 90 % idle anyway: the schedule is unchanged.
    t = FakeTime()
    times: list[float] = []

    def burst() -> None:
        times.append(t.now)
        t.now += 0.001
        if len(times) == 5:
            loop.stop()

    loop = BurstLoop(burst, 100.0, clock=t.clock, wait=t.wait, min_idle_fraction=0.25)
    loop.run()
    assert times == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])


def test_min_idle_wait_is_woken_by_stop() -> None:
    # The guaranteed idle waits on the stop event (the default wait): stop() ends it at once,
    # so a stop never waits for an idle period (checked as a thread that ends, not a time).
    started = threading.Event()

    def burst() -> None:
        started.set()
        time.sleep(0.002)

    loop = BurstLoop(burst, 2000.0, min_idle_fraction=1000.0)  # idle 2 s after each burst
    loop.start()
    assert started.wait(10.0)
    thread = loop._thread
    loop.stop(timeout=1.0)
    assert thread is not None and not thread.is_alive()


def test_min_idle_fraction_must_be_finite_and_not_negative() -> None:
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="min_idle_fraction"):
            BurstLoop(lambda: None, 100.0, min_idle_fraction=bad)
