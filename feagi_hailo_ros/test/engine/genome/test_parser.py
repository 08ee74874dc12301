"""Genome parsing: formats, defaults, validation and error key paths."""

from __future__ import annotations

import json
import math

import pytest
from genome_factory import flat_area, genome_v2, genome_v3, key, rule, v3_id

from feagi_hailo_ros.engine.genome.errors import (
    GeneTypeError,
    GeneValueError,
    GenomeError,
    GenomeFileError,
    GenomeSyntaxError,
    MissingGeneError,
)
from feagi_hailo_ros.engine.genome.parser import load_genome
from feagi_hailo_ros.genomes import available_genomes, example_genome_path


def test_v2_flat_genes_are_read_into_area_genes():
    g = load_genome(genome_v2(flat_area(
        "i__pro", (16, 1, 10), __name="Proximity", _group="IPU", rcordx=-3, rcordy=2, rcordz=7,
        _n_cnt=2, synatt=80, pstcr_=3.5, pspuni=True, fire_t=1.5, ftincx=0.1, ftincy=0.2,
        ftincz=0.3, fthlim=9, refrac=2, leak_c=0.25, c_fr_c=4, excite=0.5, mp_acc=True,
        mp_psp=True)))
    assert g.schema_version == 2 and g.version == "2.1"
    (a,) = g.areas
    assert (a.cortical_id, a.name, a.group, a.dims, a.position) == (
        "i__pro", "Proximity", "IPU", (16, 1, 10), (-3, 2, 7))
    assert (a.neurons_per_voxel, a.synapse_attractivity, a.psp, a.psp_uniform) == (2, 80, 3.5, True)
    assert (a.fire_threshold, a.threshold_increment, a.threshold_limit) == (1.5, (0.1, 0.2, 0.3), 9)
    assert (a.refractory, a.leak, a.consecutive_fire_limit, a.excitability) == (2, 0.25, 4, 0.5)
    assert a.mp_acc and a.mp_psp and not a.is_memory and a.neuron_count == 320


def test_defaults_apply_when_genes_are_absent():
    (a,) = load_genome(genome_v2(flat_area("c__abc", (2, 3, 4)))).areas
    assert a.name == "c__abc" and a.group == "CUSTOM" and a.position == (0, 0, 0)
    assert (a.neurons_per_voxel, a.synapse_attractivity, a.psp, a.psp_uniform) == (1, 100, 1, False)
    assert (a.fire_threshold, a.threshold_limit, a.refractory, a.leak) == (1.0, 0.0, 0, 0.0)
    assert (a.consecutive_fire_limit, a.excitability, a.mp_acc, a.mp_psp) == (0, 100.0, False, False)
    assert a.mappings == ()


def test_power_area_defaults_to_uniform_psp():
    g = load_genome(genome_v2(flat_area("___pwr"), flat_area("c__abc")))
    power = g.area("___pwr")
    assert power.is_power and power.psp_uniform
    assert not g.area("c__abc").is_power and not g.area("c__abc").psp_uniform


def test_ignored_genes_are_silent_and_unknown_genes_are_noted():
    g = load_genome(genome_v2(flat_area("c__abc", leak_v=0.3, de_gen=0.1, pstcrm=35, snooze=2,
                                        gd_vis=True)))
    assert g.notes == ()
    g = load_genome(genome_v2(flat_area("c__abc", zzzzzz=1)))
    assert len(g.notes) == 1 and "zzzzzz" in g.notes[0] and "did you mean" not in g.notes[0]


def test_a_misspelt_gene_is_named_with_the_gene_it_leaves_at_its_default():
    # A user's typo ('fier_t' for 'fire_t') left the threshold at its default with only
    # "unknown gene ignored" to show for it.
    (note,) = load_genome(genome_v2(flat_area("c__abc", fier_t=5.0))).notes
    assert "unknown gene 'fier_t' ignored (did you mean 'fire_t'?" in note
    assert "default is used" in note
    # Given as well, the real gene is not suggested (nothing is left at its default).
    (note,) = load_genome(genome_v2(flat_area("c__abc", fier_t=5.0, fire_t=5.0))).notes
    assert "did you mean" not in note
    # The same for the hierarchical (long-name) blueprint.
    (note,) = load_genome({"version": "2.1", "blueprint": {"c__abc": {
        "block_boundaries": [1, 1, 1], "firing_treshold": 5.0}}}).notes
    assert "unknown area property ignored (did you mean 'firing_threshold'?" in note


