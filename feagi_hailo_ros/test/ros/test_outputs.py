"""Output bindings (issue 11 item 7): parameters checked at configure, FEAGI's servo coding
decoded into joint commands, the stop command of each stop mode, the messages, and the areas
joint outputs bind. No node here (test_node_outputs.py runs one)."""

from __future__ import annotations

import base64
import dataclasses
import math

import numpy as np
import pytest

from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.genomes import example_genome_path
from feagi_hailo_ros.ros.areas import OFF, AreaBindingError, AreaRequest, resolve_areas
from feagi_hailo_ros.ros.brain_runner import BrainLoadError, BrainRunner, BrainSource, build_brain
from feagi_hailo_ros.ros.decoders import MotorReading
from feagi_hailo_ros.ros.outputs import (
    JointCommand,
    OutputBinding,
    check_outputs,
    motor_key,
    output_binding_from_params,
)
from feagi_hailo_ros.ros.params import OUTPUT_PARAMS

DEFAULTS = {spec.name: spec.default for spec in OUTPUT_PARAMS}


def arm(**changes: object) -> dict:
    """The parameters of a valid two-joint ``joint_positions`` output, with ``changes``."""
    values = dict(DEFAULTS, type="joint_positions", topic="arm_controller/commands",
                  joints=["shoulder", "elbow"], joint_lower=[-1.5, 0.0], joint_upper=[1.5, 2.0],
                  joint_safe=[0.0, 0.5])
    values.update(changes)
    return values


def from_params(values: dict, name: str = "arm") -> OutputBinding:
    return output_binding_from_params(name, values.__getitem__)


# -- parameters ------------------------------------------------------------------------------


def test_default_parameters_are_todays_twist_on_cmd_vel() -> None:
    out = from_params(dict(DEFAULTS), "cmd_vel")
    assert (out.kind, out.topic, out.area, out.joints) == ("twist", "cmd_vel", "", ())
    assert not out.commands_joints


def test_joint_output_from_parameters() -> None:
    out = from_params(arm(joint_lower=[-1, 0], stop_mode="safe", time_from_start_s=0.5))
    assert out.joints == ("shoulder", "elbow")
    assert out.joint_lower == (-1.0, 0.0) and all(isinstance(v, float) for v in out.joint_lower)
    assert out.joint_safe == (0.0, 0.5)
    assert (out.stop_mode, out.time_from_start_s, out.commands_joints) == ("safe", 0.5, True)
    assert out.area_request().columns == 2


@pytest.mark.parametrize(("changes", "why"), [
    ({"type": "joint_velocity"}, "unknown type 'joint_velocity'"),
    ({"topic": ""}, "empty topic"),
    ({"stop_mode": "freeze"}, "stop_mode must be one of hold, safe"),
    ({"time_from_start_s": 0.0}, "time_from_start_s must be finite and > 0"),
    ({"time_from_start_s": math.nan}, "time_from_start_s must be finite and > 0"),
    ({"joints": []}, "needs joints, joint_lower, joint_upper and joint_safe of the same non-zero "
                     "length, got 0, 2, 2, 2"),
    ({"joint_safe": []}, "got 2, 2, 2, 0"),
    ({"joint_upper": [1.5]}, "got 2, 2, 1, 2"),
    ({"joints": ["shoulder", "shoulder"]}, "joint names must be non-empty and distinct"),
    ({"joints": ["shoulder", ""]}, "joint names must be non-empty and distinct"),
    ({"joint_upper": [-1.5, 2.0]}, "joint 'shoulder' needs finite limits lower < upper"),
    ({"joint_lower": [-1.5, math.inf]}, "joint 'elbow' needs finite limits lower < upper"),
    # Finite limits whose span overflows float64: every decoded position would be inf/NaN.
    ({"joint_lower": [-1e308, 0.0], "joint_upper": [1e308, 2.0], "joint_safe": [0.0, 0.5]},
     "joint 'shoulder' needs finite limits lower < upper with a finite span"),
    ({"joint_safe": [0.0, 2.5]}, "joint 'elbow': joint_safe 2.5 is outside [0.0, 2.0]"),
    ({"joint_safe": [math.nan, 0.5]}, "joint 'shoulder': joint_safe nan is outside"),
    ({"type": "twist"}, "joints, joint_lower, joint_upper and joint_safe are for types "
                        "joint_positions, joint_trajectory, not twist"),
    ({"joints": "shoulder"}, "outputs.arm.joints must be a list of strings"),
    ({"joint_lower": ["-1.5", 0.0]}, "outputs.arm.joint_lower must be a list of numbers"),
    ({"joint_safe": [True, 0.5]}, "outputs.arm.joint_safe must be a list of numbers"),
])
def test_bad_output_parameters_are_refused_naming_the_output(changes: dict, why: str) -> None:
    with pytest.raises(ValueError, match="arm") as err:
        from_params(arm(**changes))
    assert why in str(err.value)


