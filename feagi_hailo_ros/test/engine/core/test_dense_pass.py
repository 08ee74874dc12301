"""The dense pass of the dynamics (``kernels._dense``): whole 64-neuron words of a driven area
with plain rules are updated by a branch-free loop instead of the bit walk. Which of the two a
neuron meets must change no bit: spikes, potentials, countdowns and fire counts equal the NumPy
reference and the general path, on one thread and split over two."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Drive, area, brain, connectomes, proj

from feagi_hailo_ros.engine.core import kernels
from feagi_hailo_ros.engine.core.cpu_backend import CpuBackend
from feagi_hailo_ros.engine.core.engine import Engine

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Areas up to 150 x 3 x 2 neurons (two per voxel): several whole words each, starting at
#: unaligned ids, so ranges have dense insides and walked edges.
WIDE = {"max_areas": 3, "max_projections": 5, "max_x": 150, "plain": 0.6, "max_synapses": 600}


def general(connectome, threads: int = 1, **kw) -> Engine:
    backend = CpuBackend(threads=threads, **kw)
    backend.fused = False
    backend.parallel_min_neurons = 1  # split even these brains when threads > 1
    return Engine(connectome, backend)


@SETTINGS
@given(connectome=connectomes(**WIDE), drive_seed=st.integers(0, 2**31),
       inhibition=st.sampled_from(["clamped", "subtractive"]))
def test_dense_pass_equals_the_reference_and_the_general_path(connectome, drive_seed, inhibition):
    engines = [Engine(connectome, "reference", inhibition=inhibition),
               Engine(connectome, "cpu", inhibition=inhibition),
               general(connectome, inhibition=inhibition),
               general(connectome, threads=2, inhibition=inhibition)]
    drive = Drive(drive_seed, whole_area_rate=0.8)
    for b in range(25):
        drive.apply(engines, connectome)
        counts = {e.step() for e in engines}
        assert len(counts) == 1, b
        ref = engines[0].neuron_state()
        for e in engines[1:]:
            np.testing.assert_array_equal(e.fired_global(), engines[0].fired_global(), str(b))
            s = e.neuron_state()
            np.testing.assert_array_equal(s.potentials, ref.potentials, str(b))
            np.testing.assert_array_equal(s.refractory_countdown, ref.refractory_countdown)
            np.testing.assert_array_equal(s.fire_counts, ref.fire_counts)


def test_the_driven_plain_area_takes_the_dense_pass():
    """A kernel-level check that the pass is reached and does what the walk does: the same
    burst through ``dynamics`` with the range (dense inside) and with the range's neurons given
    as point injections instead (walked) leaves the same state and spikes."""
    n = 300  # ids 0..299: words 0..3 whole, word 4 partial
    rng = np.random.default_rng(3)
    areas = np.zeros(1, kernels.AREA_DTYPE)
    areas[0] = (1.0, 2, 0, 1000.0, np.inf, 0.875, 1.0, 0.0, 0, False, True, True, False, False,
                False)
    assert kernels._dense_ok(areas[0], False)

    def arrays():
        r = np.random.default_rng(5)
        return (np.zeros(n, np.uint16), np.zeros(n, np.float32),
                r.uniform(0, 1000, n).astype(np.float32), np.zeros(n, np.int32),
                r.integers(-1, 12, n).astype(np.int32), r.integers(0, 4, n).astype(np.int32),
                np.zeros(n, np.float32), np.zeros((n + 63) // 64, np.uint64),
                np.zeros(n, np.uint8), np.zeros(n, np.int32), np.zeros(n, np.float32),
                np.zeros(n, np.uint8))

    syn = rng.integers(-63, 64, n).astype(np.float32)
    results = []
    for dense in (True, False):
        nrn = arrays()
        nrn[6][:] = syn  # synaptic input already summed
        start, stop = np.array([0]), np.array([n])
        no_i, no_f = np.zeros(0, np.int64), np.zeros(0, np.float32)
        if dense:
            kernels.mark_ranges(start, stop, nrn[7])
            m = kernels.dynamics(10, 10, start, stop, np.array([138.0]), no_i, no_f, nrn, areas,
                                 np.uint64(1), False)
        else:  # the same input, walked: range value added after the synaptic sum
            kernels.add_injections(np.arange(n), np.full(n, 0.0), nrn[6], nrn[7])
            nrn[6][:] = (nrn[6] + np.float32(138.0)).astype(np.float32)
            m = kernels.dynamics(10, 10, start[:0], stop[:0], np.zeros(0), no_i, no_f, nrn,
                                 areas, np.uint64(1), False)
        assert not nrn[7].any() and not nrn[6].any() and not nrn[8].any()
        results.append((nrn[9][:m].copy(), nrn[2].copy(), nrn[4].copy(), nrn[5].copy()))
    assert results[0][0].size > 0
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_range_over_two_areas_is_split_at_the_boundary():
    """Adjacent areas driven by one engine call each, one plain and one with a fire limit: the
    dense pass must stop at the first area's last whole word."""
    plain = area(0, (100, 1, 1), threshold=2.0, leak=0.25, refractory=1)
    limited = area(1, (100, 1, 1), threshold=2.0, cfc=1, snooze=1)
    rng = np.random.default_rng(0)
    pre, post = rng.integers(0, 100, 300), rng.integers(0, 100, 300)
    c = brain([plain, limited], [proj(0, 0, 1, pre, post, weight=0.5),
                                 proj(1, 1, 0, post, pre, weight=0.75)])
    ref, cpu = Engine(c, "reference"), Engine(c, "cpu")
    for b in range(20):
        for e in (ref, cpu):
            e.inject(0, potentials=0.75)
            e.inject(1, potentials=1.25)
        assert ref.step() == cpu.step(), b
        np.testing.assert_array_equal(ref.fired_global(), cpu.fired_global())
        np.testing.assert_array_equal(ref.neuron_state().potentials,
                                      cpu.neuron_state().potentials)


