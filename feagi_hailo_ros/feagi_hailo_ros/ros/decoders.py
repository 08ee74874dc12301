"""Fired motor voxels -> robot commands, and the watchdog that stops a stale robot. No rclpy.

The engine reports the fired neurons of an area as an ``(n, 3)`` array of voxel coordinates,
one row per fired *neuron* (a voxel repeats when several of its neurons fire). The decoders
average over those rows, so a voxel counts once per neuron that fired, as FEAGI's decoders
do (they push one z per fired neuron and average).

FEAGI motor coding (feagi-core, ``crates/feagi-sensorimotor/src/neuron_voxel_coding/xyzp/``):

* **Signed percentage** (``decoders/signed_percentage_1d_linear.rs``): channel
  ``c = x // 2``; even x is the positive half, odd x the negative half; only ``y = 0`` counts
  and voxels outside the area are skipped. Each half decodes to ``1 - mean(z) / dz`` (0 if
  it did not fire) and the value is ``positive - negative``, so z = 0 is full power and
  firing both halves equally cancels (``coder_shared_functions.rs``,
  ``decode_signed_percentage_from_linear_neurons``).
* **Unsigned percentage** (servo absolute position, ``positional_servo_decoder.rs``): channel
  ``c = x``, value ``1 - mean(z) / dz``; a servo position is ``lower + value * (upper -
  lower)`` (feagi-connector ``actuators.get_position_data``).

A channel with no spikes is *inactive*: FEAGI then leaves its output untouched. Here signed
values of inactive channels read 0 (a wheel without a command stops) and servo positions NaN
(there is no safe default position); the ``active`` mask tells them apart.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DiffDriveSettings",
    "MotorReading",
    "Watchdog",
    "WatchdogStatus",
    "decode_percentages",
    "decode_servo_positions",
    "decode_signed_percentages",
    "motor_voxels_to_twist",
    "wheels_to_twist",
]


class MotorReading(NamedTuple):
    """Decoded channels of a motor area.

    Attributes:
        values: float64 ``(channels,)``; meaningful where ``active``.
        active: bool ``(channels,)``; the channel had at least one spike this burst.
    """

    values: np.ndarray
    active: np.ndarray


def _dims(dims: Sequence[int]) -> tuple[int, int, int]:
    """``(dx, dy, dz)`` as ints; ValueError unless three positive integers."""
    if len(dims) != 3 or min(int(d) for d in dims) < 1:
        raise ValueError(f"area dims must be three positive integers, got {tuple(dims)}")
    return int(dims[0]), int(dims[1]), int(dims[2])


def _usable(voxels: ArrayLike, dims: tuple[int, int, int]) -> np.ndarray:
    """The fired voxels FEAGI's decoders read: row y = 0, inside the area."""
    v = np.asarray(voxels, dtype=np.int64)
    if v.size == 0:
        return np.zeros((0, 3), dtype=np.int64)
    v = v.reshape(-1, 3)
    dx, _, dz = dims
    # FEAGI skips rather than rejects stray voxels; so do we.
    keep = (v[:, 1] == 0) & (v[:, 0] >= 0) & (v[:, 0] < dx) & (v[:, 2] >= 0) & (v[:, 2] < dz)
    return v[keep]


