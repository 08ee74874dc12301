"""Console entry points of the executables: a Ctrl-C before the node runs ends the process quietly.

``hybrid_node`` and ``sim_robot`` import rclpy, NumPy and Numba (about half a second) before
their ``main`` reaches :func:`.stop.spin_until_stopped`, which installs the handlers that stop
the robot safely. A SIGINT in that time raised ``KeyboardInterrupt`` inside an import and printed
its traceback (a user pressing Ctrl-C right after start; ``ros2 launch`` interrupted early does
the same). Nothing moves yet, so these entry points give SIGINT its default action first (the
process ends, as it does on SIGTERM) and import the node only then.
"""

from __future__ import annotations

import signal


def hybrid_node() -> int:
    """``hybrid_node``: :func:`.node.main` with SIGINT at its default action until it runs."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from .node import main

    return main()


def sim_robot() -> int:
    """``sim_robot``: :func:`.sim_robot_node.main` with SIGINT at its default action until it runs."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from .sim_robot_node import main

    return main()
