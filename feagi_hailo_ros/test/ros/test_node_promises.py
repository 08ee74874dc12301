"""README promises of the node that once had no test that failed when they broke (issue 11,
"Unproven promises"): the node in-process over DDS like test_node.py, bursts stepped by the
test, the watchdog on a fake clock, engines spied on. No wall-clock rate is assumed."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from test_node import FEAGI_RESAVE, SUCCESS, scan_with_obstacle  # noqa: E402

from feagi_hailo_msgs.msg import AreaInput  # noqa: E402
from feagi_hailo_msgs.srv import Upload  # noqa: E402
from feagi_hailo_ros.ros.decoders import Watchdog  # noqa: E402
from feagi_hailo_ros.ros.params import PARAMS  # noqa: E402


def spy_close(monkeypatch, engine) -> list[int]:
    """Count calls of ``engine.close`` (the real close still runs)."""
    calls: list[int] = []
    original = engine.close
    monkeypatch.setattr(engine, "close", lambda: calls.append(1) or original())
    return calls


def test_every_ranged_parameter_descriptor_carries_its_range_in_its_type(harness) -> None:
    # rqt_reconfigure draws a slider from floating_point_range / integer_range: a float
    # parameter needs the float one (README, Parameters).
    node = harness().node
    ranged = [s for s in PARAMS if s.limits is not None]
    assert any(isinstance(s.default, float) for s in ranged)
    assert any(isinstance(s.default, int) for s in ranged)
    for spec in ranged:
        desc = node.describe_parameter(spec.name)
        lo, hi = spec.limits
        if isinstance(spec.default, float):
            assert not desc.integer_range, spec.name
            [r] = desc.floating_point_range
            assert (r.from_value, r.to_value) == (float(lo), float(hi)), spec.name
        else:
            assert not desc.floating_point_range, spec.name
            [r] = desc.integer_range
            assert (r.from_value, r.to_value) == (int(lo), int(hi)), spec.name


def test_input_timeout_sets_hold_and_watchdog_at_configure_and_live(harness) -> None:
    h = harness([Parameter("input_timeout_s", value=2.0)])
    assert h.node.trigger_configure() == SUCCESS
    assert (h.node.runner.hold_s, h.node.watchdog.input_timeout) == (2.0, 2.0)
    assert h.node.set_parameters([Parameter("input_timeout_s", value=3.0)])[0].successful
    assert (h.node.runner.hold_s, h.node.watchdog.input_timeout) == (3.0, 3.0)
    # 0: no input watchdog, readings held 0.5 s (README, Parameters).
    assert h.node.set_parameters([Parameter("input_timeout_s", value=0.0)])[0].successful
    assert (h.node.runner.hold_s, h.node.watchdog.input_timeout) == (0.5, None)


def test_firing_is_published_every_firing_decimation_bursts(harness) -> None:
    h = harness()
    h.configure_and_activate()
    assert h.node.set_parameters([Parameter("firing_decimation", value=3)])[0].successful
    for _ in range(7):
        h.node._on_burst()
        # ~/firing goes out on the publishing thread, which takes the newest due burst: let it
        # send burst 3 before burst 6 is due, as a real 3-burst gap would.
        due = h.node.runner.burst // 3
        assert h.spin_until(h.executor, lambda n=due: len(h.firing) >= n)
    h.spin_until(h.executor, lambda: False, timeout=0.3)  # anything more would arrive now
    assert [m.burst for m in h.firing] == [3, 6]


def test_area_input_is_injected_once_not_held(harness, monkeypatch) -> None:
    h = harness([Parameter("sensor_names", value=["scan", "raw"]),
                 Parameter("sensors.raw.type", value="area_input"),
                 Parameter("sensors.raw.topic", value="raw_in"),
                 Parameter("sensors.raw.area", value="i__pro")])
    h.configure_and_activate()
    h.node.runner.hold_s = 3600.0  # a held reading would be injected in every burst below
    engine = h.node.runner.choice.engine
    injected: list[str] = []
    original = engine.inject
    monkeypatch.setattr(engine, "inject",
                        lambda area, **kw: injected.append(area) or original(area, **kw))
    raw = next(b for b in h.node.bindings if b.name == "raw")
    h.node._on_sensor(raw, AreaInput(x=[0], y=[0], z=[0], potentials=[5.0]))
    assert h.node.counters["raw"].accepted == 1, h.node.counters["raw"].last_error
    h.node._on_burst()
    assert injected == ["i__pro"]
    h.node._on_burst()
    h.node._on_burst()
    assert injected == ["i__pro"], "an area_input message was injected more than once"


def test_watchdog_zeroes_cmd_vel_in_a_burst_when_input_goes_stale(harness) -> None:
    h = harness()
    h.configure_and_activate()
    h.node._watchdog_loop.stop()  # only the burst path is under test here
    now = [100.0]
    h.node.watchdog = Watchdog(lambda: now[0], input_timeout=0.5, burst_timeout=None,
                               required_inputs=["scan"])
    h.node.watchdog.input_received("scan")
    h.node._on_burst()  # the motor area fires from the second burst on
    assert h.spin_until(h.executor, lambda: len(h.cmd) == 1)
    sent: list[tuple[tuple[float, float], Twist]] = []
    for t in (100.2, 100.4, 100.6, 100.8):  # the scan goes stale after 100.5
        now[0] = t
        want = len(h.cmd) + 1
        h.node._on_burst()
        assert h.spin_until(h.executor, lambda n=want: len(h.cmd) >= n)
        sent.append((h.node.last_result.twist, h.cmd[-1]))
    # The brain drives (obstacle_avoidance moves forward without input) ...
    assert all(twist[0] > 0 for twist, _ in sent)
    # ... which cmd_vel carries while the scan is fresh, and a zero Twist once it is stale.
    assert [cmd.linear.x > 0 for _, cmd in sent[:2]] == [True, True]
    assert [cmd for _, cmd in sent[2:]] == [Twist(), Twist()]


def test_a_stale_stamp_just_over_max_age_is_dropped(harness) -> None:
    # max_age_s 0.5 (the default): a stamp 1 s old is dropped, so a threshold even a few
    # seconds looser than max_age_s fails here (delivery only adds age).
    h = harness()
    h.configure_and_activate()
    stamp = h.node.get_clock().now() - rclpy.duration.Duration(seconds=1.0)
    msg = scan_with_obstacle(stamp.to_msg(), True)
    counters = h.node.counters["scan"]

    def sent() -> bool:  # best effort: publish until the node saw one
        h.scan_pub.publish(msg)
        return counters.received > 0

    assert h.spin_until(h.executor, sent)
    assert counters.accepted == 0 and counters.dropped == counters.received
    assert "stale: stamp 1.0" in counters.last_error


def test_an_upload_while_inactive_is_applied_at_once(harness, monkeypatch) -> None:
    h = harness()
    assert h.node.trigger_configure() == SUCCESS  # inactive: no burst will apply the swap
    old = h.node.runner.connectome
    closed = spy_close(monkeypatch, h.node.runner.choice.engine)
    ok = h.call(Upload, "/feagi_hailo/upload", genome_path=str(FEAGI_RESAVE))
    assert ok.success, ok.message
    assert h.node.runner.connectome is not old and h.node.runner.burst == 0
    assert h.node.runner.sensor_area("scan") == "aXBybwEAAAA="
    assert closed == [1], "the replaced engine was not closed"


def test_cleanup_closes_the_engine(harness, monkeypatch) -> None:
    h = harness()
    h.configure_and_activate()
    closed = spy_close(monkeypatch, h.node.runner.choice.engine)
    assert h.node.trigger_deactivate() == SUCCESS
    assert closed == []
    assert h.node.trigger_cleanup() == SUCCESS
    assert closed == [1]


def test_hailo_wait_timeout_and_policy_reach_the_integrator(harness, monkeypatch) -> None:
    from feagi_hailo_ros.engine.accel import hailo_integrator
    from feagi_hailo_ros.ros.accelerators import make_engine
    from feagi_hailo_ros.ros.brain_runner import BrainSource, build_brain

    class Made(Exception):
        """Stops make_engine once the integrator's arguments are known."""

    seen: dict[str, object] = {}

    def fake_integrator(manifest, **kwargs):
        seen.update(kwargs)
        raise Made

    monkeypatch.setattr(hailo_integrator, "HailoIntegrator", fake_integrator)
    h = harness([Parameter("use_hailo", value=True), Parameter("hailo_manifest", value="/m.json"),
                 Parameter("hailo_wait_timeout_s", value=0.3),
                 Parameter("hailo_on_error", value="raise")])
    with pytest.raises(Made):
        make_engine(build_brain(BrainSource(genome_path="obstacle_avoidance")),
                    h.node._accelerator_config())
    assert (seen["wait_timeout_s"], seen["on_error"]) == (0.3, "raise")


