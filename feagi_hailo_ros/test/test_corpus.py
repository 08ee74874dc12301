"""Every genome in the test data, and every shipped one, through every verb of ``feagi-hailo``:
``inspect``, ``run`` (a few bursts), ``placement`` and ``export`` (no calibration run). A genome
FEAGI runs must run here too; what the importer skipped is in ``inspect``'s notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feagi_hailo_ros.cli import main
from feagi_hailo_ros.genomes import available_genomes

DATA = Path(__file__).resolve().parent / "data"
NOT_GENOMES = (".schedule.json", ".feagi_synapses.json")


def _is_genome(path: Path) -> bool:
    if path.name.endswith(NOT_GENOMES) or ".stim" in path.name:
        return False
    try:
        return "blueprint" in json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return False


CORPUS = sorted(p for p in DATA.rglob("*.json") if _is_genome(p))
BRAINS = [*(str(p) for p in CORPUS), *available_genomes()]


def test_the_corpus_is_not_empty():
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("brain", BRAINS, ids=lambda b: Path(b).name)
def test_every_verb_takes_every_genome(brain: str, tmp_path: Path, capsys):
    assert main(["inspect", brain, "--json"]) == 0, capsys.readouterr().err
    info = json.loads(capsys.readouterr().out)
    assert info["neurons"] > 0
    assert main(["run", brain, "--bursts", "5", "--quiet"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["bursts"] == 5
    assert main(["placement", brain, "--json"]) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert len(report["placements"]) == len(info["mappings"])
    assert main(["export", brain, "--out", str(tmp_path / "export"), "--calib-bursts", "0",
                 "--quiet"]) == 0, capsys.readouterr().err
    assert (tmp_path / "export" / "manifest.json").is_file()
    capsys.readouterr()  # export's summary
    saved = tmp_path / "brain.connectome"
    assert main(["build", brain, "--out", str(saved)]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["neurons"] == info["neurons"]
    assert main(["inspect", str(saved), "--json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["synapses"] == info["synapses"]
