"""Statistics of the burst loop: achieved rate, period error percentiles, overruns (no rclpy)."""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RateSummary:
    """Statistics of the last window of bursts (what ``~/burst_stats`` and /diagnostics report).

    Attributes:
        achieved_rate_hz: 1 / mean period over the window; 0 with fewer than two bursts.
        period_error_p50_ms, period_error_p99_ms: Median and 99th percentile of
            ``|period - 1 / target|`` in milliseconds.
        overruns: Bursts since construction that took longer than the target period.
        bursts: Bursts recorded since construction.
    """

    achieved_rate_hz: float
    period_error_p50_ms: float
    period_error_p99_ms: float
    overruns: int
    bursts: int


class RateMeter:
    """Keeps the last ``window`` burst start times and counts overruns.

    Period error is ``|actual period - target period|``. An overrun is a burst whose own
    duration exceeded the target period: the loop could not keep the rate with it.
    Thread-safe: :meth:`record` runs on the burst thread, :meth:`summary` on a timer's.

    Args:
        target_rate_hz: The rate the loop aims at (> 0).
        window: How many of the last periods the statistics cover.
    """

    def __init__(self, target_rate_hz: float, window: int = 1000) -> None:
        self.target_rate_hz = float(target_rate_hz)
        self._starts: deque[float] = deque(maxlen=window + 1)
        self.overruns = 0
        self.bursts = 0
        # record() runs on the burst thread, summary() on the statistics timer's.
        self._lock = threading.Lock()

    def restart(self, target_rate_hz: float | None = None) -> None:
        """Forget the window (after a pause or a rate change); keep the overrun count."""
        with self._lock:
            if target_rate_hz is not None:
                self.target_rate_hz = float(target_rate_hz)
            self._starts.clear()

    def record(self, start_s: float, duration_s: float) -> None:
        """Add one burst: its start (seconds, any monotonic clock) and how long it took."""
        with self._lock:
            self._starts.append(start_s)
            self.bursts += 1
            if duration_s > 1.0 / self.target_rate_hz:
                self.overruns += 1

    def periods(self) -> np.ndarray:
        """float64 ``(k,)`` seconds between consecutive recorded starts in the window."""
        with self._lock:
            starts = np.fromiter(self._starts, dtype=np.float64)
        return np.diff(starts)

    def last_start(self) -> float | None:
        """Start (seconds, the clock given to :meth:`record`) of the newest burst in the window."""
        with self._lock:
            return self._starts[-1] if self._starts else None

    def summary(self, now_s: float | None = None, stall_s: float | None = None) -> RateSummary:
        """The statistics of the current window (zeros, bar the counts, before two bursts).

        Args:
            now_s: The current time on the clock given to :meth:`record` (seconds).
            stall_s: With ``now_s``: when no burst started in the last ``stall_s`` seconds
                the loop has stopped, and the achieved rate is reported as 0 (the window
                describes the past, not the present).
        """
        periods = self.periods()
        last = self.last_start()
        stalled = (now_s is not None and stall_s is not None
                   and (last is None or now_s - last > stall_s))
        if periods.size == 0 or stalled:
            return RateSummary(0.0, 0.0, 0.0, self.overruns, self.bursts)
        error_ms = np.abs(periods - 1.0 / self.target_rate_hz) * 1e3
        p50, p99 = np.percentile(error_ms, [50, 99])
        return RateSummary(float(1.0 / periods.mean()), float(p50), float(p99),
                           self.overruns, self.bursts)


def set_fifo_priority(priority: int, *,
                      setter: Callable[[int, int, object], None] | None = None) -> str:
    """Put the calling thread under Linux's ``SCHED_FIFO`` real-time policy at ``priority``.

    Why: on a loaded CPU the kernel may let other threads run when the burst thread's deadline
    comes; a real-time thread preempts them, as ros2_control's controller manager does for its
    update loop (its ``thread_priority`` parameter, 50 by default there). Measured here
    (``bench/bench_node.py --rate 1000``): p99 period error 0.91-0.94 ms without, 0.23 ms with.

    Args:
        priority: 1 (lowest) .. 99 (highest) real-time priority.
        setter: ``os.sched_setscheduler`` (the default); tests pass a stand-in.

    Returns:
        ``""`` when the policy is set, else why not (no ``SCHED_FIFO`` on this system, or the
        process may not: it needs ``CAP_SYS_NICE`` or an ``rtprio`` limit in
        ``/etc/security/limits.conf``, e.g. ``@realtime - rtprio 99``). The thread keeps its
        normal policy then; the caller reports the reason.

    Raises:
        ValueError: ``priority`` outside 1..99.
    """
    if not 1 <= int(priority) <= 99:
        raise ValueError(f"SCHED_FIFO priority must be in 1..99, got {priority}")
    if setter is None:
        if not hasattr(os, "SCHED_FIFO"):
            return "this system has no SCHED_FIFO scheduling policy"
        setter = os.sched_setscheduler
    try:
        # pid 0 is the calling thread (Linux applies the policy per thread).
        setter(0, os.SCHED_FIFO, os.sched_param(int(priority)))
    except PermissionError:
        return ("not permitted to use SCHED_FIFO (needs CAP_SYS_NICE or an rtprio limit, "
                "e.g. '@realtime - rtprio 99' in /etc/security/limits.conf)")
    except OSError as exc:
        return f"SCHED_FIFO refused: {exc}"
    return ""


