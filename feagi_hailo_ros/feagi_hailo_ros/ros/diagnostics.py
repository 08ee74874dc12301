"""``/diagnostics`` built the way ROS's ``diagnostic_updater`` builds them (no rclpy node).

The node's statuses follow the conventions of the ``diagnostic_updater`` Python package
(ros/diagnostics, branches ros2 and ros2-jazzy, 4.x), so ``rqt_robot_monitor`` and
``diagnostic_aggregator`` read them like any driver's:

- one ``DiagnosticArray`` per update, ``header.stamp`` = the node clock's now
  (``Updater.publish``), so ``use_sim_time`` stamps simulated time;
- each task's status is named ``"<node name>: <task name>"`` and carries the updater's
  ``hardware_id``; a task starts from level ERROR with the message "No message was set", so a
  task that forgets its summary is visible (``Updater.update``);
- values are ``KeyValue`` strings (``DiagnosticStatusWrapper.add``);
- merging two summaries keeps the higher level; two non-OK messages are joined with ``"; "``
  and an OK message gives way to a non-OK one (``DiagnosticStatusWrapper.mergeSummary``);
- a frequency status counts events between updates over the last ``window_size`` updates:
  ERROR "No events recorded." when the window has none, WARN "Frequency too low." /
  "Frequency too high." outside ``[min * (1 - tolerance), max * (1 + tolerance)]``, else OK
  "Desired frequency met" (``FrequencyStatus``, ``FrequencyStatusParam``).

When the ``diagnostic_updater`` package is importable (ROS installed from apt) its
``DiagnosticStatusWrapper`` and ``FrequencyStatus`` are used (:func:`load_toolkit`); it is not on
PyPI, so a pip/venv install uses the fallback classes here, which give the same names, levels,
messages and keys. The publishing itself (:class:`LifecycleUpdater`) is this module's in both
cases: ``diagnostic_updater.Updater`` owns a plain publisher and timer that would publish
outside the node's lifecycle and declares a ``diagnostic_updater.period`` parameter beside
``stats_rate_hz``, so the node publishes the arrays on its lifecycle publisher instead.

Sensor statuses (:class:`SensorMonitor`) use the DiagnosticStatus level STALE for an input never
seen or silent longer than ``input_timeout_s``, WARN while recent messages were rejected, and
return to OK after good messages (a window of the last :data:`RECENT_MESSAGES` messages).
"""

from __future__ import annotations

import importlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

#: DiagnosticStatus levels (bytes in rclpy): OK 0, WARN 1, ERROR 2, STALE 3.
OK, WARN, ERROR, STALE = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR,
                          DiagnosticStatus.STALE)
#: The message of a task that set no summary (diagnostic_updater's ``Updater.update``).
NO_MESSAGE = "No message was set"
#: How many of a sensor's most recent messages decide WARN (any of them rejected) vs OK.
RECENT_MESSAGES = 10
#: Relative tolerance of the burst rate around ``burst_rate_hz`` (below 95 % warns).
RATE_TOLERANCE = 0.05
#: Updates a frequency status averages over (diagnostic_updater's default ``window_size``).
FREQUENCY_WINDOW = 5


# -- fallback of diagnostic_updater's status wrapper and frequency task --------------------------


