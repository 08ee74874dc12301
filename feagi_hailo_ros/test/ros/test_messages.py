"""Outgoing messages: FiringEvents fields, the PointCloud2 layout RViz reads, stats, diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from sensor_msgs.msg import PointField  # noqa: E402

from feagi_hailo_ros.engine.core.connectome import AreaSpec, Connectome  # noqa: E402
from feagi_hailo_ros.ros import messages  # noqa: E402
from feagi_hailo_ros.ros.burst_clock import RateSummary  # noqa: E402


def _area(index: int, cid: str, dims: tuple[int, int, int], first: int, pos=(0, 0, 0), k=1) -> AreaSpec:
    return AreaSpec(index=index, cortical_id=cid, name=cid.upper(), group="", dims=dims,
                    neurons_per_voxel=k, position=pos, first_neuron=first, fire_threshold=1.0,
                    threshold_increment=(0.0, 0.0, 0.0), threshold_limit=np.inf, leak=0.0,
                    refractory=0, consecutive_fire_limit=0, excitability=1.0, mp_acc=False,
                    mp_psp=False, psp=1, psp_uniform=True)


CONN = Connectome(areas=[_area(0, "a", (2, 3, 4), 0), _area(1, "b", (2, 1, 1), 24, pos=(10, 20, 30), k=2)],
                  projections=[])


def test_firing_events_lists_areas_that_fired_with_voxels() -> None:
    fired = {"a": np.array([0, 13]), "b": np.array([], np.int64)}
    msg = messages.firing_events(CONN, fired, burst=7)
    assert msg.burst == 7 and [a.cortical_id for a in msg.areas] == ["a"]
    area = msg.areas[0]
    assert list(area.neuron_indices) == [0, 13] and area.name == "A"
    # 13 = ((x*3 + y)*4 + z) with x=1, y=0, z=1
    assert (list(area.x), list(area.y), list(area.z)) == ([0, 1], [0, 0], [0, 1])
    bare = messages.firing_events(CONN, fired, burst=7, coordinates=False)
    assert len(bare.areas[0].x) == 0


def test_point_cloud_layout_and_values() -> None:
    fired = {"a": np.array([5]), "b": np.array([2, 3])}  # b: both neurons of voxel (1, 0, 0)
    pts = messages.firing_cloud_points(CONN, fired)
    cloud = messages.point_cloud(pts)
    assert cloud.width == 2 and cloud.height == 1 and cloud.point_step == 18
    assert [(f.name, f.offset, f.datatype) for f in cloud.fields] == [
        ("x", 0, PointField.FLOAT32), ("y", 4, PointField.FLOAT32), ("z", 8, PointField.FLOAT32),
        ("area", 12, PointField.UINT16), ("intensity", 14, PointField.FLOAT32)]
    back = np.frombuffer(bytes(cloud.data), dtype=messages.CLOUD_DTYPE)
    assert back[0]["area"] == 0 and (back[0]["x"], back[0]["y"], back[0]["z"]) == (0, 1, 1)
    assert back[1]["area"] == 1 and (back[1]["x"], back[1]["y"], back[1]["z"]) == (11, 20, 30)
    assert back[1]["intensity"] == 2.0
    assert messages.point_cloud(messages.firing_cloud_points(CONN, {})).width == 0


def test_point_cloud_scale_is_metres_per_voxel() -> None:
    fired = {"a": np.array([5]), "b": np.array([2, 3])}
    unit, scaled = (messages.firing_cloud_points(CONN, fired, scale=s) for s in (1.0, 0.05))
    assert (scaled[1]["x"], scaled[1]["y"], scaled[1]["z"]) == pytest.approx((0.55, 1.0, 1.5))
    for axis in "xyz":
        np.testing.assert_allclose(scaled[axis], unit[axis] * 0.05, rtol=1e-6)
    np.testing.assert_array_equal(scaled[["area", "intensity"]], unit[["area", "intensity"]])


def test_burst_stats_splits_backends() -> None:
    rate = RateSummary(99.0, 0.1, 0.9, 2, 100)
    stats = messages.burst_stats(100, 100.0, rate, 0.002,
                                 {"backend:cpu": 0.001, "backend:cpu.kernel": 0.0005,
                                  "integrator:onnx": 0.0004, "total": 0.002}, 17,
                                 cpu_s=0.0015, cpu_mean_s=0.00125)
    assert list(stats.backend_names) == ["backend:cpu", "integrator:onnx"]
    assert list(stats.backend_duration_ms) == pytest.approx([1.0, 0.4])
    assert stats.burst_duration_ms == pytest.approx(2.0)
    assert stats.overruns == 2 and stats.neurons_fired == 17 and stats.achieved_rate_hz == 99.0
    assert (stats.burst_cpu_ms, stats.burst_cpu_mean_ms) == pytest.approx((1.5, 1.25))


def test_firing_events_of_a_burst_split_equal_those_of_a_plain_dict() -> None:
    """The compiled columns (fired.FiredByArea) give the message the per-area NumPy path gives,
    on areas with several neurons per voxel, offsets and silent areas."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from feagi_hailo_ros.ros.fired import AreaBounds

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4),
                              st.integers(1, 3)), min_size=1, max_size=5), st.data())
    def check(shapes, data) -> None:
        areas, first = [], 0
        for k, (dx, dy, dz, npv) in enumerate(shapes):
            areas.append(_area(k, f"a{k}", (dx, dy, dz), first, k=npv))
            first += areas[-1].neuron_count
        conn = Connectome(areas=areas, projections=[])
        g = np.array(sorted(data.draw(st.sets(st.integers(0, first - 1)))), np.int64)
        split = AreaBounds(conn).split(g)
        plain = {cid: np.array(idx) for cid, idx in split.items()}
        for coordinates in (True, False):
            got = messages.firing_events(conn, split, 3, coordinates=coordinates)
            want = messages.firing_events(conn, plain, 3, coordinates=coordinates)
            assert got == want
            assert [a.cortical_id for a in got.areas] == [
                a.cortical_id for a in areas if split[a.cortical_id].size]

    check()
