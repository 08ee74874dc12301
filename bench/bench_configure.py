#!/usr/bin/env python3
"""Configure time of the node's brain, cold (empty Numba cache) and warm (cache filled).

What ``on_configure`` spends its time on, without ROS: build the brain from its genome and make
the ``BrainRunner`` (engine, first injections and burst, which compile or load the Numba
kernels). Each measurement runs in a fresh interpreter with ``NUMBA_CACHE_DIR`` set to one
temporary directory: the first run finds it empty (cold: every kernel compiles), the second
finds what the first wrote (warm: kernels load from the cache). Prints one JSON line:

    python bench/bench_configure.py [--genome obstacle_avoidance] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "feagi_hailo_ros"

#: Run in the child: time from before the imports to a runner ready to burst (s).
CHILD = """
import json, sys, time
t0 = time.perf_counter()
from feagi_hailo_ros.ros.brain_runner import BrainRunner, BrainSource, build_brain
runner = BrainRunner(build_brain(BrainSource(genome_path=sys.argv[1])))
print(json.dumps(time.perf_counter() - t0))
"""


def configure_seconds(genome: str, cache_dir: str) -> float:
    """Seconds a fresh interpreter takes to import, build ``genome`` and make its runner."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir,
               PYTHONPATH=os.pathsep.join([str(PACKAGE), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", CHILD, genome], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genome", default="obstacle_avoidance")
    parser.add_argument("--runs", type=int, default=3, help="cold and warm runs (each cold "
                        "run gets a new empty cache directory)")
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="numba_cache_") as cache:
            cold.append(configure_seconds(args.genome, cache))
            warm.append(configure_seconds(args.genome, cache))
    print(json.dumps({"genome": args.genome, "runs": args.runs,
                      "cold_configure_s": [round(x, 2) for x in cold],
                      "warm_configure_s": [round(x, 2) for x in warm],
                      "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
