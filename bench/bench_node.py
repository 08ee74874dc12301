#!/usr/bin/env python3
"""Burst loop and sensor-to-motor latency of the feagi_hailo node, over real DDS.

The node (default brain) runs on the executor its ``main`` uses; a driver node in the same
process publishes LaserScan messages with an obstacle that moves between sides, so the motor
output keeps changing. Latency is measured inside the node: a reading accepted → the cmd_vel
of the first burst that used it published (see ``HybridNode.latencies``). CPU use is the
process's CPU time over wall time (node + driver + DDS threads; the driver is small).

Prints one JSON line per run:

    python bench/bench_node.py --rate 100 --seconds 10
    python bench/bench_node.py --rate 1000 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import threading
import time

import numpy as np

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 90 + 10))

import rclpy  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402

from feagi_hailo_ros.ros.node import HybridNode, configure_gil_switch_interval  # noqa: E402


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=100.0, help="burst rate (Hz)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--scan-hz", type=float, default=20.0, help="LaserScan publish rate")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds excluded from statistics")
    p.add_argument("--switch-interval-us", type=float, default=None,
                   help="sys.setswitchinterval (default: what hybrid_node's main sets)")
    args = p.parse_args()

    configure_gil_switch_interval(args.rate, args.switch_interval_us)
    rclpy.init()
    node = HybridNode(parameter_overrides=[Parameter("burst_rate_hz", value=args.rate),
                                           Parameter("cloud_rate_hz", value=0.0)])
    driver = rclpy.create_node("scan_driver")
    pub = driver.create_publisher(LaserScan, "scan", qos_profile_sensor_data)
    flips = [0]

    def publish() -> None:
        flips[0] += 1
        pub.publish(make_scan(driver.get_clock().now().to_msg(), left=(flips[0] // 10) % 2 == 0))

    driver.create_timer(1.0 / args.scan_hz, publish)
    executor = MultiThreadedExecutor(num_threads=3)
    executor.add_node(node)
    executor.add_node(driver)
    node.trigger_configure()
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    node.trigger_activate()
    time.sleep(args.warmup)
    node.latencies.clear()
    node.rate.restart()
    burst0 = node.runner.burst
    wall0, cpu0 = time.perf_counter(), time.process_time()
    time.sleep(args.seconds)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    summary = node.rate.summary()
    bursts = node.runner.burst - burst0
    lat = np.asarray(node.latencies, dtype=np.float64) * 1e3
    node.trigger_deactivate()
    node.trigger_shutdown()
    executor.shutdown()
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
        "gil_switch_interval_us": round(sys.getswitchinterval() * 1e6, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(wall, 2),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }
    print(json.dumps(record))
    node.destroy_node()
    driver.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
