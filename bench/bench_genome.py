#!/usr/bin/env python3
"""Genome benchmark: the shipped vision brain on the CPU engine, driven by Poisson input.

Builds `vision` (264k neurons, 846k synapses) from its genome, drives its input area with
`PoissonDrive` (each input neuron injected with probability `--input-rate` per burst), warms
up, then times `--bursts` bursts. Prints one JSON line per thread count:

    python bench/bench_genome.py --bursts 1000 --input-rate 0.02 -t 1 2
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

from feagi_hailo_ros.engine.core.cpu_backend import CpuBackend  # noqa: E402
from feagi_hailo_ros.engine.core.engine import Engine  # noqa: E402
from feagi_hailo_ros.engine.genome.brains import load_brain  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--genome", default="vision")
    p.add_argument("--bursts", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--input-rate", type=float, default=0.02)
    p.add_argument("-t", "--threads", type=int, nargs="+", default=[1])
    args = p.parse_args()

    t0 = time.perf_counter()
    connectome, _ = load_brain(args.genome)
    build_s = time.perf_counter() - t0
    for threads in args.threads:
        engine = Engine(connectome, CpuBackend(threads=threads))
        result = timed(engine, connectome, args)
        print(json.dumps({
            "bench": "genome", "genome": args.genome, "neurons": connectome.neuron_count,
            "synapses": connectome.synapse_count, "threads": threads,
            "input_rate": args.input_rate, **result,
            "build_s": round(build_s, 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "python": platform.python_version(), "cores": os.cpu_count(),
        }))


if __name__ == "__main__":
    main()
