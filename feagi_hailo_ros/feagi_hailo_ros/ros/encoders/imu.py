"""``sensor_msgs/Imu`` -> FEAGI signed-percentage areas (one per field).

Each of angular velocity, linear acceleration and orientation (as roll, pitch, yaw) is three
signed channels: six columns ``[x_pos, x_neg, y_pos, y_neg, z_pos, z_neg]``, FEAGI's
``raw_imu.rs`` layout (see :func:`.common.encode_signed_percentages`). A field whose covariance
starts with -1 is "not provided" (REP 145): it fires nothing and the encoder raises
:class:`.common.FieldNotProvided` so the node can say so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .common import (
    DEFAULT_POTENTIAL,
    FieldNotProvided,
    Injection,
    SensorInputError,
    _potential,
    _values_1d,
    encode_signed_percentages,
)


@dataclass(frozen=True)
class ImuSettings:
    """Full-scale values of the signed IMU areas (each reading / scale is clamped to +-1).

    Attributes:
        angular_velocity_scale: rad/s that fires the strongest voxel.
        linear_acceleration_scale: m/s^2 that fires the strongest voxel (default 2 g).
        potential: Potential of every fired voxel.

    Raises:
        ValueError: a scale that is not positive and finite, or a non-finite potential.
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
    """Three finite components as float64 ``(3,)``; SensorInputError otherwise."""
    v = _values_1d(xyz, what)
    if v.size != 3:
        raise SensorInputError(f"{what} must have 3 components, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise SensorInputError(f"{what} must be finite, got {v.tolist()}")
    return v


def _check_provided(covariance0: float | None, field: str) -> None:
    # REP 145: a covariance matrix whose first element is -1 means "this field is not
    # provided": nothing to encode, and the node must be told (not counted as accepted).
    if covariance0 is not None and covariance0 == -1.0:
        raise FieldNotProvided(field)


def encode_imu_angular_velocity(
    xyz: ArrayLike,
    dims: Sequence[int],
    settings: ImuSettings = ImuSettings(),
    covariance0: float | None = None,
) -> Injection:
    """``Imu.angular_velocity`` -> signed area, channels x, y, z (6 columns).

    Args:
        xyz: ``(3,)`` angular velocity in rad/s.
        dims: ``(dx, dy, dz)`` of the area, ``dx >= 6``.
        settings: Full scale (``angular_velocity_scale``) and potential.
        covariance0: ``angular_velocity_covariance[0]``; -1 (REP 145) means not provided.

    Returns:
        An injection of 3 to 6 voxels.

    Raises:
        FieldNotProvided: ``covariance0`` is -1 (REP 145).
        SensorInputError: not 3 finite components.
        ValueError: the area is narrower than 6 columns.
    """
    _check_provided(covariance0, "angular_velocity")
    v = _vector3(xyz, "angular_velocity")
    return encode_signed_percentages(v, dims, settings.angular_velocity_scale, settings.potential)


def encode_imu_linear_acceleration(
    xyz: ArrayLike,
    dims: Sequence[int],
    settings: ImuSettings = ImuSettings(),
    covariance0: float | None = None,
) -> Injection:
    """``Imu.linear_acceleration`` -> signed area, channels x, y, z (6 columns).

    Args:
        xyz: ``(3,)`` acceleration in m/s^2 (gravity included, as the message carries it).
        dims: ``(dx, dy, dz)`` of the area, ``dx >= 6``.
        settings: Full scale (``linear_acceleration_scale``) and potential.
        covariance0: ``linear_acceleration_covariance[0]``; -1 (REP 145) means not provided.

    Returns:
        An injection of 3 to 6 voxels.

    Raises:
        FieldNotProvided: ``covariance0`` is -1 (REP 145).
        SensorInputError: not 3 finite components.
        ValueError: the area is narrower than 6 columns.
    """
    _check_provided(covariance0, "linear_acceleration")
    v = _vector3(xyz, "linear_acceleration")
    return encode_signed_percentages(
        v, dims, settings.linear_acceleration_scale, settings.potential
    )


def quaternion_to_rpy(q_xyzw: ArrayLike) -> np.ndarray:
    """Roll, pitch, yaw of a unit quaternion.

    Args:
        q_xyzw: ``(4,)`` quaternion ``(x, y, z, w)`` (ROS order), assumed normalised.

    Returns:
        float64 ``(3,)`` angles in radians, ZYX (yaw-pitch-roll) convention; pitch in
        [-pi/2, pi/2], roll and yaw in [-pi, pi].
    """
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

    Args:
        q_xyzw: ``(4,)`` quaternion ``(x, y, z, w)``; normalised here when its norm is within
            10 % of 1.
        dims: ``(dx, dy, dz)`` of the area, ``dx >= 6``.
        settings: Potential (the full scale is pi).
        covariance0: ``orientation_covariance[0]``; drivers without an orientation estimate
            set it to -1 (REP 145): not provided.

    Returns:
        An injection of 3 to 6 voxels.

    Raises:
        FieldNotProvided: ``covariance0`` is -1 (REP 145).
        SensorInputError: not 4 finite numbers, or a norm off by more than 10 %.
        ValueError: the area is narrower than 6 columns.
    """
    _check_provided(covariance0, "orientation")
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
