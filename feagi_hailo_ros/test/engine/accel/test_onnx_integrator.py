"""ONNX Runtime integrator: identical spike rasters to the CPU engine, and what it refuses."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import area, assert_same_run, brain, connectomes, proj

from feagi_hailo_ros.engine.accel.manifest import ManifestError
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator
from feagi_hailo_ros.engine.accel.onnx_export import export
from feagi_hailo_ros.engine.accel.placement import (
    ACCELERATOR,
    PlacementRules,
    accelerated_engine,
    accelerator_projections,
    place,
)
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.drive import PoissonDrive
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.genome.brains import load_brain

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
from feagi_hailo_ros.engine.accel.onnx_integrator import (  # noqa: E402
    InexactCountsError,
    OnnxRuntimeIntegrator,
    ProviderUnavailableError,
    _to_counts,
)

ALL_ON = PlacementRules(min_synapses=0, min_dst_neurons=0, keep_sensory_motor_on_cpu=False)


def run_side_by_side(connectome: Connectome, placements, bursts: int, rate: float,
                     seed: int = 1) -> tuple[int, dict[int, int], OnnxRuntimeIntegrator]:
    """Pure CPU vs CPU + ONNX Runtime, same Poisson input; assert identical rasters.

    Returns the total spike count, the spikes per accelerator destination area, and the
    integrator (for its counters).
    """
    integ = OnnxRuntimeIntegrator.from_connectome(connectome, placements)
    cpu = Engine(connectome, "cpu")
    acc = accelerated_engine(connectome, integ, placements)
    drives = [PoissonDrive(connectome, rate, seed=seed), PoissonDrive(connectome, rate, seed=seed)]
    dst_areas = {connectome.projections[p].dst_area for p in accelerator_projections(placements)}
    per_area = dict.fromkeys(dst_areas, 0)
    total = 0
    try:
        for b in range(bursts):
            for d, e in zip(drives, (cpu, acc), strict=True):
                d.apply(e)
            n_cpu, n_acc = cpu.step(), acc.step()
            assert n_cpu == n_acc, f"burst {b}"
            fired = cpu.fired_global()
            np.testing.assert_array_equal(acc.fired_global(), fired, err_msg=f"burst {b}")
            total += n_cpu
            for a in dst_areas:
                per_area[a] += len(cpu.fired(a))
        np.testing.assert_array_equal(acc.neuron_state().potentials, cpu.neuron_state().potentials)
    finally:
        acc.close()
    return total, per_area, integ


def test_obstacle_avoidance_identical_over_600_bursts():
    c = load_brain("obstacle_avoidance")[0]
    placements = place(c, ALL_ON)
    assert all(p.backend == ACCELERATOR for p in placements)
    total, per_area, integ = run_side_by_side(c, placements, 600, rate=0.2)
    assert total > 1000 and all(per_area.values())  # every integrated area was active
    assert integ.calls > 500 and integ.runs >= integ.calls


def test_obstacle_avoidance_mixed_placement_identical():
    """Thresholds forced low: the cortical projections on the accelerator, the rest on CPU."""
    c = load_brain("obstacle_avoidance")[0]
    placements = place(c, PlacementRules(min_synapses=40, min_dst_neurons=10))
    on = accelerator_projections(placements)
    assert 0 < len(on) < len(placements)
    total, per_area, _ = run_side_by_side(c, placements, 500, rate=0.2, seed=5)
    assert total > 1000 and all(per_area.values())


def test_vision_identical_over_500_bursts():
    c = load_brain("vision")[0]
    placements = place(c)
    assert len(accelerator_projections(placements)) == 7
    # A sparse camera keeps the run short; the laterals and V2 still see thousands of spikes.
    total, per_area, integ = run_side_by_side(c, placements, 500, rate=0.01)
    assert all(n > 1000 for n in per_area.values()), per_area
    assert integ.calls > 450  # a burst without source spikes makes no call


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connectome=connectomes(max_projections=5), drive_seed=st.integers(0, 2**31))
def test_random_brains_identical_with_every_psp_kind(connectome, drive_seed):
    """Uniform, divided and membrane-driven PSPs (several rows per burst), duplicates, delays."""
    placements = place(connectome, ALL_ON)
    integ = OnnxRuntimeIntegrator.from_connectome(connectome, placements)
    engines = [Engine(connectome, "cpu"), accelerated_engine(connectome, integ, placements)]
    try:
        assert_same_run(engines, connectome, 60, drive_seed)
    finally:
        engines[1].close()


def test_distinct_rows_run_once_and_batches_are_exact():
    a = area(dims=(3, 2, 1))
    idx = np.arange(6)
    c = brain([a, area(dims=(3, 2, 2))],
              [proj(0, 0, 1, idx, idx * 2), proj(1, 0, 1, idx[2:], idx[:-2] * 2 + 1)])
    placements = place(c, ALL_ON)
    integ = OnnxRuntimeIntegrator.from_connectome(c, placements)
    ref = NumpyIntegrator()
    for i in (integ, ref):
        i.prepare(c, [0, 1])
    x0 = np.array([[1, 0, 1, 0, 1, 1], [0, 1, 0, 0, 0, 1], [1, 0, 1, 0, 1, 1]], np.uint8)
    x1 = x0[[1, 0]]  # the same rows in another order, as for a negative-weight projection
    got, want = integ.integrate({0: x0, 1: x1}), ref.integrate({0: x0, 1: x1})
    for p in (0, 1):
        np.testing.assert_array_equal(got[p], want[p])
        assert got[p].dtype.kind == "i"
    assert integ.runs == 2  # one partition, two distinct rows
    integ.close()


# -- refusals ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Connectome, Path, list]:
    c = load_brain("obstacle_avoidance")[0]
    placements = place(c, ALL_ON)
    d = tmp_path_factory.mktemp("oa")
    export(c, d, placements=placements, calib_bursts=0)
    return c, d, placements


def test_loads_from_directory_or_manifest_path(exported):
    c, d, placements = exported
    for where in (d, d / "manifest.json", str(d)):
        integ = OnnxRuntimeIntegrator(where, providers=["cpu"])
        integ.prepare(c, accelerator_projections(placements))
        assert integ.providers == ["CPUExecutionProvider"]


def test_checksum_mismatch_is_refused(exported):
    c, d, placements = exported
    other = dataclasses.replace(c, source_checksum="0" * 64)
    with pytest.raises(ManifestError, match="export it again"):
        accelerated_engine(other, OnnxRuntimeIntegrator(d), placements)


def test_changed_synapses_are_refused(exported):
    c, d, placements = exported
    p = c.projections[1]
    changed = dataclasses.replace(p, post=np.roll(p.post, 1))
    other = dataclasses.replace(c, projections=[*c.projections[:1], changed, *c.projections[2:]])
    with pytest.raises(ManifestError, match="synapses differ"):
        OnnxRuntimeIntegrator(d).prepare(other, [1])


def test_projection_missing_from_manifest_is_refused(exported, tmp_path):
    c, _, placements = exported
    only_first = [dataclasses.replace(pl, backend="cpu") if pl.projection else pl
                  for pl in placements]
    export(c, tmp_path, placements=only_first, calib_bursts=0)
    with pytest.raises(ManifestError, match="not in the manifest"):
        OnnxRuntimeIntegrator(tmp_path).prepare(c, [0, 1])


def test_stale_model_file_is_refused(exported, tmp_path):
    c, d, placements = exported
    shutil.copytree(d, tmp_path / "x")
    parts = sorted((tmp_path / "x").glob("*.onnx"))
    shutil.copy(parts[0], parts[1])  # another partition's model under this name
    with pytest.raises(ManifestError, match="model"):
        OnnxRuntimeIntegrator(tmp_path / "x").prepare(c, accelerator_projections(placements))


def test_unavailable_provider_is_refused(exported):
    _, d, _ = exported
    available = ort.get_available_providers()
    missing = next(p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider",
                               "NoSuchExecutionProvider") if p not in available)
    with pytest.raises(ProviderUnavailableError, match="CPUExecutionProvider") as err:
        OnnxRuntimeIntegrator(d, providers=[missing])
    assert missing in str(err.value)
    with pytest.raises(ProviderUnavailableError, match="no execution provider"):
        OnnxRuntimeIntegrator(d, providers=[])


def test_inexact_output_is_refused(exported):
    c, d, _ = exported
    manifest = OnnxRuntimeIntegrator(d).manifest
    part = next(p for p in manifest.partitions if p.layout == "gemm")
    out = part.outputs[0]
    good = np.zeros((1, out.shape[0]), np.float32)
    good[0, 0] = 3.0
    assert _to_counts(part, out, good).tolist()[:1] == [3]
    for bad in (0.5, -1.0):
        good[0, 0] = bad
        with pytest.raises(InexactCountsError, match="reduced"):
            _to_counts(part, out, good)
