"""Memory areas (DESIGN §4.7) against hand-computed values: detections, memory neurons created,
deleted and alive per burst, long-term conversion, the associative readout, checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Drive, area, brain, chain, connectomes, proj

from feagi_hailo_ros.cli import main
from feagi_hailo_ros.engine.core import checkpoint as ckpt
from feagi_hailo_ros.engine.core.connectome import Connectome, MemoryArea, PlasticityRule
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.memory import MEMORY_NEURON_ID_START

CASES = Path(__file__).resolve().parents[2] / "data" / "genomes" / "cases"
A, M, B = 0, 1, 2
BACKENDS = ["cpu", "reference"]


def memory_brain(depth: int = 1, lifespan: int = 3, growth: int = 2, longterm: int = 6,
                 capacity: int = 4) -> Connectome:
    """A (2 neurons) feeds memory area M (a pool of ``capacity``); M -> B associative (Δ+ 2,
    window 1). A and B fire only when forced; M's PSP is 3."""
    areas = [area(A, (2, 1, 1), first=0, threshold=1e6),
             area(M, (1, 1, 1), npv=capacity, first=2, threshold=1e6, psp=3.0),
             area(B, (2, 1, 1), first=2 + capacity, threshold=1e6)]
    rule = PlasticityRule(ltp=2.0, ltd=0.0, window=1, associative=True)
    c = brain(areas, [proj(0, M, B, [], [], plasticity=rule)])
    c.memory_areas = [MemoryArea(area=M, depth=depth, lifespan=lifespan, growth=growth,
                                 longterm=longterm, upstream=(A,), capacity=capacity)]
    return c


def run(e: Engine, schedule: dict[int, list[tuple[int, int]]], bursts: int) -> list[dict]:
    """Step ``bursts`` bursts forcing ``schedule[t]`` = [(area, neuron)]; per burst what the
    memory areas did and which memory neurons fired."""
    out = []
    for t in range(bursts):
        for a, i in schedule.get(t, ()):
            e.force_fire(a, indices=[i])
        e.step()
        ev = e.last_memory_events
        out.append({"created": len(ev.created), "reactivated": len(ev.reactivated),
                    "deleted": len(ev.deleted), "converted": len(ev.converted),
                    "alive": e.memory_summary()[0]["alive"],
                    "memory_fired": e.fired(M).tolist()})
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_creation_reactivation_ageing_and_deletion(backend):
    e = Engine(memory_brain(), backend)
    got = run(e, {0: [(A, 0)], 2: [(A, 0)], 3: [(A, 1)]}, 8)
    # Hand-computed (depth 1, lifespan 3, growth 2): t0 creates n0 (3); t1 nothing detected,
    # n0 ages to 2 and fires (detected at t0); t2 the same window reactivates n0 (2 + 2 = 4, not
    # aged); t3 A1 creates n1 (3), n0 ages to 3, n0 fires; t4, t5 both age (2, 1 / 2, 1), n1
    # fires at t4; t6 both reach 0 and die.
    assert [(g["created"], g["reactivated"], g["deleted"], g["alive"]) for g in got] == [
        (1, 0, 0, 1), (0, 0, 0, 1), (0, 1, 0, 1), (1, 0, 0, 2), (0, 0, 0, 2), (0, 0, 0, 2),
        (0, 0, 2, 0), (0, 0, 0, 0)]
    # Detected at t, fired at t + 1, always (FEAGI: t + 1 or t + 2 by a thread race).
    assert [g["memory_fired"] for g in got] == [[], [0], [], [0], [1], [], [], []]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_neuron_reactivated_to_the_threshold_becomes_long_term_and_stops_ageing(backend):
    e = Engine(memory_brain(), backend)
    got = run(e, {t: [(A, 0)] for t in range(4)}, 30)
    # t0 create 3, t1 5, t2 7; t3: 7 >= 6 converts before detection, then no more growth.
    assert [g["converted"] for g in got[:5]] == [0, 0, 0, 1, 0]
    assert all(g["alive"] == 1 and g["deleted"] == 0 for g in got)
    (info,) = e.memory_neurons(M).values()
    assert info == {"neuron": 0, "lifespan": 7, "long_term": True}
    assert e.memory_summary() == [{"area": "a1", "alive": 1, "long_term": 1, "capacity": 4,
                                   "pool_full": 0}]


