#!/usr/bin/env python3
"""Pipelined vs not: the same accelerator projection of delay 2, submitted a burst ahead or not.

The brain is `bench_hailo_overhead`'s lateral brain (two areas of N neurons, each target hearing
its 3x3 neighbourhood) with its one projection at delay 2, driven by 5 % random spikes into the
source area every burst. The projection runs on each integrator present — NumPy, ONNX Runtime and
Hailo through the libhailort stand-in (built here) — once with ``Engine(pipelined=True)`` (the
default: the work for burst t is submitted during burst t - 1) and once with
``pipelined=False``, alternating, ``--repeats`` times. One JSON line per run (integrator,
pipelined, bursts/s), then one summary line per integrator with the median ratio
pipelined/not. The spikes are identical either way (the integrator contract suite checks it).

What this machine can show: NumPy and ONNX Runtime compute inside ``submit`` on the burst
thread, so nothing overlaps and the ratio stays near 1. The Hailo integrator writes and reads on
its own I/O thread (the stand-in computes inside that ``write``), so submitting a burst ahead lets
that work overlap the CPU's burst; how much a real Hailo-8 gains needs the device.

    python bench/bench_pipeline.py -n 10000 --bursts 2000 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "feagi_hailo_ros"))
sys.path.insert(0, str(ROOT / "feagi_hailo_ros" / "test" / "engine"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hailo_overhead import lateral_brain  # noqa: E402
from hailo_partitions import export, standin_build  # noqa: E402

from feagi_hailo_ros.engine.accel.hailo_integrator import HailoIntegrator  # noqa: E402
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator  # noqa: E402
from feagi_hailo_ros.engine.core.engine import Engine  # noqa: E402
from feagi_hailo_ros.hailo import HailoRT  # noqa: E402


def integrators(tmp: str, connectome, rt: HailoRT) -> dict[str, object]:
    """Integrator factories by name (each call makes a fresh one)."""
    made = {"numpy": NumpyIntegrator}
    try:
        from feagi_hailo_ros.engine.accel.onnx_integrator import OnnxRuntimeIntegrator
        from feagi_hailo_ros.engine.accel.placement import ACCELERATOR, Placement

        on = [Placement(0, ACCELERATOR, "bench", 0, 0)]
        made["onnxruntime"] = lambda: OnnxRuntimeIntegrator.from_connectome(connectome, on)
    except ImportError:  # optional dependency
        pass
    manifest = export(tmp, connectome, [0], layout="conv")
    made["hailo-standin"] = lambda: HailoIntegrator(manifest, rt=rt, required=True)
    return made


def run(connectome, make, pipelined: bool, bursts: int, seed: int) -> float:
    engine = Engine(connectome, "cpu", integrators={0: make()}, pipelined=pipelined)
    n = connectome.areas[0].neuron_count
    rng = np.random.default_rng(seed)
    drive = [np.flatnonzero(rng.random(n) < 0.05) for _ in range(64)]
    for b in range(50):  # warm-up
        engine.force_fire(0, indices=drive[b % 64])
        engine.step()
    start = time.perf_counter()
    for b in range(bursts):
        engine.force_fire(0, indices=drive[b % 64])
        engine.step()
    elapsed = time.perf_counter() - start
    engine.close()
    return bursts / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--neurons", type=int, default=10000)
    p.add_argument("--bursts", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    base = lateral_brain(args.neurons)
    c = dataclasses.replace(base, projections=[dataclasses.replace(base.projections[0], delay=2)])
    with tempfile.TemporaryDirectory() as tmp:
        rt = HailoRT(standin_build.build_standin(tmp, 4, 23))
        rates: dict[tuple[str, bool], list[float]] = {}
        for name, make in integrators(tmp, c, rt).items():
            for rep in range(args.repeats):
                for pipelined in (True, False):
                    rate = run(c, make, pipelined, args.bursts, rep)
                    rates.setdefault((name, pipelined), []).append(rate)
                    print(json.dumps({"bench": "pipeline", "integrator": name,
                                      "pipelined": pipelined, "neurons": args.neurons,
                                      "synapses": c.synapse_count, "bursts": args.bursts,
                                      "bursts_per_s": round(rate, 1),
                                      "python": platform.python_version(),
                                      "cores": os.cpu_count()}), flush=True)
            on = statistics.median(rates[(name, True)])
            off = statistics.median(rates[(name, False)])
            print(json.dumps({"bench": "pipeline", "summary": True, "integrator": name,
                              "median_bursts_per_s": {"pipelined": round(on, 1),
                                                      "not": round(off, 1)},
                              "pipelined_over_not": round(on / off, 3)}), flush=True)


if __name__ == "__main__":
    main()
