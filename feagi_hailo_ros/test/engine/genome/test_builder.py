"""Connectome building: synapse counts, weights, attractivity, strictness, memory limit."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
from genome_factory import flat_area, genome_v2, genome_v3, rule, v3_id

from feagi_hailo_ros.engine.genome.builder import build_connectome, estimate_memory
from feagi_hailo_ros.engine.genome.errors import (
    BrainTooLargeError,
    GeneValueError,
    PlasticityIgnoredWarning,
    UnknownAreaError,
    UnknownMorphologyError,
    UnsupportedFeatureError,
    UnsupportedMorphologyError,
)
from feagi_hailo_ros.engine.genome.parser import load_genome
from feagi_hailo_ros.genomes import example_genome_path


def two_areas(src_dims, dst_dims, rules, src_genes=None, dst_genes=None, morphologies=None):
    return genome_v2(flat_area("c__src", src_dims, dstmap={"c__dst": rules}, **(src_genes or {})),
                     flat_area("c__dst", dst_dims, **(dst_genes or {})),
                     morphologies=morphologies)


def pairs(projection):
    return set(zip(projection.pre.tolist(), projection.post.tolist(), strict=True))


# --------------------------------------------------------------- shipped genomes


def test_obstacle_avoidance_counts():
    c = build_connectome(example_genome_path("obstacle_avoidance"))
    by_name = {(c.areas[p.src_area].cortical_id, p.morphology): p for p in c.projections}
    expected = {
        ("___pwr", "cruise_forward"): 2,
        ("i__pro", "prox_left"): 8 * 10,  # 8 sectors x 10 nearness levels, one synapse each
        ("i__pro", "prox_right"): 8 * 10,
        ("c__obl", "turn_right"): 7 * 2,  # nearness 3..9 -> two motor neurons
        ("c__obl", "stop_right_forward"): 7 * 10,
        ("c__obl", "suppress_not_nearer"): sum(k + 1 for k in range(3, 10)),
        ("c__obr", "turn_left"): 7 * 2,
        ("c__obr", "stop_left_forward"): 7 * 10,
        ("c__obr", "suppress_farther"): sum(range(3, 10)),
    }
    assert {k: p.synapse_count for k, p in by_name.items()} == expected
    assert c.neuron_count == 1 + 16 * 10 + 10 + 10 + 4 * 10
    assert c.area(c.power_area).cortical_id == "___pwr"
    assert by_name[("c__obl", "stop_right_forward")].weight == -20.0
    assert len(c.source_checksum) == 64 and c.notes == []


def test_v2_and_v3_obstacle_avoidance_build_the_same_brain():
    c2 = build_connectome(example_genome_path("obstacle_avoidance"))
    c3 = build_connectome(example_genome_path("obstacle_avoidance_v3"))
    assert [a.name for a in c2.areas] == [a.name for a in c3.areas]
    assert c3.area(c3.power_area).cortical_id == v3_id("___power")
    for p2, p3 in zip(c2.projections, c3.projections, strict=True):
        assert (p2.morphology, p2.weight, p2.delay) == (p3.morphology, p3.weight, p3.delay)
        assert np.array_equal(p2.pre, p3.pre) and np.array_equal(p2.post, p3.post)


def test_vision_counts_and_speed():
    start = time.perf_counter()
    c = build_connectome(example_genome_path("vision"))
    elapsed = time.perf_counter() - start
    assert c.neuron_count == 128 * 128 * 3 + 2 * 128 * 128 * 4 + 2 * 64 * 64 * 8 + \
        32 * 32 * 16 + 8 * 8 * 32
    counts = {}
    for p in c.projections:
        key = (c.areas[p.src_area].cortical_id, c.areas[p.dst_area].cortical_id, p.morphology)
        counts[key] = p.synapse_count
    assert counts[("iv00_C", "c_v1__", "projector")] == 128 * 128 * 4
    assert counts[("c_v1__", "c_v1__", "lateral_+x")] == 127 * 128 * 4
    assert counts[("c_v1__", "c_v2__", "projector")] == 128 * 128 * 8
    assert counts[("c_v2__", "c_v2__", "horizontal_pair")] == (63 + 62) * 64 * 8
    assert counts[("c_v4__", "c_v4__", "lateral_-z")] == 32 * 32 * 15
    assert counts[("c_v4__", "c_it__", "projector")] == 32 * 32 * 32
    assert c.synapse_count == 846_336
    assert elapsed < 10  # a few tenths of a second on one core; generous for a shared CI box


# ---------------------------------------------------------------- synapse rules


def test_neurons_per_voxel_connect_all_to_all_between_voxels():
    c = build_connectome(two_areas((2, 1, 1), (2, 1, 1), [rule("block_to_block")],
                                   src_genes={"_n_cnt": 2}, dst_genes={"_n_cnt": 3}))
    (p,) = c.projections
    # voxel 0 -> voxel 0 and voxel 1 -> voxel 1, 2 x 3 neurons each
    assert pairs(p) == {(s, d) for v in range(2) for s in (2 * v, 2 * v + 1)
                        for d in (3 * v, 3 * v + 1, 3 * v + 2)}
    src, dst = c.area("c__src"), c.area("c__dst")
    assert src.voxel_of(p.pre).tolist() == dst.voxel_of(p.post).tolist()


def test_local_indices_follow_the_connectome_numbering():
    c = build_connectome(two_areas((3, 2, 2), (3, 2, 2), [rule("lateral_+x")]))
    (p,) = c.projections
    src, dst = c.area("c__src"), c.area("c__dst")
    assert (dst.voxel_of(p.post) - src.voxel_of(p.pre)).tolist() == [[1, 0, 0]] * p.synapse_count
    assert p.synapse_count == 2 * 2 * 2
    assert p.pre.dtype == np.int32 and p.post.dtype == np.int32


@pytest.mark.parametrize(("psc", "weight"), [(1, 1.0), (-3, -3.0), (300, 255.0), (-1000, -255.0),
                                             (0.5, 0.5), (0, 0.0)])
def test_weight_is_signed_and_clamped(psc, weight):
    (p,) = build_connectome(two_areas((1, 1, 1), (1, 1, 1), [rule("block_to_block", psc)])).projections
    assert p.weight == weight


def test_two_rules_between_one_pair_are_two_projections_with_their_delays():
    c = build_connectome(two_areas((2, 1, 1), (2, 1, 1), [
        rule("block_to_block", 2, delay=3), rule("all_to_all", -1)]))
    p0, p1 = c.projections
    assert (p0.rule_index, p0.delay, p0.weight, p0.synapse_count) == (0, 3, 2.0, 2)
    assert (p1.rule_index, p1.delay, p1.weight, p1.synapse_count) == (1, 1, -1.0, 4)
    assert p0.src_area == p1.src_area and p0.dst_area == p1.dst_area


def test_psp_threshold_and_leak_conversion():
    c = build_connectome(genome_v2(
        flat_area("c__aaa", pstcr_=300, fthlim=0, leak_c=10, excite=100),
        flat_area("c__bbb", pstcr_=-3, fthlim=7, leak_c=0.5, excite=0.25),
        flat_area("c__ccc", pstcr_=2.7, excite=50)))
    a, b, cc = c.area("c__aaa"), c.area("c__bbb"), c.area("c__ccc")
    assert (a.psp, a.threshold_limit, a.leak, a.excitability) == (255, math.inf, 1.0, 1.0)
    assert (b.psp, b.threshold_limit, b.leak, b.excitability) == (0, 7.0, 0.5, 0.25)
    assert (cc.psp, cc.excitability) == (2, 1.0)
    assert any("leak_coefficient 10" in n for n in c.notes)
    assert any("neuron_excitability 50" in n for n in c.notes)
    assert [x.first_neuron for x in c.areas] == [0, 1, 2]


# --------------------------------------------------------------- attractivity


def attractive(seed=0, synatt=50, extra_rule=False, rule_level=None):
    rules = [rule("all_to_all")]
    if rule_level is not None:
        rules = [{"morphology_id": "all_to_all", "synapse_attractivity": rule_level}]
    g = genome_v2(flat_area("c__src", (40, 1, 1), dstmap={"c__dst": rules}),
                  flat_area("c__dst", (40, 1, 1), synatt=synatt,
                            dstmap={"c__src": [rule("all_to_all")]} if extra_rule else {}))
    c = build_connectome(g, seed=seed)
    return next(p for p in c.projections if c.areas[p.src_area].cortical_id == "c__src")


def test_attractivity_keeps_a_seeded_fraction():
    a, b, other = attractive(seed=7), attractive(seed=7), attractive(seed=8)
    assert np.array_equal(a.pre, b.pre) and np.array_equal(a.post, b.post)
    assert pairs(a) != pairs(other)
    assert 600 < a.synapse_count < 1000  # 1600 candidates at 50 %
    assert pairs(a) <= {(s, d) for s in range(40) for d in range(40)}


def test_attractivity_draw_does_not_depend_on_other_mappings():
    # The dst area's synatt applies to the c__src -> c__dst mapping (FEAGI's rule);
    # adding an unrelated mapping must not shift its random draws.
    assert pairs(attractive(seed=3)) == pairs(attractive(seed=3, extra_rule=True))


def test_attractivity_extremes_and_rule_override():
    assert attractive(synatt=0).synapse_count == 0
    assert attractive(synatt=100).synapse_count == 1600
    assert attractive(synatt=0, rule_level=100).synapse_count == 1600


# ------------------------------------------------------------------ plasticity


def test_plastic_mapping_loads_static_with_one_warning():
    g = two_areas((2, 1, 1), (2, 1, 1), [rule("block_to_block", plastic=True)])
    with pytest.warns(PlasticityIgnoredWarning, match="c__src -> c__dst rule 0") as record:
        c = build_connectome(g)
    assert len([w for w in record if w.category is PlasticityIgnoredWarning]) == 1
    (p,) = c.projections
    assert p.plastic and p.synapse_count == 2
    assert any("plasticity" in n for n in c.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_connectome(two_areas((2, 1, 1), (2, 1, 1), [rule("block_to_block")]))


# ------------------------------------------------------------ strict / non-strict


@pytest.mark.parametrize(("genome", "error", "fragment"), [
    (two_areas((1, 1, 1), (1, 1, 1), [rule("no_such_morph")]), UnknownMorphologyError,
     "no_such_morph"),
    (genome_v2(flat_area("c__src", dstmap={"c__zzz": [rule("projector")]})), UnknownAreaError,
     "c__zzz"),
    (two_areas((1, 1, 1), (1, 1, 1), [rule("tile")], morphologies={"tile": {
        "type": "composite", "parameters": {"src_seed": [1, 1, 1]}}}),
     UnsupportedMorphologyError, "composite"),
    (two_areas((1, 1, 1), (1, 1, 1), [rule("memory")]), UnsupportedMorphologyError, "memory"),
    (two_areas((1, 1, 1), (1, 1, 1), [rule("randomizer")]), UnsupportedMorphologyError,
     "randomizer"),
    (two_areas((1, 1, 1), (1, 1, 1), [rule("projector")], dst_genes={"_group": "MEMORY"}),
     UnsupportedFeatureError, "memory area 'c__dst'"),
    (two_areas((1, 1, 1), (1, 1, 1), [rule("projector")], src_genes={"memory": True}),
     UnsupportedFeatureError, "memory area 'c__src'"),
])
def test_strict_raises_and_lenient_skips_with_notes(genome, error, fragment):
    with pytest.raises(error) as err:
        build_connectome(genome)
    assert fragment in str(err.value)
    assert "c__src" in str(err.value) or "c__dst" in str(err.value)  # names the area/mapping
    c = build_connectome(genome, strict=False)
    assert c.projections == [] and any(fragment in n for n in c.notes)


def test_lenient_build_keeps_the_supported_parts():
    g = two_areas((2, 1, 1), (2, 1, 1), [rule("memory"), rule("block_to_block")])
    c = build_connectome(g, strict=False)
    (p,) = c.projections
    assert p.morphology == "block_to_block" and p.rule_index == 1 and len(c.notes) == 1


def test_v3_areas_are_found_by_their_readable_ids():
    # Custom areas keep their padded legacy id in FEAGI's format (I/O areas are renamed to
    # FEAGI's typed ids, e.g. omot\x05..., so they are not found this way).
    c = build_connectome(example_genome_path("obstacle_avoidance_v3"))
    obl = c.area(v3_id("c__obl__"))
    assert c.area("c__obl") is obl and c.area("c__obl__") is obl
    assert c.area("Obstacle left") is obl
    with pytest.raises(KeyError):
        c.area("o__xyz")


def test_v3_mapping_to_a_legacy_destination_id_resolves():
    # feagi-core accepts legacy ids in v3 dstmap keys and pads them to 8 bytes.
    g = genome_v3(flat_area(v3_id("c__src__"), (2, 1, 1), dstmap={
        "c__dst": [{"morphology_id": "block_to_block"}],
        "_power": [{"morphology_id": "all_to_all"}]}),
        flat_area(v3_id("c__dst__"), (2, 1, 1)), flat_area(v3_id("___power")))
    c = build_connectome(g)
    dsts = sorted(c.areas[p.dst_area].cortical_id for p in c.projections)
    assert dsts == sorted([v3_id("c__dst__"), v3_id("___power")])


def test_placeholder_morphology_builds_an_empty_projection_with_a_note():
    c = build_connectome(two_areas((2, 1, 1), (2, 1, 1), [rule("nothing")],
                                   morphologies={"nothing": {}}))
    (p,) = c.projections
    assert p.synapse_count == 0 and any("placeholder" in n for n in c.notes)


def test_two_power_areas_are_an_error():
    with pytest.raises(GeneValueError, match="more than one power area"):
        build_connectome(genome_v3(flat_area("___pwr"), flat_area(v3_id("___power"))))


def test_seed_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="seed"):
        build_connectome(genome_v2(flat_area("c__abc")), seed=-1)


# ------------------------------------------------------------------ memory limit


def test_memory_estimate_bounds_and_limit():
    g = two_areas((20, 20, 1), (20, 20, 1), [rule("all_to_all")])
    estimate = estimate_memory(g)
    assert estimate >= 400 * 400 * 8 + 800 * 64  # final synapses + neuron state
    assert estimate_memory(load_genome(g)) == estimate
    with pytest.raises(BrainTooLargeError) as err:
        build_connectome(g, memory_limit_bytes=estimate - 1)
    assert str(estimate) in str(err.value) and err.value.estimate_bytes == estimate
    assert build_connectome(g, memory_limit_bytes=estimate).synapse_count == 160_000


def test_absurd_brain_is_refused_before_allocating():
    g = two_areas((10**6, 10**6, 10**6), (10**6, 10**6, 10**6), [rule("all_to_all")])
    start = time.perf_counter()
    with pytest.raises(BrainTooLargeError, match="MiB"):
        build_connectome(g)
    assert time.perf_counter() - start < 2


# ------------------------------------------------- the reflex brain really steers


def run_bursts(c, forced, bursts=6):
    """DESIGN §4 burst loop, reduced to what the obstacle brain uses (delay 1, no
    accumulation, leak, refractory or fire limit): returns the last fired set."""
    for a in c.areas:
        assert not a.mp_acc and a.leak == 0 and a.refractory == 0
        assert a.consecutive_fire_limit == 0 and a.threshold_increment == (0, 0, 0)
    n = c.neuron_count
    theta = np.concatenate([np.full(a.neuron_count, a.fire_threshold) for a in c.areas])
    psp = np.concatenate([np.full(a.neuron_count, a.psp, float) for a in c.areas])
    uniform = np.concatenate([np.full(a.neuron_count, a.psp_uniform) for a in c.areas])
    outdeg = np.zeros(n)
    for p in c.projections:
        np.add.at(outdeg, c.areas[p.src_area].first_neuron + p.pre, 1)
    always = np.zeros(n, bool)
    always[c.areas[c.power_area].neuron_slice] = True
    always[list(forced)] = True
    fired = np.zeros(n, bool)
    for _ in range(bursts):
        total, cand = np.zeros(n), np.zeros(n, bool)
        for p in c.projections:
            assert p.delay == 1
            pre = c.areas[p.src_area].first_neuron + p.pre
            post = c.areas[p.dst_area].first_neuron + p.post
            m = fired[pre]
            share = np.where(uniform[pre[m]], 1.0, outdeg[pre[m]])
            np.add.at(total, post[m], p.weight * psp[pre[m]] / share)
            cand[post[m]] = True
        fired = (cand & (np.maximum(total, 0) >= theta)) | always
    return fired


def motor(c, fired):
    """Fired motor neurons as {(x, z)}: x = 2*wheel + (0 forward, 1 backward), z = speed."""
    mot = c.area("Motor (differential drive)")  # by name: v2 and FEAGI's v3 ids differ
    local = np.flatnonzero(fired[mot.neuron_slice])
    return {(int(v[0]), int(v[2])) for v in mot.voxel_of(local)}


def sensor(c, *readings):
    pro = c.area("Proximity (lidar sectors)")
    return {pro.first_neuron + int(pro.neurons_of_voxels([[x, 0, z]])[0]) for x, z in readings}


@pytest.mark.parametrize("name", ["obstacle_avoidance", "obstacle_avoidance_v3"])
def test_obstacle_brain_steers_away(name):
    c = build_connectome(example_genome_path(name))
    cruise = {(0, 5), (2, 5)}
    assert motor(c, run_bursts(c, set())) == cruise
    # Sectors run counter-clockwise (x=0 far right, x=15 far left); z=0 is nearest and, in
    # the motor area, full speed (feagi-core's percentage coding).
    assert motor(c, run_bursts(c, sensor(c, (13, 8)))) == cruise  # far: ignore
    # Obstacle on the left: left wheel forward, right wheel backward -> turn right.
    assert motor(c, run_bursts(c, sensor(c, (13, 3)))) == {(0, 5), (0, 3), (3, 3)}
    # Obstacle on the right -> turn left.
    assert motor(c, run_bursts(c, sensor(c, (2, 2)))) == {(2, 5), (2, 2), (1, 2)}
    # Both sides: the nearer (right) wins.
    assert motor(c, run_bursts(c, sensor(c, (12, 5), (3, 1)))) == {(2, 5), (2, 1), (1, 1)}
    # Dead ahead, equally near: left wins the tie -> turn right.
    assert motor(c, run_bursts(c, sensor(c, (8, 3), (7, 3)))) == {(0, 5), (0, 3), (3, 3)}
