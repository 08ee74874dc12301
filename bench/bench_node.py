#!/usr/bin/env python3
"""Burst loop and sensor-to-motor latency of the feagi_hailo node, over real DDS.

The node (default brain) runs on the executor its ``main`` uses; a driver node in the same
process publishes LaserScan messages with an obstacle that moves between sides, so the motor
output keeps changing. Latency is measured inside the node: a reading accepted → the cmd_vel
of the first burst that used it published (see ``HybridNode.latencies``). CPU use is the
process's CPU time over wall time (node + driver + DDS threads), split per thread in
``thread_cpu_percent`` (the kernel's per-task run time, ``/proc/self/task/*/schedstat``):
``burst`` (the burst thread), ``firing`` (the firing/cloud publisher), ``watchdog``,
``executor`` (the spinning thread and its pool: sensor callbacks, services, statistics, and the
driver's timer when it runs in the process), ``main``, and the threads rclpy and DDS start
without Python (``other``, with their kernel names in ``other_threads``).

``--driver process`` runs the scan driver in a process of its own, so the node's process CPU
is the node's alone; the driver's CPU is then reported apart (``driver_cpu_percent``).
``--firing-decimation N`` sets the node's ``firing_decimation`` (default 1, the node's default:
``~/firing`` every burst; at 1 kHz that is 1,000 messages a second, more than a viewer draws);
``--burst-thread-priority P`` the node's ``burst_thread_priority`` (SCHED_FIFO when permitted;
``burst_thread_scheduling`` in the record says what the thread got); ``--executor single``
the executor ``hybrid_node --executor single`` uses.

Prints one JSON line per run:

    python bench/bench_node.py --rate 100 --seconds 10
    python bench/bench_node.py --rate 1000 --seconds 10 --driver process
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import threading
import time

import numpy as np

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 90 + 10))

import rclpy  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402

from feagi_hailo_ros.ros.node import (  # noqa: E402
    EXECUTORS,
    HybridNode,
    configure_gil_switch_interval,
    make_executor,
)  # noqa: E402
from feagi_hailo_ros.ros.stop import Spinner, shut_down  # noqa: E402


def make_scan(stamp: object, left: bool) -> LaserScan:
    n = 360
    angles = -math.pi + np.arange(n) * (2 * math.pi / n)
    ranges = np.full(n, math.inf, np.float32)
    ranges[(angles > 0.3) & (angles < 0.9) if left else (angles < -0.3) & (angles > -0.9)] = 0.3
    msg = LaserScan(angle_min=-math.pi, angle_max=math.pi - 2 * math.pi / n,
                    angle_increment=2 * math.pi / n, range_min=0.12, range_max=3.5)
    msg.ranges = ranges.tolist()
    msg.header.stamp = stamp
    return msg


#: bench thread group of each Python thread name (prefix match); others: "executor".
_GROUPS = (("feagi_burst", "burst"), ("feagi_firing", "firing"), ("feagi_watchdog", "watchdog"),
           ("MainThread", "main"))


def thread_cpu() -> dict[int, tuple[str, str, int]]:
    """tid -> (group, kernel thread name, CPU nanoseconds so far) of every thread of this process.

    The CPU time is the first field of ``/proc/<pid>/task/<tid>/schedstat`` (ns on the CPU);
    Python threads are grouped by name (:data:`_GROUPS`), the rest are "other".
    """
    python = {t.native_id: t.name for t in threading.enumerate()}
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
        except OSError:  # the thread ended meanwhile
            continue
        name = python.get(int(tid))
        group = "other" if name is None else next(
            (g for prefix, g in _GROUPS if name.startswith(prefix)), "executor")
        out[int(tid)] = (group, comm, ns)
    return out


def cpu_split(before: dict[int, tuple[str, str, int]], after: dict[int, tuple[str, str, int]],
              wall: float) -> tuple[dict[str, float], dict[str, float]]:
    """Percent of one core per group, and per kernel name of the "other" threads, over ``wall`` s."""
    groups: dict[str, float] = {}
    other: dict[str, float] = {}
    for tid, (group, comm, ns) in after.items():
        used = (ns - before.get(tid, (group, comm, 0))[2]) * 1e-9 / wall * 100.0
        groups[group] = groups.get(group, 0.0) + used
        if group == "other":
            other[comm] = other.get(comm, 0.0) + used
    return ({k: round(v, 2) for k, v in sorted(groups.items())},
            {k: round(v, 2) for k, v in sorted(other.items(), key=lambda kv: -kv[1]) if v >= 0.05})


def run_driver(scan_hz: float) -> None:
    """The scan driver alone (``--driver-only``): publish until stdin closes, print its CPU %."""
    rclpy.init()
    driver, _ = make_driver(scan_hz)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while not done.is_set():
        rclpy.spin_once(driver, timeout_sec=0.1)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(json.dumps({"driver_cpu_percent": round(100.0 * cpu / wall, 2)}), flush=True)
    driver.destroy_node()
    rclpy.shutdown()


def make_driver(scan_hz: float) -> tuple[object, object]:
    """The ``scan_driver`` node: a LaserScan on ``scan`` at ``scan_hz``, the obstacle
    changing sides every 10 scans."""
    driver = rclpy.create_node("scan_driver")
    pub = driver.create_publisher(LaserScan, "scan", qos_profile_sensor_data)
    flips = [0]

    def publish() -> None:
        flips[0] += 1
        pub.publish(make_scan(driver.get_clock().now().to_msg(), left=(flips[0] // 10) % 2 == 0))

    driver.create_timer(1.0 / scan_hz, publish)
    return driver, publish


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=100.0, help="burst rate (Hz)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--scan-hz", type=float, default=20.0, help="LaserScan publish rate")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds excluded from statistics")
    p.add_argument("--switch-interval-us", type=float, default=None,
                   help="sys.setswitchinterval (default: what hybrid_node's main sets)")
    p.add_argument("--firing-decimation", type=int, default=1,
                   help="the node's firing_decimation (1, its default: ~/firing every burst)")
    p.add_argument("--burst-thread-priority", type=int, default=0,
                   help="the node's burst_thread_priority (0, its default: normal scheduling)")
    p.add_argument("--executor", choices=EXECUTORS, default="multi",
                   help="hybrid_node's --executor (multi, its default, or single)")
    p.add_argument("--driver", choices=("same", "process"), default="same",
                   help="scan driver in the node's process (its CPU counts) or in its own")
    p.add_argument("--driver-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.driver_only:
        run_driver(args.scan_hz)
        return

    configure_gil_switch_interval(args.rate, args.switch_interval_us)
    rclpy.init()
    node = HybridNode(parameter_overrides=[
        Parameter("burst_rate_hz", value=args.rate), Parameter("cloud_rate_hz", value=0.0),
        Parameter("firing_decimation", value=args.firing_decimation),
        Parameter("burst_thread_priority", value=args.burst_thread_priority)])
    executor = make_executor(args.executor)
    executor.add_node(node)
    driver_proc = None
    if args.driver == "same":
        driver, _ = make_driver(args.scan_hz)
        executor.add_node(driver)
    else:
        # Same domain (the environment), its own process, until its stdin is closed.
        driver_proc = subprocess.Popen(
            [sys.executable, __file__, "--driver-only", "--scan-hz", str(args.scan_hz)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    node.trigger_configure()
    spinner = Spinner(executor)  # as hybrid_node spins (ros/stop.py)
    spinner.start()
    node.trigger_activate()
    time.sleep(args.warmup)
    node.latencies.clear()
    node.rate.restart()
    burst0 = node.runner.burst
    threads0 = thread_cpu()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    time.sleep(args.seconds)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    groups, other = cpu_split(threads0, thread_cpu(), wall)
    summary = node.rate.summary()
    sched = node._burst_scheduling()
    bursts = node.runner.burst - burst0
    lat = np.asarray(node.latencies, dtype=np.float64) * 1e3
    spinner.stop()  # before the transitions cancel timers, and before the shutdown
    node.trigger_deactivate()
    node.trigger_shutdown()
    shut_down(executor)
    record = {
        "bench": "node_burst_loop",
        "brain": "obstacle_avoidance",
        "target_rate_hz": args.rate,
        "achieved_rate_hz": round(bursts / wall, 2),
        "period_error_p50_ms": round(summary.period_error_p50_ms, 4),
        "period_error_p99_ms": round(summary.period_error_p99_ms, 4),
        "overruns": summary.overruns,
        "latency_samples": int(lat.size),
        "latency_p50_ms": round(float(np.percentile(lat, 50)), 4) if lat.size else None,
        "latency_p99_ms": round(float(np.percentile(lat, 99)), 4) if lat.size else None,
        "cpu_percent_of_one_core": round(100.0 * cpu / wall, 1),
        "driver": args.driver,
        "firing_decimation": args.firing_decimation,
        "executor": args.executor,
        "burst_thread_priority": args.burst_thread_priority,
        "burst_thread_scheduling": sched,
        "thread_cpu_percent": groups,
        "other_threads": other,
        "gil_switch_interval_us": round(sys.getswitchinterval() * 1e6, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(wall, 2),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }
    if driver_proc is not None:
        out, _ = driver_proc.communicate("", timeout=30)
        record["driver_cpu_percent"] = json.loads(out.strip().splitlines()[-1])["driver_cpu_percent"]
    print(json.dumps(record))
    node.destroy_node()
    if args.driver == "same":
        driver.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
