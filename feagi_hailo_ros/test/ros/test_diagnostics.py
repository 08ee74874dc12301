"""/diagnostics like diagnostic_updater builds them (ros/diagnostics.py), on a fake clock.

The expected strings (status names, messages, keys, number formats) are diagnostic_updater's,
read from its Python package (ros/diagnostics, ros2 and ros2-jazzy branches); the fallback
must produce them, and when the real package is importable (an apt ROS install) the same
scenario runs on it and both outputs must be equal.
"""

from __future__ import annotations

import importlib
import types

import pytest

pytest.importorskip("diagnostic_msgs.msg", reason="diagnostic_msgs is not installed")

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402

from feagi_hailo_ros.ros import diagnostics as diag  # noqa: E402
from feagi_hailo_ros.ros.decoders import Watchdog  # noqa: E402

OK, WARN, ERROR, STALE = diag.OK, diag.WARN, diag.ERROR, diag.STALE


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _values(status) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def _stat(toolkit: diag.Toolkit = diag.FALLBACK):
    stat = toolkit.status_wrapper()
    stat.level, stat.message = ERROR, diag.NO_MESSAGE
    return stat


# -- status wrapper ------------------------------------------------------------------------------


def test_merge_summary_keeps_the_worst_level_and_joins_non_ok_messages() -> None:
    stat = diag.DiagnosticStatusWrapper()
    stat.summary(OK, "ok")
    stat.mergeSummary(WARN, "w")  # OK gives way to non-OK: its message goes
    assert (stat.level, stat.message) == (WARN, "w")
    stat.mergeSummary(STALE, "s")  # both non-OK: joined, the higher level stays
    assert (stat.level, stat.message) == (STALE, "w; s")
    stat.mergeSummary(OK, "fine")  # an OK never hides a problem
    assert (stat.level, stat.message) == (STALE, "w; s")
    stat.clearSummary()
    stat.mergeSummary(OK, "a")
    stat.mergeSummary(OK, "b")  # both OK: joined too
    assert (stat.level, stat.message) == (OK, "a; b")
    other = DiagnosticStatus(level=ERROR, message="e")
    stat.mergeSummary(other)
    assert (stat.level, stat.message) == (ERROR, "e")
    stat.summary(other)
    assert (stat.level, stat.message) == (ERROR, "e")


def test_wrapper_values_are_strings_only() -> None:
    stat = diag.DiagnosticStatusWrapper()
    stat.add("k", "1")
    assert _values(stat) == {"k": "1"}
    with pytest.raises(TypeError, match="must be a string"):
        stat.add("n", 1)
    with pytest.raises(TypeError):
        stat.summary(OK, "a", "b")  # (status) or (level, message) only
    assert isinstance(stat, DiagnosticStatus)  # publishable as it is, like the real wrapper


# -- frequency status ----------------------------------------------------------------------------

#: diagnostic_updater's FrequencyStatus keys, in its order.
FREQUENCY_KEYS = ["Events in window", "Events since startup", "Duration of window (s)",
                  "Actual frequency (Hz)", "Target frequency (Hz)",
                  "Minimum acceptable frequency (Hz)", "Maximum acceptable frequency (Hz)"]


def _ticks(task, clock: FakeClock, rate_hz: float, seconds: float) -> None:
    """``rate_hz`` events per second for ``seconds`` of fake time."""
    for _ in range(round(rate_hz * seconds)):
        clock.now += 1.0 / rate_hz
        task.tick()


