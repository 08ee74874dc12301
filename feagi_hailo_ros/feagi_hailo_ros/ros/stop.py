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
from collections.abc import Callable, Iterable

from rclpy.executors import Executor, ExternalShutdownException

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


def spin_until_stopped(executor: Executor, stop: Callable[[], None],
                       release: Callable[[], None],
                       signals: Iterable[int] = STOP_SIGNALS,
                       on_error: Callable[[BaseException], None] | None = None) -> int:
    """Spin ``executor`` on a thread until a signal in ``signals`` arrives or spinning ends.

    Order on the way out (every path: signal, context shut down elsewhere, an exception
    out of a callback): ``stop()`` → ``executor.shutdown()``, the spin thread joined and
    every running callback finished (:func:`wait_for_callbacks`) → ``release()``. Signal
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

    Returns:
        0 after a requested stop or when spinning ended normally; 1 after an exception
        that ``on_error`` handled.

    Raises:
        BaseException: The exception that ended spinning, when ``on_error`` is None.
    """
    requested = threading.Event()
    failure: list[BaseException] = []

    def _on_signal(signum: int, frame: object) -> None:
        requested.set()

    def _spin() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)
        finally:
            requested.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in signals}
    spinner = threading.Thread(target=_spin, name="executor", daemon=True)
    try:
        spinner.start()
        # A timed wait so the interpreter runs signal handlers promptly on every platform.
        while not requested.wait(0.5):
            pass
        try:
            stop()
        finally:
            executor.shutdown()
            spinner.join()
            wait_for_callbacks(executor)
            release()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failure:
        if on_error is None:
            raise failure[0]
        on_error(failure[0])
        return 1
    return 0
