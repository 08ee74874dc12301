"""Shared by the genome benchmarks: run an engine under Poisson input and time it."""

from __future__ import annotations

import argparse
import time

from feagi_hailo_ros.engine.core.drive import PoissonDrive
from feagi_hailo_ros.engine.core.engine import Engine


def timed(engine: Engine, connectome, args: argparse.Namespace) -> dict:
    """Warm up, then time ``args.bursts`` bursts; the per-phase means come from the engine."""
    drive = PoissonDrive(connectome, args.input_rate, seed=1)
    # Engine.run(1, drive=): one burst per call, as the node steps, the drive's draws made in
    # the compiled burst (drive.apply's NumPy draws cost ~0.2 ms per burst on vision's 49k input
    # neurons; the spikes are the same).
    for _ in range(args.warmup):
        engine.run(1, drive=drive)
    engine.timing_totals.clear()
    engine.bursts_timed = 0
    fired = 0
    start = time.perf_counter()
    for _ in range(args.bursts):
        fired += int(engine.run(1, drive=drive)[0])
    elapsed = time.perf_counter() - start
    mean = engine.stats()["mean_s"]
    return {
        "bursts": args.bursts,
        "bursts_per_s": round(args.bursts / elapsed, 1),
        "ms_per_burst": round(elapsed / args.bursts * 1e3, 3),
        "ms_per_burst_by_phase": {k: round(v * 1e3, 4) for k, v in sorted(mean.items())},
        "firing_fraction": round(fired / args.bursts / connectome.neuron_count, 5),
    }
