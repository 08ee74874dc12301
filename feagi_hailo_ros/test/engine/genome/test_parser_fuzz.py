"""Fuzzing the importer: whatever goes in, only a GenomeError (or a valid brain) comes out.

``load_genome`` + ``build_connectome`` back the ROS ``~/upload`` service, so a
malformed or hostile genome must never crash the node with anything else
(KeyError, TypeError, OverflowError, MemoryError, RecursionError, ...).
"""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.genome.builder import build_connectome
from feagi_hailo_ros.engine.genome.errors import GenomeError
from feagi_hailo_ros.engine.genome.model import FLOAT32_MAX
from feagi_hailo_ros.engine.genome.parser import load_genome
from feagi_hailo_ros.genomes import example_genome_path

LIMIT = 64 * 2**20  # keeps every accepted mutant small and fast to build
SEEDS = {name: json.loads(example_genome_path(name).read_text())
         for name in ("obstacle_avoidance", "obstacle_avoidance_v3")}

# Values a genome editor or a bit flip could plausibly put anywhere.
special = st.sampled_from([
    0, 1, -1, 2, 255, 256, 10**6, 10**12, 10**30, -(10**30), 0.5, -0.0, 1e308, "", "*", "?",
    "!", "?+1", "0..3", "projector", "block_to_block", "all_to_all", "memory", "lateral_+x",
    "i__pro", "o__mot", "___pwr", "X19fcG93ZXI=", "functions", "patterns", "composite",
    [1, 1, 1], [0, 0, 0], [[0, 0, 0]], [["*", "*", "*"], ["?", "?", "?"]], True, False, None,
])
scalars = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12) | special)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10) | special.filter(lambda v: isinstance(v, str)),
                      children, max_size=4),
    max_leaves=12,
)


def check_brain(c: Connectome) -> None:
    """Invariants every connectome the importer accepts must satisfy."""
    first = 0
    for i, a in enumerate(c.areas):
        assert a.index == i and a.first_neuron == first and a.neuron_count > 0
        # PSP and leak are FEAGI's values, not clamped (DESIGN §4): finite, float32, >= 0.
        assert 0 <= a.psp <= FLOAT32_MAX and 0 <= a.leak <= FLOAT32_MAX
        assert 0 <= a.excitability <= 1
        first += a.neuron_count
    for p in c.projections:
        src, dst = c.areas[p.src_area], c.areas[p.dst_area]
        assert p.delay >= 1 and abs(p.weight) <= FLOAT32_MAX and np.isfinite(p.weight)
        assert p.pre.dtype == np.int32 and p.pre.shape == p.post.shape
        if p.synapse_count:
            assert 0 <= p.pre.min() and p.pre.max() < src.neuron_count
            assert 0 <= p.post.min() and p.post.max() < dst.neuron_count
            keys = p.pre.astype(np.int64) * dst.neuron_count + p.post
            assert np.unique(keys).size == keys.size  # no duplicate synapse in a projection
    if c.power_area is not None:
        assert 0 <= c.power_area < len(c.areas)


def import_or_reject(source, strict: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plasticity warnings are expected on mutants
        try:
            genome = load_genome(source)
            brain = build_connectome(genome, strict=strict, memory_limit_bytes=LIMIT)
        except GenomeError:
            return
    check_brain(brain)


@st.composite
def mutants(draw):
    """A shipped genome with one to three random edits at random places in its tree."""
    genome = copy.deepcopy(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 3))):
        parent, key = None, None
        node = genome
        # Walk down a random path; stop early at random.
        for _depth in range(6):
            if isinstance(node, dict) and node:
                k = draw(st.sampled_from(sorted(node, key=str)))
            elif isinstance(node, list) and node:
                k = draw(st.integers(0, len(node) - 1))
            else:
                break
            parent, key, node = node, k, node[k]
            if draw(st.integers(0, 3)) == 0:
                break
        if parent is None:
            continue
        action = draw(st.sampled_from(["replace", "replace", "delete", "insert", "numeric"]))
        if action == "delete":
            del parent[key]
        elif action == "insert" and isinstance(parent, dict):
            # deepcopy: `special` holds lists that later edits would otherwise mutate in place.
            parent[draw(st.text(max_size=30) | special.filter(lambda v: isinstance(v, str)))] = \
                copy.deepcopy(draw(json_values))
        elif action == "numeric" and isinstance(node, (int, float)) and not isinstance(node, bool):
            parent[key] = node * draw(st.sampled_from([-1, 0, 2, 10**3, 10**9, 0.5]))
        else:
            parent[key] = copy.deepcopy(draw(json_values))
    return genome


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(genome=mutants(), strict=st.booleans())
def test_mutated_genomes_build_or_raise_genome_error(genome, strict):
    import_or_reject(genome, strict)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(genome=mutants(), data=st.data())
def test_mutated_json_text_builds_or_raises_genome_error(genome, data):
    try:
        text = json.dumps(genome)
    except ValueError:  # NaN cannot be written as JSON; the dict path covers it
        text = json.dumps(genome, allow_nan=True)
    # Byte-level damage on top: cut the text, or flip a character.
    cut = data.draw(st.integers(0, len(text)))
    if data.draw(st.booleans()):
        text = text[:cut]
    elif text:
        pos = min(cut, len(text) - 1)
        text = text[:pos] + data.draw(st.characters()) + text[pos + 1:]
    import_or_reject(text, strict=data.draw(st.booleans()))


@settings(max_examples=80, deadline=None)
@given(value=json_values)
def test_random_json_is_rejected_cleanly(value):
    value = copy.deepcopy(value)
    import_or_reject(value if isinstance(value, dict) else json.dumps(value), strict=True)


@settings(max_examples=60, deadline=None)
@given(blueprint=st.dictionaries(
    st.builds(lambda cid, scope, gene, t: f"_____10c-{cid}-{scope}-{gene}-{t}",
              st.sampled_from(["c__aaa", "c__bbb", "___pwr", "X19fcG93ZXI=", "c_b"]),
              st.sampled_from(["cx", "nx"]),
              st.sampled_from(["___bbx", "___bby", "___bbz", "_n_cnt", "dstmap", "fire_t",
                               "pstcr_", "synatt", "leak_c", "excite", "memory", "_group",
                               "refrac", "zzzzzz"]),
              st.sampled_from(["i", "f", "b", "d", "t"])),
    json_values | special, max_size=20),
    version=st.sampled_from(["2.0", "2.1", "3.0"]))
def test_random_flat_blueprints_are_handled(blueprint, version):
    import_or_reject({"version": version, "blueprint": copy.deepcopy(blueprint),
                      "neuron_morphologies": {}}, strict=False)


def test_seed_genomes_pass_the_invariants():
    # The fuzzers start from these; they must themselves be valid brains.
    for genome in SEEDS.values():
        brain = build_connectome(genome, memory_limit_bytes=LIMIT)
        check_brain(brain)
        assert brain.synapse_count > 0
