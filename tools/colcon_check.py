#!/usr/bin/env python3
"""Check the path robots take: `colcon build` of the whole workspace, then the installed tree.

Run with the venv's python. Builds into a temporary directory (nothing is left
in the repo) and fails unless the install space holds every executable that
setup.py declares under lib/feagi_hailo_ros/, and the launch and config files
under share/feagi_hailo_ros/.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "feagi_hailo_ros"


def declared_executables() -> list[str]:
    """Console-script names from setup.py, read statically (setup.py is not run)."""
    tree = ast.parse((PKG / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "ENTRY_POINTS" for t in node.targets):
            scripts = ast.literal_eval(node.value)["console_scripts"]
            return [s.split("=")[0].strip() for s in scripts]
    raise SystemExit("setup.py has no ENTRY_POINTS assignment")


def expected_files(install: Path) -> list[Path]:
    share = install / "feagi_hailo_ros" / "share" / "feagi_hailo_ros"
    lib = install / "feagi_hailo_ros" / "lib" / "feagi_hailo_ros"
    files = [lib / name for name in declared_executables()]
    files += [share / "package.xml"]
    files += [share / "launch" / p.name for p in (PKG / "launch").glob("*.launch.py")]
    files += [share / "config" / p.name for p in (PKG / "config").glob("*.yaml")]
    files += [install / "feagi_hailo_msgs" / "share" / "feagi_hailo_msgs" / "package.xml"]
    return files


def main() -> int:
    prefix = Path(sys.prefix)
    colcon = prefix / "bin" / "colcon"
    env = dict(os.environ)
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["AMENT_PREFIX_PATH"] = str(prefix)
    env["CMAKE_PREFIX_PATH"] = str(prefix)
    with tempfile.TemporaryDirectory(prefix="feagi_colcon_") as tmp:
        tmp_path = Path(tmp)
        cmd = [str(colcon), "--log-base", str(tmp_path / "log"), "build",
               "--base-paths", str(REPO / "feagi_hailo_ros"), str(REPO / "feagi_hailo_msgs"),
               "--build-base", str(tmp_path / "build"), "--install-base", str(tmp_path / "install"),
               "--event-handlers", "console_direct-", "summary+",
               "--cmake-args", "-DBUILD_TESTING=OFF", f"-DPython3_EXECUTABLE={prefix / 'bin' / 'python3'}"]
        print("+", " ".join(cmd), flush=True)
        result = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
            print("colcon build FAILED", file=sys.stderr)
            return 1
        missing = [p for p in expected_files(tmp_path / "install") if not p.exists()]
        for p in missing:
            print(f"missing from install space: {p.relative_to(tmp_path)}", file=sys.stderr)
        if missing:
            return 1
        print(f"colcon build OK: {len(expected_files(tmp_path / 'install'))} expected files installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
