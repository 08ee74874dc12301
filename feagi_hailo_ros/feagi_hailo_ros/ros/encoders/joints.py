"""``sensor_msgs/JointState`` positions -> a FEAGI servo-position area.

Joint ``i`` is column ``x = i``, row ``y = 0``; its position is coded as the unsigned linear
percentage (:func:`.common.percentage_to_z`) of its place between the limits, the upper
limit firing z = 0. This mirrors FEAGI's servo position coding (feagi-connector
``actuators.get_position_data``: ``lower + value * (upper - lower)``), which
``decoders.decode_servo_positions`` reads back.
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
    _injection,
    _potential,
    _values_1d,
    empty_injection,
    percentage_to_z,
)


@dataclass(frozen=True)
class JointSettings:
    """Which joints a servo-position area holds, and their limits.

    Joint ``i`` of ``joints`` is column ``x = i``; its position is coded as the linear
    percentage ``(pos - lower[i]) / (upper[i] - lower[i])`` (clamped), upper limit -> z = 0.

    Attributes:
        joints: Joint names in column order.
        lower, upper: Limits per joint, in the joint's unit (rad or m).
        potential: Potential of every fired voxel.

    Raises:
        ValueError: lengths differ, a name repeats, limits are not finite with lower < upper,
            or the potential is not finite.
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
    carry a subset of joints); names not in ``settings.joints`` are ignored; a message without
    positions (velocity or effort only) encodes nothing.

    Args:
        names: The message's ``name``.
        positions: The message's ``position``, ``(len(names),)`` (rad or m).
        dims: ``(dx, dy, dz)`` of the area; ``dx >= len(settings.joints)``.
        settings: Joints and their limits.

    Returns:
        An injection, one voxel per known joint with a position, sorted by x.

    Raises:
        SensorInputError: ``name`` and ``position`` differ in length, a name repeats, or a
            position is infinite.
        ValueError: the joints do not fit the area's width.
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
