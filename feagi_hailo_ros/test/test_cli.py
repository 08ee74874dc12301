"""`feagi-hailo` subcommands: inspect, run (schedule, record, raster), hailort-info, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feagi_hailo_ros.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def test_inspect_json_reports_counts(capsys) -> None:
    assert main(["inspect", "obstacle_avoidance", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["neurons"] == sum(a["neurons"] for a in info["areas"])
    assert info["synapses"] == sum(m["synapses"] for m in info["mappings"])
    assert {a["cortical_id"] for a in info["areas"]} >= {"i__pro", "o__mot", "___pwr"}
    assert info["memory_estimate_bytes"] > 0
    assert [a["power"] for a in info["areas"]].count(True) == 1


def test_inspect_table(capsys) -> None:
    assert main(["inspect", "obstacle_avoidance"]) == 0
    out = capsys.readouterr().out
    assert "i__pro" in out and "o__mot" in out and "synapses" in out


def test_run_with_schedule_record_and_raster(tmp_path: Path, capsys) -> None:
    schedule = tmp_path / "stim.json"
    schedule.write_text(json.dumps([
        {"burst": 2, "area": "i__pro", "voxels": [[13, 0, 2]], "potential": 100},
        {"burst": 5, "area": "Obstacle right", "voxels": [[0, 0, 1]], "force": True},
    ]))
    record, raster = tmp_path / "rec.jsonl", tmp_path / "raster.png"
    assert main(["run", "obstacle_avoidance", "--bursts", "8", "--stimulate", str(schedule),
                 "--record", str(record), "--raster", str(raster), "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["bursts"] == 8
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [line["burst"] for line in lines] == list(range(8))
    assert lines[2]["fired"]["i__pro"] == [[13, 0, 2]]          # the injection fired the sensor
    assert [0, 0, 1] in lines[5]["fired"]["c__obr"]               # forced firing
    assert "i__pro" not in lines[3]["fired"]
    assert all("___pwr" in line["fired"] for line in lines)       # power fires every burst
    assert raster.read_bytes().startswith(PNG)


@pytest.mark.parametrize(("entry", "message"), [
    ({"burst": 1, "area": "nope", "voxels": [[0, 0, 0]], "potential": 1}, "no cortical area"),
    ({"burst": 1, "area": "i__pro", "voxels": [[99, 0, 0]], "potential": 1}, "outside"),
    ({"burst": -1, "area": "i__pro", "voxels": [[0, 0, 0]], "potential": 1}, "burst"),
    ({"burst": 1, "area": "i__pro", "voxels": [[0, 0, 0]]}, "potential"),
    ({"burst": True, "area": "i__pro", "voxels": [[0, 0, 0]], "potential": 1}, "burst"),
    ({"burst": 3, "area": "i__pro", "voxels": [[0, 0, 0]], "potential": 1}, "past the run"),
    ({"burst": 1, "area": "i__pro", "voxels": [1, 2], "potential": 1}, "voxels"),
    ({"burst": 1, "area": "i__pro", "voxels": [["a", "b", "c"]], "potential": 1}, "voxels"),
    ({"burst": 1, "area": "i__pro", "voxels": [[0, 0, 0.7]], "potential": 1}, "voxels"),
    ({"burst": 1, "area": "i__pro", "voxels": [[0, 0, 0]], "potential": float("nan")}, "finite"),
    ({"burst": 1, "area": "i__pro", "voxels": [[0, 0, 0]], "potential": 1e400}, "finite"),
    ({"burst": 1, "area": "i__pro", "voxels": [[0, 0, 0]], "force": "false"}, "'force'"),
])
def test_bad_schedule_is_refused(tmp_path: Path, capsys, entry: dict, message: str) -> None:
    schedule = tmp_path / "stim.json"
    schedule.write_text(json.dumps([entry]))
    assert main(["run", "obstacle_avoidance", "--bursts", "3", "--stimulate", str(schedule)]) == 2
    assert message in capsys.readouterr().err


def test_bad_genome_exits_2_with_key_path(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "2.1", "blueprint": {"_____10c-i__pro-cx-___bbx-i": "wide"}}')
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("feagi-hailo: ") and "i__pro" in err
    assert main(["inspect", str(tmp_path / "missing.json")]) == 2


def test_hailort_info_without_library(tmp_path: Path, capsys) -> None:
    assert main(["hailort-info", "--lib", str(tmp_path / "libhailort.so")]) == 1
    assert "libhailort" in capsys.readouterr().err


def test_input_rate_drives_the_input_areas(tmp_path: Path, capsys) -> None:
    record = tmp_path / "rec.jsonl"
    assert main(["run", "obstacle_avoidance", "--bursts", "20", "--input-rate", "0.2",
                 "--record", str(record), "--quiet", "--seed", "3"]) == 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert sum(len(line["fired"].get("i__pro", [])) for line in lines) > 0
    assert main(["run", "obstacle_avoidance", "--bursts", "2", "--input-rate", "1.5"]) == 2



def test_input_rate_on_a_brain_without_input_areas_is_refused(tmp_path: Path, capsys) -> None:
    """--input-rate drives the IPU areas only: asked of a brain that has none it would run
    undriven and say nothing, so it is refused before the run (exit 2); rate 0 still runs."""
    genome = tmp_path / "no_inputs.json"
    genome.write_text(json.dumps({"version": "2.1", "blueprint": {
        f"_____10c-c__abc-cx-___bb{axis}-i": 2 for axis in "xyz"}}))
    assert main(["run", str(genome), "--bursts", "3", "--input-rate", "0.5", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no input (IPU) area" in captured.err
    assert captured.err.startswith("feagi-hailo: ") and captured.err.count("\n") == 1
    assert main(["run", str(genome), "--bursts", "3", "--input-rate", "0", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["bursts"] == 3

def test_run_summary_is_the_same_batched_and_recorded(tmp_path: Path, capsys) -> None:
    """Without --record the quiet stretches run batched; with it one burst per call."""
    schedule = tmp_path / "stim.json"
    schedule.write_text(json.dumps([
        {"burst": 5, "area": "i__pro", "voxels": [[0, 0, 0]], "force": True},
        {"burst": 90, "area": "i__pro", "voxels": [[0, 0, 0], [0, 0, 1]], "potential": 3}]))
    common = ["run", "obstacle_avoidance", "--bursts", "400", "--input-rate", "0.05", "--quiet",
              "--seed", "7", "--stimulate", str(schedule)]
    assert main(common) == 0
    batched = json.loads(capsys.readouterr().out)
    record = tmp_path / "rec.jsonl"
    assert main([*common, "--record", str(record)]) == 0
    recorded = json.loads(capsys.readouterr().out)
    assert batched["fired_total"] == recorded["fired_total"] > 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    # One voxel listed per fired neuron.
    assert sum(len(v) for line in lines for v in line["fired"].values()) == batched["fired_total"]


# -- placement and export ----------------------------------------------------------------------


def test_placement_table_and_json_with_rules(tmp_path: Path, capsys) -> None:
    assert main(["placement", "vision"]) == 0
    out = capsys.readouterr().out
    assert "7 of 15 projections on the accelerator" in out
    assert "partition c_v1___d1_conv: conv, input (128, 128, 4), 4 output(s)" in out
    rules = tmp_path / "rules.yaml"
    rules.write_text("min_synapses: 40\nmin_dst_neurons: 0\n"
                     "overrides:\n  'c__obl->c__obr#0': accelerator\n")
    assert main(["placement", "obstacle_avoidance", "--config", str(rules), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    backends = {r["mapping"]: r["backend"] for r in report["placements"]}
    assert backends["c__obl->c__obr#0"] == "accelerator"            # override (49 synapses)
    assert backends["c__obr->c__obl#0"] == "accelerator"            # 42 >= 40
    assert backends["i__pro->c__obl#0"] == "cpu"                    # sensory stays on the CPU
    assert {p["name"] for p in report["partitions"]} == {"c__obl_d1_conv", "c__obr_d1_conv"}


def test_placement_bad_rules_exit_2(tmp_path: Path, capsys) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"cpu_areas": ["nowhere"]}))
    assert main(["placement", "obstacle_avoidance", "--config", str(rules)]) == 2
    assert "no cortical area" in capsys.readouterr().err
    rules.write_text(json.dumps({"min_synapse": 1}))
    assert main(["placement", "obstacle_avoidance", "--config", str(rules)]) == 2
    assert "unknown placement rule" in capsys.readouterr().err


def test_export_writes_models_manifest_and_instructions(tmp_path: Path, capsys) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"min_synapses": 0, "min_dst_neurons": 0,
                                 "keep_sensory_motor_on_cpu": False}))
    out = tmp_path / "out"
    assert main(["export", "obstacle_avoidance", "--out", str(out), "--arch", "hailo8l",
                 "--config", str(rules), "--calib-bursts", "16"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert "export: calibration run" in captured.err and "[1/" in captured.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["arch"] == "hailo8l" and len(manifest["partitions"]) == len(summary["partitions"])
    for name in summary["files"]:
        assert (out / name).is_file(), name
    # The HEF each partition expects is named, not written (Hailo's compiler writes it).
    assert summary["hefs_to_compile"] == sorted(p["files"]["hef"] for p in manifest["partitions"])
    assert not any((out / name).exists() for name in summary["hefs_to_compile"])
    assert sum(len(p["outputs"]) for p in manifest["partitions"]) == 9
    assert "--hw-arch hailo8l" in (out / "COMPILE.md").read_text()
    with pytest.raises(SystemExit) as exc:  # argparse refuses the choice
        main(["export", "obstacle_avoidance", "--out", str(out), "--arch", "hailo10h"])
    assert exc.value.code == 2
    assert main(["export", "obstacle_avoidance", "--out", str(out), "--calib-bursts", "-1"]) == 2


@pytest.mark.parametrize("args", [
    ["inspect", "obstacle_avoidance", "--seed", "-1"],
    ["run", "obstacle_avoidance", "--bursts", "2", "--input-rate", "2"],
    ["run", "obstacle_avoidance", "--bursts", "2", "--input-rate", "nan"],
    ["run", "obstacle_avoidance", "--bursts", "2", "--record", "/nonexistent_dir/x.jsonl"],
    ["run", "obstacle_avoidance", "--bursts", "2", "--raster", "/"],
    ["inspect", "~nosuchuser_feagi/x.json"],
    ["inspect", "/dev/null"],
])
def test_bad_input_exits_2_with_one_line(args, capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("feagi-hailo: ") and err.count("\n") == 1 and "Traceback" not in err


def test_non_utf8_schedule_is_refused(tmp_path: Path, capsys) -> None:
    schedule = tmp_path / "stim.json"
    schedule.write_bytes(b"\xff\xfe[]")
    assert main(["run", "obstacle_avoidance", "--bursts", "2", "--stimulate", str(schedule)]) == 2
    assert "schedule" in capsys.readouterr().err


def test_raster_labels_are_distinct_when_names_repeat() -> None:
    import dataclasses

    from feagi_hailo_ros.engine.core.headless import raster_labels, run_brain
    from feagi_hailo_ros.engine.genome.brains import load_brain

    c, _ = load_brain("obstacle_avoidance")
    areas = [dataclasses.replace(a, name="same") if a.index < 2 else a for a in c.areas]
    c = dataclasses.replace(c, areas=areas)
    labels = raster_labels(c)
    assert len(set(labels)) == len(c.areas)
    rows = run_brain(c, 3, raster=True).raster_rows
    assert len(rows) == len(c.areas) and all(len(r) == 3 for r in rows.values())


def test_raster_draws_every_area(tmp_path: Path, monkeypatch) -> None:
    # /work/shared/cases/13_raster_15_areas.json: `run --raster` drew 12 of 15 areas silently.
    from feagi_hailo_ros.engine.core.headless import raster_labels
    from feagi_hailo_ros.engine.genome.brains import load_brain
    from feagi_hailo_ros.ros import run_report

    genome = Path(__file__).resolve().parent / "data" / "genomes" / "cases" / "13_raster_15_areas.json"
    figures = []
    real = run_report.raster_figure
    monkeypatch.setattr(run_report, "raster_figure", lambda *a, **k: figures.append(
        real(*a, **k)) or figures[-1])
    raster = tmp_path / "raster.png"
    assert main(["run", str(genome), "--bursts", "10", "--raster", str(raster), "--quiet"]) == 0
    assert raster.read_bytes().startswith(PNG)
    (fig,) = figures
    labels = raster_labels(load_brain(str(genome))[0])
    assert len(labels) == 15 + 6  # the genome's 15, and FEAGI's core areas it lacked
    assert [ax.get_ylabel().split("\n")[0] for ax in fig.axes] == labels
    assert not [t for t in fig.texts if "not drawn" in t.get_text()]  # nothing left out


def test_legacy_leak_option(tmp_path: Path, capsys) -> None:
    # shared/cases/feagi_v3 leak_over_1: leak 10, FEAGI computes V*(1-10) and area B fires at
    # burst 4; the old Python FEAGI's linear leak drains V instead, so B stays silent.
    data = Path(__file__).resolve().parent / "data" / "genomes" / "feagi_v3"
    fired_b = {}
    for mode in ("feagi", "linear"):
        record = tmp_path / f"{mode}.jsonl"
        assert main(["run", str(data / "leak_over_1.v3.json"), "--bursts", "8", "--quiet",
                     "--stimulate", str(data / "leak_over_1.stim.json"), "--record", str(record),
                     "--legacy-leak", mode]) == 0, capsys.readouterr().err
        lines = [json.loads(line) for line in record.read_text().splitlines()]
        fired_b[mode] = [line["burst"] for line in lines if "Y0xEU1RCX18=" in line["fired"]]
    assert fired_b == {"feagi": [4], "linear": []}
    assert main(["inspect", str(data / "leak_over_1.v3.json")]) == 0
    assert "leak" in capsys.readouterr().out  # the import says what it did with leak 10


def test_a_long_run_ends_its_progress_line_on_the_total(capsys, monkeypatch) -> None:
    # The progress line shows the count of the last whole second; a run of 500 bursts ended
    # on "burst 359". After a run longer than a second the line ends on the total.
    import feagi_hailo_ros.cli as cli

    real = cli.run_brain

    def slow_looking(*args, **kwargs):
        result = real(*args, **kwargs)
        result.summary["seconds"] = 2.0  # as if it had taken two seconds
        return result

    monkeypatch.setattr(cli, "run_brain", slow_looking)
    assert main(["run", "obstacle_avoidance", "--bursts", "8"]) == 0
    err = capsys.readouterr().err
    assert err.rstrip("\n").split("\r")[-1] == "burst 8 (4 bursts/s)"


def test_build_saves_a_connectome_that_runs_as_the_genome_does(tmp_path: Path, capsys) -> None:
    # README (CLI): `build` writes the saved connectome the node's `connectome` parameter and
    # ~/upload's connectome_path take; no verb wrote one before.
    out = tmp_path / "oa.connectome"
    assert main(["build", "obstacle_avoidance", "--out", str(out), "--seed", "3"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert (built["path"], built["neurons"], built["synapses"]) == (str(out), 227, 421)
    runs = []
    for brain in ("obstacle_avoidance", str(out)):
        assert main(["run", brain, "--bursts", "30", "--input-rate", "0.2", "--seed", "3",
                     "--quiet"]) == 0
        summary = json.loads(capsys.readouterr().out)
        runs.append({k: v for k, v in summary.items()
                     if k not in ("seconds", "bursts_per_second")})
    assert runs[0] == runs[1]
    assert main(["build", "obstacle_avoidance", "--out", str(tmp_path / "no" / "x")]) == 2
    assert "not a file in an existing directory" in capsys.readouterr().err
