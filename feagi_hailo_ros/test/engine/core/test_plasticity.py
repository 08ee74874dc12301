"""Plasticity (DESIGN §4.7): STDP and associative_memory as FEAGI's engine runs them.

The recording ``stdp`` (test_feagi_recordings.py) is the oracle for plain STDP; these tests add
what it does not show: associative_memory against hand-computed values, both backends on random
plastic brains, checkpoints that continue learning exactly, freezing, reset and restore.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Drive, area, assert_same_run, brain, connectomes, proj

from feagi_hailo_ros.cli import main
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator
from feagi_hailo_ros.engine.core import checkpoint as ckpt
from feagi_hailo_ros.engine.core.connectome import Connectome, PlasticityRule
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.integrator import integrability
from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.engine.genome.builder import build_connectome
from feagi_hailo_ros.engine.genome.connectome_file import load_connectome, save_connectome

STDP = Path(__file__).resolve().parents[2] / "data" / "genomes" / "feagi_ref" / "stdp.genome.json"
BACKENDS = ["cpu", "reference"]


def associative_brain(ltp: float = 5.0, window: int = 2) -> Connectome:
    """A (2 neurons) -> B (2 neurons), associative_memory; B never fires by itself."""
    a = area(0, (2, 1, 1), first=0, threshold=1e6, psp=2.0, mp_acc=True)
    b = area(1, (2, 1, 1), first=2, threshold=1e6, mp_acc=True)
    rule = PlasticityRule(ltp=ltp, ltd=9.0, window=window, associative=True)
    return brain([a, b], [proj(0, 0, 1, [], [], plasticity=rule)])


def synapses(engine: Engine, p: int = 0) -> dict[tuple[int, int], float]:
    s = engine.learned_synapses()[p]
    return {(int(i), int(j)): float(w) for i, j, w in zip(s.pre, s.post, s.weight, strict=True)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_associative_memory_grows_synapses_between_coactive_neurons(backend):
    e = Engine(associative_brain(), backend)
    e.force_fire(0, indices=[0])
    e.force_fire(1, indices=[1])
    e.step()  # burst 0: only one burst of history, window 2: nothing yet
    assert synapses(e) == {}
    e.step()  # burst 1: window 0..1 holds A0 and B1 -> synapse A0->B1 with weight ltp
    assert synapses(e) == {(0, 1): 5.0}
    e.force_fire(0, indices=[1])
    e.force_fire(1, indices=[0])
    e.step()  # burst 2: window 1..2 holds A1 and B0: every synapse +5, then A1->B0 grows
    assert synapses(e) == {(0, 1): 10.0, (1, 0): 5.0}
    e.step()  # burst 3: window 2..3 still holds A1 and B0: +5 each, nothing new
    assert synapses(e) == {(0, 1): 15.0, (1, 0): 10.0}
    e.step()
    e.step()  # bursts 4, 5: nobody fired in the window: no change, and never a depression
    assert synapses(e) == {(0, 1): 15.0, (1, 0): 10.0}


@pytest.mark.parametrize("backend", BACKENDS)
def test_grown_synapses_carry_spikes_fired_after_they_grew(backend):
    # A spike takes the synapses of its firing burst (DESIGN §4.7): A1 fired at burst 2, when
    # A1->B0 did not exist yet (it grew after burst 2's firing), so B0 gets nothing at 3; A1
    # fired at burst 3 reaches B0 at 4 with the weight it had when it fired (5, grown after
    # burst 2; burst 3's update to 10 comes after burst 3's firing) x psp 2.
    e = Engine(associative_brain(), backend)
    e.force_fire(0, indices=[0])
    e.force_fire(1, indices=[1])
    e.step()
    e.step()
    for _ in range(2):  # bursts 2 and 3
        e.force_fire(0, indices=[1])
        e.force_fire(1, indices=[0])
        e.step()
    # burst 3: B0 got nothing (A1's burst-2 spike predates the synapse), nor did B1 (A0 last
    # fired at burst 0, before A0->B1 grew).
    assert e.potentials(1).tolist() == [0.0, 0.0]
    e.step()  # burst 4: A1's burst-3 spike over A1->B0
    assert e.potentials(1).tolist() == [10.0, 0.0]
    e.force_fire(0, indices=[1])
    e.step()  # burst 5: nothing in flight; A1 fires with A1->B0 at 15 (bursts 3 and 4 added 5)
    e.step()  # burst 6: 10 + 15 x 2
    assert e.potentials(1).tolist() == [40.0, 0.0]


def test_associative_rule_never_builds_synapses_at_load_and_uses_delay_1():
    c = build_connectome(_associative_genome())
    (p,) = c.projections
    assert p.synapse_count == 0 and p.delay == 1 and p.plasticity.associative


def _associative_genome() -> dict:
    g = json.loads(STDP.read_text())
    blueprint = g["blueprint"]
    for key in [k for k in blueprint if k.endswith("-cx-dstmap-d")]:
        blueprint[key] = {}
    src = next(k for k in blueprint if k.endswith("-cx-__name-t") and blueprint[k] == "st_P")
    dst_id = next(k.split("-")[1] for k in blueprint
                  if k.endswith("-cx-__name-t") and blueprint[k] == "st_Q")
    blueprint[src.replace("__name-t", "dstmap-d")] = {dst_id: [{
        "morphology_id": "associative_memory", "morphology_scalar": [1, 1, 1],
        "postSynapticCurrent_multiplier": 1, "plasticity_flag": True, "plasticity_constant": 1,
        "ltp_multiplier": 4, "ltd_multiplier": 1, "plasticity_window": 2,
        "synaptic_delay_bursts": 3}]}
    return g


def _plastic_variant(c: Connectome, choices: list[int]) -> Connectome:
    """``c`` with some projections plastic: 0 static, 1 STDP, 2 associative (synapses dropped)."""
    projections = []
    for p, kind in zip(c.projections, choices, strict=False):
        if kind == 1 and p.weights is None:
            p = dataclasses.replace(p, plastic=True, plasticity=PlasticityRule(
                ltp=2.0, ltd=1.0, window=1 + p.index % 3))
        elif kind == 2:
            p = dataclasses.replace(p, pre=p.pre[:0], post=p.post[:0], weights=None, delay=1,
                                    weight=1.0, plastic=True,
                                    plasticity=PlasticityRule(ltp=1.5, ltd=0.0, window=2,
                                                              associative=True))
        projections.append(p)
    projections += c.projections[len(projections):]
    return dataclasses.replace(c, projections=projections)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connectome=connectomes(max_areas=3, max_projections=5),
       kinds=st.lists(st.sampled_from([0, 1, 1, 2]), min_size=5, max_size=5),
       drive_seed=st.integers(0, 2**31))
def test_cpu_learns_exactly_as_the_reference(connectome, kinds, drive_seed):
    c = _plastic_variant(connectome, kinds)
    cpu, ref = Engine(c, "cpu"), Engine(c, "reference")
    drive = Drive(drive_seed, force_rate=0.2)
    for b in range(40):
        drive.apply([cpu, ref], c)
        assert cpu.step() == ref.step(), b
        np.testing.assert_array_equal(cpu.fired_global(), ref.fired_global(), err_msg=str(b))
        np.testing.assert_array_equal(cpu.neuron_state().potentials, ref.neuron_state().potentials)
        for p, s in cpu.learned_synapses().items():
            r = ref.learned_synapses()[p]
            np.testing.assert_array_equal(s.weight, r.weight, err_msg=f"burst {b}, projection {p}")
            np.testing.assert_array_equal(s.pre, r.pre)


def _stdp_schedule(connectome: Connectome) -> dict[int, list[dict]]:
    schedule = json.loads(STDP.with_name("stdp.schedule.json").read_text())
    by_burst: dict[int, list[dict]] = {}
    for e in schedule:
        by_burst.setdefault(e["burst"], []).append(e)
    return by_burst


def _drive(engine: Engine, by_burst: dict[int, list[dict]], b: int) -> None:
    for e in by_burst.get(b, ()):
        engine.force_fire(e["area"], voxels=np.asarray(e["voxels"]), potential=e["potential"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cut", [3, 23, 38])
def test_a_checkpoint_continues_learning_exactly(tmp_path, backend, cut):
    c, _ = load_brain(STDP)
    by_burst = _stdp_schedule(c)
    whole = Engine(c, backend)
    first = Engine(c, backend)
    for b in range(cut):
        _drive(first, by_burst, b)
        first.step()
    first.save_checkpoint(tmp_path / "s.npz")
    # Another brain's plasticity must not leak in: learn something different first.
    second = Engine(c, backend)
    second.force_fire("st_P", indices=[0, 1, 2, 3])
    second.step()
    second.load_checkpoint(tmp_path / "s.npz")
    for b in range(64):
        _drive(whole, by_burst, b)
        whole.step()
        if b >= cut:
            _drive(second, by_burst, b)
            second.step()
            np.testing.assert_array_equal(second.fired_global(), whole.fired_global())
            np.testing.assert_array_equal(second.neuron_state().potentials,
                                          whole.neuron_state().potentials, err_msg=str(b))
            for p, s in whole.learned_synapses().items():
                np.testing.assert_array_equal(second.learned_synapses()[p].weight, s.weight)


def _stdp_engine(bursts: int) -> tuple[Connectome, Engine]:
    """The stdp brain after ``bursts`` bursts of the recording's schedule."""
    c, _ = load_brain(STDP)
    e = Engine(c)
    by_burst = _stdp_schedule(c)
    for b in range(bursts):
        _drive(e, by_burst, b)
        e.step()
    return c, e


