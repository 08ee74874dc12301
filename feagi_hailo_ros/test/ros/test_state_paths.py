"""Checkpoint paths: resolved against state_dir, and a save never creates a directory a
request names (a typo is refused, nothing written); only state_dir itself is created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feagi_hailo_ros.ros.state_paths import StatePathError, prepare_save, resolve


def test_relative_paths_resolve_against_state_dir_normalized(tmp_path: Path) -> None:
    base = tmp_path / "states"
    assert resolve("s.npz", str(base)) == str(base / "s.npz")
    assert resolve("./run1//s.npz", str(base)) == str(base / "run1" / "s.npz")
    # `..` is allowed (absolute paths are too) and shown where it leads.
    assert resolve("../other/s.npz", str(base)) == str(tmp_path / "other" / "s.npz")
    assert resolve(str(tmp_path / "a" / ".." / "abs.npz"), str(base)) == str(tmp_path / "abs.npz")
    assert resolve("~/x.npz", str(base)) == os.path.expanduser("~/x.npz")


@pytest.mark.parametrize("path", ["", "  ", "run1/", "/tmp/"])
def test_empty_paths_and_directory_names_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(StatePathError, match="give a file name"):
        resolve(path, str(tmp_path))


def test_a_missing_directory_named_in_the_request_is_refused_and_not_created(
        tmp_path: Path) -> None:
    base = tmp_path / "states"
    base.mkdir()
    # Absolute paths under tmp_path only: a broken build must not leave /nonexistent behind.
    for path, missing in ((str(tmp_path / "typo" / "dir" / "x"), str(tmp_path / "typo" / "dir")),
                          ("run1/x.npz", str(base / "run1"))):
        with pytest.raises(StatePathError) as caught:
            prepare_save(resolve(path, str(base)), str(base))
        assert f"directory {missing} does not exist; nothing saved" in str(caught.value)
        assert f"state_dir {base}" in str(caught.value)
        assert not os.path.exists(missing) and not (tmp_path / "typo").exists()


def test_state_dir_itself_is_created_when_missing(tmp_path: Path) -> None:
    base = tmp_path / "states"
    prepare_save(resolve("s.npz", str(base)), str(base))
    assert base.is_dir() and not any(base.iterdir())
    # ...but not its parents' siblings: a subdirectory below it must exist.
    with pytest.raises(StatePathError):
        prepare_save(resolve("deeper/s.npz", str(tmp_path / "other")), str(tmp_path / "other"))
    assert not (tmp_path / "other").exists()


def test_existing_directories_are_accepted_and_a_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "run1").mkdir()
    prepare_save(resolve("run1/s.npz", str(tmp_path)), str(tmp_path))
    with pytest.raises(StatePathError, match="is a directory"):
        prepare_save(resolve("run1", str(tmp_path)), str(tmp_path))
