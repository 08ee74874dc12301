"""LaserScan and Range -> proximity area (encoders/proximity.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from injection_checks import as_set, check_shape

from feagi_hailo_ros.ros.encoders import (
    ProximitySettings,
    SensorInputError,
    encode_laser_scan,
    encode_range,
)


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


def test_scan_detection_range_limits_and_rescales_depth() -> None:
    s = ProximitySettings(range_max=1.5)
    ranges = [0.3, np.inf, 1.0, np.inf, 1.49, np.inf, 2.0, np.inf]
    # Coded over [0.1 (the message's range_min), 1.5]: 0.3 -> floor(10 * 0.2 / 1.4) = 1,
    # 1.0 -> 6, 1.49 -> 9; 2.0 is past the detection range -> silent.
    assert as_set(scan8(ranges, settings=s)) == {(0, 0, 1), (1, 0, 6), (2, 0, 9)}


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


def test_scan_writes_the_centre_row() -> None:
    ranges = [1.0] + [np.inf] * 7
    assert as_set(scan8(ranges, dims=(4, 5, 10))) == {(0, 2, 1)}  # centre row, as FEAGI


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
        ProximitySettings(range_max=0.0)
    with pytest.raises(ValueError):
        ProximitySettings(fov_min=0.0)
    with pytest.raises(ValueError):
        ProximitySettings(fov_min=0.0, fov_max=7.0)
    with pytest.raises(ValueError):
        scan8([1.0] * 8, dims=(4, 0, 10))


def test_single_range() -> None:
    assert as_set(encode_range(0.5, 0.0, 1.0, (3, 1, 4))) == {(1, 0, 2)}  # centre column
    assert as_set(encode_range(-math.inf, 0.0, 1.0, (3, 1, 4))) == {(1, 0, 0)}  # too close
    assert as_set(encode_range(0.5, 0.0, 1.0, (3, 3, 4))) == {(1, 1, 2)}  # centre row
    check_shape(encode_range(math.inf, 0.0, 1.0, (3, 1, 4)), 0)
    check_shape(encode_range(math.nan, 0.0, 1.0, (3, 1, 4)), 0)
    check_shape(encode_range(0.5, 0.0, 1.0, (3, 1, 4)), 1)
    with pytest.raises(SensorInputError):
        encode_range(0.5, 1.0, 0.5, (3, 1, 4))


def test_scan_zero_is_no_return_even_when_range_min_is_zero() -> None:
    # sick_scan_xd (SICKAG/sick_scan_xd#382) and LDS drivers: range_min 0.0 and invalid beams
    # reported as 0.0. Dead ahead is beam 4 of 9 over [-pi/2, pi/2]; a phantom obstacle would
    # be voxel (8, 0, 0) of a 16-wide area.
    ranges = [math.inf] * 4 + [0.0] + [math.inf] * 4
    args = (-math.pi / 2, math.pi / 8)
    s = ProximitySettings(range_max=1.0)
    check_shape(encode_laser_scan(ranges, *args, 0.0, 120.0, (16, 1, 10), s), 0)
    check_shape(encode_laser_scan(ranges, *args, 0.05, 120.0, (16, 1, 10), s), 0)
    # A real return next to the 0.0 beams still fires, coded from range_min 0.0.
    ranges[5] = 0.5
    assert as_set(encode_laser_scan(ranges, *args, 0.0, 120.0, (9, 1, 10), s)) == {(5, 0, 5)}
    # -inf (REP 117: too close) stays the nearest depth with range_min 0.0.
    ranges[5] = -math.inf
    assert as_set(encode_laser_scan(ranges, *args, 0.0, 120.0, (9, 1, 10), s)) == {(5, 0, 0)}


def test_range_zero_is_no_return_even_when_min_range_is_zero() -> None:
    check_shape(encode_range(0.0, 0.0, 1.0, (3, 1, 4)), 0)
    check_shape(encode_range(-0.0, 0.0, 1.0, (3, 1, 4)), 0)
    assert as_set(encode_range(1e-6, 0.0, 1.0, (3, 1, 4))) == {(1, 0, 0)}
