"""`hailort-info`: what HailoRT, which devices and which HEF contents this machine has, as JSON.

Meant for bring-up on a robot: it needs no device to describe HEFs (everything comes from the HEF
through `hailo_hef_get_all_vstream_infos`), reports an unsupported library's version instead of only
refusing it, and records per-HEF errors without stopping at the first one.

    feagi-hailo hailort-info [--lib PATH] [--hef FILE ...] [--hailort-log-dir DIR]
    python -m feagi_hailo_ros.hailo.info [--lib PATH] [--hef FILE ...] [--hailort-log-dir DIR]

libhailort's own log (`hailort.log`) goes to `--hailort-log-dir`, default the ROS log directory
(logpath.py), unless `HAILORT_LOGGER_PATH` is set, which wins.

Exit status: 0 when the library is usable and every HEF was read; 1 otherwise (the JSON still
describes everything that could be read, and the reason goes to stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .hailort import HailoRT, Hef
from .library import SUPPORTED_TEXT, HailoRTUnavailable, HailoRTVersionError
from .logpath import default_log_dir, ensure_logger_path
from .status import HailoRTError


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, HailoRTError):
        return {"code": exc.code, "name": exc.name, "call": exc.call, "message": str(exc)}
    return {"message": str(exc)}


def describe_hef(rt: HailoRT, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Network groups of one HEF with every input/output vstream (shape, format, quantization,
    host frame size in the HEF's own format type, and `original_names`: the names the compiled
    model had, e.g. its ONNX nodes, from `hailo_hef_get_original_names_from_vstream_name`).

    Returns a JSON-able dict: `path`, then `network_groups` (each with `name`,
    `is_multi_context`, `inputs`, `outputs`), or `error` (code, name, call, message) when a
    library call fails (HailoRTError is reported there, not raised). Needs no device.
    """
    out: dict[str, Any] = {"path": os.fspath(path)}
    try:
        with Hef.from_file(rt, path) as hef:
            groups = []
            for ng in hef.network_group_infos():
                inputs, outputs = [], []
                for info in hef.vstream_infos(ng.name):
                    entry = info.to_dict()
                    entry["frame_size"] = hef.frame_size(info)
                    entry["original_names"] = hef.original_names(info.name, ng.name)
                    (inputs if info.is_input else outputs).append(entry)
                groups.append({"name": ng.name, "is_multi_context": ng.is_multi_context,
                               "inputs": inputs, "outputs": outputs})
            out["network_groups"] = groups
    except HailoRTError as exc:
        out["error"] = _error(exc)
    return out


def hailort_info(lib_path: str | os.PathLike[str] | None = None,
                 hef_paths: Sequence[str | os.PathLike[str]] = ()) -> dict[str, Any]:
    """JSON-able report: library path and version, devices found, and each HEF's network groups.

    Raises HailoRTNotFound when no libhailort can be loaded. An unsupported version is reported
    (`library.supported` false plus `library.error` and `library.help`) rather than raised, and
    nothing else is asked of that library, since its struct layouts are unknown.

    Keys: `supported_versions`, `library` (`path`, `version`, `supported`[, `error`, `help`]),
    and for a
    supported library `devices` (ids; [] plus `devices_error` when the scan fails) and `hefs`
    (:func:`describe_hef` of each path, in order).
    """
    report: dict[str, Any] = {"supported_versions": SUPPORTED_TEXT}
    try:
        rt = HailoRT(lib_path)
    except HailoRTVersionError as exc:
        report["library"] = {"path": exc.path, "version": str(exc.found), "supported": False,
                             "error": str(exc), "help": exc.help}
        return report
    report["library"] = {"path": rt.path, "version": str(rt.version), "supported": True}
    try:
        report["devices"] = rt.scan_devices()
    except HailoRTError as exc:
        report["devices"] = []
        report["devices_error"] = _error(exc)
    report["hefs"] = [describe_hef(rt, p) for p in hef_paths]
    return report


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the stand-alone `hailort-info` command (options: `add_arguments`)."""
    parser = argparse.ArgumentParser(
        prog="feagi-hailo hailort-info",
        description="Report the HailoRT library, Hailo devices and HEF contents as JSON.")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hailort-info`, for embedding in the `feagi-hailo` CLI."""
    parser.add_argument("--lib", metavar="PATH", default=None,
                        help="libhailort.so to load (default: $FEAGI_HAILO_LIBHAILORT, then the "
                             "system library paths)")
    parser.add_argument("--hef", metavar="FILE", nargs="+", action="extend", default=[],
                        help="HEF file(s) to describe (repeatable)")
    add_log_dir_argument(parser)


def add_log_dir_argument(parser: argparse.ArgumentParser) -> None:
    """`--hailort-log-dir DIR`, for every command that loads libhailort (apply it with
    :func:`apply_log_dir` before loading)."""
    parser.add_argument("--hailort-log-dir", metavar="DIR", default=None,
                        help="directory for libhailort's hailort.log (default: the ROS log "
                             "directory, $ROS_LOG_DIR, else $ROS_HOME/log, else ~/.ros/log); "
                             "HAILORT_LOGGER_PATH, when set, wins")


def apply_log_dir(args: argparse.Namespace) -> str | None:
    """:func:`~.logpath.ensure_logger_path` with `args.hailort_log_dir` (default: the ROS log
    directory); returns the log directory in effect (None: the library's default)."""
    return ensure_logger_path(args.hailort_log_dir or default_log_dir())


def run(args: argparse.Namespace) -> int:
    """Print the report for parsed `args` (`lib`, `hef`, `hailort_log_dir`) as JSON on stdout;
    return the exit status (module docstring). Problems (no library, unsupported version, HEF
    errors) go to stderr, one line each, and the install help once after them."""
    log_dir = apply_log_dir(args)  # before the library is loaded
    try:
        report = hailort_info(args.lib, args.hef)
    except HailoRTUnavailable as exc:
        # The report still goes to stdout (a script reads why there too), the reason and the
        # install help to stderr.
        print(json.dumps({"supported_versions": SUPPORTED_TEXT,
                          "library": {"found": False, "supported": False, "error": str(exc),
                                      "searched": list(getattr(exc, "searched", []))},
                          "hailort_log_dir": log_dir}, indent=2))
        print(str(exc), file=sys.stderr)
        print(exc.help, file=sys.stderr)
        return 1
    report["hailort_log_dir"] = log_dir
    print(json.dumps(report, indent=2))
    problems = []
    if not report["library"]["supported"]:
        problems.append(report["library"]["error"])
    problems += [f"{h['path']}: {h['error']['message']}" for h in report.get("hefs", ()) if "error" in h]
    for p in problems:
        print(p, file=sys.stderr)
    if not report["library"]["supported"]:
        print(report["library"]["help"], file=sys.stderr)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse `argv` (default `sys.argv[1:]`) and :func:`run`; returns the exit status."""
    return run(build_parser().parse_args(argv))

if __name__ == "__main__":
    sys.exit(main())
