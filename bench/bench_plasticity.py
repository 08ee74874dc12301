#!/usr/bin/env python3
"""What learning costs: the standard random network with plastic synapses, learning vs frozen.

The network of ``bench_random_network.py`` (N neurons, K random synapses each, integer weights
in [-63, 63], the tuned constant drive) split by sign into an excitatory and an inhibitory
projection (a plastic projection has one sign, DESIGN §4.7). Three variants run side by side, in
alternation, in one process:

* ``static``: no learning rule (the engine as without plasticity);
* ``frozen``: plain STDP rules (window 2, ltp 1, ltd 1), ``Engine(learning=False)``;
* ``learning``: the same rules, learning after every burst.

Prints one JSON line per run (variant, bursts/s, ms/burst, mean fired per burst) and a last line
with the ratios learning/frozen and frozen/static of the median bursts/s::

    python bench/bench_plasticity.py -n 10000 -k 10 --bursts 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "feagi_hailo_ros"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_random_network import desynchronize, random_network, tune_drive  # noqa: E402

from feagi_hailo_ros.engine.core.connectome import Connectome, PlasticityRule  # noqa: E402
from feagi_hailo_ros.engine.core.engine import Engine  # noqa: E402

RULE = PlasticityRule(ltp=1.0, ltd=1.0, window=2)


def split_by_sign(c: Connectome, rule: PlasticityRule | None) -> Connectome:
    """One projection per weight sign, each with uniform magnitude-per-synapse weights."""
    (p,) = c.projections
    w = p.weights
    assert w is not None
    out = []
    for index, keep, sign in ((0, w > 0, 1.0), (1, w < 0, -1.0)):
        out.append(dataclasses.replace(p, index=index, pre=p.pre[keep], post=p.post[keep],
                                       weights=w[keep], weight=sign, plastic=rule is not None,
                                       plasticity=rule))
    return dataclasses.replace(c, projections=out)


def run(variant: str, base: Connectome, n: int, drive: float, bursts: int) -> dict:
    c = split_by_sign(base, None if variant == "static" else RULE)
    engine = Engine(c, "cpu", learning=variant == "learning")
    desynchronize(engine, n, 7)
    for _ in range(50):  # warm-up (compiles kernels once per process)
        engine.inject(0, potentials=drive)
        engine.step()
    fired = 0
    start = time.perf_counter()
    for _ in range(bursts):
        engine.inject(0, potentials=drive)
        fired += engine.step()
    elapsed = time.perf_counter() - start
    return {"bench": "plasticity", "variant": variant, "neurons": n,
            "synapses": c.synapse_count, "bursts": bursts,
            "bursts_per_s": round(bursts / elapsed, 1),
            "ms_per_burst": round(elapsed / bursts * 1e3, 4),
            "fired_per_burst": round(fired / bursts, 1), "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10_000, help="neurons")
    ap.add_argument("-k", type=int, default=10, help="synapses per neuron")
    ap.add_argument("--bursts", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    drive, _ = tune_drive(args.k, args.seed)
    base = random_network(args.n, args.k, args.seed)
    rates: dict[str, list[float]] = {"static": [], "frozen": [], "learning": []}
    for _ in range(args.repeats):
        for variant in rates:
            line = run(variant, base, args.n, drive, args.bursts)
            rates[variant].append(line["bursts_per_s"])
            print(json.dumps(line), flush=True)
    med = {v: statistics.median(r) for v, r in rates.items()}
    print(json.dumps({"bench": "plasticity", "summary": True, "neurons": args.n, "k": args.k,
                      "median_bursts_per_s": med,
                      "learning_over_frozen": round(med["learning"] / med["frozen"], 3),
                      "frozen_over_static": round(med["frozen"] / med["static"], 3)}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
