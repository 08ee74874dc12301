"""The sim_robot node over real DDS: cmd_vel in, LaserScan, Odometry and TF (REP 105) out."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")

from geometry_msgs.msg import Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402

from feagi_hailo_ros.ros.sim_robot_node import SimRobotNode  # noqa: E402

tf2_msgs = pytest.importorskip("tf2_msgs.msg", reason="tf2_msgs is not built (make setup)")
TFMessage = tf2_msgs.TFMessage

#: What tf2_ros's TransformListener subscribes with (geometry2, tf2_ros_py): keep last 100,
#: reliable; volatile on /tf, transient local on /tf_static.
LISTENER_QOS = QoSProfile(depth=100)
STATIC_LISTENER_QOS = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: REP 2011 type hash of tf2_msgs/msg/TFMessage on a real ROS 2 Jazzy install (as
#: `ros2 topic info -v /tf` prints it there): the stand-in tf2_msgs must carry the same one.
TFMESSAGE_TYPE_HASH = "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087"

#: Generous bound on how long DDS discovery and message flow may take on a loaded 2-core
#: machine; it only stops a broken test from hanging, nothing asserts on elapsed time.
PATIENCE_S = 30.0


@pytest.fixture
def ros():
    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    sim = SimRobotNode(
        context=context,
        parameter_overrides=[
            Parameter("sim_rate_hz", value=100.0),
            Parameter("scan_rate_hz", value=20.0),
            Parameter("odom_rate_hz", value=50.0),
            Parameter("n_beams", value=90),
            Parameter("cmd_vel_timeout", value=0.3),
        ],
    )
    probe = rclpy.create_node("sim_probe", context=context)
    executor.add_node(sim)
    executor.add_node(probe)
    try:
        yield sim, probe, executor
    finally:
        executor.shutdown()
        probe.destroy_node()
        sim.destroy_node()
        rclpy.shutdown(context=context)


def spin_until(executor, condition: Callable[[], bool], each: Callable[[], None] | None = None) -> bool:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if each is not None:
            each()
        executor.spin_once(timeout_sec=0.02)
        if condition():
            return True
    return False


def test_scan_and_odometry_follow_cmd_vel(ros) -> None:
    sim, probe, executor = ros
    scans: list[LaserScan] = []
    odoms: list[Odometry] = []
    probe.create_subscription(LaserScan, "scan", scans.append, qos_profile_sensor_data)
    probe.create_subscription(Odometry, "odom", odoms.append, 10)
    cmd = probe.create_publisher(Twist, "cmd_vel", 10)

    assert spin_until(executor, lambda: scans and odoms), "no scan/odom from sim_robot"

    scan = scans[-1]
    assert len(scan.ranges) == 90
    assert scan.header.frame_id == "laser"
    assert scan.angle_min == pytest.approx(-math.pi)
    assert scan.angle_increment == pytest.approx(2 * math.pi / 90)
    assert (scan.range_min, scan.range_max) == pytest.approx((0.12, 3.5))
    # Standing at the start (0.8, 1.0) facing +x: box B's face is 2.4 m ahead (beam 45 is
    # angle 0), the wall behind 0.8 m (beam 0), the wall on the right 1.0 m (beam 22.5 ->
    # beam 22 is at -92 deg: 1.0 / cos(2 deg)).
    assert scan.ranges[45] == pytest.approx(2.4, abs=1e-5)
    assert scan.ranges[0] == pytest.approx(0.8, abs=1e-5)
    assert scan.ranges[22] == pytest.approx(1.0 / math.cos(math.radians(2.0)), abs=1e-5)

    start = odoms[-1]
    assert (start.header.frame_id, start.child_frame_id) == ("odom", "base_link")
    assert start.pose.pose.position.x == pytest.approx(0.8)
    assert start.pose.pose.position.y == pytest.approx(1.0)

    forward = Twist()
    forward.linear.x = 0.3
    assert spin_until(
        executor,
        lambda: odoms[-1].pose.pose.position.x > 1.2,
        each=lambda: cmd.publish(forward),
    ), "robot did not move forward"
    moving = odoms[-1]
    assert moving.pose.pose.position.y == pytest.approx(1.0, abs=1e-9)  # straight line
    assert moving.pose.pose.orientation.z == pytest.approx(0.0, abs=1e-9)
    assert moving.twist.twist.linear.x == pytest.approx(0.3)
    # The scan moves with the robot: box B is now nearer than 2.4 m.
    assert spin_until(executor, lambda: scans[-1].ranges[45] < 2.0)

    # Stop commanding: after cmd_vel_timeout the robot halts on its own.
    assert spin_until(executor, lambda: odoms[-1].twist.twist.linear.x == 0.0)
    parked = odoms[-1].pose.pose.position.x
    assert parked < 3.2 - sim.world.radius  # never drove into the box

    turn = Twist()
    turn.angular.z = 1.0
    assert spin_until(
        executor,
        lambda: odoms[-1].pose.pose.orientation.z > math.sin(0.5 / 2),  # yaw > 0.5 rad
        each=lambda: cmd.publish(turn),
    ), "robot did not turn"
    assert odoms[-1].pose.pose.position.x == pytest.approx(parked)  # turning in place
    assert odoms[-1].twist.twist.angular.z == pytest.approx(1.0)
    assert sim.world.collisions == 0
    assert len(sim.path) > 10


def test_non_finite_cmd_vel_is_ignored(ros) -> None:
    sim, probe, executor = ros
    cmd = probe.create_publisher(Twist, "cmd_vel", 10)
    bad = Twist()
    bad.linear.x = math.nan
    good = Twist()
    good.linear.x = 0.2
    assert spin_until(executor, lambda: cmd.get_subscription_count() > 0)
    for _ in range(5):
        cmd.publish(bad)
    # Reliable, in-order delivery: once the good command has moved the robot, the NaN ones
    # before it were delivered too, and dropped without taking the node down.
    assert spin_until(executor, lambda: sim.world.pose.x > 0.85, each=lambda: cmd.publish(good))
    assert sim.world.pose.y == 1.0


def test_parameters_have_descriptors_and_ranges(ros) -> None:
    sim, _, _ = ros
    for name in ("sim_rate_hz", "scan_rate_hz", "n_beams", "max_linear", "cmd_vel_timeout"):
        descriptor = sim.describe_parameter(name)
        assert descriptor.description
        assert descriptor.floating_point_range or descriptor.integer_range
    assert sim.describe_parameter("n_beams").read_only
    ok = sim.set_parameters([Parameter("max_linear", value=0.2)])[0]
    assert ok.successful and sim._max_linear == 0.2
    too_fast = sim.set_parameters([Parameter("max_linear", value=50.0)])[0]
    assert not too_fast.successful  # outside the descriptor's range
    read_only = sim.set_parameters([Parameter("n_beams", value=10)])[0]
    assert not read_only.successful


def test_path_png(ros, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    sim, _, _ = ros
    sim.world.step(1.0, 0.3, 0.0)
    sim.path.append((sim.world.pose.x, sim.world.pose.y))
    out = sim.save_path_png(tmp_path / "path.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _yaw(q: object) -> float:
    return 2.0 * math.atan2(q.z, q.w)


def test_tf_chain_odom_base_link_laser_with_odometry_stamps(ros) -> None:
    sim, probe, executor = ros
    # This listener joins after sim_robot sent its static transform (in its constructor):
    # /tf_static must be transient local for it to arrive.
    statics: list[TFMessage] = []
    probe.create_subscription(TFMessage, "/tf_static", statics.append, STATIC_LISTENER_QOS)
    dynamic: list[TFMessage] = []
    probe.create_subscription(TFMessage, "/tf", dynamic.append, LISTENER_QOS)
    odoms: list[Odometry] = []
    probe.create_subscription(Odometry, "odom", odoms.append, 10)
    scans: list[LaserScan] = []
    probe.create_subscription(LaserScan, "scan", scans.append, qos_profile_sensor_data)
    cmd = probe.create_publisher(Twist, "cmd_vel", 10)
    arc = Twist()
    arc.linear.x, arc.angular.z = 0.2, 0.8
    # Drive an arc until odometry shows a turned, moved robot.
    assert spin_until(executor, lambda: statics and scans and odoms and dynamic
                      and abs(_yaw(odoms[-1].pose.pose.orientation)) > 0.3,
                      each=lambda: cmd.publish(arc)), "no static TF, scan, odom or turn"
    turned = len(odoms)
    assert spin_until(executor, lambda: len(odoms) >= turned + 3, each=lambda: cmd.publish(arc))

    [laser] = statics[-1].transforms
    assert (laser.header.frame_id, laser.child_frame_id) == ("base_link", "laser")
    t, r = laser.transform.translation, laser.transform.rotation
    assert (t.x, t.y, t.z, r.x, r.y, r.z, r.w) == pytest.approx((0, 0, 0.1, 0, 0, 0, 1))
    assert all(s.header.frame_id == laser.child_frame_id for s in scans)

    for message in dynamic:
        assert [(t.header.frame_id, t.child_frame_id) for t in message.transforms] == [
            ("odom", "base_link")]
    tf_by_stamp = {(m.transforms[0].header.stamp.sec, m.transforms[0].header.stamp.nanosec):
                   m.transforms[0] for m in dynamic}
    # Every odom message has its transform, same stamp, same pose (the last two may still have
    # theirs in flight; /tf keeps 100 messages, odom 10, so a slow probe loses odom first).
    assert len(odoms) >= 5
    for odom in odoms[:-2]:
        assert (odom.header.frame_id, odom.child_frame_id) == ("odom", "base_link")
        tf = tf_by_stamp.get((odom.header.stamp.sec, odom.header.stamp.nanosec))
        assert tf is not None, f"no odom → base_link transform stamped like odom {odom.header.stamp}"
        pose, tr = odom.pose.pose, tf.transform
        assert (tr.translation.x, tr.translation.y, tr.translation.z) == (
            pose.position.x, pose.position.y, 0.0)
        assert (tr.rotation.x, tr.rotation.y, tr.rotation.z, tr.rotation.w) == (
            pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w)
    # The poses compared include a turned robot away from the start, not only the identity.
    moved = odoms[turned - 1]
    assert abs(_yaw(moved.pose.pose.orientation)) > 0.3 and moved.pose.pose.position.x > 0.8
    assert moved in odoms[:-2]

    # Both TF topics carry the real tf2_msgs type, hash included, so RViz and tf2 accept them.
    for topic in ("/tf", "/tf_static"):
        [info] = probe.get_publishers_info_by_topic(topic)
        assert info.topic_type == "tf2_msgs/msg/TFMessage"
        assert str(info.topic_type_hash) == TFMESSAGE_TYPE_HASH


def _make_sim(context: object, **params: object) -> SimRobotNode:
    return SimRobotNode(context=context, parameter_overrides=[
        Parameter(k, value=v) for k, v in params.items()])


def test_frame_parameters_rename_the_whole_tree(ros_context, spin_until) -> None:
    sim = _make_sim(ros_context, odom_frame="r1/odom", base_frame="r1/base_link",
                    laser_frame="r1/lidar", laser_z=0.25, odom_rate_hz=50.0)
    probe = rclpy.create_node("frame_probe", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(sim)
    executor.add_node(probe)
    statics, dynamic, odoms = [], [], []
    probe.create_subscription(TFMessage, "/tf_static", statics.append, STATIC_LISTENER_QOS)
    probe.create_subscription(TFMessage, "/tf", dynamic.append, LISTENER_QOS)
    probe.create_subscription(Odometry, "odom", odoms.append, 10)
    try:
        assert spin_until(executor, lambda: statics and dynamic and odoms, PATIENCE_S)
        [laser] = statics[-1].transforms
        assert (laser.header.frame_id, laser.child_frame_id) == ("r1/base_link", "r1/lidar")
        assert laser.transform.translation.z == pytest.approx(0.25)
        tf = dynamic[-1].transforms[0]
        assert (tf.header.frame_id, tf.child_frame_id) == ("r1/odom", "r1/base_link")
        assert (odoms[-1].header.frame_id, odoms[-1].child_frame_id) == ("r1/odom", "r1/base_link")
    finally:
        executor.shutdown()
        probe.destroy_node()
        sim.destroy_node()


def test_publish_tf_false_publishes_no_transforms(ros_context) -> None:
    on, off = _make_sim(ros_context), _make_sim(ros_context, publish_tf=False)
    try:
        # The node's own publishers, not the graph's (no other node can count).
        assert {"/tf", "/tf_static", "/odom"} <= {p.topic_name for p in on.publishers}
        topics = {p.topic_name for p in off.publishers}
        assert "/tf" not in topics and "/tf_static" not in topics
        assert "/odom" in topics  # odometry itself still goes out
    finally:
        on.destroy_node()
        off.destroy_node()


@pytest.mark.parametrize(("params", "reason"), [
    ({"laser_frame": "/laser"}, "laser_frame '/laser' must not start with '/'"),
    ({"base_frame": ""}, "base_frame must be a non-empty frame id"),
    ({"odom_frame": "odom frame"}, "odom_frame 'odom frame' must not contain whitespace"),
    # A frame cannot be its own parent, and odom → base_link → odom would be a cycle.
    ({"laser_frame": "base_link"}, "three different frames"),
    ({"base_frame": "odom"}, "three different frames"),
    ({"laser_frame": "odom"}, "three different frames"),
])
def test_invalid_frames_are_refused_with_the_reason(ros_context, params: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        _make_sim(ros_context, **params)


def test_sim_robot_exits_2_with_the_reason_on_invalid_frames() -> None:
    # A subprocess, as a user starts it: were the frame accepted, it would spin until the
    # timeout, which fails the test instead of hanging it.
    done = subprocess.run(
        [sys.executable, "-m", "feagi_hailo_ros.ros.sim_robot_node",
         "--ros-args", "-p", "laser_frame:=/laser"],
        capture_output=True, text=True, timeout=PATIENCE_S)
    assert done.returncode == 2, done.stderr
    assert "laser_frame '/laser' must not start with '/'" in done.stderr
    assert "Traceback" not in done.stderr
