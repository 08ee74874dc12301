"""Engine tests: this folder holds the shared test helpers (``strategies``, ``genome_factory``,
``hailo_partitions``); pytest puts a conftest's folder on ``sys.path``, so the tests in
``genome/``, ``core/`` and ``accel/`` import them by name."""

from pathlib import Path

import pytest
from hailo_partitions import SUPPORTED_HAILORT, standin_build


@pytest.fixture(scope="session")
def standin_libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """version -> the libhailort stand-in built as that supported version (once per session;
    the `standin` fixture of test/hailo/conftest.py and the integrator tests use it)."""
    root = tmp_path_factory.mktemp("engine_standin")
    try:
        return {v: standin_build.build_standin(root / v.replace(".", "_"), *map(int, v.split(".")))
                for v in SUPPORTED_HAILORT}  # fmt: skip
    except standin_build.StandinBuildError as exc:
        pytest.fail(f"cannot build the libhailort stand-in:\n{exc}")
