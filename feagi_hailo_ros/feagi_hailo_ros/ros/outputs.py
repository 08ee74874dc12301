"""Output bindings: which motor area drives which topic, and the command each stop sends.

An output is configured by parameters like a sensor (``outputs.<name>.type/topic/area/...``,
see ``params.OUTPUT_PARAMS``; DESIGN §7: motor outputs are bindings like sensors);
:func:`output_binding_from_params` reads and checks them, :func:`check_outputs` checks a set
of them together. Types (:data:`OUTPUT_TYPES`):

* ``twist``: today's differential drive on ``cmd_vel`` (``decoders.motor_voxels_to_twist``);
  its stop command is the zero Twist.
* ``joint_positions``: ``std_msgs/Float64MultiArray``, one value per joint in ``joints``
  order, what ros2_control's ``forward_command_controller`` family (e.g.
  ``position_controllers/JointGroupPositionController``) reads on ``<controller>/commands``.
* ``joint_trajectory``: ``trajectory_msgs/JointTrajectory`` with ``joint_names`` and one point
  (positions, ``time_from_start``), what ``joint_trajectory_controller`` reads on
  ``<controller>/joint_trajectory``.

Joint outputs decode their area with FEAGI's servo position coding
(``decoders.decode_servo_positions``: column x = joint, position ``lower + p * (upper -
lower)``, ``p = 1 - mean(z) / dz``). A joint whose column did not fire keeps its last command
(FEAGI leaves an inactive output untouched); before its first command it is at ``joint_safe``.
Every stop (deactivate, watchdog, shutdown, SIGINT/SIGTERM, a failed burst) sends
:meth:`JointCommand.stop_positions`: ``stop_mode`` ``hold`` repeats the last command (the arm
stays where it was sent; nothing is sent if it was never commanded), ``safe`` sends
``joint_safe`` (e.g. 0 for velocity or effort controllers on the same message).

No rclpy and no message classes here (``messages.joint_command`` builds the messages).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .areas import AUTO, OutputAreaRequest
from .bindings import _number_list, _string_list
from .decoders import MotorReading, decode_servo_positions

#: The output types: type -> (ROS message type, what is published). The one list of them:
#: the ``outputs.<name>.type`` parameter, the node's publishers and README.md read it.
OUTPUT_TYPES: dict[str, tuple[str, str]] = {
    "twist": ("geometry_msgs/msg/Twist",
              "differential drive: linear.x and angular.z from the wheel channels "
              "(left_channel, right_channel, ...) of FEAGI's signed-percentage motor area; "
              "stop: zero Twist"),
    "joint_positions": ("std_msgs/msg/Float64MultiArray",
                        "one position per joint (joints order) for ros2_control's "
                        "forward_command_controller / JointGroupPositionController "
                        "(topic: the controller's commands); stop: stop_mode"),
    "joint_trajectory": ("trajectory_msgs/msg/JointTrajectory",
                         "joint_names and one point (positions, time_from_start_s) for "
                         "joint_trajectory_controller (topic: the controller's joint_trajectory); "
                         "stop: stop_mode"),
}
#: Output types that command joints (the others: ``twist``).
JOINT_TYPES = ("joint_positions", "joint_trajectory")
#: Values of ``outputs.<name>.stop_mode``.
STOP_MODES = ("hold", "safe")


@dataclass(frozen=True)
class OutputBinding:
    """One motor output: a topic fed from one motor area.

    Attributes:
        name: The output's name (an entry of ``output_names``).
        kind: Output type, a key of :data:`OUTPUT_TYPES`.
        topic: Topic to publish on (relative names follow the namespace).
        area: ``outputs.<name>.area`` as configured: a cortical id or name, or ``areas.AUTO``
            (twist: ``motor_area``; joint types: found by FEAGI type and name).
        joints: Joint names, one area column each, in this order (joint types).
        joint_lower, joint_upper: Limits per joint in its unit (rad or m); the decoded
            position stays inside them.
        joint_safe: Per joint, the command before the first one and on a ``safe`` stop.
        stop_mode: ``hold`` or ``safe`` (module docstring).
        time_from_start_s: ``joint_trajectory``: when the point is to be reached (s).

    Raises:
        ValueError: an unknown type or stop mode, an empty topic, a joint type without
            joints and limits of one length (and a ``joint_safe`` per joint), a repeated or
            empty joint name, limits that are not finite with lower < upper (and a finite
            upper - lower), a safe value
            outside its limits, joint parameters given to a ``twist`` output, or a
            ``time_from_start_s`` that is not finite and > 0.
    """

    name: str
    kind: str
    topic: str
    area: str = AUTO
    joints: tuple[str, ...] = ()
    joint_lower: tuple[float, ...] = ()
    joint_upper: tuple[float, ...] = ()
    joint_safe: tuple[float, ...] = ()
    stop_mode: str = "hold"
    time_from_start_s: float = 0.1

    def __post_init__(self) -> None:
        where = f"output {self.name!r}"
        if self.kind not in OUTPUT_TYPES:
            raise ValueError(f"{where}: unknown type {self.kind!r}; known: {', '.join(OUTPUT_TYPES)}")
        if not self.topic:
            raise ValueError(f"{where}: empty topic")
        if self.stop_mode not in STOP_MODES:
            raise ValueError(f"{where}: stop_mode must be one of {', '.join(STOP_MODES)}")
        if not (math.isfinite(self.time_from_start_s) and self.time_from_start_s > 0):
            raise ValueError(f"{where}: time_from_start_s must be finite and > 0")
        lists = (self.joints, self.joint_lower, self.joint_upper, self.joint_safe)
        if self.kind not in JOINT_TYPES:
            if any(lists):
                raise ValueError(f"{where}: joints, joint_lower, joint_upper and joint_safe are "
                                 f"for types {', '.join(JOINT_TYPES)}, not {self.kind}")
            return
        if not len(self.joints) == len(self.joint_lower) == len(self.joint_upper) \
                == len(self.joint_safe) > 0:
            raise ValueError(
                f"{where}: {self.kind} needs joints, joint_lower, joint_upper and joint_safe of "
                f"the same non-zero length, got {', '.join(str(len(x)) for x in lists)}")
        if len(set(self.joints)) != len(self.joints) or not all(self.joints):
            raise ValueError(f"{where}: joint names must be non-empty and distinct: {self.joints}")
        for joint, lo, hi, safe in zip(*lists, strict=True):
            # The span must be finite too: the decoder computes lower + p * (upper - lower),
            # and limits near float64's range (e.g. +-1e308 for "unlimited") overflow to inf.
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi
                    and math.isfinite(hi - lo)):
                raise ValueError(f"{where}: joint {joint!r} needs finite limits lower < upper "
                                 f"with a finite span, got [{lo}, {hi}]")
            if not (math.isfinite(safe) and lo <= safe <= hi):
                raise ValueError(f"{where}: joint {joint!r}: joint_safe {safe} is outside "
                                 f"[{lo}, {hi}]")

    @property
    def commands_joints(self) -> bool:
        """True for the joint types (:data:`JOINT_TYPES`)."""
        return self.kind in JOINT_TYPES

    def area_request(self) -> OutputAreaRequest:
        """What ``areas.resolve_areas`` must find for this joint output: its area, at least
        one column per joint."""
        return OutputAreaRequest(self.name, self.kind, self.area, len(self.joints))

    def decode(self, voxels: Any, dims: Sequence[int]) -> MotorReading:
        """Fired voxels of the output's area -> joint positions (NaN where inactive).

        Args:
            voxels: ``(n, 3)`` int fired voxels, one row per fired neuron.
            dims: ``(dx, dy, dz)`` of the area, ``dx >= len(joints)``.

        Raises:
            ValueError: the area is narrower than the joint count.

        Source: ``decoders.decode_servo_positions`` (FEAGI's positional servo).
        """
        return decode_servo_positions(voxels, dims, self.joint_lower, self.joint_upper)


def output_binding_from_params(name: str, get: Callable[[str], Any]) -> OutputBinding:
    """Build and check the output ``name`` from its ``outputs.<name>.*`` parameters.

    Args:
        name: The output's name (an entry of ``output_names``).
        get: Returns the value of ``outputs.<name>.<key>`` for a key of
            ``params.OUTPUT_PARAMS`` (as rclpy delivers it; the list parameters may be
            ``[]``, a byte array when never set, or None).

    Returns:
        The binding.

    Raises:
        ValueError: a parameter of the wrong type (``joints`` not strings, a limit not a
            number) or any reason :class:`OutputBinding` refuses, naming the output.
    """
    prefix = f"outputs.{name}."
    return OutputBinding(
        name=name, kind=get("type"), topic=get("topic"), area=get("area"),
        joints=_string_list(get("joints"), prefix + "joints"),
        joint_lower=_number_list(get("joint_lower"), prefix + "joint_lower"),
        joint_upper=_number_list(get("joint_upper"), prefix + "joint_upper"),
        joint_safe=_number_list(get("joint_safe"), prefix + "joint_safe"),
        stop_mode=get("stop_mode"), time_from_start_s=float(get("time_from_start_s")))


def check_outputs(outputs: Sequence[OutputBinding]) -> None:
    """Check a node's outputs together.

    Raises:
        ValueError: two outputs on one topic (two publishers of one topic, maybe of two
            types), or more than one ``twist`` (there is one drive, ``motor_area`` and its
            wheel parameters).
    """
    topics: dict[str, str] = {}
    for out in outputs:
        if out.topic in topics:
            raise ValueError(f"outputs {topics[out.topic]!r} and {out.name!r} both publish on "
                             f"{out.topic!r}; give each output its own topic")
        topics[out.topic] = out.name
    twists = [o.name for o in outputs if o.kind == "twist"]
    if len(twists) > 1:
        raise ValueError(f"outputs {', '.join(twists)} are all of type twist; one drive is "
                         "decoded (motor_area and the wheel parameters), keep one")


def motor_key(outputs: Sequence[OutputBinding], motor_area: str, off: str) -> str:
    """The area the twist output decodes: its own ``area``, else ``motor_area``; ``off``
    when there is no twist output."""
    for out in outputs:
        if out.kind == "twist":
            return out.area or motor_area
    return off


class JointCommand:
    """What one joint output has commanded, and what it sends when motion must stop.

    Thread-safe: the burst thread calls :meth:`update`, stop paths on other threads call
    :meth:`stop_positions`.

    Args:
        binding: A joint output (:attr:`OutputBinding.commands_joints`).
    """

    def __init__(self, binding: OutputBinding) -> None:
        self.binding = binding
        self._lock = threading.Lock()
        self._safe = np.asarray(binding.joint_safe, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget every command: joints are back at ``joint_safe``, nothing to hold."""
        with self._lock:
            self._last = self._safe.copy()
            self._sent = False

    def update(self, reading: MotorReading) -> np.ndarray:
        """The command of one burst: active joints take the decoded position, the others keep
        their last command. Marks the command as sent.

        Args:
            reading: :meth:`OutputBinding.decode` of this burst.

        Returns:
            float64 ``(joints,)`` positions, inside the limits.
        """
        with self._lock:
            self._last = np.where(reading.active, reading.values, self._last)
            self._sent = True
            return self._last.copy()

    def stop_positions(self) -> np.ndarray | None:
        """The command every stop sends: ``hold`` the last command (None when nothing was
        ever commanded: nothing to hold), ``safe`` the ``joint_safe`` values."""
        with self._lock:
            if self.binding.stop_mode == "safe":
                return self._safe.copy()
            return self._last.copy() if self._sent else None