RULES_OFF_THE_DENSE_PASS = {
    "excitability draw": {"excitability": 0.7},
    "fire limit": {"cfc": 2, "snooze": 1},
    "per-neuron thresholds": {"increment": (0.25, 0.0, 0.0)},
    "V cleared every burst": {"mp_acc": False},
    "spikes carry V": {"mp_psp": True},
    "linear leak": {"leak_linear": True, "leak": 0.5},
}


@pytest.mark.parametrize("rule", sorted(RULES_OFF_THE_DENSE_PASS))
@pytest.mark.parametrize("divider", [1, 3])
def test_areas_whose_rules_the_dense_pass_lacks_are_walked(rule, divider):
    """Each rule ``_dense_ok`` excludes, in a wholly driven 256-neuron area with recurrent
    synapses: the CPU engine equals the reference (the pass would get each one wrong). A rate
    divider of 3 (``hold``) also keeps the plain area off the pass between its updates."""
    kw = {"leak": 0.25, "refractory": 1, "threshold": 3.0, **RULES_OFF_THE_DENSE_PASS[rule]}
    rng = np.random.default_rng(1)
    pre, post = rng.integers(0, 256, 2000), rng.integers(0, 256, 2000)
    c = brain([area(0, (64, 2, 2), **kw), area(1, (64, 2, 2), leak=0.25, threshold=3.0)],
              [proj(0, 0, 0, pre, post, weight=0.5), proj(1, 0, 1, post, pre, weight=-0.75),
               proj(2, 1, 0, pre, post, weight=0.25)])
    div = {0: divider, 1: divider}
    ref, cpu = Engine(c, "reference", rate_dividers=div), Engine(c, "cpu", rate_dividers=div)
    drive = np.random.default_rng(2)
    fired = 0
    for b in range(30):
        value = float(drive.choice([0.5, 1.0, 1.75]))
        for e in (ref, cpu):
            e.inject(0, potentials=value)
            e.inject(1, potentials=value)
        n = ref.step()
        assert cpu.step() == n, b
        fired += n
        np.testing.assert_array_equal(ref.fired_global(), cpu.fired_global(), str(b))
        np.testing.assert_array_equal(ref.neuron_state().potentials,
                                      cpu.neuron_state().potentials, str(b))
    assert fired > 0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the reference's overflow, on purpose
