"""Finding and loading libhailort: search order, environment variable, messages, version refusal."""

from __future__ import annotations

import ctypes.util
import shutil
from pathlib import Path

import pytest

from feagi_hailo_ros.hailo import HailoRT
from feagi_hailo_ros.hailo.library import (
    ENV_VAR,
    HailoRTNotFound,
    HailoRTVersionError,
    Version,
    load_libhailort,
    system_candidates,
)

NO_ENV: dict[str, str] = {}


def _install(standin_libs: dict[str, Path], version: str, directory: Path, name: str | None = None) -> Path:
    """Copy a stand-in into a fake system directory (copies: each is a distinct file to dlopen)."""
    directory.mkdir(parents=True, exist_ok=True)
    src = standin_libs[version]
    dst = directory / (name or src.name)
    shutil.copy2(src, dst)
    return dst


def test_explicit_path_and_runtime_version(standin_libs: dict[str, Path]) -> None:
    """An explicit path loads, and the version comes from hailo_get_library_version."""
    lib = load_libhailort(standin_libs["4.19"], environ=NO_ENV)
    assert lib.version == Version(4, 19, 0) and lib.path == str(standin_libs["4.19"])
    assert lib.version.supported and str(lib.version) == "4.19.0"


def test_explicit_path_wins_over_environment(standin_libs: dict[str, Path]) -> None:
    """lib_path beats $FEAGI_HAILO_LIBHAILORT, which beats the system search."""
    env = {ENV_VAR: str(standin_libs["4.23"])}
    assert load_libhailort(standin_libs["4.19"], environ=env).version.minor == 19
    assert load_libhailort(None, environ=env, search_dirs=[], find_library=None).version.minor == 23


def test_environment_wins_over_system(standin_libs: dict[str, Path], tmp_path: Path) -> None:
    """$FEAGI_HAILO_LIBHAILORT is used even when a system copy exists."""
    system = tmp_path / "usr_lib"
    _install(standin_libs, "4.19", system, "libhailort.so")
    env = {ENV_VAR: str(standin_libs["4.23"])}
    lib = load_libhailort(environ=env, search_dirs=[str(system)], find_library=None)
    assert lib.version.minor == 23


def test_bad_explicit_choice_is_not_replaced_by_a_system_copy(standin_libs: dict[str, Path],
                                                              tmp_path: Path) -> None:
    """An explicit library that cannot be loaded is an error naming it; the system is not searched."""
    system = tmp_path / "usr_lib"
    _install(standin_libs, "4.23", system, "libhailort.so")
    env = {ENV_VAR: str(tmp_path / "missing.so")}
    with pytest.raises(HailoRTNotFound) as info:
        load_libhailort(environ=env, search_dirs=[str(system)], find_library=None)
    text = str(info.value)
    assert f"${ENV_VAR}: {tmp_path / 'missing.so'}" in text
    assert str(system) not in text  # the system was not searched
    with pytest.raises(HailoRTNotFound, match="given library path"):
        load_libhailort(tmp_path / "missing.so", environ=NO_ENV, search_dirs=[str(system)])


def test_system_search_order(standin_libs: dict[str, Path], tmp_path: Path) -> None:
    """Directory by directory: libhailort.so, then libhailort.so.4.* newest first."""
    first, second = tmp_path / "a", tmp_path / "b"
    v19 = _install(standin_libs, "4.19", first)  # libhailort.so.4.19.0
    v23 = _install(standin_libs, "4.23", first)  # libhailort.so.4.23.0
    plain = _install(standin_libs, "4.19", second, "libhailort.so")
    found = [c.path for c in system_candidates([str(first), str(second)], find_library=None)]
    assert found == [str(v23), str(v19), str(plain)]  # newest versioned name first, dir by dir
    lib = load_libhailort(environ=NO_ENV, search_dirs=[str(first), str(second)], find_library=None)
    assert lib.path == str(v23)
    # the unversioned name comes before versioned ones in the same directory
    unversioned = _install(standin_libs, "4.19", first, "libhailort.so")
    lib = load_libhailort(environ=NO_ENV, search_dirs=[str(first)], find_library=None)
    assert lib.path == str(unversioned)


def test_find_library_result_comes_first(standin_libs: dict[str, Path], tmp_path: Path) -> None:
    """The dynamic linker's answer for 'hailort' is tried before the directories."""
    system = tmp_path / "lib"
    _install(standin_libs, "4.19", system, "libhailort.so")
    asked: list[str] = []

    def fake_find_library(name: str) -> str:
        asked.append(name)
        return str(standin_libs["4.23"])

    lib = load_libhailort(environ=NO_ENV, search_dirs=[str(system)], find_library=fake_find_library)
    assert asked == ["hailort"] and lib.version.minor == 23


