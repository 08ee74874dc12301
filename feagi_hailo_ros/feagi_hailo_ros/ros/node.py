"""The `feagi_hailo` lifecycle node (executable `hybrid_node`).

Resources are made in ``on_configure`` and released in ``on_cleanup`` and
``on_shutdown`` (the ros2/demos ``lifecycle_py`` pattern); bursting runs only
while active. This first version owns the burst clock and the lifecycle
contract of DESIGN §7; the engine, encoders, decoders and services attach to
the same callbacks.

Each callback returns ``TransitionCallbackReturn.SUCCESS`` when the transition
may complete, ``FAILURE`` to stay in the previous primary state, or ``ERROR``
to go to ErrorProcessing.
"""

from __future__ import annotations

import rclpy
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.timer import Timer

NODE_NAME = "feagi_hailo"


class HybridNode(LifecycleNode):
    """Lifecycle node that bursts the brain at ``burst_rate_hz`` while active."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.declare_parameter(
            "burst_rate_hz",
            100.0,
            ParameterDescriptor(
                description="Bursts per second while active.",
                floating_point_range=[FloatingPointRange(from_value=1.0, to_value=2000.0)],
            ),
        )
        self._timer: Timer | None = None
        self.bursts = 0

    def _burst(self) -> None:
        self.bursts += 1

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Create the burst timer, paused. SUCCESS → inactive."""
        period = 1.0 / float(self.get_parameter("burst_rate_hz").value)
        self._timer = self.create_timer(period, self._burst)
        self._timer.cancel()
        self.bursts = 0
        self.get_logger().info(f"configured: burst period {period * 1e3:.2f} ms")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start bursting. SUCCESS → active."""
        assert self._timer is not None
        self._timer.reset()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Pause bursting, keep all state. SUCCESS → inactive."""
        if self._timer is not None:
            self._timer.cancel()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release what on_configure made. SUCCESS → unconfigured."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything from any primary state. SUCCESS → finalized."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything after a failed transition. SUCCESS → unconfigured."""
        self._release()
        self.get_logger().error(f"error processing from state {state.label}")
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self.destroy_timer(self._timer)
            self._timer = None


def main(args: list[str] | None = None) -> None:
    """Entry point of the `hybrid_node` executable."""
    rclpy.init(args=args)
    node = HybridNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
