"""The feagi_hailo node walks its lifecycle, driven over DDS through the standard lifecycle services."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")

from lifecycle_msgs.msg import State, Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetAvailableTransitions, GetState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402

from feagi_hailo_ros.ros.node import HybridNode  # noqa: E402


class LifecycleDriver:
    """Calls <node>/change_state and <node>/get_state like `ros2 lifecycle set` does."""

    def __init__(self, context: object, executor: object, target: str, spin_until) -> None:
        self.node = rclpy.create_node("lifecycle_driver", context=context)
        executor.add_node(self.node)
        self.executor = executor
        self.spin_until = spin_until
        self.change = self.node.create_client(ChangeState, f"{target}/change_state")
        self.get = self.node.create_client(GetState, f"{target}/get_state")
        self.available = self.node.create_client(
            GetAvailableTransitions, f"{target}/get_available_transitions")
        assert spin_until(executor, lambda: all(
            c.service_is_ready() for c in (self.change, self.get, self.available)))

    def _call(self, client: object, request: object) -> object:
        future = client.call_async(request)
        assert self.spin_until(self.executor, future.done), "lifecycle service call timed out"
        return future.result()

    def transition(self, transition_id: int) -> bool:
        return self._call(self.change, ChangeState.Request(
            transition=Transition(id=transition_id))).success

    def state(self) -> int:
        return self._call(self.get, GetState.Request()).current_state.id

    def available_transitions(self) -> set[int]:
        response = self._call(self.available, GetAvailableTransitions.Request())
        return {t.transition.id for t in response.available_transitions}


@pytest.fixture
def node_and_driver(ros_context: object, spin_until):
    """The node under test and a driver calling its lifecycle services, on one executor."""
    executor = SingleThreadedExecutor(context=ros_context)
    node = HybridNode(context=ros_context)
    executor.add_node(node)
    driver = LifecycleDriver(ros_context, executor, "/feagi_hailo", spin_until)
    yield executor, node, driver
    executor.shutdown()
    driver.node.destroy_node()
    node.destroy_node()


def test_full_lifecycle_over_dds(node_and_driver, spin_until) -> None:
    executor, node, driver = node_and_driver
    assert driver.state() == State.PRIMARY_STATE_UNCONFIGURED
    steps = [
        (Transition.TRANSITION_CONFIGURE, State.PRIMARY_STATE_INACTIVE),
        (Transition.TRANSITION_ACTIVATE, State.PRIMARY_STATE_ACTIVE),
        (Transition.TRANSITION_DEACTIVATE, State.PRIMARY_STATE_INACTIVE),
        (Transition.TRANSITION_CLEANUP, State.PRIMARY_STATE_UNCONFIGURED),
        (Transition.TRANSITION_UNCONFIGURED_SHUTDOWN, State.PRIMARY_STATE_FINALIZED),
    ]
    for transition_id, expected_state in steps:
        assert driver.transition(transition_id), f"transition {transition_id} refused"
        assert driver.state() == expected_state
        if expected_state == State.PRIMARY_STATE_ACTIVE:
            # Bursting happens only while active.
            assert spin_until(executor, lambda: node.runner.burst >= 3, timeout=20.0)
        if expected_state == State.PRIMARY_STATE_INACTIVE and node.runner.burst:
            paused_at = node.runner.burst
            spin_until(executor, lambda: False, timeout=0.2)
            assert node.runner.burst == paused_at, "node kept bursting while inactive"
        if expected_state == State.PRIMARY_STATE_UNCONFIGURED:
            assert node.runner is None, "cleanup kept the brain"


def test_only_valid_transitions_are_offered(node_and_driver) -> None:
    _, node, driver = node_and_driver
    # Bursting cannot start without a configured brain: activate is not offered.
    # (rclpy raises inside the service for an unregistered transition rather than
    # answering success=False, so the offer list is what clients should consult.)
    offered = driver.available_transitions()
    assert Transition.TRANSITION_CONFIGURE in offered
    assert Transition.TRANSITION_ACTIVATE not in offered
    assert driver.transition(Transition.TRANSITION_CONFIGURE)
    offered = driver.available_transitions()
    assert Transition.TRANSITION_ACTIVATE in offered
    assert Transition.TRANSITION_CONFIGURE not in offered
    assert node.runner.burst == 0


def test_get_state_answers_while_a_slow_configure_runs(ros_context, spin_until,
                                                       monkeypatch) -> None:
    # A configure that takes long (a first Numba compile, a big genome) must not make the
    # node look dead: `ros2 lifecycle get` answers "configuring" meanwhile. The brain builder
    # is held until the answer came (an event, not a sleep), then released.
    import threading

    from rclpy.executors import MultiThreadedExecutor

    from feagi_hailo_ros.ros import node as node_module

    entered, release = threading.Event(), threading.Event()
    real_build = node_module.build_brain

    def slow_build(*args, **kwargs):
        entered.set()
        release.wait(30.0)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(node_module, "build_brain", slow_build)
    executor = MultiThreadedExecutor(num_threads=3, context=ros_context)  # as hybrid_node spins
    node = HybridNode(context=ros_context)
    executor.add_node(node)
    driver = LifecycleDriver(ros_context, executor, "/feagi_hailo", spin_until)
    try:
        configure = driver.change.call_async(ChangeState.Request(
            transition=Transition(id=Transition.TRANSITION_CONFIGURE)))
        assert spin_until(executor, entered.is_set), "configure never started"
        query = driver.get.call_async(GetState.Request())
        assert spin_until(executor, query.done, timeout=10.0), \
            "get_state did not answer while configure ran"
        assert query.result().current_state.id == State.TRANSITION_STATE_CONFIGURING
        assert not configure.done()
        release.set()
        assert spin_until(executor, configure.done, timeout=60.0)
        assert configure.result().success
        assert driver.state() == State.PRIMARY_STATE_INACTIVE
    finally:
        release.set()
        executor.shutdown()
        driver.node.destroy_node()
        node.destroy_node()


def test_query_services_missing_is_a_clear_error(ros_context) -> None:
    from rclpy.lifecycle import LifecycleNode

    from feagi_hailo_ros.ros.lifecycle_queries import serve_queries_apart

    bare = LifecycleNode("no_lifecycle_services", context=ros_context,
                         enable_communication_interface=False)
    try:
        with pytest.raises(RuntimeError, match="_service_get_state"):
            serve_queries_apart(bare)
    finally:
        bare.destroy_node()


def test_an_unexpected_exception_while_configuring_is_a_clean_failure(harness, monkeypatch):
    # Any exception while building (not only the expected kinds) leaves the node unconfigured
    # with what was made released, not on the lifecycle error path.
    from feagi_hailo_ros.ros import node as node_module

    def broken(*args, **kwargs):
        raise OverflowError("a value too large for a C integer")

    monkeypatch.setattr(node_module, "BrainRunner", broken)
    h = harness()
    assert h.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert h.node._state_machine.current_state[1] == "unconfigured"
    assert h.node.runner is None
