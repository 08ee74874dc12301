"""The Engine surface: inputs, outputs, timing, backend selection and the integrator seam."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Drive, area, assert_same_run, brain, connectomes, proj

from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator
from feagi_hailo_ros.engine.core.backend import (
    ALL_FEATURES,
    FEATURE_EXTERNAL_INPUT,
    FEATURE_PER_SYNAPSE_WEIGHTS,
    FEATURE_PLASTICITY,
    FEATURE_RATE_DIVIDER,
    FEATURE_STATE_TRANSFER,
    FEATURE_SUBTRACTIVE,
)
from feagi_hailo_ros.engine.core.connectome import Connectome, PlasticityRule
from feagi_hailo_ros.engine.core.cpu_backend import CpuBackend
from feagi_hailo_ros.engine.core.engine import BACKENDS, Engine, register_backend
from feagi_hailo_ros.engine.core.integrator import Integrator, integrability


def two_areas() -> Connectome:
    a = area(dims=(2, 3, 2), npv=2, threshold=5.0)
    b = area(dims=(4, 1, 1), threshold=5.0)
    return brain([a, b], [proj(0, 0, 1, np.arange(24), np.arange(24) % 4, weight=5.0)])


# -- selecting areas and neurons --------------------------------------------------------


def test_area_lookup_by_index_id_and_name():
    c = two_areas()
    e = Engine(c)
    for key in (1, "a1", c.areas[1].name):
        e.inject(key, indices=[2], potentials=5.0)
        e.step()
        assert e.fired(1).tolist() == [2]
    with pytest.raises(KeyError):
        e.inject("nope", potentials=1.0)


def test_fired_voxels_and_area_activity():
    e = Engine(two_areas())
    # Voxel (1, 2, 1) holds neurons 22 and 23; fire only one of them plus voxel (0, 0, 0).
    e.inject(0, indices=[22, 0, 1], potentials=5.0)
    e.step()
    assert e.fired(0).tolist() == [0, 1, 22]
    assert e.fired_voxels(0).tolist() == [[0, 0, 0], [1, 2, 1]]
    act = e.area_activity(0)
    assert act.shape == (2, 3, 2) and act.dtype == np.int32
    assert act[0, 0, 0] == 2 and act[1, 2, 1] == 1 and act.sum() == 3
    assert e.fired(1).size == 0 and e.fired_voxels(1).shape == (0, 3)


def test_fired_is_per_last_burst_and_burst_counts():
    e = Engine(two_areas())
    assert e.burst == 0
    e.inject(0, potentials=5.0)
    assert e.step() == 24
    assert e.burst == 1
    assert e.step() == 4  # each area-1 neuron receives 6 synapses x 5
    assert e.fired(0).size == 0 and e.fired(1).tolist() == [0, 1, 2, 3]
    e.step(3)
    assert e.burst == 5


def test_inject_validation():
    e = Engine(two_areas())
    with pytest.raises(ValueError, match="not both"):
        e.inject(0, voxels=[[0, 0, 0]], indices=[0], potentials=1.0)
    with pytest.raises(IndexError):
        e.inject(0, indices=[24], potentials=1.0)
    with pytest.raises(IndexError):
        e.inject(0, voxels=[[2, 0, 0]], potentials=1.0)
    with pytest.raises(ValueError, match="potentials"):
        e.inject(0, indices=[0, 1, 2], potentials=[1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        e.inject(0, potentials=float("nan"))
    with pytest.raises(IndexError):
        e.force_fire(1, indices=[-1])


def test_per_neuron_potentials_for_voxels():
    e = Engine(two_areas())
    # Two voxels x two neurons each: one potential per neuron is also accepted.
    e.inject(0, voxels=[[0, 0, 0], [0, 0, 1]], potentials=[1.0, 2.0, 3.0, 4.0])
    e.step()
    assert e.potentials(0)[:4].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_force_whole_area():
    e = Engine(two_areas())
    e.force_fire(1)
    assert e.step() == 4


def test_reset_returns_to_rest():
    e = Engine(two_areas())
    e.inject(0, potentials=4.0)
    e.step()
    e.inject(0, potentials=1.0)  # pending input is dropped by reset too
    e.reset()
    assert e.burst == 0
    assert not e.potentials(0).any()
    e.step()
    assert e.fired_global().size == 0 and not e.potentials(0).any()


def test_timing_split_by_backend_and_integrator():
    c = two_areas()
    e = Engine(c, integrators={0: NumpyIntegrator()})
    e.inject(0, potentials=5.0)
    e.step(3)
    t = e.last_timing
    assert {"total", "backend:cpu", "integrator:numpy", "backend:cpu.dynamics"} <= set(t)
    assert all(v >= 0 for v in t.values())
    stats = e.stats()
    assert stats["bursts"] == 3
    assert stats["total_s"]["total"] >= stats["total_s"]["backend:cpu"]


# -- backend selection and capabilities --------------------------------------------------


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend"):
        Engine(two_areas(), "tpu")


def test_backend_instance_and_registration():
    e = Engine(two_areas(), CpuBackend(seed=9, inhibition="subtractive"))
    assert e.seed == 9 and e.inhibition == "subtractive"
    register_backend("cpu-copy", lambda **kw: CpuBackend(**kw))
    try:
        assert Engine(two_areas(), "cpu-copy").backend.name == "cpu"
    finally:
        del BACKENDS["cpu-copy"]


class Minimal(CpuBackend):
    """A backend that advertises no optional capability."""

    name = "minimal"
    features = frozenset()


def test_missing_capabilities_raise_not_implemented():
    c = two_areas()
    with pytest.raises(NotImplementedError, match="minimal.*subtractive"):
        Minimal(inhibition="subtractive")
    with pytest.raises(NotImplementedError, match="minimal.*external_input"):
        Engine(c, Minimal(), integrators={0: NumpyIntegrator()})
    weighted = brain([area()], [proj(0, 0, 0, [0], [0], weights=np.array([2.0]))])
    with pytest.raises(NotImplementedError, match="minimal.*per_synapse_weights"):
        Engine(weighted, Minimal())
    plastic = brain([area()], [proj(0, 0, 0, [0], [0],
                                    plasticity=PlasticityRule(ltp=1, ltd=1, window=1))])
    with pytest.raises(NotImplementedError, match="minimal.*plasticity"):
        Engine(plastic, Minimal())
    e = Engine(c, Minimal())
    with pytest.raises(NotImplementedError, match="minimal.*state_transfer"):
        e.save_checkpoint("/nonexistent/never-written.npz")
    with pytest.raises(NotImplementedError, match="minimal.*rate_divider"):
        Engine(c, Minimal(), rate_dividers={0: 2})
    assert ALL_FEATURES == {FEATURE_EXTERNAL_INPUT, FEATURE_PER_SYNAPSE_WEIGHTS,
                            FEATURE_STATE_TRANSFER, FEATURE_SUBTRACTIVE,
                            FEATURE_PLASTICITY, FEATURE_RATE_DIVIDER}  # fmt: skip


def test_bad_inhibition_mode():
    with pytest.raises(ValueError, match="inhibition"):
        Engine(two_areas(), inhibition="shunting")


# -- the integrator seam -----------------------------------------------------------------


class RecordingIntegrator(NumpyIntegrator):
    """NumpyIntegrator that checks the protocol's promises and records its inputs."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[int] = []
        self.spikes_seen = 0

    def compute(self, spikes: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        for x in spikes.values():
            assert x.dtype == np.uint8 and x.ndim == 2
            assert set(np.unique(x)) <= {0, 1}
            self.groups.append(x.shape[0])
            self.spikes_seen += int(x.sum())
        return super().compute(spikes)


def test_numpy_integrator_counts_duplicates():
    c = brain([area(dims=(3, 1, 1)), area(dims=(2, 1, 1))],
              [proj(0, 0, 1, [0, 0, 1, 2], [1, 1, 0, 1])])  # fmt: skip
    integ = NumpyIntegrator()
    integ.prepare(c, [0])
    y = integ.integrate({0: np.array([[1, 0, 0], [1, 1, 1]], np.uint8)})[0]
    assert y.tolist() == [[0, 2], [1, 3]]
    assert isinstance(integ, Integrator)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connectome=connectomes(), drive_seed=st.integers(0, 2**31), data=st.data())
