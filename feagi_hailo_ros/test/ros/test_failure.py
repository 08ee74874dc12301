"""Failure is visible, the watchdog is independent (issue 11, items 3 and 4).

The node runs in-process over real DDS (test_node's Harness). Time is driven by the test
(/clock under use_sim_time) or only waited for, never measured."""

from __future__ import annotations

import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402

from feagi_hailo_ros.ros.decoders import burst_timeout_for_rate  # noqa: E402


def _state(node: object) -> str:
    return node._state_machine.current_state[1]


def _is_zero(t: Twist) -> bool:
    return t.linear.x == 0.0 and t.angular.z == 0.0


def _peer_only(h: object) -> SingleThreadedExecutor:
    """Serve the peer alone, so the node's executor callbacks do not run."""
    h.executor.remove_node(h.peer)
    alone = SingleThreadedExecutor(context=h.node.context)
    alone.add_node(h.peer)
    return alone



def _single_threaded(h):
    """Spin ``h`` on a SingleThreadedExecutor. The error path destroys publishers and
    subscriptions in a callback; on a MultiThreadedExecutor the test thread may be building the
    next wait set meanwhile and rclpy raises InvalidHandle ("destruction was requested") in the
    test's own spin loop (seen once in a fresh-clone run). That rclpy race is a known open item of
    issue 11; these tests are about what the node does, so they spin where it cannot happen."""
    from rclpy.executors import SingleThreadedExecutor

    h.executor.shutdown()
    h.executor = SingleThreadedExecutor(context=h.node.context)
    h.executor.add_node(h.node)
    h.executor.add_node(h.peer)
    return h


def test_failed_burst_stops_reports_error_and_takes_the_error_path(harness, spin_until) -> None:
    h = _single_threaded(harness())
    h.configure_and_activate()
    diags: list[DiagnosticArray] = []
    h.peer.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 50)
    h.node.pub_cmd.publish(Twist())  # let the subscription match before the real commands
    assert spin_until(h.executor, lambda: len(h.cmd) > 0)
    moving = Twist()
    moving.linear.x = 0.2
    h.node.pub_cmd.publish(moving)
    assert spin_until(h.executor, lambda: h.cmd[-1].linear.x == 0.2)

    def boom() -> None:
        raise RuntimeError("device lost")

    h.node.runner.step = boom
    assert h.node.set_parameters([Parameter("burst_rate_hz", value=50.0)])[0].successful
    h.node._burst_loop.start()
    assert spin_until(h.executor, lambda: _state(h.node) == "unconfigured"), _state(h.node)
    assert h.node.runner is None  # on_error released everything
    assert spin_until(h.executor, lambda: _is_zero(h.cmd[-1]))

    def engine_error() -> list[DiagnosticStatus]:
        return [s for a in diags for s in a.status
                if s.name.endswith(": engine") and s.level == DiagnosticStatus.ERROR]

    assert spin_until(h.executor, lambda: engine_error())
    status = engine_error()[0]
    stamped = [a.header.stamp.sec for a in diags if any(s is status for s in a.status)]
    assert stamped and stamped[0] > 0  # the error path's array is stamped too
    assert "RuntimeError: device lost" in status.message
    assert {v.key: v.value for v in status.values}["achieved_rate_hz"] == "0.0"
    # The node can be configured again after the error path.
    assert h.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert h.node.burst_error == "" and _state(h.node) == "inactive"


def test_failed_burst_sends_zero_before_the_executor_acts(harness, spin_until) -> None:
    h = _single_threaded(harness())
    h.configure_and_activate()
    h.node.pub_cmd.publish(Twist())
    assert spin_until(h.executor, lambda: len(h.cmd) > 0)
    moving = Twist()
    moving.angular.z = 0.5
    h.node.pub_cmd.publish(moving)
    assert spin_until(h.executor, lambda: h.cmd[-1].angular.z == 0.5)
    alone = _peer_only(h)
    h.node._watchdog_loop.stop()  # only the burst's own error path may send the zero
    h.node._on_burst_error(RuntimeError("boom"))  # what the burst thread runs
    assert spin_until(alone, lambda: _is_zero(h.cmd[-1]))
    assert _state(h.node) == "active"  # the transition waits for the node's executor
    alone.remove_node(h.peer)
    alone.shutdown()
    h.executor.add_node(h.peer)
    assert spin_until(h.executor, lambda: _state(h.node) == "unconfigured")


