"""Sensor readings -> neuron injections for FEAGI input areas. Pure numpy, no rclpy.

Every encoder returns an *injection* ``(voxels, potentials)``: ``voxels`` is an ``(n, 3)``
int64 array of ``(x, y, z)`` coordinates inside the target area and ``potentials`` an
``(n,)`` float32 array, the membrane potential added to every neuron of that voxel for one
burst. Encoders take the fields of a ROS message as plain values, so the node can pass
``msg.ranges`` etc. straight in and tests need no ROS.

Errors come in two kinds:

* :class:`SensorInputError` - the *message* is malformed (wrong encoding, data length that
  does not match its header, non-finite angles, ...). The node logs it and drops the message.
* :class:`ValueError` - the *configuration* does not fit (area too small for the number of
  channels, bad settings). That is a bug in the setup, found at configure time.

FEAGI coding conventions followed here (see the module docs of each encoder for sources):

* **Linear percentage / depth coding**: a value ``p`` in [0, 1] fires voxel
  ``z = min(floor((1 - p) * dz), dz - 1)``: z = 0 is the *strongest* value, the deepest layer
  the weakest (feagi-core ``encode_unsigned_percentage_to_linear_neuron_z_index``).
* **Signed percentage**: channel ``c`` owns two x columns, ``x = 2c`` for the positive half
  and ``x = 2c + 1`` for the negative half; the magnitude is coded along z as above; exactly
  zero fires the weakest voxel of both halves so they cancel. ``y = 0``.
* **Proximity**: x is the angular sector, z the distance: nearer obstacle -> lower z
  (z = 0 at the coding range's minimum). This is FEAGI's legacy
  ``map_value(dist, range_min, range_max, 0, z_max)`` and also exactly the linear percentage
  coding of "nearness" ``1 - (d - range_min) / (range_max - range_min)``.
* **Vision**: the image is area-averaged down to the area's ``dx x dy``; ``x`` is the column,
  ``y = dy - 1 - row`` (FEAGI's y points up, image rows go down), ``z`` the colour channel
  for a 3-deep area; the pixel intensity sets the potential.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "IMAGE_ENCODINGS",
    "ImuSettings",
    "Injection",
    "JointSettings",
    "ProximitySettings",
    "SensorInputError",
    "VisionSettings",
    "downsample_area",
    "empty_injection",
    "encode_dense",
    "encode_image",
    "encode_imu_angular_velocity",
    "encode_imu_linear_acceleration",
    "encode_imu_orientation",
    "encode_joint_positions",
    "encode_laser_scan",
    "encode_percentages",
    "encode_range",
    "encode_raw",
    "encode_signed_percentages",
    "image_from_buffer",
    "percentage_to_z",
    "quaternion_to_rpy",
]

Injection = tuple[np.ndarray, np.ndarray]
"""``(voxels (n, 3) int64, potentials (n,) float32)``."""

#: FEAGI's connectors inject every sensory voxel with this potential (``... = 100``).
DEFAULT_POTENTIAL = 100.0

#: Supported ``sensor_msgs/Image`` encodings and their channel counts.
IMAGE_ENCODINGS: dict[str, int] = {"mono8": 1, "rgb8": 3, "bgr8": 3}


class SensorInputError(ValueError):
    """A sensor message is malformed; the reason says what is wrong with it."""


# --------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------


def _dims(dims: Sequence[int]) -> tuple[int, int, int]:
    if len(dims) != 3:
        raise ValueError(f"area dims must be (dx, dy, dz), got {tuple(dims)}")
    dx, dy, dz = (int(d) for d in dims)
    if min(dx, dy, dz) < 1 or (dx, dy, dz) != tuple(dims):
        raise ValueError(f"area dims must be positive integers, got {tuple(dims)}")
    return dx, dy, dz


def _potential(value: float, what: str = "potential") -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return float(value)


def _finite(value: float, what: str) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError) as exc:
        raise SensorInputError(f"{what} is not a number: {value!r}") from exc
    if not math.isfinite(f):
        raise SensorInputError(f"{what} must be finite, got {f}")
    return f


def empty_injection() -> Injection:
    """An injection that fires nothing."""
    return np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=np.float32)


def _injection(x: ArrayLike, y: ArrayLike, z: ArrayLike, p: ArrayLike) -> Injection:
    x, y, z, p = np.broadcast_arrays(
        np.asarray(x, dtype=np.int64),
        np.asarray(y, dtype=np.int64),
        np.asarray(z, dtype=np.int64),
        np.asarray(p, dtype=np.float32),
    )
    voxels = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    return voxels, np.ascontiguousarray(p.ravel())


def percentage_to_z(p: ArrayLike, dz: int) -> np.ndarray:
    """FEAGI linear percentage coding: ``p`` in [0, 1] -> z index, 1.0 -> 0, 0.0 -> dz - 1.

    Values outside [0, 1] are clamped. Source: feagi-core
    ``crates/feagi-sensorimotor/src/neuron_voxel_coding/xyzp/coder_shared_functions.rs``
    (``encode_unsigned_percentage_to_linear_neuron_z_index``).
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    z = np.floor((1.0 - p) * dz).astype(np.int64)
    return np.minimum(z, dz - 1)


