"""Safe stop on every exit path (issue 11, item 1).

As a user meets it: ``hybrid_node`` / ``sim_robot`` started as processes, stopped with SIGINT
(Ctrl-C) or SIGTERM (launch, ``kill``) while driving; the robot must receive a zero Twist as
the last ``cmd_vel``, the process must exit 0, and stderr must hold no traceback and no
"terminate called". In-process: the lifecycle ``shutdown`` and ``on_error`` paths stop the
burst thread before the zero Twist, and a burst that was running when a stop began cannot
publish after the zero.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from geometry_msgs.msg import Twist  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402

from feagi_hailo_ros.ros.node import HybridNode  # noqa: E402

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
#: SIGINT repetitions: a race that strikes 1 run in 8 survives 8 runs with p = (7/8)^8 ≈ 0.34,
#: 16 runs with p ≈ 0.12; with the SIGTERM run and the sim_robot runs, 10 processes in all.
SIGINT_REPEATS = 8
#: The peer's LaserScan rate on /scan while a node runs and is stopped.
SCAN_HZ = 50.0


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    # conftest.py set both for this process; the child must share them.
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"]
    env["ROS_DOMAIN_ID"] = os.environ["ROS_DOMAIN_ID"]
    return env


def _is_zero(msg: Twist) -> bool:
    return (msg.linear.x, msg.linear.y, msg.linear.z,
            msg.angular.x, msg.angular.y, msg.angular.z) == (0.0,) * 6


class Peer:
    """A test-side node that listens on one cmd_vel topic and drives lifecycle transitions."""

    def __init__(self, context: object, cmd_topic: str) -> None:
        self.node = rclpy.create_node("safe_stop_peer", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        #: Every Twist received, in arrival order.
        self.cmds: list[Twist] = []
        self.node.create_subscription(Twist, cmd_topic, self.cmds.append, 100)
        # Sensor traffic while the node runs and stops, as on a robot: a stop with callbacks
        # queued on the node's executor once lost one's exception at exit (stop.shut_down).
        scan_pub = self.node.create_publisher(LaserScan, "/scan", qos_profile_sensor_data)
        scan = LaserScan(angle_min=-math.pi, angle_max=math.pi - 2 * math.pi / 360,
                         angle_increment=2 * math.pi / 360, range_min=0.12, range_max=3.5,
                         ranges=[2.0] * 360)

        def publish_scan() -> None:
            scan.header.stamp = self.node.get_clock().now().to_msg()
            scan_pub.publish(scan)

        self.node.create_timer(1.0 / SCAN_HZ, publish_scan)

    def spin_until(self, predicate, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            self.executor.spin_once(timeout_sec=0.05)
        return True

    def transition(self, node_name: str, transition_id: int) -> bool:
        client = self.node.create_client(ChangeState, f"/{node_name}/change_state")
        try:
            assert self.spin_until(client.service_is_ready), "change_state not offered"
            future = client.call_async(ChangeState.Request(transition=Transition(id=transition_id)))
            assert self.spin_until(future.done, timeout=60.0), "transition timed out"
            return future.result().success
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def _stop_process(proc: subprocess.Popen, sig: int, peer: Peer) -> tuple[int, str]:
    """Send ``sig``, keep the peer spinning until the process exited; (exit code, its output:
    stdout and stderr in one, as the processes here are started)."""
    proc.send_signal(sig)
    assert peer.spin_until(lambda: proc.poll() is not None, timeout=30.0), "did not exit"
    out, _ = proc.communicate(timeout=10)
    return proc.returncode, out


def _assert_clean(code: int, err: str, what: str) -> None:
    """Exit 0 and nothing alarming in ``err`` (the process's output: rclpy prints a task's lost
    exception on stdout)."""
    assert code == 0, f"{what}: exit code {code}\n{err}"
    assert "Traceback" not in err, f"{what}: traceback on stderr\n{err}"
    assert "terminate called" not in err, f"{what}: C++ abort on stderr\n{err}"
    assert "never retrieved" not in err, f"{what}: a callback's exception lost at exit\n{err}"


def _start_driving(peer: Peer, params_file: Path, node_name: str,
                   executor: str = "multi") -> subprocess.Popen:
    """hybrid_node in a process, configured and activated by ``peer``, once it drives."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "feagi_hailo_ros.ros.node", "--executor", executor, "--ros-args",
         "--params-file", str(params_file), "-r", f"__node:={node_name}"],
        env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert peer.transition(node_name, Transition.TRANSITION_CONFIGURE)
        assert peer.transition(node_name, Transition.TRANSITION_ACTIVATE)
        peer.cmds.clear()
        # Driving: the default brain's power area keeps the robot cruising, no sensor needed.
        assert peer.spin_until(lambda: any(not _is_zero(m) for m in peer.cmds)), "never drove"
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


