#!/usr/bin/env python3
"""Headless runs under a Poisson drive, per-burst vs batched, side by side (issue 13 item 2).

Brains: the shipped ``obstacle_avoidance`` (227 neurons, its IPU areas driven) and the
standard random network of ``bench_random_network.py`` with N = 10,000, K = 100, its one area
made an input area (every neuron driven, with its threshold). Modes, each over ``--bursts`` bursts at
``--input-rate`` (default 0.05), best of ``--repeats`` after a warm-up:

* ``per_burst``: ``drive.apply(engine); engine.step()`` in a Python loop, what ``run_brain``
  did before (NumPy draws, one compiled call per burst);
* ``run_brain``: :func:`run_brain` as ``feagi-hailo run`` calls it without ``--record`` (quiet
  stretches in chunks of ~0.25 s, the drive generated in the compiled loop);
* ``engine_run``: one ``Engine.run(bursts, drive=...)`` call.

Every mode checks that it fired the same total as ``per_burst`` (the same spikes). Prints one
JSON line per (brain, mode)::

    python bench/bench_run.py [--bursts 20000] [--repeats 3] [--input-rate 0.05]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "feagi_hailo_ros"))
sys.path.insert(0, str(HERE))

from bench_random_network import THRESHOLD, random_network  # noqa: E402

from feagi_hailo_ros.engine.core.connectome import Connectome  # noqa: E402
from feagi_hailo_ros.engine.core.drive import PoissonDrive  # noqa: E402
from feagi_hailo_ros.engine.core.engine import Engine  # noqa: E402
from feagi_hailo_ros.engine.core.headless import run_brain  # noqa: E402
from feagi_hailo_ros.engine.genome.brains import load_brain  # noqa: E402


def brains() -> list[tuple[str, Connectome, float]]:
    """(name, connectome, drive potential) of each benchmarked brain."""
    shipped, _ = load_brain("obstacle_avoidance")
    rand = random_network(10_000, 100, 1)
    rand = dataclasses.replace(rand, areas=[dataclasses.replace(rand.areas[0], feagi_type="IPU")])
    # The random network's threshold is 1000: its drive injects that much (a driven neuron
    # fires unless refractory), the shipped brain's the drive's default, 100.
    return [("obstacle_avoidance", shipped, 100.0), ("random_10k", rand, THRESHOLD)]


def best(fn: Callable[[int], int], bursts: int, repeats: int) -> tuple[float, int]:
    """Best bursts/s of ``repeats`` runs of ``fn(bursts)`` (which returns the spikes fired)."""
    fn(min(bursts, 200))  # compile / warm
    rate, fired = 0.0, 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fired = fn(bursts)
        rate = max(rate, bursts / (time.perf_counter() - t0))
    return rate, fired


def modes(conn: Connectome, rate: float, potential: float) -> dict[str, Callable[[int], int]]:
    def per_burst(n: int) -> int:
        engine, drive = Engine(conn, "cpu"), PoissonDrive(conn, rate, potential)
        fired = 0
        for _ in range(n):
            drive.apply(engine)
            fired += engine.step()
        return fired

    def batched(n: int) -> int:
        return run_brain(conn, n, drive=PoissonDrive(conn, rate, potential)).summary["fired_total"]

    def engine_run(n: int) -> int:
        return int(Engine(conn, "cpu").run(n, drive=PoissonDrive(conn, rate, potential)).sum())

    return {"per_burst": per_burst, "run_brain": batched, "engine_run": engine_run}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bursts", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--input-rate", type=float, default=0.05)
    args = ap.parse_args()
    common = {"python": platform.python_version(), "machine": platform.machine(),
              "cpu_count": os.cpu_count(), "bursts": args.bursts, "input_rate": args.input_rate}
    for name, conn, potential in brains():
        results = {mode: best(fn, args.bursts, args.repeats)
                   for mode, fn in modes(conn, args.input_rate, potential).items()}
        base_rate, base_fired = results["per_burst"]
        for mode, (rate, fired) in results.items():
            if fired != base_fired:
                raise SystemExit(f"{name} {mode}: fired {fired}, per_burst {base_fired}")
            print(json.dumps({"bench": "run", "brain": name, "neurons": conn.neuron_count,
                              "synapses": conn.synapse_count, "mode": mode,
                              "bursts_per_s": round(rate, 1), "us_per_burst": round(1e6 / rate, 3),
                              "vs_per_burst": round(rate / base_rate, 2), "fired": fired,
                              **common}), flush=True)


if __name__ == "__main__":
    main()
