"""Where libhailort writes its log file: `HAILORT_LOGGER_PATH`, set before the library loads.

Facts (hailort/libhailort/src/utils/hailort_logger.cpp at v4.23.0, and DESIGN section 6): the
library's logger reads `HAILORT_LOGGER_PATH` once, when it is created, and writes `hailort.log`

* into that directory when it names one (creating the last path component if missing), or
  into the process's current directory when the variable is unset or empty;
* and in both cases also into `~/.hailo/hailort/hailort.log`; only the value `NONE` turns
  both files off.

A robot's current directory is wherever its launch happened to start, so an unset variable
scatters `hailort.log` files nobody finds. :func:`ensure_logger_path` points the variable at a
directory the user knows (the ROS log directory for the node, `--hailort-log-dir` for the CLI)
unless the user chose one. It must run before the library is loaded (dlopen), since the logger
may be created as soon as the library is; the environment is the process's, so later changes
do not move an existing logger.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

ENV_VAR = "HAILORT_LOGGER_PATH"


def default_log_dir(environ: MutableMapping[str, str] | None = None) -> Path:
    """The ROS 2 log directory by ROS's own rule, without rclpy: `$ROS_LOG_DIR`, else
    `$ROS_HOME/log`, else `~/.ros/log` (rcl_logging_interface's rule, which
    `rclpy.logging.get_logging_directory()` reports for a node). `~` is expanded."""
    env = os.environ if environ is None else environ
    if env.get("ROS_LOG_DIR"):
        return Path(os.path.expanduser(env["ROS_LOG_DIR"]))
    if env.get("ROS_HOME"):
        return Path(os.path.expanduser(env["ROS_HOME"])) / "log"
    return Path(os.path.expanduser("~")) / ".ros" / "log"


def ensure_logger_path(default_dir: str | os.PathLike[str],
                       environ: MutableMapping[str, str] | None = None) -> str | None:
    """Set `HAILORT_LOGGER_PATH` to `default_dir` unless it is already set; return the value in
    effect afterwards.

    A value the user set (a directory, or `NONE`) is kept as it is. Otherwise `default_dir` is
    created (with parents) and the variable set to its absolute path. Returns None, changing
    nothing, when the directory cannot be created (libhailort then logs into the current
    directory, as without this function). `environ` replaces `os.environ` (tests); call this
    before `HailoRT()` loads the library.
    """
    env = os.environ if environ is None else environ
    current = env.get(ENV_VAR)
    if current:
        return current
    path = Path(os.path.expanduser(os.fspath(default_dir))).absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    env[ENV_VAR] = str(path)
    return str(path)