def _run_hybrid_node(peer: Peer, params_file: Path, run: int, sig: int,
                     executor: str = "multi") -> None:
    proc = _start_driving(peer, params_file, f"feagi_hailo_stop{run}", executor)
    try:
        sent = len(peer.cmds)
        code, err = _stop_process(proc, sig, peer)
        # The zero was acknowledged before the process left: it is in our reader already.
        assert peer.spin_until(lambda: any(_is_zero(m) for m in peer.cmds[sent:]), timeout=5.0), \
            f"run {run}: no zero Twist after the signal\n{err}"
        peer.spin_until(lambda: False, timeout=0.2)  # drain anything still queued
        assert _is_zero(peer.cmds[-1]), f"run {run}: last cmd_vel {peer.cmds[-1]}"
        _assert_clean(code, err, f"hybrid_node run {run}")
        kind = {"multi": "MultiThreadedExecutor", "single": "SingleThreadedExecutor"}[executor]
        assert f"spinning with a {kind}" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    # input_timeout_s 0: the watchdog does not wait for a scan, so the brain drives at once.
    path.write_text("/**:\n  ros__parameters:\n    input_timeout_s: 0.0\n"
                    "    burst_rate_hz: 100.0\n")
    return path


@pytest.mark.slow
def test_sigint_while_active_sends_zero_and_exits_cleanly(ros_context, params_file) -> None:
    peer = Peer(ros_context, "/cmd_vel")
    try:
        for run in range(SIGINT_REPEATS):
            _run_hybrid_node(peer, params_file, run, signal.SIGINT)
    finally:
        peer.close()


@pytest.mark.slow
def test_the_single_threaded_executor_configures_drives_and_stops_cleanly(ros_context,
                                                                          params_file) -> None:
    # hybrid_node --executor single (README, node threads): the same lifecycle, driving and stop.
    peer = Peer(ros_context, "/cmd_vel")
    try:
        _run_hybrid_node(peer, params_file, 200, signal.SIGINT, executor="single")
    finally:
        peer.close()


@pytest.mark.slow
def test_sigterm_while_active_sends_zero_and_exits_cleanly(ros_context, params_file) -> None:
    peer = Peer(ros_context, "/cmd_vel")
    try:
        _run_hybrid_node(peer, params_file, 100, signal.SIGTERM)
    finally:
        peer.close()