def test_missing_library_message(tmp_path: Path) -> None:
    """The not-found message is one short line; its `help` lists every place searched and how
    to install HailoRT (shown once by the caller, not appended to every log line)."""
    dirs = [str(tmp_path / "x86"), str(tmp_path / "arm")]
    with pytest.raises(HailoRTNotFound) as info:
        load_libhailort(environ=NO_ENV, search_dirs=dirs, find_library=lambda name: None)
    short = str(info.value)
    assert "\n" not in short and len(short) < 120 and "hailo-all" not in short
    assert short == "libhailort (HailoRT) was not found (3 places searched)"
    text = info.value.help
    for d in dirs:
        assert f"{d}/libhailort.so, {d}/libhailort.so.4.*" in text
    assert "ctypes.util.find_library('hailort')" in text
    assert "sudo apt install hailo-all" in text
    assert "hailort_4.x_amd64.deb" in text and "hailort_4.x_arm64.deb" in text
    assert ENV_VAR in text and len(info.value.searched) == 3


def test_default_system_dirs_are_named_when_nothing_is_installed() -> None:
    """With no libhailort installed, the default system directories appear in the message."""
    if ctypes.util.find_library("hailort"):
        pytest.skip("a real libhailort is installed on this machine")
    with pytest.raises(HailoRTNotFound) as info:
        HailoRT(environ=NO_ENV)
    text = info.value.help
    for d in ("/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/local/lib"):
        assert f"{d}/libhailort.so" in text


def test_not_a_library(tmp_path: Path) -> None:
    """A file that is not a shared library is HailoRTNotFound naming the file."""
    junk = tmp_path / "libhailort.so"
    junk.write_bytes(b"not an ELF file")
    with pytest.raises(HailoRTNotFound) as info:
        load_libhailort(junk, environ=NO_ENV)
    assert str(junk) in str(info.value)


def _foreign_library(directory: Path) -> Path:
    """A real, loadable shared library without the HailoRT ABI, named libhailort.so."""
    import _ctypes  # a C extension module: an ELF shared object that loads in this process

    directory.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(_ctypes.__file__, directory / "libhailort.so"))


def test_a_shared_library_that_is_not_hailort(tmp_path: Path) -> None:
    """A loadable library without hailo_get_library_version is refused as 'not libhailort'."""
    foreign = _foreign_library(tmp_path)
    with pytest.raises(HailoRTNotFound, match="not libhailort"):
        load_libhailort(foreign, environ=NO_ENV)


def test_system_search_skips_a_foreign_library(standin_libs: dict[str, Path], tmp_path: Path) -> None:
    """The system search passes over a foreign libhailort.so to a real one further on."""
    first, second = tmp_path / "a", tmp_path / "b"
    _foreign_library(first)
    good = _install(standin_libs, "4.19", second, "libhailort.so")
    lib = load_libhailort(environ=NO_ENV, search_dirs=[str(first), str(second)], find_library=None)
    assert lib.path == str(good)
    with pytest.raises(HailoRTNotFound, match="no hailo_get_library_version"):
        load_libhailort(environ=NO_ENV, search_dirs=[str(first)], find_library=None)


@pytest.mark.parametrize("version", ["4.16", "5.0"])
def test_unsupported_versions_are_refused(standin_libs: dict[str, Path], version: str) -> None:
    """4.16 and 5.0 raise HailoRTVersionError (path, version); check_version=False still reads the version."""
    with pytest.raises(HailoRTVersionError) as info:
        HailoRT(standin_libs[version])
    text = str(info.value)
    assert f"HailoRT {version}.0" in text and "4.17 to 4.23" in text
    assert "hailo-all" not in text and "hailo-all" in info.value.help  # the long help apart
    assert info.value.found == Version(*map(int, (version + ".0").split(".")))
    assert info.value.path == str(standin_libs[version])
    # but the version can still be read for a report
    assert load_libhailort(standin_libs[version], check_version=False).version.major_minor == \
        tuple(map(int, version.split(".")))


def test_system_search_skips_an_unsupported_copy(standin_libs: dict[str, Path], tmp_path: Path) -> None:
    """An old copy earlier in the search does not hide a supported one; alone it is refused."""
    old, new = tmp_path / "usr_lib", tmp_path / "usr_local_lib"
    _install(standin_libs, "4.16", old, "libhailort.so")
    good = _install(standin_libs, "4.23", new, "libhailort.so")
    lib = load_libhailort(environ=NO_ENV, search_dirs=[str(old), str(new)], find_library=None)
    assert lib.path == str(good)
    with pytest.raises(HailoRTVersionError, match="4.16.0"):
        load_libhailort(environ=NO_ENV, search_dirs=[str(old)], find_library=None)


def test_version_ordering_and_bounds() -> None:
    """Version.supported is 4.17..4.23 (any revision) and versions order like tuples."""
    assert Version(4, 17, 0).supported and Version(4, 23, 9).supported
    assert not Version(4, 16, 5).supported and not Version(5, 0, 0).supported
    assert not Version(3, 99, 0).supported
    assert Version(4, 19, 1) < Version(4, 20, 0)
