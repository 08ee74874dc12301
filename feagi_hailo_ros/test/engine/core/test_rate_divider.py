"""Multi-rate areas (README "Multi-rate areas", a deviation from FEAGI the user chooses): a slowed
area runs every k-th burst with its input summed over the k bursts, its refractory period and
snooze counted in updates, its spikes propagated once and shown until its next update."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Drive, area, brain, connectomes, proj

from feagi_hailo_ros.engine.core.engine import Engine

BACKENDS = ["cpu", "reference"]


def chain(refractory: int = 0) -> object:
    """A (1 neuron, threshold 3, no charge accumulation) -> B (1 neuron, never fires)."""
    return brain([area(0, threshold=3.0, mp_acc=False, refractory=refractory),
                  area(1, first=1, threshold=1e6)],
                 [proj(0, 0, 1, [0], [0], weight=1.0)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_input_is_summed_over_k_bursts_and_spikes_propagate_once(backend):
    e = Engine(chain(), backend, rate_dividers={0: 3})
    fired, b_potential = [], []
    for _ in range(7):
        e.inject(0, potentials=1.0)
        e.step()
        fired.append(e.fired(0).tolist())
        b_potential.append(float(e.potentials(1)[0]))
    # Updates at bursts 2 and 5 (t % 3 == 2): three 1.0 inputs arrive as 3.0 and reach θ = 3;
    # the spike is shown until the next update and reaches B once (at the burst after it).
    assert fired == [[], [], [0], [0], [0], [0], [0]]
    assert b_potential == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]
    # Every area at full rate: 1.0 never reaches θ = 3 (no charge accumulation).
    full = Engine(chain(), backend)
    for _ in range(7):
        full.inject(0, potentials=1.0)
        assert full.step() == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_refractory_period_counts_updates(backend):
    e = Engine(chain(refractory=1), backend, rate_dividers={0: 2})
    updates = []
    for t in range(10):
        e.inject(0, potentials=2.0)  # 4.0 per update: above θ every update
        e.step()
        if t % 2 == 1:
            updates.append(e.backend.last_fired().tolist())
    # Fires at the update of burst 1, refractory for one update (burst 3), fires at 5, ...
    assert updates == [[0], [], [0], [], [0]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_forced_fire_of_a_slowed_area_fires_at_once(backend):
    e = Engine(chain(), backend, rate_dividers={0: 4})
    e.force_fire(0, indices=[0])
    e.step()
    assert e.backend.last_fired().tolist() == [0]


def test_bad_dividers_are_refused():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="rate divider"):
            Engine(chain(), rate_dividers={0: bad})
    with pytest.raises(KeyError):
        Engine(chain(), rate_dividers={"nope": 2})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connectome=connectomes(max_areas=3, max_projections=5),
       dividers=st.lists(st.integers(1, 4), min_size=3, max_size=3),
       drive_seed=st.integers(0, 2**31))
def test_cpu_equals_the_reference_with_slowed_areas(connectome, dividers, drive_seed):
    div = {a.index: dividers[a.index] for a in connectome.areas}
    cpu = Engine(connectome, "cpu", rate_dividers=div)
    ref = Engine(connectome, "reference", rate_dividers=div)
    drive = Drive(drive_seed)
    for b in range(40):
        drive.apply([cpu, ref], connectome)
        assert cpu.step() == ref.step(), b
        np.testing.assert_array_equal(cpu.fired_global(), ref.fired_global(), err_msg=str(b))
        s, r = cpu.backend.download_state(), ref.backend.download_state()
        np.testing.assert_array_equal(s.potentials, r.potentials, err_msg=str(b))
        np.testing.assert_array_equal(s.refractory_countdown, r.refractory_countdown)
        np.testing.assert_array_equal(s.fire_counts, r.fire_counts)
        np.testing.assert_array_equal(s.carried_mask, r.carried_mask, err_msg=str(b))
        np.testing.assert_array_equal(s.carried_input, r.carried_input, err_msg=str(b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_checkpoint_between_updates_keeps_the_carried_input(tmp_path, backend):
    c = chain()
    e = Engine(c, backend, rate_dividers={0: 3})
    e.inject(0, potentials=1.0)
    e.step()
    e.inject(0, potentials=1.0)
    e.step()  # two 1.0 carried, the update at burst 2 has not come
    e.save_checkpoint(tmp_path / "r.npz")
    other = Engine(c, backend, rate_dividers={0: 3})
    other.load_checkpoint(tmp_path / "r.npz")
    other.inject(0, potentials=1.0)
    other.step()
    assert other.fired(0).tolist() == [0]  # 1 + 1 + 1 reached θ = 3
    with pytest.raises(Exception, match="rate_dividers"):
        Engine(c, backend).load_checkpoint(tmp_path / "r.npz")


def test_dividers_can_be_changed_after_a_reset():
    e = Engine(chain(), rate_dividers={0: 3})
    e.set_rate_dividers({0: 1})
    assert e.rate_dividers == {}
    e.inject(0, potentials=3.0)
    e.step()
    assert e.fired(0).tolist() == [0]
    assert dataclasses.is_dataclass(e.backend.download_state())


def test_placement_rules_carry_dividers_to_the_node_engine():
    from feagi_hailo_ros.engine.accel.placement import PlacementRules
    from feagi_hailo_ros.ros.accelerators import AcceleratorConfig, make_engine

    c = chain()
    with pytest.raises(ValueError, match="rate_dividers"):
        PlacementRules.from_dict({"rate_dividers": {"a0": 0}})
    import json
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"rate_dividers": {"a0": 3}}, f)
    choice = make_engine(c, AcceleratorConfig(placement_config=f.name))
    assert choice.engine.rate_dividers == {0: 3}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as g:
        json.dump({"rate_dividers": {"nope": 3}}, g)
    with pytest.raises(ValueError, match="rate_dividers"):
        make_engine(c, AcceleratorConfig(placement_config=g.name))


def test_a_divider_past_the_bound_is_refused_not_overflowed():
    from feagi_hailo_ros.engine.core.engine import MAX_RATE_DIVIDER

    Engine(chain(), rate_dividers={0: MAX_RATE_DIVIDER})
    for bad in (MAX_RATE_DIVIDER + 1, 2**63, 2**70):
        with pytest.raises(ValueError, match="rate divider"):
            Engine(chain(), rate_dividers={0: bad})