@pytest.mark.slow
def test_a_shutdown_transition_while_active_ends_the_process(ros_context, params_file) -> None:
    # `ros2 lifecycle set /feagi_hailo shutdown`: the node is finalized (REP-2002-style
    # lifecycle: a terminal state, only destruction follows), so hybrid_node must exit 0 after
    # the zero Twist; it kept running as an empty process until someone sent it a signal.
    peer = Peer(ros_context, "/cmd_vel")
    node_name = "feagi_hailo_finalized"
    proc = None
    try:
        proc = _start_driving(peer, params_file, node_name)
        assert peer.transition(node_name, Transition.TRANSITION_ACTIVE_SHUTDOWN)
        assert peer.spin_until(lambda: proc.poll() is not None, timeout=30.0), \
            "hybrid_node kept running after its node was finalized"
        err, _ = proc.communicate(timeout=10)
        peer.spin_until(lambda: False, timeout=0.2)
        assert _is_zero(peer.cmds[-1]), f"last cmd_vel {peer.cmds[-1]}"
        _assert_clean(proc.returncode, err, "hybrid_node after shutdown")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        peer.close()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sim_robot_stops_cleanly(ros_context, tmp_path: Path, sig: int) -> None:
    png = tmp_path / "path.png"
    proc = subprocess.Popen(
        [sys.executable, "-m", "feagi_hailo_ros.ros.sim_robot_node", "--ros-args",
         "-r", "__node:=sim_robot_stop", "-r", "scan:=/sim_stop/scan",
         "-r", "cmd_vel:=/sim_stop/cmd_vel", "-r", "odom:=/sim_stop/odom",
         "-p", f"path_png:={png}"],
        env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    node = rclpy.create_node("sim_stop_peer", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    odoms: list[Odometry] = []
    node.create_subscription(Odometry, "/sim_stop/odom", odoms.append, 10)
    try:
        deadline = time.monotonic() + 30.0
        while not odoms and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert odoms, "sim_robot never published odom"
        proc.send_signal(sig)
        err, _ = proc.communicate(timeout=30)
        _assert_clean(proc.returncode, err, "sim_robot")
        assert png.is_file(), "path_png not written on a requested stop"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        executor.shutdown()
        node.destroy_node()


@pytest.mark.slow
def test_make_run_demo_stops_on_sigint_with_zero_and_report(ros_context, tmp_path: Path) -> None:
    """`make run` (the demo: brain and robot in one process) cut short by Ctrl-C."""
    png = tmp_path / "run.png"
    proc = subprocess.Popen(
        [sys.executable, "-m", "feagi_hailo_ros.ros.demo", "--seconds", "120", "--out", str(png)],
        env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peer = Peer(ros_context, "/cmd_vel")
    try:
        assert peer.spin_until(lambda: any(not _is_zero(m) for m in peer.cmds), timeout=60.0), \
            "the demo never drove"
        sent = len(peer.cmds)
        proc.send_signal(signal.SIGINT)
        assert peer.spin_until(lambda: proc.poll() is not None, timeout=60.0), "did not exit"
        out, err = proc.communicate(timeout=10)
        assert peer.spin_until(lambda: any(_is_zero(m) for m in peer.cmds[sent:]), timeout=5.0)
        peer.spin_until(lambda: False, timeout=0.2)
        assert _is_zero(peer.cmds[-1]), f"last cmd_vel {peer.cmds[-1]}"
        _assert_clean(proc.returncode, err + out, "demo")
        assert png.is_file() and '"bursts"' in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        peer.close()


# -- in-process: lifecycle paths ---------------------------------------------------------


class Recorder:
    """The node under test (bursting for real) and a cmd_vel listener on one executor."""

    def __init__(self, context: object) -> None:
        self.node = HybridNode(context=context, parameter_overrides=[
            Parameter("input_timeout_s", value=0.0), Parameter("burst_rate_hz", value=100.0)])
        self.peer = Peer(context, "/cmd_vel")
        self.peer.executor.add_node(self.node)

    def activate_and_drive(self) -> None:
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert self.peer.spin_until(lambda: any(not _is_zero(m) for m in self.peer.cmds))

    def close(self) -> None:
        self.peer.close()
        self.node.destroy_node()


@pytest.fixture
def recorder(ros_context):
    rec = Recorder(ros_context)
    yield rec
    rec.close()


def _last_is_zero_after(rec: Recorder, sent: int) -> None:
    assert rec.peer.spin_until(lambda: any(_is_zero(m) for m in rec.peer.cmds[sent:]), 5.0), \
        "no zero Twist"
    rec.peer.spin_until(lambda: False, timeout=0.2)
    assert _is_zero(rec.peer.cmds[-1])


def test_shutdown_transition_while_active_stops_bursting_then_sends_zero(recorder) -> None:
    recorder.activate_and_drive()
    loop = recorder.node._burst_loop
    sent = len(recorder.peer.cmds)
    assert recorder.node.trigger_shutdown() == TransitionCallbackReturn.SUCCESS
    assert not loop.running
    _last_is_zero_after(recorder, sent)


def test_on_error_while_active_stops_bursting_then_sends_zero(recorder) -> None:
    recorder.activate_and_drive()
    loop = recorder.node._burst_loop
    sent = len(recorder.peer.cmds)
    state = LifecycleState(state_id=0, label="active")
    assert recorder.node.on_error(state) == TransitionCallbackReturn.SUCCESS
    assert not loop.running
    assert recorder.node.runner is None
    _last_is_zero_after(recorder, sent)


def test_stop_motion_joins_the_burst_thread_before_the_zero(recorder) -> None:
    recorder.activate_and_drive()
    node = recorder.node
    order: list[str] = []
    node.burst_observers.append(lambda result: order.append("burst"))
    publish = node.pub_cmd.publish

    def spy(msg: Twist) -> None:
        order.append("zero" if _is_zero(msg) else "drive")
        publish(msg)

    node.pub_cmd.publish = spy
    assert recorder.peer.spin_until(lambda: "burst" in order)
    node.stop_motion()
    assert order[-1] == "zero", order
    assert not node._burst_loop.running


def test_a_burst_running_when_a_stop_begins_publishes_no_command(recorder) -> None:
    recorder.activate_and_drive()
    node = recorder.node
    node._burst_loop.stop()
    published: list[Twist] = []
    node.pub_cmd.publish = published.append
    # The stop begins while this burst steps the engine (observers run before the publish).
    node.burst_observers.append(lambda result: setattr(node, "_active", False))
    node._active = True
    node._on_burst()
    assert published == []


def test_release_waits_for_a_callback_still_running_on_the_pool(ros_context) -> None:
    # rclpy 7.1's Executor.shutdown() does not wait for running callbacks: a timer callback
    # still publishing when the node is released made rclpy raise InvalidHandle. A stop
    # requested while a slow callback runs must release only after it finished.
    import os
    import signal as signals
    import threading
    import time as clock

    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node

    from feagi_hailo_ros.ros.stop import spin_until_stopped

    node = Node("slow_callback", context=ros_context)
    started, finished = threading.Event(), threading.Event()
    seen_at_release: list[bool] = []

    def slow() -> None:
        if started.is_set():
            return
        started.set()
        os.kill(os.getpid(), signals.SIGUSR1)  # request the stop while this callback runs
        clock.sleep(0.5)
        finished.set()

    node.create_timer(0.01, slow)
    executor = MultiThreadedExecutor(num_threads=2, context=ros_context)
    executor.add_node(node)

    def release() -> None:
        seen_at_release.append(finished.is_set())
        node.destroy_node()

    assert spin_until_stopped(executor, lambda: None, release, signals=(signals.SIGUSR1,)) == 0
    assert started.is_set() and seen_at_release == [True]


def test_executors_main_can_spin_the_node_with(ros_context) -> None:
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    from feagi_hailo_ros.ros.node import EXECUTORS, make_executor
    assert EXECUTORS == ("multi", "single")
    multi = make_executor("multi", context=ros_context)
    single = make_executor("single", context=ros_context)
    try:
        assert isinstance(multi, MultiThreadedExecutor) and multi._executor._max_workers == 3
        assert isinstance(single, SingleThreadedExecutor)
    finally:
        multi.shutdown()
        single.shutdown()
    with pytest.raises(ValueError, match="multi, single"):
        make_executor("events")


def test_an_unknown_executor_is_refused_before_ros_starts() -> None:
    done = subprocess.run([sys.executable, "-m", "feagi_hailo_ros.ros.node", "--executor",
                           "events", "--ros-args", "-r", "__node:=never"],
                          env=_child_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "invalid choice: 'events'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("entry", ["hybrid_node", "sim_robot"])
def test_ctrl_c_while_the_executable_still_imports_ends_it_quietly(entry: str) -> None:
    # Ctrl-C in the first half second (imports of rclpy, NumPy, Numba) printed a
    # KeyboardInterrupt traceback from inside an import. The console entry points
    # (ros/entry.py) leave SIGINT at its default action until the safe-stop handlers exist.
    code = f"import sys; from feagi_hailo_ros.ros.entry import {entry}; sys.exit({entry}())"
    proc = subprocess.Popen([sys.executable, "-c", code], env=_child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Inside the imports: once NumPy's extension is mapped (the entry point ran, the node's
        # libraries are loading; the signal must not come before the entry point's first line).
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and proc.poll() is None:
            if "_multiarray_umath" in Path(f"/proc/{proc.pid}/maps").read_text():
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # Ended by the signal (or, on a very fast machine, stopped by the node's own handler).
    assert proc.returncode in (-signal.SIGINT, 0), out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
