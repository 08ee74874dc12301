"""Sensor bindings: which topic feeds which input area, and how a message becomes an injection.

A binding is configured by parameters (``sensors.<name>.topic/type/area/potential/max_age_s/...``,
see ``params.SENSOR_PARAMS``; DESIGN §7: sensor topics bound to input areas by parameters);
:func:`binding_from_params` reads and checks them.
``encode_message`` reads the fields of a ROS message by attribute, so it needs the message
*classes* only in the node, and tests can pass any object with the same fields. The codings
themselves are the encoders' (FEAGI's). No rclpy here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
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
              "vision area: averaged down to x*y, z = RGB channel (3 deep) or grey, potential = "
              "intensity (mono8, 8UC1, mono16, rgb8, bgr8, rgba8, bgra8); depth (16UC1 mm, 32FC1 m): "
              "z = distance of each cell's nearest return up to range_max, as proximity"),
    "imu_angular_velocity": ("sensor_msgs/msg/Imu", "signed percentages of wx, wy, wz (6 columns)"),
    "imu_linear_acceleration": ("sensor_msgs/msg/Imu", "signed percentages of ax, ay, az (6 columns)"),
    "imu_orientation": ("sensor_msgs/msg/Imu", "signed percentages of roll, pitch, yaw (6 columns)"),
    "joint_state": ("sensor_msgs/msg/JointState",
                    "servo-position area: one column per joint (joints), z = position between "
                    "its limits (joint_lower, joint_upper)"),
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
            and > 0, ``fov_deg`` outside [0, 360], a negative or non-finite ``range_max``, a
            joint_state binding without joints and limits of one length, with a repeated joint
            or limits that are not finite with lower < upper, or joints given to another type.
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
    #: (FEAGI's detection threshold). 0: the message's range_max. Depth images: the same, 0:
    #: ``VisionSettings.depth_max``.
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
        if self.kind == "joint_state":
            if not len(self.joints) == len(self.joint_lower) == len(self.joint_upper) > 0:
                raise ValueError(
                    f"sensor {self.name!r}: joint_state needs joints, joint_lower and joint_upper "
                    f"of the same non-zero length, got {len(self.joints)}, "
                    f"{len(self.joint_lower)}, {len(self.joint_upper)}")
            try:
                self.joint_settings()
            except ValueError as exc:
                raise ValueError(f"sensor {self.name!r}: {exc}") from exc
        elif self.joints or self.joint_lower or self.joint_upper:
            raise ValueError(f"sensor {self.name!r}: joints, joint_lower and joint_upper are for "
                             f"type joint_state, not {self.kind}")

    def joint_settings(self) -> enc.JointSettings:
        """The encoder settings of a joint_state binding (its joints, limits and potential).

        Raises:
            ValueError: as :class:`encoders.JointSettings` (repeated joint, limits not finite
                with lower < upper).
        """
        return enc.JointSettings(tuple(self.joints), tuple(self.joint_lower),
                                 tuple(self.joint_upper), potential=self.potential)


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    """A string-array parameter as a tuple; ValueError naming ``what`` otherwise."""
    if value is None:
        return ()
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings, got {value!r}")
    return tuple(value)


def _number_list(value: Any, what: str) -> tuple[float, ...]:
    """A number-array parameter (doubles; integers accepted) as floats; ValueError otherwise."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{what} must be a list of numbers, got {value!r}")
    return tuple(float(v) for v in value)


#: A sensor or output name: one ROS parameter-name token (``sensors.<name>.type``).
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def check_binding_names(names: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` unless every name in ``names`` (the ``sensor_names`` or
    ``output_names`` parameter, named by ``what``) is a parameter-name token (a letter, then
    letters, digits, ``_``) and none repeats: ``sensors.<name>.*`` must be a valid name."""
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"{what}: {name!r} is not a name (a letter, then letters, digits or "
                             "_); it becomes part of parameter names")
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise ValueError(f"{what}: {', '.join(repeated)} listed twice")


def binding_from_params(name: str, area: str, get: Callable[[str], Any]) -> SensorBinding:
    """Build and check the binding ``name`` from its ``sensors.<name>.*`` parameters.

    Args:
        name: The binding's name (an entry of ``sensor_names``).
        area: Its input area as resolved at configure (``areas.resolve_areas``), or
            :data:`UNBOUND`.
        get: Returns the value of ``sensors.<name>.<key>`` for a key of
            ``params.SENSOR_PARAMS`` (as rclpy delivers it; the list parameters ``joints``,
            ``joint_lower``, ``joint_upper`` may be ``[]``, a byte array when never set, or
            None).

    Returns:
        The binding.

    Raises:
        ValueError: a parameter of the wrong type (``joints`` not strings, limits not
            numbers) or any reason :class:`SensorBinding` refuses, prefixed with the sensor's
            name.
    """
    prefix = f"sensors.{name}."
    return SensorBinding(
        name=name, topic=get("topic"), kind=get("type"), area=area,
        potential=float(get("potential")), max_age_s=float(get("max_age_s")),
        fov_deg=float(get("fov_deg")), range_max=float(get("range_max")),
        joints=_string_list(get("joints"), prefix + "joints"),
        joint_lower=_number_list(get("joint_lower"), prefix + "joint_lower"),
        joint_upper=_number_list(get("joint_upper"), prefix + "joint_upper"))


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
        encoders.FieldNotProvided: the message declares the field this binding reads absent
            (Imu covariance[0] = -1, REP 145); a SensorInputError the node should count apart.
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
        vision = (enc.VisionSettings(potential=binding.potential, depth_max=binding.range_max)
                  if binding.range_max else enc.VisionSettings(potential=binding.potential))
        return enc.encode_image(image, msg.encoding, dims, vision)
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
        return enc.encode_joint_positions(list(msg.name), np.asarray(msg.position, np.float64),
                                          dims, binding.joint_settings())
    if kind == "area_input":
        return enc.encode_area_input(msg.x, msg.y, msg.z, msg.neuron_indices, msg.potentials, dims)
    # A type in SENSOR_TYPES without a branch here is a programming error, not bad input.
    raise NotImplementedError(f"sensor type {kind!r} has no encoder in encode_message")