def test_integrator_seam_gives_identical_spikes(connectome, drive_seed, data):
    reasons = integrability(connectome)
    eligible = [p for p in range(len(connectome.projections)) if reasons[p] is None]
    chosen = data.draw(st.lists(st.sampled_from(eligible), unique=True) if eligible
                       else st.just([]))  # fmt: skip
    # Two integrator objects, so projections are also split between integrators.
    integs = [RecordingIntegrator(), RecordingIntegrator()]
    assign = {p: integs[k % 2] for k, p in enumerate(chosen)}
    engines = [Engine(connectome, "cpu"), Engine(connectome, "cpu", integrators=assign)]
    assert_same_run(engines, connectome, 200, drive_seed)


def test_integrator_takes_exactly_the_projections_it_can_reproduce():
    """Inputs are float32 sums in a canonical order (DESIGN §4 rule 2), so an integrator's counts
    are exact only when every event into a neuron from that source area and delay carries one
    contribution: uniform sources and divided sources of equal out-degree qualify; divided
    sources of differing out-degree, membrane-driven sources and bundles with different weights
    do not, and the engine refuses them with the reason."""
    src_u = area(dims=(4, 1, 1), threshold=1.0, psp=3)
    src_d = area(dims=(4, 1, 1), threshold=1.0, psp=5, uniform=False)
    src_m = area(dims=(4, 1, 1), threshold=1.0, mp_psp=True)
    src_e = area(dims=(4, 1, 1), threshold=1.0, psp=7, uniform=False)  # every out-degree 2
    dst = area(dims=(3, 1, 1), threshold=1e6, leak=0.0)
    rng = np.random.default_rng(3)
    projections = [
        proj(0, 0, 4, rng.integers(0, 4, 12), rng.integers(0, 3, 12), weight=2.0, delay=1),
        proj(1, 1, 4, [0, 0, 0, 1, 2, 2, 3], [0, 1, 2, 0, 1, 1, 2], weight=-1.0, delay=2),
        proj(2, 1, 1, [3], [0], weight=1.0),  # raises neuron 3's outdegree
        proj(3, 2, 4, [0, 1, 2, 3], [0, 0, 1, 2], weight=0.5, delay=1),
        proj(4, 3, 4, [0, 0, 1, 1, 2, 2, 3, 3], [0, 1, 1, 2, 2, 0, 0, 1], weight=3.0, delay=1),
        proj(5, 0, 4, [0, 1], [1, 2], weight=-2.0, delay=1),  # same areas and delay as 0
    ]
    c = brain([src_u, src_d, src_m, src_e, dst], projections)
    reasons = integrability(c)
    assert reasons[0] and "different contributions" in reasons[0] and reasons[5]
    assert "out-degrees that differ" in reasons[1] and "mp_psp" in reasons[3]
    assert reasons[4] is None and reasons[2] is None
    for p in (0, 1, 3, 5):
        with pytest.raises(ValueError, match="keep it on the CPU"):
            Engine(c, "cpu", integrators={p: NumpyIntegrator()})
    integ = RecordingIntegrator()
    engines = [Engine(c, "reference"), Engine(c, "cpu", integrators={2: integ, 4: integ})]
    for b in range(30):
        for e in engines:
            e.inject(0, potentials=1.0)
            e.inject(1, potentials=1.0)
            e.inject(2, potentials=np.array([1.0, 7.4, 255.6, 30.5]) + b)
            e.inject(3, potentials=1.0)
        [e.step() for e in engines]
        np.testing.assert_array_equal(engines[0].potentials(4), engines[1].potentials(4))
        np.testing.assert_array_equal(engines[0].potentials(1), engines[1].potentials(1))
    assert integ.spikes_seen > 0
    assert engines[1].potentials(4).any()


