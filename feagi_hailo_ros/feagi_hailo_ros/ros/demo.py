"""`make run`: the feagi_hailo node with the default brain driving the simulated robot.

Both nodes run in this process on one ``MultiThreadedExecutor`` over real DDS topics
(``scan``, ``cmd_vel``, ``odom``), exactly as two launched processes would talk; this is
the launch-free stand-in for ``ros2 launch`` where the ROS CLI is not installed. The node
is configured and activated through its lifecycle, runs for ``--seconds``, prints a live
status line, is deactivated (zero cmd_vel) and shut down; then a PNG shows the robot's
path in the room and a spike raster per area, and a JSON summary is printed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions

from ..engine.accel.placement import readable_id
from .node import HybridNode
from .run_report import render_run_png
from .sim_robot_node import SimRobotNode
from .stop import Spinner, shut_down


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="feagi-hailo-demo", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="how long to run (default 20)")
    p.add_argument("--rate", type=float, default=100.0, help="burst rate in Hz (default 100)")
    p.add_argument("--genome", default="", help="genome path or shipped name (default: obstacle_avoidance)")
    p.add_argument("--out", type=Path, default=Path("out/run.png"), help="PNG to write")
    p.add_argument("--raster-bursts", type=int, default=400,
                   help="bursts kept for the raster (the last N)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the demo (``make run``).

    SIGINT/SIGTERM (Ctrl-C) end the run early the same way the timer does: rclpy's own
    handler is not installed (it would shut the context down before the zero ``cmd_vel``),
    the node is deactivated and shut down while the context is valid, and the report is
    written; a stop requested while the brain is being configured ends the run before the
    brain is activated. (Signal handlers are installed only when called from the main thread.)

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``): ``--seconds``, ``--rate``,
            ``--genome``, ``--out``, ``--raster-bursts``.

    Returns:
        0 after a run, full or cut short by a signal (the PNG written, a JSON summary
        printed); 1 when configure failed, an executor stopped with an exception, or a burst
        failed (the run ends there, the robot stopped by the node, the report written).
    """
    args = _parse(argv)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop_requested = threading.Event()
    previous = ({sig: signal.signal(sig, lambda signum, frame: stop_requested.set())
                 for sig in (signal.SIGINT, signal.SIGTERM)}
                if threading.current_thread() is threading.main_thread() else {})
    brain = HybridNode(parameter_overrides=[
        Parameter("burst_rate_hz", value=float(args.rate)),
        Parameter("genome", value=args.genome),
        # The simulated robot's wheels: 0.6 m/s at full motor activity, so the default brain's
        # half-speed cruise is 0.3 m/s and a 20 s run crosses the room.
        Parameter("max_wheel_speed", value=0.6),
        Parameter("max_angular", value=3.0),
    ])
    robot = SimRobotNode()
    # One executor per node, each on its own thread, as two launched processes would have:
    # the brain on the MultiThreadedExecutor its `main` uses, the robot on its own.
    executor = MultiThreadedExecutor(num_threads=3)
    executor.add_node(brain)
    robot_executor = SingleThreadedExecutor()
    robot_executor.add_node(robot)
    rasters: dict[str, deque[tuple[int, np.ndarray]]] = {}
    spinners = [Spinner(executor), Spinner(robot_executor)]

    def stop_spinning() -> None:
        # The spinners must stop before the node's transitions cancel its timers (an
        # executor thread could call a timer just cancelled: "timer is canceled") and before
        # the context goes (a thread still inside rcl at teardown aborted the process,
        # "terminate called without an active exception", exit 134); the executors are shut
        # down only after their threads stopped spinning (stop.Spinner). Idempotent.
        for spinner in spinners:
            spinner.stop()
        shut_down(executor)  # its callbacks finished first (stop.shut_down)
        shut_down(robot_executor)
    try:
        brain.trigger_configure()
        if brain.runner is None:
            print("configure failed; see the log above", file=sys.stderr)
            return 1
        names = {a.cortical_id: a.name or a.cortical_id for a in brain.runner.connectome.areas}
        for name in names.values():
            rasters[name] = deque(maxlen=args.raster_bursts)

        def record(result) -> None:
            for cid, idx in result.fired.items():
                rasters[names[cid]].append((result.burst, idx))

        brain.burst_observers.append(record)
        for spinner in spinners:
            spinner.start()
        # A stop requested while the brain was being built (Ctrl-C during a long configure)
        # ends the run before it starts: activating would drive the robot after the user
        # asked it to stop.
        activated = not stop_requested.is_set()
        if activated:
            brain.trigger_activate()
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < args.seconds:
            if stop_requested.wait(min(0.5, max(args.seconds - elapsed, 0.0))):
                print("\nstop requested", file=sys.stderr)
                break
            if brain.burst_error:  # the node stopped the robot and took its error path
                break
            result = brain.last_result
            if result is None:
                continue
            s = brain.rate.summary()
            fired = " ".join(f"{readable_id(cid)}:{len(idx)}" for cid, idx in result.fired.items())
            v, w = result.twist or (0.0, 0.0)
            line = (f"t={elapsed:5.1f}s burst={result.burst:6d} {s.achieved_rate_hz:6.1f} Hz "
                    f"| fired {fired} | cmd_vel v={v:+.2f} w={w:+.2f} "
                    f"| collisions={robot.world.collisions}")
            # One live line on a terminal; one line per update in a log.
            print(("\r" + line + "   ") if sys.stdout.isatty() else line, end="", flush=True)
            if not sys.stdout.isatty():
                print()
        print()
        summary = brain.rate.summary()
        # Transitions cancel the node's timers; with an executor thread still spinning, one
        # could call a timer just cancelled ("timer is canceled"). The run is over: stop
        # spinning first, then deactivate (the zero Twist needs no spinning executor).
        stop_spinning()
        # A failed burst may already have taken the node out of active (its error path).
        if brain._state_machine.current_state[1] == "active":
            brain.trigger_deactivate()
        for spinner in spinners:
            if spinner.failure is not None:
                print(f"executor stopped: {type(spinner.failure).__name__}: {spinner.failure}",
                      file=sys.stderr)
                return 1
        report = {
            "seconds": round(time.monotonic() - start, 2),
            # The result, not the runner: a failed burst released the brain.
            "bursts": int(brain.last_result.burst) if brain.last_result is not None else 0,
            "achieved_rate_hz": round(summary.achieved_rate_hz, 2),
            "period_error_p99_ms": round(summary.period_error_p99_ms, 3),
            "overruns": summary.overruns,
            "distance_m": round(robot.world.distance, 3),
            "collisions": robot.world.collisions,
            "png": str(args.out),
        }
        render_run_png(robot.path, robot.world.room, {k: list(v) for k, v in rasters.items()},
                       args.out,
                       title=f"feagi_hailo demo: {report['distance_m']} m, "
                             f"{report['collisions']} collisions, {report['bursts']} bursts "
                             f"(rasters: the last {min(report['bursts'], args.raster_bursts)})")
        print(json.dumps(report))
        if brain.burst_error:
            print(f"bursting stopped: {brain.burst_error}", file=sys.stderr)
            return 1
        return 0
    finally:
        stop_spinning()
        # From whichever primary state the run ended in; publishing the zero Twist needs no
        # spinning executor.
        brain.trigger_shutdown()
        brain.destroy_node()
        robot.destroy_node()
        rclpy.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
