"""Imu -> signed-percentage areas (encoders/imu.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from injection_checks import as_set, check_shape

from feagi_hailo_ros.ros.decoders import decode_signed_percentages
from feagi_hailo_ros.ros.encoders import (
    FieldNotProvided,
    ImuSettings,
    SensorInputError,
    encode_imu_angular_velocity,
    encode_imu_linear_acceleration,
    encode_imu_orientation,
)


def test_imu_vectors() -> None:
    s = ImuSettings(angular_velocity_scale=2.0, linear_acceleration_scale=10.0)
    gyro = encode_imu_angular_velocity([1.0, -2.0, 0.0], (6, 1, 10), s)
    assert as_set(gyro) == {(0, 0, 5), (3, 0, 0), (4, 0, 9), (5, 0, 9)}
    acc = encode_imu_linear_acceleration([0.0, 0.0, 9.81], (6, 1, 10), s)
    assert (4, 0, 0) in as_set(acc)
    with pytest.raises(FieldNotProvided, match="angular_velocity is not provided"):
        encode_imu_angular_velocity([0, 0, 0], (6, 1, 10), covariance0=-1.0)
    with pytest.raises(SensorInputError, match="3 components"):
        encode_imu_angular_velocity([1.0, 2.0], (6, 1, 10))
    with pytest.raises(SensorInputError, match="finite"):
        encode_imu_linear_acceleration([1.0, math.inf, 0.0], (6, 1, 10))


def test_imu_orientation() -> None:
    ident = encode_imu_orientation([0, 0, 0, 1], (6, 1, 10))
    assert as_set(ident) == {(x, 0, 9) for x in range(6)}  # all three angles exactly zero
    yaw90 = encode_imu_orientation([0, 0, math.sin(math.pi / 4), math.cos(math.pi / 4)], (6, 1, 10))
    reading = decode_signed_percentages(yaw90[0], (6, 1, 10))
    np.testing.assert_allclose(reading.values, [0.0, 0.0, 0.5], atol=1e-9)
    with pytest.raises(FieldNotProvided, match="orientation is not provided"):
        encode_imu_orientation([0, 0, 0, 0], (6, 1, 10), covariance0=-1.0)
    with pytest.raises(SensorInputError, match="norm"):
        encode_imu_orientation([0, 0, 0, 0], (6, 1, 10))
    with pytest.raises(SensorInputError):
        encode_imu_orientation([0, 0, 1], (6, 1, 10))


@pytest.mark.parametrize(("encode", "field", "value"), [
    (encode_imu_angular_velocity, "angular_velocity", [0.0, 0.0, 1.5]),
    (encode_imu_linear_acceleration, "linear_acceleration", [0.0, 0.0, 9.8]),
    (encode_imu_orientation, "orientation", [0.0, 0.0, 0.0, 1.0]),
])
def test_imu_field_not_provided_is_a_named_reason_not_an_empty_reading(encode, field, value) -> None:
    # REP 145: covariance[0] = -1 means "not provided" even when the driver fills the data
    # (analogdevicesinc/imu_ros2#80): the encoder says so instead of returning an empty
    # injection the node would count as accepted.
    with pytest.raises(FieldNotProvided) as info:
        encode(value, (6, 1, 10), covariance0=-1.0)
    assert isinstance(info.value, SensorInputError)  # a node that does not know it still drops
    assert info.value.reason == "field_not_provided" and info.value.field == field
    assert "REP 145" in str(info.value)
    check_shape(encode(value, (6, 1, 10), covariance0=0.0))  # any other covariance encodes
    assert len(encode(value, (6, 1, 10), covariance0=0.0)[0]) > 0
    assert len(encode(value, (6, 1, 10))[0]) > 0