class DiagnosticStatusWrapper(DiagnosticStatus):
    """A ``DiagnosticStatus`` with diagnostic_updater's helpers to fill it (fallback).

    Same methods and behaviour as ``diagnostic_updater.DiagnosticStatusWrapper`` (whose
    camelCase names it keeps, so tasks run on either).
    """

    def summary(self, *args: Any) -> None:
        """Set level and message: ``summary(level, message)`` or ``summary(status)`` (copies both).

        Raises:
            TypeError: any other number of arguments.
        """
        if len(args) == 1:
            self.level, self.message = args[0].level, args[0].message
        elif len(args) == 2:
            self.level, self.message = args[0], str(args[1])
        else:
            raise TypeError(f"summary takes (status) or (level, message), got {len(args)} arguments")

    def clearSummary(self) -> None:  # noqa: N802 - diagnostic_updater's name
        """Level OK, empty message."""
        self.summary(OK, "")

    def mergeSummary(self, *args: Any) -> None:  # noqa: N802 - diagnostic_updater's name
        """Merge ``(level, message)`` or ``(status)`` into this summary.

        The higher level wins; when both levels are OK or both are not, the messages are
        joined with ``"; "``; otherwise the message of the higher level is kept.

        Raises:
            TypeError: any other number of arguments.
        """
        if len(args) == 1:
            level, message = args[0].level, args[0].message
        elif len(args) == 2:
            level, message = args[0], str(args[1])
        else:
            raise TypeError(f"mergeSummary takes (status) or (level, message), got {len(args)}")
        if (level > OK) == (self.level > OK):
            self.message = f"{self.message}; {message}" if self.message else message
        elif level > self.level:
            self.message = message
        if level > self.level:
            self.level = level

    def add(self, key: str, value: str) -> None:
        """Append the value ``key`` = ``value``.

        Raises:
            TypeError: ``value`` is not a string. (KeyValue.value is a string; rclpy built with
                field checks asserts it, so refusing here keeps both implementations alike.)
        """
        if not isinstance(value, str):
            raise TypeError(f"diagnostic value {key!r} must be a string, got {type(value).__name__}")
        self.values.append(KeyValue(key=key, value=value))


class FrequencyStatusParam:
    """Bounds of a :class:`FrequencyStatus` (fallback of diagnostic_updater's class).

    Args:
        freq_bound: ``{"min": Hz, "max": Hz}`` ("max" optional). Read at every update, so
            changing its entries changes the bounds live (how the node follows
            ``burst_rate_hz``).
        tolerance: Relative slack: acceptable is ``[min * (1 - tolerance), max * (1 + tolerance)]``.
        window_size: How many updates the frequency is averaged over (>= 1).
    """

    def __init__(self, freq_bound: dict[str, float], tolerance: float = 0.1,
                 window_size: int = FREQUENCY_WINDOW) -> None:
        self.freq_bound = freq_bound
        self.tolerance = tolerance
        self.window_size = window_size


