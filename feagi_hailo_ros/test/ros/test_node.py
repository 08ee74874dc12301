"""The feagi_hailo node in-process over real DDS: lifecycle, sensors in, firing and cmd_vel out,
services, parameters. Bursts are stepped by the test (the burst timer is paused) so every
comparison with the engine is exact."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from feagi_hailo_msgs.msg import BurstStats, FiringEvents  # noqa: E402
from feagi_hailo_msgs.srv import Checkpoint, Upload  # noqa: E402
from feagi_hailo_ros.genomes import example_genome_path  # noqa: E402
from feagi_hailo_ros.ros import messages  # noqa: E402
from feagi_hailo_ros.ros.bindings import SensorBinding, encode_message  # noqa: E402
from feagi_hailo_ros.ros.brain_runner import BrainRunner, BrainSource, build_brain  # noqa: E402
from feagi_hailo_ros.ros.node import HybridNode  # noqa: E402
from feagi_hailo_ros.ros.stop import shut_down  # noqa: E402

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE


class Harness:
    """The node under test plus a peer node that talks to it over DDS."""

    def __init__(self, context: object, spin_until, overrides: list[Parameter] | None = None) -> None:
        self.node = HybridNode(context=context, parameter_overrides=overrides or [])
        self.peer = rclpy.create_node("peer", context=context)
        self.executor = MultiThreadedExecutor(num_threads=3, context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self.spin_until = spin_until
        self.firing: list[FiringEvents] = []
        self.cmd: list[Twist] = []
        self.peer.create_subscription(FiringEvents, "/feagi_hailo/firing", self.firing.append, 50)
        self.peer.create_subscription(Twist, "/cmd_vel", self.cmd.append, 50)
        self.scan_pub = self.peer.create_publisher(LaserScan, "/scan", qos_profile_sensor_data)

    def configure_and_activate(self, pause: bool = True) -> None:
        assert self.node.trigger_configure() == SUCCESS
        if pause:
            # The test steps bursts itself: make the first scheduled burst a second away and
            # stop the loop right after activation, so it never races with the test.
            assert self.node.set_parameters([Parameter("burst_rate_hz", value=1.0)])[0].successful
        assert self.node.trigger_activate() == SUCCESS
        if pause:
            self.node._burst_loop.stop()
            assert self.node.runner.burst == 0
        assert self.spin_until(self.executor, lambda: self.scan_pub.get_subscription_count() > 0)

    def call(self, srv_type: type, name: str, **fields: object) -> object:
        client = self.peer.create_client(srv_type, name)
        assert self.spin_until(self.executor, client.service_is_ready), f"{name} not offered"
        future = client.call_async(srv_type.Request(**fields))
        assert self.spin_until(self.executor, future.done, timeout=60.0), f"{name} timed out"
        self.peer.destroy_client(client)
        return future.result()

    def close(self) -> None:
        shut_down(self.executor)  # as the executables do (ros/stop.py)
        self.node.destroy_node()
        self.peer.destroy_node()


def scan_with_obstacle(stamp: object, left: bool) -> LaserScan:
    """A 360-beam scan with one obstacle 0.3 m away, on the robot's left or right."""
    n = 360
    ranges = np.full(n, math.inf, np.float32)
    angles = -math.pi + np.arange(n) * (2 * math.pi / n)
    side = (angles > 0.3) & (angles < 0.9) if left else (angles < -0.3) & (angles > -0.9)
    ranges[side] = 0.3
    msg = LaserScan(angle_min=-math.pi, angle_max=math.pi - 2 * math.pi / n,
                    angle_increment=2 * math.pi / n, range_min=0.12, range_max=3.5)
    msg.ranges = ranges.tolist()
    msg.header.stamp = stamp
    return msg