# --------------------------------------------------------------------------------------
# proximity: LaserScan and Range
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProximitySettings:
    """How ranges become a proximity area.

    Attributes:
        potential: Potential of every fired voxel; distance is coded by z, not potential.
        range_min: Distance coded as z = 0 (metres). ``None``: the message's ``range_min``.
        range_max: Farthest distance that fires at all (metres); returns beyond it are
            "no obstacle". ``None``: the message's ``range_max``. This is FEAGI's detection
            threshold and usually much shorter than the sensor's reach.
        fov_min, fov_max: Angular window (radians, sensor frame) spread over the area's x
            axis. ``None`` (both): the scan's own angular span.
        row: y row to write. ``None``: the centre row ``dy // 2`` (FEAGI's choice).
        all_rows: Write every y row instead of one.
    """

    potential: float = DEFAULT_POTENTIAL
    range_min: float | None = None
    range_max: float | None = None
    fov_min: float | None = None
    fov_max: float | None = None
    row: int | None = None
    all_rows: bool = False

    def __post_init__(self) -> None:
        _potential(self.potential)
        if self.range_min is not None and not (
            math.isfinite(self.range_min) and self.range_min >= 0
        ):
            raise ValueError(f"range_min must be finite and >= 0, got {self.range_min}")
        if self.range_max is not None and not (math.isfinite(self.range_max) and self.range_max > 0):
            raise ValueError(f"range_max must be finite and > 0, got {self.range_max}")
        if (
            self.range_min is not None
            and self.range_max is not None
            and self.range_max <= self.range_min
        ):
            raise ValueError("range_max must be greater than range_min")
        if (self.fov_min is None) != (self.fov_max is None):
            raise ValueError("give both fov_min and fov_max, or neither")
        if self.fov_min is not None and self.fov_max is not None:
            span = self.fov_max - self.fov_min
            if not (math.isfinite(span) and 0.0 < span <= 2.0 * math.pi + 1e-9):
                raise ValueError(f"fov_max - fov_min must be in (0, 2*pi], got {span}")
        if self.row is not None and self.row < 0:
            raise ValueError(f"row must be >= 0, got {self.row}")


def _rows(settings: ProximitySettings, dy: int) -> np.ndarray:
    if settings.all_rows:
        return np.arange(dy, dtype=np.int64)
    row = dy // 2 if settings.row is None else settings.row
    if row >= dy:
        raise ValueError(f"row {row} is outside an area {dy} voxels high")
    return np.array([row], dtype=np.int64)


