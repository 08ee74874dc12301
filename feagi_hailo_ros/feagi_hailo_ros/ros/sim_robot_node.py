"""ROS 2 node ``sim_robot``: a simulated differential-drive robot with a 2D lidar.

Subscribes ``cmd_vel`` (``geometry_msgs/Twist``), publishes ``scan`` (``sensor_msgs/LaserScan``,
sensor-data QoS) and ``odom`` (``nav_msgs/Odometry``). Topic names are relative so namespaces
and remaps work. Physics runs in fixed steps of ``1 / sim_rate_hz`` seconds of *simulated*
time per timer tick, so a run is deterministic whatever the machine's load; stamps come from
the node clock (``use_sim_time`` works). The ``odom`` frame coincides with the room frame.

Frames (REP 105): ``odom → base_link`` on ``/tf`` with every ``odom`` message (same stamp, same
pose), and ``base_link → laser`` once on ``/tf_static`` (``frames.TfBroadcaster``: tf2_ros's
broadcasters or the same topics and QoS); the LaserScan's ``frame_id`` is the laser frame.

Written against the API Humble, Jazzy and Kilted share (no ``with rclpy.init()``, no timer
``autostart``). Entry point: :func:`main` (console script ``sim_robot``).
"""

from __future__ import annotations

import array
import math
import sys
from pathlib import Path
from typing import Any

import rclpy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import LaserScan

from . import frames
from .param_overrides import declare
from .run_report import render_run_png
from .sim_world import LidarSpec, Pose2D, SimWorld, default_room
from .stop import spin_until_stopped

__all__ = ["SimRobotNode", "main"]


def _float_param(description: str, lo: float, hi: float, read_only: bool = True) -> ParameterDescriptor:
    return ParameterDescriptor(
        type=ParameterType.PARAMETER_DOUBLE,
        description=description,
        read_only=read_only,
        floating_point_range=[FloatingPointRange(from_value=lo, to_value=hi, step=0.0)],
    )


def _int_param(description: str, lo: int, hi: int, read_only: bool = True) -> ParameterDescriptor:
    return ParameterDescriptor(
        type=ParameterType.PARAMETER_INTEGER,
        description=description,
        read_only=read_only,
        integer_range=[IntegerRange(from_value=lo, to_value=hi, step=1)],
    )


def _str_param(description: str, read_only: bool = True) -> ParameterDescriptor:
    return ParameterDescriptor(
        type=ParameterType.PARAMETER_STRING, description=description, read_only=read_only
    )


def _bool_param(description: str) -> ParameterDescriptor:
    return ParameterDescriptor(
        type=ParameterType.PARAMETER_BOOL, description=description, read_only=True
    )


#: name -> (default, descriptor). Structural parameters are read-only: changing them would
#: need a new world; the speed limits, command timeout and noise may change at run time.
PARAMETERS: dict[str, tuple[object, ParameterDescriptor]] = {
    "sim_rate_hz": (50.0, _float_param("Physics steps per second (fixed step 1/rate).", 5.0, 1000.0)),
    "scan_rate_hz": (10.0, _float_param("LaserScan publish rate.", 0.5, 100.0)),
    "odom_rate_hz": (20.0, _float_param("Odometry publish rate.", 0.5, 200.0)),
    "n_beams": (360, _int_param("Lidar beams per scan.", 4, 2880)),
    "scan_fov_deg": (360.0, _float_param("Lidar field of view, centred ahead (deg).", 10.0, 360.0)),
    "range_min": (0.12, _float_param("Lidar minimum range (m).", 0.0, 1.0)),
    "range_max": (3.5, _float_param("Lidar maximum range (m).", 0.5, 30.0)),
    "noise_std": (
        0.0,
        _float_param("Std dev of Gaussian range noise (m), seeded.", 0.0, 0.5, read_only=False),
    ),
    "seed": (0, _int_param("Seed of the range-noise generator.", 0, 2**31 - 1)),
    "robot_radius": (0.15, _float_param("Robot disc radius (m).", 0.05, 1.0)),
    "start_x": (0.8, _float_param("Start x in the room (m).", 0.0, 100.0)),
    "start_y": (1.0, _float_param("Start y in the room (m).", 0.0, 100.0)),
    "start_yaw": (0.0, _float_param("Start heading (rad).", -math.pi, math.pi)),
    "max_linear": (
        0.5,
        _float_param("Clamp on commanded |linear.x| (m/s).", 0.0, 5.0, read_only=False),
    ),
    "max_angular": (
        2.0,
        _float_param("Clamp on commanded |angular.z| (rad/s).", 0.0, 10.0, read_only=False),
    ),
    "cmd_vel_timeout": (
        0.5,
        _float_param(
            "Stop when no cmd_vel arrived for this long (s); 0 disables.", 0.0, 10.0,
            read_only=False,
        ),
    ),
    "odom_frame": ("odom", _str_param(
        "REP 105 odom frame: odom's header.frame_id, parent of base_frame on /tf (coincides "
        "with the room).")),
    "base_frame": ("base_link", _str_param(
        "REP 105 base frame: odom's child_frame_id, parent of laser_frame.")),
    "laser_frame": ("laser", _str_param("frame_id of the LaserScan, child of base_frame.")),
    "laser_z": (0.1, _float_param(
        "Height of the scan plane above base_frame in the static transform (m); the planar "
        "world casts the rays from the robot centre, so only RViz sees it.", 0.0, 2.0)),
    "publish_tf": (True, _bool_param(
        "Publish odom → base_link on /tf and base_link → laser on /tf_static (false: another "
        "node owns them, e.g. robot_localization and robot_state_publisher).")),
    "path_png": ("", _str_param("If set, main() writes the room + path PNG here on exit.")),
}


