"""Motor decoding compiled for the burst thread (Numba, ``nogil``): fired neurons -> channels.

The same arithmetic as :func:`~.decoders.decode_signed_percentages` and
:func:`~.decoders.decode_percentages` (FEAGI's signed-percentage and positional-servo
decoders; sources there), bit for bit, but read straight from the area-local indices of the
fired neurons: no ``(n, 3)`` voxel array, no ``bincount`` per half, one compiled call that
releases the GIL. At 1 kHz the NumPy path (about ten NumPy calls, each a few microseconds)
cost more than the burst itself on a small brain.

Bit-exactness: per channel the z values are summed in float64 in the order of the fired
indices (ascending), as ``np.bincount(weights=...)`` sums them, then ``1 - (sum / count) /
dz`` and the clamp are the same IEEE operations. ``test/ros/test_motor_kernels.py`` checks it
on random inputs (Hypothesis).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..engine.core.connectome import AreaSpec
from .decoders import DiffDriveSettings, MotorReading, wheels_to_twist


@njit(cache=True, nogil=True)
def _decode(local: np.ndarray, neurons_per_voxel: int, dx: int, dy: int, dz: int,
            channels: int, signed: bool) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    # Per channel: spike counts and z sums of the positive half (even x, or the one column of
    # an unsigned channel) and of the negative half (odd x; signed only).
    count_pos = np.zeros(channels, np.int64)
    count_neg = np.zeros(channels, np.int64)
    sum_pos = np.zeros(channels, np.float64)
    sum_neg = np.zeros(channels, np.float64)
    for i in range(local.size):
        voxel = local[i] // neurons_per_voxel
        x = voxel // (dy * dz)
        y = (voxel // dz) % dy
        z = voxel % dz
        # FEAGI reads row y = 0 inside the area and skips the rest (decoders._usable).
        if y != 0 or x < 0 or x >= dx or z < 0 or z >= dz:
            continue
        c = x // 2 if signed else x
        if c >= channels:
            continue
        if signed and x % 2 == 1:
            count_neg[c] += 1
            sum_neg[c] += z
        else:
            count_pos[c] += 1
            sum_pos[c] += z
    values = np.zeros(channels, np.float64)
    active = np.zeros(channels, np.bool_)
    lo = -1.0 if signed else 0.0
    for c in range(channels):
        pos = 1.0 - (sum_pos[c] / count_pos[c]) / dz if count_pos[c] > 0 else 0.0
        neg = 1.0 - (sum_neg[c] / count_neg[c]) / dz if count_neg[c] > 0 else 0.0
        v = pos - neg
        if v < lo:
            v = lo
        elif v > 1.0:
            v = 1.0
        values[c] = v
        active[c] = count_pos[c] + count_neg[c] > 0
    return values, active


def warm() -> None:
    """Compile (or load from Numba's cache) the decoding kernel for the types a burst passes
    (read-only int64 area-local ids from ``fired.FiredByArea``, ints, a bool), so the first
    burst does not: compiled there it stalled the first burst after ``make setup`` for 0.8 s
    and tripped the watchdog."""
    local = np.zeros(0, np.int64)
    local.flags.writeable = False
    _decode(local, 1, 2, 1, 1, 1, True)


class AreaDecoder:
    """Decodes one motor area from its fired neurons, every burst (prepared once per brain).

    Args:
        area: The motor area (dims and neurons per voxel are read once).
        channels: Channels to decode (signed: columns ``2c``, ``2c + 1``; unsigned: column
            ``c``); at most the area's width (``dx // 2`` signed).
        signed: FEAGI signed percentage (True) or unsigned linear percentage (False).

    Raises:
        ValueError: ``channels`` negative or wider than the area.
    """

    def __init__(self, area: AreaSpec, channels: int, signed: bool) -> None:
        dx, dy, dz = (int(d) for d in area.dims)
        width = dx // 2 if signed else dx
        if not 0 <= channels <= width:
            raise ValueError(f"{channels} channels do not fit area {area.cortical_id} "
                             f"({dx} columns, {'signed' if signed else 'unsigned'})")
        self.area = area
        self._args = (int(area.neurons_per_voxel), dx, dy, dz, int(channels), bool(signed))

    def __call__(self, local: np.ndarray) -> MotorReading:
        """int64 ``(k,)`` ascending area-local indices of the fired neurons -> a new
        :class:`~.decoders.MotorReading` (float64 values, bool active; ``(channels,)``)."""
        values, active = _decode(local, *self._args)
        return MotorReading(values, active)


class TwistDecoder:
    """A differential drive's ``cmd_vel`` from its signed motor area's fired neurons.

    Equal to :func:`~.decoders.motor_voxels_to_twist` of the same spikes.

    Args:
        area: The signed motor area.
        settings: Wheel channels and geometry (read at each call: a live parameter change
            applies from the next burst).

    Raises:
        ValueError: the area is too narrow for the wheel channels.
    """

    def __init__(self, area: AreaSpec, settings: DiffDriveSettings) -> None:
        self.area = area
        self._decoders: dict[int, AreaDecoder] = {}
        self._decoder(settings)  # refuse a too narrow area now

    def _decoder(self, settings: DiffDriveSettings) -> AreaDecoder:
        n = max(settings.left_channel, settings.right_channel) + 1
        decoder = self._decoders.get(n)
        if decoder is None:
            if 2 * n > self.area.dims[0]:
                raise ValueError(f"wheel channel {n - 1} needs {2 * n} columns, "
                                 f"the area has {self.area.dims[0]}")
            decoder = self._decoders[n] = AreaDecoder(self.area, n, signed=True)
        return decoder

    def __call__(self, local: np.ndarray, settings: DiffDriveSettings) -> tuple[float, float]:
        """int64 ``(k,)`` area-local fired indices -> ``(linear.x m/s, angular.z rad/s)``."""
        values = self._decoder(settings)(local).values
        return wheels_to_twist(float(values[settings.left_channel]),
                               float(values[settings.right_channel]), settings)


class ServoDecoder:
    """A joint output's positions ``lower + p * (upper - lower)`` from its area's fired neurons.

    Equal to :func:`~.decoders.decode_servo_positions` of the same spikes (NaN where a servo's
    column did not fire).

    Args:
        area: The output's area (at least ``len(lower)`` columns).
        lower, upper: Joint limits per servo (checked by the output binding).

    Raises:
        ValueError: more servos than columns.
    """

    def __init__(self, area: AreaSpec, lower: np.ndarray, upper: np.ndarray) -> None:
        self.area = area
        self._lower = np.asarray(lower, dtype=np.float64)
        self._span = np.asarray(upper, dtype=np.float64) - self._lower
        self._decode = AreaDecoder(area, self._lower.size, signed=False)

    def __call__(self, local: np.ndarray) -> MotorReading:
        """int64 ``(k,)`` area-local fired indices -> positions (float64 ``(joints,)``)."""
        frac, active = self._decode(local)
        return MotorReading(np.where(active, self._lower + frac * self._span, np.nan), active)
