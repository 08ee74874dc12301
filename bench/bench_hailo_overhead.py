#!/usr/bin/env python3
"""Host-side overhead per burst of the Hailo integrator, through the libhailort stand-in.

No Hailo device is needed: the C stand-in of libhailort (test/hailo/standin) executes the
partition, and its own arithmetic is timed inside the library (``standin_compute_ns``) so it can
be taken out. What remains is what the host pays per burst on any device: the integrator's
Python (planning frames, decoding counts), the ctypes binding, and the frame copies through the
vstream queues. On a real Hailo-8 add the PCIe round trip and the device's compute instead of the
stand-in's.

Each partition is one projection between two areas of N neurons (x, y, 10 channels): a 3x3
neighbourhood per channel, i.e. a conv layer (``--layout gemm`` makes it a dense layer; only
sensible up to a few thousand neurons). One frame per burst, 5 % of the sources spiking.

Prints one JSON line per size::

    python bench/bench_hailo_overhead.py                      # 1k, 10k, 100k neurons
    python bench/bench_hailo_overhead.py -n 1000 --layout gemm --bursts 500

Fields (microseconds per burst, means): ``integrate_us`` (HailoIntegrator.integrate, total);
``standin_compute_us`` (the stand-in's arithmetic inside it); ``host_overhead_us`` (the
difference); ``binding_us`` (bare binding write + read of the same frames, minus the stand-in's
arithmetic); ``integrator_us`` (host overhead minus the bare binding: the integrator's own
Python); ``async_us`` (submit + collect round trip minus the stand-in's arithmetic);
``phases_us`` (the integrator's write/read/dequantize split; the stand-in computes inside
``write``); ``cpu_numpy_us`` (the exact CPU fallback, NumpyIntegrator, for comparison);
``tune_host_us`` / ``tune_round_trip_us`` (what ``feagi-hailo tune`` measures for this partition:
burst-thread time and submit-to-counts time, frames and adding counts back included, the
stand-in's arithmetic not taken out; the stand-in computes inside ``write``, so its arithmetic
counts as host time here, where a Hailo-8 would compute while the host waits).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "feagi_hailo_ros"))
sys.path.insert(0, str(ROOT / "feagi_hailo_ros" / "test" / "engine"))

from hailo_partitions import export, standin_build  # noqa: E402
from strategies import area, brain, proj  # noqa: E402

from feagi_hailo_ros.engine.accel.hailo_integrator import HailoIntegrator  # noqa: E402
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator  # noqa: E402
from feagi_hailo_ros.engine.accel.tune import (  # noqa: E402
    Activity,
    manifest_candidates,
    measure_partition_costs,
)
from feagi_hailo_ros.engine.core.connectome import Connectome  # noqa: E402
from feagi_hailo_ros.hailo import FormatType, HailoRT  # noqa: E402

CHANNELS = 10


def grid(n: int) -> tuple[int, int, int]:
    """(x, y, CHANNELS) with x * y * CHANNELS == n and x, y as close as possible."""
    if n % CHANNELS:
        raise SystemExit(f"-n values must be multiples of {CHANNELS}")
    cells = n // CHANNELS
    x = max(d for d in range(1, math.isqrt(cells) + 1) if cells % d == 0)
    return (x, cells // x, CHANNELS)


def lateral_brain(n: int) -> Connectome:
    """Two areas of n neurons; each target hears its 3x3 neighbourhood in the same channel."""
    dims = grid(n)
    big_x, big_y, c = dims
    x, y, ch = np.meshgrid(np.arange(big_x), np.arange(big_y), np.arange(c), indexing="ij")
    x, y, ch = x.ravel(), y.ravel(), ch.ravel()
    pre, post = [], []
    for ox in (-1, 0, 1):
        for oy in (-1, 0, 1):
            ok = (x + ox >= 0) & (x + ox < big_x) & (y + oy >= 0) & (y + oy < big_y)
            pre.append((((x + ox) * big_y + y + oy) * c + ch)[ok])
            post.append(((x * big_y + y) * c + ch)[ok])
    return brain([area(dims=dims, cid="src"), area(dims=dims, cid="dst")],
                 [proj(0, 0, 1, np.concatenate(pre), np.concatenate(post))])


class ComputeClock:
    """The stand-in's own arithmetic time (its ``standin_compute_ns`` probe)."""

    def __init__(self, lib: Path) -> None:
        self._fn = ctypes.CDLL(str(lib)).standin_compute_ns  # same handle HailoRT dlopened
        self._fn.restype = ctypes.c_uint64

    def seconds(self) -> float:
        return self._fn() * 1e-9


