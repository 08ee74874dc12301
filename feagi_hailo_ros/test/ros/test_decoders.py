"""Motor decoders (FEAGI percentage coding), differential drive, servos and the watchdog."""

from __future__ import annotations

import math

import numpy as np
import pytest

from feagi_hailo_ros.ros.decoders import (
    DiffDriveSettings,
    Watchdog,
    decode_percentages,
    decode_servo_positions,
    decode_signed_percentages,
    motor_voxels_to_twist,
    wheels_to_twist,
)

DIMS = (6, 1, 10)  # three signed channels, depth 10


def test_signed_halves_and_depth() -> None:
    voxels = [(0, 0, 0), (3, 0, 0), (4, 0, 5)]
    reading = decode_signed_percentages(voxels, DIMS)
    # x=0 (ch0 +) z=0 -> +1; x=3 (ch1 -) z=0 -> -1; x=4 (ch2 +) z=5 -> 1 - 5/10.
    np.testing.assert_allclose(reading.values, [1.0, -1.0, 0.5])
    assert reading.active.tolist() == [True, True, True]


def test_both_halves_cancel_and_silent_channels_read_zero() -> None:
    reading = decode_signed_percentages([(0, 0, 3), (1, 0, 3)], DIMS)
    np.testing.assert_allclose(reading.values, [0.0, 0.0, 0.0])
    assert reading.active.tolist() == [True, False, False]


def test_repeated_voxels_average_per_fired_neuron() -> None:
    # Three neurons fired in channel 0's positive half: two at z=0, one at z=6.
    reading = decode_signed_percentages([(0, 0, 0), (0, 0, 0), (0, 0, 6)], DIMS)
    assert reading.values[0] == pytest.approx(1.0 - 2.0 / 10.0)
    # Both halves, each averaged on its own: + (1 - 1/10) - (1 - 7/10)
    reading = decode_signed_percentages([(0, 0, 0), (0, 0, 2), (1, 0, 7)], DIMS)
    assert reading.values[0] == pytest.approx(0.9 - 0.3)


def test_stray_voxels_are_skipped_like_feagi() -> None:
    voxels = [(0, 1, 0), (6, 0, 0), (2, 0, 10), (-1, 0, 0), (2, 0, 4)]
    reading = decode_signed_percentages(voxels, DIMS)
    np.testing.assert_allclose(reading.values, [0.0, 0.6, 0.0])
    assert reading.active.tolist() == [False, True, False]
    empty = decode_signed_percentages(np.zeros((0, 3), np.int64), DIMS)
    assert empty.values.tolist() == [0.0, 0.0, 0.0] and not empty.active.any()


def test_channel_count_override() -> None:
    reading = decode_signed_percentages([(4, 0, 0)], DIMS, channels=2)
    assert reading.values.shape == (2,) and not reading.active.any()


def test_unsigned_percentages_and_servo_positions() -> None:
    dims = (3, 1, 4)
    reading = decode_percentages([(0, 0, 0), (2, 0, 2)], dims)
    np.testing.assert_allclose(reading.values, [1.0, 0.0, 0.5])
    assert reading.active.tolist() == [True, False, True]
    servo = decode_servo_positions([(0, 0, 0), (2, 0, 2)], dims, [-1.0, 0.0, 0.0], [1.0, 1.0, 180.0])
    assert servo.values[0] == 1.0 and servo.values[2] == 90.0
    assert math.isnan(servo.values[1])  # no command: hold
    with pytest.raises(ValueError):
        decode_servo_positions([], dims, [0.0], [0.0])
    with pytest.raises(ValueError):
        decode_servo_positions([], dims, [0.0] * 4, [1.0] * 4)
    # A span past float64's range would decode every position to inf or NaN.
    with pytest.raises(ValueError, match="finite span"):
        decode_servo_positions([(0, 0, 2)], dims, [-1e308], [1e308])


def test_unsigned_percentages_of_encoded_fractions() -> None:
    # 1.0 and 0.25 coded in an 8-deep area (z = 0 and 6); channel 1 silent.
    reading = decode_percentages([(0, 0, 0), (2, 0, 6)], (3, 1, 8))
    assert reading.active.tolist() == [True, False, True]
    np.testing.assert_allclose(reading.values[[0, 2]], [1.0, 0.25])


# -- differential drive -----------------------------------------------------------------------

DRIVE = DiffDriveSettings(max_wheel_speed=0.4, wheel_separation=0.2, max_linear=1.0, max_angular=10.0)