def test_frequency_ok_at_target_warn_outside_tolerance_error_when_events_stop() -> None:
    clock = FakeClock()
    bound = {"min": 100.0, "max": 100.0}
    task = diag.FrequencyStatus(diag.FrequencyStatusParam(bound, 0.05, 3), "burst rate", clock)
    _ticks(task, clock, 100.0, 1.0)
    stat = task.run(_stat())
    assert (stat.level, stat.message) == (OK, "Desired frequency met")
    assert [kv.key for kv in stat.values] == FREQUENCY_KEYS
    values = _values(stat)
    assert values["Events in window"] == "100" and values["Events since startup"] == "100"
    assert values["Duration of window (s)"] == "1.000000"
    assert float(values["Actual frequency (Hz)"]) == pytest.approx(100.0)
    assert values["Target frequency (Hz)"] == "100.000000"
    assert values["Minimum acceptable frequency (Hz)"] == "95.000000"
    assert values["Maximum acceptable frequency (Hz)"] == "105.000000"

    # 94 Hz: below 95 (tolerance 5 %). The window is the last 3 updates, so a slow second
    # after fast ones has to dominate it: run the slow rate for 3 updates.
    for _ in range(3):
        _ticks(task, clock, 90.0, 1.0)
        stat = task.run(_stat())
    assert (stat.level, stat.message) == (WARN, "Frequency too low.")
    for _ in range(3):
        _ticks(task, clock, 110.0, 1.0)
        stat = task.run(_stat())
    assert (stat.level, stat.message) == (WARN, "Frequency too high.")
    # Events stop: the rate falls as the window slides, then ERROR with frequency 0.
    levels = []
    for _ in range(3):
        clock.now += 1.0
        stat = task.run(_stat())
        levels.append(stat.level)
    assert levels == [WARN, WARN, ERROR]
    assert stat.message == "No events recorded."
    assert _values(stat)["Actual frequency (Hz)"] == "0.000000"


def test_frequency_bounds_follow_a_live_change_and_clear_restarts_the_window() -> None:
    clock = FakeClock()
    bound = {"min": 100.0, "max": 100.0}
    task = diag.FrequencyStatus(diag.FrequencyStatusParam(bound, 0.05, 1), "burst rate", clock)
    _ticks(task, clock, 50.0, 1.0)
    assert task.run(_stat()).message == "Frequency too low."
    bound.update(min=50.0, max=50.0)  # what the node does on a burst_rate_hz change
    _ticks(task, clock, 50.0, 1.0)
    stat = task.run(_stat())
    assert stat.level == OK and _values(stat)["Target frequency (Hz)"] == "50.000000"
    clock.now += 100.0  # paused (inactive) for 100 s
    task.clear()
    _ticks(task, clock, 50.0, 1.0)
    stat = task.run(_stat())
    assert stat.level == OK and _values(stat)["Events since startup"] == "50"
    assert _values(stat)["Duration of window (s)"] == "1.000000"


def test_frequency_without_max_or_min_leaves_those_keys_out() -> None:
    clock = FakeClock()
    task = diag.FrequencyStatus(diag.FrequencyStatusParam({"min": 0.0}, window_size=1), "f", clock)
    _ticks(task, clock, 10.0, 1.0)
    stat = task.run(_stat())
    assert stat.level == OK
    assert [kv.key for kv in stat.values] == FREQUENCY_KEYS[:4]
    assert task.run(_stat()).message == "No events recorded."  # zero-length window: no crash


def test_frequency_window_must_hold_an_update() -> None:
    with pytest.raises(ValueError, match="window_size"):
        diag.FrequencyStatus(diag.FrequencyStatusParam({"min": 1.0}, window_size=0))


# -- updater -------------------------------------------------------------------------------------


def _updater(toolkit: diag.Toolkit = diag.FALLBACK) -> diag.LifecycleUpdater:
    return diag.LifecycleUpdater("feagi_hailo", "hw", lambda: Time(sec=42, nanosec=7), toolkit)


