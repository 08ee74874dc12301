"""The tf2_msgs stand-in (tools/standins): what it defines, that no ROS workspace tool can see it,
and that tools/build_interfaces.py builds it only where no real tf2_msgs is importable."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "tools" / "standins" / "tf2_msgs"


def _build_interfaces():
    spec = importlib.util.spec_from_file_location("build_interfaces", REPO / "tools" / "build_interfaces.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_standin_defines_tfmessage_as_tf2_does() -> None:
    catkin_pkg_package = pytest.importorskip("catkin_pkg.package")
    manifest = catkin_pkg_package.parse_package(STANDIN / "package.xml")
    manifest.validate()
    assert manifest.name == "tf2_msgs"  # the DDS type name is tf2_msgs::msg::dds_::TFMessage_
    assert "rosidl_interface_packages" in {g.name for g in manifest.member_of_groups}
    assert _build_interfaces().STANDIN_MARK in manifest.description
    assert sorted(p.name for p in (STANDIN / "msg").iterdir()) == ["TFMessage.msg"]
    # geometry2's tf2_msgs/msg/TFMessage.msg: this one field, nothing else (no comments either).
    assert (STANDIN / "msg" / "TFMessage.msg").read_text() == "geometry_msgs/TransformStamped[] transforms\n"


def test_no_workspace_tool_sees_the_standin() -> None:
    """A clone inside a colcon workspace of a real ROS install must not overlay its tf2_msgs."""
    packages = pytest.importorskip("catkin_pkg.packages")  # what rosdep --from-paths crawls with
    found = {pkg.name for pkg in packages.find_packages(str(REPO)).values()}
    assert found == {"feagi_hailo_ros", "feagi_hailo_msgs"}
    colcon = Path(sys.prefix) / "bin" / "colcon"
    if not colcon.exists():
        colcon = shutil.which("colcon")
    if colcon is None:
        pytest.skip("colcon is not installed")
    listed = subprocess.run([str(colcon), "list", "--names-only", "--base-paths", str(REPO)],
                            capture_output=True, text=True, check=True, cwd=REPO).stdout.split()
    assert sorted(listed) == ["feagi_hailo_msgs", "feagi_hailo_ros"]


@pytest.fixture
def isolated_import(monkeypatch, tmp_path):
    """``sys.path`` holding only the returned ``add(dir)``-ed directories; tf2_msgs forgotten."""
    for name in [m for m in sys.modules if m == "tf2_msgs" or m.startswith("tf2_msgs.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [])
    importlib.invalidate_caches()

    def add(directory: Path) -> None:
        sys.path.append(str(directory))
        importlib.invalidate_caches()
    return add


def _module(root: Path) -> Path:
    package = root / "tf2_msgs"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    return root


def _manifest(prefix: Path, text: str) -> None:
    share = prefix / "share" / "tf2_msgs"
    share.mkdir(parents=True, exist_ok=True)
    (share / "package.xml").write_text(text)


def test_origin_tells_real_standin_and_absent(isolated_import, tmp_path) -> None:
    bi = _build_interfaces()
    prefix = tmp_path / "venv"
    site = prefix / "lib" / "site-packages"
    assert bi.tf2_msgs_origin(prefix) == "absent"
    assert bi.packages_to_build(prefix) == [bi.PACKAGE, bi.TF2_MSGS_STANDIN]

    isolated_import(_module(site))
    _manifest(prefix, (STANDIN / "package.xml").read_text())
    assert bi.tf2_msgs_origin(prefix) == "standin"  # ours: rebuilt when its sources change
    assert bi.packages_to_build(prefix) == [bi.PACKAGE, bi.TF2_MSGS_STANDIN]

    _manifest(prefix, "<package format='3'><name>tf2_msgs</name></package>")
    assert bi.tf2_msgs_origin(prefix) == "real"  # a real package installed over the stand-in


def test_a_real_tf2_msgs_elsewhere_wins(isolated_import, tmp_path) -> None:
    bi = _build_interfaces()
    prefix = tmp_path / "venv"
    _manifest(prefix, (STANDIN / "package.xml").read_text())  # an old stand-in in the venv...
    isolated_import(_module(tmp_path / "opt" / "ros" / "jazzy"))  # ...and a sourced ROS install
    assert bi.tf2_msgs_origin(prefix) == "real"
    assert bi.packages_to_build(prefix) == [bi.PACKAGE]
