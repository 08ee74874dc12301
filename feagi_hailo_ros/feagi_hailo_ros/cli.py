"""`feagi-hailo`: inspect and run FEAGI brains without ROS, and probe HailoRT.

Subcommands:

* ``inspect GENOME``: areas, mappings, synapse counts, memory estimate (JSON with ``--json``).
* ``build GENOME --out FILE``: the connectome built once and saved (``connectome_file``): what
  the node's ``connectome`` parameter and ``~/upload``'s ``connectome_path`` load, with no genome
  build and the synapse sampling of ``--seed`` fixed.
* ``run GENOME --bursts N``: a headless run with an optional stimulation schedule, a JSON-lines
  record of every burst and a PNG spike raster.
* ``hailort-info``: what HailoRT is installed, which devices it sees, what a HEF holds.
* ``placement GENOME [--config RULES]``: which projections an accelerator would integrate, and why.
* ``export GENOME --out DIR``: the accelerator partitions as ONNX, calibration sets and model
  scripts for Hailo's Dataflow Compiler, plus ``manifest.json`` and ``COMPILE.md``.
* ``tune GENOME --out RULES``: measure on this machine what each projection costs on the CPU
  and each candidate partition on an integrator, and write the placement rules of the fastest
  split (``engine/accel/tune.py``).

GENOME is a brain name (``engine/genome/brains.py``): a genome file with any extension (FEAGI's
``.genome`` too), a saved connectome, or the name of a shipped genome (``obstacle_avoidance``,
``vision``, ...). Errors in the input exit with status 2 and one clear line. This module only
parses arguments and prints; the work is done by the engine packages.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .engine.accel.onnx_export import ARCHES
from .engine.accel.placement import PlacementRules
from .engine.core.connectome import Connectome
from .engine.core.drive import PoissonDrive, check_rate, input_areas
from .engine.core.headless import load_schedule, run_brain
from .engine.core.plasticity import DEFAULT_MAX_PLASTIC_SYNAPSES
from .engine.genome.brains import inspect_brain, load_brain
from .engine.genome.builder import LEGACY_LEAK_MODES


class UsageError(ValueError):
    """Bad command-line input (a flag value, placement rules); exits with status 2."""


def _print_inspection(info: dict[str, Any]) -> None:
    print(f"{info['neurons']} neurons, {info['synapses']} synapses, "
          + ("memory estimate unknown (saved connectome)" if info["memory_estimate_bytes"] is None
             else f"memory estimate {info['memory_estimate_bytes']:,} bytes"))
    print(f"{'id':<14} {'name':<28} {'dims':<14} {'neurons':>9}")
    for a in info["areas"]:
        dims = "x".join(map(str, a["dims"]))
        tag = " (power)" if a["power"] else ""
        print(f"{a['cortical_id']:<14} {a['name'][:28]:<28} {dims:<14} {a['neurons']:>9}{tag}")
    print(f"{'src':<14} {'dst':<14} {'morphology':<24} {'weight':>7} {'delay':>5} {'synapses':>10}"
          "  learning")
    for m in info["mappings"]:
        rule = m.get("plasticity")
        # associative_memory never depresses: its Δ- is not shown.
        learning = (f"  {rule['kind']} +{rule['ltp']:g}"
                    + ("" if rule["kind"] == "associative_memory" else f"/-{rule['ltd']:g}")
                    + f" window {rule['window']}" if rule else "")
        print(f"{m['src']:<14} {m['dst']:<14} {m['morphology'][:24]:<24} {m['weight']:>7g} "
              f"{m['delay']:>5} {m['synapses']:>10}{learning}")
    for m in info.get("memory_areas", []):
        print(f"memory area {m['area']}: pool of {m['capacity']} neurons, window {m['depth']} "
              f"burst(s), lifespan {m['lifespan']} (+{m['growth']} per reactivation, long-term at "
              f"{m['longterm']}), upstream {', '.join(m['upstream']) or 'none'}")
    for note in info["notes"]:
        print("note:", note)


# -- run ---------------------------------------------------------------------------------------


def _check_output_file(path: Path | None, flag: str) -> None:
    """Refuse an output path that cannot be written before the run, not after it."""
    if path is not None and (path.is_dir() or not path.parent.is_dir()):
        raise UsageError(f"{flag} {path}: not a file in an existing directory")


def _progress(done: int, rate: float) -> None:
    print(f"\rburst {done} ({rate:.0f} bursts/s)", end="", file=sys.stderr, flush=True)


# -- placement and export ------------------------------------------------------------------------


def _rules(path: Path | None) -> PlacementRules:
    try:
        return PlacementRules.load(path) if path else PlacementRules()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def placement_report(connectome: Connectome, rules: PlacementRules) -> dict[str, Any]:
    """Placement of every projection and the partitions it makes (JSON-able); with the
    ``pipeline`` rule, ``delay_changes`` lists every delay it changed (else it is empty)."""
    from .engine.accel.manifest import as_dict
    from .engine.accel.placement import pipelined_brain, place, placement_table, plan_partitions

    try:
        placements = place(connectome, rules)
        running, changes = pipelined_brain(connectome, placements, rules)
    except ValueError as exc:  # a rule naming an area or mapping the brain lacks
        raise UsageError(str(exc)) from exc
    return {
        "notes": list(connectome.notes),
        "genome_checksum": connectome.source_checksum,
        "placements": placement_table(running, placements, changes),
        "partitions": [as_dict(p) for p in plan_partitions(running, placements)],
        "delay_changes": [dataclasses.asdict(ch) for ch in changes],
    }


def export_brain(connectome: Connectome, out: Path, *, arch: str, rules: PlacementRules,
                 calib_bursts: int, input_rate: float, seed: int, quiet: bool) -> dict[str, Any]:
    """Export the accelerator partitions of ``connectome`` to ``out`` (ONNX, calibration sets,
    model scripts, ``manifest.json``, ``COMPILE.md``); returns a JSON-able summary. Raises
    :class:`UsageError` for what the exporter refuses."""
    from .engine.accel.onnx_export import ExportError, export
    from .engine.accel.placement import pipelined_brain, place

    def progress(msg: str) -> None:
        if not quiet:
            print(f"export: {msg}", file=sys.stderr, flush=True)

    try:
        # With the pipeline rule the partitions are those of the brain that runs (delay 2).
        placements = place(connectome, rules)
        running, _ = pipelined_brain(connectome, placements, rules)
        manifest = export(running, out, arch=arch, placements=placements,
                          calib_bursts=calib_bursts, input_rate=input_rate, seed=seed,
                          progress=progress)
    except (ExportError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    return {"out": str(out), "arch": arch, "partitions": [p.name for p in manifest.partitions],
            # Written now; the HEFs are what Hailo's compiler writes later (COMPILE.md).
            "files": sorted(f for p in manifest.partitions for k, f in p.files.items()
                            if k != "hef") + ["COMPILE.md", "manifest.json"],
            "hefs_to_compile": sorted(p.files["hef"] for p in manifest.partitions
                                      if "hef" in p.files)}


def tune_brain(connectome: Connectome, args: argparse.Namespace) -> dict[str, Any]:
    """Run :func:`~.engine.accel.tune.tune` as ``args`` ask, write the rules to ``args.out``
    (and the JSON report to ``args.report``); returns the report. Raises :class:`UsageError`
    for bad flags or rules."""
    from .engine.accel.tune import (
        format_report,
        integrator_factory,
        manifest_candidates,
        tune,
        write_rules,
    )

    base = _rules(args.config)
    try:
        factory = integrator_factory(args.integrator, onnx_providers=args.onnx_provider,
                                     hailo_manifest=args.hailo_manifest,
                                     hailo_library=args.hailo_library)
        candidates = (manifest_candidates(connectome, args.hailo_manifest)
                      if args.integrator == "hailo" else None)
        result = tune(connectome, factory, integrator_name=args.integrator, base=base,
                      candidates=candidates, bursts=args.bursts, warmup=args.warmup,
                      input_rate=args.input_rate, repeats=args.repeats, seed=args.seed,
                      target_rate=args.target_rate, tolerance=args.tolerance)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    report = {**result.report, "rules": str(args.out)}
    comment = (f"feagi-hailo tune {args.genome}: {args.integrator} integrator, "
               f"{report['bursts']} bursts measured\n"
               f"predicted {report['chosen']['bursts_per_s']:g} bursts/s "
               f"(CPU only {report['cpu_only']['bursts_per_s']:g})")
    write_rules(result.rules, args.out, comment)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1) + "\n")
    if not args.json:
        print(format_report(report))
        print(f"rules written to {args.out}")
    if args.target_rate is not None and not report["meets_target"]:
        print(f"feagi-hailo: warning: no split reaches {args.target_rate:g} bursts/s on this "
              "machine; wrote the fastest", file=sys.stderr)
    return report


# -- entry point ---------------------------------------------------------------------------------


def _brain_arguments(p: argparse.ArgumentParser) -> None:
    """The brain every subcommand that builds one takes: its name and the leak mode."""
    p.add_argument("genome")
    p.add_argument("--legacy-leak", choices=LEGACY_LEAK_MODES, default=LEGACY_LEAK_MODES[0],
                   help="feagi: leak as FEAGI's engine applies it, V*(1-leak); linear: the old "
                        "Python FEAGI's leak units towards 0 per burst")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feagi-hailo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="areas, mappings, synapse counts, memory estimate")
    _brain_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lenient", action="store_true",
                   help="skip unsupported morphologies instead of refusing the genome")

    p = sub.add_parser("build", help="build a genome's connectome once and save it (the "
                                     "node's connectome parameter, ~/upload's connectome_path)")
    _brain_arguments(p)
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="connectome file to write (a zip archive, any extension)")
    p.add_argument("--seed", type=int, default=0, help="seed of synapse sampling")
    p.add_argument("--lenient", action="store_true",
                   help="skip unsupported morphologies instead of refusing the genome")

    p = sub.add_parser("run", help="headless run")
    _brain_arguments(p)
    p.add_argument("--bursts", type=int, required=True)
    p.add_argument("--stimulate", type=Path, help="JSON schedule of injections / forced firing")
    p.add_argument("--record", type=Path, help="JSON lines, one per burst: fired voxels per area")
    p.add_argument("--raster", type=Path, help="PNG spike raster per area")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input-rate", type=float, default=0.0, metavar="P",
                   help="each burst, inject every input-area (IPU) neuron with probability P")
    p.add_argument("--lenient", action="store_true",
                   help="skip what cannot be built (listed as notes) instead of refusing")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--freeze", action="store_true",
                   help="plastic mappings keep their genome weights (no learning, DESIGN §4.7)")
    p.add_argument("--max-plastic-synapses", type=int, default=DEFAULT_MAX_PLASTIC_SYNAPSES,
                   metavar="N", help="bound on the synapses all plastic mappings may have; "
                   "associative_memory grows none past it (counted in plastic_growth_refused)")

    p = sub.add_parser("placement", help="which projections go to the accelerator, and why")
    _brain_arguments(p)
    p.add_argument("--config", type=Path, metavar="RULES",
                   help="placement rules, .yaml/.yml or .json (default: built-in thresholds)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("export", help="ONNX partitions, calibration sets and model scripts "
                                      "for Hailo's Dataflow Compiler")
    _brain_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--arch", choices=ARCHES, default=ARCHES[0])
    p.add_argument("--config", type=Path, metavar="RULES", help="placement rules (.yaml/.json)")
    p.add_argument("--calib-bursts", type=int, default=64, metavar="N",
                   help="calibration frames per partition, from a CPU run (0: none)")
    p.add_argument("--input-rate", type=float, default=0.05, metavar="P",
                   help="calibration run: each input neuron is driven with probability P")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    p = sub.add_parser("tune", help="measure CPU and accelerator costs on this machine and "
                                    "write the placement rules of the fastest split")
    _brain_arguments(p)
    p.add_argument("--out", type=Path, required=True, metavar="RULES",
                   help="placement rules to write (.yaml/.yml, else JSON): the node's "
                        "placement_config, or export --config")
    p.add_argument("--integrator", choices=("numpy", "onnxruntime", "hailo"), default="numpy",
                   help="what runs the accelerator partitions while measuring")
    p.add_argument("--config", type=Path, metavar="RULES",
                   help="base placement rules: their area lists, overrides, max_weights and "
                        "keep_sensory_motor_on_cpu bound the candidates")
    p.add_argument("--onnx-provider", action="append", metavar="NAME",
                   help="ONNX Runtime execution provider, repeatable (default: CPU)")
    p.add_argument("--hailo-manifest", type=Path, metavar="MANIFEST",
                   help="hailo: manifest.json whose partitions were compiled to HEFs")
    p.add_argument("--hailo-library", metavar="PATH", help="hailo: libhailort to load")
    p.add_argument("--bursts", type=int, default=200, help="bursts recorded and measured")
    p.add_argument("--warmup", type=int, default=10, help="CPU bursts run before recording")
    p.add_argument("--repeats", type=int, default=3, help="passes per measurement; the best counts")
    p.add_argument("--input-rate", type=float, default=0.05, metavar="P",
                   help="each burst, every input neuron is driven with probability P")
    p.add_argument("--target-rate", type=float, metavar="HZ",
                   help="lowest latency among the splits reaching HZ bursts/s, instead of the "
                        "highest burst rate")
    p.add_argument("--tolerance", type=float, default=0.02, metavar="F",
                   help="a split with fewer partitions within this fraction of the best wins")
    p.add_argument("--report", type=Path, metavar="JSON", help="write the JSON report here too")
    p.add_argument("--json", action="store_true", help="print the JSON report, not the table")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("hailort-info", help="HailoRT library, devices and HEF contents as JSON")
    from .hailo.info import add_arguments

    add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``feagi-hailo`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status:
    0 on success, 2 on bad input (one ``feagi-hailo: ...`` line on stderr), 130 when
    interrupted (Ctrl-C; the shell's 128 + SIGINT)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "hailort-info":
            from .hailo.info import run

            return run(args)
        if args.command == "inspect":
            connectome, genome = load_brain(args.genome, seed=args.seed, strict=not args.lenient,
                                           legacy_leak=args.legacy_leak)
            info = inspect_brain(connectome, genome)
            if args.json:
                print(json.dumps(info, indent=1))
            else:
                _print_inspection(info)
            return 0
        if args.command == "build":
            _check_output_file(args.out, "--out")
            connectome, _ = load_brain(args.genome, seed=args.seed, strict=not args.lenient,
                                       legacy_leak=args.legacy_leak)
            from .engine.genome.connectome_file import save_connectome

            path = save_connectome(connectome, args.out)
            print(json.dumps({"path": str(path), "neurons": connectome.neuron_count,
                              "synapses": connectome.synapse_count,
                              "areas": len(connectome.areas), "seed": args.seed,
                              "notes": list(connectome.notes)}))
            return 0
        if args.command == "run":
            if args.bursts < 1:
                raise UsageError("--bursts must be at least 1")
            check_rate(args.input_rate)  # before the (maybe long) build
            _check_output_file(args.record, "--record")
            _check_output_file(args.raster, "--raster")
            connectome, _ = load_brain(args.genome, seed=args.seed, legacy_leak=args.legacy_leak,
                                       strict=not args.lenient)
            schedule = (load_schedule(args.stimulate, connectome, args.bursts)
                        if args.stimulate else None)
            if args.input_rate and not input_areas(connectome):
                # The drive would inject nothing: a run that looks driven and is not.
                raise UsageError(f"--input-rate {args.input_rate}: {args.genome} has no input "
                                 "(IPU) area to drive")
            drive = (PoissonDrive(connectome, args.input_rate, seed=args.seed)
                     if args.input_rate else None)
            result = run_brain(connectome, args.bursts, seed=args.seed, schedule=schedule,
                               record=args.record, raster=args.raster is not None, drive=drive,
                               progress=None if args.quiet else _progress,
                               learning=not args.freeze,
                               max_plastic_synapses=args.max_plastic_synapses)
            if not args.quiet and result.summary["seconds"] > 1.0:
                # The progress line shows the last whole second's count; end it on the total.
                _progress(args.bursts, args.bursts / result.summary["seconds"])
                print(file=sys.stderr)
            if args.raster is not None:
                from .ros.run_report import render_raster_png

                render_raster_png(result.raster_rows, args.raster, title=f"{args.bursts} bursts")
            print(json.dumps(result.summary))
            return 0
        if args.command == "placement":
            rules = _rules(args.config)
            connectome, _ = load_brain(args.genome, seed=args.seed, legacy_leak=args.legacy_leak)
            report = placement_report(connectome, rules)
            if args.json:
                print(json.dumps(report, indent=1))
            else:
                from .engine.accel.placement import format_placement_table

                print(format_placement_table(report["placements"]))
                for part in report["partitions"]:
                    print(f"partition {part['name']}: {part['layout']}, input "
                          f"{tuple(part['input_shape'])}, {len(part['outputs'])} output(s), "
                          f"{part['weight_count']:,} weights")
                for note in report["notes"]:
                    print("note:", note)
            return 0
        if args.command == "export":
            check_rate(args.input_rate)
            rules = _rules(args.config)
            connectome, _ = load_brain(args.genome, seed=args.seed, legacy_leak=args.legacy_leak)
            summary = export_brain(connectome, args.out, arch=args.arch, rules=rules,
                                   calib_bursts=args.calib_bursts, input_rate=args.input_rate,
                                   seed=args.seed, quiet=args.quiet)
            print(json.dumps({**summary, "notes": list(connectome.notes)}))
            return 0
        if args.command == "tune":
            check_rate(args.input_rate)
            if args.bursts < 1 or args.warmup < 0 or args.repeats < 1:
                raise UsageError("--bursts and --repeats must be at least 1, --warmup at least 0")
            _check_output_file(args.out, "--out")
            _check_output_file(args.report, "--report")
            args.onnx_provider = args.onnx_provider or ["CPUExecutionProvider"]
            connectome, _ = load_brain(args.genome, seed=args.seed, legacy_leak=args.legacy_leak)
            report = tune_brain(connectome, args)
            if args.json:
                print(json.dumps(report))
            return 0
    except KeyboardInterrupt:
        # Ctrl-C: what was running has closed its files (run_brain's record); no traceback.
        print("\nfeagi-hailo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `feagi-hailo inspect x --json | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as exc:
        # Bad input of any kind (GenomeError, BrainNameError, ScheduleError and UsageError are
        # ValueErrors; files that cannot be read or written are OSErrors): one line, status 2.
        print(f"feagi-hailo: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
