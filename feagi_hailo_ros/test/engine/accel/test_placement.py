"""Placement rules, conv/dense detection, output dtypes, partitions and budget warnings."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from strategies import area, brain, proj, recurrent_chain

from feagi_hailo_ros.engine.accel.layout import conv_kernel, dense_matrix, projection_layout
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator
from feagi_hailo_ros.engine.accel.placement import (
    ACCELERATOR,
    CPU,
    AcceleratorBudgetWarning,
    PlacementRules,
    accelerated_engine,
    format_placement_table,
    is_sensory_or_motor,
    mapping_key,
    place,
    placement_table,
    plan_partitions,
    readable_id,
)
from feagi_hailo_ros.engine.core.connectome import Connectome, PlasticityRule
from feagi_hailo_ros.engine.genome.brains import load_brain

ALL_ON = PlacementRules(min_synapses=0, min_dst_neurons=0, keep_sensory_motor_on_cpu=False)


@pytest.fixture(scope="module")
def vision() -> Connectome:
    return load_brain("vision")[0]


@pytest.fixture(scope="module")
def obstacle() -> Connectome:
    return load_brain("obstacle_avoidance")[0]


def by_key(connectome: Connectome, placements) -> dict[str, object]:
    return {mapping_key(connectome, pl.projection): pl for pl in placements}


def shift(dims=(5, 4, 2), npv=1, offsets=((1, 0),), drop: int | None = None) -> Connectome:
    """One area projecting onto itself by x/y offsets, clipped at the borders (FEAGI lateral)."""
    a = area(dims=dims, npv=npv)
    n = a.neuron_count
    idx = np.arange(n)
    c = dims[2] * npv
    x, y, ch = idx // (dims[1] * c), (idx // c) % dims[1], idx % c
    pre, post = [], []
    for ox, oy in offsets:
        ok = (x + ox >= 0) & (x + ox < dims[0]) & (y + oy >= 0) & (y + oy < dims[1])
        post.append(idx[ok])
        pre.append(((x[ok] + ox) * dims[1] + (y[ok] + oy)) * c + ch[ok])
    pre, post = np.concatenate(pre), np.concatenate(post)
    if drop is not None:
        pre, post = np.delete(pre, drop), np.delete(post, drop)
    return brain([a], [proj(0, 0, 0, pre, post)])


# -- the shipped brains ------------------------------------------------------------------------


def test_vision_default_placement(vision):
    pl = by_key(vision, place(vision))
    for k in ("c_v1__->c_v1__#0", "c_v1__->c_v1__#3", "c_v1__->c_v1m_#0", "c_v2__->c_v2__#0"):
        assert pl[k].backend == ACCELERATOR and pl[k].layout == "conv", k
    # Projectors between areas of different size are dense and far too big for the device.
    assert pl["c_v1__->c_v2__#0"].backend == CPU and pl["c_v1__->c_v2__#0"].layout == "gemm"
    assert "max_weights" in pl["c_v1__->c_v2__#0"].reason
    assert pl["c_v1__->c_v2__#0"].weight_count == 65536 * 32768
    # The camera input area is sensory: stays on the CPU although it is big and a conv.
    assert pl["iv00_C->c_v1__#0"].backend == CPU and "sensory" in pl["iv00_C->c_v1__#0"].reason
    assert pl["iv00_C->c_v1__#0"].layout == "conv"
    assert pl["c_v2__->c_v2b_#0"].backend == CPU and "min_synapses" in pl["c_v2__->c_v2b_#0"].reason


def test_obstacle_avoidance_stays_on_cpu_by_default(obstacle):
    placements = place(obstacle)
    assert all(p.backend == CPU for p in placements)
    assert all(p.bytes_per_burst == 0 for p in placements)
    assert plan_partitions(obstacle, placements) == []


def test_v3_ids_are_decoded_for_sensory_motor():
    c = load_brain("obstacle_avoidance_v3")[0]
    assert readable_id("aV9fcHJvX18=") == "i__pro__"
    assert readable_id("c__obl") == "c__obl"
    rules = PlacementRules(min_synapses=0, min_dst_neurons=0)
    for pl in place(c, rules):
        p = c.projections[pl.projection]
        io = any(is_sensory_or_motor(c.areas[a]) for a in (p.src_area, p.dst_area))
        assert (pl.backend == CPU) == io, mapping_key(c, pl.projection)
    # The id prefix alone marks an area (no IPU/OPU group).
    assert is_sensory_or_motor(area(cid="i__cam"))
    assert not is_sensory_or_motor(area(cid="c__cam"))


# -- precedence ----------------------------------------------------------------------------


def test_rules_precedence(obstacle):
    c = obstacle
    base = dict(min_synapses=0, min_dst_neurons=0)
    # Thresholds alone: everything not touching i__pro / o__mot goes.
    pl = by_key(c, place(c, PlacementRules(**base)))
    assert pl["c__obl->c__obr#0"].backend == ACCELERATOR
    assert pl["i__pro->c__obl#0"].backend == CPU and "sensory" in pl["i__pro->c__obl#0"].reason
    # accelerator_areas beats sensory/motor.
    pl = by_key(c, place(c, PlacementRules(**base, accelerator_areas=("i__pro",))))
    assert pl["i__pro->c__obl#0"].backend == ACCELERATOR
    assert "accelerator_areas" in pl["i__pro->c__obl#0"].reason
    # cpu_areas beats accelerator_areas for a projection touching both, and thresholds.
    rules = PlacementRules(**base, accelerator_areas=("i__pro",), cpu_areas=("Obstacle left",))
    pl = by_key(c, place(c, rules))
    assert pl["i__pro->c__obl#0"].backend == CPU and "cpu_areas" in pl["i__pro->c__obl#0"].reason
    assert pl["i__pro->c__obr#0"].backend == ACCELERATOR
    # An override beats every list; an override to CPU beats the thresholds.
    rules = PlacementRules(**base, cpu_areas=("c__obl",), overrides={
        "i__pro->c__obl#0": "accelerator", "c__obr->c__obl#0": "accelerator",
        "c__obl->c__obr#0": "cpu"})
    pl = by_key(c, place(c, rules))
    assert pl["i__pro->c__obl#0"].backend == ACCELERATOR
    assert pl["i__pro->c__obl#0"].reason == "override i__pro->c__obl#0"
    assert pl["c__obr->c__obl#0"].backend == ACCELERATOR
    assert pl["c__obl->c__obr#0"].backend == CPU


def test_per_synapse_weights_are_cpu_whatever_the_rules():
    c = brain([area(dims=(2, 1, 1)), area(dims=(2, 1, 1))],
              [proj(0, 0, 1, [0, 1], [1, 0], weights=np.array([1.0, 2.0]))])
    rules = PlacementRules(overrides={"a0->a1#0": "accelerator"}, accelerator_areas=("a1",))
    (pl,) = place(c, rules)
    assert pl.backend == CPU and "per-synapse weights" in pl.reason


def test_thresholds_are_inclusive_and_both_required(obstacle):
    c = obstacle
    p = next(p for p in c.projections if mapping_key(c, p.index) == "c__obl->c__obr#0")
    n_dst = c.areas[p.dst_area].neuron_count
    exact = PlacementRules(min_synapses=p.synapse_count, min_dst_neurons=n_dst)
    assert place(c, exact)[p.index].backend == ACCELERATOR
    more_syn = PlacementRules(min_synapses=p.synapse_count + 1, min_dst_neurons=0)
    assert "min_synapses" in place(c, more_syn)[p.index].reason
    more_dst = PlacementRules(min_synapses=0, min_dst_neurons=n_dst + 1)
    assert "min_dst_neurons" in place(c, more_dst)[p.index].reason
    small = PlacementRules(min_synapses=0, min_dst_neurons=0, max_weights=99)
    assert "max_weights" in place(c, small)[p.index].reason  # this conv needs 100 weights


@pytest.mark.parametrize(("rules", "message"), [
    ({"overrides": {"c__obl-c__obr#0": "cpu"}}, "form"),
    ({"overrides": {"c__obl->c__obr#0": "gpu"}}, "backend"),
    ({"overrides": {"c__obl->nope#0": "cpu"}}, "no cortical area"),
    ({"overrides": {"c__obl->c__obr#7": "cpu"}}, "no such mapping"),
    ({"cpu_areas": ["nowhere"]}, "no cortical area"),
    ({"cpu_areas": ["c__obl"], "accelerator_areas": ["c__obl"]}, "both"),
    ({"min_synapses": -1}, "min_synapses"),
    ({"min_synapse": 3}, "unknown placement rule"),
    # The node refuses a divider for an area the brain lacks; placement and export must too.
    ({"rate_dividers": {"nowhere": 2}}, "rate_dividers: .*no cortical area"),
    # A divider past int64 raised OverflowError inside the engine (not a refusal by the rules).
    ({"rate_dividers": {"c__obl": 2**63}}, "rate_dividers 'c__obl'"),
    ({"rate_dividers": {"c__obl": 10**21}}, "rate_dividers 'c__obl'"),
])
def test_bad_rules_are_refused(obstacle, rules, message):
    with pytest.raises(ValueError, match=message):
        place(obstacle, PlacementRules.from_dict(rules))


def test_rules_from_yaml_and_json(tmp_path: Path):
    y = tmp_path / "rules.yaml"
    y.write_text("min_synapses: 10\ncpu_areas: [c__obl]\noverrides:\n  'a->b#1': accelerator\n")
    r = PlacementRules.load(y)
    assert r.min_synapses == 10 and r.cpu_areas == ("c__obl",)
    assert r.overrides == {"a->b#1": "accelerator"} and r.min_dst_neurons == 4096
    j = tmp_path / "rules.json"
    j.write_text(json.dumps({"keep_sensory_motor_on_cpu": False}))
    assert PlacementRules.load(j).keep_sensory_motor_on_cpu is False
    j.write_text("[1, 2]")
    with pytest.raises(ValueError, match="mapping"):
        PlacementRules.load(j)


# -- conv detection --------------------------------------------------------------------------


def conv_reference(layout, x_frame: np.ndarray) -> np.ndarray:
    """Zero-padded cross-correlation in plain numpy, channels-last in and out."""
    k = conv_kernel(layout)
    rx, ry = layout.radius
    xp = np.pad(x_frame, ((rx, rx), (ry, ry), (0, 0)))
    big_x, big_y, _ = x_frame.shape
    out = np.zeros((big_x, big_y, k.shape[0]))
    for u in range(k.shape[2]):
        for v in range(k.shape[3]):
            out += xp[u:u + big_x, v:v + big_y, :] @ k[:, :, u, v].T
    return out


@pytest.mark.parametrize(("dims", "npv", "offsets"), [
    ((5, 4, 2), 1, ((1, 0),)),
    ((5, 4, 2), 1, ((-2, 1), (0, 0), (1, -1))),
    ((3, 3, 2), 3, ((0, 1),)),  # neurons of a voxel fold into channels
    ((6, 1, 1), 1, ((1, 0), (2, 0))),
])
def test_translation_invariant_adjacency_is_a_conv(dims, npv, offsets):
    c = shift(dims, npv, offsets)
    layout = projection_layout(c, 0)
    assert layout.kind == "conv", layout.why_not_conv
    assert layout.radius == (max(abs(o[0]) for o in offsets), max(abs(o[1]) for o in offsets))
    channels = dims[2] * npv
    assert layout.in_shape == (dims[0], dims[1], channels) == layout.out_shape
    # The kernel reproduces the adjacency exactly, boundary clipping included.
    integ = NumpyIntegrator()
    integ.prepare(c, [0])
    rng = np.random.default_rng(0)
    x = (rng.random((3, c.areas[0].neuron_count)) < 0.5).astype(np.uint8)
    expected = integ.integrate({0: x})[0]
    for g in range(3):
        got = conv_reference(layout, x[g].reshape(layout.in_shape).astype(float))
        np.testing.assert_array_equal(got.reshape(-1), expected[g])


def test_not_a_conv_when_a_synapse_is_missing_or_doubled():
    layout = projection_layout(shift(offsets=((1, 0),), drop=5), 0)
    assert layout.kind == "gemm" and "not translation invariant" in layout.why_not_conv
    c = shift(offsets=((1, 0),))
    p = c.projections[0]
    doubled = Connectome(c.areas, [proj(0, 0, 0, np.r_[p.pre, p.pre[:1]], np.r_[p.post, p.post[:1]])])
    layout = projection_layout(doubled, 0)
    assert layout.kind == "gemm" and "duplicate" in layout.why_not_conv
    assert layout.max_fan_in == 2
    assert dense_matrix(doubled, 0).max() == 2.0  # the dense layer counts the pair twice


def test_parity_pairs_are_not_a_conv():
    # x-neighbour pairs 0<->1, 2<->3 (FEAGI lateral_pairs_x): the offset depends on parity.
    a = area(dims=(4, 1, 1))
    c = brain([a], [proj(0, 0, 0, [1, 0, 3, 2], [0, 1, 2, 3])])
    assert projection_layout(c, 0).kind == "gemm"


def test_projector_between_different_sizes_is_dense(vision):
    p = next(p for p in vision.projections if mapping_key(vision, p.index) == "c_v2__->c_v4__#0")
    layout = projection_layout(vision, p.index)
    assert layout.kind == "gemm" and "differ" in layout.why_not_conv
    assert layout.in_shape == (32768,) and layout.out_shape == (16384,)
    # Same x/y, different z: still a (1x1) conv with z folded into channels.
    cam = next(p for p in vision.projections if mapping_key(vision, p.index) == "iv00_C->c_v1__#0")
    layout = projection_layout(vision, cam.index)
    assert layout.kind == "conv" and layout.radius == (0, 0)
    assert layout.in_shape == (128, 128, 3) and layout.out_shape == (128, 128, 4)


# -- dtypes, partitions, budgets -----------------------------------------------------------


def fan_in_brain(n_src: int, n_dst: int = 2) -> Connectome:
    """All-to-all: every destination neuron has fan-in n_src."""
    pre = np.repeat(np.arange(n_src), n_dst)
    post = np.tile(np.arange(n_dst), n_src)
    return brain([area(dims=(n_src, 1, 1)), area(dims=(1, 1, n_dst))], [proj(0, 0, 1, pre, post)])


@pytest.mark.parametrize(("n_src", "dtype", "nbytes"), [(255, "uint8", 1), (256, "uint16", 2)])
def test_output_dtype_follows_fan_in(n_src, dtype, nbytes):
    c = fan_in_brain(n_src)
    placements = place(c, ALL_ON)
    (part,) = plan_partitions(c, placements)
    assert part.outputs[0].dtype == dtype and part.outputs[0].max_fan_in == n_src
    assert placements[0].bytes_per_burst == n_src + 2 * nbytes


def test_fan_in_beyond_16_bits_stays_on_cpu():
    c = fan_in_brain(65536, n_dst=1)
    (pl,) = place(c, PlacementRules(overrides={"a0->a1#0": "accelerator"}))
    assert pl.backend == CPU and "16-bit" in pl.reason


def test_partitions_group_by_source_delay_and_layout():
    a = area(dims=(4, 3, 1))
    b = area(dims=(4, 3, 2))
    idx = np.arange(12)
    c = brain([a, b, area(dims=(2, 1, 1))], [
        proj(0, 0, 1, idx, idx * 2),            # conv 1x1, delay 1
        proj(1, 0, 0, idx[3:], idx[:-3]),       # conv shift in x, delay 1
        proj(2, 0, 1, idx, idx * 2 + 1, delay=2),
        proj(3, 0, 2, idx, idx % 2),            # different x,y: dense
    ])
    parts = {p.name: p for p in plan_partitions(c, place(c, ALL_ON))}
    assert sorted(parts) == ["a0_d1_conv", "a0_d1_gemm", "a0_d2_conv"]
    assert parts["a0_d1_conv"].projections == (0, 1)
    assert parts["a0_d1_conv"].input_shape == (4, 3, 1)
    assert [o.shape for o in parts["a0_d1_conv"].outputs] == [(4, 3, 2), (4, 3, 1)]
    assert parts["a0_d1_gemm"].input_shape == (12,) and parts["a0_d1_gemm"].outputs[0].shape == (2,)
    assert parts["a0_d1_gemm"].weight_count == 24
    assert all(o.adjacency_sha256 for p in parts.values() for o in p.outputs)


def test_budget_warnings():
    # A dense partition past the dense budget warns; so do partitions past the total.
    big = brain([area(dims=(4000, 1, 1)), area(dims=(3000, 1, 1))],
                [proj(0, 0, 1, [0], [5])])
    with pytest.warns(AcceleratorBudgetWarning, match="dense-layer budget"):
        plan_partitions(big, place(big, ALL_ON))
    twice = brain([area(dims=(4500, 1, 1)), area(dims=(1, 1, 3000)), area(dims=(1, 4500, 1))],
                  [proj(0, 0, 1, [0], [5]), proj(1, 2, 1, [0], [5])])
    with pytest.warns(AcceleratorBudgetWarning) as record:
        plan_partitions(twice, place(twice, ALL_ON))
    assert any("together" in str(w.message) for w in record)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan_partitions(shift(), place(shift(), ALL_ON))  # a small conv: silent


def test_placement_table_and_engine_helper(obstacle):
    rules = PlacementRules(min_synapses=40, min_dst_neurons=0, keep_sensory_motor_on_cpu=False)
    placements = place(obstacle, rules)
    rows = placement_table(obstacle, placements)
    assert [r["projection"] for r in rows] == list(range(len(obstacle.projections)))
    assert sum(r["synapses"] for r in rows) == obstacle.synapse_count
    for r in rows:
        assert set(r) >= {"area", "neurons", "synapses", "backend", "reason", "weight_count",
                          "bytes_per_burst"}
        assert (r["backend"] == ACCELERATOR) == (r["synapses"] >= 40)
    text = format_placement_table(rows)
    on = sum(r["backend"] == ACCELERATOR for r in rows)
    assert f"{on} of {len(rows)} projections on the accelerator" in text
    integ = NumpyIntegrator()
    engine = accelerated_engine(obstacle, integ, placements)
    assert sorted(engine._assign) == [pl.projection for pl in placements if pl.backend == ACCELERATOR]
    assert all(i is integ for i in engine._assign.values())


def test_the_placement_summary_says_how_far_associative_memory_can_grow():
    # A (30 neurons) -> B (40 neurons) associative_memory starts with 0 synapses and can grow
    # one per (source, target) pair: 1,200. "0 synapses at load" alone hides that cost (a
    # 100x100 -> 100x100 mapping grows towards 10^8 synapses, gigabytes, with no warning).
    rule = PlasticityRule(ltp=1.0, ltd=0.0, window=1, associative=True)
    c = brain([area(0, (30, 1, 1)), area(1, (40, 1, 1), first=30)],
              [proj(0, 0, 1, [], [], plasticity=rule)])
    rows = placement_table(c, place(c, PlacementRules()))
    assert rows[0]["max_synapses"] == 1200
    text = format_placement_table(rows)
    assert "0 synapses at load, up to 1,200 as associative_memory grows them" in text


# -- pipeline: true (one more burst of delay on the accelerator) ------------------------------


def _chain_brain() -> Connectome:
    return recurrent_chain(2, (3, 2, 1), (1, 1, 2, 1), (30, 20, 20, 20))


def test_pipeline_rule_parses_and_refuses_non_bool():
    from feagi_hailo_ros.engine.accel.placement import PlacementRules

    assert PlacementRules.from_dict({"pipeline": True}).pipeline is True
    assert PlacementRules().pipeline is False
    with pytest.raises(ValueError, match="pipeline must be true or false"):
        PlacementRules.from_dict({"pipeline": "yes"})


def test_pipeline_changes_delay_1_accelerator_projections_only():
    from feagi_hailo_ros.engine.accel.placement import (
        PlacementRules,
        format_placement_table,
        pipelined_brain,
        place,
        placement_table,
    )

    c = _chain_brain()
    rules = PlacementRules(min_synapses=0, min_dst_neurons=0, keep_sensory_motor_on_cpu=False,
                           cpu_areas=(), pipeline=True)
    placements = place(c, rules)
    # Projection 3 on the CPU (an override), 0, 1 (delay 1) and 2 (delay 2) on the accelerator.
    key3 = [pl for pl in placements if pl.projection == 3][0]
    placements = [pl if pl is not key3 else type(pl)(3, "cpu", "test", 0, 0) for pl in placements]
    running, changes = pipelined_brain(c, placements, rules)
    assert [(ch.projection, ch.genome_delay, ch.delay) for ch in changes] == [(0, 1, 2), (1, 1, 2)]
    assert [p.delay for p in running.projections] == [2, 2, 2, 1]
    assert [p.delay for p in c.projections] == [1, 1, 2, 1]  # the genome's brain is untouched
    rows = placement_table(running, placements, changes)
    assert [(r["genome_delay"], r["delay"]) for r in rows] == [(1, 2), (1, 2), (2, 2), (1, 1)]
    assert "pipelined: delay 1 -> 2" in rows[0]["reason"]
    text = format_placement_table(rows)
    assert text.count("pipeline: ") == 2 and f"pipeline: {rows[1]['mapping']} delay 1 -> 2" in text
    # feagi-hailo placement --json lists them (all four on the accelerator there).
    from feagi_hailo_ros.cli import placement_report

    report = placement_report(c, rules)
    assert [(d["projection"], d["delay"]) for d in report["delay_changes"]] == [(0, 2), (1, 2),
                                                                                (3, 2)]
    assert {p["delay"] for p in report["partitions"]} == {2}
    # Without the rule nothing changes.
    same, none = pipelined_brain(c, placements, PlacementRules())
    assert same is c and none == []

    # Exact: the accelerated engine of the pipelined brain is the CPU engine of the brain whose
    # accelerator projections have delay 2, built independently here ...
    from strategies import assert_same_run

    from feagi_hailo_ros.engine.core.engine import Engine

    expected = brain(list(c.areas), [proj(0, 0, 1, c.projections[0].pre, c.projections[0].post,
                                          weight=0.6, delay=2),
                                     proj(1, 1, 2, c.projections[1].pre, c.projections[1].post,
                                          weight=0.7, delay=2),
                                     c.projections[2], c.projections[3]])
    integ = NumpyIntegrator()
    acc = accelerated_engine(running, integ, placements)
    assert_same_run([Engine(expected, "reference"), Engine(expected, "cpu"), acc], expected, 60, 4)
    # ... and not the genome's brain (the change is real).
    acc2 = accelerated_engine(running, NumpyIntegrator(), placements)
    with pytest.raises(AssertionError):
        assert_same_run([Engine(c, "cpu"), acc2], c, 60, 4)


def test_pipeline_refuses_a_delay_that_breaks_integrability():
    from feagi_hailo_ros.engine.accel.placement import (
        ACCELERATOR,
        Placement,
        PlacementRules,
        pipelined_brain,
    )

    # Two projections 0 -> 1 reaching the same neuron with different weights: delay 1 and 2.
    c = brain([area(dims=(2, 1, 1)), area(dims=(2, 1, 1))],
              [proj(0, 0, 1, [0, 1], [0, 1], weight=1.0, delay=1),
               proj(1, 0, 1, [0, 1], [0, 1], weight=2.0, delay=2)])
    placements = [Placement(0, ACCELERATOR, "test", 2, 4), Placement(1, "cpu", "test", 0, 0)]
    with pytest.raises(ValueError, match="pipeline: .* at delay 2: .*different contributions"):
        pipelined_brain(c, placements, PlacementRules(pipeline=True))
