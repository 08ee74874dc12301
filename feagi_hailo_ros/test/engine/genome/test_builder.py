"""Connectome building: synapse counts, weights, attractivity, strictness, memory limit."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from genome_factory import flat_area, genome_v2, genome_v3, rule, v3_id

from feagi_hailo_ros.engine.core.connectome import PlasticityRule
from feagi_hailo_ros.engine.genome.builder import build_connectome, estimate_memory
from feagi_hailo_ros.engine.genome.errors import (
    BrainTooLargeError,
    GeneValueError,
    UnknownAreaError,
    UnknownMorphologyError,
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
    # The genome's areas plus the 6 core areas FEAGI adds (___death, ___fatig, ...): FEAGI's
    # re-save of this genome has 11 areas, 227 neurons, 421 synapses (feagi_v3 README).
    assert c.neuron_count == 1 + 16 * 10 + 10 + 10 + 4 * 10 + 6 == 227
    assert len(c.areas) == 11 and c.synapse_count == 421
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


def test_vision_counts():
    c = build_connectome(example_genome_path("vision"))
    assert c.neuron_count == 128 * 128 * 3 + 2 * 128 * 128 * 4 + 2 * 64 * 64 * 8 + \
        32 * 32 * 16 + 8 * 8 * 32 + 7  # + FEAGI's 7 core areas (the genome has none)
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


@pytest.mark.parametrize(("psc", "weight"), [(1, 1.0), (-3, -3.0), (300, 300.0),
                                             (-1000, -1000.0), (0.5, 0.5), (0, 0.0)])
def test_weight_is_signed_and_not_clamped(psc, weight):
    # FEAGI 2.6.10 stores float weights: a multiplier of 300 fires a target at threshold 280
    # (feagi_ref/min_mult300), so nothing is clamped to 255.
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
    g = genome_v2(
        flat_area("c__aaa", pstcr_=300, fthlim=0, leak_c=10, excite=100),
        flat_area("c__bbb", pstcr_=-3, fthlim=7, leak_c=0.5, excite=0.25),
        flat_area("c__ccc", pstcr_=2.7, excite=50))
    c = build_connectome(g, add_core_areas=False)
    a, b, cc = c.area("c__aaa"), c.area("c__bbb"), c.area("c__ccc")
    # FEAGI's values (DESIGN §4): PSP a float, neither clamped to 255 nor truncated; leak kept
    # above 1 (FEAGI computes V*(1-10)); a negative PSP reads as 0.
    assert (a.psp, a.threshold_limit, a.leak, a.excitability) == (300.0, math.inf, 10.0, 1.0)
    assert (b.psp, b.threshold_limit, b.leak, b.excitability) == (0.0, 7.0, 0.5, 0.25)
    assert (cc.psp, cc.excitability) == (2.7, 1.0)
    assert isinstance(cc.psp, float) and not any(x.leak_linear for x in c.areas)
    (leak_note,) = [n for n in c.notes if "leak 10 > 1" in n]
    assert "V*(1-10)" in leak_note and "legacy_leak='linear'" in leak_note and "c__aaa" in leak_note
    assert any("postsynaptic_current -3 < 0" in n for n in c.notes)
    assert any("neuron_excitability 50" in n for n in c.notes)
    assert [x.first_neuron for x in c.areas] == [0, 1, 2]


def test_legacy_leak_linear_is_recorded_per_area_without_a_warning():
    g = genome_v2(flat_area("c__aaa", leak_c=10), flat_area("c__bbb", leak_c=0.5))
    c = build_connectome(g, legacy_leak="linear")
    assert all(a.leak_linear for a in c.areas)
    assert (c.area("c__aaa").leak, c.area("c__bbb").leak) == (10.0, 0.5)
    assert not any("leak" in n for n in c.notes)
    with pytest.raises(ValueError, match="legacy_leak"):
        build_connectome(g, legacy_leak="clamp")


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


def plastic_rule(morphology="block_to_block", window=None):
    """A v2 array rule with plasticity on: 7 elements (no window) or 8 (window)."""
    r = [morphology, [1, 1, 1], 1, True, 1, 1, 1]
    return r if window is None else [*r, window]


def test_plastic_mapping_carries_its_rule_and_no_warning():
    g = two_areas((2, 1, 1), (2, 1, 1), [plastic_rule(window=5)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # notes, never Python warnings
        c = build_connectome(g)
    (p,) = c.projections
    assert p.plastic and p.synapse_count == 2
    assert p.plasticity == PlasticityRule(ltp=1.0, ltd=1.0, window=5)
    assert not [n for n in c.notes if "plasticity" in n]


@pytest.mark.parametrize(("constant", "ltp", "ltd", "want"), [
    (1, 3, 1, (3.0, 1.0)),          # recording stdp, P -> Q
    (5, 1, 10, (5.0, 50.0)),        # recording stdp, U -> V
    (5, 100, 60, (255.0, 255.0)),   # one byte in FEAGI: saturates at 255
    (2.9, 3.7, 1.99, (6.0, 2.0)),   # each factor truncated before the product
    (-2, 3, -1, (0.0, 2.0)),        # a negative product counts as 0
])
def test_plasticity_steps_as_feagi_computes_them(constant, ltp, ltd, want):
    r = ["block_to_block", [1, 1, 1], 1, True, constant, ltp, ltd, 1]
    (p,) = build_connectome(two_areas((2, 1, 1), (2, 1, 1), [r])).projections
    assert (p.plasticity.ltp, p.plasticity.ltd) == want


@pytest.mark.parametrize("window", [None, 0, 0.5])
def test_plastic_rule_without_a_window_stops_its_source_area_as_feagi_does(window):
    # FEAGI logs "plasticity_window must be > 0" (or "Missing plasticity_window") and builds no
    # synapse from the source area, every mapping included (feagi_v3/plasticity_window_0).
    g = genome_v2(
        flat_area("c__src", (2, 1, 1), dstmap={"c__dst": [plastic_rule(window=window)],
                                               "c__oth": [rule("block_to_block")]}),
        flat_area("c__dst", (2, 1, 1)), flat_area("c__oth", (2, 1, 1)),
        flat_area("c__ok_", (2, 1, 1), dstmap={"c__oth": [rule("block_to_block")]}))
    c = build_connectome(g)
    by_src = {}
    for p in c.projections:
        by_src.setdefault(c.areas[p.src_area].cortical_id, []).append(p.synapse_count)
    assert by_src == {"c__src": [0, 0], "c__ok_": [2]}
    (note,) = [n for n in c.notes if "no synapse from area" in n]
    assert "c__src" in note and "plasticity_window" in note


def test_associative_memory_rules_are_plastic_and_build_nothing_at_load():
    g = two_areas((2, 1, 1), (2, 1, 1), [{"morphology_id": "associative_memory",
                                          "plasticity_window": 3}])
    c = build_connectome(g)
    (p,) = c.projections
    assert p.plastic and p.synapse_count == 0
    assert p.plasticity is not None and p.plasticity.associative and p.delay == 1
    assert not c.notes  # grown by the engine: nothing was left out


# ------------------------------------------------------------ strict / non-strict


@pytest.mark.parametrize(("genome", "error", "fragment"), [
    (two_areas((1, 1, 1), (1, 1, 1), [rule("no_such_morph")]), UnknownMorphologyError,
     "no_such_morph"),
    (genome_v2(flat_area("c__src", dstmap={"c__zzz": [rule("projector")]})), UnknownAreaError,
     "c__zzz"),
    (two_areas((1, 1, 1), (1, 1, 1), [rule("nothing")], morphologies={"nothing": {}}),
     UnsupportedMorphologyError, "no type"),
    (two_areas((1, 1, 1), (1, 1, 1), [rule("empty")],
               morphologies={"empty": {"parameters": {}}}), UnsupportedMorphologyError, "no type"),
    (two_areas((1, 1, 1), (1, 1, 1), [rule("centered_projector")]), UnsupportedMorphologyError,
     "centered_projector"),
])
def test_strict_raises_and_lenient_skips_with_notes(genome, error, fragment):
    with pytest.raises(error) as err:
        build_connectome(genome)
    assert fragment in str(err.value)
    assert "c__src" in str(err.value) or "c__dst" in str(err.value)  # names the area/mapping
    c = build_connectome(genome, strict=False)
    assert c.projections == [] and any(fragment in n and "skipped" in n for n in c.notes)


@pytest.mark.parametrize(("morphology", "morphologies", "fragment"), [
    ("randomizer", None, "Function morphology randomizer not yet implemented"),
    ("reducer_x", None, "Function morphology reducer_x not yet implemented"),
    ("expander_x", None, "Function morphology expander_x not yet implemented"),
    ("lateral_pairs_x", None, "Function morphology lateral_pairs_x not yet implemented"),
    ("projector_xy", {"projector_xy": {"type": "functions", "parameters": {}}},
     "Function morphology projector_xy not yet implemented"),
    ("memory", None, "'episodic_memory' creates no synapses at load"),
    ("grid", {"grid": {"type": "composite", "parameters": {"src_seed": [1, 1, 1]}}},
     "Composite morphology grid not yet implemented"),
])
def test_morphologies_feagi_builds_nothing_for_give_empty_mappings_with_a_note(
        morphology, morphologies, fragment):
    # FEAGI's engine accepts these and creates no synapse (connectome_manager.rs
    # apply_function_morphology); neither a refusal nor a silent gap.
    g = two_areas((2, 1, 1), (2, 1, 1), [rule(morphology)], morphologies=morphologies)
    c = build_connectome(g)
    (p,) = c.projections
    assert p.synapse_count == 0
    (note,) = [n for n in c.notes if "builds 0 synapses" in n]
    assert fragment in note and "c__src -> c__dst rule 0" in note


@pytest.mark.parametrize("genes", [{"dst_genes": {"_group": "MEMORY"}},
                                   {"src_genes": {"memory": True}}])
def test_memory_areas_are_built_as_pools_and_their_mappings_as_feagi_builds_them(genes):
    # Into a memory area: the source becomes an upstream area, no synapse. Out of it: nothing
    # but associative_memory (DESIGN §4.7).
    g = two_areas((1, 1, 1), (1, 1, 1), [rule("projector")], **genes)
    for strict in (True, False):
        c = build_connectome(g, strict=strict, memory_capacity=8)
        assert c.projections == []
        (m,) = c.memory_areas
        area = c.areas[m.area]
        assert area.dims == (1, 1, 1) and area.neurons_per_voxel == m.capacity == 8
        assert (m.depth, m.lifespan, m.growth, m.longterm) == (1, 9, 1, 100)  # FEAGI's defaults
        if "dst_genes" in genes:
            assert m.upstream == (c.area("c__src").index,)
        else:
            assert m.upstream == ()
            assert any("memory neurons reach other areas only through associative_memory" in n
                       for n in c.notes)
        assert any("memory area" in n and "pool of 8" in n for n in c.notes)


def test_a_memory_area_mapped_into_a_memory_area_is_a_note_not_a_silent_drop():
    # Neither a synapse nor an upstream area comes of it (upstream areas are non-memory areas),
    # which the notes must say ("nothing is silent"), for a memory area mapped into itself too.
    g = genome_v2(flat_area("c__src", memory=True, dstmap={"c__dst": [rule("projector")],
                                                           "c__src": [rule("projector")]}),
                  flat_area("c__dst", memory=True))
    c = build_connectome(g)
    assert c.projections == [] and [m.upstream for m in c.memory_areas] == [(), ()]
    skipped = [n for n in c.notes if "memory area mapped into a memory area" in n]
    assert len(skipped) == 2 and any("c__src -> c__dst" in n for n in skipped)
    assert any("c__src -> c__src" in n for n in skipped)


def test_memory_genes_are_read():
    g = two_areas((1, 1, 1), (1, 1, 1), [rule("projector")],
                  dst_genes={"memory": True, "tmpdpt": 3, "mem_ls": 5, "mem_gr": 2.0,
                             "mem__t": 12})
    (m,) = build_connectome(g).memory_areas
    assert (m.depth, m.lifespan, m.growth, m.longterm) == (3, 5, 2, 12)


def test_lenient_build_keeps_the_supported_parts():
    g = two_areas((2, 1, 1), (2, 1, 1), [rule("nothing"), rule("block_to_block")],
                  morphologies={"nothing": {}})
    c = build_connectome(g, strict=False)
    (p,) = c.projections
    assert p.morphology == "block_to_block" and p.rule_index == 1 and len(c.notes) == 1


def test_zero_synapse_mappings_are_never_silent():
    # lateral_+x from a 1-wide area has no destination inside: 0 synapses, one note.
    c = build_connectome(two_areas((1, 1, 1), (1, 1, 1), [rule("lateral_+x")]))
    (p,) = c.projections
    assert p.synapse_count == 0
    (note,) = c.notes
    assert "c__src -> c__dst rule 0 (lateral_+x) builds 0 synapses" in note


def test_v3_areas_are_found_by_their_readable_ids():
    # Custom areas keep their padded legacy id in FEAGI's format (I/O areas are renamed to
    # FEAGI's typed ids, e.g. omot\x05..., so they are not found this way).
    c = build_connectome(example_genome_path("obstacle_avoidance_v3"))
    obl = c.area(v3_id("c__obl__"))
    assert c.area("c__obl") is obl and c.area("c__obl__") is obl
    assert c.area("Obstacle left") is obl
    mot = c.area("o__mot")
    assert c.area(mot.cortical_id) is mot and c.area("o__mot__") is mot
    assert c.area(mot.feagi_id) is mot and mot.feagi_type == "OPU"
    assert c.area("Motor (differential drive)") is mot
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


def test_unused_untyped_placeholder_morphologies_are_accepted():
    # FEAGI accepts {"parameters": {}} (and {}) entries nothing uses (cases/02).
    c = build_connectome(two_areas((2, 1, 1), (2, 1, 1), [rule("block_to_block")],
                                   morphologies={"placeholder": {"parameters": {}},
                                                 "nothing": {}}))
    (p,) = c.projections
    assert p.synapse_count == 2 and c.notes == []


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
    # Refused from the estimate: the build allocates next to nothing (no wall-clock check: the
    # memory traced while refusing is the evidence).
    import tracemalloc

    g = two_areas((10**6, 10**6, 10**6), (10**6, 10**6, 10**6), [rule("all_to_all")])
    tracemalloc.start()
    try:
        with pytest.raises(BrainTooLargeError, match="MiB"):
            build_connectome(g)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


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