def _lobe(channel: np.ndarray, z: np.ndarray, n: int, dz: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel decoded magnitude of one half (or of an unsigned area) and its spike count."""
    count = np.bincount(channel, minlength=n)[:n]
    zsum = np.bincount(channel, weights=z.astype(np.float64), minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        mag = 1.0 - (zsum / count) / dz
    return np.where(count > 0, mag, 0.0), count


# The node reaches these through its output bindings (outputs.py, DESIGN §7): joint outputs
# decode with decode_servo_positions (on decode_percentages), the twist output with
# motor_voxels_to_twist (on decode_signed_percentages).


def decode_signed_percentages(
    voxels: ArrayLike,
    dims: Sequence[int],
    channels: int | None = None,
) -> MotorReading:
    """FEAGI signed-percentage motor area -> per-channel values in [-1, 1].

    Args:
        voxels: ``(n, 3)`` int fired voxels, one row per fired neuron; stray ones (y != 0,
            outside the area) are skipped, as FEAGI does.
        dims: ``(dx, dy, dz)`` of the motor area.
        channels: How many channels to decode (columns ``2c``, ``2c + 1``); default
            ``dx // 2``. Columns of later channels are ignored.

    Returns:
        A :class:`MotorReading` of ``channels`` values, ``positive - negative`` half, each
        half ``1 - mean(z) / dz``; inactive channels read 0.

    Raises:
        ValueError: bad ``dims`` or a negative ``channels``.

    Source: feagi-core ``decoders/signed_percentage_1d_linear.rs``.
    """
    d = _dims(dims)
    n = d[0] // 2 if channels is None else int(channels)
    if n < 0:
        raise ValueError("channels must be >= 0")
    v = _usable(voxels, d)
    ch = v[:, 0] // 2
    keep = ch < n
    ch, x, z = ch[keep], v[keep, 0], v[keep, 2]
    positive = x % 2 == 0
    pos, pos_n = _lobe(ch[positive], z[positive], n, d[2])
    neg, neg_n = _lobe(ch[~positive], z[~positive], n, d[2])
    values = np.clip(pos - neg, -1.0, 1.0)
    return MotorReading(values, (pos_n + neg_n) > 0)


def decode_percentages(
    voxels: ArrayLike,
    dims: Sequence[int],
    channels: int | None = None,
) -> MotorReading:
    """FEAGI unsigned linear-percentage area (one column per channel) -> values in [0, 1].

    Args:
        voxels: ``(n, 3)`` int fired voxels, one row per fired neuron; stray ones skipped.
        dims: ``(dx, dy, dz)`` of the area.
        channels: How many columns to decode; default ``dx``.

    Returns:
        A :class:`MotorReading` of ``channels`` values ``1 - mean(z) / dz``; inactive
        channels read 0.

    Raises:
        ValueError: bad ``dims``.

    Source: feagi-core ``positional_servo_decoder.rs``.
    """
    d = _dims(dims)
    n = d[0] if channels is None else int(channels)
    v = _usable(voxels, d)
    keep = v[:, 0] < n
    values, count = _lobe(v[keep, 0], v[keep, 2], n, d[2])
    return MotorReading(np.clip(values, 0.0, 1.0), count > 0)


def decode_servo_positions(
    voxels: ArrayLike,
    dims: Sequence[int],
    lower: Sequence[float],
    upper: Sequence[float],
) -> MotorReading:
    """Servo absolute-position area -> joint positions ``lower + p * (upper - lower)``.

    Args:
        voxels: ``(n, 3)`` int fired voxels, one row per fired neuron; stray ones skipped.
        dims: ``(dx, dy, dz)`` of the area; ``dx >= len(lower)``.
        lower, upper: Limits per servo (column x = servo), in the joint's unit.

    Returns:
        A :class:`MotorReading` of positions; inactive servos read NaN (hold the joint where
        it is).

    Raises:
        ValueError: limits of different lengths, not finite, not ``lower < upper``, a span
            ``upper - lower`` that overflows float64, or more servos than columns.

    Source: feagi-connector ``actuators.get_position_data``.
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if lo.shape != hi.shape or lo.ndim != 1:
        raise ValueError("lower and upper must be 1-D and of equal length")
    with np.errstate(over="ignore"):  # an overflowing span is what the check refuses
        span = hi - lo
    if not np.all(np.isfinite(lo) & np.isfinite(hi) & (hi > lo) & np.isfinite(span)):
        raise ValueError("every servo needs finite limits lower < upper with a finite span")
    if lo.size > _dims(dims)[0]:
        raise ValueError(f"{lo.size} servos do not fit an area {dims[0]} wide")
    frac, active = decode_percentages(voxels, dims, lo.size)
    return MotorReading(np.where(active, lo + frac * span, np.nan), active)


# --------------------------------------------------------------------------------------
# differential drive
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffDriveSettings:
    """Left/right wheel motor channels -> ``geometry_msgs/Twist``.

    Attributes:
        left_channel, right_channel: Signed-percentage channels of the motor area.
        max_wheel_speed: Wheel rim speed (m/s) at a percentage of +-1.
        wheel_separation: Distance between the wheels (m).
        linear_gain, angular_gain: Scale on the computed ``linear.x`` and ``angular.z``.
        max_linear, max_angular: Output clamps (m/s, rad/s).

    Raises:
        ValueError: a negative or shared wheel channel, a speed, separation or clamp that is
            not positive and finite, or a gain that is not finite.
    """

    left_channel: int = 0
    right_channel: int = 1
    max_wheel_speed: float = 0.3
    wheel_separation: float = 0.3
    linear_gain: float = 1.0
    angular_gain: float = 1.0
    max_linear: float = 0.5
    max_angular: float = 2.0

    def __post_init__(self) -> None:
        if self.left_channel < 0 or self.right_channel < 0:
            raise ValueError("wheel channels must be >= 0")
        if self.left_channel == self.right_channel:
            raise ValueError("left and right wheels need different channels")
        for name in ("max_wheel_speed", "wheel_separation", "max_linear", "max_angular"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive and finite, got {value}")
        for name in ("linear_gain", "angular_gain"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite")


def _clamp(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))


def wheels_to_twist(left: float, right: float, settings: DiffDriveSettings) -> tuple[float, float]:
    """Wheel percentages -> body velocity of a differential drive.

    Args:
        left, right: Wheel commands in [-1, 1] (fractions of ``max_wheel_speed``).
        settings: Wheel speed, separation, gains and clamps.

    Returns:
        ``(linear.x m/s, angular.z rad/s)``: ``v = linear_gain * (vl + vr) / 2`` and
        ``w = angular_gain * (vr - vl) / wheel_separation``, clamped to ``max_linear`` and
        ``max_angular``.
    """
    vl = settings.max_wheel_speed * left
    vr = settings.max_wheel_speed * right
    v = settings.linear_gain * 0.5 * (vl + vr)
    w = settings.angular_gain * (vr - vl) / settings.wheel_separation
    return _clamp(v, settings.max_linear), _clamp(w, settings.max_angular)


def motor_voxels_to_twist(
    voxels: ArrayLike,
    dims: Sequence[int],
    settings: DiffDriveSettings,
) -> tuple[float, float]:
    """Fired voxels of a signed motor area -> ``cmd_vel``; silent wheels stop.

    Args:
        voxels: ``(n, 3)`` int fired voxels of the motor area, one row per fired neuron.
        dims: ``(dx, dy, dz)`` of the motor area.
        settings: Wheel channels and drive geometry.

    Returns:
        ``(linear.x m/s, angular.z rad/s)`` from :func:`decode_signed_percentages` of the two
        wheel channels and :func:`wheels_to_twist`.

    Raises:
        ValueError: the area has fewer than ``2 * (max channel + 1)`` columns, or bad ``dims``.
    """
    n = max(settings.left_channel, settings.right_channel) + 1
    if 2 * n > _dims(dims)[0]:
        raise ValueError(f"wheel channel {n - 1} needs {2 * n} columns, the area has {dims[0]}")
    reading = decode_signed_percentages(voxels, dims, n)
    return wheels_to_twist(
        float(reading.values[settings.left_channel]),
        float(reading.values[settings.right_channel]),
        settings,
    )


# --------------------------------------------------------------------------------------
# watchdog
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchdogStatus:
    """Result of :meth:`Watchdog.check`."""

    stop: bool
    """Publish zero velocity: an input is stale or bursting stopped."""
    reasons: tuple[str, ...]
    """Human-readable causes, empty when ``stop`` is false."""
    newly_tripped: bool
    """``stop`` is true now and was false at the previous check (log / publish once)."""


def burst_timeout_for_rate(rate_hz: float) -> float:
    """Seconds without a completed burst after which the watchdog stops motion.

    Five periods at ``rate_hz`` (a few late bursts are jitter, not a stall), never under
    0.25 s (a page fault or a GC pause at a kilohertz rate is not a stall either).

    Args:
        rate_hz: The burst rate in force (Hz, > 0).

    Raises:
        ValueError: ``rate_hz`` not positive and finite.
    """
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be positive, got {rate_hz}")
    return max(0.25, 5.0 / float(rate_hz))


class Watchdog:
    """Decides when motor output must fall back to zero velocity.

    Pure logic with an injected clock (seconds, monotonic; in a node use the ROS clock so
    simulated time works). It trips when a *required* input has not been seen for
    ``input_timeout`` seconds or no burst completed for ``burst_timeout`` seconds. Both
    timers start at construction / :meth:`reset`, so a robot whose sensors never come up
    stops after one timeout instead of driving blind. A clock that jumps backwards (a
    replayed bag restarting) counts as "just seen", never as stale. DESIGN §7: stale input
    or stalled bursting -> zero motion.

    Args:
        clock: Returns the current time in seconds.
        input_timeout: Seconds a required input may stay silent; None disables the check.
            May be changed on the instance while running.
        burst_timeout: Seconds without a completed burst; None disables the check. May be
            changed on the instance while running (a live rate change; burst_timeout_for_rate).
        required_inputs: Names of the inputs that must keep arriving (repeats are dropped).

    Raises:
        ValueError: a timeout that is neither None nor positive and finite.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        input_timeout: float | None = 0.5,
        burst_timeout: float | None = 0.5,
        required_inputs: Iterable[str] = (),
    ) -> None:
        for name, value in (("input_timeout", input_timeout), ("burst_timeout", burst_timeout)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive (or None to disable), got {value}")
        self._clock = clock
        # check() runs on the watchdog's thread and the burst thread, input_received() on
        # sensor callbacks: one lock keeps the trip state consistent between them.
        self._lock = threading.RLock()
        self.input_timeout = input_timeout
        self.burst_timeout = burst_timeout
        self._required = tuple(dict.fromkeys(required_inputs))
        self.reset()

    def reset(self) -> None:
        """Restart every timer from now (e.g. on activation) and clear the trip state."""
        with self._lock:
            now = self._clock()
            self._start = now
            self._last_input: dict[str, float | None] = dict.fromkeys(self._required)
            self._last_burst = now
            self._was_stopped = False

    def input_received(self, name: str) -> None:
        """Record that required input ``name`` just delivered a (valid) message.

        Raises:
            KeyError: ``name`` is not one of ``required_inputs``.
        """
        if name not in self._last_input:
            raise KeyError(f"{name!r} is not a required input of this watchdog: {self._required}")
        with self._lock:
            self._last_input[name] = self._clock()

    def now(self) -> float:
        """The watchdog's clock now (seconds), to pass to several calls of one moment."""
        return self._clock()

    def burst_completed(self, now: float | None = None) -> None:
        """Record that the engine just finished a burst.

        Args:
            now: This watchdog's clock now, when the caller has just read it (:meth:`now`;
                one read per burst instead of one per call); default: read the clock.
        """
        with self._lock:
            self._last_burst = self._clock() if now is None else now

    def check(self, now: float | None = None) -> WatchdogStatus:
        """Evaluate the timers now; returns whether to stop, why, and whether that is new.

        Args:
            now: As for :meth:`burst_completed`.
        """
        with self._lock:
            return self._check(self._clock() if now is None else now)

    def peek(self) -> tuple[str, ...]:
        """Why the watchdog would stop motion now (empty: it would not), without changing the
        trip state :meth:`check` reports ``newly_tripped`` from (for diagnostics)."""
        with self._lock:
            return self._reasons(self._clock())

    def _check(self, now: float) -> WatchdogStatus:
        reasons = self._reasons(now)
        stop = bool(reasons)
        status = WatchdogStatus(stop, reasons, stop and not self._was_stopped)
        self._was_stopped = stop
        return status

    def _reasons(self, now: float) -> tuple[str, ...]:
        reasons: list[str] = []
        if self.input_timeout is not None:
            for name, seen in self._last_input.items():
                since = self._start if seen is None else seen
                age = now - since
                if age > self.input_timeout:
                    what = "never received" if seen is None else "stale"
                    reasons.append(f"input {name!r} {what} for {age:.3f} s")
        if self.burst_timeout is not None:
            age = now - self._last_burst
            if age > self.burst_timeout:
                reasons.append(f"no burst for {age:.3f} s")
        return tuple(reasons)