def test_wheels_to_twist_kinematics() -> None:
    assert wheels_to_twist(0.5, 0.5, DRIVE) == pytest.approx((0.2, 0.0))
    # Spin in place: rims at -/+0.4 m/s, 0.2 m apart -> 4 rad/s counter-clockwise.
    assert wheels_to_twist(-1.0, 1.0, DRIVE) == pytest.approx((0.0, 4.0))
    # Only the right wheel forward: arc to the left.
    v, w = wheels_to_twist(0.0, 1.0, DRIVE)
    assert v == pytest.approx(0.2) and w == pytest.approx(2.0)


def test_twist_clamps_and_gains() -> None:
    tight = DiffDriveSettings(max_wheel_speed=1.0, wheel_separation=0.5, max_linear=0.3, max_angular=1.0)
    assert wheels_to_twist(1.0, 1.0, tight) == (0.3, 0.0)
    assert wheels_to_twist(-1.0, 1.0, tight) == (0.0, 1.0)
    geared = DiffDriveSettings(linear_gain=2.0, angular_gain=0.5)
    v, w = wheels_to_twist(0.5, 0.5, geared)  # both wheels forward
    assert v == pytest.approx(2.0 * 0.15) and w == pytest.approx(0.0)
    v, w = wheels_to_twist(-0.5, 0.5, geared)  # spin: 0.15 m/s rims, 0.3 m apart, halved
    assert v == pytest.approx(0.0) and w == pytest.approx(0.5 * 0.3 / 0.3)


def test_motor_voxels_to_twist() -> None:
    # Left wheel (channel 0) silent, right wheel (channel 1) positive half at z=0: full forward.
    v, w = motor_voxels_to_twist([(2, 0, 0)], (4, 1, 10), DRIVE)
    assert v == pytest.approx(0.2) and w == pytest.approx(2.0)
    # Nothing fired: stop.
    assert motor_voxels_to_twist([], (4, 1, 10), DRIVE) == (0.0, 0.0)
    with pytest.raises(ValueError, match="columns"):
        motor_voxels_to_twist([], (3, 1, 10), DRIVE)


def test_drive_settings_validation() -> None:
    with pytest.raises(ValueError):
        DiffDriveSettings(left_channel=1, right_channel=1)
    with pytest.raises(ValueError):
        DiffDriveSettings(wheel_separation=0.0)


# -- watchdog ----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_watchdog_grace_then_never_received() -> None:
    clock = FakeClock()
    dog = Watchdog(clock, input_timeout=0.5, burst_timeout=None, required_inputs=["scan"])
    assert not dog.check().stop  # within the start-up grace period
    clock.t += 0.6
    status = dog.check()
    assert status.stop and status.newly_tripped
    assert "never received" in status.reasons[0]


def test_watchdog_stale_input_and_recovery() -> None:
    clock = FakeClock()
    dog = Watchdog(clock, input_timeout=0.5, burst_timeout=1.0, required_inputs=["scan", "imu"])
    for _ in range(5):
        clock.t += 0.2
        dog.input_received("scan")
        dog.input_received("imu")
        dog.burst_completed()
        assert not dog.check().stop
    clock.t += 0.3
    dog.input_received("scan")  # imu goes quiet
    dog.burst_completed()
    clock.t += 0.3
    status = dog.check()
    assert status.stop and status.newly_tripped
    assert status.reasons == ("input 'imu' stale for 0.600 s",)
    assert not dog.check().newly_tripped  # still stopped, but only reported once
    dog.input_received("imu")
    dog.input_received("scan")
    dog.burst_completed()
    assert dog.check().stop is False


def test_watchdog_bursting_stopped() -> None:
    clock = FakeClock()
    dog = Watchdog(clock, input_timeout=None, burst_timeout=0.25)
    clock.t += 0.2
    dog.burst_completed()
    clock.t += 0.2
    assert not dog.check().stop
    clock.t += 0.1
    status = dog.check()
    assert status.stop and status.reasons == ("no burst for 0.300 s",)


def test_watchdog_reset_backward_clock_and_unknown_input() -> None:
    clock = FakeClock()
    dog = Watchdog(clock, input_timeout=0.5, burst_timeout=0.5, required_inputs=["scan"])
    clock.t += 10.0
    assert dog.check().stop
    dog.reset()
    assert not dog.check().stop
    clock.t -= 5.0  # a replayed bag restarting: ages go negative, never "stale"
    assert not dog.check().stop
    with pytest.raises(KeyError):
        dog.input_received("camera")
    with pytest.raises(ValueError):
        Watchdog(clock, input_timeout=0.0)
