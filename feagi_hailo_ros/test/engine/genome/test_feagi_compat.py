"""What FEAGI accepts and builds, checked against FEAGI's own files and measurements.

The inputs are in ``test/data/genomes`` (README there): user genomes FEAGI accepts
(``cases/``), genomes FEAGI 2.6.10 (engine 0.0.67) loaded and saved back with its measured
counts (``feagi_v3/``), and the synapse lists FEAGI built for the small recordings
(``feagi_ref/``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.headless import load_schedule, run_brain
from feagi_hailo_ros.engine.genome.builder import build_connectome
from feagi_hailo_ros.engine.genome.ids import (
    CORE_AREAS,
    decode_id,
    encode_id,
    legacy_alias,
    migrate_legacy_id,
)
from feagi_hailo_ros.engine.genome.parser import load_genome
from feagi_hailo_ros.genomes import example_genome_path

DATA = Path(__file__).resolve().parents[2] / "data" / "genomes"
CASES, FEAGI_V3, FEAGI_REF = DATA / "cases", DATA / "feagi_v3", DATA / "feagi_ref"


def fired_by_burst(c: Connectome, bursts: int, tmp_path: Path, schedule=None) -> list[dict]:
    """Run on the CPU engine; per burst, {cortical id: fired voxels}."""
    record = tmp_path / "fired.jsonl"
    run_brain(c, bursts, schedule=schedule, record=record)
    return [json.loads(line)["fired"] for line in record.read_text().splitlines()]


def synapse_set(c: Connectome) -> set[tuple]:
    """Every synapse as (src FEAGI id, src voxel, dst FEAGI id, dst voxel, weight, delay)."""
    out = set()
    for p in c.projections:
        src, dst = c.areas[p.src_area], c.areas[p.dst_area]
        for a, b in zip(src.voxel_of(p.pre).tolist(), dst.voxel_of(p.post).tolist(), strict=True):
            out.add((src.feagi_id, tuple(a), dst.feagi_id, tuple(b), p.weight, p.delay))
    return out


# ------------------------------------------------------------ what FEAGI accepts


def test_species_keys_are_ignored_as_feagi_does():
    with_key = build_connectome(CASES / "01_species_key_10b.json")
    control = build_connectome(CASES / "01_control_without_10b.json")
    assert synapse_set(with_key) == synapse_set(control) and synapse_set(control)
    assert [a.cortical_id for a in with_key.areas] == [a.cortical_id for a in control.areas]
    (note,) = with_key.notes
    assert "_____10b-" in note and "ignored" in note and control.notes == []


def test_unused_untyped_placeholder_morphology_is_accepted():
    g = load_genome(CASES / "02_untyped_placeholder_morphology.json")
    assert g.morphologies["placeholder"].type == "placeholder"
    c = build_connectome(g)
    assert c.synapse_count == 1 and c.notes == []  # the power area -> motor block_to_block


def test_memory_area_is_built():
    # shared/cases/04: a memory area (group MEMORY) with nothing mapped into it.
    for strict in (True, False):
        c = build_connectome(CASES / "04_memory_area.json", strict=strict)
        (m,) = c.memory_areas
        assert c.areas[m.area].cortical_id == "M5Fmem" and m.upstream == ()
        assert c.synapse_count == 1
        pool, idle = c.notes
        assert "memory area 'M5Fmem'" in pool and "pool of" in pool
        assert "no upstream area" in idle


def test_core_reducer_x_builds_what_feagi_builds():
    # FEAGI's engine has no reducer_x rule ("Function morphology reducer_x not yet
    # implemented"): the genome loads, the mapping has no synapse, and the note says why.
    c = build_connectome(CASES / "12_core_reducer_x.json")
    (p,) = c.projections
    assert p.morphology == "reducer_x" and p.synapse_count == 0
    (note,) = c.notes
    assert "reducer_x" in note and "not yet implemented" in note


# ----------------------------------------------- FEAGI's re-saves and its counts


@pytest.mark.parametrize(("name", "areas", "neurons", "synapses"), [
    ("obstacle_avoidance.v3.json", 11, 227, 421),
    ("turtlebot.v3.json", 31, 14_011, 400),
    ("v2_core_areas.v2.json", 7, 7, 0),
    ("plasticity_window_5_control.v3.json", 11, 23, 12),
    ("plasticity_window_0.v3.json", 11, 23, 0),
])
def test_counts_match_feagis_measured_counts(name, areas, neurons, synapses):
    c = build_connectome(FEAGI_V3 / name)
    assert (len(c.areas), c.neuron_count, c.synapse_count) == (areas, neurons, synapses)


def test_turtlebot_has_feagis_eighteen_rules():
    assert len(build_connectome(FEAGI_V3 / "turtlebot.v3.json").projections) == 18


def test_plasticity_window_0_builds_nothing_from_its_source_area_and_says_so():
    c = build_connectome(FEAGI_V3 / "plasticity_window_0.v3.json")
    src = c.area("area_a")
    from_src = [p for p in c.projections if p.src_area == src.index]
    assert len(from_src) == 3 and all(p.synapse_count == 0 for p in from_src)
    (note,) = [n for n in c.notes if "plasticity_window" in n]
    assert "plasticity_window must be > 0" in note and src.cortical_id in note
    control = build_connectome(FEAGI_V3 / "plasticity_window_5_control.v3.json")
    assert sum(p.synapse_count for p in control.projections
               if p.src_area == control.area("area_a").index) == 12


def test_feagi_adds_its_core_areas_to_a_v2_genome(tmp_path):
    c = build_connectome(FEAGI_V3 / "v2_core_areas.v2.json")
    assert {a.feagi_id for a in c.areas} == {encode_id(t.ascii_id.encode()) for t in CORE_AREAS}
    assert all(a.feagi_type == "CORE" and a.dims == (1, 1, 1) for a in c.areas)
    power = c.areas[c.power_area]
    assert power.cortical_id == "_power" and power.name == "Brain_Power"  # the genome's own
    death = c.area("_death")
    assert (death.name, death.fire_threshold, death.psp, death.psp_uniform) == (
        "Death", 0.1, 500.0, True)
    fired = fired_by_burst(c, 3, tmp_path)
    assert fired == [{"_power": [[0, 0, 0]]}] * 3  # the power area fires every burst


def test_a_v2_genome_and_feagis_resave_build_the_same_brain():
    # The shipped v2 obstacle genome, and FEAGI's re-save of it with migrated ids and added
    # core areas: same areas in the same order, same neuron genes, same synapses.
    c2 = build_connectome(example_genome_path("obstacle_avoidance"))
    c3 = build_connectome(FEAGI_V3 / "obstacle_avoidance.v3.json")
    assert [a.feagi_id for a in c2.areas] == [a.feagi_id for a in c3.areas]
    assert [a.name for a in c2.areas] == [a.name for a in c3.areas]
    genes = ("dims", "neurons_per_voxel", "first_neuron", "fire_threshold", "threshold_limit",
             "leak", "refractory", "consecutive_fire_limit", "excitability", "mp_acc", "mp_psp",
             "psp", "psp_uniform", "feagi_type", "legacy_id")
    for a2, a3 in zip(c2.areas, c3.areas, strict=True):
        assert [getattr(a2, g) for g in genes] == [getattr(a3, g) for g in genes], a2.name
    assert synapse_set(c2) == synapse_set(c3) and len(synapse_set(c3)) == 421


def test_leak_above_1_is_feagis_and_fires_as_feagi_measured(tmp_path):
    # leak 10: FEAGI computes V*(1-10); V goes -18 -> 144 and area_b fires (feagi_v3 README).
    c = build_connectome(FEAGI_V3 / "leak_over_1.v3.json")
    b = c.area("area_b")
    assert b.leak == 10.0 and not b.leak_linear
    (note,) = c.notes
    assert "leak 10 > 1" in note and b.cortical_id in note
    schedule = load_schedule(FEAGI_V3 / "leak_over_1.stim.json", c, 6)
    fired = fired_by_burst(c, 6, tmp_path, schedule)
    # Inputs of 2 at bursts 2, 3, 4 (threshold 3): 2 -> -18, -16 -> 144 >= 3, fires at 4.
    assert [b.cortical_id in f for f in fired] == [False, False, False, False, True, False]


# ------------------------------------------------------ FEAGI's current ids


def test_feagi_ids_legacy_aliases_and_types():
    c = build_connectome(FEAGI_V3 / "legacy_io_ids.v3.json")
    pro, mot = c.area("aXBybwEAAAA="), c.area("b21vdAUAAAA=")
    assert decode_id(pro.cortical_id) == b"ipro\x01\x00\x00\x00"
    assert (pro.legacy_id, pro.feagi_type, mot.legacy_id, mot.feagi_type) == (
        "i__pro", "IPU", "o__mot", "OPU")
    assert c.area("i__pro") is pro and c.area("o__mot") is mot  # old configs keep working
    assert c.area("input_a") is pro
    assert c.areas_of_type("IPU") == [pro] and c.areas_of_type("opu") == [mot]
    assert len(c.areas_of_type("CORE")) == 7


def test_a_schedule_by_legacy_id_drives_a_feagi_saved_genome(tmp_path):
    c = build_connectome(FEAGI_V3 / "legacy_io_ids.v3.json")
    runs = []
    for stim in ("legacy_io_ids.stim_i__pro.json", "legacy_io_ids.stim_b64.json"):
        schedule = load_schedule(FEAGI_V3 / stim, c, 2)
        runs.append(fired_by_burst(c, 2, tmp_path, schedule))
    assert runs[0] == runs[1]
    assert "aXBybwEAAAA=" in runs[0][0] and "b21vdAUAAAA=" in runs[0][1]


def test_legacy_ids_are_migrated_as_feagi_migrates_them():
    assert migrate_legacy_id("i__pro") == (b"ipro\x01\x00\x00\x00", "")
    assert encode_id(migrate_legacy_id("i__pro")[0]) == "aXBybwEAAAA="
    assert encode_id(migrate_legacy_id("o__mot")[0]) == "b21vdAUAAAA="
    assert migrate_legacy_id("___pwr")[0] == migrate_legacy_id("_power")[0] == b"___power"
    assert migrate_legacy_id("_death")[0] == b"___death"
    assert migrate_legacy_id("iic400")[0] == b"isvi\x09\x00\x04\x00"  # segmented vision tile 4
    assert migrate_legacy_id("iv00_C")[0] == b"isvi\x09\x00\x04\x00"
    assert migrate_legacy_id("omot00")[0] == b"omot\x05\x00\x00\x00"
    assert migrate_legacy_id("c__obl") == (b"c__obl__", "")
    raw, note = migrate_legacy_id("i__xyz")
    assert raw == b"i__xyz__" and "custom" in note
    for legacy in ("i__pro", "o__mot", "c__obl", "___pwr", "_death"):
        assert legacy_alias(migrate_legacy_id(legacy)[0]) == legacy


def test_unknown_legacy_io_shorthand_is_typed_custom_with_a_note():
    g = {"version": "2.0", "blueprint": {"_____10c-i__xyz-cx-___bbx-i": 1,
                                         "_____10c-i__xyz-cx-___bby-i": 1,
                                         "_____10c-i__xyz-cx-___bbz-i": 1}}
    c = build_connectome(g)
    assert c.area("i__xyz").feagi_type == "CUSTOM"
    assert any("'i__xyz'" in n and "custom" in n for n in c.notes)


def test_area_lookup_refuses_ambiguous_keys_and_lists_candidates():
    g = {"version": "2.0", "blueprint": {
        **{f"_____10c-c__aaa-cx-___bb{x}-i": 1 for x in "xyz"},
        "_____10c-c__aaa-cx-__name-t": "twin",
        **{f"_____10c-c__bbb-cx-___bb{x}-i": 1 for x in "xyz"},
        "_____10c-c__bbb-cx-__name-t": "twin"}}
    c = build_connectome(g)
    with pytest.raises(KeyError, match="ambiguous") as err:
        c.area("twin")
    assert "c__aaa" in str(err.value) and "c__bbb" in str(err.value)
    assert c.area("c__aaa").name == "twin"
    with pytest.raises(KeyError, match="no cortical area"):
        c.area("c__zzz")


# --------------------------------------------------- FEAGI's own synapse lists


@pytest.mark.parametrize("case", sorted(p.name.split(".")[0]
                                        for p in FEAGI_REF.glob("*.feagi_synapses.json")))
def test_synapses_match_feagis_synapse_list(case):
    c = build_connectome(FEAGI_REF / f"{case}.genome.json")
    ours = set()
    for p in c.projections:
        src, dst = c.areas[p.src_area], c.areas[p.dst_area]
        for a, b in zip(src.voxel_of(p.pre).tolist(), dst.voxel_of(p.post).tolist(), strict=True):
            # FEAGI reports the PSP in float32 (2.7 -> 2.700000047683716).
            ours.add((src.cortical_id, tuple(a), dst.cortical_id, tuple(b), abs(p.weight),
                      float(np.float32(src.psp)), "inhibitory" if p.weight < 0 else "excitatory"))
    feagi = {(s["src"], tuple(s["src_xyz"]), s["dst"], tuple(s["dst_xyz"]), s["weight"], s["psp"],
              s["type"])
             for s in json.loads((FEAGI_REF / f"{case}.feagi_synapses.json").read_text())}
    assert ours == feagi
