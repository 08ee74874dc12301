"""README, Tests: a hung test prints every thread's stack and ends the run instead of running CI
into its time limit with nothing to show (one did: a run stopped after 90 minutes at 84 %)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_suite_runs_with_a_per_test_timeout_and_stack_dumps(request) -> None:
    # The file's values, not this run's (a developer may shorten them with -o).
    assert request.config.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed"
    ini = configparser.ConfigParser()
    ini.read(REPO / "pytest.ini")
    assert float(ini["pytest"]["timeout"]) == 900.0
    assert ini["pytest"]["timeout_method"] == "thread"
    assert float(ini["pytest"]["faulthandler_timeout"]) == 300.0


def test_a_hung_test_prints_its_stack_and_ends_the_run(tmp_path: Path) -> None:
    # The repository's pytest.ini, with its limits shortened: the run must end, failed, with
    # the stack of the waiting line printed.
    (tmp_path / "test_hangs.py").write_text(
        "import threading\n\n\n"
        "def test_waits_forever():\n"
        "    threading.Event().wait()  # the line a stack dump must show\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "-o", "timeout=3",
         "-o", "faulthandler_timeout=1", str(tmp_path / "test_hangs.py")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Timeout" in out
    assert "threading.Event().wait()  # the line a stack dump must show" in out


def test_a_hung_test_gets_its_native_stacks_printed_first(tmp_path: Path) -> None:
    # A deadlock inside C (the middleware) shows in Python's dump only as the call into C;
    # the workspace conftest prints gdb's native stacks of every thread before the timeout.
    shutil.copy(REPO / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_hangs.py").write_text(
        "import threading\n\n\n"
        "def test_waits_forever():\n"
        "    threading.Event().wait()\n")
    env = dict(os.environ, FEAGI_TEST_NATIVE_DUMP_S="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "-o", "timeout=8",
         "-o", "faulthandler_timeout=100", str(tmp_path / "test_hangs.py")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "test_hangs.py::test_waits_forever still running after 1 s: native stacks" in out
    if shutil.which("gdb") is None:
        assert "(gdb is not installed)" in out
    else:
        assert "Thread 1 " in out and "#0 " in out  # gdb's backtrace of the main thread
