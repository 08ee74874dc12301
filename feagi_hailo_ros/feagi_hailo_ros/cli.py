"""`feagi-hailo`: inspect and run FEAGI brains without ROS, and probe HailoRT.

Subcommands:

* ``inspect GENOME``: areas, mappings, synapse counts, memory estimate (JSON with ``--json``).
* ``run GENOME --bursts N``: a headless run with an optional stimulation schedule, a JSON-lines
  record of every burst and a PNG spike raster.
* ``hailort-info``: what HailoRT is installed, which devices it sees, what a HEF holds.
* ``placement GENOME [--config RULES]``: which projections an accelerator would integrate, and why.
* ``export GENOME --out DIR``: the accelerator partitions as ONNX, calibration sets and model
  scripts for Hailo's Dataflow Compiler, plus ``manifest.json`` and ``COMPILE.md``.

GENOME may be a path, the name of a shipped example (``obstacle_avoidance``, ``vision``), or a
saved connectome (``.npz``). Errors in the input exit with status 2 and one clear line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .engine.accel.placement import PlacementRules
from .engine.core.connectome import Connectome
from .engine.genome.builder import build_connectome, estimate_memory
from .engine.genome.connectome_file import load_connectome
from .engine.genome.errors import GenomeError
from .engine.genome.parser import Genome, load_genome
from .genomes import available_genomes, example_genome_path


class UsageError(ValueError):
    """Bad command-line input (a schedule entry, an unknown area); exits with status 2."""


def _genome_path(name: str) -> Path:
    path = Path(name)
    if path.exists() or "/" in name or name.endswith((".json", ".npz")):
        return path
    if name in available_genomes():
        return example_genome_path(name)
    return path


def load_brain(name: str, *, seed: int = 0, strict: bool = True) -> tuple[Connectome, Genome | None]:
    """A connectome from a genome path, a shipped genome name or a saved connectome."""
    path = _genome_path(name)
    if path.suffix == ".npz":
        return load_connectome(path), None
    if not path.is_file():
        raise UsageError(f"no genome file {name!r} (shipped: {', '.join(available_genomes())})")
    genome = load_genome(path)
    return build_connectome(genome, strict=strict, seed=seed), genome


# -- inspect ---------------------------------------------------------------------------------


def inspect_brain(connectome: Connectome, genome: Genome | None) -> dict[str, Any]:
    areas = []
    for a in connectome.areas:
        areas.append({"index": a.index, "cortical_id": a.cortical_id, "name": a.name,
                      "dims": list(a.dims), "neurons_per_voxel": a.neurons_per_voxel,
                      "neurons": a.neuron_count,
                      "power": a.index == connectome.power_area})
    mappings = []
    for p in connectome.projections:
        mappings.append({"index": p.index, "src": connectome.areas[p.src_area].cortical_id,
                         "dst": connectome.areas[p.dst_area].cortical_id,
                         "morphology": p.morphology, "weight": p.weight, "delay": p.delay,
                         "synapses": p.synapse_count, "plastic": p.plastic})
    return {
        "neurons": connectome.neuron_count,
        "synapses": connectome.synapse_count,
        "memory_estimate_bytes": estimate_memory(genome) if genome is not None else None,
        "checksum": connectome.source_checksum,
        "areas": areas,
        "mappings": mappings,
        "notes": list(connectome.notes),
    }


def _print_inspection(info: dict[str, Any]) -> None:
    print(f"{info['neurons']} neurons, {info['synapses']} synapses, "
          f"memory estimate {info['memory_estimate_bytes'] or 0:,} bytes")
    print(f"{'id':<14} {'name':<28} {'dims':<14} {'neurons':>9}")
    for a in info["areas"]:
        dims = "x".join(map(str, a["dims"]))
        tag = " (power)" if a["power"] else ""
        print(f"{a['cortical_id']:<14} {a['name'][:28]:<28} {dims:<14} {a['neurons']:>9}{tag}")
    print(f"{'src':<14} {'dst':<14} {'morphology':<24} {'weight':>7} {'delay':>5} {'synapses':>10}")
    for m in info["mappings"]:
        print(f"{m['src']:<14} {m['dst']:<14} {m['morphology'][:24]:<24} {m['weight']:>7g} "
              f"{m['delay']:>5} {m['synapses']:>10}")
    for note in info["notes"]:
        print("note:", note)


# -- run ---------------------------------------------------------------------------------------


def load_schedule(path: Path, connectome: Connectome) -> dict[int, list[dict[str, Any]]]:
    """Stimulation schedule by burst; every entry is checked before the run starts."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"schedule {path}: {exc}") from exc
    if not isinstance(entries, list):
        raise UsageError(f"schedule {path}: expected a JSON list of entries")
    by_burst: dict[int, list[dict[str, Any]]] = {}
    for i, e in enumerate(entries):
        where = f"schedule {path} entry {i}"
        if not isinstance(e, dict) or not isinstance(e.get("burst"), int) or e["burst"] < 0:
            raise UsageError(f"{where}: needs an integer 'burst' >= 0")
        try:
            area = connectome.area(str(e.get("area", "")))
        except KeyError as exc:
            raise UsageError(f"{where}: {exc.args[0]}") from exc
        voxels = np.asarray(e.get("voxels", []), dtype=np.int64).reshape(-1, 3)
        if voxels.size == 0:
            raise UsageError(f"{where}: 'voxels' must list [x, y, z] triples")
        try:
            area.neurons_of_voxels(voxels)
        except IndexError as exc:
            raise UsageError(f"{where}: {exc}") from exc
        force = bool(e.get("force", False))
        potential = e.get("potential")
        if not force and not isinstance(potential, (int, float)):
            raise UsageError(f"{where}: needs a numeric 'potential' (or \"force\": true)")
        by_burst.setdefault(e["burst"], []).append(
            {"area": area.cortical_id, "voxels": voxels, "potential": potential, "force": force})
    return by_burst