def test_learned_weights_differ_from_the_genome_after_the_recording():
    # Guards the test above: learning did happen in the stretch it compares.
    c, e = _stdp_engine(64)
    changed = [p for p, s in e.learned_synapses().items()
               if not np.array_equal(s.weight, np.abs(np.full(s.weight.size, c.projections[p].weight,
                                                              np.float32)))]
    assert changed == [0, 1, 2]


def test_a_frozen_brain_keeps_genome_weights_and_learns_again_when_unfrozen():
    c, _ = load_brain(STDP)
    by_burst = _stdp_schedule(c)
    frozen = Engine(c, learning=False)
    static = Engine(dataclasses.replace(c, projections=[
        dataclasses.replace(p, plasticity=None) for p in c.projections]))
    for b in range(12):
        _drive(frozen, by_burst, b)
        _drive(static, by_burst, b)
        frozen.step()
        static.step()
        np.testing.assert_array_equal(frozen.neuron_state().potentials,
                                      static.neuron_state().potentials)
    assert all(np.all(s.weight == abs(c.projections[p].weight))
               for p, s in frozen.learned_synapses().items())
    frozen.learning = True
    _drive(frozen, by_burst, 12)
    frozen.step()
    assert synapses(frozen, 2)[(0, 0)] == 200.0  # U0 fired, V0 did not: 250 - 50