class SimRobotNode(Node):
    """Simulated robot: ``cmd_vel`` in, ``scan`` and ``odom`` out; records its path.

    Parameters are declared from :data:`PARAMETERS` (README: the simulated robot).

    Args:
        node_name: Node name.
        **kwargs: Passed to ``rclpy.node.Node`` (e.g. ``parameter_overrides``, ``context``).

    Raises:
        ValueError: parameters that make no valid world or TF tree (a frame id that tf2
            refuses, two frames with one name, a start pose inside an obstacle), or a value
            given at start that the parameter cannot take (``param_overrides.ParameterRefused``:
            wrong type, out of range; a whole number for a double is taken as that double);
            the node's handles are released first.
    """

    def __init__(self, node_name: str = "sim_robot", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        try:
            for name, (default, descriptor) in PARAMETERS.items():
                # A whole number given for a double is that double; ParameterRefused otherwise.
                declare(self, name, default, descriptor)
            self._setup()
        except ValueError:
            self.destroy_node()
            raise

    def _setup(self) -> None:
        p = self._param
        # Checked before anything is made: a bad frame id would give RViz and tf2 a tree they
        # refuse, and nothing here would say so.
        names = ("odom_frame", "base_frame", "laser_frame")
        for name in names:
            why = frames.check_frame_id(p(name), name)
            if why:
                raise ValueError(why)
        if len({p(name) for name in names}) < len(names):
            raise ValueError("odom_frame, base_frame and laser_frame must be three different "
                             f"frames, got {', '.join(repr(p(name)) for name in names)}")
        self._laser = frames.StaticFrame(p("base_frame"), p("laser_frame"), (0.0, 0.0, p("laser_z")))
        self._odom_tf = frames.StaticFrame(p("odom_frame"), p("base_frame"))
        lidar = LidarSpec(
            n_beams=p("n_beams"),
            fov=math.radians(p("scan_fov_deg")),
            range_min=p("range_min"),
            range_max=p("range_max"),
            noise_std=p("noise_std"),
        )
        self.world = SimWorld(
            room=default_room(),
            start=Pose2D(p("start_x"), p("start_y"), p("start_yaw")),
            radius=p("robot_radius"),
            lidar=lidar,
            seed=p("seed"),
        )
        self.path: list[tuple[float, float]] = [(self.world.pose.x, self.world.pose.y)]
        self._dt = 1.0 / p("sim_rate_hz")
        self._scan_period = 1.0 / p("scan_rate_hz")
        self._max_linear = p("max_linear")
        self._max_angular = p("max_angular")
        self._cmd_timeout = p("cmd_vel_timeout")
        self._cmd = (0.0, 0.0)
        self._cmd_stamp_ns: int | None = None
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._scan_pub = self.create_publisher(LaserScan, "scan", qos_profile_sensor_data)
        self._odom_pub = self.create_publisher(Odometry, "odom", 10)
        self._tf: frames.TfBroadcaster | None = None
        self._tf_static: frames.TfBroadcaster | None = None
        if p("publish_tf"):
            self._tf = frames.TfBroadcaster(self)
            self._tf_static = frames.TfBroadcaster(self, static=True)
            self._tf_static.send([self._laser.to_msg(self.get_clock().now().to_msg())])
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, 10)
        self.create_timer(self._dt, self._on_physics)
        self.create_timer(self._scan_period, self._publish_scan)
        self.create_timer(1.0 / p("odom_rate_hz"), self._publish_odom)

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        # Ranges and read-only flags are enforced by rclpy from the descriptors; here only
        # the values the simulation caches need refreshing.
        for param in params:
            if param.name == "max_linear":
                self._max_linear = float(param.value)
            elif param.name == "max_angular":
                self._max_angular = float(param.value)
            elif param.name == "cmd_vel_timeout":
                self._cmd_timeout = float(param.value)
            elif param.name == "noise_std":
                self.world.lidar = LidarSpec(
                    n_beams=self.world.lidar.n_beams,
                    fov=self.world.lidar.fov,
                    range_min=self.world.lidar.range_min,
                    range_max=self.world.lidar.range_max,
                    noise_std=float(param.value),
                )
        return SetParametersResult(successful=True)

    def _on_cmd_vel(self, msg: Twist) -> None:
        v, w = float(msg.linear.x), float(msg.angular.z)
        if not (math.isfinite(v) and math.isfinite(w)):
            self.get_logger().warning(
                f"ignoring non-finite cmd_vel (linear.x={v}, angular.z={w})",
                throttle_duration_sec=5.0,
            )
            return
        self._cmd = (
            max(-self._max_linear, min(self._max_linear, v)),
            max(-self._max_angular, min(self._max_angular, w)),
        )
        self._cmd_stamp_ns = self.get_clock().now().nanoseconds

    def _current_command(self) -> tuple[float, float]:
        if self._cmd_stamp_ns is None:
            return 0.0, 0.0
        if self._cmd_timeout > 0.0:
            age = (self.get_clock().now().nanoseconds - self._cmd_stamp_ns) * 1e-9
            if age > self._cmd_timeout:
                return 0.0, 0.0
        return self._cmd

    def _on_physics(self) -> None:
        v, w = self._current_command()
        result = self.world.step(self._dt, v, w)
        if result.new_collision:
            self.get_logger().info(
                f"collision #{self.world.collisions} at "
                f"({self.world.pose.x:.2f}, {self.world.pose.y:.2f})"
            )
        last = self.path[-1]
        # Record only real motion, so a parked robot does not grow the path without bound.
        if math.hypot(self.world.pose.x - last[0], self.world.pose.y - last[1]) > 1e-4:
            self.path.append((self.world.pose.x, self.world.pose.y))

    def _publish_scan(self) -> None:
        spec = self.world.lidar
        msg = LaserScan()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self._laser.child
        msg.angle_min = spec.angle_min
        msg.angle_max = spec.angle_max
        msg.angle_increment = spec.angle_increment
        msg.time_increment = 0.0
        msg.scan_time = self._scan_period
        msg.range_min = spec.range_min
        msg.range_max = spec.range_max
        msg.ranges = array.array("f", self.world.scan().tobytes())
        self._scan_pub.publish(msg)

    def _publish_odom(self) -> None:
        """``odom`` and, with ``publish_tf``, ``odom → base_link`` on /tf: one stamp, one pose."""
        pose = self.world.pose
        stamp = self.get_clock().now().to_msg()
        orientation = frames.quaternion_from_yaw(pose.yaw)
        msg = Odometry()
        msg.header.stamp = stamp
        msg.header.frame_id = self._odom_tf.parent
        msg.child_frame_id = self._odom_tf.child
        msg.pose.pose.position.x = pose.x
        msg.pose.pose.position.y = pose.y
        o = msg.pose.pose.orientation
        o.x, o.y, o.z, o.w = orientation
        msg.twist.twist.linear.x = self.world.linear_velocity
        msg.twist.twist.angular.z = self.world.angular_velocity
        # Perfect odometry, but say so with a small positive variance rather than zeros,
        # which some consumers treat as "unknown".
        for i in (0, 7, 35):
            msg.pose.covariance[i] = 1e-6
            msg.twist.covariance[i] = 1e-6
        for i in (14, 21, 28):
            msg.pose.covariance[i] = 1e6  # z, roll, pitch: not estimated (planar robot)
            msg.twist.covariance[i] = 1e6
        self._odom_pub.publish(msg)
        if self._tf is not None:
            self._tf.send([frames.transform_stamped(self._odom_tf.parent, self._odom_tf.child,
                                                    stamp, (pose.x, pose.y, 0.0), orientation)])

    def save_path_png(self, out: str | Path) -> Path:
        """Write a PNG of the room and the path driven so far to ``out``; return its path."""
        return render_run_png(
            self.path,
            self.world.room,
            {},
            out,
            title=(
                f"sim_robot: {self.world.distance:.2f} m driven, "
                f"{self.world.collisions} collisions"
            ),
        )


def main(args: list[str] | None = None) -> int:
    """Console entry point: spin ``sim_robot`` until SIGINT/SIGTERM, then write ``path_png``.

    The signals request a stop (``stop.spin_until_stopped``): the executor stops and its
    thread is joined before the node and the context go, so Ctrl-C exits 0 without a traceback.

    Args:
        args: ROS command-line arguments (default ``sys.argv``).

    Returns:
        0 after a requested stop; 1 when an exception escaped a callback (it is logged); 2
        when the parameters are invalid (the reason goes to stderr).
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = SimRobotNode()
    except ValueError as exc:  # bad parameters: say which, no traceback
        print(f"sim_robot: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def release() -> None:
        try:
            out = node.get_parameter("path_png").value
            if out:
                node.save_path_png(out)
        finally:
            node.destroy_node()
            rclpy.try_shutdown()

    def on_error(exc: BaseException) -> None:
        node.get_logger().fatal(f"executor stopped: {type(exc).__name__}: {exc}")

    try:
        return spin_until_stopped(executor, lambda: None, release, on_error=on_error)
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
