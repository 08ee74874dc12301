"""JointState -> servo-position area (encoders/joints.py)."""

from __future__ import annotations

import math

import pytest
from injection_checks import as_set, check_shape

from feagi_hailo_ros.ros.encoders import JointSettings, SensorInputError, encode_joint_positions


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