def timed(fn: Callable[[], object], bursts: int, clock: ComputeClock) -> tuple[float, float, float]:
    """(mean s, median s, stand-in compute s) per call of ``fn``."""
    times = []
    c0 = clock.seconds()
    for _ in range(bursts):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return (statistics.fmean(times), statistics.median(times),
            (clock.seconds() - c0) / bursts)


def bare_binding(rt: HailoRT, hef_path: Path, x: np.ndarray, bursts: int,
                 clock: ComputeClock) -> tuple[float, float]:
    """Mean (write + read) seconds and stand-in compute seconds, binding only."""
    with rt.create_vdevice() as vdevice, rt.hef_from_file(hef_path) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams(FormatType.UINT8, FormatType.UINT8) as vs:
            (src,) = vs.inputs.values()
            (dst,) = vs.outputs.values()
            out = np.empty(dst.shape, dst.dtype)

            def once() -> None:
                src.write(x)
                dst.read(out=out)

            for _ in range(20):
                once()
            mean, _, compute = timed(once, bursts, clock)
    return mean, compute


def run(n: int, layout: str, bursts: int, rt: HailoRT, clock: ComputeClock,
        version: str) -> dict[str, object]:
    c = lateral_brain(n)
    rng = np.random.default_rng(n)
    x = (rng.random((1, n)) < 0.05).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = export(tmp, c, [0], layout=layout)
        integ = HailoIntegrator(manifest, rt=rt)
        integ.prepare(c, [0])
        req = {0: x}
        for _ in range(20):
            integ.integrate(req)
        integ._reset_stats()  # phases of the timed bursts only
        mean, median, compute = timed(lambda: integ.integrate(req), bursts, clock)
        phases = integ.stats()["us_per_burst"]
        a_mean, _, a_compute = timed(lambda: integ.collect(integ.submit(req)), bursts,
                                     clock)
        integ.close()
        # The same partition as `feagi-hailo tune` sees it (one frame per burst, source area 0).
        ids = np.flatnonzero(x[0]).astype(np.int64)
        spikes = Activity(tuple((ids, np.ones(ids.size, np.float32))
                                for _ in range(max(bursts // 5, 10))), 0.0)
        (tuned,) = measure_partition_costs(
            c, manifest_candidates(c, manifest), spikes,
            lambda conn, projs: HailoIntegrator(manifest, rt=rt, required=True)).values()
        b_mean, b_compute = bare_binding(rt, Path(tmp) / "partitions.hef", x[0], bursts, clock)
    ref = NumpyIntegrator()
    ref.prepare(c, [0])
    cpu_mean, _, _ = timed(lambda: ref.integrate(req), max(bursts // 10, 10), clock)
    us = 1e6
    host = mean - compute
    binding = b_mean - b_compute
    return {
        "bench": "hailo_overhead", "neurons": n, "layout": layout, "dims": list(grid(n)),
        "synapses": c.synapse_count, "frame_bytes_in": n, "frame_bytes_out": n,
        "bursts": bursts,
        "integrate_us": round(mean * us, 1), "integrate_median_us": round(median * us, 1),
        "standin_compute_us": round(compute * us, 1),
        "host_overhead_us": round(host * us, 1),
        "binding_us": round(binding * us, 1),
        "integrator_us": round((host - binding) * us, 1),
        "async_us": round((a_mean - a_compute) * us, 1),
        "phases_us": {k: round(phases[k], 1) for k in ("write", "read", "dequantize", "total")},
        "cpu_numpy_us": round(cpu_mean * us, 1),
        "tune_host_us": round(tuned.host_s * us, 1),
        "tune_round_trip_us": round(tuned.round_trip_s * us, 1),
        "standin": version, "python": platform.python_version(), "cores": os.cpu_count(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--neurons", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--layout", choices=["conv", "gemm"], default="conv")
    p.add_argument("--bursts", type=int, default=300)
    p.add_argument("--version", default="4.23", help="HailoRT version the stand-in reports")
    args = p.parse_args()
    major, minor = (int(v) for v in args.version.split("."))
    with tempfile.TemporaryDirectory() as build_dir:
        lib = standin_build.build_standin(build_dir, major, minor)
        rt = HailoRT(lib)
        clock = ComputeClock(lib)
        for n in args.neurons:
            print(json.dumps(run(n, args.layout, args.bursts, rt, clock, args.version)), flush=True)


if __name__ == "__main__":
    main()
