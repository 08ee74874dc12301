"""Fixtures: the libhailort stand-in, compiled once per test session for each HailoRT version.

4.19 and 4.23 exercise both `hailo_vstream_info_t` layouts (432 and 436 bytes); 4.16 and 5.0 are
versions the binding must refuse. Each build lives in its own directory, named like a real install
(`libhailort.so.4.23.0`), so the library-search tests can point at directories.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from feagi_hailo_ros.hailo import HailoRT

from .standin.build import StandinBuildError, build_standin

SUPPORTED = ("4.19", "4.23")
UNSUPPORTED = ("4.16", "5.0")
_VERSIONS = {"4.16": (4, 16, 0), "4.19": (4, 19, 0), "4.23": (4, 23, 0), "5.0": (5, 0, 0)}


@pytest.fixture(scope="session")
def standin_libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """version ("4.16", "4.19", "4.23", "5.0") -> path of the built stand-in; fails the session
    (rather than skipping) when it cannot be compiled."""
    root = tmp_path_factory.mktemp("libhailort_standin")
    try:
        return {v: build_standin(root / v.replace(".", "_"), *parts) for v, parts in _VERSIONS.items()}
    except StandinBuildError as exc:  # a broken stand-in must fail loudly, not skip
        pytest.fail(f"cannot build the libhailort stand-in:\n{exc}")


class Standin:
    """The stand-in's test probes (standin_* exports) for one built library."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lib = ctypes.CDLL(str(path))  # same handle as HailoRT's dlopen of this path
        for name in ("standin_live_objects", "standin_misuse_count", "standin_order_violations"):
            getattr(self.lib, name).restype = ctypes.c_long
        self.lib.standin_layout.restype = ctypes.c_long
        self.lib.standin_layout.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        self.lib.standin_event_log.restype = ctypes.c_size_t
        self.lib.standin_event_log.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self.allowed_misuse = 0  # tests that misuse the C API on purpose raise this

    def live(self) -> int:
        """Objects (vdevices, HEFs, vstreams, ...) the library has created and not released."""
        return int(self.lib.standin_live_objects())

    def misuse(self) -> int:
        """Calls that passed an unknown or already released handle, since the library loaded."""
        return int(self.lib.standin_misuse_count())

    def order_violations(self) -> int:
        """Times a vdevice was released while vstreams created under it were still alive."""
        return int(self.lib.standin_order_violations())

    def layout(self, struct: str, field: str | None = None) -> int:
        """The C compiler's `sizeof(struct)`, or `offsetof(struct, field)`; -1 when unknown."""
        return int(self.lib.standin_layout(struct.encode(), field.encode() if field else None))

    def events(self) -> list[str]:
        """The library's event log (vdevice/HEF/vstream creations and releases, configures),
        oldest first."""
        buf = ctypes.create_string_buffer(65536)
        self.lib.standin_event_log(buf, len(buf))
        return [e for e in buf.value.decode().split(";") if e]

    def clear_events(self) -> None:
        """Empty the event log."""
        self.lib.standin_clear_event_log()


@pytest.fixture(autouse=True)
def _hailort_log_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test starts without HAILORT_LOGGER_PATH and with a private ROS log directory, so a
    command that points libhailort's log somewhere (`ensure_logger_path`) neither leaks that
    into later tests nor creates ~/.ros/log; monkeypatch restores both afterwards."""
    monkeypatch.delenv("HAILORT_LOGGER_PATH", raising=False)
    monkeypatch.setenv("ROS_LOG_DIR", str(tmp_path / "ros_log"))
    return tmp_path / "ros_log"


@pytest.fixture(params=SUPPORTED)
def standin_version(request: pytest.FixtureRequest) -> str:
    """Each supported version in turn ("4.19", "4.23": both vstream-info layouts)."""
    return request.param


@pytest.fixture
def standin(standin_libs: dict[str, Path], standin_version: str) -> Iterator[Standin]:
    """Probe of the stand-in under test. On teardown every object the test created must have been
    released (explicitly or by the binding's finalizers), and the binding must never have passed
    a released handle or released a vdevice under live vstreams."""
    probe = Standin(standin_libs[standin_version])
    misuse0, order0 = probe.misuse(), probe.order_violations()
    probe.clear_events()
    yield probe
    gc.collect()
    assert probe.live() == 0, f"objects left alive: {probe.events()}"
    assert probe.misuse() - misuse0 == probe.allowed_misuse, "a released handle reached the library"
    assert probe.order_violations() == order0, "a vdevice was released under live vstreams"


@pytest.fixture
def rt(standin: Standin) -> HailoRT:
    """The binding loaded on the stand-in under test (explicit path, no search)."""
    return HailoRT(standin.path)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so random test data is the same on every run."""
    return np.random.default_rng(20240607)
