"""`hailort_info()` and the `hailort-info` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from feagi_hailo_ros.hailo.info import build_parser, hailort_info, main
from feagi_hailo_ros.hailo.library import HailoRTNotFound

from .conftest import Standin
from .standin import hef_format as hf


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A stand-in HEF with a dense group (UINT16 output, quantized) and a conv group."""
    dense = hf.NetworkGroupSpec(
        "motor", [hf.InputSpec("motor/input_layer1", (1, 1, 300), original_names=("spikes",))],
        [hf.OutputSpec("motor/fc1", hf.Dense(np.ones((12, 300), np.uint8)), native_type=hf.UINT16,
                       qp_scale=0.5, qp_zp=1.0, original_names=("MatMul_3", "Relu_4"))])
    conv = hf.conv_group("vision", np.ones((3, 3, 2, 4), np.uint8), (16, 12))
    return hf.write_hef(tmp_path / "brain.hef", [dense, conv])


def test_report_describes_library_devices_and_hef(standin: Standin, model: Path) -> None:
    """The report is JSON-able and holds the library, the device and every vstream with its frame size."""
    report = hailort_info(standin.path, [model])
    json.dumps(report)  # JSON-able as promised
    major, minor = report["library"]["version"].split(".")[:2]
    assert report["library"] == {"path": str(standin.path), "version": f"{major}.{minor}.0",
                                 "supported": True}
    assert report["devices"] == ["0000:01:00.0"]
    (hef,) = report["hefs"]
    assert hef["path"] == str(model) and "error" not in hef
    motor, vision = hef["network_groups"]
    assert (motor["name"], motor["is_multi_context"]) == ("motor", False)
    assert motor["inputs"] == [{
        "name": "motor/input_layer1", "network_name": "motor/motor", "direction": "H2D",
        "shape": [1, 1, 300], "format_type": "UINT8", "format_order": "NC", "qp_scale": 1.0,
        "qp_zp": 0.0, "frame_size": 300, "original_names": ["spikes"]}]
    (out,) = motor["outputs"]
    assert (out["name"], out["format_type"], out["shape"], out["frame_size"]) == \
        ("motor/fc1", "UINT16", [1, 1, 12], 24)
    assert (out["qp_scale"], out["qp_zp"]) == (0.5, 1.0)
    # the ONNX names the compiled layer came from, in the HEF's order
    assert out["original_names"] == ["MatMul_3", "Relu_4"]
    assert vision["outputs"][0]["original_names"] == ["conv"]
    assert vision["inputs"][0]["format_order"] == "NHWC"
    assert vision["outputs"][0]["shape"] == [16, 12, 4] and vision["outputs"][0]["frame_size"] == 768


def test_per_hef_errors_do_not_hide_the_rest(standin: Standin, model: Path, tmp_path: Path) -> None:
    """A missing and a broken HEF get an `error` entry each; the good HEF after them is still described."""
    broken = tmp_path / "broken.hef"
    broken.write_bytes(b"nonsense")
    report = hailort_info(standin.path, [tmp_path / "missing.hef", broken, model])
    missing, bad, good = report["hefs"]
    assert (missing["error"]["code"], missing["error"]["name"]) == (13, "HAILO_OPEN_FILE_FAILURE")
    assert bad["error"]["name"] in {"HAILO_HEF_NOT_SUPPORTED", "HAILO_INVALID_HEF"}
    assert bad["error"]["call"] == "hailo_create_hef_file"
    assert [g["name"] for g in good["network_groups"]] == ["motor", "vision"]


