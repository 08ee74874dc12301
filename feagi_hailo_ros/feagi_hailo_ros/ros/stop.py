"""Running an executable's executor until SIGINT/SIGTERM, then stopping in a safe order.

rclpy's own signal handler (installed by ``rclpy.init()`` unless told otherwise) shuts the
context down the moment Ctrl-C arrives: after that nothing can be published, so a node that
was driving cannot send its last, zero, ``cmd_vel`` and a thread still publishing raises
``RCLError: publisher's context is invalid`` (rclcpp#997 is the same story in C++). The
executables here therefore call ``rclpy.init(signal_handler_options=SignalHandlerOptions.NO)``
and let :func:`spin_until_stopped` own SIGINT and SIGTERM: the signal only *requests* a stop;
the caller's ``stop`` (zero commands while the context is valid) runs first, then the executor
is shut down and its thread joined, then the caller's ``release``; the context goes last.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.exceptions import InvalidHandle
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.logging import get_logger

#: Signals that request a stop (terminal Ctrl-C, ``kill``, launch's SIGTERM escalation).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def wait_for_callbacks(executor: Executor, timeout_s: float = 5.0) -> None:
    """Wait until no callback of ``executor`` is running (at most ``timeout_s`` seconds).

    rclpy 7.1's ``Executor.shutdown()`` marks the executor shut down *before* it tests that mark
    to decide whether to wait for outstanding work, so it never waits; a MultiThreadedExecutor's
    pool can still be running a callback (a timer publishing, a service) when spinning returns.
    Releasing the node then pulls its handles from under that callback and rclpy raises
    ``InvalidHandle`` ("destruction was requested"). This waits on the executor's work tracker and
    its thread pool (rclpy's private ``_work_tracker`` and ``_executor``; absent ones are skipped).
    """
    tracker = getattr(executor, "_work_tracker", None)
    if tracker is not None:
        tracker.wait(timeout_s)
    pool = getattr(executor, "_executor", None)
    if pool is not None and hasattr(pool, "shutdown"):
        pool.shutdown(wait=True)


def shut_down(executor: Executor, timeout_s: float = 5.0) -> None:
    """Shut ``executor`` down once none of its callbacks runs or waits to run.

    Order: :func:`wait_for_callbacks` (a MultiThreadedExecutor's pool runs what it was given,
    then stops), then ``executor.shutdown()``. The other way round, a callback still queued on
    the pool ran after ``shutdown()`` had destroyed the executor's guard condition, which
    rclpy's handler triggers after taking the callback's data: ``InvalidHandle`` inside the
    callback's task, printed at exit as "The following exception was never retrieved: cannot
    use Destroyable because destruction was requested" (seen after Ctrl-C with sensor
    traffic, 2 runs in 5). No thread may be spinning the executor (:meth:`Spinner.stop`).
    """
    wait_for_callbacks(executor, timeout_s)
    executor.shutdown()


def is_shut_down(executor: Executor) -> bool:
    """Whether ``executor.shutdown()`` was called (by anyone).

    rclpy 7.1 has no public query; its ``spin_once`` on a shut-down executor swallows
    ``ShutdownException`` and returns at once, so a loop around it must ask. This reads
    rclpy's private ``_is_shutdown`` flag; without it, "no node left" (``shutdown()`` drops
    every node) is the answer.
    """
    flag = getattr(executor, "_is_shutdown", None)
    if isinstance(flag, bool):
        return flag
    return not executor.get_nodes()


#: The rclpy function in which the wait-set race below strikes.
_WAIT_SET_BUILDER = "_wait_for_ready_callbacks"
#: More races than this within :data:`RACE_WINDOW_S` seconds end spinning: a waitable that
#: stays invalid would otherwise make every spin fail the same way, forever.
MAX_RACES = 20
RACE_WINDOW_S = 1.0


def is_wait_set_race(exc: BaseException) -> bool:
    """Whether ``exc`` is rclpy's race between building a wait set and destroying a waitable.

    rclpy's executor enters every waitable of its nodes (so none is freed while it builds the
    wait set), then enters each again to add it to the wait set; a waitable whose destruction
    another thread requested in between (a publisher's QoS event handler, destroyed with its
    publisher by a lifecycle transition on the MultiThreadedExecutor's pool) refuses the second
    entry with ``InvalidHandle`` ("destruction was requested"), and spinning ends with it
    (ros2/rclpy#1284, fixed upstream by ros2/rclpy#1590, which drops such waitables; not in the
    rclpy 7.1 wheels this package pins). Nothing was taken or run: the next wait set, built
    without the destroyed waitable, is correct. An ``InvalidHandle`` raised anywhere else (a
    callback using a destroyed publisher) is not this race.
    """
    if not isinstance(exc, InvalidHandle):
        return False
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == _WAIT_SET_BUILDER:
            return True
        tb = tb.tb_next
    return False


class RaceGuard:
    """Counts wait-set races (:func:`is_wait_set_race`); too many too fast is a failure."""

    def __init__(self, on_race: Callable[[BaseException], None] | None = None) -> None:
        self._times: deque[float] = deque(maxlen=MAX_RACES)
        self._on_race = on_race
        #: Races survived so far.
        self.count = 0

    def survive(self, exc: BaseException) -> bool:
        """True when ``exc`` is a wait-set race to spin past (reported to ``on_race``); False
        when it is anything else, or the :data:`MAX_RACES`-th race within
        :data:`RACE_WINDOW_S` seconds."""
        if not is_wait_set_race(exc):
            return False
        now = time.monotonic()
        self._times.append(now)
        if len(self._times) == MAX_RACES and now - self._times[0] < RACE_WINDOW_S:
            return False
        self.count += 1
        if self._on_race is not None:
            self._on_race(exc)
        return True


def _log_race(exc: BaseException) -> None:
    get_logger("feagi_hailo.executor").warning(
        f"spinning again after rclpy's wait-set race (ros2/rclpy#1284): {exc}")


def spin_once(executor: Executor, timeout_sec: float | None = None,
              guard: RaceGuard | None = None) -> bool:
    """``executor.spin_once(timeout_sec)`` that survives rclpy's wait-set race
    (:func:`is_wait_set_race`). Returns False when the race struck (nothing ran).

    Raises:
        BaseException: Whatever else ``spin_once`` raised, or the race beyond ``guard``'s limit.
    """
    guard = guard if guard is not None else RaceGuard()
    try:
        executor.spin_once(timeout_sec=timeout_sec)
    except InvalidHandle as exc:
        if not guard.survive(exc):
            raise
        return False
    return True


class Spinner:
    """Spins an executor on a daemon thread until :meth:`stop`; the executor is never shut
    down while this thread spins it.

    rclpy 7.1's ``Executor.shutdown()`` destroys the executor's guard condition at once, even
    while another thread is building a wait set with it: that thread then fails with
    ``AttributeError: 'NoneType' object has no attribute 'handle'`` (seen ending
    ``hybrid_node`` on SIGINT, exit 1). So spinning ends first (a guard condition of this
    spinner wakes the wait; the loop sees the stop), the thread is joined, and only then may
    the caller shut the executor down. Spinning also ends when the context is shut down or a
    callback raises or the executor is shut down by someone else (:func:`is_shut_down`: without
    this check the loop spun a whole core, spin_once returning at once); it survives rclpy's
    wait-set race (:func:`is_wait_set_race`).
    """

    def __init__(self, executor: Executor,
                 on_race: Callable[[BaseException], None] | None = _log_race,
                 ended: threading.Event | None = None) -> None:
        """Args:
            executor: An executor with at least one node (the wake-up guard condition is
                made on the first one, in its own reentrant callback group so a long
                callback holding the node's default group cannot delay a stop).
            on_race: Told of each wait-set race spun past.
            ended: The event to set when spinning ends (default: a new one).

        Raises:
            ValueError: The executor has no node.
        """
        nodes = executor.get_nodes()
        if not nodes:
            raise ValueError("the executor has no node to spin")
        self._executor = executor
        self._node = nodes[0]
        self._wake = self._node.create_guard_condition(lambda: None, ReentrantCallbackGroup())
        self._guard = RaceGuard(on_race)
        self._stopping = threading.Event()
        #: Set when spinning ended, for whatever reason.
        self.ended = ended if ended is not None else threading.Event()
        #: The exception that ended spinning (None: stopped, or the context was shut down).
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="executor", daemon=True)

    def start(self) -> None:
        """Start spinning on the ``executor`` thread."""
        self._thread.start()

    def _run(self) -> None:
        try:
            while (not self._stopping.is_set() and self._executor.context.ok()
                   and not is_shut_down(self._executor)):
                spin_once(self._executor, None, self._guard)
        except ExternalShutdownException:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to whoever stops the spinner
            self.failure = exc
        finally:
            self.ended.set()

    def stop(self) -> None:
        """End spinning and join the thread (a MultiThreadedExecutor's pool may still be
        running a callback: :func:`shut_down` waits for it). Safe to call more than once."""
        self._stopping.set()
        if self._wake is not None:
            try:
                self._wake.trigger()
            except (InvalidHandle, _rclpy.RCLError):  # the context is gone: the wait ended
                pass
        if self._thread.ident is not None:  # started
            self._thread.join()
        if self._wake is not None:
            try:
                self._node.destroy_guard_condition(self._wake)
            except (InvalidHandle, _rclpy.RCLError):
                pass
            self._wake = None


def spin_until_stopped(executor: Executor, stop: Callable[[], None],
                       release: Callable[[], None],
                       signals: Iterable[int] = STOP_SIGNALS,
                       on_error: Callable[[BaseException], None] | None = None,
                       done: Callable[[], bool] | None = None) -> int:
    """Spin ``executor`` on a thread until a signal in ``signals`` arrives, ``done()`` is true
    or spinning ends.

    Order on the way out (every path: signal, context shut down elsewhere, an exception
    out of a callback; rclpy's wait-set race is not one): ``stop()`` → spinning ended and its
    thread joined (:class:`Spinner`) → every callback given to the executor finished, then
    ``executor.shutdown()`` (:func:`shut_down`) → ``release()``. Signal
    handlers are installed for the duration and the previous ones put
    back; a second signal during the stop is absorbed (no ``KeyboardInterrupt`` traceback).
    Must be called from the main thread (Python delivers signals there).

    Args:
        executor: An executor with the nodes added; spun on a daemon thread.
        stop: Called first, on this thread, while the context is valid (publish zeros here).
        release: Called last, after the executor stopped (destroy nodes here).
        signals: Signal numbers that request the stop.
        on_error: Called with an exception that ended spinning (default: re-raised after
            the stop and release, so it is reported and the process exits non-zero).
        done: Asked on this thread every 0.5 s; True ends the run the same way as a signal
            (a lifecycle node that reached ``finalized``).

    Returns:
        0 after a requested stop or when spinning ended normally; 1 after an exception
        that ``on_error`` handled.

    Raises:
        BaseException: The exception that ended spinning, when ``on_error`` is None.
    """
    requested = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        requested.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in signals}
    spinner = Spinner(executor, ended=requested)
    try:
        spinner.start()
        # A timed wait so the interpreter runs signal handlers promptly on every platform.
        while not requested.wait(0.5):
            if done is not None and done():
                break
        try:
            stop()
        finally:
            spinner.stop()
            shut_down(executor)
            release()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if spinner.failure is not None:
        if on_error is None:
            raise spinner.failure
        on_error(spinner.failure)
        return 1
    return 0
