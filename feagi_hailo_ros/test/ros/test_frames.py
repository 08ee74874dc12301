"""Frames and TF without DDS: quaternions, frame ids, static frames, the broadcaster's topics and QoS."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("tf2_msgs.msg", reason="tf2_msgs is not built (make setup)")

from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402

from feagi_hailo_ros.ros import frames  # noqa: E402

angles = st.floats(-4 * math.pi, 4 * math.pi, allow_nan=False)


def rotation_matrix(q: tuple[float, float, float, float]) -> np.ndarray:
    """The 3x3 rotation of a unit quaternion (x, y, z, w), written out from its definition."""
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def rz(a: float) -> np.ndarray:
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def ry(a: float) -> np.ndarray:
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def rx(a: float) -> np.ndarray:
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


@given(angles)
def test_quaternion_from_yaw_turns_x_counter_clockwise(yaw: float) -> None:
    q = frames.quaternion_from_yaw(yaw)
    assert math.fsum(c * c for c in q) == pytest.approx(1.0)
    # REP 103: yaw is counter-clockwise about +z, so the robot's x axis points at (cos, sin).
    heading = rotation_matrix(q) @ np.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(heading, [math.cos(yaw), math.sin(yaw), 0.0], atol=1e-12)
    np.testing.assert_allclose(rotation_matrix(q), rz(yaw), atol=1e-12)


@given(angles, angles, angles)
def test_quaternion_from_rpy_is_fixed_axis_roll_then_pitch_then_yaw(roll, pitch, yaw) -> None:
    q = frames.quaternion_from_rpy(roll, pitch, yaw)
    assert math.fsum(c * c for c in q) == pytest.approx(1.0)
    np.testing.assert_allclose(rotation_matrix(q), rz(yaw) @ ry(pitch) @ rx(roll), atol=1e-12)


@given(angles)
def test_rpy_with_only_yaw_is_the_yaw_quaternion(yaw: float) -> None:
    assert frames.quaternion_from_rpy(0.0, 0.0, yaw) == pytest.approx(frames.quaternion_from_yaw(yaw))


@pytest.mark.parametrize(("frame_id", "ok"), [
    ("base_link", True), ("robot1/laser", True), ("", False), ("/odom", False),
    ("base link", False), (None, False), (3, False)])
def test_check_frame_id(frame_id: object, ok: bool) -> None:
    why = frames.check_frame_id(frame_id, "some_frame")
    assert (why is None) == ok
    if not ok:
        assert "some_frame" in why


def test_static_frame_message_and_errors() -> None:
    frame = frames.StaticFrame("base_link", "laser", (0.1, -0.2, 0.3), (0.0, 0.0, math.pi / 2))
    msg = frame.to_msg(Time(sec=7, nanosec=5))
    assert (msg.header.frame_id, msg.child_frame_id) == ("base_link", "laser")
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (7, 5)
    t, r = msg.transform.translation, msg.transform.rotation
    assert (t.x, t.y, t.z) == pytest.approx((0.1, -0.2, 0.3))
    assert (r.x, r.y, r.z, r.w) == pytest.approx((0.0, 0.0, math.sqrt(0.5), math.sqrt(0.5)))
    with pytest.raises(ValueError, match="own parent"):
        frames.StaticFrame("laser", "laser")
    with pytest.raises(ValueError, match="leading slash"):
        frames.StaticFrame("/base_link", "laser")
    with pytest.raises(ValueError, match="finite"):
        frames.StaticFrame("base_link", "laser", (math.nan, 0.0, 0.0))


def _cloud_params(**changes: object):
    values = {"frame_id": "feagi_brain", "cloud_parent_frame": "", "cloud_x": 0.0, "cloud_y": 0.0,
              "cloud_z": 0.0, "cloud_roll": 0.0, "cloud_pitch": 0.0, "cloud_yaw": 0.0}
    values.update(changes)
    return values.__getitem__


def test_cloud_frame_from_parameters() -> None:
    assert frames.cloud_frame(_cloud_params()) is None  # no parent: no transform
    frame = frames.cloud_frame(_cloud_params(cloud_parent_frame="base_link", cloud_x=1.0,
                                             cloud_z=0.5, cloud_yaw=0.25))
    assert frame == frames.StaticFrame("base_link", "feagi_brain", (1.0, 0.0, 0.5), (0.0, 0.0, 0.25))
    with pytest.raises(ValueError, match="frame_id"):
        frames.cloud_frame(_cloud_params(frame_id="/feagi_brain"))
    with pytest.raises(ValueError, match="cloud_parent_frame"):
        frames.cloud_frame(_cloud_params(cloud_parent_frame="base link"))
    with pytest.raises(ValueError, match="own parent"):
        frames.cloud_frame(_cloud_params(cloud_parent_frame="feagi_brain"))


class FakeNode:
    """Records the publishers a broadcaster makes and what they publish."""

    def __init__(self) -> None:
        self.made: list[tuple[type, str, object]] = []
        self.published: list[object] = []

    def create_publisher(self, msg_type: type, topic: str, qos: object) -> object:
        self.made.append((msg_type, topic, qos))
        return types.SimpleNamespace(publish=self.published.append)


def _t(child: str, x: float) -> object:
    return frames.transform_stamped("base_link", child, Time(), (x, 0.0, 0.0))


@pytest.mark.skipif(frames.tf2_ros is not None, reason="tf2_ros is importable: it publishes")
def test_fallback_uses_tf2s_topics_and_qos() -> None:
    node = FakeNode()
    frames.TfBroadcaster(node)
    frames.TfBroadcaster(node, static=True)
    (dyn_type, dyn_topic, dyn_qos), (st_type, st_topic, st_qos) = node.made
    assert (dyn_type, dyn_topic, st_type, st_topic) == (TFMessage, "/tf", TFMessage, "/tf_static")
    # tf2_ros_py's broadcasters: /tf keep-last 100 volatile; /tf_static keep-last 1 transient
    # local; both reliable (the QoSProfile default).
    assert (dyn_qos.history, dyn_qos.depth, dyn_qos.durability, dyn_qos.reliability) == (
        HistoryPolicy.KEEP_LAST, 100, DurabilityPolicy.VOLATILE, ReliabilityPolicy.RELIABLE)
    assert (st_qos.history, st_qos.depth, st_qos.durability, st_qos.reliability) == (
        HistoryPolicy.KEEP_LAST, 1, DurabilityPolicy.TRANSIENT_LOCAL, ReliabilityPolicy.RELIABLE)


@pytest.mark.skipif(frames.tf2_ros is not None, reason="tf2_ros is importable: it publishes")
def test_fallback_static_sends_every_child_frame_in_each_message() -> None:
    node = FakeNode()
    static = frames.TfBroadcaster(node, static=True)
    assert static.backend == "rclpy"
    static.send([_t("laser", 0.1)])
    static.send([_t("camera", 0.2)])
    static.send([_t("laser", 0.3)])  # replaces the first laser transform
    last = node.published[-1]
    assert [(t.child_frame_id, t.transform.translation.x) for t in last.transforms] == [
        ("laser", 0.3), ("camera", 0.2)]
    dynamic_node = FakeNode()
    dynamic = frames.TfBroadcaster(dynamic_node)
    dynamic.send([_t("laser", 0.1)])
    dynamic.send([_t("camera", 0.2)])
    assert [[t.child_frame_id for t in m.transforms] for m in dynamic_node.published] == [
        ["laser"], ["camera"]]  # dynamic transforms are not accumulated


def test_tf2_ros_broadcasters_are_used_when_importable(monkeypatch) -> None:
    sent: list[tuple[str, object, list]] = []

    def broadcaster(kind: str) -> type:
        class Fake:
            def __init__(self, node: object) -> None:
                self.node = node

            def sendTransform(self, transforms: list) -> None:  # noqa: N802 - tf2_ros's name
                sent.append((kind, self.node, transforms))
        return Fake

    fake = types.SimpleNamespace(TransformBroadcaster=broadcaster("dynamic"),
                                 StaticTransformBroadcaster=broadcaster("static"))
    monkeypatch.setattr(frames, "tf2_ros", fake)
    node = FakeNode()
    dynamic, static = frames.TfBroadcaster(node), frames.TfBroadcaster(node, static=True)
    assert (dynamic.backend, static.backend) == ("tf2_ros", "tf2_ros")
    dynamic.send([_t("laser", 0.1)])
    static.send([_t("camera", 0.2)])
    assert [(k, n, [t.child_frame_id for t in ts]) for k, n, ts in sent] == [
        ("dynamic", node, ["laser"]), ("static", node, ["camera"])]
    assert node.made == []  # tf2_ros made the publishers, not the fallback
