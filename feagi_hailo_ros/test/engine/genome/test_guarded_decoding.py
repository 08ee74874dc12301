"""Genome text from outside cannot exhaust the stack or memory, is never read as a path, and a
brain with nothing to run is refused by the builder (issue 11, item 2)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from genome_factory import flat_area, genome_v2

from feagi_hailo_ros.engine.genome import parser
from feagi_hailo_ros.engine.genome.builder import _refuse_empty, build_connectome
from feagi_hailo_ros.engine.genome.errors import EmptyBrainError, GenomeError, GenomeSyntaxError
from feagi_hailo_ros.engine.genome.parser import MAX_JSON_DEPTH, load_genome
from feagi_hailo_ros.genomes import available_genomes, example_genome_path


def nested(depth: int, inner: str = "1") -> bytes:
    """JSON text of ``depth`` arrays nested in each other."""
    return ("[" * depth + inner + "]" * depth).encode()


def test_nesting_far_past_the_recursion_limit_is_a_genome_syntax_error() -> None:
    with pytest.raises(GenomeSyntaxError, match="deeper than"):
        load_genome(nested(100_000))
    with pytest.raises(GenomeSyntaxError, match="deeper than"):
        load_genome(b'{"a": ' + nested(5000) + b"}")


def test_depth_limit_is_exact_and_ignores_brackets_inside_strings() -> None:
    assert parser._decode_json(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(GenomeSyntaxError, match=f"deeper than {MAX_JSON_DEPTH}"):
        parser._decode_json(nested(MAX_JSON_DEPTH + 1))
    # Brackets in strings (escaped quotes included) are text, not nesting.
    text = json.dumps({"name": "[" * 500 + '\\"{' * 300, "x": [[1]]}).encode()
    assert parser._decode_json(text)["x"] == [[1]]


def test_size_limit_is_checked_before_decoding(monkeypatch) -> None:
    text = json.dumps(genome_v2(flat_area("i__pro"))).encode()
    monkeypatch.setattr(parser, "MAX_GENOME_BYTES", len(text))
    assert load_genome(text).areas
    monkeypatch.setattr(parser, "MAX_GENOME_BYTES", len(text) - 1)
    with pytest.raises(GenomeSyntaxError, match="over the limit"):
        load_genome(text)


def test_shipped_genomes_fit_the_limits() -> None:
    for name in available_genomes():
        raw = example_genome_path(name).read_bytes()
        assert len(raw) < parser.MAX_GENOME_BYTES
        parser._decode_json(raw, max_depth=10)  # a real genome nests far less than the limit


def test_bytes_are_always_json_text_never_a_path(tmp_path) -> None:
    genome_file = tmp_path / "g.json"
    genome_file.write_text(json.dumps(genome_v2(flat_area("i__pro"))))
    assert load_genome(str(genome_file)).areas  # a str that is not JSON is a path ...
    with pytest.raises(GenomeSyntaxError, match="invalid JSON"):
        load_genome(str(genome_file).encode())  # ... bytes never are
    with pytest.raises(GenomeSyntaxError):
        load_genome(b"/etc/hostname")


def test_a_genome_without_areas_is_refused_by_the_builder() -> None:
    empty = genome_v2()
    with pytest.raises(EmptyBrainError, match="no cortical area"):
        build_connectome(empty, add_core_areas=False)
    # A memory area is built now (a pool of memory neurons, DESIGN §4.7): not empty, but the
    # note says it can never store anything.
    memory_only = build_connectome(genome_v2(flat_area("m__mem", memory=True)),
                                   add_core_areas=False)
    assert memory_only.neuron_count > 0
    assert any("never stores anything" in n for n in memory_only.notes)
    assert issubclass(EmptyBrainError, GenomeError)
    # FEAGI's core areas make an empty blueprint a (tiny) brain, as FEAGI does.
    assert build_connectome(empty).neuron_count > 0


def test_areas_without_neurons_are_refused() -> None:
    # The parser refuses 0 neurons per voxel and non-positive dimensions, so no genome reaches
    # this today; the builder's own check does not rely on that.
    plan = SimpleNamespace(areas=[SimpleNamespace(neuron_count=0)] * 2)
    with pytest.raises(EmptyBrainError, match="hold no neuron"):
        _refuse_empty(plan)
    _refuse_empty(SimpleNamespace(areas=[SimpleNamespace(neuron_count=1)]))
