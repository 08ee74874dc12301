"""Both package manifests parse and validate as REP 149 (format 3) with catkin_pkg."""

from __future__ import annotations

from pathlib import Path

import pytest

catkin_pkg_package = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg is not installed")

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("package", "build_type", "must_depend"),
    [
        ("feagi_hailo_ros", "ament_python",
         {"rclpy", "lifecycle_msgs", "std_msgs", "std_srvs", "sensor_msgs", "geometry_msgs",
          "nav_msgs", "diagnostic_msgs", "trajectory_msgs", "tf2_msgs", "feagi_hailo_msgs", "python3-numpy",
          "python3-numba",
          "launch", "launch_ros", "ament_index_python"}),
        ("feagi_hailo_msgs", "ament_cmake", {"std_msgs", "rosidl_default_runtime"}),
    ],
)
def test_manifest_is_valid(package: str, build_type: str, must_depend: set[str]) -> None:
    manifest = catkin_pkg_package.parse_package(REPO / package / "package.xml")
    manifest.validate()  # raises InvalidPackage on any violation
    assert manifest.name == package
    assert manifest.package_format == 3
    assert manifest.get_build_type() == build_type
    declared = {d.name for d in manifest.build_depends + manifest.exec_depends}
    assert must_depend <= declared, f"undeclared: {sorted(must_depend - declared)}"


def test_interfaces_package_is_an_interface_package() -> None:
    manifest = catkin_pkg_package.parse_package(REPO / "feagi_hailo_msgs" / "package.xml")
    assert "rosidl_interface_packages" in {g.name for g in manifest.member_of_groups}
    assert "rosidl_default_generators" in {d.name for d in manifest.buildtool_depends}


def test_versions_agree() -> None:
    ros = catkin_pkg_package.parse_package(REPO / "feagi_hailo_ros" / "package.xml")
    msgs = catkin_pkg_package.parse_package(REPO / "feagi_hailo_msgs" / "package.xml")
    setup_py = (REPO / "feagi_hailo_ros" / "setup.py").read_text()
    assert ros.version == msgs.version
    assert f'version="{ros.version}"' in setup_py


# Every third-party module the package imports -> (its pip requirement, or None when it comes
# with a listed ROS wheel; its rosdep key in package.xml; whether it is optional).
IMPORTS = {
    "numpy": ("numpy", "python3-numpy", False),
    "numba": ("numba", "python3-numba", False),
    "llvmlite": ("llvmlite", "python3-llvmlite", False),
    "yaml": ("PyYAML", "python3-yaml", False),
    "matplotlib": ("matplotlib", "python3-matplotlib", False),
    "onnx": ("onnx", "python3-onnx", True),
    "onnxruntime": ("onnxruntime", "python3-onnxruntime", True),
    "rclpy": ("rclpy", "rclpy", False),
    "rcl_interfaces": (None, "rcl_interfaces", False),  # a dependency of the rclpy wheel
    "lifecycle_msgs": ("lifecycle-msgs", "lifecycle_msgs", False),
    "std_msgs": ("std-msgs", "std_msgs", False),
    "std_srvs": ("std-srvs", "std_srvs", False),
    "sensor_msgs": ("sensor-msgs", "sensor_msgs", False),
    "geometry_msgs": ("geometry-msgs", "geometry_msgs", False),
    "nav_msgs": ("nav-msgs", "nav_msgs", False),
    "diagnostic_msgs": ("diagnostic-msgs", "diagnostic_msgs", False),
    "trajectory_msgs": ("trajectory-msgs", "trajectory_msgs", False),
    "feagi_hailo_msgs": (None, "feagi_hailo_msgs", False),  # built from this workspace
    # Not on PyPI: a real install's, else the stand-in that tools/build_interfaces.py builds.
    "tf2_msgs": (None, "tf2_msgs", False),
    "tf2_ros": (None, "tf2_ros_py", False),  # apt ROS only; ros/frames.py falls back to rclpy
    "launch": (None, "launch", False),  # not on PyPI (DESIGN §3); apt ROS has it
    "launch_ros": (None, "launch_ros", False),
}


def _third_party_imports() -> set[str]:
    import ast
    import sys

    found = set()
    pkg = REPO / "feagi_hailo_ros"
    for path in [*(pkg / "feagi_hailo_ros").rglob("*.py"), *(pkg / "launch").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found |= {n.split(".")[0] for n in names if n}
    return found - set(sys.stdlib_module_names) - {"feagi_hailo_ros", "__future__"}


def test_every_import_is_declared() -> None:
    imported = _third_party_imports()
    assert imported <= IMPORTS.keys(), f"imports missing from IMPORTS: {sorted(imported - IMPORTS.keys())}"
    manifest = catkin_pkg_package.parse_package(REPO / "feagi_hailo_ros" / "package.xml")
    deps = manifest.build_depends + manifest.exec_depends
    declared = {d.name for d in deps}
    conditional = {d.name for d in deps if d.condition}
    requirements = {}
    for distro in ("jazzy", "kilted"):
        lines = (REPO / "requirements" / "common.txt").read_text().splitlines()
        lines += (REPO / "requirements" / f"{distro}.txt").read_text().splitlines()
        requirements[distro] = {ln.split("==")[0].strip().lower() for ln in lines
                                if ln.strip() and not ln.startswith(("#", "-r"))}
    prefix = {"jazzy": "ros-jazzy-", "kilted": "ros-"}
    for module in sorted(imported):
        pip, key, optional = IMPORTS[module]
        assert key in declared, f"{module}: rosdep key {key} not in package.xml"
        assert (key in conditional) == optional, f"{module}: optional={optional} but package.xml differs"
        if pip is None:
            continue
        for distro, reqs in requirements.items():
            ros_name = prefix[distro] + pip.lower().replace("_", "-")
            assert pip.lower() in reqs or ros_name in reqs, f"{module}: {pip} not pinned for {distro}"
