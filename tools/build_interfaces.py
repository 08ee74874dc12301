#!/usr/bin/env python3
"""Build feagi_hailo_msgs with plain CMake into a Python venv that holds the ROS 2 wheels.

Run it with the venv's own interpreter: ``.venv/bin/python tools/build_interfaces.py``.

Two steps:

1. Repair the ROS wheels' exported ``*__rosidl_generator_py`` CMake targets. The
   wheels were built on another host and hard-code that host's Python and numpy
   include directories, so any interface package depending on ``std_msgs`` fails
   to compile its Python extension until those paths point at this venv's own
   (DESIGN §3). The rewrite is idempotent and touches only paths that do not exist.
2. Configure, build and install the interface package into the venv prefix, so
   ``import feagi_hailo_msgs.msg`` works without sourcing anything.

A stamp holding a hash of the interface sources and of this script makes a
second run a no-op.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "feagi_hailo_msgs"
_INCLUDE_RE = re.compile(r'(INTERFACE_INCLUDE_DIRECTORIES\s+")([^"]*)(")')


def _venv_prefix() -> Path:
    prefix = Path(sys.prefix)
    if prefix == Path(sys.base_prefix):
        raise SystemExit("build_interfaces.py must run with the venv's python (sys.prefix is the system)")
    return prefix


def _include_dirs() -> list[str]:
    import numpy

    return [sysconfig.get_paths()["include"], numpy.get_include()]


def repair_generator_py_targets(prefix: Path) -> int:
    """Point hard-coded foreign include directories at this interpreter's. Returns files changed."""
    changed = 0
    for path in sorted((prefix / "share").glob("*/cmake/*__rosidl_generator_py*Export*.cmake")):
        text = path.read_text()

        def fix(match: re.Match[str]) -> str:
            dirs = [d for d in match.group(2).split(";") if d]
            # Only absolute paths that are missing on this machine are foreign;
            # ${_IMPORT_PREFIX}-relative entries are left alone.
            if dirs and all(d.startswith("/") and not Path(d).exists() for d in dirs):
                return match.group(1) + ";".join(_include_dirs()) + match.group(3)
            return match.group(0)

        new = _INCLUDE_RE.sub(fix, text)
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


def _sources_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(PACKAGE)).encode())
            h.update(path.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def build(prefix: Path, build_dir: Path, jobs: int) -> None:
    python = str(prefix / "bin" / "python3")
    env = dict(os.environ)
    # The venv's bin first, so CMake's find_program sees the rosidl CLI and the venv python.
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["AMENT_PREFIX_PATH"] = str(prefix)
    cmake = shutil.which("cmake")
    if cmake is None:
        raise SystemExit("cmake not found: install it (Debian: apt-get install cmake)")
    configure = [
        cmake, "-S", str(PACKAGE), "-B", str(build_dir),
        f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_INSTALL_PREFIX={prefix}",
        f"-DPython3_EXECUTABLE={python}", "-DBUILD_TESTING=OFF", "-DCMAKE_BUILD_TYPE=Release",
    ]
    build_dir.mkdir(parents=True, exist_ok=True)
    log_path = build_dir / "build.log"
    # CMake's output goes to a log; the console gets one line per step, and the
    # log's tail when a step fails.
    with log_path.open("w") as log:
        for step, cmd in (("configure", configure),
                          ("build", [cmake, "--build", str(build_dir), "-j", str(jobs)]),
                          ("install", [cmake, "--install", str(build_dir)])):
            print(f"feagi_hailo_msgs: {step}", flush=True)
            log.write("+ " + " ".join(cmd) + "\n")
            log.flush()
            result = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                log.close()
                tail = log_path.read_text().splitlines()[-40:]
                print("\n".join(tail), file=sys.stderr)
                raise SystemExit(f"feagi_hailo_msgs: {step} failed (exit {result.returncode}); "
                                 f"full log: {log_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=REPO / "build" / "feagi_hailo_msgs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp is current")
    args = parser.parse_args(argv)

    prefix = _venv_prefix()
    stamp = prefix / ".feagi_hailo_msgs.stamp"
    digest = _sources_digest()
    if not args.force and stamp.exists() and stamp.read_text().strip() == digest:
        print("feagi_hailo_msgs: up to date")
        return 0
    fixed = repair_generator_py_targets(prefix)
    print(f"repaired include directories in {fixed} exported CMake file(s)")
    build(prefix, args.build_dir, args.jobs)
    stamp.write_text(digest + "\n")
    print("feagi_hailo_msgs: built and installed into", prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
