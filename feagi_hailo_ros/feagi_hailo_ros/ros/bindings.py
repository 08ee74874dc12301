"""Sensor bindings: which topic feeds which input area, and how a message becomes an injection.

A binding is configured by parameters (``sensors.<name>.topic/type/area/potential/max_age_s``,
see ``params.py``; DESIGN §7: sensor topics bound to input areas by parameters).
``encode_message`` reads the fields of a ROS message by attribute, so it needs the message
*classes* only in the node, and tests can pass any object with the same fields. The codings
themselves are the encoders' (FEAGI's). No rclpy here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import encoders as enc

#: The binding types: type -> (ROS message type, what it feeds). The one list of them: the
#: ``sensors.<name>.type`` parameter, the node's subscriptions and README.md read it.
SENSOR_TYPES: dict[str, tuple[str, str]] = {
    "laser_scan": ("sensor_msgs/msg/LaserScan",
                   "proximity area: x = angular sector, z = distance of the nearest return"),
    "range": ("sensor_msgs/msg/Range", "proximity area: the centre column, z = distance"),
    "image": ("sensor_msgs/msg/Image",
              "vision area: averaged down to x*y, z = RGB channel (3 deep) or grey, potential = intensity"),
    "imu_angular_velocity": ("sensor_msgs/msg/Imu", "signed percentages of wx, wy, wz (6 columns)"),
    "imu_linear_acceleration": ("sensor_msgs/msg/Imu", "signed percentages of ax, ay, az (6 columns)"),
    "imu_orientation": ("sensor_msgs/msg/Imu", "signed percentages of roll, pitch, yaw (6 columns)"),
    "joint_state": ("sensor_msgs/msg/JointState",
                    "servo-position area: one column per joint, z = position between its limits"),
    "area_input": ("feagi_hailo_msgs/msg/AreaInput", "raw injection by voxel or neuron index"),
}


#: ``SensorBinding.area`` of a binding the brain has no area for (``areas.resolve_areas``
#: leaves a sensor unbound only in a brain without a motor area); its messages are counted and
#: dropped.
UNBOUND = "<unbound>"


@dataclass(frozen=True)
class SensorBinding:
    """One sensor topic bound to one input area.

    Attributes:
        name: The binding's name (an entry of ``sensor_names``).
        topic: Topic to subscribe.
        kind: Binding type, a key of :data:`SENSOR_TYPES`.
        area: Cortical id (or name) of the input area, as resolved at configure
            (``areas.resolve_areas``), or :data:`UNBOUND`.
        potential: Potential of a fully active voxel.

    Raises:
        ValueError: an unknown type, an empty topic or area, a potential that is not finite
            and > 0, ``fov_deg`` outside [0, 360], a negative or non-finite ``range_max``, or a
            joint_state binding without joints and limits of one length.
    """

    name: str
    topic: str
    kind: str
    area: str
    potential: float = enc.DEFAULT_POTENTIAL
    #: A message whose header stamp is older than this (seconds) is dropped; 0 disables.
    max_age_s: float = 0.5
    #: laser_scan only: the angular window (degrees, centred on the sensor's x axis) spread
    #: over the area's x, counter-clockwise (x = 0 on the right). 0: the scan's own span.
    fov_deg: float = 180.0
    #: laser_scan/range: distance coded as the farthest level; farther is "no obstacle"
    #: (FEAGI's detection threshold). 0: the message's range_max.
    range_max: float = 0.0
    #: joint_state only: joint names in column order, and their limits.
    joints: tuple[str, ...] = ()
    joint_lower: tuple[float, ...] = ()
    joint_upper: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in SENSOR_TYPES:
            raise ValueError(f"sensor {self.name!r}: unknown type {self.kind!r}; "
                             f"known: {', '.join(sorted(SENSOR_TYPES))}")
        if not self.topic:
            raise ValueError(f"sensor {self.name!r}: empty topic")
        if not self.area:
            raise ValueError(f"sensor {self.name!r}: no target area")
        if not (math.isfinite(self.potential) and self.potential > 0):
            raise ValueError(f"sensor {self.name!r}: potential must be finite and > 0")
        if not (0.0 <= self.fov_deg <= 360.0) or not (math.isfinite(self.range_max)
                                                       and self.range_max >= 0.0):
            raise ValueError(f"sensor {self.name!r}: fov_deg must be in [0, 360] and range_max >= 0")
        if self.kind == "joint_state" and not (
                len(self.joints) == len(self.joint_lower) == len(self.joint_upper) > 0):
            raise ValueError(f"sensor {self.name!r}: joint_state needs joints, joint_lower and "
                             "joint_upper of the same non-zero length")


def stamp_age(stamp: Any, now_s: float) -> float | None:
    """How old a message is.

    Args:
        stamp: A ``builtin_interfaces/Time`` (anything with ``sec`` and ``nanosec``).
        now_s: The current time of the same clock, in seconds.

    Returns:
        ``now_s - stamp`` in seconds (negative for a stamp in the future); None when the stamp
        is unset (zero), which many drivers leave it.
    """
    sec = getattr(stamp, "sec", 0)
    nanosec = getattr(stamp, "nanosec", 0)
    if sec == 0 and nanosec == 0:
        return None
    return now_s - (sec + nanosec * 1e-9)


def encode_message(binding: SensorBinding, msg: Any,
                   dims: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | tuple[None, Any]:
    """Turn one message into an injection for the binding's area.

    Args:
        binding: The binding the message arrived on.
        msg: The message (of the binding type's class, or any object with its fields).
        dims: ``(dx, dy, dz)`` of the binding's area.

    Returns:
        ``(voxels int64 (n, 3), potentials float32 (n,))``; for ``area_input`` messages
        addressed by neuron index ``(None, (indices int64 (k,), potentials float64))``.

    Raises:
        encoders.SensorInputError: the message is malformed (the node drops it).
        ValueError: the area does not fit the binding (e.g. too narrow for an IMU).
    """
    kind = binding.kind
    range_max = binding.range_max or None
    if kind == "laser_scan":
        half = math.radians(binding.fov_deg) / 2
        fov = (-half, half) if binding.fov_deg else (None, None)
        return enc.encode_laser_scan(
            np.asarray(msg.ranges, dtype=np.float64), msg.angle_min, msg.angle_increment,
            msg.range_min, msg.range_max, dims,
            enc.ProximitySettings(potential=binding.potential, range_max=range_max,
                                  fov_min=fov[0], fov_max=fov[1]))
    if kind == "range":
        return enc.encode_range(msg.range, msg.min_range, msg.max_range, dims,
                                enc.ProximitySettings(potential=binding.potential,
                                                      range_max=range_max))
    if kind == "image":
        image = enc.image_from_buffer(bytes(msg.data), msg.height, msg.width, msg.step,
                                      msg.encoding, msg.is_bigendian)
        return enc.encode_image(image, msg.encoding, dims,
                                enc.VisionSettings(potential=binding.potential))
    if kind.startswith("imu_"):
        settings = enc.ImuSettings(potential=binding.potential)
        if kind == "imu_angular_velocity":
            v = msg.angular_velocity
            return enc.encode_imu_angular_velocity((v.x, v.y, v.z), dims, settings,
                                                   msg.angular_velocity_covariance[0])
        if kind == "imu_linear_acceleration":
            a = msg.linear_acceleration
            return enc.encode_imu_linear_acceleration((a.x, a.y, a.z), dims, settings,
                                                      msg.linear_acceleration_covariance[0])
        if kind == "imu_orientation":
            q = msg.orientation
            return enc.encode_imu_orientation((q.x, q.y, q.z, q.w), dims, settings,
                                              msg.orientation_covariance[0])
    if kind == "joint_state":
        settings = enc.JointSettings(binding.joints, binding.joint_lower, binding.joint_upper,
                                     potential=binding.potential)
        return enc.encode_joint_positions(list(msg.name), np.asarray(msg.position, np.float64),
                                          dims, settings)
    if kind == "area_input":
        return enc.encode_area_input(msg.x, msg.y, msg.z, msg.neuron_indices, msg.potentials, dims)
    # A type in SENSOR_TYPES without a branch here is a programming error, not bad input.
    raise NotImplementedError(f"sensor type {kind!r} has no encoder in encode_message")