def test_missing_dimension_names_the_flat_key():
    bp = flat_area("i__pro", (16, 1, 10))
    del bp[key("i__pro", "___bbz")]
    with pytest.raises(MissingGeneError) as err:
        load_genome(genome_v2(bp))
    assert "blueprint._____10c-i__pro-cx-___bbz-i" in str(err.value)
    assert err.value.path == "blueprint._____10c-i__pro-cx-___bbz-i"


@pytest.mark.parametrize(("gene", "value", "error"), [
    ("___bbx", 0, GeneValueError),
    ("___bbx", -4, GeneValueError),
    ("___bbx", 2.5, GeneTypeError),
    ("___bbx", "16", GeneTypeError),
    ("___bbx", math.nan, GeneValueError),
    ("_n_cnt", 1.5, GeneTypeError),
    ("_n_cnt", True, GeneTypeError),
    ("fire_t", "high", GeneTypeError),
    ("fire_t", math.inf, GeneValueError),
    ("fire_t", 10**400, GeneValueError),
    ("refrac", -1, GeneValueError),
    ("refrac", 70_000, GeneValueError),
    ("c_fr_c", 2**16, GeneValueError),
    ("rcordx", 2**31, GeneValueError),
    ("ftincx", 1e39, GeneValueError),
    ("leak_c", -0.1, GeneValueError),
    ("pspuni", 1, GeneTypeError),
    ("mp_acc", "true", GeneTypeError),
    ("__name", 7, GeneTypeError),
    ("dstmap", [], GeneTypeError),
])
def test_bad_gene_values_raise_with_key_path(gene, value, error):
    with pytest.raises(error) as err:
        load_genome(genome_v2(flat_area("c__abc", (2, 2, 2), **{gene: value})))
    assert key("c__abc", gene) in str(err.value)


def test_integral_float_is_accepted_for_integer_genes():
    (a,) = load_genome(genome_v2(flat_area("c__abc", (2.0, 3, 4), _n_cnt=2.0))).areas
    assert a.dims == (2, 3, 4) and a.neurons_per_voxel == 2


@pytest.mark.parametrize(("text", "fragment"), [
    ("{not json", "invalid JSON"),
    ('{"version": "2.0", "blueprint": {}, "x": NaN}', "NaN"),
    ('{"version": "2.0", "version": "2.1", "blueprint": {}}', "duplicate key"),
    ("[1, 2, 3]", "JSON object"),
    ('{"version": "2.0", "blueprint": []}', "blueprint"),
    ('{"version": "2.0", "blueprint": {"_____10c-c__abc-cx-___bbx": 1}}', "_____10c-c__abc"),
    ('{"version": "2.0", "blueprint": {"_____10c-c__abc-qx-___bbx-i": 1}}', "flat gene key"),
])
def test_syntax_errors(text, fragment):
    with pytest.raises(GenomeSyntaxError) as err:
        load_genome(text)
    assert fragment in str(err.value)


def test_version_rules():
    with pytest.raises(MissingGeneError, match="version"):
        load_genome({"blueprint": {}})
    with pytest.raises(GeneValueError, match="1.0"):
        load_genome({"version": "1.0", "blueprint": {}})
    with pytest.raises(GeneValueError, match="schema 99"):
        load_genome({"genome_schema_version": 99, "blueprint": {}})
    assert load_genome({"genome_schema_version": 7, "blueprint": {}}).schema_version == 7
    assert load_genome({"version": "3.0", "blueprint": {}}).schema_version == 3


def test_v2_rejects_base64_ids_and_v3_reads_them():
    pid = v3_id("i__pro__")
    with pytest.raises(GeneValueError, match="cortical id"):
        load_genome(genome_v2(flat_area(pid, (2, 1, 1))))
    (a,) = load_genome(genome_v3(flat_area(pid, (2, 1, 1)))).areas
    assert a.cortical_id == pid and a.ascii_id == "i__pro__"
    with pytest.raises(GeneValueError, match="8-byte"):
        load_genome(genome_v3(flat_area("aGVsbG8=", (2, 1, 1))))  # base64 of 5 bytes


def test_v3_power_area_is_recognised_by_decoded_id():
    g = load_genome(genome_v3(flat_area(v3_id("___power")), schema=7))
    assert g.areas[0].is_power and g.areas[0].psp_uniform


def test_array_rules_short_and_long_forms():
    g = load_genome(genome_v2(
        flat_area("c__src", (2, 1, 1), dstmap={"c__dst": [
            ["projector", [1, 1, 1], 2, False],
            rule("block_to_block", -3, scalar=2, plastic=True, delay=4),
        ]}),
        flat_area("c__dst", (2, 1, 1))))
    r0, r1 = g.area("c__src").mappings
    assert (r0.morphology_id, r0.psc_multiplier, r0.plasticity, r0.delay, r0.index) == (
        "projector", 2.0, False, 1, 0)
    assert (r1.morphology_scalar, r1.psc_multiplier, r1.plasticity, r1.delay, r1.index) == (
        (2, 2, 2), -3.0, True, 4, 1)
    assert r1.path == "blueprint._____10c-c__src-cx-dstmap-d.c__dst[1]"