def _coding_limits(
    settings: ProximitySettings, msg_min: float, msg_max: float
) -> tuple[float, float]:
    lo = msg_min if settings.range_min is None else settings.range_min
    hi = msg_max if settings.range_max is None else settings.range_max
    if hi <= lo:
        raise ValueError(f"proximity coding range is empty: [{lo}, {hi}]")
    return lo, hi


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
    (counter-clockwise, REP 103), whatever the scan direction. Each sector fires one voxel
    per written row at the depth of its *nearest* valid return; a sector with nothing within
    the coding range stays silent.

    Special values follow REP 117 and are *not* errors:

    * NaN: an invalid measurement -> ignored.
    * +inf: no return within the sensor's range -> no obstacle.
    * -inf: an object too close to measure -> the nearest depth, z = 0.
    * finite values outside the message's ``[range_min, range_max]`` -> invalid, ignored
      (many drivers report 0.0 for "no return").

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
        valid = np.isfinite(r) & (r >= msg_lo) & (r <= msg_hi) & (r <= hi)
    use = in_fov & (valid | too_close)
    if not use.any():
        return empty_injection()
    d = np.where(too_close, lo, r)[use]
    z = _distance_to_z(d, lo, hi, dz)
    sec = sector[use]
    nearest = np.full(dx, dz, dtype=np.int64)  # dz = "nothing seen"
    np.minimum.at(nearest, sec, z)
    xs = np.flatnonzero(nearest < dz)
    rows = _rows(settings, dy)
    x = np.repeat(xs, rows.size)
    y = np.tile(rows, xs.size)
    return _injection(x, y, np.repeat(nearest[xs], rows.size), settings.potential)


def encode_range(
    range_value: float,
    min_range: float,
    max_range: float,
    dims: Sequence[int],
    settings: ProximitySettings = ProximitySettings(),
    x: int | None = None,
) -> Injection:
    """A single ``sensor_msgs/Range`` (sonar, IR) -> one voxel of a proximity area.

    ``x`` selects the column (default: the centre column ``dx // 2``, as FEAGI's sonar did);
    z codes the distance exactly as :func:`encode_laser_scan` does, with the same REP 117
    treatment of NaN/inf and out-of-limit readings.
    """
    dx, dy, dz = _dims(dims)
    col = dx // 2 if x is None else int(x)
    if not 0 <= col < dx:
        raise ValueError(f"x {col} is outside an area {dx} voxels wide")
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
    elif not (math.isfinite(d) and lo_msg <= d <= hi_msg and d <= hi):
        return empty_injection()
    z = int(_distance_to_z(np.array([d]), lo, hi, dz)[0])
    rows = _rows(settings, dy)
    return _injection(np.full(rows.size, col), rows, np.full(rows.size, z), settings.potential)


# --------------------------------------------------------------------------------------
# vision
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisionSettings:
    """How an image becomes a vision area.

    Attributes:
        potential: Potential of a full-intensity (255) pixel; darker pixels get
            proportionally less (``potential * value / 255``).
        threshold: Pixel values (0-255, after downsampling) below this stay silent; FEAGI's
            retina uses 50 by default.
        depth_coding: Code intensity along z (linear percentage, bright -> z = 0) at a fixed
            ``potential`` instead of coding it in the potential. Uses the grey level.
        mirror: Flip left-right first (a front camera seen "as in a mirror").
    """

    potential: float = DEFAULT_POTENTIAL
    threshold: int = 50
    depth_coding: bool = False
    mirror: bool = False

    def __post_init__(self) -> None:
        _potential(self.potential)
        if not 0 <= self.threshold <= 255:
            raise ValueError(f"threshold must be in [0, 255], got {self.threshold}")


def image_from_buffer(
    data: bytes | bytearray | memoryview | Sequence[int] | np.ndarray,
    height: int,
    width: int,
    step: int,
    encoding: str,
    is_bigendian: int = 0,
) -> np.ndarray:
    """Rebuild the pixel array of a ``sensor_msgs/Image`` from its fields.

    Returns ``(height, width)`` for mono8 and ``(height, width, 3)`` for rgb8/bgr8, uint8,
    dropping any row padding (``step > width * channels``). ``is_bigendian`` does not matter
    for 8-bit encodings and is accepted for symmetry with the message.

    Raises:
        SensorInputError: unsupported encoding, non-positive size, a ``step`` shorter than a
            row, or a data length other than ``step * height``.
    """
    del is_bigendian  # 8-bit channels have no byte order
    if encoding not in IMAGE_ENCODINGS:
        supported = ", ".join(sorted(IMAGE_ENCODINGS))
        raise SensorInputError(f"unsupported image encoding {encoding!r} (supported: {supported})")
    channels = IMAGE_ENCODINGS[encoding]
    height, width, step = int(height), int(width), int(step)
    if height < 1 or width < 1:
        raise SensorInputError(f"image size must be positive, got {width}x{height}")
    if step < width * channels:
        raise SensorInputError(
            f"step {step} is shorter than a row of {width} {encoding} pixels ({width * channels} B)"
        )
    if isinstance(data, np.ndarray):
        buf = np.ascontiguousarray(data, dtype=np.uint8).ravel()
    else:
        buf = np.frombuffer(bytes(data), dtype=np.uint8)
    if buf.size != step * height:
        raise SensorInputError(
            f"image data has {buf.size} bytes, header says step*height = {step * height}"
        )
    rows = buf.reshape(height, step)[:, : width * channels]
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rows.reshape(shape).copy()