def publish_until_accepted(h: Harness, msg: object, sensor: str = "scan", tries: int = 5) -> int:
    """Publish ``msg`` on ``h.scan_pub`` until the node accepted one more ``sensor`` reading;
    returns how many sends it took.

    Sensor QoS is best effort, so a message can be lost (the first one after discovery, on a
    busy machine) and is sent again. Every send gets a new stamp: the message is new, and a
    resend that kept the first send's stamp arrived 2 s old (the wait between sends), which
    the node rightly dropped as stale (max_age_s 0.5 s). That was the "late delivery" for
    which this comparison once ran without the staleness check: the delay was the test's own
    resend, not DDS (commit b0c120e turned the check off; fc7e649 had added the resend).
    Reproduced by skipping the first send with the old loop: every resend was dropped with
    "stale: stamp 2.037 s old > max_age_s 0.5"; with a new stamp per send the first resend
    is accepted.
    """
    counters = h.node.counters[sensor]
    want = counters.accepted + 1
    for attempt in range(1, tries + 1):
        msg.header.stamp = h.node.get_clock().now().to_msg()
        h.scan_pub.publish(msg)
        if h.spin_until(h.executor, timeout=2.0, predicate=lambda: counters.accepted >= want):
            return attempt
    raise AssertionError(f"{sensor}: not accepted after {tries} sends: {counters.last_error!r}")


def test_configure_activate_deactivate_cleanup_shutdown(harness) -> None:
    h = harness()
    h.configure_and_activate(pause=False)
    assert h.spin_until(h.executor, lambda: h.node.runner.burst >= 5, timeout=20.0), "no bursts"
    assert h.spin_until(h.executor, lambda: len(h.firing) > 0)
    assert h.node.trigger_deactivate() == SUCCESS
    stopped_at = h.node.runner.burst
    h.spin_until(h.executor, lambda: False, timeout=0.3)
    assert h.node.runner.burst == stopped_at, "bursting continued while inactive"
    assert h.spin_until(h.executor, lambda: bool(h.cmd) and h.cmd[-1] == Twist())
    assert h.node.trigger_cleanup() == SUCCESS
    assert h.node.runner is None
    assert h.node.trigger_shutdown() == SUCCESS


def test_bad_genome_fails_configure_and_stays_unconfigured(harness, tmp_path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"blueprint": {"_____10c-i__pro-cx-___bbx-i": -3}}')
    h = harness([Parameter("genome", value=str(bad))])
    assert h.node.trigger_configure() == FAILURE
    assert h.node.runner is None
    # Still unconfigured, so configure may be tried again (and fails the same way).
    assert h.node.trigger_configure() == FAILURE


def test_required_hailo_without_manifest_fails_configure(harness, tmp_path) -> None:
    h = harness([Parameter("use_hailo", value=True), Parameter("hailo_required", value=True),
                 Parameter("hailo_library", value=str(tmp_path / "libhailort.so"))])
    assert h.node.trigger_configure() == FAILURE
    assert h.node.runner is None


def test_optional_hailo_without_manifest_runs_on_cpu(harness, tmp_path) -> None:
    h = harness([Parameter("use_hailo", value=True), Parameter("hailo_required", value=False)])
    assert h.node.trigger_configure() == SUCCESS
    assert h.node.runner.choice.status == "cpu only"