def test_outputs_are_checked_together() -> None:
    twist = from_params(dict(DEFAULTS), "cmd_vel")
    joints = from_params(arm())
    check_outputs([twist, joints])  # a valid pair
    clash = from_params(arm(topic="cmd_vel"), "arm2")
    with pytest.raises(ValueError, match="outputs 'cmd_vel' and 'arm2' both publish on 'cmd_vel'"):
        check_outputs([twist, joints, clash])
    second = from_params(dict(DEFAULTS, topic="base2/cmd_vel"), "base2")
    with pytest.raises(ValueError, match="outputs cmd_vel, base2 are all of type twist"):
        check_outputs([twist, second])


def test_twist_area_is_its_own_else_motor_area_else_off() -> None:
    joints = from_params(arm())
    assert motor_key([from_params(dict(DEFAULTS), "cmd_vel"), joints], "o__mot", OFF) == "o__mot"
    own = from_params(dict(DEFAULTS, area="o__left"), "cmd_vel")
    assert motor_key([own], "o__mot", OFF) == "o__left"
    assert motor_key([joints], "o__mot", OFF) == OFF


# -- decoding and commands ---------------------------------------------------------------------


def test_known_motor_firing_decodes_to_joint_positions() -> None:
    # FEAGI's positional servo: column x = joint x, p = 1 - mean(z) / dz, position
    # lower + p * (upper - lower). dz = 10.
    out = OutputBinding("arm", "joint_positions", "arm/commands", "o__arm",
                        ("a", "b", "c", "d"), (-1.0, 0.0, 10.0, 0.0), (1.0, 2.0, 20.0, 1.0),
                        (0.0, 1.0, 12.0, 0.25))
    fired = [(0, 0, 0),             # a: z = 0, p = 1 -> upper limit 1.0
             (1, 0, 4), (1, 0, 6),  # b: two neurons, mean z = 5, p = 0.5 -> 1.0
             (3, 0, 9),             # d: p = 0.1 -> 0.1
             (2, 1, 0), (7, 0, 0)]  # y != 0 and outside the area: skipped, as FEAGI does
    reading = out.decode(np.array(fired), (4, 2, 10))
    assert reading.active.tolist() == [True, True, False, True]
    np.testing.assert_allclose(reading.values[[0, 1, 3]], [1.0, 1.0, 0.1])
    assert math.isnan(reading.values[2])
    command = JointCommand(out)
    # c did not fire: it stays at its safe value until the brain commands it.
    np.testing.assert_allclose(command.update(reading), [1.0, 1.0, 12.0, 0.1])
    later = out.decode(np.array([(2, 0, 5)]), (4, 2, 10))
    # Only c fired: the others keep their last command (FEAGI leaves inactive outputs untouched).
    np.testing.assert_allclose(command.update(later), [1.0, 1.0, 15.0, 0.1])
    with pytest.raises(ValueError, match="4 servos do not fit an area 3 wide"):
        out.decode(np.zeros((0, 3)), (3, 1, 10))


def _reading(values: list[float]) -> MotorReading:
    v = np.array(values, dtype=np.float64)
    return MotorReading(v, ~np.isnan(v))


def test_stop_positions_hold_the_last_command_or_go_safe() -> None:
    hold = JointCommand(from_params(arm(stop_mode="hold")))
    assert hold.stop_positions() is None  # nothing commanded yet: nothing to hold
    hold.update(_reading([0.7, math.nan]))
    np.testing.assert_allclose(hold.stop_positions(), [0.7, 0.5])
    hold.reset()
    assert hold.stop_positions() is None
    safe = JointCommand(from_params(arm(stop_mode="safe")))
    np.testing.assert_allclose(safe.stop_positions(), [0.0, 0.5])
    safe.update(_reading([0.7, 1.9]))
    np.testing.assert_allclose(safe.stop_positions(), [0.0, 0.5])


