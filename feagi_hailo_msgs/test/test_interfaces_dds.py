"""Every message and service of feagi_hailo_msgs survives a real DDS round trip between two nodes."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
msg = pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")
srv = pytest.importorskip("feagi_hailo_msgs.srv", reason="feagi_hailo_msgs is not built (make setup)")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy  # noqa: E402

RELIABLE_LATCHED = QoSProfile(
    depth=5,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
)


def _area_firing() -> object:
    return msg.AreaFiring(cortical_id="i__pro", name="proximity", neuron_indices=[0, 7, 4_000_000_000],
                          x=[0, 1, 2], y=[0, 0, 1], z=[9, 8, 0])


def _samples() -> dict[str, object]:
    stats = msg.BurstStats(burst=123456789012, target_rate_hz=1000.0, achieved_rate_hz=998.5,
                           period_error_p50_ms=0.01, period_error_p99_ms=0.4, burst_duration_ms=0.25,
                           backend_names=["cpu", "hailo"], backend_duration_ms=[0.1, 0.15],
                           overruns=3, neurons_fired=42)
    stats.header.frame_id = "feagi"
    stats.header.stamp.sec = 17
    events = msg.FiringEvents(burst=99, areas=[_area_firing(), msg.AreaFiring(cortical_id="o__mot")])
    events.header.frame_id = "feagi"
    return {
        "AreaFiring": _area_firing(),
        "FiringEvents": events,
        "BurstStats": stats,
        "AreaInput": msg.AreaInput(cortical_id="i__vis", x=[1, 2], y=[3, 4], z=[0, 0],
                                   potentials=[1.5, -2.25]),
    }


@pytest.mark.parametrize("name", sorted(_samples()))
def test_message_round_trip_over_dds(ros_context: object, spin_until, name: str) -> None:
    sent = _samples()[name]
    msg_type = type(sent)
    talker = rclpy.create_node("talker", context=ros_context)
    listener = rclpy.create_node("listener", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(talker)
    executor.add_node(listener)
    received: list[object] = []
    try:
        listener.create_subscription(msg_type, f"rt_{name}", received.append, RELIABLE_LATCHED)
        pub = talker.create_publisher(msg_type, f"rt_{name}", RELIABLE_LATCHED)
        assert spin_until(executor, lambda: pub.get_subscription_count() > 0), "no DDS discovery"
        pub.publish(sent)
        assert spin_until(executor, lambda: bool(received)), f"{name} never arrived"
        assert received[0] == sent
        assert received[0] is not sent
    finally:
        executor.shutdown()
        talker.destroy_node()
        listener.destroy_node()


def _upload_handler(request: object, response: object) -> object:
    # A real handler's shape: echo what came in so the test sees both directions.
    response.success = bool(request.genome_path)
    response.message = f"path={request.genome_path} json={len(request.genome_json)}"
    response.neuron_count = 1_000_000
    response.synapse_count = 10_000_000_000
    response.placement_summary = "i__pro cpu sensory\nv1 hailo large"
    return response


def _checkpoint_handler(request: object, response: object) -> object:
    response.success = request.path.endswith(".npz")
    response.message = request.path
    response.burst = 77
    return response


@pytest.mark.parametrize(
    ("srv_name", "handler", "request_fields", "expected"),
    [
        ("Upload", _upload_handler, {"genome_path": "/tmp/g.json", "genome_json": "{}"},
         {"success": True, "message": "path=/tmp/g.json json=2", "neuron_count": 1_000_000,
          "synapse_count": 10_000_000_000, "placement_summary": "i__pro cpu sensory\nv1 hailo large"}),
        ("Checkpoint", _checkpoint_handler, {"path": "/tmp/state.npz"},
         {"success": True, "message": "/tmp/state.npz", "burst": 77}),
    ],
)
def test_service_round_trip_over_dds(ros_context: object, spin_until, srv_name: str, handler: object,
                                     request_fields: dict, expected: dict) -> None:
    srv_type = getattr(srv, srv_name)
    server = rclpy.create_node("server", context=ros_context)
    client_node = rclpy.create_node("client", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(server)
    executor.add_node(client_node)
    try:
        server.create_service(srv_type, f"rt_{srv_name}", handler)
        client = client_node.create_client(srv_type, f"rt_{srv_name}")
        assert spin_until(executor, client.service_is_ready), "service never discovered"
        future = client.call_async(srv_type.Request(**request_fields))
        assert spin_until(executor, future.done), f"{srv_name} call never completed"
        response = future.result()
        for field, value in expected.items():
            assert getattr(response, field) == value, field
    finally:
        executor.shutdown()
        server.destroy_node()
        client_node.destroy_node()
