"""The Poisson drive (``drive.PoissonDrive``) and ``Engine.run`` (issue 13 item 2): the drive's
draws are counter-based, so the NumPy path (``apply``, one burst at a time), the compiled loop
(``kernels.driven_bursts`` behind ``Engine.run``) and the Python fallback of ``Engine.run`` inject
the same neurons, and runs batched in any chunks equal single steps and the reference, bit for
bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Drive, area, brain, connectomes, proj

from feagi_hailo_ros.engine.core import kernels
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.cpu_backend import CpuBackend
from feagi_hailo_ros.engine.core.drive import DRIVE_STREAM, PoissonDrive, drive_key
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.reference import excitability_draws

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def with_inputs(connectome: Connectome, inputs: list[bool]) -> Connectome:
    """``connectome`` with area ``a`` made an input (IPU) area where ``inputs[a]``."""
    areas = [dataclasses.replace(a, feagi_type="IPU") if inputs[a.index % len(inputs)] else a
             for a in connectome.areas]
    return dataclasses.replace(connectome, areas=areas)


def general(connectome: Connectome, **kw) -> Engine:
    """A CPU engine stepping through the backend's general path (no compiled direct path)."""
    backend = CpuBackend(**kw)
    backend.fused = False
    return Engine(connectome, backend)


def assert_same(a: Engine, b: Engine, msg: str) -> None:
    np.testing.assert_array_equal(a.fired_global(), b.fired_global(), err_msg=msg)
    sa, sb = a.neuron_state(), b.neuron_state()
    np.testing.assert_array_equal(sa.potentials, sb.potentials, err_msg=msg)
    np.testing.assert_array_equal(sa.refractory_countdown, sb.refractory_countdown, err_msg=msg)
    np.testing.assert_array_equal(sa.fire_counts, sb.fire_counts, err_msg=msg)