class FrequencyStatus:
    """Frequency of an event (:meth:`tick`) over the last updates (fallback of diagnostic_updater's).

    Args:
        params: The bounds and window.
        name: Task name (the status is ``"<node>: <name>"``).
        clock: Seconds of a monotonic clock (injected so tests need no wall time;
            diagnostic_updater's own class reads the ROS clock type, system time).

    Raises:
        ValueError: ``window_size`` < 1.
    """

    def __init__(self, params: FrequencyStatusParam, name: str = "FrequencyStatus",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if params.window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {params.window_size}")
        self.name = name
        self.params = params
        self._clock = clock
        self._lock = threading.Lock()
        self.clear()

    def getName(self) -> str:  # noqa: N802 - diagnostic_updater's name
        """The task name."""
        return self.name

    def clear(self) -> None:
        """Forget the history: the window starts now with no events."""
        with self._lock:
            self.count = 0
            now = self._clock()
            self._times = [now] * self.params.window_size
            self._counts = [0] * self.params.window_size
            self._index = 0

    def tick(self) -> None:
        """Count one event (thread-safe)."""
        with self._lock:
            self.count += 1

    def run(self, stat: Any) -> Any:
        """Fill ``stat`` with the frequency since ``window_size`` updates ago; returns it."""
        with self._lock:
            now, count = self._clock(), self.count
            events = count - self._counts[self._index]
            window = now - self._times[self._index]
            freq = events / window if window > 0 else 0.0
            self._counts[self._index], self._times[self._index] = count, now
            self._index = (self._index + 1) % self.params.window_size
        bound, tolerance = self.params.freq_bound, self.params.tolerance
        if events == 0:
            stat.summary(ERROR, "No events recorded.")
        elif freq < bound["min"] * (1 - tolerance):
            stat.summary(WARN, "Frequency too low.")
        elif "max" in bound and freq > bound["max"] * (1 + tolerance):
            stat.summary(WARN, "Frequency too high.")
        else:
            stat.summary(OK, "Desired frequency met")
        # diagnostic_updater's keys; numbers as C's %d / %f print them.
        values = [("Events in window", f"{events:d}"), ("Events since startup", f"{count:d}"),
                  ("Duration of window (s)", f"{window:f}"), ("Actual frequency (Hz)", f"{freq:f}")]
        if "max" in bound and bound["min"] == bound["max"]:
            values.append(("Target frequency (Hz)", f"{bound['min']:f}"))
        if bound["min"] > 0:
            values.append(("Minimum acceptable frequency (Hz)", f"{bound['min'] * (1 - tolerance):f}"))
        if "max" in bound:
            values.append(("Maximum acceptable frequency (Hz)", f"{bound['max'] * (1 + tolerance):f}"))
        for key, value in values:
            stat.add(key, value)
        return stat


# -- which implementation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Toolkit:
    """The status wrapper and frequency task the node's diagnostics are built with.

    Attributes:
        source: ``"diagnostic_updater"`` (the ROS package) or ``"fallback"`` (this module).
        status_wrapper: The ``DiagnosticStatusWrapper`` class.
        frequency_param: The ``FrequencyStatusParam`` class.
    """

    source: str
    status_wrapper: type
    frequency_param: type
    _module: ModuleType | None = None

    def frequency_status(self, params: Any, name: str,
                         clock: Callable[[], float] = time.monotonic) -> Any:
        """A ``FrequencyStatus`` task named ``name`` with ``params`` (a ``frequency_param``).

        ``clock`` (seconds, monotonic) is used by the fallback only: diagnostic_updater's class
        reads its own clock (ROS clock type, system time).
        """
        if self._module is not None:
            return self._module.FrequencyStatus(params, name)
        return FrequencyStatus(params, name, clock=clock)


#: The toolkit of this module's own classes.
FALLBACK = Toolkit("fallback", DiagnosticStatusWrapper, FrequencyStatusParam)


def load_toolkit(import_module: Callable[[str], ModuleType] = importlib.import_module) -> Toolkit:
    """diagnostic_updater's classes when the package imports, else :data:`FALLBACK`.

    Args:
        import_module: How to import a module by name (injected by tests).

    Returns:
        The toolkit; a package that imports but lacks one of the classes (another package of
        the same name) counts as absent.
    """
    try:
        module = import_module("diagnostic_updater")
        return Toolkit("diagnostic_updater", module.DiagnosticStatusWrapper,
                       module.FrequencyStatusParam, module)
    except (ImportError, AttributeError):
        return FALLBACK


# -- the updater ---------------------------------------------------------------------------------


class LifecycleUpdater:
    """Runs diagnostic tasks and collates one stamped ``DiagnosticArray`` (diagnostic_updater's
    ``Updater`` conventions; the caller publishes, on a lifecycle publisher).

    Args:
        node_name: Prefix of every status name (``"<node_name>: <task>"``).
        hardware_id: ``hardware_id`` of every status.
        stamp: Returns the ``builtin_interfaces/Time`` to stamp arrays with (the node's clock).
        toolkit: Where the status wrapper comes from (:func:`load_toolkit`).
    """

    def __init__(self, node_name: str, hardware_id: str, stamp: Callable[[], Any],
                 toolkit: Toolkit = FALLBACK) -> None:
        self.node_name = node_name
        self.hardware_id = hardware_id
        self.toolkit = toolkit
        self._stamp = stamp
        self._tasks: list[tuple[str, Callable[[Any], Any]]] = []
        self._lock = threading.Lock()

    def add(self, task_or_name: Any, fn: Callable[[Any], Any] | None = None) -> None:
        """Add a task: ``add(task)`` (anything with ``name`` and ``run(stat)``) or ``add(name, fn)``
        where ``fn(stat)`` fills and returns the status wrapper."""
        name, run = ((task_or_name, fn) if fn is not None
                     else (task_or_name.name, task_or_name.run))
        with self._lock:
            self._tasks.append((name, run))

    def remove_by_name(self, name: str) -> bool:
        """Remove the first task named ``name``; whether one was."""
        with self._lock:
            for i, (task_name, _) in enumerate(self._tasks):
                if task_name == name:
                    del self._tasks[i]
                    return True
        return False

    @property
    def task_names(self) -> list[str]:
        """Names of the tasks, in report order."""
        with self._lock:
            return [name for name, _ in self._tasks]

    def update(self) -> DiagnosticArray:
        """Run every task now; their statuses in one array stamped now.

        A task that raises is reported as ERROR with the exception instead of losing the
        other statuses.
        """
        with self._lock:
            tasks = list(self._tasks)
        statuses = []
        for name, run in tasks:
            stat = self.toolkit.status_wrapper()
            stat.level, stat.name, stat.message = ERROR, name, NO_MESSAGE
            stat.hardware_id = self.hardware_id
            try:
                stat = run(stat)
            except Exception as exc:  # noqa: BLE001 - one broken task must not hide the rest
                stat.summary(ERROR, f"diagnostic task failed: {type(exc).__name__}: {exc}")
            statuses.append(stat)
        return self._array(statuses)

    def _array(self, statuses: Iterable[Any]) -> DiagnosticArray:
        array = DiagnosticArray()
        array.header.stamp = self._stamp()
        array.status = [DiagnosticStatus(level=s.level, name=f"{self.node_name}: {s.name}",
                                         message=s.message, hardware_id=s.hardware_id,
                                         values=list(s.values))
                        for s in statuses]
        return array


def add_values(stat: Any, values: Mapping[str, object]) -> Any:
    """``stat.add(key, str(value))`` for each item; returns ``stat``."""
    for key, value in values.items():
        stat.add(key, str(value))
    return stat


# -- sensors -------------------------------------------------------------------------------------

#: Outcomes of a sensor message, kept in the window of recent messages.
ACCEPTED, DROPPED, NOT_PROVIDED = "accepted", "dropped", "not_provided"


class SensorMonitor:
    """Per-binding message accounting and its status (STALE / WARN / OK).

    Thread-safe: sensor callbacks (a reentrant group) record, the statistics timer reports.

    Args:
        clock: Seconds on the node's ROS clock (the watchdog's clock, so both agree on
            staleness and ``use_sim_time`` works).
        window: How many of the most recent messages decide WARN vs OK.

    Attributes:
        received, accepted, dropped: Message counts since configure.
        not_provided: Messages whose bound field the driver marks as not provided (REP 145:
            covariance[0] = -1); they inject nothing and are counted apart.
        last_error: Why the last message was not injected ("" if none was).
        last_warn: ``time.monotonic()`` of the last drop warning in the log (throttling).
    """

    def __init__(self, clock: Callable[[], float], window: int = RECENT_MESSAGES) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: deque[str] = deque(maxlen=window)
        self.received = self.accepted = self.dropped = self.not_provided = 0
        self.last_error = ""
        self.last_warn = 0.0
        self._last_valid: float | None = None

    def on_received(self) -> None:
        """A message arrived (before it is checked)."""
        with self._lock:
            self.received += 1

    def on_accepted(self) -> None:
        """The message was injected."""
        with self._lock:
            self.accepted += 1
            self._recent.append(ACCEPTED)
            self._last_valid = self._clock()

    def on_dropped(self, reason: str) -> None:
        """The message was rejected because of ``reason``."""
        with self._lock:
            self.dropped += 1
            self.last_error = reason
            self._recent.append(DROPPED)

    def on_not_provided(self, reason: str) -> None:
        """The message marks the bound field as not provided (``reason`` says which)."""
        with self._lock:
            self.not_provided += 1
            self.last_error = reason
            self._recent.append(NOT_PROVIDED)

    def run(self, stat: Any, *, area: str | None, timeout_s: float,
            values: Mapping[str, object] | None = None) -> Any:
        """Fill ``stat`` with this sensor's status; returns it.

        Levels, merged (the highest wins, messages joined):
        - WARN "the brain has no area for this sensor" when ``area`` is None (nothing is
          injected; the watchdog does not wait for it), and nothing else;
        - STALE when no message was ever injected, or the last one is more than
          ``timeout_s`` seconds old (0: never too old) -- what the watchdog stops motion on;
        - WARN when any of the recent messages was not injected, with the last reason;
        - else OK "ok".

        Args:
            stat: A status wrapper.
            area: The input area the sensor feeds now, None if the brain has none.
            timeout_s: ``input_timeout_s``.
            values: More key/values written first (topic, type, ...).
        """
        with self._lock:
            now = self._clock()
            last_valid, recent = self._last_valid, list(self._recent)
            counts = {"received": self.received, "accepted": self.accepted,
                      "dropped": self.dropped, "not_provided": self.not_provided}
            last_error = self.last_error
        # A clock that went backwards (a bag replayed from its start) counts as "just seen".
        age = None if last_valid is None else max(0.0, now - last_valid)
        unused = sum(outcome != ACCEPTED for outcome in recent)
        stat.summary(OK, "ok")
        if area is None:
            stat.summary(WARN, "the brain has no area for this sensor")
        else:
            if age is None:
                stat.mergeSummary(STALE, "never received" if counts["received"] == 0
                                  else "no message injected yet")
            elif timeout_s > 0 and age > timeout_s:
                stat.mergeSummary(STALE, f"no message injected for {age:.2f} s "
                                         f"(input_timeout_s {timeout_s:g})")
            if unused:
                stat.mergeSummary(WARN, f"{unused} of the last {len(recent)} messages not "
                                        f"injected: {last_error}")
        add_values(stat, values or {})
        add_values(stat, counts)
        add_values(stat, {"recent_not_injected": unused, "recent_window": len(recent),
                          "last_injected_age_s": "never" if age is None else f"{age:.3f}",
                          "input_timeout_s": f"{timeout_s:g}", "last_error": last_error or "none"})
        return stat


# -- engine and watchdog -------------------------------------------------------------------------


def engine_summary(stat: Any, *, achieved_hz: float, target_hz: float, burst_error: str) -> Any:
    """Level and message of the engine status; returns ``stat``.

    ERROR "bursting stopped: <reason>" after a burst raised; else OK when the achieved rate is
    at least ``target_hz * (1 - RATE_TOLERANCE)``, WARN below; the message is
    ``"<achieved>/<target> Hz"``.
    """
    if burst_error:
        stat.summary(ERROR, f"bursting stopped: {burst_error}")
    else:
        level = OK if achieved_hz >= target_hz * (1 - RATE_TOLERANCE) else WARN
        stat.summary(level, f"{achieved_hz:.1f}/{target_hz:.1f} Hz")
    return stat


def watchdog_summary(stat: Any, *, reasons: Iterable[str] | None, input_timeout_s: float | None,
                     burst_timeout_s: float | None) -> Any:
    """The watchdog's status; returns ``stat``.

    Args:
        stat: A status wrapper.
        reasons: Why the watchdog holds the motors at zero now (empty: it does not); None when
            the node has no motor output to guard.
        input_timeout_s, burst_timeout_s: The watchdog's timeouts (None: that check is off).

    ERROR "zero motion: <reasons>" while the watchdog stops the robot, OK otherwise.
    """
    reasons = None if reasons is None else list(reasons)
    if reasons is None:
        stat.summary(OK, "no motor output to guard")
    elif reasons:
        stat.summary(ERROR, "zero motion: " + "; ".join(reasons))
    else:
        stat.summary(OK, "motion allowed")
    return add_values(stat, {
        "stopping": "no" if not reasons else "yes",
        "input_timeout_s": "off" if input_timeout_s is None else f"{input_timeout_s:g}",
        "burst_timeout_s": "off" if burst_timeout_s is None else f"{burst_timeout_s:g}"})
