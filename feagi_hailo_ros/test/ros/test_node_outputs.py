"""Joint outputs of a live node over real DDS (issue 11 item 7): Float64MultiArray and
JointTrajectory received from a known motor firing, bad output parameters refused at
configure, and every stop path (deactivate, shutdown, the watchdog in a burst and on a stalled
loop, a failed burst, SIGINT to the process) sending each output its stop command.

The shipped brain's power area fires o__mot columns 0 and 2 at z = 5 from the second burst on
(p = 1 - 5/10 = 0.5), so the outputs below bound to o__mot command joints a and c to the middle
of their limits and leave b (and d) at their safe values.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")
pytest.importorskip("trajectory_msgs.msg", reason="trajectory_msgs is not installed")

import yaml  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE

ARM_TOPIC = "/arm_controller/commands"
TRAJ_TOPIC = "/arm_controller/joint_trajectory"
#: arm: joint_positions, stop_mode safe. traj: joint_trajectory, stop_mode hold.
OUTPUTS = {
    "output_names": ["cmd_vel", "arm", "traj"],
    "outputs": {
        "arm": {"type": "joint_positions", "topic": "arm_controller/commands", "area": "o__mot",
                "joints": ["a", "b", "c", "d"], "joint_lower": [-1.0, 0.0, 10.0, 0.0],
                "joint_upper": [1.0, 2.0, 20.0, 1.0], "joint_safe": [0.0, 0.25, 12.0, 0.75],
                "stop_mode": "safe"},
        "traj": {"type": "joint_trajectory", "topic": "arm_controller/joint_trajectory",
                 "area": "o__mot", "joints": ["a", "b", "c"], "joint_lower": [-1.0, 0.0, 10.0],
                 "joint_upper": [1.0, 2.0, 20.0], "joint_safe": [0.5, 1.0, 11.0],
                 "stop_mode": "hold", "time_from_start_s": 0.2},
    },
}
ARM_SAFE = [0.0, 0.25, 12.0, 0.75]
#: Once o__mot fires (second burst on): a and c at mid-range, the others at their safe values.
ARM_DRIVEN = [0.0, 0.25, 15.0, 0.75]
TRAJ_DRIVEN = [0.0, 1.0, 15.0]


def output_overrides(**changes: object) -> list[Parameter]:
    """OUTPUTS as parameter overrides (per-output keys flattened), with ``changes``."""
    params = {"output_names": OUTPUTS["output_names"]}
    for name, values in OUTPUTS["outputs"].items():
        params.update({f"outputs.{name}.{key}": value for key, value in values.items()})
    params.update(changes)
    return [Parameter(name, value=value) for name, value in params.items()]


class Joints:
    """The peer's subscriptions to both joint topics."""

    def __init__(self, h: object) -> None:
        self.arm: list[Float64MultiArray] = []
        self.traj: list[JointTrajectory] = []
        self.subs = [h.peer.create_subscription(Float64MultiArray, ARM_TOPIC, self.arm.append, 50),
                     h.peer.create_subscription(JointTrajectory, TRAJ_TOPIC, self.traj.append, 50)]

    def matched(self) -> bool:
        return all(s.get_publisher_count() > 0 for s in self.subs)

    def last(self) -> tuple[list[float], list[float]]:
        return list(self.arm[-1].data), list(self.traj[-1].points[0].positions)


def driven(harness, spin_until, **changes: object):
    """A configured, active node (bursting paused, watchdog off) whose outputs have each
    published the driven command once; (harness, Joints)."""
    h = harness(output_overrides(**changes))
    h.configure_and_activate()
    joints = Joints(h)
    assert spin_until(h.executor, joints.matched)
    h.node.watchdog.burst_timeout = None
    h.node.watchdog.input_timeout = None
    for _ in range(2):
        h.node._on_burst()
    assert spin_until(h.executor, lambda: len(joints.arm) >= 2 and len(joints.traj) >= 2)
    assert joints.last() == (ARM_DRIVEN, TRAJ_DRIVEN)
    return h, joints