def _fifo_permitted() -> bool:
    """Whether this process may put a thread under SCHED_FIFO (probed on a throwaway thread)."""
    import os
    import threading
    result = []

    def probe() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            result.append(True)
        except OSError:
            result.append(False)
    t = threading.Thread(target=probe)
    t.start()
    t.join()
    return result[0]


@pytest.mark.parametrize("priority", [0, 7])
def test_burst_thread_runs_under_the_asked_scheduling_policy(harness, priority) -> None:
    # README, Parameters: burst_thread_priority 1..99 runs the burst thread under SCHED_FIFO
    # when the process may; else a warning, normal scheduling, and /diagnostics says why.
    import os
    import threading
    h = harness([Parameter("burst_thread_priority", value=priority)])
    h.configure_and_activate(pause=False)
    try:
        [burst] = [t for t in threading.enumerate() if t.name == "feagi_burst"]
        policy = os.sched_getscheduler(burst.native_id)
        param = os.sched_getparam(burst.native_id).sched_priority
        values = {kv.key: kv.value for s in h.node._diagnostics().status
                  if s.name.endswith(": engine") for kv in s.values}
    finally:
        h.node._burst_loop.stop()
    if priority == 0:
        assert policy == os.SCHED_OTHER
        assert values["burst_thread_scheduling"] == "normal"
    elif _fifo_permitted():
        assert (policy, param) == (os.SCHED_FIFO, priority)
        assert values["burst_thread_scheduling"] == f"SCHED_FIFO {priority}"
    else:
        assert policy == os.SCHED_OTHER
        assert values["burst_thread_scheduling"].startswith("normal (not permitted")


