#!/usr/bin/env python3
"""Per-burst overhead of the engine on small brains, beside the floors (issue 13).

Brains: the shipped ``obstacle_avoidance`` (227 neurons) and a generated ~1.5k-neuron brain the
size of FEAGI's essential genome (the standard random network of ``bench_random_network.py``
with N = 1500, K = 10). Modes, each timed over ``--bursts`` bursts after a warm-up:

* ``step_inject``: ``Engine.inject`` of one sensor neuron (a different one each burst) then
  ``Engine.step()`` - one Python call per burst, what the node does;
* ``step_idle``: ``Engine.step()`` with no input;
* ``batched``: ``Engine.step(n)`` with no pending input (one call for all bursts);
* ``noop_njit``: a call of an empty ``@njit`` function (the floor of any per-burst call);
* ``tight``: ``tight_kernel.run_lif`` on the brain's own synapses, all steps in one call.

Prints one JSON line per (brain, mode)::

    python bench/bench_burst_overhead.py [--bursts 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "feagi_hailo_ros"))
sys.path.insert(0, str(HERE))

from bench_random_network import random_network  # noqa: E402
from tight_kernel import csr_of, time_steps  # noqa: E402

from feagi_hailo_ros.engine.core.backend import projection_signed_weight  # noqa: E402
from feagi_hailo_ros.engine.core.connectome import Connectome  # noqa: E402
from feagi_hailo_ros.engine.core.engine import Engine  # noqa: E402
from feagi_hailo_ros.ros.brain_runner import BrainSource, build_brain  # noqa: E402


@njit(nogil=True, cache=True)
def _noop(x: int) -> int:
    return x


def brains() -> list[tuple[str, Connectome, str]]:
    """(name, connectome, sensor area id) of each benchmarked brain."""
    shipped = build_brain(BrainSource(genome_path="obstacle_avoidance"))
    return [("obstacle_avoidance", shipped, "i__pro"),
            ("random_1500", random_network(1500, 10, 1), "rand00")]


def best_rate(fn, bursts: int, repeats: int) -> float:
    """Best of ``repeats`` timings of ``fn(bursts)``, as bursts per second."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(bursts)
        best = min(best, time.perf_counter() - t0)
    return bursts / best


def engine_modes(conn: Connectome, sensor: str, bursts: int, repeats: int) -> dict[str, float]:
    engine = Engine(conn, "cpu")
    area = conn.area(sensor)
    size = area.neuron_count

    def step_inject(m: int) -> None:
        for b in range(m):
            engine.inject(sensor, indices=np.array([b % size]), potentials=2.0)
            engine.step()

    def step_idle(m: int) -> None:
        for _ in range(m):
            engine.step()

    def batched(m: int) -> None:
        engine.step(m)

    out = {}
    for name, fn in (("step_inject", step_inject), ("step_idle", step_idle),
                     ("batched", batched)):
        fn(200)  # compile / warm
        out[name] = best_rate(fn, bursts, repeats)
    return out


def tight_rate(conn: Connectome, bursts: int) -> float:
    pre, post, w = [], [], []
    for p in conn.projections:
        pre.append(np.asarray(p.pre, np.int64))
        post.append(np.asarray(p.post, np.int64))
        sw = projection_signed_weight(p)
        w.append(np.broadcast_to(np.asarray(sw, np.float32), np.shape(p.pre)))

    def cat(xs: list[np.ndarray], dt: type) -> np.ndarray:
        return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)

    csr = csr_of(cat(pre, np.int64), cat(post, np.int32), cat(w, np.float32), conn.neuron_count)
    return time_steps(*csr, bursts, 130.0, 1000.0, 0.875, 2)["tight_steps_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bursts", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    common = {"python": platform.python_version(), "machine": platform.machine(),
              "cpu_count": os.cpu_count(), "bursts": args.bursts}
    _noop(1)
    for name, conn, sensor in brains():
        rates = engine_modes(conn, sensor, args.bursts, args.repeats)

        def noop(m: int) -> None:
            for i in range(m):
                _noop(i)

        rates["noop_njit"] = best_rate(noop, args.bursts, args.repeats)
        rates["tight"] = tight_rate(conn, args.bursts)
        for mode, rate in rates.items():
            print(json.dumps({"bench": "burst_overhead", "brain": name,
                              "neurons": conn.neuron_count, "synapses": conn.synapse_count,
                              "mode": mode, "bursts_per_s": round(rate, 1),
                              "us_per_burst": round(1e6 / rate, 3), **common}), flush=True)


if __name__ == "__main__":
    main()
