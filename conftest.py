"""Fixtures shared by every test of the workspace.

DDS isolation (DESIGN §3): traffic stays on this machine and every run gets its
own domain, so parallel runs do not cross. `make test` sets both already; the
defaults here keep a bare `pytest` just as safe.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 90 + 10))


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
