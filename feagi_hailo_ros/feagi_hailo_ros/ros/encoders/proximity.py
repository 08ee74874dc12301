"""``sensor_msgs/LaserScan`` and ``sensor_msgs/Range`` -> a FEAGI proximity area.

x is the angular sector, z the distance: a nearer obstacle fires a lower z (z = 0 at the
coding range's minimum). This is FEAGI's legacy ``map_value(dist, range_min, range_max, 0,
z_max)`` and also exactly the linear percentage coding (:func:`.common.percentage_to_z`) of
"nearness" ``1 - (d - range_min) / (range_max - range_min)``. Only the centre row ``dy // 2``
is written, as FEAGI's lidar and sonar did. Special values follow REP 117 (NaN: invalid,
ignored; +inf: no return, no obstacle; -inf: too close to measure, the nearest depth), and a
range of exactly 0.0 is never a return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .common import (
    DEFAULT_POTENTIAL,
    Injection,
    SensorInputError,
    _dims,
    _finite,
    _injection,
    _potential,
    empty_injection,
    percentage_to_z,
)


@dataclass(frozen=True)
class ProximitySettings:
    """How ranges become a proximity area.

    Attributes:
        potential: Potential of every fired voxel; distance is coded by z, not potential.
        range_max: Farthest distance that fires at all (metres); returns beyond it are
            "no obstacle". ``None``: the message's ``range_max``. This is FEAGI's detection
            threshold and usually much shorter than the sensor's reach. The nearest coded
            distance (z = 0) is always the message's ``range_min``.
        fov_min, fov_max: Angular window (radians, sensor frame) spread over the area's x
            axis. ``None`` (both): the scan's own angular span.

    Raises:
        ValueError: a non-finite potential, ``range_max <= 0``, only one of the fov limits,
            or a window outside (0, 2*pi].
    """

    potential: float = DEFAULT_POTENTIAL
    range_max: float | None = None
    fov_min: float | None = None
    fov_max: float | None = None

    def __post_init__(self) -> None:
        _potential(self.potential)
        if self.range_max is not None and not (math.isfinite(self.range_max) and self.range_max > 0):
            raise ValueError(f"range_max must be finite and > 0, got {self.range_max}")
        if (self.fov_min is None) != (self.fov_max is None):
            raise ValueError("give both fov_min and fov_max, or neither")
        if self.fov_min is not None and self.fov_max is not None:
            span = self.fov_max - self.fov_min
            if not (math.isfinite(span) and 0.0 < span <= 2.0 * math.pi + 1e-9):
                raise ValueError(f"fov_max - fov_min must be in (0, 2*pi], got {span}")


def _coding_limits(
    settings: ProximitySettings, msg_min: float, msg_max: float
) -> tuple[float, float]:
    """The distances coded as z = 0 and as the deepest layer (metres)."""
    hi = msg_max if settings.range_max is None else settings.range_max
    if hi <= msg_min:
        raise ValueError(f"proximity coding range is empty: [{msg_min}, {hi}]")
    return msg_min, hi


def _distance_to_z(d: np.ndarray, lo: float, hi: float, dz: int) -> np.ndarray:
    # Nearness in [0, 1] coded as a FEAGI linear percentage: near -> z = 0.
    return percentage_to_z(1.0 - (d - lo) / (hi - lo), dz)


def encode_laser_scan(
    ranges: ArrayLike,
    angle_min: float,
    angle_increment: float,
    range_min: float,
    range_max: float,
    dims: Sequence[int],
    settings: ProximitySettings = ProximitySettings(),
) -> Injection:
    """A ``sensor_msgs/LaserScan`` -> proximity area: x = angular sector, z = distance.

    Beams are grouped into ``dx`` equal angular sectors, x increasing with angle
    (counter-clockwise, REP 103), whatever the scan direction. Each sector fires one voxel in
    the centre row ``y = dy // 2`` at the depth of its *nearest* valid return; a sector with
    nothing within the coding range stays silent.

    Args:
        ranges: ``(n,)`` distances in metres (the message's ``ranges``).
        angle_min, angle_increment: Angle of the first beam and between beams (radians).
        range_min, range_max: The message's valid range (metres).
        dims: ``(dx, dy, dz)`` of the proximity area.
        settings: Potential, detection range and angular window.

    Returns:
        An injection of at most ``dx`` voxels.

    Special values follow REP 117 and are *not* errors:

    * NaN: an invalid measurement -> ignored.
    * +inf: no return within the sensor's range -> no obstacle.
    * -inf: an object too close to measure -> the nearest depth, z = 0.
    * finite values outside the message's ``[range_min, range_max]`` -> invalid, ignored.
    * 0.0 -> no return, ignored, even when the message's ``range_min`` is 0.0: no sensor
      measures a distance of exactly zero, and drivers that leave ``range_min`` at 0 report
      invalid beams as 0.0 (sick_scan_xd, LDS drivers); a phantom obstacle at z = 0 would be
      the worst reading to invent.

    Raises:
        SensorInputError: ``ranges`` is empty or not 1-D, the angles or range limits are not
            finite, ``range_max <= range_min``, or ``angle_increment`` is 0 with several beams.
        ValueError: ``dims``/``settings`` do not fit.
    """
    dx, dy, dz = _dims(dims)
    r = np.asarray(ranges, dtype=np.float64)
    if r.ndim != 1:
        raise SensorInputError(f"ranges must be a 1-D sequence, got shape {r.shape}")
    n = r.size
    if n == 0:
        raise SensorInputError("scan has no beams")
    a0 = _finite(angle_min, "angle_min")
    inc = _finite(angle_increment, "angle_increment")
    if inc == 0.0 and n > 1:
        raise SensorInputError(f"angle_increment is 0 for a scan of {n} beams")
    msg_lo = _finite(range_min, "range_min")
    msg_hi = _finite(range_max, "range_max")
    if msg_lo < 0.0 or msg_hi <= msg_lo:
        raise SensorInputError(f"invalid range limits [{msg_lo}, {msg_hi}]")
    lo, hi = _coding_limits(settings, msg_lo, msg_hi)

    angles = a0 + inc * np.arange(n, dtype=np.float64)
    if settings.fov_min is None or settings.fov_max is None:
        # The scan's own span, each beam owning one increment centred on it.
        step = abs(inc) if n > 1 else 2.0 * math.pi
        start = angles.min() - 0.5 * step
        span = n * step
        rel = angles - start
        in_fov = np.ones(n, dtype=bool)
    else:
        start = settings.fov_min
        span = settings.fov_max - settings.fov_min
        rel = np.mod(angles - start, 2.0 * math.pi)
        # A beam exactly on fov_max belongs to the last sector, not outside.
        in_fov = rel <= span + 1e-9
    sector = np.minimum((rel / span * dx).astype(np.int64), dx - 1)

    too_close = np.isneginf(r)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(r) & (r > 0.0) & (r >= msg_lo) & (r <= msg_hi) & (r <= hi)
    use = in_fov & (valid | too_close)
    if not use.any():
        return empty_injection()
    d = np.where(too_close, lo, r)[use]
    z = _distance_to_z(d, lo, hi, dz)
    sec = sector[use]
    nearest = np.full(dx, dz, dtype=np.int64)  # dz = "nothing seen"
    np.minimum.at(nearest, sec, z)
    xs = np.flatnonzero(nearest < dz)
    return _injection(xs, dy // 2, nearest[xs], settings.potential)


def encode_range(
    range_value: float,
    min_range: float,
    max_range: float,
    dims: Sequence[int],
    settings: ProximitySettings = ProximitySettings(),
) -> Injection:
    """A single ``sensor_msgs/Range`` (sonar, IR) -> one voxel of a proximity area.

    The voxel is the centre column and row ``(dx // 2, dy // 2)``, as FEAGI's sonar did; z
    codes the distance exactly as :func:`encode_laser_scan` does, with the same REP 117
    treatment of NaN/inf, 0.0 and out-of-limit readings (which fire nothing).

    Args:
        range_value: The distance (metres, the message's ``range``).
        min_range, max_range: The message's valid range (metres).
        dims: ``(dx, dy, dz)`` of the proximity area.
        settings: Potential and detection range (the angular window does not apply).

    Returns:
        An injection of zero or one voxel.

    Raises:
        SensorInputError: the limits are not finite, ``min_range < 0``, ``max_range <=
            min_range``, or the range is not a number.
        ValueError: ``dims``/``settings`` do not fit.
    """
    dx, dy, dz = _dims(dims)
    lo_msg = _finite(min_range, "min_range")
    hi_msg = _finite(max_range, "max_range")
    if lo_msg < 0.0 or hi_msg <= lo_msg:
        raise SensorInputError(f"invalid range limits [{lo_msg}, {hi_msg}]")
    try:
        d = float(range_value)
    except (TypeError, ValueError) as exc:
        raise SensorInputError(f"range is not a number: {range_value!r}") from exc
    lo, hi = _coding_limits(settings, lo_msg, hi_msg)
    if d == -math.inf:
        d = lo
    elif not (math.isfinite(d) and d > 0.0 and lo_msg <= d <= hi_msg and d <= hi):
        return empty_injection()
    z = int(_distance_to_z(np.array([d]), lo, hi, dz)[0])
    return _injection(dx // 2, dy // 2, z, settings.potential)