def test_object_rules_defaults_and_missing_morphology():
    dst = v3_id("c__dst__")
    g = load_genome(genome_v3(
        flat_area(v3_id("c__src__"), dstmap={dst: [
            {"morphology_id": "projector"},
            {"morphology_id": "projector", "postSynapticCurrent_multiplier": -2,
             "synaptic_delay_bursts": 3, "synapse_attractivity": 40, "plasticity_flag": True,
             "plasticity_constant": 1, "ltp_multiplier": 2, "ltd_multiplier": 3,
             "plasticity_window": 5}]}),
        flat_area(dst)))
    r0, r1 = g.area("c__src__").mappings  # looked up by the decoded id
    assert (r0.psc_multiplier, r0.delay, r0.plasticity, r0.synapse_attractivity) == (1, 1, False, None)
    assert (r1.psc_multiplier, r1.delay, r1.synapse_attractivity, r1.ltd_multiplier) == (-2, 3, 40, 3)
    with pytest.raises(MissingGeneError) as err:
        load_genome(genome_v2(flat_area("c__src", dstmap={"c__dst": [{"psc": 1}]})))
    assert "dstmap-d.c__dst[0].morphology_id" in str(err.value)


@pytest.mark.parametrize(("bad_rule", "error", "where"), [
    (["projector", [1, 1, 1], 1], GeneValueError, "[0]"),
    ([7, [1, 1, 1], 1, False], GeneTypeError, "[0][0]"),
    (["projector", [1, 1], 1, False], GeneValueError, "[0][1]"),
    (["projector", [1, 1, 1.5], 1, False], GeneTypeError, "[0][1][2]"),
    (["projector", [1, 1, 1], "one", False], GeneTypeError, "[0][2]"),
    (["projector", [1, 1, 1], 1, "no"], GeneTypeError, "[0][3]"),
    (["projector", [1, 1, 1], 1, False, 1, 1, 1, 0, 0], GeneValueError, "[0][8]"),
    (["projector", [1, 1, 1], 1, False, 1, 1, 1, 0, 10**6], GeneValueError, "[0][8]"),
    ("projector", GeneTypeError, "[0]"),
])
def test_bad_rules(bad_rule, error, where):
    with pytest.raises(error) as err:
        load_genome(genome_v2(flat_area("c__src", dstmap={"c__dst": [bad_rule]}),
                              flat_area("c__dst")))
    assert f"blueprint._____10c-c__src-cx-dstmap-d.c__dst{where}" in str(err.value)


def test_morphologies_old_format_patterns_nesting_and_core_override():
    g = load_genome(genome_v2(morphologies={
        "old_vec": {"vectors": [[1, 0, 0]]},
        "old_pat": {"patterns": [["*", "*", "*"], ["?", 0, "?"]]},  # single pair, unwrapped
        "new_pat": {"type": "patterns", "parameters": {"patterns": [[[0, 0, 0], ["!", "?+", 3]]]}},
        "lateral_+x": {"type": "vectors", "parameters": {"vectors": [[5, 5, 5]]}},
        "placeholder": {},
    }))
    m = g.morphologies
    assert m["old_vec"].type == "vectors" and m["old_vec"].vectors == ((1, 0, 0),)
    assert m["old_pat"].patterns == ((((("*",), ("*",), ("*",))), (("?",), ("=", 0), ("?",))),)
    assert m["new_pat"].patterns[0][1] == (("!",), (">",), ("=", 3))
    assert m["lateral_+x"].vectors == ((1, 0, 0),)  # FEAGI's core definition wins
    assert any("lateral_+x" in n for n in g.notes)
    assert m["placeholder"].type == "placeholder"
    assert {"projector", "block_to_block", "all_to_all", "0-0-0_to_all", "lateral_-z"} <= set(m)


@pytest.mark.parametrize(("entry", "error", "where"), [
    ({"type": "blobs"}, GeneValueError, "neuron_morphologies.m.type"),
    ({"type": "vectors", "parameters": {"vectors": [[1, 0]]}}, GeneTypeError, "vectors[0]"),
    ({"type": "vectors", "parameters": {}}, MissingGeneError, "parameters.vectors"),
    ({"type": "patterns", "parameters": {"patterns": [[[0, 0, 0], ["x", 0, 0]]]}},
     GeneValueError, "patterns[0][1][0]"),
    ({"type": "patterns", "parameters": {"patterns": [[[-1, 0, 0], [0, 0, 0]]]}},
     GeneValueError, "patterns[0][0][0]"),
    ({"vectors": [[1, 0, 0]], "type": 3}, GeneValueError, "type"),
    ("projector", GeneTypeError, "neuron_morphologies.m"),
])
def test_bad_morphologies(entry, error, where):
    with pytest.raises(error) as err:
        load_genome(genome_v2(morphologies={"m": entry}))
    assert where in str(err.value)


