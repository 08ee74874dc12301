"""Sensor bindings: validation and message → injection for every binding type."""

from __future__ import annotations

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest

from feagi_hailo_ros.ros.bindings import (
    SENSOR_TYPES,
    SensorBinding,
    binding_from_params,
    encode_message,
    stamp_age,
)
from feagi_hailo_ros.ros.encoders import FieldNotProvided, SensorInputError
from feagi_hailo_ros.ros.params import SENSOR_PARAMS


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


def _params(**values) -> dict:
    """``sensors.<name>.*`` values: the SENSOR_PARAMS defaults, overridden by ``values``."""
    got = {spec.name: spec.default for spec in SENSOR_PARAMS}
    got.update(values)
    return got


ARM = {"type": "joint_state", "topic": "joint_states", "joints": ["shoulder", "elbow"],
       "joint_lower": [-1.5, 0.0], "joint_upper": [1.5, 2]}


def test_joint_state_binding_from_parameters() -> None:
    b = binding_from_params("arm", "i__srv", _params(**ARM).__getitem__)
    assert b.joints == ("shoulder", "elbow")
    assert b.joint_lower == (-1.5, 0.0) and b.joint_upper == (1.5, 2.0)  # integers accepted
    msg = NS(name=["elbow", "shoulder", "wrist"], position=[2.0, -1.5, 0.3])
    voxels, _ = encode_message(b, msg, (2, 1, 10))
    # elbow at its upper limit -> column 1, z = 0; shoulder at its lower limit -> z = 9.
    assert voxels.tolist() == [[0, 0, 9], [1, 0, 0]]
    # Other types ignore the empty defaults, whatever rclpy made of them (never-set byte array).
    scan = binding_from_params("scan", "i__pro", _params(joints=[], joint_lower=None).__getitem__)
    assert scan.joints == () and scan.kind == "laser_scan"


@pytest.mark.parametrize(("override", "match"), [
    ({"joints": []}, "joint_state needs joints, joint_lower and joint_upper of the same non-zero"),
    ({"joint_lower": [0.0]}, "same non-zero length, got 2, 1, 2"),
    ({"joint_upper": [1.5, 0.0]}, "'elbow' needs finite limits lower < upper"),
    ({"joint_upper": [1.5, math.inf]}, "'elbow' needs finite limits lower < upper"),
    ({"joints": ["elbow", "elbow"]}, "repeat"),
    ({"joints": ["a", 3]}, "sensors.arm.joints must be a list of strings"),
    ({"joints": "shoulder"}, "sensors.arm.joints must be a list of strings"),
    ({"joint_lower": ["a", "b"]}, "sensors.arm.joint_lower must be a list of numbers"),
    ({"joint_upper": [True, 2.0]}, "sensors.arm.joint_upper must be a list of numbers"),
    ({"type": "laser_scan"}, "are for type joint_state, not laser_scan"),
])
def test_joint_state_parameters_are_checked_at_configure(override, match) -> None:
    values = _params(**{**ARM, **override})
    with pytest.raises(ValueError, match=match) as info:
        binding_from_params("arm", "i__srv", values.__getitem__)
    assert "arm" in str(info.value)


def test_list_parameters_are_declared_with_dynamic_typing() -> None:
    # rclpy types [] as a byte array and would refuse a parameter file's string/double arrays.
    dynamic = {spec.name for spec in SENSOR_PARAMS if spec.dynamic_typing}
    assert dynamic == {"joints", "joint_lower", "joint_upper"}


def test_joint_parameters_from_a_real_parameter_file_value() -> None:
    # The declaration the node uses for SENSOR_PARAMS, plus dynamic_typing where the spec asks
    # for it: overrides of a string, double and integer array all arrive and build the binding.
    rclpy = pytest.importorskip("rclpy")
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.parameter import Parameter

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        overrides = [Parameter(f"sensors.arm.{k}", value=v) for k, v in
                     {**ARM, "joint_upper": [2, 3]}.items()]
        node = rclpy.create_node("bindings_test", context=ctx, parameter_overrides=overrides)
        for name in ("arm", "scan"):
            for spec in SENSOR_PARAMS:
                node.declare_parameter(f"sensors.{name}.{spec.name}", spec.default,
                                       ParameterDescriptor(dynamic_typing=spec.dynamic_typing))
        arm = binding_from_params(
            "arm", "i__srv", lambda key: node.get_parameter(f"sensors.arm.{key}").value)
        scan = binding_from_params(
            "scan", "i__pro", lambda key: node.get_parameter(f"sensors.scan.{key}").value)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
    assert arm.joints == ("shoulder", "elbow") and arm.joint_upper == (2.0, 3.0)
    assert scan.joints == ()


