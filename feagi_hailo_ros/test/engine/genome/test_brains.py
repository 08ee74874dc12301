"""One way to name a brain (engine/genome/brains.py), shared by the CLI, the node's `genome`
parameter and `~/upload`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feagi_hailo_ros.cli import main
from feagi_hailo_ros.engine.genome.brains import (
    CONNECTOME,
    DEFAULT_BRAIN,
    GENOME,
    BrainNameError,
    load_brain,
    resolve_brain,
)
from feagi_hailo_ros.engine.genome.connectome_file import save_connectome
from feagi_hailo_ros.genomes import available_genomes, example_genome_path
from feagi_hailo_ros.ros.brain_runner import BrainLoadError, BrainSource, build_brain


def test_empty_name_is_the_shipped_default():
    ref = resolve_brain("")
    assert (ref.kind, ref.path, ref.shipped) == (GENOME, example_genome_path(DEFAULT_BRAIN), True)


@pytest.mark.parametrize("name", ["vision", "vision.json"])
def test_shipped_names_with_or_without_json(name):
    ref = resolve_brain(name)
    assert ref.path == example_genome_path("vision") and ref.shipped


@pytest.mark.parametrize("suffix", [".genome", "", ".txt"])
def test_genome_file_with_any_extension(tmp_path, suffix):
    path = tmp_path / f"brain{suffix}"
    shutil.copy(example_genome_path("obstacle_avoidance"), path)
    ref = resolve_brain(str(path))
    assert (ref.kind, ref.path, ref.shipped) == (GENOME, path, False)
    assert load_brain(path)[0].neuron_count == load_brain("obstacle_avoidance")[0].neuron_count


@pytest.mark.parametrize("suffix", [".npz", ".bin"])
def test_saved_connectome_is_recognized_by_content(tmp_path, suffix):
    built, _ = load_brain("obstacle_avoidance")
    save_connectome(built, tmp_path / "brain.npz")
    path = (tmp_path / "brain.npz").rename(tmp_path / f"saved{suffix}")
    assert resolve_brain(path).kind == CONNECTOME
    loaded, genome = load_brain(path)
    assert genome is None
    assert (loaded.neuron_count, loaded.synapse_count) == (built.neuron_count, built.synapse_count)


def test_a_local_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(example_genome_path("vision"), tmp_path / "obstacle_avoidance")
    ref = resolve_brain("obstacle_avoidance")
    assert not ref.shipped and ref.path == Path("obstacle_avoidance")


@pytest.mark.parametrize("name", ["no_such_brain", "missing/dir/brain.json", "x.genome"])
def test_unknown_names_list_the_shipped_genomes(name):
    with pytest.raises(BrainNameError) as info:
        resolve_brain(name)
    assert repr(name) in str(info.value) and "not found" in str(info.value)
    assert all(n in str(info.value) for n in available_genomes())


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(BrainNameError, match="directory"):
        resolve_brain(tmp_path)


def test_cli_and_node_resolve_names_alike(tmp_path, capsys):
    path = tmp_path / "mine.genome"
    shutil.copy(example_genome_path("obstacle_avoidance"), path)
    neurons = load_brain(path)[0].neuron_count
    assert main(["inspect", str(path), "--json"]) == 0
    assert f'"neurons": {neurons}' in capsys.readouterr().out
    assert build_brain(BrainSource(genome_path=str(path))).neuron_count == neurons
    assert build_brain(BrainSource(genome_path="vision")).neuron_count == \
        load_brain("vision")[0].neuron_count
    assert main(["inspect", "no_such_brain"]) == 2
    cli_error = capsys.readouterr().err
    with pytest.raises(BrainLoadError) as info:
        build_brain(BrainSource(genome_path="no_such_brain"))
    for shipped in available_genomes():
        assert shipped in cli_error and shipped in str(info.value)