def test_updater_names_stamps_and_defaults_like_diagnostic_updater() -> None:
    updater = _updater()

    def ok(stat):
        stat.summary(OK, "fine")
        stat.add("k", "v")
        return stat

    def boom(stat):
        raise RuntimeError("sensor table gone")

    updater.add("engine", ok)
    updater.add("forgetful", lambda stat: stat)  # sets no summary
    updater.add("broken", boom)
    array = updater.update()
    assert (array.header.stamp.sec, array.header.stamp.nanosec) == (42, 7)
    assert [s.name for s in array.status] == ["feagi_hailo: engine", "feagi_hailo: forgetful",
                                              "feagi_hailo: broken"]
    assert all(s.hardware_id == "hw" and type(s) is DiagnosticStatus for s in array.status)
    engine, forgetful, broken = array.status
    assert (engine.level, engine.message, _values(engine)) == (OK, "fine", {"k": "v"})
    assert (forgetful.level, forgetful.message) == (ERROR, "No message was set")
    assert broken.level == ERROR and "RuntimeError: sensor table gone" in broken.message
    # A second update does not prefix names twice.
    assert updater.update().status[0].name == "feagi_hailo: engine"
    assert updater.remove_by_name("forgetful") and not updater.remove_by_name("forgetful")
    assert updater.task_names == ["engine", "broken"]


def test_updater_takes_tasks_with_a_name_and_run() -> None:
    clock = FakeClock()
    updater = _updater()
    updater.add(diag.FrequencyStatus(diag.FrequencyStatusParam({"min": 1.0, "max": 1.0}),
                                     "burst rate", clock))
    clock.now += 1.0
    status = updater.update().status[0]
    assert status.name == "feagi_hailo: burst rate"
    assert (status.level, status.message) == (ERROR, "No events recorded.")


# -- implementation selection --------------------------------------------------------------------


def test_load_toolkit_prefers_diagnostic_updater_when_it_imports() -> None:
    class Wrapper(DiagnosticStatus):
        pass

    made = []

    class Frequency:
        def __init__(self, params, name):
            made.append((params, name))
            self.name = name

    fake = types.SimpleNamespace(DiagnosticStatusWrapper=Wrapper, FrequencyStatus=Frequency,
                                 FrequencyStatusParam=diag.FrequencyStatusParam)
    asked = []

    def import_module(name):
        asked.append(name)
        return fake

    toolkit = diag.load_toolkit(import_module)
    assert asked == ["diagnostic_updater"]
    assert toolkit.source == "diagnostic_updater" and toolkit.status_wrapper is Wrapper
    params = toolkit.frequency_param({"min": 1.0})
    task = toolkit.frequency_status(params, "burst rate", clock=FakeClock())
    assert isinstance(task, Frequency) and made == [(params, "burst rate")]
    # Tasks receive the real package's wrapper class.
    updater = _updater(toolkit)
    seen = []
    updater.add("y", lambda stat: seen.append(type(stat)) or stat)
    updater.update()
    assert seen == [Wrapper]


def test_load_toolkit_falls_back_when_missing_or_foreign() -> None:
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    assert diag.load_toolkit(missing) is diag.FALLBACK
    foreign = types.SimpleNamespace()  # another package of the same name
    assert diag.load_toolkit(lambda name: foreign) is diag.FALLBACK
    task = diag.FALLBACK.frequency_status(diag.FrequencyStatusParam({"min": 1.0}), "f", FakeClock())
    assert isinstance(task, diag.FrequencyStatus)


def test_this_environment_uses_what_imports() -> None:
    try:
        importlib.import_module("diagnostic_updater")
    except ImportError:
        assert diag.load_toolkit() is diag.FALLBACK
    else:
        assert diag.load_toolkit().source == "diagnostic_updater"


class _RosTime:
    """Stands in for rclpy.time.Time in diagnostic_updater's FrequencyStatus."""

    def __init__(self, ns: int) -> None:
        self.nanoseconds = ns

    def __sub__(self, other: _RosTime) -> _RosTime:
        return _RosTime(self.nanoseconds - other.nanoseconds)