def test_scan_with_range_min_zero_and_zero_beams_has_no_phantom_obstacle() -> None:
    # Case 08: sick_scan_xd publishes range_min 0.0 and invalid beams as 0.0.
    scan = NS(angle_min=-math.pi / 2, angle_increment=math.pi / 8, range_min=0.0,
              range_max=120.0, ranges=[math.inf] * 4 + [0.0] + [math.inf] * 4)
    b = SensorBinding(name="scan", topic="scan", kind="laser_scan", area="i__pro", range_max=1.0)
    assert len(encode_message(b, scan, (16, 1, 10))[0]) == 0
    scan.ranges[4] = 0.25
    assert encode_message(b, scan, (16, 1, 10))[0].tolist() == [[8, 0, 2]]


@pytest.mark.parametrize(("kind", "field"), [
    ("imu_angular_velocity", "angular_velocity"),
    ("imu_linear_acceleration", "linear_acceleration"),
    ("imu_orientation", "orientation"),
])
def test_imu_field_not_provided_is_reported(kind, field) -> None:
    # Case 09: analogdevicesinc/imu_ros2#80, covariance[0] = -1 with real data.
    vec = NS(x=0.0, y=0.0, z=1.5)
    imu = NS(angular_velocity=vec, linear_acceleration=vec,
             orientation=NS(x=0.0, y=0.0, z=0.0, w=1.0),
             angular_velocity_covariance=[0.0] * 9, linear_acceleration_covariance=[0.0] * 9,
             orientation_covariance=[0.0] * 9)
    getattr(imu, f"{field}_covariance")[0] = -1.0
    b = SensorBinding(name="imu", topic="imu", kind=kind, area="i__imu")
    with pytest.raises(FieldNotProvided, match=f"{field} is not provided") as info:
        encode_message(b, imu, (6, 1, 10))
    assert info.value.reason == "field_not_provided"
    getattr(imu, f"{field}_covariance")[0] = 0.0
    assert len(encode_message(b, imu, (6, 1, 10))[0]) > 0


def test_depth_image_codes_up_to_the_binding_range_max() -> None:
    depth = np.array([[0, 800], [1500, 0]], "<u2")  # millimetres
    msg = NS(data=depth.tobytes(), height=2, width=2, step=4, encoding="16UC1", is_bigendian=0)
    near = SensorBinding("d", "depth", "image", "i__vis", range_max=1.0)
    assert encode_message(near, msg, (2, 2, 10))[0].tolist() == [[1, 1, 8]]
    far = SensorBinding("d", "depth", "image", "i__vis", range_max=2.0)
    assert sorted(encode_message(far, msg, (2, 2, 10))[0].tolist()) == [[0, 0, 7], [1, 1, 4]]
    default = SensorBinding("d", "depth", "image", "i__vis", range_max=0.0)  # 0: 1 m
    assert encode_message(default, msg, (2, 2, 10))[0].tolist() == [[1, 1, 8]]
    msg.encoding = "yuv422"
    with pytest.raises(SensorInputError, match="unsupported image encoding 'yuv422'"):
        encode_message(near, msg, (2, 2, 10))


@pytest.mark.parametrize("names", [[""], ["scan", "scan"], ["a.b"], ["1st"], ["with space"]])
def test_binding_names_must_be_parameter_name_tokens(names):
    from feagi_hailo_ros.ros.bindings import check_binding_names

    with pytest.raises(ValueError, match="sensor_names"):
        check_binding_names(names, "sensor_names")
    check_binding_names(["scan", "front_camera", "imu2"], "sensor_names")