def test_a_nan_input_under_subtractive_inhibition_stays_nan_as_in_the_walk():
    """PSPs and weights are floats with no clamp (DESIGN §4), so a huge PSP makes one
    contribution +inf and another -inf: their sum is NaN. Subtractive inhibition is
    ``max(V + I, 0)``, which keeps a NaN (the walk's ``if V < 0``, the reference's
    ``np.maximum``); the dense pass must keep it too, on its words as on the walked edges."""
    src = area(0, threshold=0.5, psp=3e38)
    dst = area(1, (200, 1, 1), threshold=2.0)  # ids 1..200: words 1 and 2 dense, edges walked
    every = np.arange(200)
    c = brain([src, dst], [proj(0, 0, 1, np.zeros(200, int), every, weight=10.0),
                           proj(1, 0, 1, np.zeros(200, int), every, weight=-10.0)])
    engines = [Engine(c, "reference", inhibition="subtractive"),
               Engine(c, "cpu", inhibition="subtractive"),
               general(c, threads=2, inhibition="subtractive")]
    for b in range(3):
        for e in engines:
            e.inject(0, potentials=1.0)
            e.inject(1, potentials=0.5)
            e.step()
        ref = engines[0].neuron_state().potentials
        for e in engines[1:]:
            np.testing.assert_array_equal(e.neuron_state().potentials, ref, str(b))
            np.testing.assert_array_equal(e.fired_global(), engines[0].fired_global())
    assert np.isnan(ref[1:]).all()  # what the case is about: every target holds a NaN


# -- the kernel alone: any ranges, any state ---------------------------------------------------

#: Inputs and potentials the dense pass must treat as the walk does, odd ones included: signed
#: zero, float32 overflow, infinities and NaN (which a huge unclamped PSP produces).
ODD_VALUES = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 7.25, 2.0**24, 1e30, -1e30, np.inf, -np.inf, np.nan]


@st.composite
def dynamics_cases(draw: st.DrawFn) -> dict:
    """One burst's dynamics input: 1-4 areas of 1-300 neurons (plain ones eligible for the
    dense pass, others not), sorted disjoint ranges anywhere (unaligned, several in one area,
    across area boundaries), the ranges' values and a seed for the neuron state."""
    sizes = draw(st.lists(st.integers(1, 300), min_size=1, max_size=4))
    areas = np.zeros(len(sizes), kernels.AREA_DTYPE)
    for a in range(len(sizes)):
        plain = draw(st.booleans())
        areas[a] = (1.0 if plain else draw(st.sampled_from([1.0, 0.5])),  # excitability
                    draw(st.integers(0, 3)), draw(st.integers(0, 2)),  # refractory, snooze
                    draw(st.sampled_from([0.5, 1.0, 3.0, 0.0, -1.0])),  # theta
                    draw(st.sampled_from([np.inf, 5.0, 0.25])),  # theta_max
                    draw(st.sampled_from([1.0, 0.75, 0.0, -9.0])),  # keep (leak 10: -9)
                    draw(st.sampled_from([1.0, 2.5])), 0.5,  # psp, leak
                    0 if plain else draw(st.integers(0, 2)), False,  # cfc, theta_var
                    True if plain else draw(st.booleans()),  # always
                    True if plain else draw(st.booleans()),  # mp_acc
                    False if plain else draw(st.booleans()),  # mp_psp
                    False if plain else draw(st.booleans()), False)  # leak_linear, hold
    n = sum(sizes)
    cuts = sorted(set(draw(st.lists(st.integers(0, n), max_size=8))))
    blocks = [(lo, hi) for lo, hi in zip(cuts[::2], cuts[1::2], strict=False)]
    return {"sizes": sizes, "areas": areas,
            "starts": np.array([lo for lo, _ in blocks], np.int64),
            "stops": np.array([hi for _, hi in blocks], np.int64),
            "values": np.array([draw(st.sampled_from(ODD_VALUES)) for _ in blocks]),
            "state_seed": draw(st.integers(0, 2**32)), "t": draw(st.integers(1, 20)),
            "subtractive": draw(st.booleans()), "chunks": draw(st.integers(1, 4))}