def test_integrator_refuses_per_synapse_weights():
    c = brain([area(), area()], [proj(0, 0, 1, [0], [0], weights=np.array([3.0]))])
    with pytest.raises(ValueError, match="per-synapse weights"):
        Engine(c, integrators={0: NumpyIntegrator()})
    with pytest.raises(IndexError):
        Engine(c, integrators={5: NumpyIntegrator()})


class WrongShape(NumpyIntegrator):
    name = "wrong"

    def compute(self, spikes):
        return {p: np.zeros((x.shape[0], 1), np.float32) for p, x in spikes.items()}


def test_integrator_output_is_checked():
    e = Engine(two_areas(), integrators={0: WrongShape()})
    e.force_fire(0)
    e.step()
    with pytest.raises(TypeError, match="wrong"):
        e.step()


def test_integrated_projection_not_uploaded_to_backend():
    c = two_areas()
    e = Engine(c, integrators={0: NumpyIntegrator()})
    assert e.backend._csr == []  # nothing left for the CPU to propagate
    e.force_fire(0)
    e.step()
    assert e.step() == 4  # yet area 1 still receives the spikes


def test_close_releases_integrators():
    closed = []

    class Closing(NumpyIntegrator):
        def close(self):
            closed.append(True)

    e = Engine(two_areas(), integrators={0: Closing()})
    e.close()
    assert closed == [True]


