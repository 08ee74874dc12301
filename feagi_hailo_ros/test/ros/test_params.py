"""The node's parameter table: limits enforced, and every parameter documented in README.md."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from feagi_hailo_ros.ros.params import BY_NAME, PARAMS, SENSOR_PARAMS, check_value

README = Path(__file__).resolve().parents[3] / "README.md"


def test_names_are_unique_and_defaults_valid() -> None:
    assert len(BY_NAME) == len(PARAMS)
    for spec in (*PARAMS, *SENSOR_PARAMS):
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
    assert not missing, f"README.md does not document: {missing}"