def test_rate_reported_falls_to_zero_when_bursts_stop(harness) -> None:
    h = _single_threaded(harness())
    h.configure_and_activate()  # bursting paused by the harness at 1 Hz: timeout 5 s
    now = time.perf_counter()
    h.node.rate.record(now - 0.02, 0.001)
    h.node.rate.record(now - 0.01, 0.001)
    assert h.node._rate_summary().achieved_rate_hz > 0
    h.node.rate.restart()
    h.node.rate.record(now - 20.02, 0.001)
    h.node.rate.record(now - 20.01, 0.001)
    assert h.node._rate_summary().achieved_rate_hz == 0.0
    diag = h.node._diagnostics(h.node._rate_summary())
    engine = next(s for s in diag.status if s.name.endswith(": engine"))
    assert engine.level == DiagnosticStatus.WARN and engine.message.startswith("0.0/")
    # After a failed burst the rate in the window is history: ERROR, rate 0.
    h.node.rate.restart()
    h.node.rate.record(now - 0.02, 0.001)
    h.node.rate.record(now - 0.01, 0.001)
    h.node.burst_error = "RuntimeError: x"
    diag = h.node._diagnostics(h.node._rate_summary())
    engine = next(s for s in diag.status if s.name.endswith(": engine"))
    assert engine.level == DiagnosticStatus.ERROR and "RuntimeError: x" in engine.message
    assert {v.key: v.value for v in engine.values}["achieved_rate_hz"] == "0.0"


def test_watchdog_stops_a_stalled_node_without_its_executor(harness, spin_until) -> None:
    h = harness()
    h.configure_and_activate()  # bursting stopped by the harness: a stall
    assert h.node.set_parameters([Parameter("burst_rate_hz", value=100.0)])[0].successful
    h.node.pub_cmd.publish(Twist())
    assert spin_until(h.executor, lambda: len(h.cmd) > 0)
    alone = _peer_only(h)  # from here no callback of the node runs: services cannot serve it
    moving = Twist()
    moving.linear.x = 0.3
    h.node.watchdog.reset()
    with h.node._cmd_lock:
        h.node.pub_cmd.publish(moving)
    assert spin_until(alone, lambda: h.cmd[-1].linear.x == 0.3)
    # The burst timeout (0.25 s at 100 Hz) passes on the system clock: the watchdog's own
    # thread sends the zero.
    assert spin_until(alone, lambda: _is_zero(h.cmd[-1]))
    alone.remove_node(h.peer)
    alone.shutdown()
    h.executor.add_node(h.peer)


def _clock_to(h: object, seconds: int, spin_until) -> None:
    pub = getattr(h, "clock_pub", None) or h.peer.create_publisher(Clock, "/clock", 10)
    h.clock_pub = pub
    target = seconds * 10**9

    def arrived() -> bool:
        pub.publish(Clock(clock=Time(sec=seconds)))
        return h.node.get_clock().now().nanoseconds == target

    assert spin_until(h.executor, arrived), h.node.get_clock().now()


def test_watchdog_runs_on_sim_time_and_follows_the_live_rate(harness, spin_until) -> None:
    h = harness([Parameter("use_sim_time", value=True)])
    _clock_to(h, 1000, spin_until)
    h.configure_and_activate()
    for rate in (100.0, 1.0):  # a live change 100 -> 1 Hz
        assert h.node.set_parameters([Parameter("burst_rate_hz", value=rate)])[0].successful
    assert h.node.watchdog.burst_timeout == pytest.approx(burst_timeout_for_rate(1.0))
    h.node.watchdog.burst_completed()  # at sim 1000 s

    def no_burst(status: object) -> bool:
        return any(r.startswith("no burst") for r in status.reasons)

    _clock_to(h, 1002, spin_until)  # 2 s: two periods late at 1 Hz, not a stall
    assert not no_burst(h.node.watchdog.check())
    h.node.pub_cmd.publish(Twist())
    assert spin_until(h.executor, lambda: len(h.cmd) > 0)
    moving = Twist()
    moving.linear.x = 0.1
    h.node.pub_cmd.publish(moving)
    assert spin_until(h.executor, lambda: h.cmd[-1].linear.x == 0.1)
    _clock_to(h, 1006, spin_until)  # 6 s of sim time (a moment of wall time): a stall
    assert no_burst(h.node.watchdog.check())
    assert spin_until(h.executor, lambda: _is_zero(h.cmd[-1]))
