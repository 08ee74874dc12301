#!/usr/bin/env python3
"""Fill the Numba cache of the engine's kernels, so the node's first configure loads them.

The kernels are ``@njit(cache=True)`` (engine/core/kernels.py): the first process that runs
them compiles every variant it uses (seconds), and writes the machine code to Numba's cache
(``$NUMBA_CACHE_DIR`` when set, else ``__pycache__`` beside kernels.py, else a per-user
directory when that is not writable; Numba's rules). This builds each shipped brain's runner,
exactly what ``on_configure`` does, so every variant the node compiles is cached. ``make setup``
runs it; measured on this machine by ``bench/bench_configure.py``.

    .venv/jazzy/bin/python tools/warm_numba_cache.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "feagi_hailo_ros"))

from feagi_hailo_ros.genomes import available_genomes  # noqa: E402
from feagi_hailo_ros.ros.brain_runner import BrainRunner, BrainSource, build_brain  # noqa: E402


def main() -> int:
    """Build every shipped brain's runner once (compiling or loading its kernels)."""
    t0 = time.perf_counter()
    names = sorted(available_genomes())
    for name in names:
        BrainRunner(build_brain(BrainSource(genome_path=name))).close()
    print(f"numba cache warm for {', '.join(names)} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
