"""ensure_logger_path / default_log_dir: where libhailort's hailort.log goes (logpath.py)."""

from __future__ import annotations

from pathlib import Path

from feagi_hailo_ros.hailo import default_log_dir, ensure_logger_path


def test_sets_and_creates_the_default_dir(tmp_path: Path) -> None:
    """Unset: the directory is created (with parents) and named, absolute."""
    env: dict[str, str] = {}
    target = tmp_path / "a" / "b"
    assert ensure_logger_path(target, env) == str(target)
    assert env == {"HAILORT_LOGGER_PATH": str(target)} and target.is_dir()


def test_user_value_is_kept(tmp_path: Path) -> None:
    """A directory or NONE the user set is returned unchanged and nothing is created."""
    for value in ("NONE", str(tmp_path / "mine")):
        env = {"HAILORT_LOGGER_PATH": value}
        assert ensure_logger_path(tmp_path / "ours", env) == value
        assert env == {"HAILORT_LOGGER_PATH": value}
    assert not (tmp_path / "ours").exists()


def test_empty_value_counts_as_unset(tmp_path: Path) -> None:
    """An empty HAILORT_LOGGER_PATH means the current directory to the library: replaced."""
    env = {"HAILORT_LOGGER_PATH": ""}
    assert ensure_logger_path(tmp_path / "d", env) == str(tmp_path / "d")


def test_uncreatable_dir_changes_nothing(tmp_path: Path) -> None:
    """A path that cannot be a directory (a file is in the way) gives None and leaves the
    variable unset."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env: dict[str, str] = {}
    assert ensure_logger_path(blocker / "sub", env) is None and env == {}


def test_relative_dir_is_made_absolute(tmp_path: Path, monkeypatch) -> None:
    """The library resolves a relative path against its own cwd: the binding stores it absolute."""
    monkeypatch.chdir(tmp_path)
    env: dict[str, str] = {}
    assert ensure_logger_path("rel", env) == str(tmp_path / "rel")


def test_default_log_dir_follows_ros() -> None:
    """$ROS_LOG_DIR, else $ROS_HOME/log, else ~/.ros/log (rcl_logging's rule), ~ expanded."""
    assert default_log_dir({"ROS_LOG_DIR": "/l", "ROS_HOME": "/h"}) == Path("/l")
    assert default_log_dir({"ROS_HOME": "/h"}) == Path("/h/log")
    assert default_log_dir({}) == Path.home() / ".ros" / "log"
    assert default_log_dir({"ROS_LOG_DIR": "~/x"}) == Path.home() / "x"