def onnx_everywhere(harness, tmp_path: Path) -> Harness:
    """A configured and activated node whose every projection runs on ONNX Runtime."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"min_synapses": 0, "min_dst_neurons": 0,
                                 "keep_sensory_motor_on_cpu": False}))
    h = harness([Parameter("accelerator", value="onnxruntime"),
                 Parameter("placement_config", value=str(rules))])
    h.configure_and_activate()
    return h


def test_onnxruntime_accelerator_gives_the_cpu_engine_spikes(harness, tmp_path) -> None:
    h = onnx_everywhere(harness, tmp_path)
    choice = h.node.runner.choice
    assert choice.status.startswith("onnxruntime")
    on_accel = [r for r in choice.placement_rows if r["backend"] == "accelerator"]
    assert on_accel, "the rules put nothing on the accelerator"
    reference = BrainRunner(build_brain(BrainSource(genome_path=str(
        example_genome_path("obstacle_avoidance")))), motor_area="o__mot")
    binding = SensorBinding("scan", "scan", "laser_scan", "i__pro", range_max=1.0)
    msg = scan_with_obstacle(None, True)
    voxels, pots = encode_message(binding, msg, reference.area_dims("i__pro"))
    for runner in (h.node.runner, reference):
        runner.hold_s = 3600.0
        runner.latch("scan", "i__pro", voxels, pots)
    for _ in range(30):
        got, want = h.node.runner.step(), reference.step()
        assert {k: v.tolist() for k, v in got.fired.items()} == \
               {k: v.tolist() for k, v in want.fired.items()}
        assert got.twist == want.twist
    assert any(k.startswith("integrator:") for k in got.timing)


def test_binding_to_missing_area_fails_configure(harness) -> None:
    h = harness([Parameter("sensor_names", value=["front"]),
                 Parameter("sensors.front.area", value="i__nope")])
    assert h.node.trigger_configure() == FAILURE


@pytest.mark.parametrize("left", [True, False])
def test_scan_in_gives_engine_firing_and_cmd_vel(harness, left: bool) -> None:
    h = harness()  # with the staleness check (max_age_s 0.5 s) on: see publish_until_accepted
    h.configure_and_activate()
    # The same brain, stepped by hand with the same input, is the expected output.
    reference = BrainRunner(build_brain(BrainSource(genome_path=str(
        example_genome_path("obstacle_avoidance")))), motor_area="o__mot")
    binding = SensorBinding("scan", "scan", "laser_scan", "i__pro", range_max=1.0)
    # Bursts are stepped by hand, slower than the watchdog's burst timeout: keep it out of
    # this comparison (its own behaviour is tested in test_decoders.py).
    h.node.watchdog.burst_timeout = None
    h.node.watchdog.input_timeout = None
    h.node.runner.hold_s = reference.hold_s = 3600.0  # the reading is held for the whole test
    resends = 0
    for burst in range(12):
        if burst in (0, 4):
            msg = scan_with_obstacle(None, left)
            resends += publish_until_accepted(h, msg) - 1
            voxels, pots = encode_message(binding, msg, reference.area_dims("i__pro"))
            reference.latch("scan", "i__pro", voxels, pots)
        want_msgs = (len(h.firing) + 1, len(h.cmd) + 1)
        h.node._on_burst()
        expected = reference.step()
        assert h.spin_until(h.executor, lambda n=want_msgs: (len(h.firing), len(h.cmd)) >= n)
        got = {a.cortical_id: list(a.neuron_indices) for a in h.firing[-1].areas}
        want = {cid: idx.tolist() for cid, idx in expected.fired.items() if idx.size}
        assert got == want, f"burst {burst}"
        assert h.firing[-1].burst == expected.burst
        assert (h.cmd[-1].linear.x, h.cmd[-1].angular.z) == pytest.approx(expected.twist)
    # Nothing dropped, except a send that came so late (a loaded machine) that it was stale
    # and was sent again (publish_until_accepted): the node was right to drop it.
    counters = h.node.counters["scan"]
    assert counters.dropped <= resends, counters.last_error
    assert counters.dropped == 0 or counters.last_error.startswith("stale"), counters.last_error


def test_obstacle_side_decides_turn_direction(harness) -> None:
    turns = {}
    for left in (True, False):
        runner = BrainRunner(build_brain(BrainSource(genome_path=str(
            example_genome_path("obstacle_avoidance")))), motor_area="o__mot")
        binding = SensorBinding("scan", "scan", "laser_scan", "i__pro", range_max=1.0)
        msg = scan_with_obstacle(None, left)
        w = []
        for _ in range(10):
            runner.latch("scan", "i__pro", *encode_message(binding, msg, runner.area_dims("i__pro")))
            w.append(runner.step().twist[1])
        turns[left] = float(np.mean(w))
    # Obstacle on the left → turn right (negative yaw rate), and the other way round.
    assert turns[True] < 0 < turns[False], turns


def test_malformed_and_stale_scans_are_dropped_not_fatal(harness) -> None:
    h = harness()
    h.configure_and_activate()
    bad = scan_with_obstacle(h.node.get_clock().now().to_msg(), True)
    bad.angle_increment = 0.0  # malformed
    stale = scan_with_obstacle(h.node.get_clock().now().to_msg(), True)
    stale.header.stamp.sec -= 10
    for msg in (bad, stale):
        h.scan_pub.publish(msg)
    assert h.spin_until(h.executor, lambda: h.node.counters["scan"].dropped == 2)
    assert "stale" in h.node.counters["scan"].last_error
    burst = h.node.runner.burst
    h.node._on_burst()
    assert h.node.runner.burst == burst + 1
    diag = h.node._diagnostics(h.node.rate.summary())
    sensor = next(s for s in diag.status if s.name.endswith("sensor scan"))
    assert {kv.key: kv.value for kv in sensor.values}["dropped"] == "2"


def test_reset_service_clears_state(harness) -> None:
    h = harness()
    h.configure_and_activate()
    for _ in range(5):
        h.node._on_burst()
    assert h.node.runner.burst == 5
    response = h.call(Trigger, "/feagi_hailo/reset")
    assert response.success
    assert h.node.runner.burst == 0


def test_save_and_load_state_continue_identically(harness, tmp_path) -> None:
    h = harness()
    h.configure_and_activate()
    path = str(tmp_path / "state.npz")
    for _ in range(3):
        h.node._on_burst()
    saved = h.call(Checkpoint, "/feagi_hailo/save_state", path=path)
    assert saved.success and saved.burst == 3
    after = [h.node.runner.step().fired for _ in range(5)]
    loaded = h.call(Checkpoint, "/feagi_hailo/load_state", path=path)
    assert loaded.success and loaded.burst == 3
    again = [h.node.runner.step().fired for _ in range(5)]
    for a, b in zip(after, again, strict=True):
        assert {k: v.tolist() for k, v in a.items()} == {k: v.tolist() for k, v in b.items()}
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a checkpoint")
    refused = h.call(Checkpoint, "/feagi_hailo/load_state", path=str(broken))
    assert not refused.success and refused.message


def test_upload_swaps_brain_and_failure_keeps_old_brain_bursting(harness) -> None:
    h = harness()
    h.configure_and_activate(pause=False)
    old = h.node.runner.connectome
    assert h.spin_until(h.executor, lambda: h.node.runner.burst > 3, timeout=20.0)

    failed = h.call(Upload, "/feagi_hailo/upload", genome_json='{"not": "a genome"}')
    assert not failed.success and "previous brain kept" in failed.message
    assert h.node.runner.connectome is old
    before = h.node.runner.burst
    assert h.spin_until(h.executor, lambda: h.node.runner.burst > before + 3), "bursting stopped"

    # A different brain with the same bound areas: one more interneuron area.
    genome = json.loads(example_genome_path("obstacle_avoidance").read_text())
    for key in [k for k in genome["blueprint"] if "-c__obl-" in k]:
        genome["blueprint"][key.replace("-c__obl-", "-c__new-")] = genome["blueprint"][key]
    ok = h.call(Upload, "/feagi_hailo/upload", genome_json=json.dumps(genome))
    assert ok.success, ok.message
    assert ok.neuron_count > 0 and ok.synapse_count > 0
    assert h.spin_until(h.executor, lambda: h.node.runner.connectome is not old, timeout=20.0)
    assert h.node.runner.connectome.neuron_count == ok.neuron_count == old.neuron_count + 10
    assert "c__new" in {a.cortical_id for a in h.node.runner.connectome.areas}

    missing = h.call(Upload, "/feagi_hailo/upload", genome_path="/nonexistent/genome.json")
    assert not missing.success and "not found" in missing.message
    two = h.call(Upload, "/feagi_hailo/upload", genome_path="a.json", genome_json="{}")
    assert not two.success and "exactly one" in two.message


def test_upload_of_brain_without_bound_area_is_refused(harness) -> None:
    h = harness()
    h.configure_and_activate()
    genome = json.loads(example_genome_path("obstacle_avoidance").read_text())
    genome["blueprint"] = {k: v for k, v in genome["blueprint"].items() if "-i__pro-" not in k}
    for key, value in genome["blueprint"].items():
        if key.endswith("dstmap-d") and isinstance(value, dict):
            value.pop("i__pro", None)
    response = h.call(Upload, "/feagi_hailo/upload", genome_json=json.dumps(genome))
    assert not response.success
    assert h.node.runner.connectome.area("i__pro") is not None


def test_parameter_ranges_are_enforced(harness) -> None:
    h = harness()
    h.configure_and_activate()
    results = h.node.set_parameters([Parameter("burst_rate_hz", value=5000.0)])
    assert not results[0].successful
    results = h.node.set_parameters([Parameter("max_linear", value=-1.0)])
    assert not results[0].successful
    results = h.node.set_parameters([Parameter("linear_gain", value=2.0)])
    assert results[0].successful
    assert h.node.runner.drive.linear_gain == 2.0
    results = h.node.set_parameters([Parameter("genome", value="vision")])
    assert not results[0].successful  # read-only while running


def test_live_rate_change_applies(harness) -> None:
    h = harness()
    h.configure_and_activate(pause=False)
    assert h.node.set_parameters([Parameter("burst_rate_hz", value=50.0)])[0].successful
    assert h.node._burst_loop.period == pytest.approx(0.02)
    start = h.node.runner.burst
    assert h.spin_until(h.executor, lambda: h.node.runner.burst >= start + 5)
    assert h.node.set_parameters([Parameter("stats_rate_hz", value=20.0)])[0].successful
    assert h.node._stats_timer.timer_period_ns == pytest.approx(5e7)
    stats: list[object] = []
    h.peer.create_subscription(BurstStats, "/feagi_hailo/burst_stats", stats.append, 10)
    assert h.spin_until(h.executor, lambda: len(stats) >= 3, timeout=10.0)
    # The burst thread's CPU time per burst: measured (> 0), and the mean covers real bursts.
    assert stats[-1].burst_cpu_ms > 0 and any(s.burst_cpu_mean_ms > 0 for s in stats)


def test_configure_again_after_cleanup(harness) -> None:
    h = harness()
    assert h.node.trigger_configure() == SUCCESS
    first = h.node.runner
    assert h.node.trigger_cleanup() == SUCCESS
    assert h.node.runner is None
    assert h.node.trigger_configure() == SUCCESS
    assert h.node.runner is not None and h.node.runner is not first


CONFIG = Path(__file__).resolve().parents[2] / "config" / "hybrid.yaml"
#: FEAGI's own re-save of the shipped obstacle_avoidance.json (/work/shared/cases/feagi_v3):
#: ids ipro\x01... / omot\x05..., plus the core areas FEAGI adds.
FEAGI_RESAVE = (Path(__file__).resolve().parents[1] / "data" / "genomes" / "feagi_v3"
                / "obstacle_avoidance.v3.json")


def shipped_config(**changes: object) -> list[Parameter]:
    """config/hybrid.yaml as parameter overrides (sensors and outputs flattened), with ``changes``."""
    params = yaml.safe_load(CONFIG.read_text())["/**/feagi_hailo"]["ros__parameters"]
    for group in ("sensors", "outputs"):
        for name, values in params.pop(group).items():
            params.update({f"{group}.{name}.{key}": value for key, value in values.items()})
    params.update(changes)
    return [Parameter(name, value=value) for name, value in params.items()]


@pytest.mark.parametrize(("genome", "scan", "motor"), [
    ("obstacle_avoidance", "i__pro", "o__mot"),
    ("obstacle_avoidance_v3", "aXBybwEAAAA=", "b21vdAUAAAA="),
    (str(FEAGI_RESAVE), "aXBybwEAAAA=", "b21vdAUAAAA="),
    # No motor output: no cmd_vel, and the scan (no proximity area) feeds nothing.
    ("vision", None, None),
])
def test_every_shipped_genome_configures_with_the_shipped_config(
        harness, genome: str, scan: str | None, motor: str | None) -> None:
    h = harness(shipped_config(genome=genome))
    assert h.node.trigger_configure() == SUCCESS
    runner = h.node.runner
    assert runner.sensor_area("scan") == scan
    assert (runner.motor_area or None) == motor
    assert (h.node.pub_cmd is None) == (motor is None)
    diag = h.node._diagnostics(h.node.rate.summary())
    sensor = next(s for s in diag.status if s.name.endswith("sensor scan"))
    assert {kv.key: kv.value for kv in sensor.values}["area"] == (scan or "none")
    if scan is None:
        assert sensor.level == messages.WARN and "no area" in sensor.message
        with pytest.raises(KeyError):  # a sensor with no area is not awaited by the watchdog
            h.node.watchdog.input_received("scan")
    else:  # bound, nothing published yet
        assert sensor.level == messages.STALE and sensor.message == "never received"


def test_feagi_resave_drives_like_the_shipped_brain(harness) -> None:
    # The brain FEAGI re-saved (new ids, core areas added), bound by the shipped config, turns
    # away from an obstacle exactly as the shipped v2 brain stepped by hand does.
    h = harness(shipped_config(genome=str(FEAGI_RESAVE)))
    h.configure_and_activate()
    h.node.watchdog.burst_timeout = None
    h.node.watchdog.input_timeout = None
    reference = BrainRunner(build_brain(BrainSource(genome_path="obstacle_avoidance")),
                            motor_area="o__mot")
    h.node.runner.hold_s = reference.hold_s = 3600.0
    msg = scan_with_obstacle(None, True)
    publish_until_accepted(h, msg)
    binding = SensorBinding("scan", "scan", "laser_scan", "i__pro", range_max=1.0)
    reference.latch("scan", "i__pro", *encode_message(binding, msg, reference.area_dims("i__pro")))
    for _ in range(8):
        want = len(h.cmd) + 1
        h.node._on_burst()
        expected = reference.step()
        assert h.spin_until(h.executor, lambda n=want: len(h.cmd) >= n)
        assert (h.cmd[-1].linear.x, h.cmd[-1].angular.z) == pytest.approx(expected.twist)
    assert h.cmd[-1].angular.z < 0  # obstacle on the left: turn right


def test_upload_rebinds_to_the_new_brains_areas(harness) -> None:
    h = harness()
    h.configure_and_activate()
    assert h.node.runner.sensor_area("scan") == "i__pro"
    ok = h.call(Upload, "/feagi_hailo/upload", genome_path=str(FEAGI_RESAVE))
    assert ok.success, ok.message
    h.node._on_burst()
    assert h.node.runner.sensor_area("scan") == "aXBybwEAAAA="
    assert h.node.runner.motor_area == "b21vdAUAAAA="
    # A brain without a motor area (and no proximity area) would change what the node drives.
    refused = h.call(Upload, "/feagi_hailo/upload", genome_path="vision")
    assert not refused.success and "previous brain kept" in refused.message
    assert "no motor area" in refused.message
    assert h.node.runner.motor_area == "b21vdAUAAAA="


def test_explicit_motor_area_none_disables_cmd_vel(harness) -> None:
    h = harness([Parameter("motor_area", value="none")])
    assert h.node.trigger_configure() == SUCCESS
    assert h.node.pub_cmd is None and h.node.runner.motor_area == ""
    assert h.node.runner.sensor_area("scan") == "i__pro"


def test_imu_field_not_provided_is_counted_and_shown(harness) -> None:
    # shared/cases/09: a driver sets angular_velocity_covariance[0] = -1 (REP 145: not provided)
    # while publishing data. Nothing is injected, and /diagnostics says so instead of "ok".
    from sensor_msgs.msg import Imu

    h = harness([Parameter("sensor_names", value=["scan", "gyro"]),
                 Parameter("sensors.gyro.topic", value="imu"),
                 Parameter("sensors.gyro.type", value="imu_angular_velocity"),
                 Parameter("sensors.gyro.area", value="i__pro")])
    h.configure_and_activate()
    pub = h.peer.create_publisher(Imu, "/imu", qos_profile_sensor_data)
    assert h.spin_until(h.executor, lambda: pub.get_subscription_count() > 0)
    imu = Imu()
    imu.header.stamp = h.node.get_clock().now().to_msg()
    imu.angular_velocity.z = 1.5
    imu.angular_velocity_covariance[0] = -1.0
    counters = h.node.counters["gyro"]

    def sent() -> bool:  # best-effort QoS: publish until one arrives
        pub.publish(imu)
        return counters.not_provided > 0

    assert h.spin_until(h.executor, sent)
    assert counters.accepted == 0 and counters.dropped == 0
    diag = h.node._diagnostics(h.node.rate.summary())
    gyro = next(s for s in diag.status if s.name.endswith("sensor gyro"))
    values = {kv.key: kv.value for kv in gyro.values}
    assert int(values["not_provided"]) >= 1
    # Nothing was ever injected: STALE (what the watchdog stops on), and why, not "ok".
    assert gyro.level == messages.STALE and "no message injected yet" in gyro.message
    assert "REP 145" in gyro.message


class _GatedPublisher:
    """Stands in for ``pub_firing``: each publish waits for ``gate`` (a slow subscriber, a
    full DDS queue), then publishes on the real one."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.gate = threading.Event()
        self.entered = threading.Event()

    def publish(self, msg: object) -> None:
        self.entered.set()
        assert self.gate.wait(10.0), "the test never opened the gate"
        self.real.publish(msg)