def test_joint_outputs_publish_the_decoded_motor_firing(harness, spin_until) -> None:
    h = harness(output_overrides())
    h.configure_and_activate()
    joints = Joints(h)
    assert spin_until(h.executor, joints.matched)
    h.node.watchdog.burst_timeout = None
    h.node.watchdog.input_timeout = None
    h.node._on_burst()  # first burst: the power area has not reached o__mot yet
    assert spin_until(h.executor, lambda: joints.arm and joints.traj)
    assert joints.last() == (ARM_SAFE, [0.5, 1.0, 11.0])
    for burst in range(3):
        h.node._on_burst()
        assert spin_until(h.executor, lambda n=burst + 2: len(joints.arm) >= n
                          and len(joints.traj) >= n)
        assert joints.last() == (ARM_DRIVEN, TRAJ_DRIVEN)
    msg = joints.traj[-1]
    assert list(msg.joint_names) == ["a", "b", "c"] and len(msg.points) == 1
    assert (msg.points[0].time_from_start.sec, msg.points[0].time_from_start.nanosec) == \
        (0, 200_000_000)
    assert h.cmd and h.cmd[-1].linear.x > 0  # the twist output still drives cmd_vel


def test_twist_output_publishes_on_its_topic(harness) -> None:
    h = harness([Parameter("outputs.cmd_vel.topic", value="base/cmd_vel")])
    assert h.node.trigger_configure() == SUCCESS
    assert h.node.pub_cmd.topic_name == "/base/cmd_vel"
    assert h.node.joint_outputs == []


@pytest.mark.parametrize(("changes", "why"), [
    ({"outputs.arm.joint_safe": [0.0, 0.25, 25.0, 0.75]}, "joint_safe"),
    ({"outputs.arm.topic": "cmd_vel"}, "both publish"),
    ({"outputs.arm.area": "i__nope"}, "no area"),
    ({"outputs.arm.joints": ["a", "b", "c", "d", "e"],
      "outputs.arm.joint_lower": [0.0] * 5, "outputs.arm.joint_upper": [1.0] * 5,
      "outputs.arm.joint_safe": [0.0] * 5}, "columns wide"),
])
def test_bad_output_parameters_fail_configure(harness, changes: dict, why: str) -> None:
    h = harness(output_overrides(**changes))
    assert h.node.trigger_configure() == FAILURE
    assert h.node.runner is None and h.node.joint_outputs == []
    assert h.node._state_machine.current_state[1] == "unconfigured"


def test_deactivate_sends_each_output_its_stop_command(harness, spin_until) -> None:
    h, joints = driven(harness, spin_until)
    sent = (len(joints.arm), len(joints.traj))
    assert h.node.trigger_deactivate() == SUCCESS
    assert spin_until(h.executor, lambda: len(joints.arm) > sent[0] and len(joints.traj) > sent[1])
    # arm: stop_mode safe -> joint_safe; traj: hold -> the last command again.
    assert joints.last() == (ARM_SAFE, TRAJ_DRIVEN)
    assert h.cmd[-1] == Twist()


def test_shutdown_while_active_sends_stop_commands(harness, spin_until) -> None:
    h, joints = driven(harness, spin_until)
    sent = len(joints.arm)
    assert h.node.trigger_shutdown() == SUCCESS
    assert spin_until(h.executor, lambda: len(joints.arm) > sent)
    assert list(joints.arm[-1].data) == ARM_SAFE


#: Joint outputs only, no cmd_vel: the watchdog must stop them by themselves.
JOINTS_ONLY = {"output_names": ["arm", "traj"]}


def test_watchdog_trip_in_a_burst_sends_stop_commands_not_the_decoded_ones(
        harness, spin_until) -> None:
    h, joints = driven(harness, spin_until, **JOINTS_ONLY)
    assert h.node.pub_cmd is None
    sent = (len(joints.arm), len(joints.traj))
    # The scan has never arrived: with any input timeout the watchdog trips in this burst.
    h.node.watchdog.input_timeout = 1e-9
    h.node._on_burst()
    assert spin_until(h.executor, lambda: len(joints.arm) > sent[0] and len(joints.traj) > sent[1])
    assert joints.last() == (ARM_SAFE, TRAJ_DRIVEN)


def test_watchdog_diagnostics_guard_joint_outputs_without_cmd_vel(harness, spin_until) -> None:
    # Joint outputs only: /diagnostics must say the watchdog stops them, not "no motor output
    # to guard" while it is sending their stop commands.
    from diagnostic_msgs.msg import DiagnosticStatus

    h, _ = driven(harness, spin_until, **JOINTS_ONLY)
    assert h.node.pub_cmd is None

    def watchdog_status() -> DiagnosticStatus:
        return next(s for s in h.node._diagnostics().status if s.name.endswith("watchdog"))

    assert (watchdog_status().level, watchdog_status().message) == \
        (DiagnosticStatus.OK, "motion allowed")
    h.node.watchdog.input_timeout = 1e-9  # the scan never arrived: the watchdog stops them
    status = watchdog_status()
    assert status.level == DiagnosticStatus.ERROR
    assert "input 'scan' never received" in status.message