def test_checksum_is_over_canonical_json():
    g = genome_v2(flat_area("c__abc", (2, 2, 2), fire_t=2))
    a = load_genome(json.dumps(g))
    b = load_genome(json.dumps(dict(reversed(list(g.items()))), indent=4))
    assert a.checksum == b.checksum and len(a.checksum) == 64
    g["blueprint"][key("c__abc", "fire_t")] = 3
    assert load_genome(g).checksum != a.checksum


def test_load_genome_accepts_path_text_bytes_and_dict(tmp_path):
    g = genome_v2(flat_area("c__abc", (2, 2, 2)))
    text = json.dumps(g)
    path = tmp_path / "g.json"
    path.write_text(text)
    sums = {load_genome(src).checksum for src in (g, text, text.encode(), path, str(path))}
    assert len(sums) == 1
    with pytest.raises(GenomeFileError, match="missing.json"):
        load_genome(tmp_path / "missing.json")
    with pytest.raises(GenomeSyntaxError, match="UTF-8"):
        load_genome(b"\xff\xfe{")
    with pytest.raises(GenomeSyntaxError):
        load_genome("[" * 100_000 + "]" * 100_000)  # nesting deeper than the JSON decoder


def test_hierarchical_blueprint_matches_flat():
    flat = load_genome(genome_v2(
        flat_area("c__src", (4, 2, 3), fire_t=2, leak_c=0.5, rcordx=5,
                  dstmap={"c__dst": [rule("projector")]}),
        flat_area("c__dst", (2, 2, 2))))
    hier = load_genome({"version": "2.1", "blueprint": {
        "c__src": {"block_boundaries": [4, 2, 3], "firing_threshold": 2, "leak_coefficient": 0.5,
                   "relative_coordinate": [5, 0, 0],
                   "cortical_mapping_dst": {"c__dst": [rule("projector")]}},
        "c__dst": {"cortical_dimensions": {"width": 2, "height": 2, "depth": 2}},
    }})
    for fa, ha in zip(flat.areas, hier.areas, strict=True):
        assert (fa.dims, fa.fire_threshold, fa.leak, fa.position) == (
            ha.dims, ha.fire_threshold, ha.leak, ha.position)
        assert [r.morphology_id for r in fa.mappings] == [r.morphology_id for r in ha.mappings]
    with pytest.raises(MissingGeneError, match=r"blueprint\.c__dst\.block_boundaries"):
        load_genome({"version": "2.1", "blueprint": {"c__dst": {"firing_threshold": 1}}})


def test_shipped_genomes_load_in_both_formats():
    assert set(available_genomes()) >= {"obstacle_avoidance", "obstacle_avoidance_v3", "vision"}
    v2 = load_genome(example_genome_path("obstacle_avoidance"))
    v3 = load_genome(example_genome_path("obstacle_avoidance_v3.json"))
    # The v3 file is written as FEAGI writes genomes today (genome_schema_version 7).
    assert (v2.schema_version, v3.schema_version) == (2, 7)
    for a2 in v2.areas:
        # Found by the legacy id, whether the v3 file pads it (i__pro__) or holds FEAGI's
        # migrated id (ipro\x01\0\0\0); FEAGI's own re-save also holds its core areas.
        a3 = v3.area(a2.legacy_id)
        assert a2.name == a3.name and a2.feagi_type == a3.feagi_type
        assert a2.dims == a3.dims and a2.fire_threshold == a3.fire_threshold
        assert sorted((r.morphology_id, r.psc_multiplier) for r in a2.mappings) == sorted(
            (r.morphology_id, r.psc_multiplier) for r in a3.mappings)
    assert v3.area("___power").is_power and v2.area("___pwr").is_power
    with pytest.raises(FileNotFoundError, match="obstacle_avoidance"):
        example_genome_path("no_such_brain")
    with pytest.raises(FileNotFoundError):
        example_genome_path("../genomes/vision")


def test_every_genome_error_is_a_value_error():
    # One except clause catches the whole family (the ROS upload service relies on it).
    with pytest.raises(ValueError):
        load_genome("{")
    assert issubclass(GenomeFileError, GenomeError)
