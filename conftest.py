"""Fixtures shared by every test of the workspace.

DDS isolation (DESIGN §3): traffic stays on this machine and every run gets its
own domain, so parallel runs do not cross. `make test` sets both already; the
defaults here keep a bare `pytest` just as safe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 90 + 10))

#: Seconds after which a test still running gets every thread's native stack printed (gdb),
#: before pytest-timeout ends the run (pytest.ini: 900 s). A hang inside C (a middleware
#: deadlock) shows only the call that entered C in Python's dump; gdb shows where it waits.
NATIVE_DUMP_AFTER_S = float(os.environ.get("FEAGI_TEST_NATIVE_DUMP_S", "600"))


def _dump_native_stacks(test: str) -> None:
    """Print every thread's native stack of this process to the real stderr (not captured)."""
    gdb = shutil.which("gdb")
    head = f"\n+++ {test} still running after {NATIVE_DUMP_AFTER_S:g} s: native stacks +++\n"
    if gdb is None:
        os.write(2, (head + "(gdb is not installed)\n").encode())
        return
    try:
        done = subprocess.run([gdb, "-p", str(os.getpid()), "-batch", "-nx",
                               "-ex", "thread apply all bt"],
                              capture_output=True, text=True, timeout=120)
        text = done.stdout + done.stderr
    except (OSError, subprocess.SubprocessError) as exc:
        text = f"gdb failed: {exc}\n"
    os.write(2, (head + text).encode(errors="replace"))


@pytest.fixture(autouse=True)
def _native_stacks_of_a_hung_test(request) -> Iterator[None]:
    timer = threading.Timer(NATIVE_DUMP_AFTER_S, _dump_native_stacks, (request.node.nodeid,))
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


@pytest.fixture
def ros_context() -> Iterator[object]:
    """A fresh, initialized rclpy Context, shut down after the test."""
    rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)


def _spin_until(executor: object, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    # The executables' spinning survives rclpy's wait-set race (stop.spin, ros2/rclpy#1284);
    # the tests spin the same way.
    from feagi_hailo_ros.ros.stop import RaceGuard, spin_once

    guard = RaceGuard()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        spin_once(executor, 0.05, guard)
    return True


@pytest.fixture
def spin_until() -> Callable[..., bool]:
    """``spin_until(executor, predicate, timeout=10.0)``: spin until the predicate holds; return it."""
    return _spin_until
