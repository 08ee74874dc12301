"""The engine and HailoRT-binding tests need no ROS: `make test-aarch64` runs them on arm64 in a
venv without the ROS wheels (tools/test_aarch64.sh, issue 13 item 6). Here, on any machine, they
are collected in a fresh interpreter in which every ROS module is unimportable; a test module that
imports one at its top fails the collection. (ROS-only tests elsewhere skip themselves with
``pytest.importorskip``; the aarch64 run shows what runs there.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Top-level modules that only the ROS 2 wheels or a ROS install provide (the ROS entries of
# test_package_xml.IMPORTS, plus the rclpy runtime's own).
ROS_MODULES = (
    "rclpy", "rcl_interfaces", "rosidl_runtime_py", "rosidl_parser", "rpyutils", "lifecycle_msgs",
    "std_msgs", "std_srvs", "sensor_msgs", "geometry_msgs", "nav_msgs", "diagnostic_msgs",
    "trajectory_msgs", "builtin_interfaces", "feagi_hailo_msgs", "tf2_msgs", "tf2_ros", "launch",
    "launch_ros", "ament_index_python",
)

# Run in the child: a meta-path finder that refuses the ROS modules, then pytest's collection.
_CHILD = """
import importlib.abc, sys
import pytest

BLOCKED = set(sys.argv[1].split(","))

class NoRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is blocked: no ROS here", name=name)
        return None

sys.meta_path.insert(0, NoRos())
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *sys.argv[2:]]))
"""


def _collect(*paths: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "feagi_hailo_ros"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-c", _CHILD, ",".join(ROS_MODULES), *paths],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_engine_and_binding_tests_collect_without_ros() -> None:
    proc = _collect("feagi_hailo_ros/test/engine", "feagi_hailo_ros/test/hailo")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    assert len(collected) > 400, proc.stdout[-2000:]  # engine ~430 + binding ~190 today
    assert any(line.startswith("feagi_hailo_ros/test/hailo/") for line in collected)


def test_the_ros_block_is_real(tmp_path: Path) -> None:
    """A test module that imports ROS at its top fails that collection: the block is no no-op."""
    needs_ros = tmp_path / "test_needs_ros.py"
    needs_ros.write_text("import rclpy\n\n\ndef test_nothing():\n    assert rclpy\n")
    proc = _collect(str(needs_ros))
    assert proc.returncode != 0
    assert "rclpy is blocked: no ROS here" in proc.stdout + proc.stderr


def test_the_arm64_build_folder_is_hidden_from_workspace_tools(tmp_path: Path) -> None:
    """make test-aarch64 marks its build folder COLCON_IGNORE before anything else (an unknown
    step stops it right after), so colcon, ament and catkin_pkg never crawl the arm64 root file
    system; catkin_pkg (rosdep's crawler) then finds no package.xml under it."""
    build = tmp_path / "aarch64"
    (build / "rootfs" / "pkg").mkdir(parents=True)
    (build / "rootfs" / "pkg" / "package.xml").write_text("<package/>")
    done = subprocess.run(["bash", str(REPO / "tools" / "test_aarch64.sh"), "no-such-step"],
                          env={**os.environ, "AARCH64_BUILD": str(build)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "unknown step" in done.stderr
    assert (build / "COLCON_IGNORE").is_file()
    packages = pytest.importorskip("catkin_pkg.packages")
    assert packages.find_package_paths(str(tmp_path)) == []
