"""Shared backend suite: every registered backend runs every hand-computed rule case.

Each test is parametrized over ``core.engine.BACKENDS``; a backend that lacks
a capability a case needs is skipped with the reason (see ``needs``), and a
backend that is not available on this machine is skipped as a whole. The
expected values are worked out by hand from DESIGN §4 in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from strategies import area, brain, proj

from feagi_hailo_ros.engine.core.backend import (
    FEATURE_PER_SYNAPSE_WEIGHTS,
    FEATURE_SUBTRACTIVE,
    Backend,
    BurstInput,
    ExternalInput,
)
from feagi_hailo_ros.engine.core.engine import BACKENDS, Engine
from feagi_hailo_ros.engine.core.reference import excitability_draws


def _available(name: str) -> bool:
    return BACKENDS[name]().is_available()


@pytest.fixture(params=sorted(BACKENDS))
def backend(request) -> str:
    if not _available(request.param):
        pytest.skip(f"backend {request.param!r} is not available on this machine")
    return request.param


def needs(backend: str, feature: str) -> None:
    """Skip (with the reason) when ``backend`` lacks ``feature``."""
    b: Backend = BACKENDS[backend]()
    if feature not in b.features:
        pytest.skip(f"backend {backend!r} does not support {feature}")


def run(engine: Engine, schedule: list[dict]) -> list[np.ndarray]:
    """Run one burst per schedule entry; entries map area -> injection kwargs.

    An entry may hold ``"force": {area: indices}``. Returns global fired ids per burst.
    """
    raster = []
    for entry in schedule:
        for a, kw in entry.items():
            if a == "force":
                for fa, idx in kw.items():
                    engine.force_fire(fa, indices=idx)
            else:
                engine.inject(a, **kw)
        engine.step()
        raster.append(engine.fired_global())
    return raster


def V(engine: Engine, a: int = 0) -> np.ndarray:
    return engine.potentials(a)


# -- rule 3: threshold, increments, limit, leak --------------------------------


def test_threshold_and_accumulation(backend):
    e = Engine(brain([area(threshold=10.0)]), backend)
    e.inject(0, potentials=6.0)
    assert e.step() == 0 and V(e)[0] == 6.0
    e.inject(0, potentials=4.0)  # 6 + 4 = 10 >= 10: fires, V reset to 0
    assert e.step() == 1 and V(e)[0] == 0.0
    assert list(e.fired(0)) == [0]


def test_threshold_increments_per_voxel(backend):
    # theta = 10 + x*1 + y*2 + z*4, two neurons per voxel share it.
    a = area(dims=(3, 2, 2), npv=2, threshold=10.0, increment=(1.0, 2.0, 4.0), leak=1.0)
    e = Engine(brain([a]), backend)
    local = np.arange(a.neuron_count)
    xyz = a.voxel_of(local)
    theta = 10.0 + xyz[:, 0] + 2.0 * xyz[:, 1] + 4.0 * xyz[:, 2]
    e.inject(0, indices=local, potentials=theta - 0.5)
    assert e.step() == 0  # everyone half a unit short (leak 1.0 then clears V)
    e.inject(0, indices=local, potentials=theta)
    assert e.step() == a.neuron_count
    # Voxel-level check: the top voxel (2, 1, 1) needs 10 + 2 + 2 + 4 = 18.
    e.inject(0, voxels=[[2, 1, 1]], potentials=17.0)
    e.step()
    assert e.fired(0).size == 0
    e.inject(0, voxels=[[2, 1, 1]], potentials=18.0)
    e.step()
    assert e.fired_voxels(0).tolist() == [[2, 1, 1]]
    assert e.fired(0).size == 2


def test_threshold_limit_is_inclusive_upper_bound(backend):
    e = Engine(brain([area(dims=(3, 1, 1), threshold=10.0, limit=20.0, leak=0.5)]), backend)
    e.inject(0, indices=[0, 1, 2], potentials=[25.0, 20.0, 10.0])
    e.step()
    assert e.fired(0).tolist() == [1, 2]  # 25 is above the window: no fire, leaks
    assert V(e).tolist() == [12.5, 0.0, 0.0]


def test_leak_only_when_processed(backend):
    e = Engine(brain([area(threshold=100.0, leak=0.25)]), backend)
    e.inject(0, potentials=40.0)
    e.step()
    assert V(e)[0] == 30.0  # 40 * 0.75
    e.inject(0, potentials=40.0)
    e.step()
    assert V(e)[0] == 52.5  # (30 + 40) * 0.75
    e.step(5)  # rule 5: no input, no leak
    assert V(e)[0] == 52.5
    e.inject(0, potentials=0.0)  # a zero injection still makes a candidate: it leaks
    e.step()
    assert V(e)[0] == np.float32(52.5 * 0.75)


# -- refractory (rules 3 and 4) ------------------------------------------------


def test_refractory_blocks_r_bursts_and_drops_input(backend):
    e = Engine(brain([area(threshold=1.0, refractory=2)]), backend)
    raster = run(e, [{0: {"potentials": 5.0}}] * 7)
    assert [len(f) for f in raster] == [1, 0, 0, 1, 0, 0, 1]
    # Input during refractory is dropped, not stored: V stays at the reset value.
    e.inject(0, potentials=0.5)  # burst 7 is blocked (fired at 6)
    e.step()
    assert V(e)[0] == 0.0
    assert e.neuron_state().refractory_countdown[0] == 1


def test_refractory_ticks_without_input(backend):
    e = Engine(brain([area(threshold=1.0, refractory=2)]), backend)
    e.inject(0, potentials=5.0)
    e.step()  # fires at burst 0; countdown 2
    assert e.neuron_state().refractory_countdown[0] == 2
    e.step()  # burst 1, no input: ticks to 1
    assert e.neuron_state().refractory_countdown[0] == 1
    e.step()  # burst 2, no input: ticks to 0
    e.inject(0, potentials=5.0)
    assert e.step() == 1  # burst 3 fires


def test_refractory_zero_fires_every_burst(backend):
    e = Engine(brain([area(threshold=1.0, refractory=0)]), backend)
    raster = run(e, [{0: {"potentials": 1.0}}] * 4)
    assert [len(f) for f in raster] == [1, 1, 1, 1]


# -- consecutive fire limit ------------------------------------------------------


def test_consecutive_fire_limit_blocks_without_leak(backend):
    e = Engine(brain([area(threshold=5.0, cfc=2, leak=0.5)]), backend)
    fired, volts = [], []
    for _ in range(6):
        e.inject(0, potentials=5.0)
        fired.append(e.step())
        volts.append(float(V(e)[0]))
    # b0 fire (1), b1 fire (2), b2 at limit: blocked, count 0, V = 5 kept (no leak),
    # b3 V = 10 fires, b4 fires, b5 blocked again.
    assert fired == [1, 1, 0, 1, 1, 0]
    assert volts == [0.0, 0.0, 5.0, 0.0, 0.0, 5.0]
    assert e.neuron_state().fire_counts[0] == 0


def test_fire_count_survives_idle_bursts(backend):
    e = Engine(brain([area(threshold=5.0, cfc=2)]), backend)
    raster = run(e, [{0: {"potentials": 5.0}}, {}, {}, {}, {0: {"potentials": 5.0}},
                     {0: {"potentials": 5.0}}])  # fmt: skip
    # Count 1 after b0 is kept through the idle bursts, b4 makes it 2, b5 is blocked.
    assert [len(f) for f in raster] == [1, 0, 0, 0, 1, 0]


def test_fire_count_reset_when_countdown_expires(backend):
    e = Engine(brain([area(threshold=5.0, cfc=2, refractory=1)]), backend)
    fired, counts = [], []
    for _ in range(7):
        e.inject(0, potentials=5.0)
        fired.append(e.step())
        counts.append(int(e.neuron_state().fire_counts[0]))
    # b0 fire (1), b1 refractory, b2 fire (2), b3 refractory: the countdown reaches 0
    # with count >= cfc, so count <- 0 (rule 4) and b4 fires again instead of blocking.
    assert fired == [1, 0, 1, 0, 1, 0, 1]
    assert counts == [1, 1, 2, 0, 1, 1, 2]


def test_below_threshold_input_resets_fire_count(backend):
    e = Engine(brain([area(threshold=5.0, cfc=2)]), backend)
    raster = run(e, [{0: {"potentials": 5.0}}, {0: {"potentials": 1.0}},
                     {0: {"potentials": 4.0}}, {0: {"potentials": 5.0}}])  # fmt: skip
    # b1 is processed without firing: count <- 0, so b2 (V = 5) and b3 both fire.
    assert [len(f) for f in raster] == [1, 0, 1, 1]


# -- excitability -----------------------------------------------------------------


def test_excitability_zero_never_fires_but_integrates(backend):
    e = Engine(brain([area(threshold=1.0, excitability=0.0, leak=0.5)]), backend)
    for _ in range(5):
        e.inject(0, potentials=100.0)
        assert e.step() == 0
    # Not firing means leak: V = (((((100)*.5+100)*.5+100)*.5+100)*.5+100)*.5
    assert V(e)[0] == np.float32(96.875)


@pytest.mark.parametrize("e_value", [0.9995, 1.0])
def test_excitability_at_or_above_0999_always_fires(backend, e_value):
    e = Engine(brain([area(dims=(50, 1, 1), threshold=1.0, excitability=e_value)]), backend)
    raster = run(e, [{0: {"potentials": 1.0}}] * 20)
    assert all(len(f) == 50 for f in raster)


def test_excitability_draw_decides_and_is_reproducible(backend):
    n, bursts = 200, 12
    c = brain([area(dims=(n, 1, 1), threshold=1.0, excitability=0.5, leak=1.0)])
    rasters = {}
    for seed in (3, 3, 4):
        e = Engine(c, backend, seed=seed)
        rasters.setdefault(seed, []).append(run(e, [{0: {"potentials": 1.0}}] * bursts))
    assert all(np.array_equal(a, b) for a, b in zip(*rasters[3], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(rasters[3][0], rasters[4][0], strict=True))
    # Exactly the neurons whose stateless draw is below e fire.
    ids = np.arange(n)
    for t, fired in enumerate(rasters[3][0]):
        assert fired.tolist() == ids[excitability_draws(3, ids, t) < 0.5].tolist()
    rate = np.mean([len(f) for f in rasters[3][0]]) / n
    assert 0.4 < rate < 0.6


# -- rule 1: charge accumulation ------------------------------------------------------


def test_no_charge_accumulation_clears_v_every_burst(backend):
    e = Engine(brain([area(threshold=10.0, mp_acc=False)]), backend)
    for _ in range(3):
        e.inject(0, potentials=6.0)
        assert e.step() == 0
        assert V(e)[0] == 6.0  # 0 + 6 each time, never 12
    e.step()  # no input: V was still cleared at the start of the burst
    assert V(e)[0] == 0.0
    e.inject(0, potentials=10.0)
    assert e.step() == 1


def test_charge_accumulation_sums_across_bursts(backend):
    e = Engine(brain([area(threshold=10.0, mp_acc=True)]), backend)
    e.inject(0, potentials=6.0)
    e.step()
    e.inject(0, potentials=6.0)
    assert e.step() == 1


# -- rule 2: PSP ----------------------------------------------------------------------


def test_membrane_driven_psp_is_the_raw_potential(backend):
    # FEAGI sends the potential at firing unrounded and unclamped (recording min_mppsp).
    src = area(dims=(4, 1, 1), threshold=1.0, mp_psp=True, psp=99)
    dst = area(dims=(4, 1, 1), threshold=10_000.0)
    c = brain([src, dst], [proj(0, 0, 1, [0, 1, 2, 3], [0, 1, 2, 3], weight=2.0)])
    e = Engine(c, backend)
    e.inject(0, indices=[0, 1, 2, 3], potentials=[7.4, 300.0, 2.5, 3.5])
    e.step()
    assert e.fired(0).tolist() == [0, 1, 2, 3]
    e.step()
    psp = np.array([7.4, 300.0, 2.5, 3.5], np.float32)
    assert V(e, 1).tolist() == (np.float64(2.0) * psp.astype(np.float64)).astype(np.float32).tolist()


def test_forced_membrane_driven_source_sends_the_stimulation_potential(backend):
    # A force-fired mp_psp neuron sends the stimulation's potential, 100 by default (min_mpforce).
    src = area(dims=(2, 1, 1), threshold=1.0, mp_psp=True, psp=99)
    dst = area(dims=(2, 1, 1), threshold=10_000.0)
    c = brain([src, dst], [proj(0, 0, 1, [0, 1], [0, 1])])
    e = Engine(c, backend)
    e.force_fire(0, indices=[0])
    e.force_fire(0, indices=[1], potential=42.5)
    e.step()
    e.step()
    assert V(e, 1).tolist() == [100.0, 42.5]


def test_area_psp_and_signed_weight(backend):
    src = area(dims=(1, 1, 1), threshold=1.0, psp=3)
    dst = area(dims=(2, 1, 1), threshold=1000.0)
    c = brain([src, dst], [proj(0, 0, 1, [0], [0], weight=4.0), proj(1, 0, 1, [0], [1], weight=-4.0)])
    e = Engine(c, backend)
    e.inject(1, indices=[1], potentials=20.0)
    e.inject(0, potentials=1.0)
    e.step()
    e.step()
    # dst0 gets +12; dst1 gets -12 which the clamped rule counts as 0 (V stays 20).
    assert V(e, 1).tolist() == [12.0, 20.0]


def test_non_uniform_psp_divides_by_total_outdegree(backend):
    def build(uniform: bool):
        src = area(dims=(1, 1, 1), threshold=1.0, psp=6, uniform=uniform)
        dst = area(dims=(2, 1, 1), threshold=1000.0)
        # Neuron 0 has three synapses over two projections: outdegree 3.
        return brain([src, dst], [proj(0, 0, 1, [0, 0], [0, 0], weight=1.0),
                                  proj(1, 0, 1, [0], [1], weight=3.0)])  # fmt: skip

    for uniform, expect in ((False, [4.0, 6.0]), (True, [12.0, 18.0])):
        e = Engine(build(uniform), backend)
        e.inject(0, potentials=1.0)
        e.step(2)
        assert V(e, 1).tolist() == expect  # 2 * (1*6/3), 3*6/3 ; or 2*6, 3*6


def test_non_uniform_psp_fraction_exact_in_float32(backend):
    src = area(dims=(1, 1, 1), threshold=1.0, psp=1, uniform=False)
    dst = area(dims=(3, 1, 1), threshold=1000.0)
    e = Engine(brain([src, dst], [proj(0, 0, 1, [0, 0, 0], [0, 1, 2])]), backend)
    e.inject(0, potentials=1.0)
    e.step(2)
    assert V(e, 1).tolist() == [np.float32(1 / 3)] * 3


def test_per_synapse_weights(backend):
    needs(backend, FEATURE_PER_SYNAPSE_WEIGHTS)
    src = area(dims=(1, 1, 1), threshold=1.0, psp=2)
    dst = area(dims=(3, 1, 1), threshold=1000.0)
    p = proj(0, 0, 1, [0, 0, 0], [0, 1, 2], weights=np.array([5.0, -1.0, 63.0]))
    e = Engine(brain([src, dst], [p]), backend)
    e.inject(1, potentials=10.0)
    e.inject(0, potentials=1.0)
    e.step(2)
    assert V(e, 1).tolist() == [20.0, 10.0, 136.0]


# -- inhibition modes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "second", "expect"),
    [
        ("clamped", -15.0, 5.0),  # net negative counts as 0, still processed: 10 * 0.5
        ("clamped", -3.0, 5.0),
        ("subtractive", -15.0, 0.0),  # max(10 - 15, 0) = 0 (floor at rest), then leak
        ("subtractive", -3.0, 3.5),  # (10 - 3) * 0.5
    ],
)
def test_inhibition_modes(backend, mode, second, expect):
    if mode == "subtractive":
        needs(backend, FEATURE_SUBTRACTIVE)
    e = Engine(brain([area(threshold=100.0, leak=0.5)]), backend, inhibition=mode)
    e.inject(0, potentials=20.0)
    e.step()
    assert V(e)[0] == 10.0
    e.inject(0, potentials=second)
    e.step()
    assert V(e)[0] == expect


@pytest.mark.parametrize(("mode", "last"), [("clamped", 7.0), ("subtractive", 1.0)])
def test_inhibition_cancels_same_burst_excitation(backend, mode, last):
    if mode == "subtractive":
        needs(backend, FEATURE_SUBTRACTIVE)
    src = area(dims=(2, 1, 1), threshold=1.0)
    dst = area(dims=(1, 1, 1), threshold=10.0)
    c = brain([src, dst], [proj(0, 0, 1, [0], [0], weight=8.0), proj(1, 0, 1, [1], [0], weight=-6.0)])
    e = Engine(c, backend, inhibition=mode)
    e.inject(1, potentials=5.0)
    e.force_fire(0, indices=[0, 1])
    e.step()
    e.step()  # +8 - 6 arrive together: V = 5 + 2 in both modes
    assert V(e, 1)[0] == 7.0
    e.force_fire(0, indices=[1])
    e.step()
    e.step()  # only -6 arrives: FEAGI counts it as 0; subtractive removes stored charge
    assert V(e, 1)[0] == last


# -- delays -----------------------------------------------------------------------------


def test_two_mappings_with_different_delays_between_same_pair(backend):
    src = area(dims=(1, 1, 1), threshold=1.0)
    dst = area(dims=(1, 1, 1), threshold=1000.0)
    c = brain([src, dst], [proj(0, 0, 1, [0], [0], weight=1.0, delay=1),
                           proj(1, 0, 1, [0], [0], weight=2.0, delay=3)])  # fmt: skip
    e = Engine(c, backend)
    e.force_fire(0, indices=[0])
    volts = []
    for _ in range(5):
        e.step()
        volts.append(float(V(e, 1)[0]))
    # Spike at burst 0 arrives with weight 1 at burst 1 and weight 2 at burst 3.
    assert volts == [0.0, 1.0, 1.0, 3.0, 3.0]


def test_delay_chain_timing(backend):
    a = [area(dims=(1, 1, 1), threshold=1.0) for _ in range(3)]
    c = brain(a, [proj(0, 0, 1, [0], [0], delay=2), proj(1, 1, 2, [0], [0], delay=3)])
    e = Engine(c, backend)
    e.force_fire(0, indices=[0])
    raster = run(e, [{}] * 7)
    # area 0 at t=0, area 1 at t=2, area 2 at t=5 (global ids 0, 1, 2).
    assert [f.tolist() for f in raster] == [[0], [], [1], [], [], [2], []]


# -- power area -------------------------------------------------------------------------


def test_power_area_fires_every_burst(backend):
    power = area(dims=(2, 1, 1), threshold=1e9)
    dst = area(dims=(1, 1, 1), threshold=1000.0)
    c = brain([power, dst], [proj(0, 0, 1, [0, 1], [0, 0], weight=3.0)], power=0)
    e = Engine(c, backend)
    volts = []
    for _ in range(4):
        e.step()
        assert e.fired(0).tolist() == [0, 1]
        volts.append(float(V(e, 1)[0]))
    assert volts == [0.0, 6.0, 12.0, 18.0]  # two power neurons x 3, from burst 1 on
    assert V(e, 0).tolist() == [0.0, 0.0]  # their own state is untouched


# -- forced firing (rule 6) ---------------------------------------------------------------


def test_forced_firing_leaves_state_untouched(backend):
    e = Engine(brain([area(threshold=1000.0)]), backend)
    e.inject(0, potentials=5.0)
    e.step()
    e.force_fire(0, indices=[0])
    assert e.step() == 1
    assert V(e)[0] == 5.0
    s = e.neuron_state()
    assert s.refractory_countdown[0] == 0 and s.fire_counts[0] == 0


def test_forced_firing_integrates_same_burst_input(backend):
    e = Engine(brain([area(threshold=1000.0)]), backend)
    e.inject(0, potentials=4.0)
    e.force_fire(0, indices=[0])
    assert e.step() == 1
    assert V(e)[0] == 4.0


def test_forced_firing_during_refractory_freezes_countdown(backend):
    e = Engine(brain([area(threshold=1.0, refractory=3)]), backend)
    e.inject(0, potentials=5.0)
    e.step()  # b0 fires naturally: countdown 3
    e.force_fire(0, indices=[0])
    assert e.step() == 1  # b1: in the fired set although refractory
    assert e.neuron_state().refractory_countdown[0] == 3  # did not tick
    fired = [len(f) for f in run(e, [{0: {"potentials": 5.0}}] * 4)]
    assert fired == [0, 0, 0, 1]  # blocked b2..b4, fires b5 (one burst later than unforced)


def test_forced_firing_at_fire_limit_and_deduplicated(backend):
    src = area(dims=(1, 1, 1), threshold=1.0, cfc=1)
    dst = area(dims=(1, 1, 1), threshold=1000.0)
    e = Engine(brain([src, dst], [proj(0, 0, 1, [0], [0], weight=1.0)]), backend)
    e.inject(0, potentials=1.0)
    e.step()  # count 1 = limit
    e.inject(0, potentials=1.0)
    e.force_fire(0, indices=[0, 0])
    e.force_fire(0, indices=[0])
    assert e.step() == 1  # blocked by the limit but forced; one spike however often forced
    e.step()
    assert V(e, 1)[0] == 2.0  # one spike from b0, one from b1


def test_forced_membrane_psp_ignores_current_v(backend):
    # A forced mp_psp spike carries the stimulation potential, not V (recording min_mpforce),
    # and leaves V as it was.
    src = area(dims=(2, 1, 1), threshold=1000.0, mp_psp=True)
    dst = area(dims=(2, 1, 1), threshold=1000.0)
    e = Engine(brain([src, dst], [proj(0, 0, 1, [0, 1], [0, 1])]), backend)
    e.inject(0, indices=[0], potentials=42.0)
    e.step()
    e.force_fire(0, indices=[0, 1])
    e.step()
    assert V(e, 0).tolist() == [42.0, 0.0]
    e.step()
    assert V(e, 1).tolist() == [100.0, 100.0]


def test_forced_membrane_psp_after_rule_1_clear(backend):
    # mp_acc = false: V = 42 after b0 and reads 0 after b1 (rule 1); the forced spike carries
    # the stimulation potential all the same (recording min_mpforce).
    src = area(dims=(1, 1, 1), threshold=1000.0, mp_psp=True, mp_acc=False)
    dst = area(dims=(1, 1, 1), threshold=1000.0)
    e = Engine(brain([src, dst], [proj(0, 0, 1, [0], [0], weight=1.0)]), backend)
    e.inject(0, potentials=42.0)
    e.step()
    assert V(e, 0)[0] == 42.0
    e.force_fire(0, indices=[0], potential=7.0)
    e.step()
    assert V(e, 0)[0] == 0.0
    e.step()
    assert V(e, 1)[0] == 7.0 and e.neuron_state().burst == 3


# -- injections ------------------------------------------------------------------------------


def test_injection_forms(backend):
    a = area(dims=(2, 2, 1), npv=2, threshold=1000.0)
    e = Engine(brain([a]), backend)
    e.inject(0, voxels=[[0, 0, 0], [1, 1, 0]], potentials=[1.0, 2.0])  # per voxel
    e.inject(0, indices=[3, 3], potentials=5.0)  # repeats add up
    e.inject(0, potentials=0.5)  # whole area, scalar
    e.inject(0, potentials=np.arange(8, dtype=float))  # whole area, per neuron
    e.inject(0, potentials=0.25)  # a second dense range overlapping the first
    e.step()
    expect = np.arange(8, dtype=np.float32) + 0.75
    expect[[0, 1]] += 1.0
    expect[[6, 7]] += 2.0
    expect[3] += 10.0
    assert V(e).tolist() == expect.tolist()


def test_injections_apply_to_one_burst_only(backend):
    e = Engine(brain([area(threshold=1000.0)]), backend)
    e.inject(0, potentials=3.0)
    e.step(3)
    assert V(e)[0] == 3.0


def test_negative_injection_makes_candidate(backend):
    e = Engine(brain([area(threshold=1000.0, leak=0.5)]), backend)
    e.inject(0, potentials=10.0)
    e.step()
    e.inject(0, potentials=-1.0)
    e.step()
    assert V(e)[0] == 2.5  # clamped to +0, processed, leaked twice: 10*.5*.5


def test_infinite_threshold_limit_means_none(backend):
    e = Engine(brain([area(threshold=1.0, limit=math.inf)]), backend)
    e.inject(0, potentials=1e30)
    assert e.step() == 1


# -- the protocol itself, without the Engine ---------------------------------------------------


def test_protocol_direct_use(backend):
    a = area(dims=(4, 1, 1), threshold=2.0, refractory=1)
    c = brain([a], [proj(0, 0, 0, [0, 1], [2, 3], weight=2.0)])
    b: Backend = BACKENDS[backend]()
    assert isinstance(b.name, str) and b.is_available() and b.estimated_ops_per_second() > 0
    b.upload_neurons(c)
    b.upload_synapses(c)
    assert b.burst == 0 and b.history_length == 1
    fired = b.process_burst(BurstInput(inject_index=np.array([0, 1, 1]),
                                       inject_value=np.array([2.0, 1.0, 1.0])))  # fmt: skip
    assert fired == 2 and sorted(b.last_fired().tolist()) == [0, 1]
    idx, psp = b.fired_history(1)
    assert sorted(idx.tolist()) == [0, 1] and psp.tolist() == [1.0, 1.0]
    assert b.process_burst(BurstInput(force_index=np.array([0]))) == 3  # 2 and 3 receive 2.0
    snap = b.download_neurons()
    # 0 was forced while refractory, so its countdown froze at 1; 1 ticked down to 0.
    assert snap.burst == 2 and snap.refractory_countdown.tolist() == [1, 0, 1, 1]
    b.reset()
    assert b.burst == 0 and not b.download_neurons().potentials.any()


@pytest.mark.parametrize(
    "bad",
    [
        BurstInput(inject_index=np.array([4]), inject_value=np.array([1.0])),
        BurstInput(inject_index=np.array([-1]), inject_value=np.array([1.0])),
        BurstInput(force_index=np.array([9])),
        BurstInput(inject_ranges=np.array([[2, 5]]), inject_range_values=np.array([1.0])),
        BurstInput(external=[ExternalInput(3, np.ones(2, np.int64), 1.0, 0, 1)]),
    ],
)
def test_protocol_rejects_input_outside_the_brain(backend, bad):
    c = brain([area(dims=(4, 1, 1))])
    b: Backend = BACKENDS[backend]()
    b.upload_neurons(c)
    b.upload_synapses(c)
    with pytest.raises(IndexError):
        b.process_burst(bad)
    assert b.burst == 0


def test_a_failed_draw_at_the_fire_limit_leaks(backend):
    # DESIGN §4 rule 3: above threshold AND the excitability draw passes, then the limit decides.
    # A neuron at its limit whose draw fails did not reach the limit check: it leaks and its
    # count resets (had the limit been checked first, V would be kept without leak).
    c = brain([area(dims=(1, 1, 1), threshold=1.0, leak=0.5, cfc=1, excitability=0.5)])
    draws = [excitability_draws(0, np.array([0]), t)[0] for t in range(200)]
    b = next(t for t in range(199) if draws[t] < 0.5 <= draws[t + 1])
    e = Engine(c, backend)
    for t in range(b + 2):
        e.inject(0, potentials=2.0)
        fired = e.step()
        if t == b:
            assert fired == 1
    assert V(e, 0).tolist() == [1.0]  # 2.0 leaked by half, not kept
    assert e.neuron_state().fire_counts.tolist() == [0]