def _bursts_in_thread(node: HybridNode, n: int) -> bool:
    """Run ``n`` bursts on another thread; True when they all finished (none waited for the
    publishing thread; a burst that waits shows as a thread still alive, not as a time)."""
    t = threading.Thread(target=lambda: [node._on_burst() for _ in range(n)])
    t.start()
    t.join(10.0)
    return not t.is_alive()


def test_firing_goes_out_off_the_burst_thread_latest_burst_wins(harness) -> None:
    h = harness()
    h.configure_and_activate()
    slow = _GatedPublisher(h.node.pub_firing)
    h.node.pub_firing = slow
    h.node._on_burst()  # burst 1: the publishing thread takes it and waits in publish
    assert slow.entered.wait(10.0)
    assert _bursts_in_thread(h.node, 10), "a burst waited for the slow ~/firing"
    assert h.node.runner.burst == 11
    last = {cid: idx.tolist() for cid, idx in h.node.last_result.fired.items() if idx.size}
    slow.gate.set()
    assert h.spin_until(h.executor, lambda: bool(h.firing) and h.firing[-1].burst == 11)
    h.spin_until(h.executor, lambda: False, timeout=0.3)  # anything else would arrive now
    # Burst 1 (taken before the wait), then the newest; bursts 2-10 were replaced unsent.
    assert [m.burst for m in h.firing] == [1, 11]
    assert h.node._publishing.dropped["firing"] == 9
    # The message describes burst 11 exactly (the hand-off shares read-only arrays).
    assert {a.cortical_id: list(a.neuron_indices) for a in h.firing[-1].areas} == last