@pytest.mark.parametrize("backend", BACKENDS)
def test_windows_are_compared_exactly_over_the_depth(backend):
    e = Engine(memory_brain(depth=2, lifespan=50), backend)
    # Windows (t-1, t): t1 (A0, A1) new; t2 (A1, -) new; t3 (-, A1) new; t4 (A1, A0) new;
    # t5 (A0, A1) = t1's: reactivated; t6 (A1, -) = t2's.
    got = run(e, {0: [(A, 0)], 1: [(A, 1)], 3: [(A, 1)], 4: [(A, 0)], 5: [(A, 1)]}, 7)
    assert [g["created"] for g in got] == [0, 1, 1, 1, 1, 0, 0]
    assert [g["reactivated"] for g in got] == [0, 0, 0, 0, 0, 1, 1]
    # t0 has one burst of history only: nothing, although A0 fired.
    assert got[0]["alive"] == 0


def test_ids_start_at_50_million_are_global_and_never_reused():
    e = Engine(memory_brain(capacity=1), "cpu")
    run(e, {0: [(A, 0)]}, 5)  # n0 dies at t3 (3 -> 0 over t1..t3)
    assert e.memory_neurons(M) == {}
    run(e, {0: [(A, 1)]}, 1)
    (fid,) = e.memory_neurons(M)
    assert fid == MEMORY_NEURON_ID_START + 1  # the slot is reused, the id is not


