"""Sensor encoders: FEAGI coding of proximity, vision, IMU, joints and raw injections."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feagi_hailo_ros.ros.decoders import decode_percentages, decode_signed_percentages
from feagi_hailo_ros.ros.encoders import (
    ImuSettings,
    JointSettings,
    ProximitySettings,
    SensorInputError,
    VisionSettings,
    downsample_area,
    encode_dense,
    encode_image,
    encode_imu_angular_velocity,
    encode_imu_linear_acceleration,
    encode_imu_orientation,
    encode_joint_positions,
    encode_laser_scan,
    encode_percentages,
    encode_range,
    encode_raw,
    encode_signed_percentages,
    image_from_buffer,
    percentage_to_z,
)


def as_set(injection) -> set[tuple[int, int, int]]:
    voxels, _ = injection
    return {tuple(int(c) for c in v) for v in voxels}


def check_shape(injection, n: int | None = None) -> None:
    voxels, potentials = injection
    assert voxels.dtype == np.int64 and voxels.ndim == 2 and voxels.shape[1] == 3
    assert potentials.dtype == np.float32 and potentials.shape == (voxels.shape[0],)
    if n is not None:
        assert voxels.shape[0] == n


# -- depth coding -------------------------------------------------------------------------


def test_percentage_to_z_matches_feagi_reference_points() -> None:
    # feagi-core's own test values for a depth of 10: 1.0 -> 0, 0.5 -> 5, 0.0 -> 9.
    np.testing.assert_array_equal(percentage_to_z([1.0, 0.5, 0.0], 10), [0, 5, 9])
    np.testing.assert_array_equal(percentage_to_z([1.5, -0.2], 10), [0, 9])  # clamped
    np.testing.assert_array_equal(percentage_to_z([0.3], 1), [0])


# -- LaserScan -------------------------------------------------------------------------------


def scan8(ranges, **kw):
    """8 beams, counter-clockwise from -pi in 45 deg steps, 0.1..5 m."""
    return encode_laser_scan(
        ranges, -math.pi, math.pi / 4, 0.1, 5.0, kw.pop("dims", (4, 1, 10)), **kw
    )


def test_scan_sectors_nearest_return_and_depth() -> None:
    # 4 sectors of 2 beams each: [back-right, right, front(left half), left ...]
    ranges = [4.0, 3.0, 0.1, 2.55, 5.0, 1.0, np.inf, np.inf]
    inj = scan8(ranges, settings=ProximitySettings(potential=7.0))
    check_shape(inj, 3)
    # z = min(floor(10 * (d - 0.1) / 4.9), 9): 3.0 -> 5, 0.1 -> 0, 1.0 -> 1; sector 3 silent.
    assert as_set(inj) == {(0, 0, 5), (1, 0, 0), (2, 0, 1)}
    assert np.all(inj[1] == 7.0)


def test_scan_rep117_specials() -> None:
    ranges = [np.nan, np.nan, np.inf, np.inf, -np.inf, 9.0, 0.05, 0.0]
    # NaN: invalid; +inf: nothing there; -inf: too close -> z=0; 9.0 > range_max and
    # 0.05/0.0 < range_min: invalid readings, ignored.
    assert as_set(scan8(ranges)) == {(2, 0, 0)}


def test_scan_all_invalid_is_empty_not_an_error() -> None:
    inj = scan8([np.nan] * 8)
    check_shape(inj, 0)


def test_scan_coding_range_override_limits_detection() -> None:
    s = ProximitySettings(range_min=0.5, range_max=1.5)
    ranges = [0.3, np.inf, 1.0, np.inf, 1.49, np.inf, 2.0, np.inf]
    # 0.3 is a valid sensor reading below the coding minimum -> z = 0; 2.0 is past the
    # detection range -> silent; 1.0 -> floor(10 * 0.5) = 5; 1.49 -> 9.
    assert as_set(scan8(ranges, settings=s)) == {(0, 0, 0), (1, 0, 5), (2, 0, 9)}


def test_scan_sector_order_is_counter_clockwise_whatever_the_scan_direction() -> None:
    ccw = scan8([1.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 2.0])
    # The same physical scan, recorded clockwise from +pi - 45 deg down to -pi.
    cw = encode_laser_scan(
        [2.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 1.0], 3 * math.pi / 4, -math.pi / 4, 0.1, 5.0,
        (4, 1, 10),
    )
    assert as_set(ccw) == as_set(cw)
    assert (0, 0, 1) in as_set(ccw)  # the near return at -pi lands in sector 0


def test_scan_field_of_view_window() -> None:
    # Only the front half-plane [-pi/2, pi/2] is spread over 2 sectors; beams behind drop out.
    s = ProximitySettings(fov_min=-math.pi / 2, fov_max=math.pi / 2)
    ranges = [0.2, 0.2, 1.0, 5.0, 5.0, 5.0, 2.0, 0.2]  # angles -180..135 deg
    got = as_set(scan8(ranges, dims=(2, 1, 10), settings=s))
    # -90 deg (1.0) -> sector 0; +90 deg (2.0, exactly on fov_max) -> sector 1.
    assert got == {(0, 0, 1), (1, 0, 3)}


def test_scan_rows() -> None:
    ranges = [1.0] + [np.inf] * 7
    assert as_set(scan8(ranges, dims=(4, 5, 10))) == {(0, 2, 1)}  # centre row, as FEAGI
    s = ProximitySettings(all_rows=True)
    assert as_set(scan8(ranges, dims=(4, 3, 10), settings=s)) == {(0, y, 1) for y in range(3)}
    with pytest.raises(ValueError):
        scan8(ranges, dims=(4, 2, 10), settings=ProximitySettings(row=2))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"ranges": np.ones((2, 4))}, "1-D"),
        ({"ranges": []}, "no beams"),
        ({"angle_min": math.inf}, "angle_min"),
        ({"angle_increment": 0.0}, "angle_increment is 0"),
        ({"range_min": 2.0, "range_max": 1.0}, "invalid range limits"),
        ({"range_max": math.nan}, "range_max"),
    ],
)
def test_scan_malformed_messages_raise(kwargs, reason) -> None:
    args = {
        "ranges": [1.0] * 4, "angle_min": 0.0, "angle_increment": 0.1,
        "range_min": 0.1, "range_max": 5.0, "dims": (4, 1, 10),
    }
    args.update(kwargs)
    with pytest.raises(SensorInputError, match=reason):
        encode_laser_scan(**args)


def test_proximity_settings_validation() -> None:
    with pytest.raises(ValueError):
        ProximitySettings(range_min=2.0, range_max=1.0)
    with pytest.raises(ValueError):
        ProximitySettings(fov_min=0.0)
    with pytest.raises(ValueError):
        ProximitySettings(fov_min=0.0, fov_max=7.0)
    with pytest.raises(ValueError):
        scan8([1.0] * 8, dims=(4, 0, 10))


def test_single_range() -> None:
    assert as_set(encode_range(0.5, 0.0, 1.0, (3, 1, 4))) == {(1, 0, 2)}  # centre column
    assert as_set(encode_range(-math.inf, 0.0, 1.0, (3, 1, 4), x=0)) == {(0, 0, 0)}
    check_shape(encode_range(math.inf, 0.0, 1.0, (3, 1, 4)), 0)
    check_shape(encode_range(math.nan, 0.0, 1.0, (3, 1, 4)), 0)
    with pytest.raises(SensorInputError):
        encode_range(0.5, 1.0, 0.5, (3, 1, 4))
    with pytest.raises(ValueError):
        encode_range(0.5, 0.0, 1.0, (3, 1, 4), x=3)


# -- vision -----------------------------------------------------------------------------------


def test_image_from_buffer_drops_row_padding() -> None:
    h, w = 2, 3
    rows = [bytes(range(10 * r, 10 * r + 9)) + b"\xff\xff" for r in range(h)]  # step 11
    img = image_from_buffer(b"".join(rows), h, w, 11, "rgb8")
    assert img.shape == (2, 3, 3) and img.dtype == np.uint8
    assert img[1, 2].tolist() == [16, 17, 18]
    mono = image_from_buffer(bytearray(range(6)), 2, 3, 3, "mono8")
    assert mono.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((bytes(12), 2, 2, 6, "yuv422"), "unsupported image encoding"),
        ((bytes(12), 2, 2, 5, "rgb8"), "shorter than a row"),
        ((bytes(11), 2, 2, 6, "rgb8"), "11 bytes"),
        ((bytes(0), 0, 2, 6, "rgb8"), "positive"),
    ],
)
def test_image_from_buffer_rejects_malformed(args, reason) -> None:
    with pytest.raises(SensorInputError, match=reason):
        image_from_buffer(*args)


def test_downsample_area_averages_blocks_and_repeats_when_growing() -> None:
    img = np.arange(16, dtype=np.float64).reshape(4, 4)
    np.testing.assert_allclose(downsample_area(img, 2, 2), [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(downsample_area(img[:2, :2], 4, 4)[::2, ::2], img[:2, :2])
    assert downsample_area(np.ones((5, 7, 3)), 2, 3).shape == (2, 3, 3)


def test_image_orientation_colour_channels_and_potential() -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    img[:20, :30] = (255, 0, 0)  # red block, top-left quadrant
    img[20:, 30:] = (0, 0, 128)  # dim blue block, bottom-right quadrant
    inj = encode_image(img, "rgb8", (2, 2, 3), VisionSettings(potential=10.0))
    got = dict(zip(map(tuple, inj[0].tolist()), inj[1].tolist(), strict=True))
    # top-left image -> x=0, y=dy-1 (FEAGI y points up); red -> z=0, blue -> z=2.
    assert got == {(0, 1, 0): pytest.approx(10.0), (1, 0, 2): pytest.approx(10.0 * 128 / 255)}
    bgr = encode_image(img[:, :, ::-1].copy(), "bgr8", (2, 2, 3), VisionSettings(potential=10.0))
    assert as_set(bgr) == as_set(inj)


def test_image_threshold_grey_and_depth_coding() -> None:
    img = np.array([[0, 40], [60, 255]], np.uint8)
    assert as_set(encode_image(img, "mono8", (2, 2, 1))) == {(0, 0, 0), (1, 0, 0)}  # >= 50
    s = VisionSettings(depth_coding=True, threshold=1)
    # brightness 255 -> z 0; 60/255 -> floor(4 * (1 - 0.235)) = 3; 40 -> 3
    assert as_set(encode_image(img, "mono8", (2, 2, 4), s)) == {(1, 1, 3), (0, 0, 3), (1, 0, 0)}
    colour = np.full((2, 2, 3), 200, np.uint8)
    assert as_set(encode_image(colour, "rgb8", (2, 2, 1))) == {
        (x, y, 0) for x in range(2) for y in range(2)
    }


def test_image_mirror() -> None:
    img = np.zeros((2, 2), np.uint8)
    img[0, 0] = 255
    assert as_set(encode_image(img, "mono8", (2, 2, 1), VisionSettings(mirror=True))) == {
        (1, 1, 0)
    }


@pytest.mark.parametrize(
    ("image", "encoding", "reason"),
    [
        (np.zeros((4, 4, 3), np.uint8), "mono8", "HxW"),
        (np.zeros((4, 4), np.uint8), "rgb8", "HxWx3"),
        (np.zeros((4, 4, 3), np.float32), "rgb8", "uint8"),
        (np.zeros((4, 4, 3), np.uint8), "rgba8", "unsupported"),
    ],
)
def test_image_wrong_encoding_raises(image, encoding, reason) -> None:
    with pytest.raises(SensorInputError, match=reason):
        encode_image(image, encoding, (2, 2, 3))


# -- percentages and IMU ------------------------------------------------------------------------


def test_signed_layout_follows_feagi_split_halves() -> None:
    inj = encode_signed_percentages([0.5, -1.0, 0.0], (6, 1, 10))
    check_shape(inj)
    # ch0 +0.5 -> x=0 z=5; ch1 -1 -> x=3 z=0; ch2 exactly 0 -> both halves at z=9.
    assert as_set(inj) == {(0, 0, 5), (3, 0, 0), (4, 0, 9), (5, 0, 9)}


def test_signed_scale_clamp_and_channel_offset() -> None:
    inj = encode_signed_percentages([3.0, -10.0], (8, 1, 4), full_scale=[6.0, 2.0], first_channel=1)
    assert as_set(inj) == {(2, 0, 2), (5, 0, 0)}


def test_signed_validation() -> None:
    with pytest.raises(SensorInputError):
        encode_signed_percentages([math.nan], (2, 1, 4))
    with pytest.raises(ValueError, match="columns"):
        encode_signed_percentages([0.1, 0.2], (3, 1, 4))
    with pytest.raises(ValueError, match="full_scale"):
        encode_signed_percentages([0.1], (2, 1, 4), full_scale=0.0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=1, max_size=6),
    st.integers(1, 32),
)
def test_signed_round_trip_within_one_depth_step(values, dz) -> None:
    voxels, _ = encode_signed_percentages(values, (12, 1, dz))
    reading = decode_signed_percentages(voxels, (12, 1, dz), len(values))
    assert reading.active.all()
    # Linear coding loses at most one depth step; zero decodes back to exactly zero.
    np.testing.assert_allclose(reading.values, values, atol=1.0 / dz + 1e-9)
    for v, got in zip(values, reading.values, strict=True):
        if v == 0.0:
            assert got == 0.0
        else:
            assert math.copysign(1.0, got) == math.copysign(1.0, v)


def test_unsigned_percentages_round_trip_and_nan() -> None:
    voxels, _ = encode_percentages([1.0, math.nan, 0.25], (3, 1, 8))
    assert as_set((voxels, None)) == {(0, 0, 0), (2, 0, 6)}
    reading = decode_percentages(voxels, (3, 1, 8))
    assert reading.active.tolist() == [True, False, True]
    np.testing.assert_allclose(reading.values[[0, 2]], [1.0, 0.25])


def test_imu_vectors() -> None:
    s = ImuSettings(angular_velocity_scale=2.0, linear_acceleration_scale=10.0)
    gyro = encode_imu_angular_velocity([1.0, -2.0, 0.0], (6, 1, 10), s)
    assert as_set(gyro) == {(0, 0, 5), (3, 0, 0), (4, 0, 9), (5, 0, 9)}
    acc = encode_imu_linear_acceleration([0.0, 0.0, 9.81], (6, 1, 10), s)
    assert (4, 0, 0) in as_set(acc)
    check_shape(encode_imu_angular_velocity([0, 0, 0], (6, 1, 10), covariance0=-1.0), 0)
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
    check_shape(encode_imu_orientation([0, 0, 0, 0], (6, 1, 10), covariance0=-1.0), 0)
    with pytest.raises(SensorInputError, match="norm"):
        encode_imu_orientation([0, 0, 0, 0], (6, 1, 10))
    with pytest.raises(SensorInputError):
        encode_imu_orientation([0, 0, 1], (6, 1, 10))


# -- joints ------------------------------------------------------------------------------------


def test_joint_positions() -> None:
    s = JointSettings(("shoulder", "elbow", "wrist"), (-1.0, 0.0, 0.0), (1.0, 2.0, 1.0))
    inj = encode_joint_positions(
        ["wrist", "gripper", "shoulder", "elbow"], [math.nan, 5.0, 1.0, 0.5], (4, 1, 8), s
    )
    # shoulder at upper limit -> x=0 z=0; elbow 25 % -> z=6; wrist NaN and unknown gripper skipped.
    assert as_set(inj) == {(0, 0, 0), (1, 0, 6)}
    check_shape(encode_joint_positions(["elbow"], [], (4, 1, 8), s), 0)  # velocity-only message
    with pytest.raises(SensorInputError, match="names"):
        encode_joint_positions(["elbow", "wrist"], [0.1], (4, 1, 8), s)
    with pytest.raises(SensorInputError, match="repeats"):
        encode_joint_positions(["elbow", "elbow"], [0.1, 0.2], (4, 1, 8), s)
    with pytest.raises(ValueError):
        encode_joint_positions(["elbow"], [0.1], (2, 1, 8), s)
    with pytest.raises(ValueError):
        JointSettings(("a",), (1.0,), (1.0,))


# -- raw and dense -------------------------------------------------------------------------------


def test_raw_injection_validation() -> None:
    inj = encode_raw([[0, 1, 2], [3, 0, 0]], [5.0, 6.0], (4, 2, 3))
    check_shape(inj, 2)
    assert inj[1].tolist() == [5.0, 6.0]
    assert as_set(encode_raw([1, 1, 1, 2, 0, 0], 3.0, (4, 2, 3))) == {(1, 1, 1), (2, 0, 0)}
    assert as_set(encode_raw(np.array([[1.0, 0.0, 2.0]]), 1.0, (4, 2, 3))) == {(1, 0, 2)}
    check_shape(encode_raw([], 1.0, (4, 2, 3)), 0)
    for voxels, pots, reason in [
        ([[4, 0, 0]], 1.0, "outside"),
        ([[0, -1, 0]], 1.0, "outside"),
        ([[0.5, 0, 0]], 1.0, "integers"),
        ([[0, 0]], 1.0, r"\(n, 3\)"),
        ([[0, 0, 0]], [1.0, 2.0], "potentials"),
        ([[0, 0, 0]], math.nan, "finite"),
    ]:
        with pytest.raises(SensorInputError, match=reason):
            encode_raw(voxels, pots, (4, 2, 3))


def test_dense_uses_connectome_order() -> None:
    dims = (2, 3, 4)
    flat = np.zeros(24)
    flat[(1 * 3 + 2) * 4 + 3] = 0.5  # voxel (1, 2, 3), x-major with z innermost
    flat[0] = -2.0
    inj = encode_dense(flat, dims, threshold=0.1, scale=10.0)
    got = dict(zip(map(tuple, inj[0].tolist()), inj[1].tolist(), strict=True))
    assert got == {(0, 0, 0): -20.0, (1, 2, 3): 5.0}
    with pytest.raises(SensorInputError, match="expected 24"):
        encode_dense(np.zeros(23), dims)
