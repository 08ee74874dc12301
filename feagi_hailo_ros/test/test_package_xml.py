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
          "nav_msgs", "diagnostic_msgs", "feagi_hailo_msgs", "python3-numpy", "python3-numba",
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
