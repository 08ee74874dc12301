"""The node and learning (DESIGN §4.7): on by default, frozen by a live parameter, kept by
~/save_state and ~/reset, visible in /diagnostics' engine values."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from rclpy.parameter import Parameter

from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.ros.brain_runner import BrainRunner

STDP = Path(__file__).resolve().parents[1] / "data" / "genomes" / "feagi_ref" / "stdp.genome.json"


def drive(runner: BrainRunner, bursts: range) -> None:
    """The recording's forced fires (pre and post of every plastic pair), through the engine."""
    schedule = json.loads(STDP.with_name("stdp.schedule.json").read_text())
    for b in bursts:
        for e in schedule:
            if e["burst"] == b:
                runner._engine.force_fire(e["area"], voxels=np.asarray(e["voxels"]))
        runner.step()


def weights(runner: BrainRunner) -> list[list[float]]:
    return [s.weight.tolist() for _, s in sorted(runner._engine.learned_synapses().items())]


GENOME = [[100.0] * 4, [100.0] * 4, [250.0] * 2]


def test_learning_is_on_by_default_and_the_warm_up_teaches_nothing():
    runner = BrainRunner(load_brain(STDP)[0])
    assert runner.learning and weights(runner) == GENOME
    drive(runner, range(4))
    assert weights(runner) != GENOME
    summary = runner.learning_summary()
    assert summary["plastic_projections"] == 3 and summary["plastic_synapses"] == 10
    assert summary["plastic_weight_sum"] == sum(map(sum, weights(runner)))


def test_a_frozen_runner_keeps_its_weights_until_learning_is_switched_on():
    runner = BrainRunner(load_brain(STDP)[0], learning=False)
    drive(runner, range(4))
    assert weights(runner) == GENOME
    runner.learning = True
    drive(runner, range(4, 6))
    assert weights(runner) != GENOME


def test_reset_keeps_and_checkpoints_restore_what_was_learned(tmp_path):
    runner = BrainRunner(load_brain(STDP)[0])
    drive(runner, range(6))
    learned = weights(runner)
    runner.save_state(str(tmp_path / "s.npz"))
    runner.reset()
    assert weights(runner) == learned
    other = BrainRunner(load_brain(STDP)[0])
    other.load_state(str(tmp_path / "s.npz"))
    assert weights(other) == learned


def test_learning_parameter_is_live_and_learning_shows_in_diagnostics(harness):
    pytest.importorskip("rclpy")
    # The stdp brain has no motor area: the default scan sensor stays unbound.
    h = harness([Parameter("genome", value=str(STDP))])
    h.configure_and_activate()
    assert h.node.runner.learning
    assert h.node.set_parameters([Parameter("learning", value=False)])[0].successful
    assert not h.node.runner.learning and not h.node.runner._engine.learning
    array = h.node._diagnostics()
    (engine,) = [s for s in array.status if s.name.endswith(": engine")]
    values = {kv.key: kv.value for kv in engine.values}
    assert values["learning"] == "False" and values["plastic_synapses"] == "10"


def test_the_compile_warm_up_burst_teaches_nothing():
    # The runner runs one burst at construction to compile the kernels. Make st_P the power
    # area (fired every burst, so also in that burst): P -> Q would lose ltd = 1 there.
    c, _ = load_brain(STDP)
    c = dataclasses.replace(c, power_area=c.area("st_P").index)
    runner = BrainRunner(c)
    assert weights(runner) == GENOME


def test_the_compile_warm_up_burst_stores_no_memory():
    # The power area (fired in every burst, so in the warm-up burst too) is the memory area's
    # upstream area: the warm-up must not leave a memory neuron nor use up a FEAGI id.
    cases = Path(__file__).resolve().parents[1] / "data" / "genomes" / "cases"
    c, _ = load_brain(cases / "04_memory_area.json")
    (m,) = c.memory_areas
    c.memory_areas = [dataclasses.replace(m, upstream=(c.power_area,))]
    runner = BrainRunner(c, motor_area="none")
    assert runner._engine.memory_neurons(m.area) == {}
    runner.step()
    assert list(runner._engine.memory_neurons(m.area)) == [50_000_000]  # the first id


def test_memory_areas_show_in_the_learning_summary():
    cases = Path(__file__).resolve().parents[1] / "data" / "genomes" / "cases"
    runner = BrainRunner(load_brain(cases / "04_memory_area.json")[0])
    assert runner.learning_summary() == {
        "learning": True, "memory M5Fmem": "0 alive (0 long-term) of 256; 0 refused (pool full)"}


def test_memory_capacity_parameter_sizes_the_pool(harness):
    cases = Path(__file__).resolve().parents[1] / "data" / "genomes" / "cases"
    # Case 04 drives a motor area but has no input area: no motor output, so the scan sensor
    # may stay unbound.
    h = harness([Parameter("genome", value=str(cases / "04_memory_area.json")),
                 Parameter("motor_area", value="none"), Parameter("memory_capacity", value=7)])
    h.configure_and_activate()
    assert h.node.runner._engine.memory_summary()[0]["capacity"] == 7


def test_the_plastic_synapse_bound_reaches_the_engine_and_the_summary():
    runner = BrainRunner(load_brain(STDP)[0], max_plastic_synapses=12)
    assert runner._engine.max_plastic_synapses == 12
    summary = runner.learning_summary()
    assert summary["max_plastic_synapses"] == 12 and summary["plastic_growth_refused"] == 0
