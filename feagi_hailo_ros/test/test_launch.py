"""launch/hybrid.launch.py: what it names is installed, and (where launch_ros exists) its actions."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

PKG = Path(__file__).resolve().parents[1]
LAUNCH = PKG / "launch" / "hybrid.launch.py"


def _setup_entry_points() -> dict[str, str]:
    tree = ast.parse((PKG / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "ENTRY_POINTS" for t in node.targets):
            scripts = ast.literal_eval(node.value)["console_scripts"]
            return dict((part.strip() for part in s.split("=")) for s in scripts)
    raise AssertionError("setup.py has no ENTRY_POINTS")


def _launch_keywords() -> dict[str, str]:
    """String keyword arguments of the LifecycleNode(...) call in the launch file."""
    tree = ast.parse(LAUNCH.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "LifecycleNode":
            return {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
    raise AssertionError("no LifecycleNode in the launch file")


def test_launch_names_an_installed_executable_package_and_config() -> None:
    kw = _launch_keywords()
    assert kw["package"] == "feagi_hailo_ros"
    assert kw["name"] == "feagi_hailo"
    entry = _setup_entry_points()[kw["executable"]]
    module, func = entry.split(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{module} does not exist"
    assert f"def {func}(" in Path(spec.origin).read_text()
    text = LAUNCH.read_text()
    assert '"config", "hybrid.yaml"' in text
    assert (PKG / "config" / "hybrid.yaml").is_file()
    setup_py = (PKG / "setup.py").read_text()
    assert 'glob("config/*.yaml")' in setup_py and 'glob("launch/*.launch.py")' in setup_py


def test_config_holds_only_declared_parameters_with_valid_values() -> None:
    from feagi_hailo_ros.ros.params import BY_NAME, SENSOR_PARAMS, check_value

    params = yaml.safe_load((PKG / "config" / "hybrid.yaml").read_text())["feagi_hailo"]["ros__parameters"]
    sensors = params.pop("sensors")
    for name, value in params.items():
        assert name in BY_NAME, f"config sets undeclared parameter {name}"
        assert check_value(BY_NAME[name], value) is None
        assert isinstance(value, type(BY_NAME[name].default)), name
    assert set(sensors) == set(params["sensor_names"])
    sensor_specs = {s.name: s for s in SENSOR_PARAMS}
    for binding in sensors.values():
        assert set(binding) <= set(sensor_specs)
        for key, value in binding.items():
            assert check_value(sensor_specs[key], value) is None


def test_launch_description_actions() -> None:
    pytest.importorskip("launch_ros", reason="launch_ros is not on PyPI; runs on a robot with apt ROS")
    from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
    from launch_ros.actions import LifecycleNode

    spec = importlib.util.spec_from_file_location("hybrid_launch", LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ld = module.generate_launch_description()
    args = {a.name for a in ld.entities if isinstance(a, DeclareLaunchArgument)}
    assert args == {"config", "namespace", "use_hailo", "log_level"}
    assert sum(isinstance(a, LifecycleNode) for a in ld.entities) == 1
    assert any(isinstance(a, RegisterEventHandler) for a in ld.entities)
    assert any(isinstance(a, EmitEvent) for a in ld.entities)
