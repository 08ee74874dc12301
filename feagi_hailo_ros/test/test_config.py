"""config/hybrid.yaml reaches the node under any namespace, as ``ros2 launch`` hands it over.

launch_ros passes a parameter file to the node process as ``--ros-args --params-file <path>``
and a namespace as ``-r __ns:=/<ns>``; these tests start the node in-process with exactly those
process arguments on a fresh rclpy Context. The values read back come from a copy of the
shipped file that keeps its top-level key and changes a few values away from the defaults, so
the tests fail if the shipped key stops matching a namespaced node (issue 11: the bare
``feagi_hailo:`` key was silently ignored with ``namespace:=robot1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

PKG = Path(__file__).resolve().parents[1]
CONFIG = PKG / "config" / "hybrid.yaml"

#: Values away from the defaults: one per parameter kind (int, float, string, sensor binding).
CHANGED = {"seed": 7, "burst_rate_hz": 50.0, "frame_id": "robot_brain"}
CHANGED_SENSOR = {"range_max": 2.5}


def _shipped() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def _write_config(tmp_path: Path, key: str | None = None) -> Path:
    """A copy of the shipped config with CHANGED applied, under ``key`` (default: the shipped key)."""
    shipped = _shipped()
    (shipped_key,) = shipped
    params = shipped[shipped_key]["ros__parameters"]
    params.update(CHANGED)
    params["sensors"]["scan"].update(CHANGED_SENSOR)
    path = tmp_path / "hybrid.yaml"
    path.write_text(yaml.safe_dump({key or shipped_key: shipped[shipped_key]}))
    return path


@contextmanager
def _node(params_file: Path, namespace: str) -> Iterator[object]:
    """The node started as launch_ros starts it: process args on a fresh Context."""
    rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
    from feagi_hailo_ros.ros.node import HybridNode

    args = ["--ros-args", "--params-file", str(params_file)]
    if namespace:
        args += ["-r", f"__ns:=/{namespace}"]
    context = rclpy.Context()
    rclpy.init(args=args, context=context)
    node = None
    try:
        node = HybridNode(context=context)
        yield node
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.shutdown(context=context)


def _read(node: object) -> dict:
    values = {name: node.get_parameter(name).value for name in CHANGED}
    values.update({name: node.get_parameter(f"sensors.scan.{name}").value for name in CHANGED_SENSOR})
    return values


def test_shipped_config_is_keyed_for_every_namespace() -> None:
    assert list(_shipped()) == ["/**/feagi_hailo"]


def test_changed_values_differ_from_the_defaults() -> None:
    from feagi_hailo_ros.ros.params import BY_NAME, SENSOR_PARAMS

    sensor_defaults = {s.name: s.default for s in SENSOR_PARAMS}
    for name, value in CHANGED.items():
        assert value != BY_NAME[name].default, name
    for name, value in CHANGED_SENSOR.items():
        assert value != sensor_defaults[name], name


@pytest.mark.parametrize("namespace", ["", "robot1", "fleet/robot1"])
def test_node_reads_the_config_under_a_namespace(tmp_path: Path, namespace: str) -> None:
    with _node(_write_config(tmp_path), namespace) as node:
        assert node.get_namespace() == "/" + namespace
        assert _read(node) == {**CHANGED, **CHANGED_SENSOR}


def test_bare_node_name_key_is_ignored_under_a_namespace(tmp_path: Path) -> None:
    """The old key: read at the root namespace, silently ignored under ``robot1`` (the bug)."""
    from feagi_hailo_ros.ros.params import BY_NAME, SENSOR_PARAMS

    path = _write_config(tmp_path, key="feagi_hailo")
    with _node(path, "") as node:
        assert _read(node) == {**CHANGED, **CHANGED_SENSOR}
    with _node(path, "robot1") as node:
        defaults = {name: BY_NAME[name].default for name in CHANGED}
        defaults.update({s.name: s.default for s in SENSOR_PARAMS if s.name in CHANGED_SENSOR})
        assert _read(node) == defaults