@pytest.fixture
def real_diagnostic_updater(monkeypatch):
    """diagnostic_updater (skipped when not importable: pip/venv installs), its clock faked."""
    module = pytest.importorskip("diagnostic_updater",
                                 reason="diagnostic_updater is not importable (not on PyPI)")
    clock = FakeClock()
    functions = importlib.import_module(module.FrequencyStatus.__module__)

    class FakeRosClock:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def now(self) -> _RosTime:
            return _RosTime(round(clock.now * 1e9))

    monkeypatch.setattr(functions, "Clock", FakeRosClock)
    return diag.load_toolkit(), clock


def _scenario(toolkit: diag.Toolkit, clock: FakeClock) -> list[tuple]:
    bound = {"min": 10.0, "max": 10.0}
    task = toolkit.frequency_status(toolkit.frequency_param(bound, 0.1, 2), "rate", clock=clock)
    updater = _updater(toolkit)
    updater.add(task)
    monitor = diag.SensorMonitor(clock)
    updater.add("sensor scan", lambda stat: monitor.run(stat, area="i__pro", timeout_s=0.5))
    out = []
    for rate, bad in ((10.0, False), (5.0, True), (20.0, False), (0.0, False), (0.0, False)):
        for _ in range(int(rate)):
            clock.now += 1.0 / rate
            task.tick()
            monitor.on_received()
            if bad:
                monitor.on_dropped("malformed")
            else:
                monitor.on_accepted()
        if not rate:
            clock.now += 1.0
        out.extend((s.name, s.level, s.message, [(kv.key, kv.value) for kv in s.values])
                   for s in updater.update().status)
    return out


def test_fallback_output_equals_diagnostic_updater(real_diagnostic_updater) -> None:
    toolkit, clock = real_diagnostic_updater
    assert toolkit.source == "diagnostic_updater"
    start = clock.now
    real = _scenario(toolkit, clock)
    clock.now = start
    assert _scenario(diag.FALLBACK, clock) == real


# -- sensors -------------------------------------------------------------------------------------


def _sensor(monitor: diag.SensorMonitor, area: str | None = "i__pro", timeout: float = 0.5):
    return monitor.run(_stat(), area=area, timeout_s=timeout, values={"topic": "scan"})


def test_sensor_is_stale_before_its_first_message() -> None:
    monitor = diag.SensorMonitor(FakeClock())
    stat = _sensor(monitor)
    assert (stat.level, stat.message) == (STALE, "never received")
    values = _values(stat)
    assert values["topic"] == "scan" and values["received"] == "0"
    assert values["last_injected_age_s"] == "never"
    monitor.on_received()
    monitor.on_dropped("angle_increment is 0")
    stat = _sensor(monitor)
    assert stat.level == STALE
    assert stat.message == ("no message injected yet; 1 of the last 1 messages not injected: "
                            "angle_increment is 0")


def test_sensor_recovers_to_ok_after_good_messages_following_a_bad_one() -> None:
    clock = FakeClock()
    monitor = diag.SensorMonitor(clock)
    for _ in range(3):
        clock.now += 0.1
        monitor.on_received()
        monitor.on_accepted()
    assert (_sensor(monitor).level, _sensor(monitor).message) == (OK, "ok")
    monitor.on_received()
    monitor.on_dropped("stale: stamp 3.000 s old > max_age_s 0.5")
    stat = _sensor(monitor)
    assert stat.level == WARN and "stale: stamp 3.000 s old" in stat.message
    for i in range(diag.RECENT_MESSAGES):
        clock.now += 0.1
        monitor.on_received()
        monitor.on_accepted()
        stat = _sensor(monitor)
        # The bad one leaves the window with the RECENT_MESSAGES-th good message after it.
        assert stat.level == (OK if i == diag.RECENT_MESSAGES - 1 else WARN), i
    assert stat.message == "ok"
    values = _values(stat)
    assert (values["received"], values["accepted"], values["dropped"]) == ("14", "13", "1")
    assert values["recent_not_injected"] == "0"
    assert values["last_error"] == "stale: stamp 3.000 s old > max_age_s 0.5"  # the history stays


