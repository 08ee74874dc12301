"""Compile the libhailort stand-in for a given HailoRT version.

Used by the pytest session fixture in ../conftest.py, and by hand to try the binding or the
`hailort-info` command without a device::

    python feagi_hailo_ros/test/hailo/standin/build.py /tmp/standin 4.23
    FEAGI_HAILO_LIBHAILORT=/tmp/standin/libhailort.so.4.23.0 feagi-hailo hailort-info
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("hailort_standin.c")


class StandinBuildError(RuntimeError):
    """The C compiler is missing or rejected the stand-in."""


def find_compiler() -> str:
    """$CC, else `cc`, else `gcc` on PATH; raises StandinBuildError when there is none."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise StandinBuildError("no C compiler found (set CC or install gcc)")
    return cc


def build_standin(out_dir: str | Path, major: int = 4, minor: int = 23, revision: int = 0) -> Path:
    """Build `libhailort.so.<major>.<minor>.<revision>` in `out_dir` and return its path.

    The file is named like a real HailoRT install so the library search code sees a realistic
    name. It is written under a temporary name and renamed, so a half-written file is never loaded.
    Extra compiler flags come from $HAILORT_STANDIN_CFLAGS, e.g. to run the suite under
    AddressSanitizer: HAILORT_STANDIN_CFLAGS="-fsanitize=address -g" with
    LD_PRELOAD=$(cc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0.
    Raises StandinBuildError when there is no compiler or the compilation fails (the message
    holds the command and the compiler's stderr).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"libhailort.so.{major}.{minor}.{revision}"
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    cmd = [
        find_compiler(), "-shared", "-fPIC", "-O2", "-std=gnu11", "-Wall", "-Wextra",
        "-fvisibility=hidden",  # export only the HailoRT ABI and the standin_* probes
        f"-DSTANDIN_VERSION_MAJOR={major}", f"-DSTANDIN_VERSION_MINOR={minor}",
        f"-DSTANDIN_VERSION_REVISION={revision}",
        *os.environ.get("HAILORT_STANDIN_CFLAGS", "").split(),
        "-o", str(tmp), str(SOURCE), "-lpthread", "-lm",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StandinBuildError(f"{' '.join(cmd)}\n{proc.stderr}")
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: `build.py OUT_DIR [MAJOR.MINOR[.REVISION]]`; prints the library's path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("version", nargs="?", default="4.23", help="MAJOR.MINOR[.REVISION]")
    args = parser.parse_args(argv)
    parts = [int(p) for p in args.version.split(".")] + [0]
    print(build_standin(args.out_dir, parts[0], parts[1], parts[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
