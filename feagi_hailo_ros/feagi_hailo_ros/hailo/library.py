"""Find and load libhailort, and refuse versions this binding does not speak.

Search order:

1. the explicit `lib_path` argument (e.g. `feagi-hailo hailort-info --lib PATH`);
2. the environment variable FEAGI_HAILO_LIBHAILORT;
3. the system: `ctypes.util.find_library("hailort")`, then in each of /usr/lib,
   /usr/lib/x86_64-linux-gnu, /usr/lib/aarch64-linux-gnu, /usr/local/lib: `libhailort.so`, then
   `libhailort.so.4.*` (newest first).

An explicit choice (1 or 2) that cannot be loaded is an error; it is never silently replaced by
another copy found on the system, because a robot running a different HailoRT than the one its
engineer pointed at is worse than one that stops with a clear message.

The C header has no version macro and struct layouts changed between releases
(`hailo_vstream_info_t` is 432 bytes up to 4.19, 436 from 4.20), so the version is read at run time
with `hailo_get_library_version` and only 4.17 through 4.23 (the Hailo-8/8L line, branch `hailo8`
of hailo-ai/hailort) are accepted. HailoRT 5.x (Hailo-10) does not support this C flow.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .status import check
from .structs import HailoVersion

ENV_VAR = "FEAGI_HAILO_LIBHAILORT"
SUPPORTED_MIN = (4, 17)
SUPPORTED_MAX = (4, 23)
SUPPORTED_TEXT = "4.17 to 4.23"
SYSTEM_DIRS: tuple[str, ...] = (
    "/usr/lib",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/local/lib",
)
INSTALL_HINT = (
    "Install HailoRT 4.17-4.23 for Hailo-8/8L: on Raspberry Pi OS `sudo apt install hailo-all`; "
    "elsewhere download Hailo's hailort_4.x_amd64.deb or hailort_4.x_arm64.deb from the Hailo "
    "Developer Zone and `sudo apt install ./hailort_4.x_<arch>.deb` (plus the matching "
    "hailort-pcie-driver package), or point --lib / " + ENV_VAR + " at libhailort.so."
)


class HailoRTUnavailable(RuntimeError):
    """libhailort cannot be used: base of HailoRTNotFound and HailoRTVersionError.

    `str(exc)` is one short line for logs and diagnostics values; `help` is the long text (what
    was searched, how to install HailoRT), meant to be shown once (the CLI prints it once on
    stderr, the node logs it once per process), never appended to every message.
    """

    help: str = ""


class HailoRTNotFound(HailoRTUnavailable):
    """No loadable libhailort. `searched` lists every place that was tried (also in `help`)."""

    def __init__(self, searched: Sequence[str], reason: str = "") -> None:
        self.searched = list(searched)
        self.reason = reason
        lines = ["Searched:"]
        lines += [f"  - {place}" for place in self.searched]
        lines.append(INSTALL_HINT)
        self.help = "\n".join(lines)
        where = (f"searched {self.searched[0]}" if len(self.searched) == 1
                 else f"{len(self.searched)} places searched")
        super().__init__("libhailort (HailoRT) was not found" + (f": {reason}" if reason else "")
                         + f" ({where})")


class HailoRTVersionError(HailoRTUnavailable):
    """libhailort was loaded but its version is outside 4.17..4.23 (`help`: how to install one
    that is supported)."""

    def __init__(self, path: str, found: Version) -> None:
        self.path = path
        self.found = found
        self.help = INSTALL_HINT
        super().__init__(
            f"{path} is HailoRT {found}; this binding supports HailoRT {SUPPORTED_TEXT} "
            "(the Hailo-8/8L C API; HailoRT 5.x is for Hailo-10)")


@dataclass(frozen=True, order=True)
class Version:
    """`hailo_version_t` (three uint32: major, minor, revision), ordered like a tuple."""

    major: int
    minor: int
    revision: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.revision}"

    @property
    def major_minor(self) -> tuple[int, int]:
        """`(major, minor)`, the key for layouts and status names."""
        return (self.major, self.minor)

    @property
    def supported(self) -> bool:
        """Whether this binding speaks this version: 4.17 through 4.23 (any revision)."""
        return SUPPORTED_MIN <= self.major_minor <= SUPPORTED_MAX


@dataclass(frozen=True)
class Candidate:
    """A place to try: `source` says why (shown in errors), `path` is handed to dlopen."""

    source: str
    path: str


def _soname_key(path: str) -> tuple[int, ...]:
    tail = re.findall(r"\d+", Path(path).name.split(".so", 1)[-1])
    return tuple(int(t) for t in tail)


def system_candidates(
    search_dirs: Sequence[str] = SYSTEM_DIRS,
    find_library: Callable[[str], str | None] | None = ctypes.util.find_library,
) -> list[Candidate]:
    """Where libhailort may be installed system-wide, in search order (existing files only, plus
    whatever the dynamic linker's cache names).

    First `find_library("hailort")` (skipped when `find_library` is None), then per directory of
    `search_dirs` `libhailort.so` and the `libhailort.so.4.*` files, newest soname first. Nothing
    is loaded here.
    """
    out: list[Candidate] = []
    if find_library is not None:
        name = find_library("hailort")
        if name:
            out.append(Candidate("ctypes.util.find_library('hailort')", name))
    for d in search_dirs:
        plain = os.path.join(d, "libhailort.so")
        if os.path.exists(plain):
            out.append(Candidate(f"{d}", plain))
        versioned = sorted(glob.glob(os.path.join(glob.escape(d), "libhailort.so.4.*")),
                           key=_soname_key, reverse=True)
        out += [Candidate(f"{d}", p) for p in versioned]
    return out


def searched_places(search_dirs: Sequence[str] = SYSTEM_DIRS) -> list[str]:
    """Human-readable list of what a system search looks at (for error messages)."""
    places = ["ctypes.util.find_library('hailort') (ldconfig cache)"]
    for d in search_dirs:
        places.append(f"{d}/libhailort.so, {d}/libhailort.so.4.*")
    return places


@dataclass
class LoadedLibrary:
    """A dlopen()ed libhailort with its path and run-time version."""

    cdll: ctypes.CDLL
    path: str
    version: Version


def _dlopen(path: str) -> ctypes.CDLL:
    return ctypes.CDLL(path)


def _read_version(lib: ctypes.CDLL, path: str) -> Version:
    try:
        fn = lib.hailo_get_library_version
    except AttributeError as exc:
        raise HailoRTNotFound([path], f"{path} has no hailo_get_library_version; not libhailort") from exc
    fn.argtypes = [ctypes.POINTER(HailoVersion)]
    fn.restype = ctypes.c_int
    v = HailoVersion()
    status = fn(ctypes.byref(v))
    check(status, "hailo_get_library_version")
    return Version(v.major, v.minor, v.revision)


def load_libhailort(
    lib_path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    search_dirs: Sequence[str] = SYSTEM_DIRS,
    find_library: Callable[[str], str | None] | None = ctypes.util.find_library,
    check_version: bool = True,
) -> LoadedLibrary:
    """Locate, dlopen and version-check libhailort (see the module docstring for the order).

    Raises HailoRTNotFound (nothing loadable, message lists every place tried and how to install
    HailoRT) or HailoRTVersionError (loaded, but not 4.17..4.23). check_version=False returns an
    unsupported library too, only to report its version: do not call anything else on it.
    `environ` replaces `os.environ` and `search_dirs`/`find_library` the system search (tests).
    An explicit library (`lib_path` or $FEAGI_HAILO_LIBHAILORT) is the only candidate; a system
    search takes the first supported copy. Also raises HailoRTError if
    `hailo_get_library_version` itself fails.
    """
    env = os.environ if environ is None else environ
    if lib_path is not None:
        explicit: Candidate | None = Candidate("given library path", os.fspath(lib_path))
    elif env.get(ENV_VAR):
        explicit = Candidate(f"${ENV_VAR}", env[ENV_VAR])
    else:
        explicit = None

    if explicit is not None:
        candidates = [explicit]
        searched = [f"{explicit.source}: {explicit.path}"]
    else:
        candidates = system_candidates(search_dirs, find_library)
        searched = searched_places(search_dirs)

    errors: list[str] = []
    refused: HailoRTVersionError | None = None
    for cand in candidates:
        try:
            lib = _dlopen(cand.path)
            version = _read_version(lib, cand.path)
        except (OSError, HailoRTNotFound) as exc:
            if isinstance(exc, HailoRTNotFound) and explicit is not None:
                raise
            why = exc.args[0] if isinstance(exc, OSError) else exc.reason
            # dlopen's message starts with the path already.
            errors.append(why if str(why).startswith(cand.path) else f"{cand.path}: {why}")
            continue
        if check_version and not version.supported:
            # A system search keeps looking (an old copy in /usr/lib must not hide a good one in
            # /usr/local/lib); the first refusal is reported if nothing better turns up.
            refused = refused or HailoRTVersionError(cand.path, version)
            if explicit is not None:
                break
            continue
        return LoadedLibrary(lib, cand.path, version)
    if refused is not None:
        raise refused
    raise HailoRTNotFound(searched, "; ".join(errors))