def test_reset_keeps_what_was_learned_and_restore_brings_the_genome_back():
    e = Engine(associative_brain())
    e.force_fire(0, indices=[0])
    e.force_fire(1, indices=[1])
    e.step()
    e.step()
    e.reset()
    assert synapses(e) == {(0, 1): 5.0} and e.burst == 0
    e.force_fire(0, indices=[0])
    e.step()
    e.step()  # the grown synapse carries A0's spike after the reset
    assert e.potentials(1).tolist() == [0.0, 10.0]
    e.restore_genome_weights()
    assert synapses(e) == {}
    e.force_fire(0, indices=[0])
    e.step()
    e.step()
    assert e.potentials(1).tolist() == [0.0, 10.0]  # nothing new arrived: the synapse is gone


def test_a_checkpoint_from_before_plasticity_restores_genome_weights(tmp_path):
    c, e = _stdp_engine(6)
    static = Engine(dataclasses.replace(c, projections=[
        dataclasses.replace(p, plasticity=None) for p in c.projections]))
    static.save_checkpoint(tmp_path / "old.npz")  # no learned members, same brain identity
    assert ckpt.read_learned(tmp_path / "old.npz") is None
    e.load_checkpoint(tmp_path / "old.npz")
    assert all(np.all(s.weight == abs(c.projections[p].weight))
               for p, s in e.learned_synapses().items())


def test_a_checkpoint_with_learned_synapses_outside_the_brain_is_refused(tmp_path):
    e = Engine(associative_brain())
    e.save_checkpoint(tmp_path / "s.npz")
    learned = ckpt.read_learned(tmp_path / "s.npz")
    bad = ckpt.LearnedSynapses(np.array([7], np.int32), np.array([0], np.int32),
                               np.array([1.0], np.float32))
    learned.now[0] = bad
    state = e.backend.download_state()
    ckpt.save_checkpoint(tmp_path / "bad.npz", state, identity=e.identity,
                         synapse_count=e.connectome.synapse_count, inhibition=e.inhibition,
                         seed=e.seed, learned=learned)
    with pytest.raises(ckpt.CheckpointCorruptError, match="outside its areas"):
        e.load_checkpoint(tmp_path / "bad.npz")
    assert synapses(e) == {}  # nothing changed


def test_plastic_projections_stay_on_the_cpu_with_the_reason():
    c, _ = load_brain(STDP)
    reasons = integrability(c)
    assert reasons == [f"projection {p}: plastic (STDP): its weights change every burst, so it "
                       "stays on the CPU; keep it on the CPU" for p in range(3)]
    assoc = associative_brain()
    assert "plastic (associative_memory)" in integrability(assoc)[0]


