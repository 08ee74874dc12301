"""Coordinate frames and TF: quaternions, transforms, and the ``/tf`` and ``/tf_static`` senders.

Conventions: REP 103 (SI units, x forward / y left / z up, angles counter-clockwise) and REP 105
(``odom → base_link`` for a mobile base, sensors below ``base_link``). Quaternions are
``(x, y, z, w)`` tuples, the order of ``geometry_msgs/Quaternion``.

Sending transforms: :class:`TfBroadcaster` uses ``tf2_ros``'s broadcasters when ``tf2_ros`` is
importable (a ROS install), and otherwise publishes ``tf2_msgs/TFMessage`` itself with the
topics and QoS those broadcasters use (:data:`TF_QOS`, :data:`TF_STATIC_QOS`), so listeners
(RViz, tf2's ``TransformListener``) cannot tell the two apart. In a pip-only venv
``tf2_msgs`` is the wire-identical stand-in that ``tools/build_interfaces.py`` builds (README:
frames).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from geometry_msgs.msg import TransformStamped
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile
from tf2_msgs.msg import TFMessage

try:  # a ROS install: its own broadcasters (rosdep key tf2_ros_py)
    import tf2_ros
except ImportError:  # a pip-only venv: tf2_ros is not on PyPI
    tf2_ros = None

__all__ = [
    "TF_QOS",
    "TF_STATIC_QOS",
    "TF_STATIC_TOPIC",
    "TF_TOPIC",
    "StaticFrame",
    "TfBroadcaster",
    "check_frame_id",
    "cloud_frame",
    "quaternion_from_rpy",
    "quaternion_from_yaw",
    "transform_stamped",
]

#: Topics of tf2 (absolute: one TF tree per ROS graph, whatever a node's namespace).
TF_TOPIC = "/tf"
TF_STATIC_TOPIC = "/tf_static"
#: QoS of tf2_ros's ``TransformBroadcaster`` (geometry2, tf2_ros_py): keep last 100, reliable,
#: volatile.
TF_QOS = QoSProfile(depth=100)
#: QoS of tf2_ros's ``StaticTransformBroadcaster``: keep last 1, reliable, transient local, so a
#: listener that starts later still receives the static transforms ("latched").
TF_STATIC_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                           history=HistoryPolicy.KEEP_LAST)

Quaternion = tuple[float, float, float, float]


def quaternion_from_yaw(yaw: float) -> Quaternion:
    """Unit quaternion ``(x, y, z, w)`` of a rotation by ``yaw`` radians about +z (REP 103)."""
    half = 0.5 * yaw
    return (0.0, 0.0, math.sin(half), math.cos(half))


def quaternion_from_rpy(roll: float, pitch: float, yaw: float) -> Quaternion:
    """Unit quaternion ``(x, y, z, w)`` of roll, pitch, yaw in radians.

    Fixed axes: roll about x first, then pitch about y, then yaw about z (R = Rz·Ry·Rx), the
    meaning of tf2's ``setRPY`` and of ``static_transform_publisher``'s ``--roll --pitch --yaw``.
    """
    cr, sr = math.cos(0.5 * roll), math.sin(0.5 * roll)
    cp, sp = math.cos(0.5 * pitch), math.sin(0.5 * pitch)
    cy, sy = math.cos(0.5 * yaw), math.sin(0.5 * yaw)
    return (sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
            cr * cp * cy + sr * sp * sy)


def check_frame_id(frame_id: Any, what: str) -> str | None:
    """Why ``frame_id`` cannot name a TF frame, or None when it can.

    tf2 refuses an empty frame id and one starting with ``/`` (tf2 ids carry no leading slash
    since ROS 2); whitespace is refused too, as no tool can type it back.

    Args:
        frame_id: The candidate (a parameter value: any type).
        what: What it is, for the message (e.g. the parameter name).
    """
    if not isinstance(frame_id, str) or not frame_id:
        return f"{what} must be a non-empty frame id"
    if frame_id.startswith("/"):
        return f"{what} '{frame_id}' must not start with '/' (tf2 frame ids have no leading slash)"
    if any(c.isspace() for c in frame_id):
        return f"{what} '{frame_id}' must not contain whitespace"
    return None


def transform_stamped(parent: str, child: str, stamp: Any,
                      translation: Sequence[float] = (0.0, 0.0, 0.0),
                      rotation: Quaternion = (0.0, 0.0, 0.0, 1.0)) -> TransformStamped:
    """The ``geometry_msgs/TransformStamped`` placing ``child`` in ``parent``.

    Args:
        parent: ``header.frame_id``.
        child: ``child_frame_id``.
        stamp: ``builtin_interfaces/Time`` of the transform.
        translation: ``(x, y, z)`` of the child's origin in the parent frame (m).
        rotation: Unit quaternion ``(x, y, z, w)`` of the child's axes in the parent frame.
    """
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = parent
    msg.child_frame_id = child
    t = msg.transform.translation
    t.x, t.y, t.z = (float(v) for v in translation)
    r = msg.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in rotation)
    return msg


@dataclass(frozen=True)
class StaticFrame:
    """A fixed transform ``parent → child``: translation in metres, roll/pitch/yaw in radians.

    Raises:
        ValueError: an invalid frame id (:func:`check_frame_id`), ``child == parent``, or a
            non-finite number.
    """

    parent: str
    child: str
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        for frame, what in ((self.parent, "parent frame"), (self.child, "child frame")):
            why = check_frame_id(frame, what)
            if why:
                raise ValueError(why)
        if self.parent == self.child:
            raise ValueError(f"frame '{self.child}' cannot be its own parent")
        if not all(math.isfinite(v) for v in (*self.xyz, *self.rpy)):
            raise ValueError(f"transform {self.parent} → {self.child} needs finite xyz and rpy")

    def to_msg(self, stamp: Any) -> TransformStamped:
        """This transform as a ``TransformStamped`` stamped ``stamp``."""
        return transform_stamped(self.parent, self.child, stamp, self.xyz,
                                 quaternion_from_rpy(*self.rpy))


def cloud_frame(param: Callable[[str], Any]) -> StaticFrame | None:
    """The static transform that places ``~/firing_cloud`` next to the robot, from node parameters.

    Reads ``frame_id``, ``cloud_parent_frame``, ``cloud_x/y/z`` and ``cloud_roll/pitch/yaw``
    (``params.PARAMS``).

    Args:
        param: Parameter name -> value.

    Returns:
        ``cloud_parent_frame → frame_id``, or None when ``cloud_parent_frame`` is empty.

    Raises:
        ValueError: ``frame_id`` or ``cloud_parent_frame`` is not a valid frame id, or they
            are the same frame.
    """
    why = check_frame_id(param("frame_id"), "frame_id")
    if why:
        raise ValueError(why)
    parent = param("cloud_parent_frame")
    if not parent:
        return None
    why = check_frame_id(parent, "cloud_parent_frame")
    if why:
        raise ValueError(why)
    return StaticFrame(parent, param("frame_id"),
                       tuple(float(param(f"cloud_{a}")) for a in "xyz"),
                       tuple(float(param(f"cloud_{a}")) for a in ("roll", "pitch", "yaw")))


class TfBroadcaster:
    """Send transforms on ``/tf`` (dynamic) or ``/tf_static`` (static), as tf2_ros does.

    With ``tf2_ros`` importable this wraps its ``TransformBroadcaster`` /
    ``StaticTransformBroadcaster``; otherwise it publishes ``TFMessage`` with :data:`TF_QOS` /
    :data:`TF_STATIC_QOS`. A static broadcaster keeps every transform sent through it, one per
    child frame (a newer one replaces an older one), and republishes them all in one message,
    because with a history of one only the last message reaches a late listener.

    Args:
        node: The node that owns the publisher (any rclpy node, lifecycle nodes included).
        static: ``/tf_static`` instead of ``/tf``.
    """

    def __init__(self, node: Any, static: bool = False) -> None:
        self.static = static
        #: ``"tf2_ros"`` or ``"rclpy"``: what sends the messages.
        self.backend = "tf2_ros" if tf2_ros is not None else "rclpy"
        self._sent: dict[str, TransformStamped] = {}
        if tf2_ros is not None:
            cls = tf2_ros.StaticTransformBroadcaster if static else tf2_ros.TransformBroadcaster
            self._tf2 = cls(node)
            self._pub = None
        else:
            self._tf2 = None
            self._pub = node.create_publisher(TFMessage, TF_STATIC_TOPIC if static else TF_TOPIC,
                                              TF_STATIC_QOS if static else TF_QOS)

    def send(self, transforms: Sequence[TransformStamped]) -> None:
        """Publish ``transforms`` (one ``TFMessage``; static: with every earlier child frame)."""
        if self._tf2 is not None:
            self._tf2.sendTransform(list(transforms))
            return
        if not self.static:
            self._pub.publish(TFMessage(transforms=list(transforms)))
            return
        for t in transforms:
            self._sent[t.child_frame_id] = t
        self._pub.publish(TFMessage(transforms=list(self._sent.values())))
