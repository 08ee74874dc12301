"""Sensor readings -> injections for FEAGI input areas, one module per sensor kind (FEAGI coding).

Encoders take message fields as plain numbers and numpy arrays: no rclpy, no message classes, no engine.

Must not import: engine, ros.node, cli, rclpy, *_msgs
"""

from .area_input import encode_area_input, encode_raw
from .common import (
    DEFAULT_POTENTIAL,
    FieldNotProvided,
    Injection,
    SensorInputError,
    empty_injection,
    encode_signed_percentages,
    percentage_to_z,
)
from .imu import (
    ImuSettings,
    encode_imu_angular_velocity,
    encode_imu_linear_acceleration,
    encode_imu_orientation,
    quaternion_to_rpy,
)
from .joints import JointSettings, encode_joint_positions
from .proximity import ProximitySettings, encode_laser_scan, encode_range
from .vision import (
    DEPTH_ENCODINGS,
    IMAGE_ENCODINGS,
    VisionSettings,
    downsample_area,
    encode_image,
    image_from_buffer,
)

__all__ = [
    "DEFAULT_POTENTIAL",
    "DEPTH_ENCODINGS",
    "FieldNotProvided",
    "IMAGE_ENCODINGS",
    "ImuSettings",
    "Injection",
    "JointSettings",
    "ProximitySettings",
    "SensorInputError",
    "VisionSettings",
    "downsample_area",
    "empty_injection",
    "encode_area_input",
    "encode_image",
    "encode_imu_angular_velocity",
    "encode_imu_linear_acceleration",
    "encode_imu_orientation",
    "encode_joint_positions",
    "encode_laser_scan",
    "encode_range",
    "encode_raw",
    "encode_signed_percentages",
    "image_from_buffer",
    "percentage_to_z",
    "quaternion_to_rpy",
]