def neuron_arrays(sizes: list[int], seed: int) -> tuple:
    """Random state: potentials and synaptic input from ODD_VALUES (input on about half the
    neurons, their bits set), countdowns and fire counts of every kind."""
    n = sum(sizes)
    r = np.random.default_rng(seed)
    odd = np.array(ODD_VALUES, np.float32)
    acc = np.where(r.random(n) < 0.5, odd[r.integers(0, odd.size, n)], 0).astype(np.float32)
    bits = np.zeros((n + 63) // 64, np.uint64)
    for i in np.flatnonzero(acc):
        bits[i >> 6] |= np.uint64(1) << np.uint64(i & 63)
    return (np.repeat(np.arange(len(sizes)), sizes).astype(np.uint16), np.zeros(n, np.float32),
            odd[r.integers(0, odd.size, n)], np.zeros(n, np.int32),
            r.integers(-1, 25, n).astype(np.int32), r.integers(0, 4, n).astype(np.int32), acc,
            bits, np.zeros(n, np.uint8), np.zeros(n, np.int32), np.zeros(n, np.float32),
            np.zeros(n, np.uint8))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=dynamics_cases())
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in the walked copy, on purpose
def test_dense_ranges_equal_their_walk_on_one_and_several_threads(case):
    """``dynamics`` with the ranges (dense insides), ``dynamics_parallel`` with them split over
    1-4 chunks, and ``dynamics`` with the ranges' values added beforehand as the walk adds
    them (after the synaptic sum) and no ranges: the same spikes, PSPs, V, countdowns and
    counts, bit for bit (NaN where NaN)."""
    no_i, no_f = np.zeros(0, np.int64), np.zeros(0, np.float32)
    starts, stops, values = case["starts"], case["stops"], case["values"]
    args = (case["areas"], np.uint64(case["state_seed"]), case["subtractive"])
    t = case["t"]
    results = []
    for mode in ("dense", "parallel", "walk"):
        nrn = neuron_arrays(case["sizes"], case["state_seed"])
        acc, bits = nrn[6], nrn[7]
        if mode == "walk":
            for lo, hi, value in zip(starts, stops, values, strict=True):
                idx = np.arange(lo, hi)
                acc[idx] = (acc[idx] + np.float32(value)).astype(np.float32)
                kernels.mark_ranges(np.array([lo]), np.array([hi]), bits)
            m = kernels.dynamics(t, t, starts[:0], stops[:0], values[:0], no_i, no_f, nrn, *args)
        else:
            kernels.mark_ranges(starts, stops, bits)
            if mode == "dense":
                m = kernels.dynamics(t, t, starts, stops, values, no_i, no_f, nrn, *args)
            else:
                m = kernels.dynamics_parallel(t, t, starts, stops, values, no_i, no_f, nrn,
                                              *args, case["chunks"])
        assert not bits.any() and not nrn[8].any(), mode  # bitset and fired flags clear
        results.append([nrn[9][:m].copy(), nrn[10][:m].copy()] + [nrn[k].copy() for k in (2, 4, 5, 6)])
    for other in results[1:]:
        for got, want in zip(other, results[0], strict=True):
            np.testing.assert_array_equal(got, want)
