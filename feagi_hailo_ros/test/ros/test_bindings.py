"""Sensor bindings: validation and message → injection for every binding type."""

from __future__ import annotations

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest

from feagi_hailo_ros.ros.bindings import SENSOR_TYPES, SensorBinding, encode_message, stamp_age
from feagi_hailo_ros.ros.encoders import SensorInputError


def test_bad_bindings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        SensorBinding("s", "scan", "lidar", "i__pro")
    with pytest.raises(ValueError, match="no target area"):
        SensorBinding("s", "scan", "laser_scan", "")
    with pytest.raises(ValueError, match="potential"):
        SensorBinding("s", "scan", "laser_scan", "i__pro", potential=math.inf)
    with pytest.raises(ValueError, match="joint_state needs"):
        SensorBinding("s", "joints", "joint_state", "i__srv")


def test_stamp_age() -> None:
    assert stamp_age(NS(sec=0, nanosec=0), 100.0) is None
    assert stamp_age(NS(sec=99, nanosec=500_000_000), 100.0) == pytest.approx(0.5)


def _area_input(**kw) -> NS:
    fields = {"x": [], "y": [], "z": [], "neuron_indices": [], "potentials": []}
    fields.update(kw)
    return NS(**fields)


def test_area_input_by_voxel_and_index() -> None:
    b = SensorBinding("raw", "in", "area_input", "i__x")
    voxels, pots = encode_message(b, _area_input(x=[1, 2], y=[0, 0], z=[3, 4], potentials=[5.0]),
                                  (4, 1, 5))
    assert voxels.tolist() == [[1, 0, 3], [2, 0, 4]]
    assert pots.tolist() == [5.0, 5.0]
    none, (idx, p) = encode_message(b, _area_input(neuron_indices=[7, 9], potentials=[1.0, 2.0]),
                                    (4, 1, 5))
    assert none is None and idx.tolist() == [7, 9] and p.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(("msg", "match"), [
    (_area_input(x=[1], y=[0], z=[9], potentials=[1.0]), "outside"),
    (_area_input(x=[1, 2], y=[0], z=[0], potentials=[1.0]), "lengths differ"),
    (_area_input(neuron_indices=[1, 2], potentials=[1.0, 2.0, 3.0]), "potentials"),
    (_area_input(neuron_indices=[1], x=[0], y=[0], z=[0], potentials=[1.0]), "not both"),
    (_area_input(neuron_indices=[1], potentials=[math.nan]), "non-finite"),
])
def test_malformed_area_input(msg: NS, match: str) -> None:
    b = SensorBinding("raw", "in", "area_input", "i__x")
    with pytest.raises(SensorInputError, match=match):
        encode_message(b, msg, (4, 1, 5))


def test_every_type_encodes_a_plausible_message() -> None:
    vec = NS(x=0.5, y=-0.25, z=0.0)
    imu = NS(angular_velocity=vec, linear_acceleration=vec, orientation=NS(x=0.0, y=0.0, z=0.0, w=1.0),
             angular_velocity_covariance=[0.0] * 9, linear_acceleration_covariance=[0.0] * 9,
             orientation_covariance=[0.0] * 9)
    msgs = {
        "laser_scan": NS(ranges=[1.0] * 16, angle_min=-math.pi, angle_increment=2 * math.pi / 16,
                         range_min=0.1, range_max=3.0),
        "range": NS(range=0.5, min_range=0.1, max_range=2.0),
        "image": NS(data=bytes(range(100, 148)), height=4, width=4, step=12, encoding="rgb8", is_bigendian=0),
        "imu_angular_velocity": imu, "imu_linear_acceleration": imu, "imu_orientation": imu,
        "joint_state": NS(name=["a"], position=[0.5]),
        "area_input": _area_input(x=[0], y=[0], z=[0], potentials=[1.0]),
    }
    assert set(msgs) == set(SENSOR_TYPES)
    dims = {"laser_scan": (16, 1, 10), "range": (1, 1, 10), "image": (4, 4, 3),
            "imu_angular_velocity": (6, 1, 10), "imu_linear_acceleration": (6, 1, 10),
            "imu_orientation": (6, 1, 10), "joint_state": (1, 1, 10), "area_input": (1, 1, 1)}
    for kind, msg in msgs.items():
        extra = {"joints": ("a",), "joint_lower": (0.0,), "joint_upper": (1.0,)} \
            if kind == "joint_state" else {}
        voxels, pots = encode_message(SensorBinding("s", "t", kind, "area", **extra), msg, dims[kind])
        assert len(voxels) > 0, kind
        assert np.all(voxels >= 0) and np.all(voxels < np.array(dims[kind])), kind
        assert np.all(pots > 0), kind


@pytest.mark.parametrize("kind", sorted(SENSOR_TYPES))
def test_every_sensor_type_has_an_encoder(kind: str) -> None:
    # A default (empty) message of the type's class: encoding it may refuse the input, but never
    # fall through to another type's encoder or to "no encoder".
    import importlib

    package, _, name = SENSOR_TYPES[kind][0].split("/")
    msg = getattr(importlib.import_module(f"{package}.msg"), name)()
    joints = {"joints": ["j"], "joint_lower": [0.0], "joint_upper": [1.0]} if kind == "joint_state" else {}
    binding = SensorBinding("s", "t", kind, "i__x", **joints)
    try:
        encode_message(binding, msg, (8, 1, 8))
    except ValueError:  # SensorInputError and friends: refusing an empty message is fine
        pass