def downsample_area(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize the first two axes to ``(out_h, out_w)`` by area averaging (float64).

    Shrinking averages each output cell's block of source pixels (as OpenCV's INTER_AREA,
    which FEAGI's retina uses); growing repeats the nearest pixel.
    """
    img = np.asarray(image, dtype=np.float64)
    for axis, out in ((0, out_h), (1, out_w)):
        n = img.shape[axis]
        if out == n:
            continue
        edges = (np.arange(out + 1, dtype=np.int64) * n) // out
        if out < n:
            sums = np.add.reduceat(img, edges[:-1], axis=axis)
            counts = np.diff(edges).astype(np.float64)
            shape = [1] * img.ndim
            shape[axis] = out
            img = sums / counts.reshape(shape)
        else:
            img = np.take(img, edges[:-1], axis=axis)
    return img


def _luma(rgb: np.ndarray) -> np.ndarray:
    # ITU-R BT.601 weights, what cv2.COLOR_RGB2GRAY uses.
    return rgb @ np.array([0.299, 0.587, 0.114])


def encode_image(
    image: ArrayLike,
    encoding: str,
    dims: Sequence[int],
    settings: VisionSettings = VisionSettings(),
) -> Injection:
    """An 8-bit image -> vision area.

    The image is area-averaged to ``dx`` columns x ``dy`` rows. For an area 3 voxels deep
    and a colour image, z is the channel in RGB order (bgr8 is reordered); otherwise the grey
    level is used at z = 0, or coded along z with ``settings.depth_coding``. Pixels below
    ``settings.threshold`` stay silent.

    Raises:
        SensorInputError: unsupported encoding, a dtype other than uint8, or an array shape
            that does not match the encoding.
    """
    dx, dy, dz = _dims(dims)
    if encoding not in IMAGE_ENCODINGS:
        supported = ", ".join(sorted(IMAGE_ENCODINGS))
        raise SensorInputError(f"unsupported image encoding {encoding!r} (supported: {supported})")
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise SensorInputError(f"{encoding} image must be uint8, got {img.dtype}")
    channels = IMAGE_ENCODINGS[encoding]
    if channels == 1 and img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    expected = "HxW" if channels == 1 else "HxWx3"
    if (channels == 1 and img.ndim != 2) or (
        channels == 3 and (img.ndim != 3 or img.shape[2] != 3)
    ):
        raise SensorInputError(f"{encoding} image must be {expected}, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise SensorInputError(f"image is empty: shape {img.shape}")
    if settings.mirror:
        img = img[:, ::-1]
    if encoding == "bgr8":
        img = img[:, :, ::-1]
    small = downsample_area(img, dy, dx)  # (dy, dx) or (dy, dx, 3), rows top-down

    if small.ndim == 3 and dz >= 3 and not settings.depth_coding:
        values = small  # (dy, dx, 3): z = channel
    else:
        grey = _luma(small) if small.ndim == 3 else small
        values = grey[:, :, None]
    values = np.rint(values)
    rows, cols, chans = np.nonzero(values >= max(settings.threshold, 1))
    v = values[rows, cols, chans]
    x = cols
    y = dy - 1 - rows
    if settings.depth_coding:
        z = percentage_to_z(v / 255.0, dz)
        p = np.full(v.shape, settings.potential)
    else:
        z = chans
        p = settings.potential * v / 255.0
    return _injection(x, y, z, p)


# --------------------------------------------------------------------------------------
# percentages, IMU, joints
# --------------------------------------------------------------------------------------


def _values_1d(values: ArrayLike, what: str) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SensorInputError(f"{what} is not numeric: {values!r}") from exc
    if v.ndim == 0:
        v = v.reshape(1)
    if v.ndim != 1:
        raise SensorInputError(f"{what} must be 1-D, got shape {v.shape}")
    return v


def encode_percentages(
    values: ArrayLike,
    dims: Sequence[int],
    potential: float = DEFAULT_POTENTIAL,
    first_channel: int = 0,
) -> Injection:
    """Unsigned FEAGI linear percentages: channel ``c`` -> column ``x = first_channel + c``.

    ``values`` are fractions in [0, 1] (clamped); NaN entries fire nothing.
    """
    dx, _, dz = _dims(dims)
    v = _values_1d(values, "values")
    if first_channel < 0 or first_channel + v.size > dx:
        raise ValueError(
            f"channels {first_channel}..{first_channel + v.size - 1} do not fit an area {dx} wide"
        )
    ok = ~np.isnan(v)
    x = first_channel + np.flatnonzero(ok)
    return _injection(x, 0, percentage_to_z(v[ok], dz), _potential(potential))


def encode_signed_percentages(
    values: ArrayLike,
    dims: Sequence[int],
    full_scale: float | ArrayLike = 1.0,
    potential: float = DEFAULT_POTENTIAL,
    first_channel: int = 0,
) -> Injection:
    """Signed FEAGI linear percentages (split-sign halves).

    Channel ``c`` (counted from ``first_channel``) writes column ``2c`` when its value is
    positive and ``2c + 1`` when negative, at depth ``percentage_to_z(|v|)``; exactly 0 fires
    the deepest voxel of both halves, which a FEAGI decoder reads back as 0. ``values`` are
    divided by ``full_scale`` (scalar or per channel) and clamped to [-1, 1]. Source:
    feagi-core ``encode_signed_percentage_to_linear_neuron_z_index`` and the
    ``raw_imu.rs`` layout ``[a_pos, a_neg, b_pos, b_neg, c_pos, c_neg]``.

    Raises:
        SensorInputError: a value is NaN or infinite.
        ValueError: the channels do not fit in ``dx`` or ``full_scale`` is not positive.
    """
    dx, _, dz = _dims(dims)
    v = _values_1d(values, "values")
    if not np.all(np.isfinite(v)):
        raise SensorInputError(f"values must be finite, got {v.tolist()}")
    scale = np.broadcast_to(np.asarray(full_scale, dtype=np.float64), v.shape)
    if not np.all((scale > 0) & np.isfinite(scale)):
        raise ValueError(f"full_scale must be positive and finite, got {full_scale}")
    if first_channel < 0 or 2 * (first_channel + v.size) > dx:
        raise ValueError(
            f"{v.size} signed channels from {first_channel} need {2 * (first_channel + v.size)}"
            f" columns, the area has {dx}"
        )
    frac = np.clip(v / scale, -1.0, 1.0)
    ch = first_channel + np.arange(v.size)
    zero = frac == 0.0
    nz = ~zero
    x = np.concatenate([2 * ch[nz] + (frac[nz] < 0), 2 * ch[zero], 2 * ch[zero] + 1])
    z = np.concatenate(
        [percentage_to_z(np.abs(frac[nz]), dz), np.full(2 * int(zero.sum()), dz - 1)]
    )
    order = np.argsort(x, kind="stable")
    return _injection(x[order], 0, z[order], _potential(potential))


@dataclass(frozen=True)
class ImuSettings:
    """Full-scale values of the signed IMU areas (each reading / scale is clamped to +-1).

    Attributes:
        angular_velocity_scale: rad/s that fires the strongest voxel.
        linear_acceleration_scale: m/s^2 that fires the strongest voxel (default 2 g).
        potential: Potential of every fired voxel.
    """

    angular_velocity_scale: float = 4.0
    linear_acceleration_scale: float = 2.0 * 9.80665
    potential: float = DEFAULT_POTENTIAL

    def __post_init__(self) -> None:
        for name in ("angular_velocity_scale", "linear_acceleration_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive and finite, got {value}")
        _potential(self.potential)


def _vector3(xyz: ArrayLike, what: str) -> np.ndarray:
    v = _values_1d(xyz, what)
    if v.size != 3:
        raise SensorInputError(f"{what} must have 3 components, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise SensorInputError(f"{what} must be finite, got {v.tolist()}")
    return v


def _absent(covariance0: float | None) -> bool:
    # REP 145: a covariance matrix whose first element is -1 means "this field is not
    # provided", so the reading is not an error, just nothing to encode.
    return covariance0 is not None and covariance0 == -1.0


def encode_imu_angular_velocity(
    xyz: ArrayLike,
    dims: Sequence[int],
    settings: ImuSettings = ImuSettings(),
    covariance0: float | None = None,
) -> Injection:
    """``Imu.angular_velocity`` (rad/s) -> signed area, channels x, y, z (6 columns)."""
    if _absent(covariance0):
        return empty_injection()
    v = _vector3(xyz, "angular_velocity")
    return encode_signed_percentages(v, dims, settings.angular_velocity_scale, settings.potential)


def encode_imu_linear_acceleration(
    xyz: ArrayLike,
    dims: Sequence[int],
    settings: ImuSettings = ImuSettings(),
    covariance0: float | None = None,
) -> Injection:
    """``Imu.linear_acceleration`` (m/s^2) -> signed area, channels x, y, z (6 columns)."""
    if _absent(covariance0):
        return empty_injection()
    v = _vector3(xyz, "linear_acceleration")
    return encode_signed_percentages(
        v, dims, settings.linear_acceleration_scale, settings.potential
    )


def quaternion_to_rpy(q_xyzw: ArrayLike) -> np.ndarray:
    """Roll, pitch, yaw (radians, ZYX convention) of a unit quaternion ``(x, y, z, w)``."""
    x, y, z, w = np.asarray(q_xyzw, dtype=np.float64)
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return np.array([roll, pitch, yaw])


def encode_imu_orientation(
    q_xyzw: ArrayLike,
    dims: Sequence[int],
    settings: ImuSettings = ImuSettings(),
    covariance0: float | None = None,
) -> Injection:
    """``Imu.orientation`` -> signed area of roll, pitch, yaw, each as a fraction of pi.

    A quaternion whose norm is off by more than 10 % is malformed; it is normalised
    otherwise. Drivers without an orientation estimate set ``orientation_covariance[0] = -1``
    (REP 145): pass it as ``covariance0`` and nothing is encoded.
    """
    if _absent(covariance0):
        return empty_injection()
    q = _values_1d(q_xyzw, "orientation")
    if q.size != 4 or not np.all(np.isfinite(q)):
        raise SensorInputError(f"orientation must be 4 finite numbers (x, y, z, w), got {q}")
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > 0.1:
        raise SensorInputError(
            f"orientation quaternion has norm {norm:.3g}, not 1 (if the IMU gives no "
            "orientation it must set orientation_covariance[0] = -1)"
        )
    rpy = quaternion_to_rpy(q / norm)
    return encode_signed_percentages(rpy, dims, math.pi, settings.potential)


@dataclass(frozen=True)
class JointSettings:
    """Which joints a servo-position area holds, and their limits.

    Joint ``i`` of ``joints`` is column ``x = i``; its position is coded as the linear
    percentage ``(pos - lower[i]) / (upper[i] - lower[i])`` (clamped), upper limit -> z = 0.
    """

    joints: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    potential: float = DEFAULT_POTENTIAL

    def __post_init__(self) -> None:
        if not (len(self.joints) == len(self.lower) == len(self.upper)):
            raise ValueError("joints, lower and upper must have the same length")
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"joint names repeat: {self.joints}")
        for name, lo, hi in zip(self.joints, self.lower, self.upper, strict=True):
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise ValueError(f"joint {name!r} needs finite limits lower < upper")
        _potential(self.potential)


def encode_joint_positions(
    names: Sequence[str],
    positions: ArrayLike,
    dims: Sequence[int],
    settings: JointSettings,
) -> Injection:
    """``sensor_msgs/JointState`` (name, position) -> servo-position area.

    Joints the message does not mention, or reports as NaN, fire nothing (JointState may
    carry a subset of joints); names not in ``settings.joints`` are ignored.

    Raises:
        SensorInputError: ``name`` and ``position`` differ in length, a name repeats, or a
            position is infinite.
    """
    dx, _, dz = _dims(dims)
    if len(settings.joints) > dx:
        raise ValueError(f"{len(settings.joints)} joints do not fit an area {dx} wide")
    pos = _values_1d(positions, "position")
    names = list(names)
    if pos.size == 0:
        return empty_injection()
    if len(names) != pos.size:
        raise SensorInputError(f"JointState has {len(names)} names but {pos.size} positions")
    if len(set(names)) != len(names):
        raise SensorInputError(f"JointState repeats joint names: {names}")
    if np.any(np.isinf(pos)):
        raise SensorInputError(f"joint positions must not be infinite: {pos.tolist()}")
    index = {n: i for i, n in enumerate(settings.joints)}
    xs, fracs = [], []
    for name, p in zip(names, pos, strict=True):
        i = index.get(name)
        if i is None or math.isnan(p):
            continue
        lo, hi = settings.lower[i], settings.upper[i]
        xs.append(i)
        fracs.append((p - lo) / (hi - lo))
    if not xs:
        return empty_injection()
    order = np.argsort(xs)
    x = np.asarray(xs)[order]
    return _injection(x, 0, percentage_to_z(np.asarray(fracs)[order], dz), settings.potential)


# --------------------------------------------------------------------------------------
# generic
# --------------------------------------------------------------------------------------


def encode_raw(
    voxels: ArrayLike, potentials: float | ArrayLike, dims: Sequence[int]
) -> Injection:
    """Validate a ready-made injection (e.g. from a generic per-area input topic).

    ``voxels`` is ``(n, 3)`` (or a flat list of 3n integers); ``potentials`` a scalar or
    ``(n,)``. Float coordinates are accepted only when integral.

    Raises:
        SensorInputError: wrong shape, non-integral or out-of-area coordinates, non-finite
            potentials.
    """
    dx, dy, dz = _dims(dims)
    v = np.asarray(voxels)
    if v.size == 0:
        return empty_injection()
    if v.ndim == 1 and v.size % 3 == 0:
        v = v.reshape(-1, 3)
    if v.ndim != 2 or v.shape[1] != 3:
        raise SensorInputError(f"voxels must be (n, 3), got shape {v.shape}")
    if not np.issubdtype(v.dtype, np.integer):
        vf = v.astype(np.float64)
        if not np.all(np.isfinite(vf)) or np.any(vf != np.round(vf)):
            raise SensorInputError("voxel coordinates must be integers")
        v = vf
    v = v.astype(np.int64)
    bounds = np.array([dx, dy, dz])
    outside = np.any((v < 0) | (v >= bounds), axis=1)
    if outside.any():
        raise SensorInputError(
            f"voxel {v[outside][0].tolist()} is outside the area of size {(dx, dy, dz)}"
        )
    p = np.asarray(potentials, dtype=np.float64)
    if p.ndim == 0:
        p = np.full(v.shape[0], float(p))
    if p.shape != (v.shape[0],):
        raise SensorInputError(f"{v.shape[0]} voxels but potentials of shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise SensorInputError("potentials must be finite")
    return v, p.astype(np.float32)


def encode_dense(
    values: ArrayLike, dims: Sequence[int], threshold: float = 0.0, scale: float = 1.0
) -> Injection:
    """A dense per-voxel array (e.g. ``Float32MultiArray``) -> injection.

    ``values`` has ``dx * dy * dz`` entries, flat in the connectome's order (x-major, z
    innermost) or shaped ``(dx, dy, dz)``. Voxels with ``|value| > threshold`` fire with
    potential ``value * scale``.
    """
    dx, dy, dz = _dims(dims)
    v = np.asarray(values, dtype=np.float64)
    if v.size != dx * dy * dz:
        raise SensorInputError(f"expected {dx * dy * dz} values for area {(dx, dy, dz)}, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise SensorInputError("values must be finite")
    grid = v.reshape(dx, dy, dz)
    x, y, z = np.nonzero(np.abs(grid) > threshold)
    return _injection(x, y, z, grid[x, y, z] * _potential(scale, "scale"))