def test_joint_messages() -> None:
    pytest.importorskip("trajectory_msgs.msg", reason="trajectory_msgs is not installed")
    from std_msgs.msg import Float64MultiArray
    from trajectory_msgs.msg import JointTrajectory

    from feagi_hailo_ros.ros.messages import joint_command

    positions = from_params(arm())
    msg = joint_command(positions, np.array([0.25, 1.5]))
    assert isinstance(msg, Float64MultiArray) and list(msg.data) == [0.25, 1.5]
    assert not msg.layout.dim  # flat, as forward_command_controller reads it
    trajectory = from_params(arm(type="joint_trajectory", time_from_start_s=1.25))
    msg = joint_command(trajectory, np.array([0.25, 1.5]))
    assert isinstance(msg, JointTrajectory)
    assert list(msg.joint_names) == ["shoulder", "elbow"] and len(msg.points) == 1
    assert list(msg.points[0].positions) == [0.25, 1.5]
    assert (msg.points[0].time_from_start.sec, msg.points[0].time_from_start.nanosec) == \
        (1, 250_000_000)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (0, 0)
    with pytest.raises(ValueError, match="3 positions for 2 joints"):
        joint_command(positions, np.zeros(3))
    with pytest.raises(ValueError, match="joints of a twist output"):
        joint_command(from_params(dict(DEFAULTS), "cmd_vel"), np.zeros(0))


# -- areas -----------------------------------------------------------------------------------------


def _shipped(**areas: dict):
    """The shipped obstacle_avoidance connectome with some areas' fields changed."""
    connectome = load_brain("obstacle_avoidance")[0]
    changed = [dataclasses.replace(a, **areas.get(a.cortical_id, {})) for a in connectome.areas]
    return dataclasses.replace(connectome, areas=changed)


#: o__mot re-labelled as FEAGI's positional servo output (``opse\x00...``, a servo name).
SERVO = {"o__mot": {"cortical_id": base64.b64encode(b"opse\x00\x00\x00\x00").decode(),
                    "name": "Arm servos"}}


def test_joint_output_finds_feagi_positional_servo_area_or_fails_clearly() -> None:
    out = from_params(arm()).area_request()
    servo_id = SERVO["o__mot"]["cortical_id"]
    bound = resolve_areas(_shipped(**SERVO), [AreaRequest("scan", "laser_scan")], OFF, [out])
    assert bound.outputs == {"arm": servo_id} and bound.sensors == {"scan": "i__pro"}
    assert any(n.startswith("outputs.arm.area: " + servo_id) for n in bound.notes), bound.notes
    # The shipped motor area (unit mot, "Motor ...") is not a servo output.
    with pytest.raises(AreaBindingError, match=r"outputs.arm.area: the brain has no servo area "
                                               r"\(OPU area with unit pse"):
        resolve_areas(_shipped(), [], OFF, [out])
    with pytest.raises(AreaBindingError, match="is 1 columns wide, the output has 2 joints"):
        resolve_areas(_shipped(o__mot={"dims": (1, 1, 10)}), [], OFF,
                      [from_params(arm(area="o__mot")).area_request()])
    # A sensor without an area in a brain that moves joints: the brain would move blind.
    no_scan = _shipped(i__pro={"cortical_id": "i__xyz", "name": "Other"}, **SERVO)
    with pytest.raises(AreaBindingError, match=f"drives output arm from {servo_id}"):
        resolve_areas(no_scan, [AreaRequest("scan", "laser_scan")], OFF, [out])
    assert resolve_areas(no_scan, [AreaRequest("scan", "laser_scan")], OFF).sensors == \
        {"scan": None}  # without the joint output the sensor is only left unbound


def test_runner_decodes_joint_outputs_every_burst_and_upload_keeps_them() -> None:
    # The shipped brain's power area drives o__mot columns 0 and 2 at z = 5 (p = 0.5).
    out = from_params(arm(joints=["a", "b", "c"], joint_lower=[-1.0, 0.0, 10.0],
                          joint_upper=[1.0, 2.0, 20.0], joint_safe=[0.0, 0.0, 10.0],
                          area="o__mot"))
    brain = build_brain(BrainSource(genome_path=str(example_genome_path("obstacle_avoidance"))))
    runner = BrainRunner(brain, outputs=[out])
    assert runner.areas.outputs == {"arm": "o__mot"}
    results = [runner.step() for _ in range(3)]
    assert not results[0].joints["arm"].active.any()  # nothing reached the motor yet
    reading = results[-1].joints["arm"]
    assert reading.active.tolist() == [True, False, True]
    np.testing.assert_allclose(reading.values[[0, 2]], [0.0, 15.0])
    # A brain without that area cannot be swapped in: the output's publisher was made for it.
    with pytest.raises(BrainLoadError, match="outputs.arm.area: no area 'o__mot'"):
        runner.prepare_swap(build_brain(BrainSource(genome_path="vision")))
    runner.close()
