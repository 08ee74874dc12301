"""Statistics of the burst loop: achieved rate, period error percentiles, overruns (no rclpy)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RateSummary:
    achieved_rate_hz: float
    period_error_p50_ms: float
    period_error_p99_ms: float
    overruns: int
    bursts: int


class RateMeter:
    """Keeps the last ``window`` burst start times and counts overruns.

    Period error is ``|actual period - target period|``. An overrun is a burst whose own
    duration exceeded the target period: the loop could not keep the rate with it.
    """

    def __init__(self, target_rate_hz: float, window: int = 1000) -> None:
        self.target_rate_hz = float(target_rate_hz)
        self._starts: deque[float] = deque(maxlen=window + 1)
        self.overruns = 0
        self.bursts = 0

    def restart(self, target_rate_hz: float | None = None) -> None:
        """Forget the window (after a pause or a rate change); keep the overrun count."""
        if target_rate_hz is not None:
            self.target_rate_hz = float(target_rate_hz)
        self._starts.clear()

    def record(self, start_s: float, duration_s: float) -> None:
        self._starts.append(start_s)
        self.bursts += 1
        if duration_s > 1.0 / self.target_rate_hz:
            self.overruns += 1

    def periods(self) -> np.ndarray:
        return np.diff(np.fromiter(self._starts, dtype=np.float64))

    def summary(self) -> RateSummary:
        periods = self.periods()
        if periods.size == 0:
            return RateSummary(0.0, 0.0, 0.0, self.overruns, self.bursts)
        error_ms = np.abs(periods - 1.0 / self.target_rate_hz) * 1e3
        p50, p99 = np.percentile(error_ms, [50, 99])
        return RateSummary(float(1.0 / periods.mean()), float(p50), float(p99),
                           self.overruns, self.bursts)
