"""The burst in one compiled call (issue 13): ``kernels.burst`` behind ``CpuBackend.run_prepared``,
the engine's direct path and batched ``Engine.step(n)`` give the spikes and state of the general
path (the backend's step-by-step ``process_burst``) and of the NumPy reference, bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Drive, area, assert_same_run, brain, connectomes, proj

from feagi_hailo_ros.engine.core.connectome import Connectome, PlasticityRule
from feagi_hailo_ros.engine.core.cpu_backend import CpuBackend
from feagi_hailo_ros.engine.core.engine import Engine

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def general(connectome: Connectome, **kw) -> Engine:
    """A CPU engine whose backend runs every burst step by step (the general path)."""
    backend = CpuBackend(**kw)
    backend.fused = False
    return Engine(connectome, backend)


def assert_same_state(a: Engine, b: Engine, msg: str = "") -> None:
    np.testing.assert_array_equal(a.fired_global(), b.fired_global(), err_msg=msg)
    sa, sb = a.backend.download_state(), b.backend.download_state()
    np.testing.assert_array_equal(sa.potentials, sb.potentials, err_msg=msg)
    np.testing.assert_array_equal(sa.refractory_countdown, sb.refractory_countdown, err_msg=msg)
    np.testing.assert_array_equal(sa.fire_counts, sb.fire_counts, err_msg=msg)
    np.testing.assert_array_equal(sa.kept_potential, sb.kept_potential, err_msg=msg)
    assert len(sa.history) == len(sb.history)
    for (ia, pa), (ib, pb) in zip(sa.history, sb.history, strict=True):
        np.testing.assert_array_equal(ia, ib, err_msg=msg)
        np.testing.assert_array_equal(pa, pb, err_msg=msg)


@SETTINGS
@given(connectome=connectomes(max_areas=3, max_projections=6),
       drive_seed=st.integers(0, 2**31),
       inhibition=st.sampled_from(["clamped", "subtractive"]),
       seed=st.integers(0, 2**20))
def test_one_call_per_burst_equals_the_general_path_and_the_reference(connectome, drive_seed,
                                                                     inhibition, seed):
    fused = Engine(connectome, "cpu", inhibition=inhibition, seed=seed)
    slow = general(connectome, inhibition=inhibition, seed=seed)
    ref = Engine(connectome, "reference", inhibition=inhibition, seed=seed)
    # Random forced fires, point injections and whole-area ranges over delays 1..3.
    assert_same_run([ref, fused, slow], connectome, 30, drive_seed)
    assert_same_state(fused, slow)
    # Each engine ran the path it is meant to test (the keys name the path).
    assert set(fused.backend.last_timing) == {"burst"}
    assert set(slow.backend.last_timing) == {"input", "propagate", "dynamics"}


@SETTINGS
@given(connectome=connectomes(max_areas=3, max_projections=6),
       drive_seed=st.integers(0, 2**31), n=st.integers(1, 9),
       repeat=st.booleans())
def test_batched_steps_equal_single_steps(connectome, drive_seed, n, repeat):
    batched, single, ref = Engine(connectome), general(connectome), Engine(connectome, "reference")
    drive = Drive(drive_seed)
    for b in range(4):
        drive.apply([batched, single, ref], connectome)
        fired = batched.step(n, repeat_inputs=repeat)
        held = None
        if repeat:  # what repeat_inputs means, spelled out: the same inputs every burst
            held = (list(single._inj_idx), list(single._inj_val), list(single._ranges),
                    list(single._force), list(single._force_psp))
        for _ in range(n):
            if held is not None:
                for engine in (single, ref):
                    (engine._inj_idx, engine._inj_val, engine._ranges, engine._force,
                     engine._force_psp) = (list(x) for x in held)
            last = single.step()
            assert ref.step() == last
        assert fired == last, b
        assert batched.burst == single.burst == ref.burst
        assert_same_state(batched, single, str(b))
        np.testing.assert_array_equal(ref.fired_global(), batched.fired_global())
    assert batched.stats()["bursts"] == 4 * n


def test_repeat_inputs_holds_the_drive_and_plain_steps_apply_it_once():
    c = brain([area(0, threshold=3.0, mp_acc=True)])
    held = Engine(c)
    held.inject(0, potentials=1.0)
    assert held.step(3, repeat_inputs=True) == 1  # 1 + 1 + 1 reaches 3 at the third burst
    once = Engine(c)
    once.inject(0, potentials=1.0)
    assert once.step(3) == 0
    assert once.potentials(0).tolist() == [1.0]
    # The reference engine (the loop of _step_once) means the same.
    ref = Engine(c, "reference")
    ref.inject(0, potentials=1.0)
    assert ref.step(3, repeat_inputs=True) == 1


@SETTINGS
@given(connectome=connectomes(max_areas=3, max_projections=5),
       dividers=st.lists(st.integers(1, 4), min_size=3, max_size=3),
       drive_seed=st.integers(0, 2**31))
def test_slowed_areas_in_one_call_equal_the_general_path(connectome, dividers, drive_seed):
    div = {a.index: dividers[a.index] for a in connectome.areas}
    fused = Engine(connectome, "cpu", rate_dividers=div)
    slow = general(connectome)
    slow.set_rate_dividers(div)
    drive = Drive(drive_seed)
    for b in range(24):
        drive.apply([fused, slow], connectome)
        assert fused.step() == slow.step(), b
        assert_same_state(fused, slow, str(b))
        s, r = fused.backend.download_state(), slow.backend.download_state()
        np.testing.assert_array_equal(s.carried_input, r.carried_input, err_msg=str(b))
        np.testing.assert_array_equal(s.carried_mask, r.carried_mask, err_msg=str(b))


@SETTINGS
@given(connectome=connectomes(max_areas=3, max_projections=5),
       windows=st.lists(st.integers(1, 3), min_size=5, max_size=5),
       drive_seed=st.integers(0, 2**31))
def test_plastic_brains_learn_the_same_in_one_call(connectome, windows, drive_seed):
    projections = [dataclasses.replace(p, plastic=True, plasticity=PlasticityRule(
        ltp=2.0, ltd=1.0, window=w)) if p.weights is None else p
        for p, w in zip(connectome.projections, windows, strict=False)]
    c = dataclasses.replace(connectome, projections=projections)
    fused, slow = Engine(c), general(c)
    assert_same_run([fused, slow], c, 30, drive_seed)
    for p, s in fused.learned_synapses().items():
        np.testing.assert_array_equal(s.weight, slow.learned_synapses()[p].weight)


def test_batched_steps_cross_the_epoch_rebase():
    c = brain([area(0, threshold=2.0, refractory=3), area(1, first=1, threshold=1.0)],
              [proj(0, 0, 1, [0], [0], weight=1.0, delay=2), proj(1, 1, 0, [0], [0], delay=1)],
              power=None)
    engines = [Engine(c), general(c)]
    for e in engines:
        e.backend._REBASE_AT, e.backend._REBASE_BY = 8, 4
        e.inject(0, potentials=5.0)
    engines[0].step(30, repeat_inputs=True)
    for _ in range(30):
        engines[1].inject(0, potentials=5.0)
        engines[1].step()
    assert engines[0].backend._epoch > 0  # the batch was cut at the rebase
    assert_same_state(*engines)


def test_history_arrays_handed_out_are_copies():
    c = brain([area(0, threshold=1.0)])
    e = Engine(c)
    e.inject(0, potentials=2.0)
    e.step()
    first = e.backend.last_fired()
    assert first.tolist() == [0]
    e.step()  # nothing fires: the ring slot is rewritten
    assert first.tolist() == [0] and e.backend.last_fired().size == 0


@pytest.mark.parametrize("bad", [[-1], [5]])
def test_bad_indices_are_refused_before_the_compiled_call(bad):
    e = Engine(brain([area(0, dims=(5, 1, 1))]))
    with pytest.raises(IndexError):
        e.inject(0, indices=bad, potentials=1.0)
    with pytest.raises(IndexError):
        e.force_fire(0, indices=bad)
    e.step()  # nothing of the refused input is pending
    assert e.fired_global().size == 0