def test_a_full_pool_creates_nothing_and_says_so():
    e = Engine(memory_brain(capacity=1), "cpu")
    got = run(e, {0: [(A, 0)], 1: [(A, 1)]}, 2)
    assert [g["created"] for g in got] == [1, 0]
    assert e.memory_summary()[0]["pool_full"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_associative_readout_and_synapses_die_with_their_memory_neuron(backend):
    e = Engine(memory_brain(), backend)
    # t0: A0 stores n0; t1: n0 fires (forced by memory) and B0 is forced: n0 -> B0 grows (Δ+ 2)
    # t2: A0 again: n0 detected, fires at t3 over the grown synapse: B0 gets 2 x psp 3 at t4.
    run(e, {0: [(A, 0)], 1: [(B, 0)], 2: [(A, 0)]}, 5)
    assert e.learned_synapses()[0].pre.tolist() == [0]
    assert e.potentials(B).tolist() == [6.0, 0.0]
    run(e, {}, 6)  # n0: 4 after t2, ages to 0 at t6 (t3..t6) -> deleted with its synapse
    assert e.memory_neurons(M) == {} and e.learned_synapses()[0].pre.size == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_checkpoint_keeps_memory_neurons_and_continues_exactly(tmp_path, backend):
    schedule = {0: [(A, 0)], 1: [(B, 0)], 2: [(A, 0)], 3: [(A, 1)], 6: [(A, 1)]}
    whole = Engine(memory_brain(), backend)
    ref = run(whole, schedule, 12)
    first = Engine(memory_brain(), backend)
    run(first, schedule, 3)
    first.save_checkpoint(tmp_path / "m.npz")
    second = Engine(memory_brain(), backend)
    second.load_checkpoint(tmp_path / "m.npz")
    rest = run(second, {t - 3: v for t, v in schedule.items() if t >= 3}, 9)
    assert rest == ref[3:]
    assert second.memory_neurons(M) == whole.memory_neurons(M)


def test_a_corrupt_memory_state_is_refused(tmp_path):
    e = Engine(memory_brain(), "cpu")
    run(e, {0: [(A, 0)]}, 1)
    state = e.backend.download_state()
    memory = e._memory.state()
    memory["pools"][0]["stored"] = [[[[0]], 99]]  # a slot outside the pool
    ckpt.save_checkpoint(tmp_path / "bad.npz", state, identity=e.identity,
                         synapse_count=e.connectome.synapse_count, inhibition=e.inhibition,
                         seed=e.seed, learned=e._learned_state(), memory=memory)
    with pytest.raises(ckpt.CheckpointCorruptError, match="slot outside the pool"):
        e.load_checkpoint(tmp_path / "bad.npz")
    assert len(e.memory_neurons(M)) == 1  # unchanged


def test_a_frozen_brain_neither_stores_nor_forgets():
    e = Engine(memory_brain(), "cpu", learning=False)
    for _ in range(3):
        e.force_fire(A, indices=[0])
        e.step()
    assert e.memory_neurons(M) == {} and e.last_memory_events is None
    e.learning = True
    run(e, {0: [(A, 0)]}, 1)
    assert len(e.memory_neurons(M)) == 1


def test_shared_case_04_loads_and_runs_with_its_memory_area(tmp_path, capsys):
    case = CASES / "04_memory_area.json"
    assert main(["run", str(case), "--bursts", "20", "--quiet", "--lenient"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["memory_areas"] == [{"area": "M5Fmem", "alive": 0, "long_term": 0,
                                        "capacity": 256, "pool_full": 0}]
    assert main(["inspect", str(case)]) == 0
    assert "memory" in capsys.readouterr().out


def test_memory_state_round_trips_through_json():
    e = Engine(memory_brain(depth=2), "cpu")
    run(e, {0: [(A, 0)], 1: [(A, 1)]}, 3)
    state = json.loads(json.dumps(e._memory.state()))
    other = Engine(memory_brain(depth=2), "cpu")
    other._memory.set_state(state)
    assert other.memory_neurons(M) == e.memory_neurons(M)
    np.testing.assert_array_equal(other._memory._pools[0].lifespan, e._memory._pools[0].lifespan)


def test_a_dead_neurons_window_is_stored_anew():
    e = Engine(memory_brain(), "cpu")
    run(e, {0: [(A, 0)]}, 4)  # n0 created at t0 (3), dies at t3
    assert e.memory_neurons(M) == {}
    got = run(e, {0: [(A, 0)]}, 1)  # the same window again: a new neuron, not the dead one
    assert (got[0]["created"], got[0]["reactivated"]) == (1, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_reused_slot_starts_at_rest(backend):
    # A -> M associative too: A0 grows a synapse onto n0 and charges it (M accumulates). When
    # n0 dies its slot is reused; the new memory neuron starts with V 0 (FEAGI registers a new
    # memory neuron with membrane potential 0).
    c = memory_brain(lifespan=3, growth=2, longterm=100, capacity=1)
    rule = PlasticityRule(ltp=2.0, ltd=0.0, window=1, associative=True)
    c.projections.append(proj(1, A, M, [], [], plasticity=rule))
    e = Engine(c, backend)
    run(e, {0: [(A, 0)], 1: [(A, 0)], 2: [(A, 0)]}, 4)
    assert e.potentials(M)[0] > 0  # A0's spikes over A0 -> n0
    got = run(e, {}, 10)
    assert sum(g["deleted"] for g in got) == 1
    run(e, {0: [(A, 1)]}, 1)  # a new window: the freed slot 0 is reused
    assert len(e.memory_neurons(M)) == 1 and e.potentials(M)[0] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_window_after_unfreezing_holds_the_frozen_bursts_not_older_ones(backend):
    # Depth 2: (A1, A1) is stored at t1; learning is off for t2..t4 (nothing fires) and on again
    # at t5, when A1 fires. The window at t5 is (t4, t5) = (nothing, A1), a new pattern, as in a
    # brain that never froze; a window that skipped the frozen bursts would be (t1, t5) =
    # (A1, A1) and reactivate the neuron of a pattern the brain did not see.
    frozen = Engine(memory_brain(depth=2, lifespan=50, longterm=100), backend)
    run(frozen, {0: [(A, 1)], 1: [(A, 1)]}, 2)
    frozen.learning = False
    run(frozen, {}, 3)
    frozen.learning = True
    got = run(frozen, {0: [(A, 1)]}, 1)
    assert (got[0]["created"], got[0]["reactivated"], got[0]["alive"]) == (1, 0, 2)
    assert frozen._memory.state()["pools"][0]["window"] == [[[]], [[1]]]  # A1: global id 1


@st.composite
def memory_brains(draw: st.DrawFn) -> Connectome:
    """A random brain plus one memory area fed by some of its areas, read out and written into
    by associative_memory, some other projections plastic (STDP)."""
    c = draw(connectomes(max_areas=3, max_projections=4))
    n, cap = len(c.areas), draw(st.integers(1, 6))
    m = area(n, (1, 1, 1), npv=cap, threshold=draw(st.sampled_from([1.0, 1e6])),
             psp=draw(st.sampled_from([1.0, 2.5])), mp_acc=draw(st.booleans()),
             uniform=draw(st.booleans()))
    projections = list(c.projections)
    for i, p in enumerate(projections):
        if p.weights is None and draw(st.booleans()):
            projections[i] = proj(i, p.src_area, p.dst_area, p.pre, p.post, weight=p.weight,
                                  delay=p.delay, plasticity=PlasticityRule(
                                      ltp=2.0, ltd=1.0, window=1 + i % 3))
    pairs = [(n, d) for d in sorted(draw(st.sets(st.integers(0, n), max_size=3)))]
    pairs += [(s, n) for s in sorted(draw(st.sets(st.integers(0, n - 1), max_size=2)))]
    for src, dst in pairs:
        rule = PlasticityRule(ltp=draw(st.sampled_from([1.0, 2.0, 3.0])), ltd=0.0,
                              window=draw(st.integers(1, 3)), associative=True)
        projections.append(proj(len(projections), src, dst, [], [], plasticity=rule))
    out = Connectome(areas=chain([*c.areas, m]), projections=projections,
                     power_area=c.power_area)
    out.memory_areas = [MemoryArea(
        area=n, depth=draw(st.integers(1, 3)), lifespan=draw(st.integers(1, 5)),
        growth=draw(st.integers(0, 3)), longterm=draw(st.integers(1, 8)),
        upstream=tuple(sorted(draw(st.sets(st.integers(0, n - 1), min_size=1)))),
        capacity=cap)]
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=memory_brains(), seed=st.integers(0, 2**31), freeze=st.integers(-1, 30))
def test_both_backends_agree_on_random_memory_brains_frozen_for_a_while(c, seed, freeze):
    cpu, ref = Engine(c, "cpu"), Engine(c, "reference")
    drive = Drive(seed, force_rate=0.2)
    for b in range(40):
        if b in (freeze, freeze + 5):
            cpu.learning = ref.learning = b != freeze
        drive.apply([cpu, ref], c)
        assert cpu.step() == ref.step(), b
        np.testing.assert_array_equal(cpu.fired_global(), ref.fired_global(), err_msg=str(b))
        np.testing.assert_array_equal(cpu.neuron_state().potentials,
                                      ref.neuron_state().potentials, err_msg=str(b))
        assert cpu.memory_summary() == ref.memory_summary()
        for p, s in cpu.learned_synapses().items():
            r = ref.learned_synapses()[p]
            np.testing.assert_array_equal(s.pre, r.pre)
            np.testing.assert_array_equal(s.weight, r.weight, err_msg=f"burst {b}, proj {p}")