def test_drive_helper_is_reproducible():
    c = two_areas()
    a, b = Engine(c), Engine(c)
    da, db = Drive(1), Drive(1)
    for _ in range(20):
        da.apply([a], c)
        db.apply([b], c)
        a.step()
        b.step()
        np.testing.assert_array_equal(a.fired_global(), b.fired_global())


class AsyncNumpyIntegrator(NumpyIntegrator):
    """NumpyIntegrator with the accelerator's submit/collect shape, recording the call order."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def submit(self, requests):  # noqa: ANN001, ANN201
        self.events.append("submit")
        return requests

    def collect(self, handle):  # noqa: ANN001, ANN201
        self.events.append("collect")
        return self.compute(handle)


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_async_integrator_is_collected_after_cpu_propagation(backend, monkeypatch):
    # The accelerator works while the CPU delivers what comes before it in the canonical order
    # (DESIGN §4 rule 2): submitted before the backend runs, collected inside it when delivery
    # reaches the integrated projection's source area, before the neuron update.
    from feagi_hailo_ros.engine.core import kernels

    events: list[str] = []
    real_propagate = kernels.propagate

    def propagate(*args):  # noqa: ANN002, ANN202
        events.append("propagate")
        return real_propagate(*args)

    # Area 0 (CPU, delivered first) and area 1 (integrated, later in the order) both reach area 1.
    c = brain([area(dims=(4, 1, 1), threshold=5.0), area(dims=(4, 1, 1), threshold=5.0)],
              [proj(0, 0, 1, np.arange(4), np.arange(4), weight=5.0),
               proj(1, 1, 1, np.arange(4), (np.arange(4) + 1) % 4, weight=5.0)])
    if backend == "cpu":
        monkeypatch.setattr(kernels, "propagate", propagate)
    cpu_only = Engine(c, backend)
    overlapped = Engine(c, backend, integrators={1: AsyncNumpyIntegrator(events)})
    fired = assert_same_run([cpu_only, overlapped], c, 60, seed=3)
    assert fired > 0
    assert "submit" in events and events.count("submit") == events.count("collect")
    if backend == "cpu":
        # In a burst where area 0 fired, its delivery runs between submit and collect.
        assert "submit propagate collect" in " ".join(events)


def test_whole_area_injections_add_like_neuron_injections():
    # FEAGI adds inputs one by one in float32 (recording min_fsum): 12 x float32(1/12) stays below
    # a threshold of 1 whether the 12 injections name the neurons or the whole area.
    c = brain([area(dims=(2, 1, 1), threshold=1.0, mp_acc=False)])
    by_area, by_index = Engine(c), Engine(c)
    for _ in range(12):
        by_area.inject(0, potentials=1 / 12)
        by_index.inject(0, indices=np.arange(2), potentials=1 / 12)
    assert by_area.step() == by_index.step() == 0
    assert by_area.potentials(0).tolist() == by_index.potentials(0).tolist()