def test_a_refused_burst_thread_priority_warns_and_diagnostics_say_why(harness, monkeypatch
                                                                        ) -> None:
    # Where the process may not use SCHED_FIFO (no CAP_SYS_NICE, no rtprio limit) the node
    # keeps bursting under normal scheduling and says why (README, Parameters).
    import feagi_hailo_ros.ros.node as node_module
    monkeypatch.setattr(node_module, "set_fifo_priority", lambda p: "not permitted (test)")
    h = harness([Parameter("burst_thread_priority", value=20)])
    h.configure_and_activate(pause=False)
    try:
        assert h.spin_until(h.executor, lambda: h.node.runner.burst > 0)
        values = {kv.key: kv.value for s in h.node._diagnostics().status
                  if s.name.endswith(": engine") for kv in s.values}
    finally:
        h.node._burst_loop.stop()
    assert values["burst_thread_scheduling"] == "normal (not permitted (test))"
    assert h.node.burst_priority_error == "not permitted (test)"


@pytest.mark.parametrize("middleware_reads_them", [True, False])
def test_firing_goes_out_as_bytes_when_the_middleware_reads_them(harness, monkeypatch,
                                                                 middleware_reads_them) -> None:
    # ~/firing is serialized from the burst's arrays (firing_cdr) when the middleware reads
    # those bytes as the message, else message objects go out; subscribers get the same.
    import feagi_hailo_ros.ros.node as node_module
    from feagi_hailo_ros.ros import messages
    encoded: list[int] = []
    real_encode = node_module.FiringEncoder.encode

    def spy(self, fired, burst, **kw):
        encoded.append(burst)
        return real_encode(self, fired, burst, **kw)
    monkeypatch.setattr(node_module.FiringEncoder, "encode", spy)
    if not middleware_reads_them:
        monkeypatch.setattr(node_module, "matches_middleware", lambda encoder: False)
    h = harness()
    h.configure_and_activate()
    results = {}
    for _ in range(3):
        h.node._on_burst()
        result = h.node.last_result
        results[result.burst] = result
        assert h.spin_until(h.executor, lambda b=result.burst: any(m.burst == b
                                                                   for m in h.firing))
    for got in h.firing:
        want = messages.firing_events(results[got.burst].connectome, results[got.burst].fired,
                                      got.burst)
        assert (list(got.areas), got.header.frame_id) == (list(want.areas), "feagi_brain")
    # The middleware check encodes its sample (burst 7) with and without coordinates first.
    assert encoded == ([7, 7, 1, 2, 3] if middleware_reads_them else [])


