"""make_engine with the Hailo integrator: libhailort's log directory and the install help kept
apart from the short status (issue 12, hygiene). No rclpy: accelerators.py is plain Python."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.ros.accelerators import AcceleratorConfig, make_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from hailo_partitions import export  # noqa: E402  (test helper beside the engine tests)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    connectome, _ = load_brain("obstacle_avoidance")
    return export(tmp_path / "export", connectome, [1, 2, 3])


def test_log_dir_is_set_before_loading_and_help_kept_apart(manifest: Path, tmp_path: Path,
                                                           monkeypatch) -> None:
    """Without HAILORT_LOGGER_PATH, make_engine points it at hailort_log_dir before the
    library is looked for; a missing library gives a one-line status and the long help apart."""
    monkeypatch.delenv("HAILORT_LOGGER_PATH", raising=False)
    log_dir = tmp_path / "ros_log"
    connectome, _ = load_brain("obstacle_avoidance")
    config = AcceleratorConfig(accelerator="hailo", hailo_manifest=str(manifest),
                               hailo_library=str(tmp_path / "no" / "libhailort.so"),
                               hailort_log_dir=str(log_dir))
    with pytest.warns(RuntimeWarning):
        choice = make_engine(connectome, config)
    try:
        assert os.environ["HAILORT_LOGGER_PATH"] == str(log_dir) and log_dir.is_dir()
        assert choice.status.startswith("hailo unavailable") and "\n" not in choice.status
        assert "Install HailoRT" not in choice.status and "Install HailoRT" in choice.help
    finally:
        choice.engine.close()


def test_user_logger_path_is_kept(manifest: Path, tmp_path: Path, monkeypatch) -> None:
    """A HAILORT_LOGGER_PATH the user set wins over the node's log directory."""
    monkeypatch.setenv("HAILORT_LOGGER_PATH", "NONE")
    connectome, _ = load_brain("obstacle_avoidance")
    config = AcceleratorConfig(accelerator="hailo", hailo_manifest=str(manifest),
                               hailo_library=str(tmp_path / "no.so"),
                               hailort_log_dir=str(tmp_path / "ros_log"))
    with pytest.warns(RuntimeWarning):
        choice = make_engine(connectome, config)
    choice.engine.close()
    assert os.environ["HAILORT_LOGGER_PATH"] == "NONE" and not (tmp_path / "ros_log").exists()
