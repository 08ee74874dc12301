"""Values given at start (``-p``, a parameter file, ``parameter_overrides``) as a ROS user
writes them: ``burst_rate_hz:=50`` means 50.0; any value the node cannot take ends the
executable with one line naming the parameter and what to write, status 2, no traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from rcl_interfaces.msg import ParameterType  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from test_safe_stop import _child_env  # noqa: E402  (test/ros is on sys.path)

from feagi_hailo_ros.ros.node import HybridNode  # noqa: E402
from feagi_hailo_ros.ros.param_overrides import ParameterRefused  # noqa: E402
from feagi_hailo_ros.ros.sim_robot_node import SimRobotNode  # noqa: E402

#: Bound on process start and DDS discovery on a loaded 2-core machine; only stops a broken
#: test from hanging, nothing asserts on elapsed time.
PATIENCE_S = 60.0


def _overrides(**values: object) -> list[Parameter]:
    return [Parameter(name.replace("__", "."), value=v) for name, v in values.items()]


# -- in-process ------------------------------------------------------------------------


def test_hybrid_node_takes_a_whole_number_for_a_double(ros_context) -> None:
    node = HybridNode(context=ros_context, parameter_overrides=_overrides(
        burst_rate_hz=50, cloud_x=-2, sensors__scan__potential=7))
    try:
        for name, value in (("burst_rate_hz", 50.0), ("cloud_x", -2.0),
                            ("sensors.scan.potential", 7.0)):
            param = node.get_parameter(name)
            assert param.type_ == Parameter.Type.DOUBLE, name
            assert param.value == value and isinstance(param.value, float), name
        # Still a double parameter: a later double is accepted as before.
        assert node.set_parameters([Parameter("burst_rate_hz", value=80.0)])[0].successful
        assert node.get_parameter("burst_rate_hz").value == 80.0
        # README: at run time the parameter's own type is needed; rclpy refuses another and
        # the node keeps its value (and runs on).
        result = node.set_parameters([Parameter("burst_rate_hz", value=60)])[0]
        assert not result.successful
        assert node.get_parameter("burst_rate_hz").value == 80.0
    finally:
        node.destroy_node()


def test_sim_robot_takes_a_whole_number_for_a_double(ros_context) -> None:
    sim = SimRobotNode(context=ros_context, parameter_overrides=_overrides(sim_rate_hz=50))
    try:
        assert sim.get_parameter("sim_rate_hz").type_ == Parameter.Type.DOUBLE
        assert sim.get_parameter("sim_rate_hz").value == 50.0
        assert sim._dt == pytest.approx(0.02)
    finally:
        sim.destroy_node()


@pytest.mark.parametrize(("values", "message"), [
    ({"seed": 3.0}, "seed: 3.0 is a double but seed takes an integer: write 3"),
    ({"seed": 1.5}, "seed: 1.5 is a double but seed takes an integer, e.g. 0"),
    ({"burst_rate_hz": "fast"},
     "burst_rate_hz: 'fast' is a string but burst_rate_hz takes a double, e.g. 100.0"),
    ({"burst_rate_hz": 5000}, "burst_rate_hz: 5000 is outside its range 1.0 – 2000.0"),
    ({"burst_rate_hz": 0.5}, "burst_rate_hz: 0.5 is outside its range 1.0 – 2000.0"),
    ({"use_hailo": 1}, "use_hailo: 1 is an integer but use_hailo takes a bool (true or false), "
                       "e.g. False"),
    ({"sensors__scan__max_age_s": -1},
     "sensors.scan.max_age_s: -1 is outside its range 0.0 – 60.0"),
])
def test_hybrid_node_refuses_with_one_line(ros_context, values: dict, message: str) -> None:
    with pytest.raises(ParameterRefused) as caught:
        HybridNode(context=ros_context, parameter_overrides=_overrides(**values))
    assert str(caught.value) == message


@pytest.mark.parametrize(("values", "message"), [
    ({"n_beams": 2}, "n_beams: 2 is outside its range 4 – 2880"),
    ({"n_beams": 90.0}, "n_beams: 90.0 is a double but n_beams takes an integer: write 90"),
    ({"sim_rate_hz": 2}, "sim_rate_hz: 2 is outside its range 5.0 – 1000.0"),
])
def test_sim_robot_refuses_with_one_line(ros_context, values: dict, message: str) -> None:
    with pytest.raises(ParameterRefused) as caught:
        SimRobotNode(context=ros_context, parameter_overrides=_overrides(**values))
    assert str(caught.value) == message


# -- as a user starts them -------------------------------------------------------------


def _refused(module: str, *ros_args: str) -> str:
    """Run ``module`` with ``ros_args``; assert exit 2 and one line on stderr; return it."""
    done = subprocess.run([sys.executable, "-m", module, "--ros-args", *ros_args],
                          env=_child_env(), capture_output=True, text=True, timeout=PATIENCE_S)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_hybrid_node_exits_2_with_one_line() -> None:
    line = _refused("feagi_hailo_ros.ros.node", "-p", "burst_rate_hz:=5000",
                    "-r", "__node:=refused_rate")
    assert line == "hybrid_node: burst_rate_hz: 5000 is outside its range 1.0 – 2000.0"
    line = _refused("feagi_hailo_ros.ros.node", "-p", "seed:=2.0", "-r", "__node:=refused_seed")
    assert line == "hybrid_node: seed: 2.0 is a double but seed takes an integer: write 2"


def test_sim_robot_exits_2_with_one_line() -> None:
    line = _refused("feagi_hailo_ros.ros.sim_robot_node", "-p", "n_beams:=2",
                    "-r", "__node:=refused_sim")
    assert line == "sim_robot: n_beams: 2 is outside its range 4 – 2880"


def _started_value(context: object, command: list[str], node_name: str, param: str) -> object:
    """Start ``command`` (a node named ``node_name``), read ``param`` over its
    ``get_parameters`` service, stop it with SIGINT; assert exit 0; return the value."""
    proc = subprocess.Popen(command, env=_child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peer = rclpy.create_node("override_peer", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(peer)
    try:
        client = peer.create_client(GetParameters, f"/{node_name}/get_parameters")
        deadline = time.monotonic() + PATIENCE_S
        while not client.service_is_ready():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "get_parameters never offered"
            executor.spin_once(timeout_sec=0.1)
        future = client.call_async(GetParameters.Request(names=[param]))
        executor.spin_until_future_complete(future, timeout_sec=PATIENCE_S)
        [value] = future.result().values
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=PATIENCE_S)
        assert proc.returncode == 0, out
        assert "Traceback" not in out, out
        return value
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        executor.shutdown()
        peer.destroy_node()


def test_hybrid_node_runs_with_a_whole_number_in_a_parameter_file(ros_context,
                                                                  tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    burst_rate_hz: 200\n")
    value = _started_value(ros_context, [
        sys.executable, "-m", "feagi_hailo_ros.ros.node", "--ros-args", "--params-file",
        str(params), "-r", "__node:=whole_rate"], "whole_rate", "burst_rate_hz")
    assert (value.type, value.double_value) == (ParameterType.PARAMETER_DOUBLE, 200.0)


def test_sim_robot_runs_with_a_whole_number_on_the_command_line(ros_context) -> None:
    value = _started_value(ros_context, [
        sys.executable, "-m", "feagi_hailo_ros.ros.sim_robot_node", "--ros-args", "-p",
        "sim_rate_hz:=50", "-r", "__node:=whole_sim"], "whole_sim", "sim_rate_hz")
    assert (value.type, value.double_value) == (ParameterType.PARAMETER_DOUBLE, 50.0)
