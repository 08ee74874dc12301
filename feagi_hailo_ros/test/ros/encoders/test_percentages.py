"""FEAGI's linear percentage codings shared by the encoders (encoders/common.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from injection_checks import as_set, check_shape

from feagi_hailo_ros.ros.decoders import decode_signed_percentages
from feagi_hailo_ros.ros.encoders import SensorInputError, encode_signed_percentages, percentage_to_z


def test_percentage_to_z_matches_feagi_reference_points() -> None:
    # feagi-core's own test values for a depth of 10: 1.0 -> 0, 0.5 -> 5, 0.0 -> 9.
    np.testing.assert_array_equal(percentage_to_z([1.0, 0.5, 0.0], 10), [0, 5, 9])
    np.testing.assert_array_equal(percentage_to_z([1.5, -0.2], 10), [0, 9])  # clamped
    np.testing.assert_array_equal(percentage_to_z([0.3], 1), [0])


def test_signed_layout_follows_feagi_split_halves() -> None:
    inj = encode_signed_percentages([0.5, -1.0, 0.0], (6, 1, 10))
    check_shape(inj)
    # ch0 +0.5 -> x=0 z=5; ch1 -1 -> x=3 z=0; ch2 exactly 0 -> both halves at z=9.
    assert as_set(inj) == {(0, 0, 5), (3, 0, 0), (4, 0, 9), (5, 0, 9)}


def test_signed_scale_and_clamp() -> None:
    # 3 / 6 = +0.5 -> x=0 z=2; -10 / 2 clamps to -1 -> x=3 z=0.
    inj = encode_signed_percentages([3.0, -10.0], (8, 1, 4), full_scale=[6.0, 2.0])
    assert as_set(inj) == {(0, 0, 2), (3, 0, 0)}


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