def test_no_device_is_reported_not_raised(standin: Standin, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no device the report has an empty device list instead of raising."""
    monkeypatch.setenv("HAILORT_STANDIN_NO_DEVICE", "1")
    report = hailort_info(standin.path)
    assert report["devices"] == [] and report["hefs"] == []


def test_unsupported_version_is_reported(standin_libs: dict[str, Path]) -> None:
    """A 5.0 library is reported (version, supported false, reason) and not asked anything else."""
    report = hailort_info(standin_libs["5.0"])
    assert report["library"]["version"] == "5.0.0" and report["library"]["supported"] is False
    assert "4.17 to 4.23" in report["library"]["error"]
    assert "devices" not in report  # nothing else is asked of a library with unknown layouts


def test_missing_library_raises(tmp_path: Path) -> None:
    """No loadable library at all is HailoRTNotFound."""
    with pytest.raises(HailoRTNotFound):
        hailort_info(tmp_path / "libhailort.so")


def test_main_prints_json_and_exits_0(standin: Standin, model: Path, capsys) -> None:
    """The command prints the JSON report on stdout, nothing on stderr, and exits 0."""
    assert main(["--lib", str(standin.path), "--hef", str(model)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["hefs"][0]["network_groups"][0]["outputs"][0]["format_type"] == "UINT16"
    assert captured.err == ""


def test_main_exit_1_on_problems(standin: Standin, standin_libs, model: Path, tmp_path: Path,
                                 capsys) -> None:
    """A HEF error, a missing library or an unsupported version: exit 1 with the reason on stderr."""
    assert main(["--lib", str(standin.path), "--hef", str(tmp_path / "nope.hef"), str(model)]) == 1
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["hefs"]) == 2
    assert "nope.hef" in captured.err and "HAILO_OPEN_FILE_FAILURE" in captured.err

    assert main(["--lib", str(tmp_path / "none.so")]) == 1
    captured = capsys.readouterr()
    assert "Searched" in captured.err and "hailo-all" in captured.err
    # The JSON report still goes to stdout: a script reads why there too.
    library = json.loads(captured.out)["library"]
    assert (library["found"], library["supported"]) == (False, False)
    assert library["searched"] == [f"given library path: {tmp_path / 'none.so'}"]
    assert library["error"].count(str(tmp_path / "none.so")) <= 2  # it once said it four times
    # one short line first, the long install help once after it
    first, *rest = captured.err.splitlines()
    assert first.startswith("libhailort (HailoRT) was not found") and "hailo-all" not in first
    assert captured.err.count("hailo-all") == 1

    assert main(["--lib", str(standin_libs["4.16"])]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["library"]["supported"] is False and "4.16.0" in captured.err
    assert captured.err.count("hailo-all") == 1


def test_environment_variable_is_honoured(standin: Standin, monkeypatch, capsys) -> None:
    """Without --lib the command loads $FEAGI_HAILO_LIBHAILORT."""
    monkeypatch.setenv("FEAGI_HAILO_LIBHAILORT", str(standin.path))
    assert main([]) == 0
    assert json.loads(capsys.readouterr().out)["library"]["path"] == str(standin.path)


def test_hef_option_accepts_several_files_and_repeats() -> None:
    """--hef takes several files and may be repeated; the default is an empty list."""
    args = build_parser().parse_args(["--hef", "a.hef", "b.hef", "--hef", "c.hef", "--lib", "x.so"])
    assert args.hef == ["a.hef", "b.hef", "c.hef"] and args.lib == "x.so"
    assert build_parser().parse_args([]).hef == []


def test_log_dir_flag_sets_hailort_logger_path(standin: Standin, model: Path, tmp_path: Path,
                                               capsys) -> None:
    """--hailort-log-dir is created and named in HAILORT_LOGGER_PATH before the library loads;
    the report says where the log goes."""
    log_dir = tmp_path / "logs" / "hailort"
    assert main(["--lib", str(standin.path), "--hef", str(model),
                 "--hailort-log-dir", str(log_dir)]) == 0
    assert os.environ["HAILORT_LOGGER_PATH"] == str(log_dir) and log_dir.is_dir()
    assert json.loads(capsys.readouterr().out)["hailort_log_dir"] == str(log_dir)


def test_log_dir_defaults_to_the_ros_log_dir(standin: Standin, _hailort_log_env: Path,
                                             capsys) -> None:
    """Without the flag the log goes to the ROS log directory ($ROS_LOG_DIR here)."""
    assert main(["--lib", str(standin.path)]) == 0
    assert json.loads(capsys.readouterr().out)["hailort_log_dir"] == str(_hailort_log_env)
    assert os.environ["HAILORT_LOGGER_PATH"] == str(_hailort_log_env)


def test_user_logger_path_wins(standin: Standin, tmp_path: Path, monkeypatch, capsys) -> None:
    """A HAILORT_LOGGER_PATH the user set (also NONE) is kept; the flag's directory is not made."""
    monkeypatch.setenv("HAILORT_LOGGER_PATH", "NONE")
    assert main(["--lib", str(standin.path), "--hailort-log-dir", str(tmp_path / "flag")]) == 0
    assert json.loads(capsys.readouterr().out)["hailort_log_dir"] == "NONE"
    assert os.environ["HAILORT_LOGGER_PATH"] == "NONE" and not (tmp_path / "flag").exists()


def _run_info(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "feagi_hailo_ros.hailo.info", *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_library_writes_its_log_where_the_flag_says(standin: Standin, tmp_path: Path) -> None:
    """In a fresh process the library itself (the stand-in reads HAILORT_LOGGER_PATH once, at
    load, like the real logger) writes hailort.log into --hailort-log-dir, and the user's own
    HAILORT_LOGGER_PATH wins over the flag."""
    env = {k: v for k, v in os.environ.items() if k != "HAILORT_LOGGER_PATH"}
    missing = tmp_path / "missing.hef"
    flag_dir, user_dir = tmp_path / "flag_dir", tmp_path / "user_dir"
    run = _run_info(["--lib", str(standin.path), "--hef", str(missing),
                     "--hailort-log-dir", str(flag_dir)], env, tmp_path)
    assert run.returncode == 1, run.stderr
    log = (flag_dir / "hailort.log").read_text()
    assert "stand-in loaded" in log and f"HEF file cannot be opened: {missing}" in log

    user_dir.mkdir()
    run = _run_info(["--lib", str(standin.path), "--hailort-log-dir", str(tmp_path / "other")],
                    {**env, "HAILORT_LOGGER_PATH": str(user_dir)}, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "stand-in loaded" in (user_dir / "hailort.log").read_text()
    assert not (tmp_path / "other").exists()
