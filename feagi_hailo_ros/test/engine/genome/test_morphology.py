"""Voxel-level morphology rules: hand-computed cases and a brute-force cross-check."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feagi_hailo_ros.engine.genome.errors import GenomeError, UnsupportedMorphologyError
from feagi_hailo_ros.engine.genome.morphology import (
    function_terms,
    parse_pattern_token,
    pattern_terms,
    projector_term,
    tile_term,
    token_text,
    vectors_terms,
    voxel_pairs,
)


def xyz_pairs(terms, src, dst):
    """Voxel pairs as a sorted list of ((x, y, z), (x', y', z')) for readable asserts."""
    s, d = voxel_pairs(terms, src, dst)

    def xyz(lin, shape):
        return (int(lin // (shape[1] * shape[2])), int(lin // shape[2] % shape[1]),
                int(lin % shape[2]))
    return sorted((xyz(a, src), xyz(b, dst)) for a, b in zip(s, d, strict=True))


def x_pairs(terms, src_x, dst_x):
    """Pairs along x only, for 1-D cases (y = z = 1)."""
    return [(a[0], b[0]) for a, b in xyz_pairs(terms, (src_x, 1, 1), (dst_x, 1, 1))]


def pat(src, dst):
    return [(tuple(parse_pattern_token(t, "t") for t in src),
             tuple(parse_pattern_token(t, "t") for t in dst))]


# ---------------------------------------------------------------- vectors


def test_lateral_plus_x_drops_the_edge():
    assert x_pairs(vectors_terms([(1, 0, 0)], (1, 1, 1), (3, 1, 1), (3, 1, 1)), 3, 3) == [
        (0, 1), (1, 2)]


def test_negative_vector_and_smaller_destination():
    terms = vectors_terms([(-1, 0, 0)], (1, 1, 1), (4, 1, 1), (2, 1, 1))
    assert x_pairs(terms, 4, 2) == [(1, 0), (2, 1)]


def test_morphology_scalar_scales_each_axis():
    # vector (1, 1, 0) * scalar (2, 1, 5) = offset (2, 1, 0)
    terms = vectors_terms([(1, 1, 0)], (2, 1, 5), (5, 2, 1), (5, 2, 1))
    assert xyz_pairs(terms, (5, 2, 1), (5, 2, 1)) == [
        ((0, 0, 0), (2, 1, 0)), ((1, 0, 0), (3, 1, 0)), ((2, 0, 0), (4, 1, 0))]


def test_several_vectors_are_a_union_without_duplicates():
    terms = vectors_terms([(0, 0, 0), (1, 0, 0), (1, 0, 0)], (1, 1, 1), (3, 1, 1), (3, 1, 1))
    assert x_pairs(terms, 3, 3) == [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)]
    assert sum(t.count() for t in terms) == 7  # the bound counts the duplicate


def test_block_to_block_is_identity_inside_both_areas():
    terms = function_terms("block_to_block", (3, 2, 1), (2, 2, 1))
    assert xyz_pairs(terms, (3, 2, 1), (2, 2, 1)) == [
        ((0, 0, 0), (0, 0, 0)), ((0, 1, 0), (0, 1, 0)),
        ((1, 0, 0), (1, 0, 0)), ((1, 1, 0), (1, 1, 0))]


# --------------------------------------------------------------- patterns


def test_zero_to_all_and_all_to_zero():
    shape = (2, 2, 1)
    all_dst = [(x, y, 0) for x in range(2) for y in range(2)]
    assert xyz_pairs(pattern_terms(pat([0, 0, 0], ["*", "*", "*"]), shape, shape), shape,
                     shape) == [((0, 0, 0), d) for d in all_dst]
    assert xyz_pairs(pattern_terms(pat(["*", "*", "*"], [0, 0, 0]), shape, shape), shape,
                     shape) == [(s, (0, 0, 0)) for s in all_dst]


def test_question_mark_keeps_the_source_coordinate_when_it_fits():
    # src x 0..2, dst x 0..1: source x = 2 has no same-coordinate destination.
    terms = pattern_terms(pat(["*", 0, 0], ["?", 0, 0]), (3, 1, 1), (2, 1, 1))
    assert x_pairs(terms, 3, 2) == [(0, 0), (1, 1)]


def test_integer_source_selects_one_coordinate_and_destination_wildcards_expand():
    # y_consolidator-like: only source x = 1, all destination x, same y.
    terms = pattern_terms(pat([1, "*", 0], ["*", "?", 0]), (3, 2, 1), (2, 2, 1))
    assert xyz_pairs(terms, (3, 2, 1), (2, 2, 1)) == [
        ((1, 0, 0), (0, 0, 0)), ((1, 0, 0), (1, 0, 0)),
        ((1, 1, 0), (0, 1, 0)), ((1, 1, 0), (1, 1, 0))]


@pytest.mark.parametrize(("token", "expected"), [
    ("!", [(0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3), (2, 0), (2, 1), (2, 3)]),
    ("?+", [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]),
    ("?-", [(1, 0), (2, 0), (2, 1)]),
    ("?+=", [(0, 0), (0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3), (2, 2), (2, 3)]),
    ("?-=", [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]),
    ("?+2", [(0, 2), (1, 3)]),
    ("?-1:?+1", [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (2, 2), (2, 3)]),
    ("1..2", [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)]),
    (3, [(0, 3), (1, 3), (2, 3)]),
    (7, []),
])
def test_destination_tokens_along_one_axis(token, expected):
    terms = pattern_terms(pat(["*", 0, 0], [token, 0, 0]), (3, 1, 1), (4, 1, 1))
    assert x_pairs(terms, 3, 4) == expected
    assert terms[0].count() == len(expected)


def test_source_range_token_and_tokens_round_trip():
    terms = pattern_terms(pat(["1..5", 0, 0], ["?", 0, 0]), (3, 1, 1), (3, 1, 1))
    assert x_pairs(terms, 3, 3) == [(1, 1), (2, 2)]
    for text in ["*", "?", "!", "?+", "?-", "?+=", "?-=", "?+3", "?-2", "?-1:?+4", "2..5", "4"]:
        assert token_text(parse_pattern_token(text, "p")) == text


@pytest.mark.parametrize("bad", ["x", "??", "-1", -3, 1.5, True, None, [1]])
def test_bad_tokens_raise(bad):
    where = "neuron_morphologies.m.parameters.patterns[0][1][0]"
    with pytest.raises(GenomeError, match=r"patterns\[0\]\[1\]\[0\]"):  # value or type error
        parse_pattern_token(bad, where)


# -------------------------------------------------------------- projector


@pytest.mark.parametrize(("src", "dst", "expected"), [
    (3, 3, [(0, 0), (1, 1), (2, 2)]),
    (4, 2, [(0, 0), (1, 0), (2, 1), (3, 1)]),  # many-to-one, ratio 2
    (5, 2, [(0, 0), (1, 0), (2, 0), (3, 1), (4, 1)]),  # ratio 2.5: int(s / 2.5)
    (2, 4, [(0, 0), (0, 1), (1, 2), (1, 3)]),  # one-to-many, ratio 2
    (2, 5, [(0, 0), (0, 1), (0, 2), (1, 3), (1, 4)]),  # int(d / 2.5) == s
    (3, 1, [(0, 0), (1, 0), (2, 0)]),
    (1, 3, [(0, 0), (0, 1), (0, 2)]),
])
def test_projector_one_axis(src, dst, expected):
    term = projector_term((src, 1, 1), (dst, 1, 1))
    assert x_pairs([term], src, dst) == expected
    assert term.count() == len(expected) == max(src, dst)


def test_projector_is_a_product_of_axes():
    term = projector_term((4, 2, 3), (2, 4, 6))
    s, d = voxel_pairs([term], (4, 2, 3), (2, 4, 6))
    assert s.size == term.count() == 4 * 4 * 6
    pairs = xyz_pairs([term], (4, 2, 3), (2, 4, 6))
    assert ((3, 1, 2), (1, 2, 4)) in pairs and ((3, 1, 2), (1, 3, 5)) in pairs
    assert all(b[0] == a[0] // 2 and b[1] // 2 == a[1] and b[2] // 2 == a[2] for a, b in pairs)


def test_projector_xz_maps_source_x_onto_destination_z():
    # feagi-core's own test case: (7, 0, 0) in 10x1x1 -> (0, 0, 7) in 1x1x10.
    pairs = xyz_pairs(function_terms("projector_xz", (10, 1, 1), (1, 1, 10)), (10, 1, 1),
                      (1, 1, 10))
    assert ((7, 0, 0), (0, 0, 7)) in pairs and len(pairs) == 10


def test_lateral_pairs_and_last_to_first():
    assert x_pairs(function_terms("lateral_pairs_x", (5, 1, 1), (5, 1, 1)), 5, 5) == [
        (0, 1), (1, 0), (2, 3), (3, 2)]
    assert xyz_pairs(function_terms("last_to_first", (2, 3, 4), (5, 5, 5)), (2, 3, 4),
                     (5, 5, 5)) == [((1, 2, 3), (0, 0, 0))]


@pytest.mark.parametrize("name", ["memory", "episodic_memory", "randomizer", "expander_x",
                                  "no_such_function"])
def test_unsupported_functions_raise(name):
    with pytest.raises(UnsupportedMorphologyError, match=name):
        function_terms(name, (2, 2, 2), (2, 2, 2), "blueprint.x")


def test_counts_of_huge_axes_are_closed_form():
    # Counting must not walk the axis: the builder counts before refusing a huge brain.
    big = 10**15
    term = pattern_terms(pat(["*", 0, 0], ["?-1:?+1", 0, 0]), (big, 1, 1), (big, 1, 1))[0]
    assert term.count() == 3 * big - 2
    assert function_terms("lateral_pairs_x", (big, 1, 1), (big, 1, 1))[0].count() == big
    assert projector_term((big, 1, 1), (3, 1, 1)).count() == big


def test_empty_term_yields_no_pairs():
    terms = vectors_terms([(10**12, 0, 0)], (10**6, 1, 1), (3, 1, 1), (3, 1, 1))
    s, d = voxel_pairs(terms, (3, 1, 1), (3, 1, 1))
    assert s.size == d.size == 0 and terms[0].count() == 0


# ------------------------------------------------- brute-force cross-check


def _reference_pattern(src_tok, dst_tok, s, d, dst_dim):
    """Per-coordinate meaning of a token pair, written the obvious way."""
    k = src_tok[0]
    if k == "=" and s != src_tok[1]:
        return False
    if k == "abs" and not src_tok[1] <= s <= src_tok[2]:
        return False
    k = dst_tok[0]
    return {
        "*": True, "?": d == s, "!": d != s, "=": k == "=" and d == dst_tok[1],
        ">": d > s, "<": d < s, ">=": d >= s, "<=": d <= s,
        "+": k == "+" and d == s + dst_tok[1],
        "rel": k == "rel" and s + dst_tok[1] <= d <= s + dst_tok[2],
        "abs": k == "abs" and dst_tok[1] <= d <= dst_tok[2],
    }[k] and 0 <= d < dst_dim


dims = st.tuples(*[st.integers(1, 4)] * 3)
src_tokens = st.sampled_from(["*", "?", 0, 1, 2, "0..1", "1..3"])
dst_tokens = st.sampled_from(["*", "?", "!", 0, 2, "?+", "?-", "?+=", "?-=", "?+1", "?-2",
                              "?-1:?+1", "1..2"])


@settings(max_examples=60, deadline=None)
@given(src=dims, dst=dims, patterns=st.lists(
    st.tuples(st.tuples(*[src_tokens] * 3), st.tuples(*[dst_tokens] * 3)), min_size=1,
    max_size=3))
def test_patterns_match_brute_force(src, dst, patterns):
    canon = [(tuple(parse_pattern_token(t, "p") for t in a),
              tuple(parse_pattern_token(t, "p") for t in b)) for a, b in patterns]
    expected = set()
    for sv in itertools.product(*map(range, src)):
        for dv in itertools.product(*map(range, dst)):
            if any(all(_reference_pattern(a[i], b[i], sv[i], dv[i], dst[i]) for i in range(3))
                   for a, b in canon):
                expected.add((sv, dv))
    terms = pattern_terms(canon, src, dst)
    assert set(xyz_pairs(terms, src, dst)) == expected
    for term in terms:  # the closed-form count is exact for each term
        assert term.count() == voxel_pairs([term], src, dst)[0].size


@settings(max_examples=60, deadline=None)
@given(src=dims, dst=dims, vectors=st.lists(st.tuples(*[st.integers(-3, 3)] * 3), min_size=1,
                                             max_size=3),
       scalar=st.tuples(*[st.integers(-2, 2)] * 3))
def test_vectors_match_brute_force(src, dst, vectors, scalar):
    expected = set()
    for sv in itertools.product(*map(range, src)):
        for v in vectors:
            dv = tuple(sv[i] + v[i] * scalar[i] for i in range(3))
            if all(0 <= dv[i] < dst[i] for i in range(3)):
                expected.add((sv, dv))
    assert set(xyz_pairs(vectors_terms(vectors, scalar, src, dst), src, dst)) == expected


@settings(max_examples=60, deadline=None)
@given(src=st.tuples(*[st.integers(1, 9)] * 3), dst=st.tuples(*[st.integers(1, 9)] * 3))
def test_projector_matches_float32_formula(src, dst):
    def axis(s, sd, dd):
        if sd == dd:
            return {s}
        if sd > dd:
            return {int(np.float32(s) / (np.float32(sd) / np.float32(dd)))}
        r = np.float32(dd) / np.float32(sd)
        return {d for d in range(dd) if int(np.float32(d) / r) == s}
    expected = {(sv, dv) for sv in itertools.product(*map(range, src))
                for dv in itertools.product(*[axis(sv[i], src[i], dst[i]) for i in range(3)])}
    term = projector_term(src, dst)
    assert set(xyz_pairs([term], src, dst)) == expected and term.count() == len(expected)


# ------------------------------------- FEAGI 2.6.10's newer function morphologies


def test_bitmask_encoder_and_decoder_use_the_msb_convention():
    # feagi-core core_morphologies/bitmask.rs unit tests: encoder x of (1, 2, 3) from 3 bits
    # reaches x in {2, 3, 6, 7}; decoder of value 5 in 4 bits reaches x in {1, 3}. The other
    # axes are clamped into the destination.
    enc = xyz_pairs(function_terms("bitmask_encoder_x", (3, 10, 10), (8, 10, 10)), (3, 10, 10),
                    (8, 10, 10))
    assert [d for s, d in enc if s == (1, 2, 3)] == [(2, 2, 3), (3, 2, 3), (6, 2, 3), (7, 2, 3)]
    dec = xyz_pairs(function_terms("bitmask_decoder_x", (16, 10, 10), (4, 10, 10)),
                    (16, 10, 10), (4, 10, 10))
    assert [d for s, d in dec if s == (5, 1, 1)] == [(1, 1, 1), (3, 1, 1)]
    clamp = xyz_pairs(function_terms("bitmask_decoder_z", (1, 3, 4), (1, 2, 2)), (1, 3, 4),
                      (1, 2, 2))
    assert [d for s, d in clamp if s == (0, 2, 3)] == [(0, 1, 0), (0, 1, 1)]  # 3 = 0b11


@pytest.mark.parametrize(("src", "dst"), [((1, 2, 3), (2, 2, 3)), ((4, 2, 3), (0, 3, 3)),
                                          ((4, 5, 3), (0, 0, 4))])
def test_sweeper_steps_to_the_next_voxel_in_x_major_order(src, dst):
    # feagi-core core_morphologies/sweeper.rs unit tests (destination 5 x 6 x 7).
    pairs = dict(xyz_pairs(function_terms("sweeper", (5, 6, 7), (5, 6, 7)), (5, 6, 7), (5, 6, 7)))
    assert pairs[src] == dst
    assert (4, 5, 6) not in pairs  # the last voxel has no next one


def test_rotator_z_rotates_each_destination_layer():
    # Layer 0 is -90 degrees, the middle layer 0, the last +90 (feagi-core rules/rotator_z.rs);
    # the centre voxel stays put in every layer.
    pairs = xyz_pairs(function_terms("rotator_z", (3, 3, 1), (3, 3, 3)), (3, 3, 1), (3, 3, 3))
    assert [d for s, d in pairs if s == (1, 1, 0)] == [(1, 1, 0), (1, 1, 1), (1, 1, 2)]
    assert [d for s, d in pairs if s == (0, 0, 0)] == [(0, 0, 1), (0, 2, 2), (2, 0, 0)]
    assert len(xyz_pairs(function_terms("rotator_z", (32, 32, 1), (32, 32, 3)), (32, 32, 1),
                         (32, 32, 3))) == 32 * 32 * 3


def test_first_to_last_and_tile():
    assert xyz_pairs(function_terms("first_to_last", (2, 3, 4), (5, 5, 5)), (2, 3, 4),
                     (5, 5, 5)) == [((0, 0, 0), (4, 4, 4))]
    # feagi-core core_morphologies/tile.rs unit tests: fold (3 of 4 -> 1 of 2) and replicate
    # (1 of 2 -> 1 and 3 of 5).
    assert (3, 1) in x_pairs([tile_term((4, 1, 1), (2, 1, 1))], 4, 2)
    assert [d for s, d in x_pairs([tile_term((2, 1, 1), (5, 1, 1))], 2, 5) if s == 1] == [1, 3]
