"""The node's /diagnostics over real DDS (issue 11 item 5): stamped with the node's clock, STALE
sensors before their first message, recovery after a bad message, the watchdog's reasons, the
burst rate following burst_rate_hz. Time is simulated (/clock) or only waited for."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from test_node import scan_with_obstacle  # noqa: E402

from feagi_hailo_ros.ros import messages  # noqa: E402
from feagi_hailo_ros.ros.diagnostics import RECENT_MESSAGES  # noqa: E402

OK, WARN, ERROR, STALE = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR,
                          DiagnosticStatus.STALE)


def _find(array: DiagnosticArray, suffix: str) -> DiagnosticStatus:
    return next(s for s in array.status if s.name.endswith(suffix))


def _values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def _clock_to(h: object, seconds: int) -> None:
    pub = getattr(h, "clock_pub", None) or h.peer.create_publisher(Clock, "/clock", 10)
    h.clock_pub = pub

    def arrived() -> bool:
        pub.publish(Clock(clock=Time(sec=seconds)))
        return h.node.get_clock().now().nanoseconds == seconds * 10**9

    assert h.spin_until(h.executor, arrived), h.node.get_clock().now()


def _send_scans(h: object, n: int, bad: bool = False) -> None:
    """Publish scans (best effort) until ``n`` more were accepted (or dropped, if ``bad``)."""
    counters = h.node.counters["scan"]
    for _ in range(n):
        before = counters.dropped if bad else counters.accepted

        def arrived(before=before) -> bool:
            msg = scan_with_obstacle(h.node.get_clock().now().to_msg(), True)
            if bad:
                msg.angle_increment = 0.0  # malformed
            h.scan_pub.publish(msg)
            return (counters.dropped if bad else counters.accepted) > before

        assert h.spin_until(h.executor, arrived), counters.last_error


def test_published_diagnostics_are_stamped_stale_then_ok_then_recover(harness) -> None:
    h = harness([Parameter("stats_rate_hz", value=20.0)])
    arrays: list[DiagnosticArray] = []
    h.peer.create_subscription(DiagnosticArray, "/diagnostics", arrays.append, 50)
    h.configure_and_activate()  # bursting paused by the harness; the stats timer runs

    def latest(suffix: str, level: bytes, after: int = 0):
        for array in reversed(arrays[after:]):
            status = _find(array, suffix)
            if status.level == level:
                return array, status
        return None

    # No scan yet: STALE, and the watchdog says it stops the robot because of it.
    assert h.spin_until(h.executor, lambda: latest("sensor scan", STALE))
    array, scan = latest("sensor scan", STALE)
    assert scan.message == "never received" and scan.hardware_id == "feagi_hailo"
    assert array.header.stamp.sec > 0  # stamped (it was 0)
    assert abs(h.node.get_clock().now().nanoseconds * 1e-9 - array.header.stamp.sec) < 60
    assert h.spin_until(h.executor, lambda: latest("watchdog", ERROR))
    _, watchdog = latest("watchdog", ERROR)
    assert "input 'scan' never received" in watchdog.message
    assert _values(watchdog)["stopping"] == "yes"

    _send_scans(h, 1)
    mark = len(arrays)
    assert h.spin_until(h.executor, lambda: latest("sensor scan", OK, mark))
    _send_scans(h, 1, bad=True)
    mark = len(arrays)
    assert h.spin_until(h.executor, lambda: latest("sensor scan", WARN, mark))
    _, scan = latest("sensor scan", WARN, mark)
    # (best effort: a retried publish may deliver twice, so counts are at least, not exactly)
    assert "angle_increment" in scan.message and int(_values(scan)["dropped"]) >= 1
    # Good scans push the bad one out of the window: OK again, the count kept.
    _send_scans(h, RECENT_MESSAGES)
    mark = len(arrays)
    assert h.spin_until(h.executor, lambda: latest("sensor scan", OK, mark))
    _, scan = latest("sensor scan", OK, mark)
    assert scan.message == "ok" and int(_values(scan)["dropped"]) >= 1


def test_diagnostics_stamp_and_staleness_follow_sim_time(harness) -> None:
    h = harness([Parameter("use_sim_time", value=True)])
    _clock_to(h, 1000)
    h.configure_and_activate()
    arrays: list[DiagnosticArray] = []
    h.peer.create_subscription(DiagnosticArray, "/diagnostics", arrays.append, 10)
    _send_scans(h, 1)  # stamped 1000 s, injected at 1000 s
    # Let retried copies still in flight land now (at 1000 s), not after the clock moved.
    h.spin_until(h.executor, lambda: False, timeout=0.5)
    assert h.node.counters["scan"].dropped == 0
    h.node._on_burst()  # the statistics publish reports a burst
    _clock_to(h, 1002)
    h.node._publish_stats()  # what the stats timer runs
    assert h.spin_until(h.executor, lambda: bool(arrays))
    assert (arrays[-1].header.stamp.sec, arrays[-1].header.stamp.nanosec) == (1002, 0)
    scan = _find(arrays[-1], "sensor scan")
    assert scan.level == STALE
    assert scan.message == "no message injected for 2.00 s (input_timeout_s 0.5)"
    # input_timeout_s is live: 5 s makes a 2 s old reading fresh.
    assert h.node.set_parameters([Parameter("input_timeout_s", value=5.0)])[0].successful
    scan = _find(h.node._diagnostics(), "sensor scan")
    assert (scan.level, scan.message) == (OK, "ok")
    assert _values(scan)["input_timeout_s"] == "5"


def test_burst_rate_status_counts_bursts_and_follows_the_live_rate(harness) -> None:
    h = harness()
    h.configure_and_activate()  # bursting paused: no events since activation
    rate = _find(h.node._diagnostics(), "burst rate")
    assert (rate.level, rate.message) == (ERROR, "No events recorded.")
    assert _values(rate)["Actual frequency (Hz)"] == "0.000000"
    for _ in range(3):
        h.node._on_burst()
    assert h.node.set_parameters([Parameter("burst_rate_hz", value=50.0)])[0].successful
    values = _values(_find(h.node._diagnostics(), "burst rate"))
    assert values["Events since startup"] == "3"
    assert values["Target frequency (Hz)"] == "50.000000"
    assert values["Minimum acceptable frequency (Hz)"] == "47.500000"
    assert values["Maximum acceptable frequency (Hz)"] == "52.500000"


def test_every_status_is_named_after_the_node_and_a_brain_without_motors_has_nothing_to_guard(
        harness) -> None:
    h = harness([Parameter("motor_area", value="none")])
    h.configure_and_activate()
    array = h.node._diagnostics()
    names = [s.name for s in array.status]
    assert names[:5] == ["feagi_hailo: engine", "feagi_hailo: burst rate", "feagi_hailo: accelerator",
                         "feagi_hailo: watchdog", "feagi_hailo: sensor scan"]
    watchdog = _find(array, "watchdog")
    assert (watchdog.level, watchdog.message) == (OK, "no motor output to guard")
    h.node._on_burst()
    backends = [s for s in h.node._diagnostics().status if ": backend:" in s.name]
    assert backends and all(s.level == OK and s.message.endswith("ms/burst") for s in backends)


def test_burst_rate_window_restarts_at_activation(harness) -> None:
    h = harness()
    h.configure_and_activate()
    for _ in range(2):
        h.node._on_burst()
    assert _values(_find(h.node._diagnostics(), "burst rate"))["Events since startup"] == "2"
    assert h.node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert h.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    h.node._burst_loop.stop()  # stepped by the test, as in the harness
    # The inactive time is not averaged into the rate: the window starts again at activation.
    values = _values(_find(h.node._diagnostics(), "burst rate"))
    assert values["Events since startup"] == "0"


def test_each_integrator_has_a_status_like_the_backend(harness, tmp_path, monkeypatch) -> None:
    # With accelerator:=onnxruntime, ~/burst_stats listed integrator:onnxruntime beside
    # backend:cpu but /diagnostics had only backend:cpu.
    from test_node import onnx_everywhere  # test/ros is on sys.path

    h = onnx_everywhere(harness, tmp_path)
    for _ in range(3):
        h.node._on_burst()
    array = h.node._diagnostics()
    timed = {s.name.split(": ", 1)[1]: s for s in array.status
             if ": backend:" in s.name or ": integrator:" in s.name}
    stats_names = messages.burst_stats(0, 100.0, h.node._rate_summary(), 0.0,
                                       h.node.last_result.timing, 0).backend_names
    assert sorted(timed) == list(stats_names) == ["backend:cpu", "integrator:onnxruntime"]
    for status in timed.values():
        assert status.level == OK and status.message.endswith(" ms/burst"), status
        assert status.hardware_id == "feagi_hailo"
        assert float(_values(status)["mean_ms"]) > 0.0
    # A brain whose engine times no integrator (after an upload): its status goes.
    monkeypatch.setattr(h.node.runner._engine, "stats",
                        lambda: {"mean_s": {"backend:cpu": 0.001, "backend:cpu.deliver": 0.0005,
                                            "total": 0.002}})
    names = [s.name for s in h.node._diagnostics().status]
    assert "feagi_hailo: backend:cpu" in names
    assert not [n for n in names if "integrator:" in n or "." in n or n.endswith("total")]