def test_watchdog_thread_stops_joint_outputs_of_a_stalled_node(harness, spin_until) -> None:
    h, joints = driven(harness, spin_until, **JOINTS_ONLY)
    assert h.node.pub_cmd is None
    alone = SingleThreadedExecutor(context=h.node.context)
    h.executor.remove_node(h.peer)
    alone.add_node(h.peer)  # from here no callback of the node runs
    try:
        sent = len(joints.traj)
        h.node.watchdog.burst_timeout = 0.25
        h.node.watchdog.burst_completed()
        # No burst follows: after 0.25 s the watchdog's own thread sends the stop commands.
        assert spin_until(alone, lambda: joints.arm and list(joints.arm[-1].data) == ARM_SAFE)
        assert spin_until(alone, lambda: len(joints.traj) > sent)
        assert list(joints.traj[-1].points[0].positions) == TRAJ_DRIVEN
    finally:
        alone.remove_node(h.peer)
        alone.shutdown()
        h.executor.add_node(h.peer)


def test_failed_burst_sends_stop_commands_from_the_burst_thread(harness, spin_until) -> None:
    h, joints = driven(harness, spin_until)
    alone = SingleThreadedExecutor(context=h.node.context)
    h.executor.remove_node(h.peer)
    alone.add_node(h.peer)
    try:
        h.node._watchdog_loop.stop()  # only the burst's own error path may send them
        sent = (len(joints.arm), len(joints.traj))
        h.node._on_burst_error(RuntimeError("boom"))  # what the burst thread runs
        assert spin_until(alone, lambda: len(joints.arm) > sent[0] and len(joints.traj) > sent[1])
        assert joints.last() == (ARM_SAFE, TRAJ_DRIVEN)
    finally:
        alone.remove_node(h.peer)
        alone.shutdown()
        h.executor.add_node(h.peer)
    assert spin_until(h.executor, lambda: h.node._state_machine.current_state[1] == "unconfigured")


def test_hold_sends_nothing_before_the_first_command(harness, spin_until) -> None:
    h = harness(output_overrides())
    h.configure_and_activate()
    joints = Joints(h)
    assert spin_until(h.executor, joints.matched)
    assert h.node.trigger_deactivate() == SUCCESS
    # arm (safe) sends joint_safe; traj (hold) was never commanded: nothing to hold.
    assert spin_until(h.executor, lambda: bool(joints.arm))
    spin_until(h.executor, lambda: False, timeout=0.3)
    assert list(joints.arm[-1].data) == ARM_SAFE and joints.traj == []


@pytest.mark.slow
def test_sigint_sends_each_joint_output_its_stop_command(ros_context, tmp_path: Path) -> None:
    from test_safe_stop import Peer, _assert_clean, _child_env  # test/ros is on sys.path

    params = {"input_timeout_s": 0.0, "burst_rate_hz": 100.0, **OUTPUTS}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    peer = Peer(ros_context, "/cmd_vel")
    arm: list[Float64MultiArray] = []
    traj: list[JointTrajectory] = []
    peer.node.create_subscription(Float64MultiArray, ARM_TOPIC, arm.append, 100)
    peer.node.create_subscription(JointTrajectory, TRAJ_TOPIC, traj.append, 100)
    proc = subprocess.Popen(
        [sys.executable, "-m", "feagi_hailo_ros.ros.node", "--ros-args",
         "--params-file", str(path), "-r", "__node:=feagi_hailo_joints"],
        env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert peer.transition("feagi_hailo_joints", Transition.TRANSITION_CONFIGURE)
        assert peer.transition("feagi_hailo_joints", Transition.TRANSITION_ACTIVATE)
        assert peer.spin_until(lambda: arm and list(arm[-1].data) == ARM_DRIVEN), "never drove"
        proc.send_signal(signal.SIGINT)
        assert peer.spin_until(lambda: proc.poll() is not None, timeout=30.0), "did not exit"
        err, _ = proc.communicate(timeout=10)
        assert peer.spin_until(lambda: list(arm[-1].data) == ARM_SAFE, timeout=5.0), err
        peer.spin_until(lambda: False, timeout=0.2)  # drain anything still queued
        assert list(arm[-1].data) == ARM_SAFE
        assert list(traj[-1].points[0].positions) == TRAJ_DRIVEN
        assert peer.cmds and peer.cmds[-1] == Twist()
        _assert_clean(proc.returncode, err, "hybrid_node with joint outputs")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        peer.close()
