"""FEAGI's own engine, recorded, as the oracle (DESIGN §4).

Every case in ``test/data/genomes/feagi_ref/`` (copied from ``shared/feagi_ref``: recordings of feagi-core
2.6.10, engine 0.0.67, fp32; see the README there) is run through the ``Engine`` API and through
``feagi-hailo run``: the fired voxels must equal FEAGI's in every burst, and after every burst each
neuron's membrane potential, refractory countdown and consecutive-fire count must equal FEAGI's
state lines. FEAGI's state readout (``GET /v1/connectome/neuron_properties``) shows potentials
rounded to at most 6 decimals: in ``min_fsum`` it reads 1.0 for the float32 sum 0.99999988 that its
engine found below a threshold of 1.0 (the neuron did not fire). So our float32 potential, rounded
to 6 decimals, must equal FEAGI's number; everything else is exact.

Plastic cases (``stdp``, from ``shared/feagi_ref/plastic``) add ``CASE.feagi_weights.jsonl``: every
incoming synapse of the watched areas after each burst's plasticity update; ours must be the same
synapses with the same weights, in every burst (DESIGN §4.7).

New recordings drop in: any ``CASE.genome.json`` with ``CASE.schedule.json``, ``CASE.feagi.jsonl``
and ``CASE.feagi_state.jsonl`` beside it is a case; ``FEAGI_REF_DIRS`` (``os.pathsep``-separated)
adds folders.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from feagi_hailo_ros.cli import main
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.genome.brains import load_brain

#: Decimals FEAGI's neuron-state readout keeps (see the module docstring).
READOUT_DECIMALS = 6

DATA = Path(__file__).resolve().parents[2] / "data" / "genomes" / "feagi_ref"


def _case_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("FEAGI_REF_DIRS", "").split(os.pathsep) if p]
    return [DATA, *extra]


def _cases() -> list[Path]:
    return sorted(g for d in _case_dirs() for g in d.glob("*.genome.json")
                  if (d / g.name.replace(".genome.json", ".feagi.jsonl")).is_file())


CASES = _cases()


def _load(case: Path) -> tuple[Connectome, list[dict], list[dict], list[dict]]:
    stem = case.name.removesuffix(".genome.json")
    connectome, _ = load_brain(case)
    schedule = json.loads((case.parent / f"{stem}.schedule.json").read_text())
    fired = [json.loads(line) for line in (case.parent / f"{stem}.feagi.jsonl").read_text().splitlines()]
    state_path = case.parent / f"{stem}.feagi_state.jsonl"
    states = ([json.loads(line) for line in state_path.read_text().splitlines()]
              if state_path.is_file() else [])
    return connectome, schedule, fired, states


def _compared_areas(connectome: Connectome) -> list:
    # FEAGI's recordings list its custom areas (the genome's own); the core areas it adds are not
    # recorded, and the power area fires every burst by definition.
    return [a for a in connectome.areas if a.index != connectome.power_area]


def _fired_voxels(engine: Engine, area) -> list[list[int]]:
    return sorted(engine.fired_voxels(area.index).tolist())


def test_every_recording_is_found():
    names = {c.name.removesuffix(".genome.json") for c in CASES}
    assert {"min_force", "min_fsum", "min_vscalar", "min_psp300", "min_mult300", "min_pspfrac",
            "min_mppsp", "min_mpforce", "min_snooze", "stdp"} <= names
    # The plastic case's weights are compared, not only its spikes and states.
    assert _weights_of(DATA / "stdp.genome.json")


@pytest.mark.parametrize("backend", ["cpu", "reference"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.removesuffix(".genome.json"))
def test_engine_matches_feagi_in_every_burst(case: Path, backend: str):
    connectome, schedule, fired, states = _load(case)
    weights = _weights_of(case)
    engine = Engine(connectome, backend)
    # Every area FEAGI recorded must be one of ours (a mis-decoded id would otherwise go
    # unnoticed until that area fires here).
    recorded = {cid for line in fired for cid in line["fired"]}
    recorded |= {cid for s in states for cid in s["neurons"]}
    for cid in recorded:
        connectome.area(cid)
    by_burst: dict[int, list[dict]] = {}
    for e in schedule:
        by_burst.setdefault(e["burst"], []).append(e)
    areas = _compared_areas(connectome)
    for line in fired:
        b = line["burst"]
        for e in by_burst.get(b, ()):
            assert e.get("force", False), "recordings hold FEAGI manual stimulations (forced fires)"
            engine.force_fire(e["area"], voxels=np.asarray(e["voxels"]), potential=e["potential"])
        engine.step()
        for a in areas:
            want = sorted(line["fired"].get(a.cortical_id, []))
            assert _fired_voxels(engine, a) == want, f"burst {b}, area {a.name}"
        if states:
            _check_state(engine, connectome, states[b], b)
        if weights:
            _check_weights(engine, connectome, weights[b], b)


def _weights_of(case: Path) -> list[dict]:
    path = case.parent / case.name.replace(".genome.json", ".feagi_weights.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _synapse_table(engine: Engine, connectome: Connectome, dst_ids: set[str]) -> dict:
    """(src id, src voxel, dst id, dst voxel) -> weight magnitude of every synapse into dst_ids."""
    learned = engine.learned_synapses()
    table: dict[tuple, float] = {}
    for proj in connectome.projections:
        src, dst = connectome.areas[proj.src_area], connectome.areas[proj.dst_area]
        if dst.cortical_id not in dst_ids:
            continue
        if proj.index in learned:
            s = learned[proj.index]
            pre, post, w = s.pre, s.post, s.weight
        else:
            pre, post = proj.pre, proj.post
            w = np.full(proj.synapse_count, abs(np.float32(proj.weight)), np.float32)
        for a, b, x in zip(src.voxel_of(pre).tolist(), dst.voxel_of(post).tolist(), w.tolist(),
                           strict=True):
            key = (src.cortical_id, *a, dst.cortical_id, *b)
            assert key not in table, f"duplicate synapse {key}"
            table[key] = x
    return table


def _check_weights(engine: Engine, connectome: Connectome, line: dict, burst: int) -> None:
    assert line["burst"] == burst
    want = {tuple(row[:8]): float(row[8]) for row in line["synapses"]}
    dst_ids = {key[4] for key in want}
    assert _synapse_table(engine, connectome, dst_ids) == want, f"burst {burst}: weights"


def _check_state(engine: Engine, connectome: Connectome, state: dict, burst: int) -> None:
    assert state["burst"] == burst
    snap = engine.neuron_state()
    for cid, rows in state["neurons"].items():
        area = connectome.area(cid)
        for x, y, z, mp, countdown, count in rows:
            (i,) = area.neurons_of_voxels(np.array([[x, y, z]])) + area.first_neuron
            where = f"burst {burst}, {area.name} ({x},{y},{z})"
            got = round(float(snap.potentials[i]), READOUT_DECIMALS)
            assert got == round(mp, READOUT_DECIMALS), f"{where}: V {snap.potentials[i]!r} != {mp!r}"
            assert snap.refractory_countdown[i] == countdown, f"{where}: countdown"
            assert snap.fire_counts[i] == count, f"{where}: consecutive fire count"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.removesuffix(".genome.json"))
def test_cli_run_matches_feagi(case: Path, tmp_path: Path, capsys):
    connectome, _, fired, _ = _load(case)
    stem = case.name.removesuffix(".genome.json")
    record = tmp_path / "run.jsonl"
    assert main(["run", str(case), "--bursts", str(len(fired)), "--quiet",
                 "--stimulate", str(case.parent / f"{stem}.schedule.json"),
                 "--record", str(record)]) == 0, capsys.readouterr().err
    ours = [json.loads(line) for line in record.read_text().splitlines()]
    for line, mine in zip(fired, ours, strict=True):
        for a in _compared_areas(connectome):
            want = sorted(line["fired"].get(a.cortical_id, []))
            assert sorted(mine["fired"].get(a.cortical_id, [])) == want, \
                f"burst {line['burst']}, area {a.name}"