def test_sensor_goes_stale_when_silent_longer_than_the_live_timeout() -> None:
    clock = FakeClock()
    monitor = diag.SensorMonitor(clock)
    monitor.on_received()
    monitor.on_accepted()
    clock.now += 0.6
    stat = _sensor(monitor, timeout=0.5)
    assert stat.level == STALE and stat.message == ("no message injected for 0.60 s "
                                                    "(input_timeout_s 0.5)")
    assert _sensor(monitor, timeout=1.0).level == OK  # input_timeout_s raised live
    assert _sensor(monitor, timeout=0.0).level == OK  # 0: no silence check
    clock.now -= 100.0  # a bag replayed from its start: seen "just now", never stale
    assert _sensor(monitor, timeout=0.5).level == OK


def test_sensor_not_provided_and_unbound() -> None:
    clock = FakeClock()
    monitor = diag.SensorMonitor(clock)
    monitor.on_received()
    monitor.on_accepted()
    monitor.on_received()
    monitor.on_not_provided("angular_velocity not provided (covariance[0] = -1, REP 145)")
    stat = _sensor(monitor)
    assert stat.level == WARN and "REP 145" in stat.message
    assert _values(stat)["not_provided"] == "1"
    stat = monitor.run(_stat(), area=None, timeout_s=0.5)  # no extra values
    assert (stat.level, stat.message) == (WARN, "the brain has no area for this sensor")
    assert "topic" not in _values(stat) and _values(stat)["accepted"] == "1"


# -- engine and watchdog -------------------------------------------------------------------------


def test_engine_summary_levels() -> None:
    assert diag.engine_summary(_stat(), achieved_hz=95.0, target_hz=100.0, burst_error="").level == OK
    warn = diag.engine_summary(_stat(), achieved_hz=94.9, target_hz=100.0, burst_error="")
    assert (warn.level, warn.message) == (WARN, "94.9/100.0 Hz")
    error = diag.engine_summary(_stat(), achieved_hz=100.0, target_hz=100.0,
                                burst_error="RuntimeError: device lost")
    assert (error.level, error.message) == (ERROR, "bursting stopped: RuntimeError: device lost")


def test_watchdog_summary_says_why_motion_is_stopped() -> None:
    clock = FakeClock()
    watchdog = Watchdog(clock, input_timeout=0.5, burst_timeout=0.25, required_inputs=["scan"])
    stat = diag.watchdog_summary(_stat(), reasons=watchdog.peek(), input_timeout_s=0.5,
                                 burst_timeout_s=0.25)
    assert (stat.level, stat.message) == (OK, "motion allowed")
    assert _values(stat) == {"stopping": "no", "input_timeout_s": "0.5", "burst_timeout_s": "0.25"}
    clock.now += 0.6
    stat = diag.watchdog_summary(_stat(), reasons=watchdog.peek(), input_timeout_s=0.5,
                                 burst_timeout_s=None)
    assert stat.level == ERROR
    assert stat.message == "zero motion: input 'scan' never received for 0.600 s; no burst for 0.600 s"
    assert _values(stat)["stopping"] == "yes" and _values(stat)["burst_timeout_s"] == "off"
    stat = diag.watchdog_summary(_stat(), reasons=None, input_timeout_s=None, burst_timeout_s=None)
    assert (stat.level, stat.message) == (OK, "no motor output to guard")


def test_watchdog_peek_leaves_the_trip_to_check() -> None:
    clock = FakeClock()
    watchdog = Watchdog(clock, input_timeout=0.5, burst_timeout=None, required_inputs=["scan"])
    clock.now += 1.0
    assert watchdog.peek() and watchdog.peek()  # diagnostics looked twice...
    assert watchdog.check().newly_tripped  # ...the node still logs the trip once
    assert not watchdog.check().newly_tripped