class BurstLoop:
    """Calls ``callback`` at ``rate_hz`` on its own thread, on absolute deadlines.

    Why not an rclpy timer: at kilohertz rates rclpy's executors spend more time choosing
    the next callback than the burst itself takes, and a MultiThreadedExecutor that falls
    behind accumulates pending handlers it scans on every spin, so one slow moment snowballs
    into a collapse of the rate (seen here: a 1 kHz timer delivering 20-50 Hz on 2 cores).
    A dedicated thread that sleeps until the next deadline keeps the period independent of
    how busy the executor is; the executor is left with sensors, services and statistics.

    Deadlines are ``start + k * period``; a burst that starts late does not move the ones
    after it, and a short stall (the GIL held elsewhere, a page fault) is caught up by
    bursting back to back, so the burst count keeps pace with the clock. After falling
    behind by more than ``max_lag_s`` (default: one period or 20 ms, whichever is longer) the
    schedule restarts from now instead (the skipped bursts show as a lower achieved rate,
    never as a storm). An exception in ``callback`` stops the loop; it is kept in ``error``
    and passed to ``on_error``.

    Args:
        callback: Called with no arguments once per period, on the loop's thread.
        rate_hz: Calls per second (> 0).
        on_error: Called with the exception that ended the loop, on the loop's thread.
        name: Name of the thread.
        max_lag_s: Lag beyond which (and beyond one period) the schedule restarts.
        clock: Monotonic seconds the deadlines are kept on (default ``time.perf_counter``).
        wait: ``wait(seconds)`` sleeps until the next deadline (default: waiting on the stop
            event, so :meth:`stop` wakes it). Tests pass a fake clock and a ``wait`` that
            advances it, so the schedule is checked without wall time.
        on_start: Called with no arguments on the loop's thread before the first deadline
            (the node sets the thread's scheduling policy there).
        min_idle_fraction: After every call the loop waits at least this fraction of the
            call's duration, even when the next deadline has already passed (0: never; may
            be changed while running through the attribute of the same name). Why: under
            ``SCHED_FIFO`` a loop behind schedule that never waits owns its core, and no
            normal thread (the executor, the watchdog, the signal handling thread) runs
            there; measured here on one core with a brain slower than its 1 kHz period at
            priority 50, a 100 Hz executor timer ran 10 times in 2 s and the 20 Hz watchdog
            7 times, only thanks to the kernel's real-time throttling (which RT-tuned
            systems often disable: ``sched_rt_runtime_us = -1``). With ``f`` the loop
            leaves normal threads at least ``f / (1 + f)`` of its core.

    Raises:
        ValueError: ``min_idle_fraction`` negative or not finite.
    """

    def __init__(self, callback: Callable[[], object], rate_hz: float, *,
                 on_error: Callable[[BaseException], object] | None = None,
                 name: str = "feagi_burst", max_lag_s: float = 0.02,
                 clock: Callable[[], float] = time.perf_counter,
                 wait: Callable[[float], object] | None = None,
                 on_start: Callable[[], object] | None = None,
                 min_idle_fraction: float = 0.0) -> None:
        if not (math.isfinite(min_idle_fraction) and min_idle_fraction >= 0):
            raise ValueError(f"min_idle_fraction must be finite and >= 0, got {min_idle_fraction}")
        self.min_idle_fraction = float(min_idle_fraction)
        self.max_lag_s = max_lag_s
        self._on_start = on_start
        self._callback = callback
        self._on_error = on_error
        self._name = name
        self._period = 1.0 / float(rate_hz)
        self._stop = threading.Event()
        self._clock = clock
        self._wait = wait if wait is not None else self._stop.wait
        self._thread: threading.Thread | None = None
        #: The exception that ended the loop, if one did (cleared by start()).
        self.error: BaseException | None = None

    @property
    def period(self) -> float:
        """Seconds between deadlines."""
        return self._period

    @property
    def running(self) -> bool:
        """Whether the loop's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def set_rate(self, rate_hz: float) -> None:
        """Change the rate (Hz, > 0); it takes effect from the next deadline."""
        self._period = 1.0 / float(rate_hz)

    def start(self) -> None:
        """Start the thread (a no-op while running); the first call comes one period later."""
        if self.running:
            return
        self._stop.clear()
        self.error = None
        self._thread = threading.Thread(target=self.run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait for the burst in progress to finish (never call from the callback)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def run(self) -> None:
        """The loop itself, on the calling thread, until :meth:`stop` or an exception in the
        callback (:meth:`start` runs it on the loop's own thread)."""
        if self._on_start is not None:
            self._on_start()
        # The first burst comes one period after start, like a timer's.
        deadline = self._clock() + self._period
        while not self._stop.is_set():
            now = self._clock()
            if now < deadline:
                self._wait(deadline - now)
                continue
            try:
                self._callback()
            except BaseException as exc:  # noqa: BLE001 - reported, then the loop ends
                self.error = exc
                if self._on_error is not None:
                    self._on_error(exc)
                return
            # The guaranteed idle (min_idle_fraction): also when the next deadline is past.
            idle = self.min_idle_fraction * (self._clock() - now)
            if idle > 0 and not self._stop.is_set() and deadline + self._period - self._clock() < idle:
                self._wait(idle)
            # Catch up: the next deadline is one period after this one, even if that is
            # already past (a short stall is made good by back-to-back bursts) ...
            deadline += self._period
            # ... unless the loop is so far behind that catching up would be a storm of
            # bursts: then the schedule restarts from now.
            if self._clock() - deadline > max(self._period, self.max_lag_s):
                deadline = self._clock()
