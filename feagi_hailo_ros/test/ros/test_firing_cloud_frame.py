"""The firing cloud's frame over real DDS: frame_id in the PointCloud2 header, cloud_scale in its
points, and the optional static transform cloud_parent_frame → frame_id on /tf_static."""

from __future__ import annotations

import math

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")
tf2_msgs = pytest.importorskip("tf2_msgs.msg", reason="tf2_msgs is not built (make setup)")

from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402

from feagi_hailo_ros.ros import messages  # noqa: E402

#: tf2_ros's TransformListener QoS on /tf_static (keep last 100, reliable, transient local).
STATIC_LISTENER_QOS = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _statics(h) -> list:
    received: list = []
    # Subscribed after the node sent its transform (at construction): transient local delivers it.
    h.peer.create_subscription(tf2_msgs.TFMessage, "/tf_static", received.append, STATIC_LISTENER_QOS)
    return received


def test_cloud_frame_scale_and_static_transform(harness) -> None:
    h = harness([Parameter("frame_id", value="brain"),
                 Parameter("cloud_parent_frame", value="base_link"),
                 Parameter("cloud_x", value=-0.5), Parameter("cloud_y", value=0.25),
                 Parameter("cloud_z", value=1.0), Parameter("cloud_yaw", value=math.pi / 2),
                 Parameter("cloud_scale", value=0.05), Parameter("cloud_rate_hz", value=60.0)])
    statics = _statics(h)
    clouds: list[PointCloud2] = []
    h.peer.create_subscription(PointCloud2, "/feagi_hailo/firing_cloud", clouds.append, 10)
    assert "/tf_static" in _own_topics(h.node)
    assert h.spin_until(h.executor, lambda: bool(statics), timeout=30.0), "no /tf_static"
    [tf] = statics[-1].transforms
    assert (tf.header.frame_id, tf.child_frame_id) == ("base_link", "brain")
    t, r = tf.transform.translation, tf.transform.rotation
    assert (t.x, t.y, t.z) == pytest.approx((-0.5, 0.25, 1.0))
    assert (r.x, r.y, r.z, r.w) == pytest.approx((0, 0, math.sqrt(0.5), math.sqrt(0.5)))

    h.configure_and_activate()
    h.node.watchdog.burst_timeout = None  # bursts are stepped by hand, slower than the watchdog
    # Step bursts until one fires something; each stepped burst publishes a cloud (the 20 ms
    # spin before it is longer than the 1/60 s the cloud rate asks between two clouds).
    for _ in range(20):
        want = len(clouds) + 1
        h.spin_until(h.executor, lambda: False, timeout=0.02)
        h.node._on_burst()
        assert h.spin_until(h.executor, lambda n=want: len(clouds) >= n), "no cloud"
        if clouds[-1].width:
            break
    cloud = clouds[-1]
    assert cloud.header.frame_id == "brain"
    assert cloud.width > 0, "nothing fired in 20 bursts"
    got = np.frombuffer(bytes(cloud.data), dtype=messages.CLOUD_DTYPE)
    unit = messages.firing_cloud_points(h.node.runner.connectome, h.node.last_result.fired)
    for axis in "xyz":
        np.testing.assert_allclose(got[axis], unit[axis] * 0.05, rtol=1e-6)


def _own_topics(node) -> set[str]:
    """Topics of the node's own publishers (not the graph's: no other test's node counts)."""
    return {pub.topic_name for pub in node.publishers}


def test_no_parent_frame_means_no_static_transform(harness) -> None:
    h = harness([Parameter("frame_id", value="brain")])
    assert h.node.cloud_tf is None
    assert "/tf_static" not in _own_topics(h.node)


def test_invalid_cloud_frames_send_no_transform(harness) -> None:
    h = harness([Parameter("frame_id", value="brain"), Parameter("cloud_parent_frame", value="brain")])
    assert h.node.cloud_tf is None  # a frame cannot be its own parent
    assert "/tf_static" not in _own_topics(h.node)
    h2 = harness([Parameter("frame_id", value="/brain"),
                  Parameter("cloud_parent_frame", value="base_link")])
    assert h2.node.cloud_tf is None  # tf2 frame ids have no leading slash
    assert "/tf_static" not in _own_topics(h2.node)