@pytest.mark.parametrize("priority", [0, 7])
def test_a_real_time_burst_thread_behind_schedule_still_idles_after_each_burst(
        harness, monkeypatch, priority) -> None:
    # A brain slower than its period under SCHED_FIFO must not own its core (measured: on one
    # core the executor and the watchdog all but stopped; burst_clock.BurstLoop,
    # min_idle_fraction). The policy itself is granted by a stand-in, so the test never
    # starves the machine it runs on; what is checked is the idle the loop leaves.
    import time

    import feagi_hailo_ros.ros.node as node_module
    monkeypatch.setattr(node_module, "set_fifo_priority", lambda p: "")
    h = harness([Parameter("burst_thread_priority", value=priority),
                 Parameter("burst_rate_hz", value=200.0)])
    assert h.node.trigger_configure() == SUCCESS
    step = h.node.runner.step
    durations: list[float] = []
    waits: list[float] = []

    def slow_step():  # three periods per burst: always behind schedule
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.015:
            pass
        result = step()
        durations.append(time.perf_counter() - t0)
        return result

    h.node.runner.step = slow_step
    loop = h.node._burst_loop
    real_wait = loop._wait

    def wait(seconds: float) -> None:
        waits.append(seconds)
        real_wait(seconds)

    loop._wait = wait
    assert h.node.trigger_activate() == SUCCESS
    try:
        assert h.spin_until(h.executor, lambda: len(durations) >= 12)
    finally:
        h.node._burst_loop.stop()
    idles = [w for w in waits if w >= node_module.FIFO_MIN_IDLE_FRACTION * 0.015]
    if priority == 0:
        # Normal scheduling: the kernel shares the core; the loop catches up back to back
        # (at most the first wait, for the first deadline).
        assert len(waits) <= 1
    else:
        assert node_module.FIFO_MIN_IDLE_FRACTION > 0
        assert len(idles) >= len(durations) - 1


def test_diagnostics_show_the_burst_threads_policy_not_a_later_parameter_value(harness) -> None:
    # burst_thread_priority is applied when bursting starts; changed while active, the burst
    # thread keeps the policy it started with, and /diagnostics must say that one (an operator
    # reads it to know whether the thread runs real-time), not the new parameter value.
    import os
    import threading
    h = harness([Parameter("burst_thread_priority", value=0)])
    h.configure_and_activate(pause=False)
    try:
        assert h.spin_until(h.executor, lambda: h.node.runner.burst > 0)
        assert h.node.set_parameters([Parameter("burst_thread_priority", value=7)])[0].successful
        [burst] = [t for t in threading.enumerate() if t.name == "feagi_burst"]
        policy = os.sched_getscheduler(burst.native_id)
        values = {kv.key: kv.value for s in h.node._diagnostics().status
                  if s.name.endswith(": engine") for kv in s.values}
    finally:
        h.node._burst_loop.stop()
    assert policy == os.SCHED_OTHER
    assert values["burst_thread_scheduling"] == "normal"


def test_firing_coordinates_and_frame_apply_to_the_next_message(harness) -> None:
    # README, Parameters: firing_coordinates is live; the publishing thread must not keep the
    # value it started with (it reads a cache the parameter callback updates).
    h = harness()
    h.configure_and_activate()
    for coordinates in (True, False, True):
        assert h.node.set_parameters(
            [Parameter("firing_coordinates", value=coordinates)])[0].successful
        h.node._on_burst()
        burst = h.node.last_result.burst
        assert h.spin_until(h.executor, lambda b=burst: any(m.burst == b for m in h.firing))
        [msg] = [m for m in h.firing if m.burst == burst]
        assert msg.areas and msg.header.frame_id == "feagi_brain"
        assert all(bool(len(a.x)) == coordinates for a in msg.areas), coordinates