def input_areas(connectome: Connectome) -> list[int]:
    """Indices of the sensory (IPU) areas: group IPU, or a cortical id starting with 'i'."""
    return [a.index for a in connectome.areas
            if a.group.upper() == "IPU" or (a.group == "" and a.cortical_id.startswith("i"))]


class PoissonDrive:
    """Each burst, every neuron of every input area is injected with ``potential`` with
    probability ``rate`` (seeded): a sensory stream without a robot, for runs and benchmarks."""

    def __init__(self, connectome: Connectome, rate: float, potential: float = 100.0,
                 seed: int = 0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise UsageError(f"input rate must be in [0, 1], got {rate}")
        self.areas = [connectome.areas[i] for i in input_areas(connectome)]
        self.rate, self.potential = rate, potential
        self.rng = np.random.default_rng(seed)

    def apply(self, engine: Any) -> None:
        for a in self.areas:
            # Binomial count, then distinct indices: O(active) per burst, not O(area).
            n = self.rng.binomial(a.neuron_count, self.rate)
            if n:
                idx = np.unique(self.rng.integers(0, a.neuron_count, n))
                engine.inject(a.index, indices=idx, potentials=self.potential)


def run_brain(connectome: Connectome, bursts: int, *, seed: int = 0,
              schedule: dict[int, list[dict[str, Any]]] | None = None,
              record: Path | None = None, raster: Path | None = None,
              drive: PoissonDrive | None = None, progress: bool = True) -> dict[str, Any]:
    from .engine.core.engine import Engine

    engine = Engine(connectome, "cpu", seed=seed)
    schedule = schedule or {}
    raster_rows: dict[str, list[tuple[int, np.ndarray]]] = {a.name or a.cortical_id: []
                                                            for a in connectome.areas}
    out = record.open("w") if record else None
    fired_total = 0
    t0 = time.perf_counter()
    last_report = t0
    try:
        for b in range(bursts):
            if drive is not None:
                drive.apply(engine)
            for e in schedule.get(b, ()):
                if e["force"]:
                    engine.force_fire(e["area"], voxels=e["voxels"])
                if e["potential"] is not None:
                    engine.inject(e["area"], voxels=e["voxels"], potentials=float(e["potential"]))
            fired_total += engine.step()
            if out is not None or raster is not None:
                fired = {}
                for a in connectome.areas:
                    idx = engine.fired(a.index)
                    if raster is not None:
                        raster_rows[a.name or a.cortical_id].append((b, idx))
                    if idx.size:
                        fired[a.cortical_id] = a.voxel_of(idx).tolist()
                if out is not None:
                    out.write(json.dumps({"burst": b, "fired": fired}) + "\n")
            now = time.perf_counter()
            if progress and now - last_report > 1.0:
                last_report = now
                print(f"\rburst {b + 1}/{bursts} ({(b + 1) / (now - t0):.0f} bursts/s)",
                      end="", file=sys.stderr, flush=True)
    finally:
        if out is not None:
            out.close()
    elapsed = time.perf_counter() - t0
    if progress and elapsed > 1.0:
        print(file=sys.stderr)
    if raster is not None:
        from .ros.run_report import render_raster_png

        render_raster_png(raster_rows, raster, title=f"{bursts} bursts")
    return {"bursts": bursts, "seconds": round(elapsed, 4),
            "bursts_per_second": round(bursts / elapsed, 1) if elapsed else None,
            "fired_total": int(fired_total), "neurons": connectome.neuron_count,
            "synapses": connectome.synapse_count}


# -- placement and export ------------------------------------------------------------------------


def _rules(path: Path | None) -> PlacementRules:
    try:
        return PlacementRules.load(path) if path else PlacementRules()
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def placement_report(connectome: Connectome, rules: PlacementRules) -> dict[str, Any]:
    """Placement of every projection and the partitions it makes (JSON-able)."""
    from .engine.accel.manifest import as_dict
    from .engine.accel.placement import place, placement_table, plan_partitions

    try:
        placements = place(connectome, rules)
    except ValueError as exc:  # a rule naming an area or mapping the brain lacks
        raise UsageError(str(exc)) from exc
    return {
        "genome_checksum": connectome.source_checksum,
        "placements": placement_table(connectome, placements),
        "partitions": [as_dict(p) for p in plan_partitions(connectome, placements)],
    }


def export_brain(connectome: Connectome, out: Path, *, arch: str, rules: PlacementRules,
                 calib_bursts: int, input_rate: float, seed: int, quiet: bool) -> dict[str, Any]:
    from .engine.accel.onnx_export import ExportError, export

    def progress(msg: str) -> None:
        if not quiet:
            print(f"export: {msg}", file=sys.stderr, flush=True)

    try:
        manifest = export(connectome, out, arch=arch, rules=rules, calib_bursts=calib_bursts,
                          input_rate=input_rate, seed=seed, progress=progress)
    except (ExportError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    return {"out": str(out), "arch": arch, "partitions": [p.name for p in manifest.partitions],
            "files": sorted(f for p in manifest.partitions for f in p.files.values())
            + ["COMPILE.md", "manifest.json"]}


# -- entry point ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feagi-hailo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="areas, mappings, synapse counts, memory estimate")
    p.add_argument("genome")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lenient", action="store_true",
                   help="skip unsupported morphologies instead of refusing the genome")

    p = sub.add_parser("run", help="headless run")
    p.add_argument("genome")
    p.add_argument("--bursts", type=int, required=True)
    p.add_argument("--stimulate", type=Path, help="JSON schedule of injections / forced firing")
    p.add_argument("--record", type=Path, help="JSON lines, one per burst: fired voxels per area")
    p.add_argument("--raster", type=Path, help="PNG spike raster per area")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input-rate", type=float, default=0.0, metavar="P",
                   help="each burst, inject every input-area (IPU) neuron with probability P")
    p.add_argument("--quiet", action="store_true", help="no progress line")

    p = sub.add_parser("placement", help="which projections go to the accelerator, and why")
    p.add_argument("genome")
    p.add_argument("--config", type=Path, metavar="RULES",
                   help="placement rules, .yaml/.yml or .json (default: built-in thresholds)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("export", help="ONNX partitions, calibration sets and model scripts "
                                      "for Hailo's Dataflow Compiler")
    p.add_argument("genome")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--arch", choices=("hailo8", "hailo8l"), default="hailo8")
    p.add_argument("--config", type=Path, metavar="RULES", help="placement rules (.yaml/.json)")
    p.add_argument("--calib-bursts", type=int, default=64, metavar="N",
                   help="calibration frames per partition, from a CPU run (0: none)")
    p.add_argument("--input-rate", type=float, default=0.05, metavar="P",
                   help="calibration run: each input neuron is driven with probability P")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    p = sub.add_parser("hailort-info", help="HailoRT library, devices and HEF contents as JSON")
    from .hailo.info import add_arguments

    add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "hailort-info":
            from .hailo.info import run

            return run(args)
        if args.command == "inspect":
            connectome, genome = load_brain(args.genome, seed=args.seed, strict=not args.lenient)
            info = inspect_brain(connectome, genome)
            if args.json:
                print(json.dumps(info, indent=1))
            else:
                _print_inspection(info)
            return 0
        if args.command == "run":
            if args.bursts < 1:
                raise UsageError("--bursts must be at least 1")
            connectome, _ = load_brain(args.genome, seed=args.seed)
            schedule = load_schedule(args.stimulate, connectome) if args.stimulate else None
            drive = (PoissonDrive(connectome, args.input_rate, seed=args.seed)
                     if args.input_rate else None)
            summary = run_brain(connectome, args.bursts, seed=args.seed, schedule=schedule,
                                record=args.record, raster=args.raster, drive=drive,
                                progress=not args.quiet)
            print(json.dumps(summary))
            return 0
        if args.command == "placement":
            rules = _rules(args.config)
            connectome, _ = load_brain(args.genome, seed=args.seed)
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
            return 0
        if args.command == "export":
            if args.calib_bursts < 0:
                raise UsageError("--calib-bursts must be >= 0")
            if not 0.0 <= args.input_rate <= 1.0:
                raise UsageError("--input-rate must be in [0, 1]")
            rules = _rules(args.config)
            connectome, _ = load_brain(args.genome, seed=args.seed)
            summary = export_brain(connectome, args.out, arch=args.arch, rules=rules,
                                   calib_bursts=args.calib_bursts, input_rate=args.input_rate,
                                   seed=args.seed, quiet=args.quiet)
            print(json.dumps(summary))
            return 0
    except (GenomeError, UsageError) as exc:
        print(f"feagi-hailo: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
