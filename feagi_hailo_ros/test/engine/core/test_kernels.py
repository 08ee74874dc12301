"""Numba kernels: building blocks, and spike-for-spike equality with the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import area, assert_same_run, brain, connectomes, proj

from feagi_hailo_ros.engine.core import kernels
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.cpu_backend import CpuBackend, area_table
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.reference import excitability_draws
from feagi_hailo_ros.engine.core.state import EngineState

MASK64 = (1 << 64) - 1


# -- the property ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    connectome=connectomes(),
    drive_seed=st.integers(0, 2**31),
    inhibition=st.sampled_from(["clamped", "subtractive"]),
    seed=st.integers(-(2**40), 2**40),
)
def test_numba_matches_reference_over_200_bursts(connectome, drive_seed, inhibition, seed):
    engines = [
        Engine(connectome, "reference", inhibition=inhibition, seed=seed),
        Engine(connectome, "cpu", inhibition=inhibition, seed=seed),
    ]
    assert_same_run(engines, connectome, 200, drive_seed)


def test_property_exercises_firing():
    """Guard against a vacuous property: the drive makes the random brains fire."""
    c = brain([area(dims=(3, 3, 2), threshold=3.0, leak=0.25, refractory=1)],
              [proj(0, 0, 0, np.arange(18), np.roll(np.arange(18), 1), weight=2.0)])  # fmt: skip
    engines = [Engine(c, "reference"), Engine(c, "cpu")]
    assert assert_same_run(engines, c, 200, 5) > 100


def test_dense_drive_with_recurrence_matches_reference():
    """Whole-area drive covering every neuron takes the no-bitset path."""
    rng = np.random.default_rng(0)
    n = 300
    pre = np.repeat(np.arange(n), 5)
    post = rng.integers(0, n, pre.size)
    w = rng.integers(-20, 21, pre.size).astype(np.float32)
    c = brain([area(dims=(n, 1, 1), threshold=100.0, leak=0.125, refractory=2)],
              [proj(0, 0, 0, pre, post, weights=w)])  # fmt: skip
    engines = [Engine(c, "reference"), Engine(c, "cpu")]
    kick = rng.uniform(0, 100, n)  # spread the phases once
    for e in engines:
        e.inject(0, potentials=kick)
    fired = 0
    for _ in range(200):
        for e in engines:
            e.inject(0, potentials=14.0)
        counts = [e.step() for e in engines]
        assert counts[0] == counts[1]
        fired += counts[0]
        np.testing.assert_array_equal(engines[0].fired_global(), engines[1].fired_global())
        np.testing.assert_array_equal(engines[0].potentials(0), engines[1].potentials(0))
    assert 0.02 * n * 200 < fired < 0.5 * n * 200


def test_epoch_rebase_is_invisible():
    """Relative int32 burst stamps are rebased without changing any spike."""
    c = brain([area(dims=(4, 2, 1), threshold=2.0, leak=0.5, refractory=3, cfc=2, mp_acc=False),
               area(dims=(3, 1, 1), threshold=1.0, refractory=1, mp_psp=True)],
              [proj(0, 0, 1, [0, 1, 2, 3], [0, 1, 2, 0], delay=2),
               proj(1, 1, 0, [0, 1, 2], [4, 5, 6], weight=3.0)])  # fmt: skip
    cpu = CpuBackend()
    cpu._REBASE_AT, cpu._REBASE_BY = 7, 4
    engines = [Engine(c, "reference"), Engine(c, cpu)]
    assert_same_run(engines, c, 200, 11)
    assert cpu._epoch > 150


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connectome=connectomes(), drive_seed=st.integers(0, 2**31))
def test_two_thread_dynamics_match_reference(connectome, drive_seed):
    cpu = CpuBackend(threads=2)
    cpu.parallel_min_neurons = 0  # exercise the threaded walk even on tiny brains
    engines = [Engine(connectome, "reference"), Engine(connectome, cpu)]
    assert_same_run(engines, connectome, 200, drive_seed)


def test_two_thread_dynamics_on_a_larger_brain():
    rng = np.random.default_rng(4)
    sizes = [(10, 10, 3), (16, 8, 2), (7, 5, 4)]
    areas = [area(dims=d, threshold=4.0, leak=0.25, refractory=1, cfc=3, excitability=0.8,
                  mp_acc=k != 1) for k, d in enumerate(sizes)]  # fmt: skip
    n = [a.neuron_count for a in areas]
    projections = [proj(p, s, d, rng.integers(0, n[s], 3 * n[s]), rng.integers(0, n[d], 3 * n[s]),
                        weight=float(rng.integers(-3, 6)), delay=int(rng.integers(1, 3)))
                   for p, (s, d) in enumerate([(0, 1), (1, 2), (2, 0), (0, 0), (1, 1)])]  # fmt: skip
    c = brain(areas, projections)
    cpu = CpuBackend(threads=2)
    cpu.parallel_min_neurons = 0
    assert_same_run([Engine(c, "reference"), Engine(c, cpu)], c, 200, 9)


@pytest.mark.parametrize("threads", [1, 2])
def test_many_tiny_areas_match_reference(threads):
    """The walk reloads its per-area locals at every area change: here every few neurons.

    With two threads the second chunk starts in the middle of an area, not at area 0.
    """
    rng = np.random.default_rng(12)
    areas = [area(dims=(int(rng.integers(1, 5)), 1, 1), threshold=float(rng.choice([1.0, 2.0, 3.0])),
                  increment=((0.5, 0.0, 0.0) if k % 7 == 3 else (0.0, 0.0, 0.0)),
                  limit=float(rng.choice([np.inf, 9.0])), leak=float(rng.choice([0.0, 0.25, 0.5])),
                  refractory=int(rng.integers(0, 3)), cfc=int(rng.choice([0, 0, 2])),
                  excitability=float(rng.choice([1.0, 0.6])), mp_acc=bool(k % 3),
                  mp_psp=k % 5 == 0, psp=int(rng.integers(1, 3)), uniform=bool(k % 2))
             for k in range(40)]  # fmt: skip
    n = [a.neuron_count for a in areas]
    projections = []
    for p in range(12):
        s, d = (int(x) for x in rng.integers(0, len(areas), 2))
        projections.append(proj(p, s, d, rng.integers(0, n[s], 6), rng.integers(0, n[d], 6),
                                weight=float(rng.choice([1.0, 2.0, -1.0])),
                                delay=int(rng.integers(1, 3))))  # fmt: skip
    c = brain(areas, projections)
    assert c.neuron_count > 64  # two bitset words, so two chunks
    cpu = CpuBackend(threads=threads, seed=3)
    cpu.parallel_min_neurons = 0
    engines = [Engine(c, "reference", seed=3), Engine(c, cpu)]
    assert assert_same_run(engines, c, 200, 21) > 100


@pytest.mark.parametrize("threads", [1, 2])
def test_empty_brain_runs(threads):
    """No area, no neuron: the table keeps one unused row, which the walk reads up front."""
    cpu = CpuBackend(threads=threads)
    cpu.parallel_min_neurons = 0
    e = Engine(Connectome(areas=[], projections=[]), cpu)
    assert cpu.area_params.shape == (1,)
    assert [e.step() for _ in range(3)] == [0, 0, 0]
    assert e.neuron_state().potentials.shape == (0,)


def test_backend_passes_neuron_arrays_in_field_order():
    """The backend hands the dynamics a plain tuple; the kernels name it with NeuronArrays."""
    cpu = CpuBackend()
    Engine(brain([area(dims=(5, 1, 1))]), cpu)
    named = kernels.NeuronArrays(*cpu._neuron_arrays())
    for name in kernels.NeuronArrays._fields:
        assert getattr(named, name) is getattr(cpu, name), name


def test_dynamics_takes_a_named_or_a_plain_tuple():
    n = 70
    out = []
    for wrap in (kernels.NeuronArrays, lambda *arrays: tuple(arrays)):
        v = np.zeros(n, np.float32)
        nrn = wrap(np.zeros(n, np.uint16), np.zeros(n, np.float32), v, np.full(n, -1, np.int32),
                   np.full(n, -1, np.int32), np.zeros(n, np.int32), np.zeros(n, np.float32),
                   np.zeros(2, np.uint64), np.zeros(n, np.uint8), np.empty(n, np.int32),
                   np.empty(n, np.float32), np.zeros(n, np.uint8))  # fmt: skip
        table = area_table(brain([area(dims=(n, 1, 1), threshold=2.0, leak=0.5)]).areas)
        starts, stops = np.array([0, 40], np.int64), np.array([30, 70], np.int64)
        kernels.mark_ranges(starts, stops, nrn[7])
        fired = kernels.dynamics(0, 0, starts, stops, np.array([1.0, 3.0]), np.array([5], np.int64),
                                 np.array([100.0], np.float32), nrn, table, np.uint64(0),
                                 False)  # fmt: skip
        out.append((fired, nrn[9][:fired].copy(), v.copy()))
    assert out[0][0] == out[1][0] == 31  # neurons 40..69, then forced neuron 5
    np.testing.assert_array_equal(out[0][1], np.r_[np.arange(40, 70), 5])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    np.testing.assert_array_equal(out[0][2], out[1][2])
    np.testing.assert_array_equal(out[0][2][:30], np.float32(0.5))


def test_area_table_holds_the_kernel_types():
    """One record per area, in the types the kernels compute with (see ``AREA_DTYPE``)."""
    areas = brain([area(threshold=1.1, leak=0.1, excitability=0.9995, psp=3, cfc=2, refractory=4,
                        limit=0.0, mp_acc=False),
                   area(increment=(1.0, 0.0, 0.0), excitability=0.5, mp_psp=True,
                        limit=7.0)]).areas  # fmt: skip
    t = area_table(areas)
    assert t.dtype == kernels.AREA_DTYPE and t.shape == (2,)
    assert t["theta"][0] == np.float32(1.1) and t["keep"][0] == np.float32(1.0 - 0.1)
    assert t["theta_max"][0] == np.inf and t["theta_max"][1] == np.float32(7.0)
    assert t["excitability"][0] == 0.9995 and t["always"].tolist() == [True, False]
    assert t["psp"][0] == np.float32(3.0) and t["cfc"][0] == 2 and t["refractory"][0] == 4
    assert t["theta_var"].tolist() == [False, True]
    assert t["mp_acc"].tolist() == [False, True] and t["mp_psp"].tolist() == [False, True]


def test_fire_count_saturates_instead_of_wrapping():
    c = brain([area(threshold=1.0)])
    for name in ("cpu", "reference"):
        e = Engine(c, name)
        state = EngineState.zeros(1, e.backend.history_length)
        state.fire_counts[:] = 2**31 - 1
        e.backend.upload_state(state)
        e.inject(0, potentials=1.0)
        assert e.step() == 1
        assert e.neuron_state().fire_counts[0] == 2**31 - 1


# -- building blocks -------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2**40 + 7, -3])
def test_excitability_hash_numba_equals_numpy(seed):
    ids = np.arange(5000, dtype=np.int64)
    for burst in (0, 1, 999, 2**33):
        a = kernels.excitability_draws(np.uint64(seed & MASK64), ids, np.int64(burst))
        b = excitability_draws(seed, ids, burst)
        np.testing.assert_array_equal(a, b)


def test_excitability_draws_uniform_and_decorrelated():
    ids = np.arange(200_000)
    d0 = excitability_draws(0, ids, 0)
    d1 = excitability_draws(0, ids, 1)
    assert d0.min() >= 0.0 and d0.max() < 1.0
    assert abs(d0.mean() - 0.5) < 0.005
    assert abs((d0 < 0.3).mean() - 0.3) < 0.005
    assert abs(np.corrcoef(d0, d1)[0, 1]) < 0.01
    # Known answers pin the definition (a change would alter every recorded run).
    assert excitability_draws(0, np.array([0, 1]), 0).tolist() == [0.0, 0.8833107948303223]
    assert excitability_draws(5, np.array([7]), 3).tolist() == [0.1513897180557251]


def test_build_csr_groups_by_source_stably():
    rng = np.random.default_rng(1)
    n, s = 50, 400
    pre = rng.integers(0, n, s).astype(np.int32)
    post = rng.integers(0, n, s).astype(np.int32)
    sw = rng.normal(size=s).astype(np.float32)
    indptr = np.zeros(n + 1, np.int64)
    syn = np.empty((s, 2), np.int32)
    kernels.build_csr(pre, post, sw, indptr, syn)
    assert indptr[0] == 0 and indptr[-1] == s and np.all(np.diff(indptr) >= 0)
    for j in range(n):
        rows = slice(indptr[j], indptr[j + 1])
        mine = np.flatnonzero(pre == j)  # original order = stable order
        np.testing.assert_array_equal(syn[rows, 0], post[mine])
        np.testing.assert_array_equal(syn[rows, 1].view(np.float32), sw[mine])


def test_mark_ranges_sets_exactly_the_range_bits():
    n = 700
    ranges = np.array([[0, 3], [60, 64], [64, 200], [250, 251], [300, 700]], np.int64)
    bits = np.zeros((n + 63) // 64, np.uint64)
    kernels.mark_ranges(ranges[:, 0].copy(), ranges[:, 1].copy(), bits)
    got = np.unpackbits(bits.view(np.uint8), bitorder="little")[:n].astype(bool)
    want = np.zeros(n, bool)
    for lo, hi in ranges:
        want[lo:hi] = True
    np.testing.assert_array_equal(got, want)
    assert not np.unpackbits(bits.view(np.uint8), bitorder="little")[n:].any()


@pytest.mark.parametrize("n_fired", [0, 1, 3, 17, 40, 200])
@pytest.mark.parametrize("divided", [False, True])
@pytest.mark.parametrize("ptr_dtype", [np.int32, np.int64])
def test_propagate_delivers_every_event_once(n_fired, divided, ptr_dtype):
    rng = np.random.default_rng(n_fired)
    n = 300
    deg = rng.integers(0, 6, n)
    pre = np.repeat(np.arange(n), deg).astype(np.int32)
    post = rng.integers(0, n, pre.size).astype(np.int32)
    sw = rng.integers(-9, 10, pre.size).astype(np.float32)
    indptr = np.zeros(n + 1, ptr_dtype)
    syn = np.empty((pre.size, 2), np.int32)
    kernels.build_csr(pre, post, sw, indptr, syn)
    div = np.where(rng.random(n) < 0.5, deg, 1).astype(np.float64) if divided else np.ones(n)
    div = np.maximum(div, 1.0)
    fired = np.sort(rng.choice(n, n_fired, replace=False)).astype(np.int32)
    psp = rng.integers(0, 3, n_fired).astype(np.float32)  # 1.0 takes the fast path
    acc = np.zeros(n, np.float32)
    bits = np.zeros((n + 63) // 64, np.uint64)
    events = kernels.propagate(indptr, syn, syn.view(np.float32), div, fired, psp, acc, bits,
                               True, divided, 16)  # fmt: skip
    # One float32 addition per event, sources ascending, then synapse order (DESIGN §4 rule 2).
    want = np.zeros(n, np.float32)
    targets = np.zeros(n, bool)
    for j, p in zip(fired, psp, strict=True):
        mine = pre == j
        c = (sw[mine].astype(np.float64) * p / div[j]).astype(np.float32)
        np.add.at(want, post[mine], c)
        targets[post[mine]] = True
    assert events == int(deg[fired].sum())
    np.testing.assert_array_equal(acc, want)
    got = np.unpackbits(bits.view(np.uint8), bitorder="little")[:n].astype(bool)
    np.testing.assert_array_equal(got, targets)