def compiled_injections(drive: PoissonDrive, n: int, burst: int) -> tuple[np.ndarray, np.ndarray]:
    """What ``kernels.drive_injections`` adds in ``burst`` to an empty input of ``n`` neurons:
    (ids whose bit it set, their accumulators)."""
    acc = np.zeros(n, np.float32)
    bits = np.zeros((n + 63) // 64, np.uint64)
    count = kernels.drive_injections(drive.kernel_args(), np.int64(burst), acc, bits)
    marked = np.flatnonzero(np.unpackbits(bits.view(np.uint8), bitorder="little")[:n])
    assert count == marked.size
    return marked, acc[marked]


# -- the draws ---------------------------------------------------------------------------------


@SETTINGS
@given(dims=st.lists(st.integers(1, 90), min_size=1, max_size=4), data=st.data(),
       seed=st.integers(-2**63, 2**64 - 1), rate=st.sampled_from([0.0, 1.0, 0.05, 0.5, 0.93]),
       burst=st.integers(0, 2**40), potential=st.sampled_from([100.0, 0.1, -2.5, 1e-30]))
def test_numpy_and_compiled_draws_inject_the_same_neurons(dims, data, seed, rate, burst,
                                                          potential):
    areas = [area(dims=(x, 1, 1), cid=f"{'i' if data.draw(st.booleans()) else 'c'}_{k:04d}")
             for k, x in enumerate(dims)]
    c = brain(areas)
    drive = PoissonDrive(c, rate, potential=potential, seed=seed)
    ids, values = drive.injections(burst)
    marked, acc = compiled_injections(drive, c.neuron_count, burst)
    np.testing.assert_array_equal(marked, ids)
    np.testing.assert_array_equal(acc, values.astype(np.float32))
    inputs = [a for a in c.areas if a.cortical_id.startswith("i")]
    assert set(ids.tolist()) <= {i for a in inputs for i in range(a.first_neuron,
                                                                    a.first_neuron + a.neuron_count)}
    if rate == 1.0:
        assert ids.size == sum(a.neuron_count for a in inputs)
    if rate == 0.0:
        assert ids.size == 0


def test_the_rule_is_the_excitability_hash_below_the_rate():
    c = brain([area(dims=(300, 1, 1), cid="i_a"), area(dims=(7, 1, 1), cid="c_b"),
               area(dims=(200, 1, 1), cid="i_c")])
    drive = PoissonDrive(c, 0.3, seed=11)
    ids = np.concatenate([np.arange(0, 300), np.arange(307, 507)])
    for burst in (0, 1, 12345):
        expected = ids[excitability_draws(drive_key(11), ids, burst) < 0.3]
        np.testing.assert_array_equal(drive.injections(burst)[0], expected)
    assert drive_key(11) == 11 + DRIVE_STREAM
    assert drive_key(-1) == DRIVE_STREAM - 1  # mod 2**64


def test_the_drive_injects_at_its_rate_independently_of_the_excitability_draw():
    c = brain([area(dims=(500, 1, 1), cid="i_a")])
    rate, bursts = 0.2, 200
    drive = PoissonDrive(c, rate, seed=5)
    ids = np.arange(500)
    hits = joint = 0
    for b in range(bursts):
        got = drive.injections(b)[0]
        hits += got.size
        # The engine seeded like the drive draws excitability from the same (neuron, burst)
        # pairs: the drive's key must make it another coin.
        joint += int((excitability_draws(5, got, b) < rate).sum())
    trials = 500 * bursts
    sd = (trials * rate * (1 - rate)) ** 0.5
    assert abs(hits - trials * rate) < 6 * sd, hits
    # Independent: P(both) = rate**2 (0.04), not rate (0.2) as with an unkeyed seed.
    sd2 = (trials * rate**2 * (1 - rate**2)) ** 0.5
    assert abs(joint - trials * rate**2) < 6 * sd2, joint
    assert np.unique(drive.injections(0)[0]).size == drive.injections(0)[0].size
    assert not np.array_equal(drive.injections(0)[0], drive.injections(1)[0])
    assert not np.array_equal(drive.injections(0)[0], PoissonDrive(c, rate, seed=6).injections(0)[0])
    del ids


def test_bad_rate_and_potential_are_refused():
    c = brain([area(cid="i_a")])
    for rate in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            PoissonDrive(c, rate)
    with pytest.raises(ValueError, match="potential"):
        PoissonDrive(c, 0.5, potential=float("inf"))


# -- Engine.run ------------------------------------------------------------------------------


@SETTINGS
@given(connectome=connectomes(max_areas=3, max_projections=6),
       inputs=st.lists(st.booleans(), min_size=1, max_size=3),
       rate=st.sampled_from([0.0, 1.0, 0.05, 0.3, 0.7]),
       potential=st.sampled_from([100.0, 1.0, 2.5, -1.0]),
       chunks=st.lists(st.integers(1, 9), min_size=1, max_size=6),
       stimulate=st.lists(st.booleans(), min_size=6, max_size=6),
       seed=st.integers(0, 2**20), drive_seed=st.integers(0, 2**31),
       inhibition=st.sampled_from(["clamped", "subtractive"]))
def test_batched_drive_equals_per_burst_drive_and_the_reference(
        connectome, inputs, rate, potential, chunks, stimulate, seed, drive_seed, inhibition):
    c = with_inputs(connectome, inputs)
    drive = PoissonDrive(c, rate, potential=potential, seed=drive_seed)
    batched = Engine(c, "cpu", seed=seed, inhibition=inhibition)
    single = general(c, seed=seed, inhibition=inhibition)
    ref = Engine(c, "reference", seed=seed, inhibition=inhibition)
    schedule = Drive(drive_seed, force_rate=0.1)
    for k, n in enumerate(chunks):
        # The per-burst way: the drive first, then what the schedule queues, then a step.
        drive.apply(single)
        if stimulate[k]:  # injections, ranges and forced fires at this chunk's first burst
            schedule.apply([batched, single, ref], c)
        counts = batched.run(n, drive=drive)   # the compiled loop
        ref_counts = ref.run(n, drive=drive)   # the Python fallback (no run_driven)
        expected = [single.step()]
        for _ in range(n - 1):
            drive.apply(single)
            expected.append(single.step())
        where = f"chunk {k} (bursts {batched.burst - n}..{batched.burst - 1})"
        assert counts.dtype == np.int64 and counts.tolist() == expected, where
        assert ref_counts.tolist() == expected, where
        assert_same(batched, single, where)
        assert_same(ref, single, where)
    assert batched.burst == single.burst == ref.burst == sum(chunks)
    # The batched engine took the compiled path, the general one did not.
    assert set(batched.last_timing) == {"backend:cpu", "total"}
    assert "backend:cpu.input" in single.last_timing


def test_run_drives_a_shipped_size_brain_in_one_call_like_single_steps():
    c = with_inputs(brain([area(dims=(8, 4, 2), cid="in", threshold=50.0),
                           area(dims=(10, 1, 1), cid="b", threshold=1.0, refractory=1)],
                          [proj(0, 0, 1, np.arange(64), np.arange(64) % 10, weight=1.0)]),
                    [True, False])
    drive = PoissonDrive(c, 0.05, seed=3)
    batched, single = Engine(c), general(c)
    counts = batched.run(500, drive=drive)
    expected = []
    for _ in range(500):
        drive.apply(single)
        expected.append(single.step())
    assert counts.tolist() == expected
    assert 0 < counts.sum() < 500 * c.neuron_count  # it fired, not everything every burst
    assert_same(batched, single, "after 500 bursts")
    # Without a drive: the held input (power area) only, same as step.
    assert batched.run(3).tolist() == [single.step() for _ in range(3)]


def test_run_without_the_direct_path_loops_with_the_same_result():
    """Rate dividers (like plasticity, memory, integrators) rule out the compiled path."""
    c = with_inputs(brain([area(dims=(6, 1, 1), cid="in", threshold=1.0),
                           area(dims=(6, 1, 1), cid="b", threshold=1.0)],
                          [proj(0, 0, 1, np.arange(6), np.arange(6)[::-1], weight=1.0)]),
                    [True, False])
    drive = PoissonDrive(c, 0.4, potential=1.0, seed=9)
    looped = Engine(c, rate_dividers={"b": 2})
    single = Engine(c, rate_dividers={"b": 2})
    looped.inject("b", indices=[1, 2], potentials=3.0)  # pending: the first burst, after the drive
    counts = looped.run(40, drive=drive)
    expected = []
    for b in range(40):
        drive.apply(single)
        if b == 0:
            single.inject("b", indices=[1, 2], potentials=3.0)
        expected.append(single.step())
    assert counts.tolist() == expected and counts.sum() > 0
    assert_same(looped, single, "after 40 bursts")


def test_a_drive_of_another_brain_is_refused_and_nothing_is_lost():
    small = with_inputs(brain([area(dims=(4, 1, 1), cid="in", threshold=1.0)]), [True])
    big = with_inputs(brain([area(dims=(9, 1, 1), cid="in", threshold=1.0)]), [True])
    engine = Engine(small)
    engine.inject("in", indices=[2], potentials=5.0)
    with pytest.raises(ValueError, match="outside this brain"):
        engine.run(3, drive=PoissonDrive(big, 1.0))
    assert engine.burst == 0
    assert engine.run(1).tolist() == [1]  # the pending injection is still there
    np.testing.assert_array_equal(engine.fired("in"), [2])
    assert engine.run(0).size == 0 and engine.burst == 1


def test_the_drive_comes_before_pending_injections_on_every_path():
    """float32 sums depend on order: from 0, the drive's 1 then 2**24 then -2**24 leave 0
    (16777217 rounds to 16777216), the other way round 1. Threshold 0.5 tells them apart."""
    # Area x, slowed, rules out the compiled path (Engine.run loops) without touching "in".
    c = with_inputs(brain([area(dims=(2, 1, 1), cid="in", threshold=0.5), area(cid="x")]),
                    [True, False])
    drive = PoissonDrive(c, 1.0, potential=1.0)
    big = 2.0**24

    def queue(e: Engine) -> None:
        e.inject("in", indices=[0], potentials=big)
        e.inject("in", indices=[0], potentials=-big)

    single = general(c)
    drive.apply(single)
    queue(single)
    assert single.step() == 1 and single.fired("in").tolist() == [1]
    for engine in (Engine(c), Engine(c, "reference"), Engine(c, rate_dividers={"x": 2})):
        queue(engine)
        assert engine.run(1, drive=drive).tolist() == [1]
        assert_same(engine, single, f"{engine.backend.name} {engine.rate_dividers}")


def test_a_batched_drive_crosses_the_epoch_rebase():
    c = with_inputs(brain([area(0, dims=(5, 1, 1), cid="in", threshold=2.0, refractory=3),
                           area(1, first=5, threshold=1.0)],
                          [proj(0, 0, 1, [0, 3], [0, 0], weight=1.0, delay=2),
                           proj(1, 1, 0, [0], [2], delay=1)]), [True, False])
    drive = PoissonDrive(c, 0.5, potential=2.0, seed=1)
    batched, single = Engine(c), general(c)
    for e in (batched, single):
        e.backend._REBASE_AT, e.backend._REBASE_BY = 8, 4
    counts = batched.run(30, drive=drive)
    expected = []
    for _ in range(30):
        drive.apply(single)
        expected.append(single.step())
    assert batched.backend._epoch > 0  # the batch was cut at the rebase
    assert counts.tolist() == expected and counts.sum() > 0
    assert_same(batched, single, "after 30 bursts")
