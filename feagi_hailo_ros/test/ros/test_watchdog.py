"""Watchdog timing rules with a fake clock: the burst timeout follows the live rate."""

from __future__ import annotations

import pytest

from feagi_hailo_ros.ros.decoders import Watchdog, burst_timeout_for_rate


def test_burst_timeout_is_five_periods_never_under_a_quarter_second() -> None:
    assert burst_timeout_for_rate(1.0) == pytest.approx(5.0)
    assert burst_timeout_for_rate(10.0) == pytest.approx(0.5)
    assert burst_timeout_for_rate(100.0) == pytest.approx(0.25)
    assert burst_timeout_for_rate(2000.0) == pytest.approx(0.25)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            burst_timeout_for_rate(bad)


def test_a_changed_burst_timeout_applies_to_the_next_check() -> None:
    now = [0.0]
    dog = Watchdog(lambda: now[0], input_timeout=None, burst_timeout=burst_timeout_for_rate(100.0))
    dog.burst_completed()
    dog.burst_timeout = burst_timeout_for_rate(1.0)  # a live change 100 -> 1 Hz
    now[0] = 0.9  # one slow period: not a stall at 1 Hz
    assert not dog.check().stop
    now[0] = 5.1
    status = dog.check()
    assert status.stop and status.newly_tripped and status.reasons[0].startswith("no burst")


def test_a_time_given_by_the_caller_is_used_instead_of_the_clock() -> None:
    """The burst reads the node's clock once and passes it (one read per burst, not three)."""
    clock_reads = []

    def clock() -> float:
        clock_reads.append(1)
        return 100.0  # far later than any time given below: a read would trip the timeout

    dog = Watchdog(clock, input_timeout=None, burst_timeout=0.25)
    reads = len(clock_reads)
    dog.burst_completed(now=100.0)
    assert not dog.check(now=100.2).stop
    status = dog.check(now=100.3)
    assert status.stop and status.reasons[0].startswith("no burst for 0.300")
    assert len(clock_reads) == reads  # neither call read the clock
    dog.burst_completed(now=99.0)  # the last burst, as the caller timed it
    assert dog.check().stop  # the clock's own time (100.0) is 1 s later
