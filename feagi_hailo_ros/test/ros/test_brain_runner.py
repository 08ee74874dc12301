"""BrainRunner's input and engine rules on a fake engine and an injected clock (no DDS, no
wall time): held readings expire after ``hold_s`` (the node's ``input_timeout_s``), reset
clears held and queued input, queued input (``area_input``) is injected once, a swap
closes the engine it replaces, and the fired set is split per area (also after a swap)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.ros import brain_runner
from feagi_hailo_ros.ros.accelerators import EngineChoice
from feagi_hailo_ros.ros.brain_runner import BrainRunner, BrainSource, build_brain

SENSOR_AREA = "i__pro"
VOXELS = np.array([[0, 0, 1]], np.int64)
POTENTIALS = np.array([2.0], np.float32)


class FakeEngine:
    """Records what each burst was given; fires nothing."""

    def __init__(self, connectome: Connectome) -> None:
        self.connectome = connectome
        self.burst = 0
        self.closed = 0
        self.last_timing: dict[str, float] = {}
        self.learning = True  # a static brain: nothing to learn, as Engine without plastic rules
        self._injected: list[tuple[str, object]] = []
        #: Per burst: the (area, voxels) injected before it.
        self.bursts: list[list[tuple[str, object]]] = []

    def inject(self, area: str, voxels=None, indices=None, potentials=None) -> None:
        self._injected.append((area, None if voxels is None else np.asarray(voxels).tolist()))

    def prepare_injection(self, area: str, voxels=None, indices=None, potentials=None):
        self.prepared = getattr(self, "prepared", 0) + 1  # how many conversions were made
        return (area, None if voxels is None else np.asarray(voxels).tolist())

    def inject_prepared(self, prepared) -> None:
        self._injected.append(prepared)

    def step(self) -> int:
        self.bursts.append(self._injected)
        self._injected = []
        self.burst += 1
        return 0

    def fired_global(self) -> np.ndarray:
        return np.zeros(0, np.int64)

    def reset(self) -> None:
        self.burst, self._injected, self.bursts = 0, [], []

    def restore_genome_weights(self) -> None:
        """A static brain has no learned weights to restore."""

    def learned_synapses(self) -> dict:
        return {}

    def close(self) -> None:
        self.closed += 1


@pytest.fixture(scope="module")
def brain() -> Connectome:
    return build_brain(BrainSource(genome_path="obstacle_avoidance"))


@pytest.fixture
def runner(brain, monkeypatch) -> BrainRunner:
    monkeypatch.setattr(brain_runner, "make_engine",
                        lambda connectome, *a, **k: EngineChoice(FakeEngine(connectome)))
    return BrainRunner(brain, motor_area="o__mot")


def engine(runner: BrainRunner) -> FakeEngine:
    return runner.choice.engine


def injected(runner: BrainRunner) -> list[tuple[str, object]]:
    """What the last burst was given."""
    return engine(runner).bursts[-1]


def test_a_held_reading_is_injected_until_it_is_older_than_hold_s(runner) -> None:
    runner.hold_s = 0.5  # the node sets it from input_timeout_s
    runner.latch("scan", SENSOR_AREA, VOXELS, POTENTIALS, now=10.0)
    for now in (10.0, 10.25, 10.5):  # every burst of the hold, the last one at exactly hold_s
        runner.step(now=now)
        assert injected(runner) == [(SENSOR_AREA, VOXELS.tolist())], now
    runner.step(now=10.51)
    assert injected(runner) == [], "a reading older than hold_s is still injected"
    runner.step(now=10.3)  # expired for good: an earlier clock reading does not revive it
    assert injected(runner) == []


def test_a_newer_reading_restarts_the_hold(runner) -> None:
    runner.hold_s = 0.5
    runner.latch("scan", SENSOR_AREA, VOXELS, POTENTIALS, now=10.0)
    runner.latch("scan", SENSOR_AREA, VOXELS + [1, 0, 0], POTENTIALS, now=10.4)
    runner.step(now=10.8)
    assert injected(runner) == [(SENSOR_AREA, (VOXELS + [1, 0, 0]).tolist())]


def test_reset_clears_held_and_queued_input(runner) -> None:
    runner.hold_s = 3600.0
    runner.latch("scan", SENSOR_AREA, VOXELS, POTENTIALS, now=10.0)
    runner.queue_voxels(SENSOR_AREA, VOXELS, POTENTIALS)
    runner.reset()
    runner.step(now=10.1)
    assert injected(runner) == [], "input from before the reset reached the brain"


def test_queued_input_is_injected_once(runner) -> None:
    # area_input messages are queued, not held: one message, one injection.
    runner.queue_voxels(SENSOR_AREA, VOXELS, POTENTIALS)
    runner.queue_indices(SENSOR_AREA, np.array([3]), np.array([1.0], np.float32))
    runner.step(now=1.0)
    assert injected(runner) == [(SENSOR_AREA, VOXELS.tolist()), (SENSOR_AREA, None)]
    runner.step(now=1.01)
    assert injected(runner) == []


def test_a_swap_closes_the_engine_it_replaces(runner, brain) -> None:
    old = engine(runner)
    runner.swap(runner.prepare_swap(brain))
    new = runner._pending.choice.engine
    assert old.closed == 0, "closed before the swap took effect"
    result = runner.step(now=1.0)
    assert result.swapped and engine(runner) is new
    assert (old.closed, new.closed) == (1, 0)


def test_a_swap_applied_between_bursts_closes_the_old_engine(runner, brain) -> None:
    old = engine(runner)
    runner.swap(runner.prepare_swap(brain))
    runner.apply_pending()  # the node does this for an upload while inactive
    assert engine(runner) is not old and old.closed == 1


class FiringFakeEngine(FakeEngine):
    """Fires a chosen set of global neuron ids every burst."""

    fired_ids = np.zeros(0, np.int64)

    def fired_global(self) -> np.ndarray:
        return np.sort(self.fired_ids)


def _expected_split(connectome: Connectome, ids: np.ndarray) -> dict[str, list[int]]:
    return {a.cortical_id: [int(g) - a.first_neuron for g in ids
                            if a.first_neuron <= g < a.first_neuron + a.neuron_count]
            for a in connectome.areas}


def _relaid(connectome: Connectome) -> Connectome:
    """The same areas in reverse order, laid out again (other first neurons), no synapses."""
    areas, first = [], 0
    for k, a in enumerate(reversed(connectome.areas)):
        areas.append(dataclasses.replace(a, index=k, first_neuron=first))
        first += a.neuron_count
    return dataclasses.replace(connectome, areas=areas, projections=[], power_area=None)


def test_the_fired_set_is_split_per_area_and_follows_a_swapped_brain(brain, monkeypatch) -> None:
    monkeypatch.setattr(brain_runner, "make_engine",
                        lambda connectome, *a, **k: EngineChoice(FiringFakeEngine(connectome)))
    runner = BrainRunner(brain, motor_area="o__mot")
    # Every area's first and last neuron: the bounds of each slice.
    ids = np.array(sorted({g for a in brain.areas
                           for g in (a.first_neuron, a.first_neuron + a.neuron_count - 1)}))
    FiringFakeEngine.fired_ids = ids
    got = {k: v.tolist() for k, v in runner.step(now=1.0).fired.items()}
    assert got == _expected_split(brain, ids)
    other = _relaid(brain)
    runner.swap(runner.prepare_swap(other))
    result = runner.step(now=1.1)
    assert result.swapped
    assert {k: v.tolist() for k, v in result.fired.items()} == _expected_split(other, ids)


def test_a_held_reading_is_converted_once_and_a_newer_one_again(runner) -> None:
    fake = engine(runner)
    runner.latch("scan", SENSOR_AREA, VOXELS, POTENTIALS, now=0.0)
    for t in range(3):
        runner.step(now=0.01 * t)
    assert fake.prepared == 1  # held for three bursts, converted once
    newer = VOXELS[::-1].copy()
    runner.latch("scan", SENSOR_AREA, newer, POTENTIALS, now=0.05)
    runner.step(now=0.06)
    assert fake.prepared == 2 and injected(runner) == [(SENSOR_AREA, newer.tolist())]
    runner.reset()
    runner.latch("scan", SENSOR_AREA, VOXELS, POTENTIALS, now=0.1)
    runner.step(now=0.11)
    assert fake.prepared == 3


def test_a_held_reading_is_converted_again_for_a_swapped_in_brain(runner, brain) -> None:
    runner.latch("scan", SENSOR_AREA, VOXELS, POTENTIALS, now=0.0)
    runner.step(now=0.0)
    runner.swap(runner.prepare_swap(brain))
    runner.step(now=0.01)  # the new engine numbers its neurons its own way
    assert engine(runner).prepared == 1 and injected(runner) == [(SENSOR_AREA, VOXELS.tolist())]
