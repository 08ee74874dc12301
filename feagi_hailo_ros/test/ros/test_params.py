"""The node's parameter table: limits enforced, and every parameter documented in README.md."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from feagi_hailo_ros.ros.params import (
    BY_NAME,
    OUTPUT_PARAMS,
    PARAMS,
    SENSOR_PARAMS,
    check_value,
    readme_tables,
)

README = Path(__file__).resolve().parents[3] / "README.md"


def test_names_are_unique_and_defaults_valid() -> None:
    assert len(BY_NAME) == len(PARAMS)
    for spec in (*PARAMS, *SENSOR_PARAMS, *OUTPUT_PARAMS):
        assert spec.description, spec.name
        assert check_value(spec, spec.default) is None, spec.name


@pytest.mark.parametrize(("name", "value", "ok"), [
    ("burst_rate_hz", 1.0, True), ("burst_rate_hz", 2000.0, True), ("burst_rate_hz", 0.5, False),
    ("burst_rate_hz", 2000.1, False), ("burst_rate_hz", math.nan, False), ("burst_rate_hz", "fast", False),
    ("firing_decimation", 0, False), ("firing_decimation", 10, True), ("inhibition", "clamped", True),
    ("inhibition", "divisive", False), ("max_linear", True, False),
])
def test_check_value(name: str, value: object, ok: bool) -> None:
    why = check_value(BY_NAME[name], value)
    assert (why is None) == ok, why
    if not ok:
        assert name in why


def test_readme_documents_every_parameter() -> None:
    text = README.read_text()
    missing = [p.name for p in PARAMS if f"`{p.name}`" not in text]
    missing += [f"sensors.<name>.{p.name}" for p in SENSOR_PARAMS
                if f"`sensors.<name>.{p.name}`" not in text]
    missing += [f"outputs.<name>.{p.name}" for p in OUTPUT_PARAMS
                if f"`outputs.<name>.{p.name}`" not in text]
    assert not missing, f"README.md does not document: {missing}"


def test_readme_tables_are_generated_from_this_table() -> None:
    # README.md is regenerated with `python -m feagi_hailo_ros.ros.params`.
    text = README.read_text()
    for table in readme_tables():
        assert table in text, f"README.md is out of date; regenerate this table:\n{table}"


def _defining_constants() -> dict[str, tuple[str, ...]]:
    """Each choice parameter -> the allowed values as the code it configures checks them."""
    from feagi_hailo_ros.engine.accel.hailo_integrator import ON_ERROR
    from feagi_hailo_ros.engine.core.backend import INHIBITION_MODES
    from feagi_hailo_ros.engine.genome.builder import LEGACY_LEAK_MODES
    from feagi_hailo_ros.ros.accelerators import PARAMETER_ACCELERATORS
    from feagi_hailo_ros.ros.bindings import SENSOR_TYPES
    from feagi_hailo_ros.ros.outputs import OUTPUT_TYPES, STOP_MODES

    return {
        "inhibition": tuple(INHIBITION_MODES),
        "hailo_on_error": tuple(ON_ERROR),
        # hailo is selected by use_hailo (it needs a manifest), every other integrator by name.
        "accelerator": PARAMETER_ACCELERATORS,
        "sensors.<name>.type": tuple(SENSOR_TYPES),
        "legacy_leak": tuple(LEGACY_LEAK_MODES),
        "outputs.<name>.type": tuple(OUTPUT_TYPES),
        "outputs.<name>.stop_mode": STOP_MODES,
    }


def test_choices_are_read_from_their_defining_constants() -> None:
    specs = ({p.name: p for p in PARAMS} | {f"sensors.<name>.{p.name}": p for p in SENSOR_PARAMS}
             | {f"outputs.<name>.{p.name}": p for p in OUTPUT_PARAMS})
    constants = _defining_constants()
    # A new choice parameter must be added to _defining_constants, not written out as strings.
    assert {name for name, spec in specs.items() if spec.choices} == set(constants)
    for name, values in constants.items():
        assert specs[name].choices == values, name
        assert specs[name].default in values, name
        for value in values:
            assert check_value(specs[name], value) is None
        assert check_value(specs[name], "not-a-choice") is not None


def test_choice_descriptions_name_every_value() -> None:
    # The prose explains each value, so a value added to the constant must be explained too;
    # the sensor types are explained by their own generated table instead.
    for spec in PARAMS:
        for value in spec.choices:
            assert value in spec.description, (spec.name, value)


def test_node_subscribes_the_message_each_sensor_type_names() -> None:
    pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
    from feagi_hailo_ros.ros.bindings import SENSOR_TYPES
    from feagi_hailo_ros.ros.node import _MSG_TYPES

    assert set(_MSG_TYPES) == set(SENSOR_TYPES)
    for kind, (type_name, _) in SENSOR_TYPES.items():
        cls = _MSG_TYPES[kind]
        package, _, name = type_name.split("/")
        assert (cls.__module__.split(".")[0], cls.__name__) == (package, name), kind


def test_node_publishes_the_message_each_output_type_names() -> None:
    pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
    from feagi_hailo_ros.ros.node import _OUTPUT_MSG_TYPES
    from feagi_hailo_ros.ros.outputs import OUTPUT_TYPES

    assert set(_OUTPUT_MSG_TYPES) == set(OUTPUT_TYPES)
    for kind, (type_name, _) in OUTPUT_TYPES.items():
        cls = _OUTPUT_MSG_TYPES[kind]
        package, _, name = type_name.split("/")
        assert (cls.__module__.split(".")[0], cls.__name__) == (package, name), kind
