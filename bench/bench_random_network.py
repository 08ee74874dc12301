#!/usr/bin/env python3
"""Standard random-network benchmark of the CPU burst engine.

Network: N neurons in one area, each with K outgoing synapses to uniformly
random targets, integer weights uniform in [-63, 63] (per synapse), leak
12.5 %, threshold 1000, reset 0, refractory 2, delay 1, and a constant drive
injected into every neuron every burst, tuned (by bisection on a smaller
copy with the same K) so about 5 % fire per burst. A one-off random kick at
burst 0 spreads the neurons' phases (see ``desynchronize``). Everything goes through
the engine's public API (``Engine``, ``inject``, ``step``).

Beside the engine, in the same run on the same network: the engine batched
(``Engine.step(bursts, repeat_inputs=True)``: the drive held, all bursts in one
compiled call) and the tight reference kernel (``tight_kernel.py``: a minimal
CSR + LIF Numba loop, all steps in one call), with ``vs_tight`` = engine
speed / tight-kernel speed for both engine modes.

Prints one JSON line per run::

    python bench/bench_random_network.py                       # 1M neurons, K=10
    python bench/bench_random_network.py -n 10000 100000 -k 10 100 --bursts 300 -t 1 2

Each (N, K, threads) runs in its own process so peak RSS is per configuration.
``-t 1 2`` also runs the neuron dynamics on two Numba threads.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "feagi_hailo_ros"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tight_kernel import csr_of, time_steps  # noqa: E402

from feagi_hailo_ros.engine.core.connectome import AreaSpec, Connectome, Projection  # noqa: E402
from feagi_hailo_ros.engine.core.cpu_backend import CpuBackend  # noqa: E402
from feagi_hailo_ros.engine.core.engine import Engine  # noqa: E402

THRESHOLD = 1000.0
LEAK = 0.125
REFRACTORY = 2
TARGET_RATE = 0.05


def random_network(n: int, k: int, seed: int) -> Connectome:
    """The standard network; int32 synapse lists keep 10M synapses at ~120 MB."""
    rng = np.random.default_rng(seed)
    area = AreaSpec(
        index=0, cortical_id="rand00", name="random", group="CUSTOM", dims=(n, 1, 1),
        neurons_per_voxel=1, position=(0, 0, 0), first_neuron=0, fire_threshold=THRESHOLD,
        threshold_increment=(0.0, 0.0, 0.0), threshold_limit=np.inf, leak=LEAK,
        refractory=REFRACTORY, consecutive_fire_limit=0, excitability=1.0, mp_acc=True,
        mp_psp=False, psp=1, psp_uniform=True,
    )  # fmt: skip
    pre = np.repeat(np.arange(n, dtype=np.int32), k)
    post = rng.integers(0, n, n * k, dtype=np.int32)
    weights = rng.integers(-63, 64, n * k, dtype=np.int32).astype(np.float32)
    projection = Projection(
        index=0, src_area=0, dst_area=0, weight=1.0, delay=1, pre=pre, post=post,
        morphology="random", weights=weights,
    )  # fmt: skip
    return Connectome(areas=[area], projections=[projection])


def desynchronize(engine: Engine, n: int, seed: int) -> None:
    """One-off random kick in [0, threshold) so neurons do not all fire in lockstep.

    Identical neurons under an identical constant drive would otherwise charge
    and fire together every ~20 bursts: a 5 % *mean* rate made of 100 % bursts.
    """
    engine.reset()
    engine.inject(0, potentials=np.random.default_rng(seed).uniform(0.0, THRESHOLD, n))


def firing_rate(engine: Engine, n: int, drive: float, bursts: int, settle: int) -> float:
    desynchronize(engine, n, 7)
    fired = 0
    for b in range(settle + bursts):
        engine.inject(0, potentials=drive)
        f = engine.step()
        if b >= settle:
            fired += f
    return fired / (bursts * n)


def tune_drive(k: int, seed: int, n: int = 20_000) -> tuple[float, float]:
    """Bisect the drive for ~5 % firing on a small copy with the same fan-out."""
    engine = Engine(random_network(n, k, seed + 1), "cpu")
    lo, hi = 50.0, 250.0
    rate = 0.0
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        rate = firing_rate(engine, n, mid, bursts=100, settle=60)
        if rate > TARGET_RATE:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi), rate


def run_one(n: int, k: int, bursts: int, seed: int, drive: float | None, threads: int) -> dict:
    tuned_rate = None
    if drive is None:
        drive, tuned_rate = tune_drive(k, seed)
    t0 = time.perf_counter()
    connectome = random_network(n, k, seed)
    t1 = time.perf_counter()
    engine = Engine(connectome, CpuBackend(threads=threads))
    t2 = time.perf_counter()
    desynchronize(engine, n, seed)
    # Warm-up: reach the steady firing regime (the JIT is already warm from tuning).
    for _ in range(60):
        engine.inject(0, potentials=drive)
        engine.step()
    engine.timing_totals.clear()
    engine.bursts_timed = 0
    fired = np.zeros(bursts + 1, dtype=np.int64)
    fired[0] = len(engine.fired_global())
    start = time.perf_counter()
    for b in range(bursts):
        engine.inject(0, potentials=drive)
        fired[b + 1] = engine.step()
    elapsed = time.perf_counter() - start
    # Every neuron has exactly K synapses, all of delay 1: events = K * spikes of t-1.
    events = int(fired[:-1].sum()) * k
    stats = engine.stats()["mean_s"]
    # Batched: the same drive held for all bursts, one compiled call (None on versions of the
    # engine without repeat_inputs, for before/after runs).
    batched_s = None
    if "repeat_inputs" in inspect.signature(engine.step).parameters:
        desynchronize(engine, n, seed)
        engine.step()
        engine.inject(0, potentials=drive)
        engine.step(60, repeat_inputs=True)
        engine.inject(0, potentials=drive)
        start = time.perf_counter()
        engine.step(bursts, repeat_inputs=True)
        batched_s = time.perf_counter() - start
    proj = connectome.projections[0]
    tight = time_steps(*csr_of(np.asarray(proj.pre), np.asarray(proj.post),
                               np.asarray(proj.weights), n),
                       bursts, drive, THRESHOLD, 1.0 - LEAK, REFRACTORY, seed)
    tight_bps = tight["tight_steps_per_s"]
    return {
        "bench": "random_network",
        "neurons": n,
        "fanout": k,
        "synapses": n * k,
        "bursts": bursts,
        "drive": round(drive, 4),
        "tuned_rate_small": None if tuned_rate is None else round(tuned_rate, 4),
        "firing_rate": round(float(fired[1:].sum()) / (bursts * n), 4),
        "network_gen_s": round(t1 - t0, 3),
        "engine_build_s": round(t2 - t1, 3),
        "build_s": round(t2 - t0, 3),
        "bursts_per_s": round(bursts / elapsed, 1),
        "batched_bursts_per_s": batched_s and round(bursts / batched_s, 1),
        **tight,
        "vs_tight": round(bursts / elapsed / tight_bps, 3),
        "batched_vs_tight": batched_s and round(bursts / batched_s / tight_bps, 3),
        "ms_per_burst": round(1e3 * elapsed / bursts, 3),
        "neuron_updates_per_s": round(n * bursts / elapsed),
        "synaptic_events_per_s": round(events / elapsed),
        "ms_backend": round(1e3 * stats.get("backend:cpu", 0.0), 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": engine.backend.threads,
        "parallel": engine.backend.threads > 1 and n >= engine.backend.parallel_min_neurons,
        "backend": "cpu",
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", "--neurons", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("-k", "--fanout", type=int, nargs="+", default=[10])
    ap.add_argument("-b", "--bursts", type=int, default=500)
    ap.add_argument("-t", "--threads", type=int, nargs="+", default=[1],
                    help="Numba threads for the neuron dynamics (e.g. -t 1 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drive", type=float, default=None, help="skip tuning, use this drive")
    ap.add_argument("--all", action="store_true", help="also run 1M neurons with K=100")
    ap.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    configs = [(n, k, t) for n in args.neurons for k in args.fanout for t in args.threads]
    if not args.all:
        configs = [(n, k, t) for n, k, t in configs if not (n >= 1_000_000 and k > 10)]
    if args.in_process or len(configs) == 1:
        for n, k, t in configs:
            print(json.dumps(run_one(n, k, args.bursts, args.seed, args.drive, t)), flush=True)
        return
    for n, k, t in configs:
        cmd = [sys.executable, __file__, "-n", str(n), "-k", str(k), "-b", str(args.bursts),
               "-t", str(t), "--seed", str(args.seed), "--in-process"]  # fmt: skip
        if args.drive is not None:
            cmd += ["--drive", str(args.drive)]
        subprocess.run(cmd, check=True, env=os.environ.copy())


if __name__ == "__main__":
    main()
