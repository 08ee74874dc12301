"""The floor the burst engine is measured against: a minimal CSR + LIF loop in one Numba call.

Issue 13 asks the engine to beat "a tight reference kernel": everything a simulator of a static
random network must do and nothing more. Per step: deliver the previous step's spikes over a CSR
(delay 1, float32 weights, one float32 addition per event), then update every neuron (constant
drive, ``V <- V * keep`` leak, threshold, reset to 0, refractory steps). All steps run in one
call, so there is no per-step Python at all. It knows none of FEAGI's other rules (candidates,
PSP division, consecutive-fire limits, excitability, forced fires, mp_acc) and is not checked
against the engine spike for spike: it is a cost floor, not a model.

``python bench/tight_kernel.py -n 10000 --steps 1000`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def run_lif(indptr: np.ndarray, targets: np.ndarray, weights: np.ndarray, v: np.ndarray,
            until: np.ndarray, fired: np.ndarray, n_fired: int, steps: int, drive: float,
            threshold: float, keep: float, refractory: int) -> tuple[int, int]:
    """Run ``steps`` steps; returns (spikes over all steps, spikes of the last step).

    ``indptr`` int64[n+1] / ``targets`` int32[S] / ``weights`` float32[S] is the CSR by source;
    ``v`` float32[n] potentials, ``until`` int32[n] last refractory step, ``fired`` int32[n] the
    last step's spikes (its first ``n_fired`` entries), all updated in place.
    """
    n = v.size
    acc = np.zeros(n, np.float32)
    d32 = np.float32(drive)
    th = np.float32(threshold)
    k32 = np.float32(keep)
    total = 0
    for t in range(steps):
        for f in range(n_fired):  # delay 1: last step's spikes
            j = fired[f]
            for q in range(indptr[j], indptr[j + 1]):
                i = targets[q]
                acc[i] = np.float32(acc[i] + weights[q])
        n_fired = 0
        for i in range(n):
            a = acc[i]
            acc[i] = np.float32(0.0)
            if t <= until[i]:
                continue
            vv = np.float32(v[i] + np.float32(a + d32))
            if vv >= th:
                v[i] = np.float32(0.0)
                until[i] = t + refractory
                fired[n_fired] = i
                n_fired += 1
            else:
                v[i] = np.float32(vv * k32)
        total += n_fired
    return total, n_fired


def random_csr(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N sources with K random targets each and integer weights in [-63, 63] (the standard
    network of ``bench_random_network.py``), as CSR arrays."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, n, n * k, dtype=np.int32)
    weights = rng.integers(-63, 64, n * k, dtype=np.int32).astype(np.float32)
    return np.arange(0, n * k + 1, k, dtype=np.int64), targets, weights


def csr_of(pre: np.ndarray, post: np.ndarray, w: np.ndarray, n: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR by source of a synapse list (stable, so a row keeps the list's order)."""
    order = np.argsort(pre, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(pre, minlength=n), out=indptr[1:])
    return indptr, np.ascontiguousarray(post[order], np.int32), np.ascontiguousarray(
        w[order], np.float32)


def time_steps(indptr: np.ndarray, targets: np.ndarray, weights: np.ndarray, steps: int,
               drive: float, threshold: float, keep: float, refractory: int, seed: int = 7
               ) -> dict[str, float]:
    """Warm the kernel, desynchronise like the engine benchmark, then time ``steps`` steps."""
    n = indptr.size - 1
    v = np.random.default_rng(seed).uniform(0.0, threshold, n).astype(np.float32)
    until = np.full(n, -1, np.int32)
    fired = np.zeros(n, np.int32)
    _, nf = run_lif(indptr, targets, weights, v, until, fired, 0, 60, drive, threshold, keep,
                    refractory)
    until[:] = -1  # the warm-up's step numbers restart at 0 below
    t0 = time.perf_counter()
    total, _ = run_lif(indptr, targets, weights, v, until, fired, nf, steps, drive, threshold,
                       keep, refractory)
    dt = time.perf_counter() - t0
    return {"tight_steps_per_s": round(steps / dt, 1), "tight_us_per_step": round(1e6 * dt / steps, 3),
            "tight_firing_rate": round(total / (steps * n), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--neurons", type=int, default=10_000)
    ap.add_argument("-k", "--fanout", type=int, default=10)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--drive", type=float, default=130.0)
    args = ap.parse_args()
    indptr, targets, weights = random_csr(args.neurons, args.fanout, 1)
    out = time_steps(indptr, targets, weights, args.steps, args.drive, 1000.0, 0.875, 2)
    print(json.dumps({"bench": "tight_kernel", "neurons": args.neurons, "fanout": args.fanout,
                      "steps": args.steps, **out}))


if __name__ == "__main__":
    main()
