#!/usr/bin/env python3
"""ONNX Runtime integrator vs the pure CPU engine on the vision brain, in one run.

Builds `vision` (264k neurons, 846k synapses), places it with the default rules (or
`--config`), exports the accelerator partitions to a temporary directory and runs the same
Poisson-driven input (`--input-rate`) through each configuration: the pure CPU engine, then
the CPU engine with the accelerator projections integrated by ONNX Runtime (one line per
`--ort-threads` value). Prints one JSON line per configuration with bursts/s and the mean
milliseconds per burst of every phase the engine times (`Engine.stats()`):

    python bench/bench_onnx.py --bursts 500 --input-rate 0.02 --ort-threads 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "feagi_hailo_ros"))

from driven import timed  # noqa: E402

from feagi_hailo_ros.engine.accel.onnx_integrator import OnnxRuntimeIntegrator  # noqa: E402
from feagi_hailo_ros.engine.accel.placement import (  # noqa: E402
    PlacementRules,
    accelerated_engine,
    accelerator_projections,
    place,
)
from feagi_hailo_ros.engine.core.engine import Engine  # noqa: E402
from feagi_hailo_ros.engine.genome.brains import load_brain  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--genome", default="vision")
    p.add_argument("--config", type=Path, help="placement rules (.yaml/.json)")
    p.add_argument("--bursts", type=int, default=500)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--input-rate", type=float, default=0.02)
    p.add_argument("--ort-threads", type=int, nargs="+", default=[1, 2],
                   help="ONNX Runtime intra-op threads, one configuration each (0: its default)")
    args = p.parse_args()

    connectome, _ = load_brain(args.genome)
    rules = PlacementRules.load(args.config) if args.config else PlacementRules()
    placements = place(connectome, rules)
    on = accelerator_projections(placements)
    common = {
        "bench": "onnx", "genome": args.genome, "neurons": connectome.neuron_count,
        "synapses": connectome.synapse_count, "input_rate": args.input_rate,
        "accelerator_projections": len(on),
        "accelerator_synapses": sum(connectome.projections[i].synapse_count for i in on),
        "python": platform.python_version(), "cores": os.cpu_count(),
    }

    engine = Engine(connectome, "cpu")
    print(json.dumps({**common, "config": "cpu", **timed(engine, connectome, args),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                            / 1024, 1)}), flush=True)

    for threads in args.ort_threads:
        t0 = time.perf_counter()
        integ = OnnxRuntimeIntegrator.from_connectome(connectome, placements, threads=threads)
        export_s = time.perf_counter() - t0
        engine = accelerated_engine(connectome, integ, placements)
        result = timed(engine, connectome, args)
        # Inside the integrator phase: ONNX Runtime itself vs layout conversion and checks
        # (warm-up included in these totals, so they are means over all bursts run).
        n_all = args.warmup + args.bursts
        result["integrator_ms_per_burst"] = {k: round(v / n_all * 1e3, 4)
                                             for k, v in integ.seconds.items()}
        print(json.dumps({
            **common, "config": "cpu+onnxruntime", "ort_threads": threads,
            "providers": list(integ.providers), **result,
            "model_runs_per_burst": round(integ.runs / max(integ.calls, 1), 2),
            "export_s": round(export_s, 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }), flush=True)
        engine.close()


if __name__ == "__main__":
    main()
