#!/usr/bin/env python3
"""`feagi-hailo tune`'s split vs the default placement rules, bursts/s side by side.

For each integrator: tune the brain (``engine/accel/tune.py``: measures CPU delivery per
projection and the integrator's round trip per candidate partition on this machine), then run
the same Poisson-driven input through three engines and time them: the CPU alone, the
default rules' split, and the tuned split (projections on the accelerator go to the
integrator). Integrators: ``numpy``, ``onnxruntime`` and ``hailo-standin`` (HailoRT's C API
through the libhailort stand-in of test/hailo/standin; no device: the stand-in computes on
the CPU, so its rates say what the host path costs, not what a Hailo-8 gives). Prints one
JSON line per (integrator, split) with the measured and the predicted bursts/s::

    python bench/bench_tune.py                                   # vision, numpy + onnxruntime
    python bench/bench_tune.py --integrators numpy hailo-standin --input-rate 0.2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "feagi_hailo_ros"))
sys.path.insert(0, str(ROOT / "feagi_hailo_ros" / "test" / "engine"))

from driven import timed  # noqa: E402

from feagi_hailo_ros.engine.accel import tune as tuning  # noqa: E402
from feagi_hailo_ros.engine.accel.placement import (  # noqa: E402
    PlacementRules,
    accelerated_engine,
    accelerator_projections,
    place,
)
from feagi_hailo_ros.engine.core.engine import Engine  # noqa: E402
from feagi_hailo_ros.engine.genome.brains import load_brain  # noqa: E402


def standin_factory(connectome, candidates_projs, tmp: str):
    """(factory, candidates) running the candidate partitions through the stand-in."""
    from hailo_partitions import export, standin_build

    from feagi_hailo_ros.engine.accel.hailo_integrator import HailoIntegrator
    from feagi_hailo_ros.hailo import HailoRT

    lib = standin_build.build_standin(Path(tmp) / "lib", 4, 23)
    rt = HailoRT(lib)
    manifest = export(Path(tmp) / "hef", connectome, sorted(candidates_projs))
    return ((lambda c, projs: HailoIntegrator(manifest, rt=rt, required=True)),
            tuning.manifest_candidates(connectome, manifest))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--genome", default="vision")
    p.add_argument("--config", type=Path, help="base placement rules (.yaml/.json)")
    p.add_argument("--integrators", nargs="+", default=["numpy", "onnxruntime"],
                   choices=["numpy", "onnxruntime", "hailo-standin"])
    p.add_argument("--tune-bursts", type=int, default=100, help="bursts tune measures")
    p.add_argument("--bursts", type=int, default=300, help="bursts timed per engine")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--input-rate", type=float, default=0.05)
    args = p.parse_args()

    connectome, _ = load_brain(args.genome)
    base = PlacementRules.load(args.config) if args.config else PlacementRules()
    common = {"bench": "tune", "genome": args.genome, "neurons": connectome.neuron_count,
              "synapses": connectome.synapse_count, "input_rate": args.input_rate,
              "python": platform.python_version(), "cores": os.cpu_count()}
    activity = tuning.record_activity(connectome, args.tune_bursts, input_rate=args.input_rate,
                                      warmup=args.warmup)
    cpu_line = {**common, "integrator": "none", "split": "cpu only",
                **timed(Engine(connectome, "cpu"), connectome, args)}
    print(json.dumps(cpu_line), flush=True)
    for name in args.integrators:
        with tempfile.TemporaryDirectory() as tmp:
            candidates = None
            if name == "hailo-standin":
                projs = {q for k in tuning.candidate_partitions(connectome, base)
                         for q in k.projections}
                factory, candidates = standin_factory(connectome, projs, tmp)
            else:
                factory = tuning.integrator_factory(name)
            result = tuning.tune(connectome, factory, integrator_name=name, base=base,
                                 candidates=candidates, activity=activity)
            for split, rules, predicted in (("default rules", base, result.report["default_rules"]),
                                            ("tuned", result.rules, result.report["chosen"])):
                placements = place(connectome, rules)
                on = accelerator_projections(placements)
                if on:
                    integ = factory(connectome, on)
                    engine = accelerated_engine(connectome, integ, placements)
                else:
                    integ, engine = None, Engine(connectome, "cpu")
                line = {**common, "integrator": name, "split": split,
                        "accelerator_projections": len(on),
                        "predicted_bursts_per_s": predicted and predicted["bursts_per_s"],
                        **timed(engine, connectome, args)}
                if integ is not None:
                    integ.close()
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
