#!/usr/bin/env python3
"""Build the interface packages with plain CMake into a Python venv that holds the ROS 2 wheels.

Run it with the venv's own interpreter: ``.venv/bin/python tools/build_interfaces.py``.

Packages: ``feagi_hailo_msgs`` always; the ``tf2_msgs`` stand-in of ``tools/standins/``
(``TFMessage`` only, wire-identical) only when no real ``tf2_msgs`` is importable. tf2_msgs is
not on PyPI, but the simulated robot and the firing cloud publish ``/tf`` and ``/tf_static``,
and a node can only publish a type whose Python and C type support exist in its process. A
real tf2_msgs (a sourced ROS install, or a wheel) always wins: the stand-in is then neither
built nor rebuilt, and one already in the venv is shadowed by the sourced install's
PYTHONPATH. An installed stand-in is recognised by the marker in its description
(``STANDIN_MARK``), which a real package.xml installed over it would not carry.

Two steps:

1. Repair the ROS wheels' exported ``*__rosidl_generator_py`` CMake targets. The
   wheels were built on another host and hard-code that host's Python and numpy
   include directories, so any interface package depending on ``std_msgs`` fails
   to compile its Python extension until those paths point at this venv's own
   (DESIGN §3). The rewrite is idempotent and touches only paths that do not exist.
2. Configure, build and install each interface package into the venv prefix, so
   ``import feagi_hailo_msgs.msg`` works without sourcing anything.

A stamp per package holding a hash of its sources and of this script makes a
second run a no-op.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "feagi_hailo_msgs"
TF2_MSGS_STANDIN = REPO / "tools" / "standins" / "tf2_msgs"
#: In the stand-in's package.xml description, so an installed stand-in can be told from a real one.
STANDIN_MARK = "feagi_hailo_ros stand-in"
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


def tf2_msgs_origin(prefix: Path) -> str:
    """Which tf2_msgs this interpreter imports: ``"real"``, ``"standin"`` or ``"absent"``.

    ``"standin"`` only when the module found lies under ``prefix`` and the package.xml installed
    there carries :data:`STANDIN_MARK`; any other importable tf2_msgs (a sourced ROS install,
    a wheel) is ``"real"``, and this script then leaves it alone.
    """
    spec = importlib.util.find_spec("tf2_msgs")
    if spec is None:
        return "absent"
    origin = Path(spec.origin or next(iter(spec.submodule_search_locations or []), ""))
    manifest = prefix / "share" / "tf2_msgs" / "package.xml"
    ours = (origin.resolve().is_relative_to(prefix.resolve()) and manifest.is_file()
            and STANDIN_MARK in manifest.read_text())
    return "standin" if ours else "real"


def _sources_digest(package: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(package)).encode())
            h.update(path.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()


def build(package: Path, prefix: Path, build_dir: Path, jobs: int) -> None:
    python = str(prefix / "bin" / "python3")
    env = dict(os.environ)
    # The venv's bin first, so CMake's find_program sees the rosidl CLI and the venv python.
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["AMENT_PREFIX_PATH"] = str(prefix)
    cmake = shutil.which("cmake")
    if cmake is None:
        raise SystemExit("cmake not found: install it (Debian: apt-get install cmake)")
    name = package.name
    configure = [
        cmake, "-S", str(package), "-B", str(build_dir),
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
            print(f"{name}: {step}", flush=True)
            log.write("+ " + " ".join(cmd) + "\n")
            log.flush()
            result = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                log.close()
                tail = log_path.read_text().splitlines()[-40:]
                print("\n".join(tail), file=sys.stderr)
                raise SystemExit(f"{name}: {step} failed (exit {result.returncode}); "
                                 f"full log: {log_path}")


def packages_to_build(prefix: Path) -> list[Path]:
    """Source directories of the interface packages this venv needs, in build order."""
    packages = [PACKAGE]
    origin = tf2_msgs_origin(prefix)
    if origin == "real":
        print("tf2_msgs: a real one is importable; the stand-in is not built")
    else:
        packages.append(TF2_MSGS_STANDIN)
    return packages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-base", type=Path, default=REPO / "build",
                        help="each package builds in BUILD_BASE/<package> (CMake log: build.log)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamps are current")
    parser.add_argument("--packages-select", nargs="+", metavar="NAME",
                        help="build only these of the packages this venv needs (as colcon's option)")
    args = parser.parse_args(argv)

    prefix = _venv_prefix()
    repaired = False
    for package in packages_to_build(prefix):
        name = package.name
        if args.packages_select and name not in args.packages_select:
            continue
        stamp = prefix / f".{name}.stamp"
        digest = _sources_digest(package)
        if not args.force and stamp.exists() and stamp.read_text().strip() == digest:
            print(f"{name}: up to date")
            continue
        if not repaired:
            fixed = repair_generator_py_targets(prefix)
            print(f"repaired include directories in {fixed} exported CMake file(s)")
            repaired = True
        build(package, prefix, args.build_base / name, args.jobs)
        stamp.write_text(digest + "\n")
        print(f"{name}: built and installed into", prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
