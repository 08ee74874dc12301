"""`make run`'s program, shortened: both nodes run, the brain bursts, the robot moves, a PNG is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("matplotlib", reason="matplotlib renders the run report")

from feagi_hailo_ros.engine.accel.placement import readable_id  # noqa: E402
from feagi_hailo_ros.ros.demo import main  # noqa: E402


def test_demo_runs_and_reports(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run.png"
    assert main(["--seconds", "4", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    # Progress lines name areas by their readable ids (the default brain's v3 ids are base64:
    # ``X19fZGVhdGg=`` is ``___death``).
    ids = [token.split(":")[0] for line in lines if "| fired " in line
           for token in line.split("| fired ")[1].split(" | ")[0].split()]
    assert ids and all(readable_id(i) == i for i in ids), sorted(set(ids))
    assert "___death" in ids
    assert report["bursts"] > 50
    assert report["distance_m"] > 0.1          # the brain's cmd_vel reached the robot
    assert report["collisions"] == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_stop_requested_during_configure_never_activates_the_brain(tmp_path: Path, capsys,
                                                                   monkeypatch) -> None:
    # Ctrl-C while the brain is being built (a long genome): the demo went on to activate it,
    # so the robot drove for a moment after the user asked it to stop. The run must end
    # without activating, still with its report.
    import os
    import signal

    from feagi_hailo_ros.ros.node import HybridNode

    configure, activate = HybridNode.trigger_configure, HybridNode.trigger_activate
    activations: list[str] = []

    def recorded_activate(self: HybridNode):
        activations.append(self.get_name())
        return activate(self)

    def configure_then_ctrl_c(self: HybridNode):
        result = configure(self)
        os.kill(os.getpid(), signal.SIGINT)  # demo.main's handler: a requested stop
        return result

    monkeypatch.setattr(HybridNode, "trigger_configure", configure_then_ctrl_c)
    monkeypatch.setattr(HybridNode, "trigger_activate", recorded_activate)
    out = tmp_path / "run.png"
    assert main(["--seconds", "30", "--out", str(out)]) == 0
    assert activations == []
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["bursts"] == 0 and out.is_file()


def test_a_failed_burst_ends_the_run_with_status_1_the_robot_stopped(tmp_path: Path, capsys,
                                                                    monkeypatch) -> None:
    # The node's error path releases the brain (runner None): the demo read the burst count
    # from the runner and died with a traceback. It must end the run, say why, write its
    # report and exit 1; the robot's last command is the node's zero Twist.
    from feagi_hailo_ros.ros.brain_runner import BrainRunner
    from feagi_hailo_ros.ros.sim_robot_node import SimRobotNode

    step = BrainRunner.step

    def failing_step(self: BrainRunner):
        if self.burst >= 30:
            raise RuntimeError("engine lost (test)")
        return step(self)

    commands: list[tuple[float, float]] = []
    on_cmd_vel = SimRobotNode._on_cmd_vel

    def recorded(self: SimRobotNode, msg) -> None:
        commands.append((msg.linear.x, msg.angular.z))
        on_cmd_vel(self, msg)

    monkeypatch.setattr(BrainRunner, "step", failing_step)
    monkeypatch.setattr(SimRobotNode, "_on_cmd_vel", recorded)
    out = tmp_path / "run.png"
    assert main(["--seconds", "30", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["bursts"] == 30 and out.is_file()
    assert "bursting stopped: RuntimeError: engine lost (test)" in captured.err
    # The run ended at the failure, not after its 30 s (two status lines a second).
    assert sum("burst=    30 " in line for line in captured.out.splitlines()) <= 2
    assert any(c != (0.0, 0.0) for c in commands) and commands[-1] == (0.0, 0.0)


def test_the_demo_defaults_readme_names() -> None:
    # README (make run): the raster covers the last 400 bursts; the node gets max_wheel_speed
    # 0.6 and max_angular 3.0.
    import inspect

    from feagi_hailo_ros.ros import demo

    assert demo._parse([]).raster_bursts == 400
    source = inspect.getsource(demo.main)
    assert 'Parameter("max_wheel_speed", value=0.6)' in source
    assert 'Parameter("max_angular", value=3.0)' in source
