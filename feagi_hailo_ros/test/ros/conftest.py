"""Fixtures of the node tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def harness(ros_context: object, spin_until):
    """``harness(overrides=None)``: a new ``test_node.Harness`` (the node under test and a peer
    node on one executor), closed after the test."""
    from test_node import Harness  # test/ros is on sys.path (pytest's rootdir mode)

    made: list[Harness] = []

    def make(overrides: list | None = None) -> Harness:  # rclpy Parameters
        made.append(Harness(ros_context, spin_until, overrides))
        return made[-1]

    yield make
    for h in made:
        h.close()