def test_burst_results_cannot_be_changed_by_whoever_reads_them(harness) -> None:
    h = harness()
    h.configure_and_activate()
    for _ in range(3):
        h.node._on_burst()
    fired = h.node.last_result.fired
    assert any(idx.size for idx in fired.values())
    for idx in fired.values():
        assert not idx.flags.writeable
        if idx.size:
            with pytest.raises(ValueError, match="read-only"):
                idx[0] = -1


def test_publishing_thread_runs_only_while_active(harness) -> None:
    h = harness()
    h.configure_and_activate()

    def publishing_threads() -> int:
        return sum(t.name == "feagi_firing" for t in threading.enumerate())

    assert h.node._publishing.running and publishing_threads() == 1
    assert h.node.trigger_deactivate() == SUCCESS
    assert not h.node._publishing.running and publishing_threads() == 0
    h.node._publishing.offer("firing", None)  # a late offer is dropped, never handled
    assert h.node.trigger_activate() == SUCCESS
    assert h.node._publishing.running and publishing_threads() == 1
    assert h.node.trigger_shutdown() == SUCCESS
    assert h.node._publishing is None and publishing_threads() == 0


def test_a_firing_that_cannot_be_published_stops_the_robot_and_fails(harness) -> None:
    from test_failure import _single_threaded

    h = _single_threaded(harness())
    h.configure_and_activate()

    class Broken:
        def publish(self, msg: object) -> None:
            raise RuntimeError("serialization failed")

    h.node.pub_cmd.publish(Twist())  # let the subscription match before the real commands
    assert h.spin_until(h.executor, lambda: len(h.cmd) > 0)
    moving = Twist()
    moving.linear.x = 0.2
    h.node.pub_cmd.publish(moving)
    assert h.spin_until(h.executor, lambda: h.cmd[-1].linear.x == 0.2)
    h.node.pub_firing = Broken()
    h.node._on_burst()
    assert h.spin_until(h.executor, lambda: h.node._state_machine.current_state[1]
                        == "unconfigured")
    assert h.spin_until(h.executor, lambda: h.cmd[-1] == Twist())
    assert "publishing ~/firing" in h.node.burst_error
    assert "serialization failed" in h.node.burst_error
