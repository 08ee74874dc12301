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


def test_a_shipped_name_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    # The node runs wherever `ros2 launch` was started: a stray file or folder there must not
    # change what a bare shipped name means. A local file is named as a path.
    monkeypatch.chdir(tmp_path)
    shutil.copy(example_genome_path("vision"), tmp_path / "obstacle_avoidance")
    (tmp_path / "vision").mkdir()
    assert resolve_brain("obstacle_avoidance").path == example_genome_path("obstacle_avoidance")
    assert resolve_brain("vision").path == example_genome_path("vision")
    ref = resolve_brain("./obstacle_avoidance")
    assert not ref.shipped and ref.path == Path("obstacle_avoidance")


@pytest.mark.parametrize(("name", "message"), [
    ("~nosuchuser_feagi/brain.json", "not a usable path"),
    ("x" * 5000, "not a usable path"),
    ("/dev/null", "not a regular file"),
    (" vision", "not found"),
    ("vision ", "not found"),
])
def test_odd_names_get_one_clear_error(name, message):
    with pytest.raises(BrainNameError, match=message):
        resolve_brain(name)


def test_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copy(example_genome_path("vision"), tmp_path / "mine.genome")
    assert resolve_brain("~/mine.genome").path == tmp_path / "mine.genome"


def test_expected_kind_is_enforced(tmp_path):
    save_connectome(load_brain("obstacle_avoidance")[0], tmp_path / "c.npz")
    with pytest.raises(BrainNameError, match="is a genome, not a connectome"):
        resolve_brain("vision", expect=CONNECTOME)
    with pytest.raises(BrainNameError, match="is a connectome, not a genome"):
        resolve_brain(tmp_path / "c.npz", expect=GENOME)


def test_node_connectome_path_follows_the_same_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    built = load_brain("obstacle_avoidance")[0]
    save_connectome(built, tmp_path / "saved.npz")
    got = build_brain(BrainSource(connectome_path="~/saved.npz"))
    assert got.neuron_count == built.neuron_count
    with pytest.raises(BrainLoadError, match="is a genome, not a connectome"):
        build_brain(BrainSource(connectome_path="vision"))
    with pytest.raises(BrainLoadError, match="not a usable path"):
        build_brain(BrainSource(genome_path="~nosuchuser_feagi/x.json"))


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