def test_a_static_projection_sharing_targets_with_associative_growth_stays_on_the_cpu():
    # A -> B static (0.1 per spike) and A -> B associative_memory, both delay 1: the
    # associative mapping has no synapse at load but grows onto every B neuron, and its spikes
    # carry other contributions, so the float32 sum of the static one depends on the event
    # order as soon as it grew. An integrator for the static one must be refused; had it run,
    # B's potential drifts from the CPU's (900000.9 vs 900000.94 at burst 3).
    def make() -> Connectome:
        a = area(0, (3, 1, 1), first=0, threshold=1e9, psp=1.0)
        b = area(1, (1, 1, 1), first=3, threshold=1e30, mp_acc=True)
        rule = PlasticityRule(ltp=100000.0, ltd=0.0, window=1, associative=True)
        return brain([a, b], [proj(0, 0, 1, [0, 1, 2], [0, 0, 0], weight=0.1),
                              proj(1, 0, 1, [], [], plasticity=rule)])

    reasons = integrability(make())
    assert reasons[0] is not None and "same neurons" in reasons[0]
    with pytest.raises(ValueError, match="same neurons"):
        Engine(make(), "cpu", integrators={0: NumpyIntegrator()})


def test_a_saved_connectome_keeps_its_learning_rules(tmp_path):
    c, _ = load_brain(STDP)
    save_connectome(c, tmp_path / "c.npz")
    back = load_connectome(tmp_path / "c.npz")
    assert [p.plasticity for p in back.projections] == [p.plasticity for p in c.projections]


def test_inspect_shows_plastic_mappings_and_their_constants(capsys):
    assert main(["inspect", str(STDP)]) == 0
    out = capsys.readouterr().out
    assert "stdp +3/-1 window 1" in out and "stdp +3/-1 window 3" in out
    assert "stdp +5/-50 window 1" in out
    assert main(["inspect", str(STDP), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["mappings"][2]["plasticity"] == {"kind": "stdp", "ltp": 5.0, "ltd": 50.0,
                                                 "window": 1}


def test_run_can_freeze_learning(tmp_path, capsys):
    args = ["run", str(STDP), "--bursts", "64", "--quiet",
            "--stimulate", str(STDP.with_name("stdp.schedule.json"))]
    assert main(args) == 0
    learning = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*args, "--freeze"]) == 0
    frozen = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert learning["learning"] is True and frozen["learning"] is False
    # Learning changes what fires? Not here (targets fire only when forced), so compare the
    # summary's plastic synapse count, and that both runs fired the same forced sets.
    assert learning["plastic_synapses"] == frozen["plastic_synapses"] == 10
    assert learning["fired_total"] == frozen["fired_total"]
    assert frozen["plastic_weight_sum"] == 4 * 100 + 4 * 100 + 2 * 250  # the genome's
    assert learning["plastic_weight_sum"] != frozen["plastic_weight_sum"]


def test_same_run_on_both_backends_with_learning(tmp_path):
    # The shared harness, with a plastic recurrent area, to keep learning inside the suite that
    # checks every backend alike.
    a = area(0, (4, 1, 1), threshold=2.0, mp_acc=False)
    rule = PlasticityRule(ltp=1.0, ltd=0.5, window=2)
    c = brain([a], [proj(0, 0, 0, [0, 1, 2, 3], [1, 2, 3, 0], weight=1.5, plasticity=rule)])
    assert assert_same_run([Engine(c, "cpu"), Engine(c, "reference")], c, 50, seed=3) > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_associative_growth_stops_at_the_bound_and_counts_what_it_refused(backend):
    # A (2) -> B (2): the first co-activity of both A and both B would grow 4 synapses.
    e = Engine(associative_brain(window=1), backend, max_plastic_synapses=3)
    e.force_fire(0, indices=[0, 1])
    e.force_fire(1, indices=[0, 1])
    e.step()
    assert synapses(e) == {(0, 0): 5.0, (0, 1): 5.0, (1, 0): 5.0}  # source-major, first 3
    assert e.plasticity_stats() == {"plastic_synapses": 3, "max_plastic_synapses": 3,
                                    "growth_refused": 1}
    e.max_plastic_synapses = 4
    e.force_fire(0, indices=[1])
    e.force_fire(1, indices=[1])
    e.step()
    assert synapses(e)[(1, 1)] == 5.0 and e.plasticity_stats()["plastic_synapses"] == 4
    with pytest.raises(ValueError, match="max_plastic_synapses"):
        e.max_plastic_synapses = -1


def test_inspect_shows_no_depression_for_associative_memory(capsys):
    from feagi_hailo_ros.cli import _print_inspection
    from feagi_hailo_ros.engine.genome.brains import inspect_brain

    c = build_connectome(_associative_genome())
    _print_inspection(inspect_brain(c, None))
    out = capsys.readouterr().out
    assert "associative_memory +4 window 2" in out and "+4/-" not in out
