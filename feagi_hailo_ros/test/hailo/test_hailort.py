"""The DESIGN section 6 flow against the stand-in, for both vstream-info layouts (4.19 and 4.23):
results equal numpy exactly, every failure surfaces as HailoRTError with code and name, and
objects are released in reverse order exactly once (checked by the `standin` fixture teardown)."""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feagi_hailo_ros.hailo import (
    FormatOrder,
    FormatType,
    HailoRT,
    HailoRTClosed,
    HailoRTError,
    Hef,
    StreamDirection,
    dequantize,
)
from feagi_hailo_ros.hailo import hailort as hailort_module
from feagi_hailo_ros.hailo.status import check

from .conftest import Standin
from .standin import hef_format as hf


def _bits(rng: np.random.Generator, shape: tuple[int, ...], p: float = 0.5) -> np.ndarray:
    return (rng.random(shape) < p).astype(np.uint8)


def _counts(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    return a.astype(np.int64) @ x.astype(np.int64).reshape(-1)


# --- library, devices -------------------------------------------------------------------------


def test_version_selects_the_layout(rt: HailoRT, standin_version: str) -> None:
    """The run-time version picks the vstream-info layout: 432 bytes on 4.19, 436 on 4.23."""
    assert f"{rt.version.major}.{rt.version.minor}" == standin_version
    assert ctypes.sizeof(rt.vstream_info_t) == (432 if standin_version == "4.19" else 436)


def test_scan_devices(rt: HailoRT, monkeypatch: pytest.MonkeyPatch) -> None:
    """Device ids come back in order, also when there are more than the first buffer holds."""
    assert rt.scan_devices() == ["0000:01:00.0"]
    many = [f"0000:{i:02x}:00.0" for i in range(1, 21)]  # more than the first buffer holds
    monkeypatch.setenv("HAILORT_STANDIN_DEVICES", ",".join(many))
    assert rt.scan_devices() == many


def test_no_device(rt: HailoRT, monkeypatch: pytest.MonkeyPatch) -> None:
    """No device: the scan is empty and creating a vdevice raises 74 HAILO_OUT_OF_PHYSICAL_DEVICES."""
    monkeypatch.setenv("HAILORT_STANDIN_NO_DEVICE", "1")
    assert rt.scan_devices() == []
    with pytest.raises(HailoRTError) as info:
        rt.create_vdevice()
    err = info.value
    assert (err.code, err.name, err.call) == (74, "HAILO_OUT_OF_PHYSICAL_DEVICES", "hailo_create_vdevice")
    assert "74 HAILO_OUT_OF_PHYSICAL_DEVICES" in str(err)


def test_activate_is_never_needed_and_returns_6_under_the_scheduler(rt: HailoRT, rng) -> None:
    """Activation is not bound (it returns 6 under the scheduler) and inference works without it."""
    assert "hailo_activate_network_group" not in hailort_module._PROTOTYPES
    blob = hf.build_hef([hf.dense_group("n", _bits(rng, (3, 4)))])
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(blob) as hef:
        (ng,) = vdevice.configure(hef)
        activate = rt._cdll.hailo_activate_network_group
        activate.restype = ctypes.c_int
        activate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        out = ctypes.c_void_p()
        code = activate(ng._handle, None, ctypes.byref(out))
        assert code == 6
        with pytest.raises(HailoRTError, match="activate_network_group failed: 6 HAILO_INVALID_OPERATION"):
            check(code, "hailo_activate_network_group")
        with ng.create_vstreams() as vs:  # inference works without any activation
            vs.inputs["n/input_layer1"].write(np.ones(4, np.uint8))
            assert vs.outputs["n/fc1"].read().shape == (3,)


# --- HEF --------------------------------------------------------------------------------------


@pytest.fixture
def two_groups(rng: np.random.Generator) -> list[hf.NetworkGroupSpec]:
    """A dense group with quantized output and a conv group with a UINT16 output."""
    dense = hf.NetworkGroupSpec(
        "proj_a",
        [hf.InputSpec("proj_a/input_layer1", (1, 1, 53))],
        [hf.OutputSpec("proj_a/fc1", hf.Dense(_bits(rng, (37, 53), 0.3)), qp_scale=0.25, qp_zp=2.0)],
    )
    conv = hf.conv_group("proj_b", _bits(rng, (3, 3, 4, 5)), (6, 7), native_type=hf.UINT16)
    return [dense, conv]


def test_hef_from_file_and_bytes_describe_the_same_model(rt: HailoRT, tmp_path: Path, two_groups) -> None:
    """A HEF read from a file and from memory list the same groups and vstreams."""
    path = hf.write_hef(tmp_path / "model.hef", two_groups)
    with Hef.from_file(rt, path) as from_file, Hef.from_bytes(rt, path.read_bytes()) as from_bytes:
        assert from_file.source == str(path)
        for hef in (from_file, from_bytes):
            assert [(g.name, g.is_multi_context) for g in hef.network_group_infos()] == \
                [("proj_a", False), ("proj_b", False)]
        assert from_file.vstream_infos("proj_b") == from_bytes.vstream_infos("proj_b")
        assert from_file.vstream_infos() == from_file.vstream_infos("proj_a")  # None -> first group


def test_vstream_infos(rt: HailoRT, two_groups) -> None:
    """Names, directions, shapes, formats, quantization and frame sizes as the HEF describes them."""
    with rt.hef_from_bytes(hf.build_hef(two_groups)) as hef:
        inp, out = hef.vstream_infos("proj_a")
        assert (inp.name, inp.network_name, inp.direction) == ("proj_a/input_layer1", "proj_a/proj_a",
                                                                StreamDirection.H2D)
        assert (inp.shape, inp.format_type, inp.format_order) == ((1, 1, 53), FormatType.UINT8,
                                                                  FormatOrder.NC)
        assert (out.shape, out.direction, out.host_shape) == ((1, 1, 37), StreamDirection.D2H, (37,))
        assert (out.qp_scale, out.qp_zp) == (0.25, 2.0)
        assert out.limvals_max == pytest.approx((255 - 2.0) * 0.25)
        assert hef.frame_size(inp) == 53 and hef.frame_size(out, FormatType.UINT16) == 74
        assert hef.frame_size(out, FormatType.FLOAT32) == 148
        cin, cout = hef.vstream_infos("proj_b")
        assert (cin.shape, cin.format_order, cin.host_shape) == ((6, 7, 4), FormatOrder.NHWC, (6, 7, 4))
        assert (cout.shape, cout.format_type) == ((6, 7, 5), FormatType.UINT16)
        assert hef.frame_size(cout) == 6 * 7 * 5 * 2  # AUTO = the HEF's UINT16
        with pytest.raises(HailoRTError) as info:
            hef.vstream_infos("no_such_group")
        assert info.value.code == 61 and info.value.name == "HAILO_NOT_FOUND"
        assert out.to_dict()["format_order"] == "NC" and out.to_dict()["format_type"] == "UINT8"


def test_missing_hef_file(rt: HailoRT, tmp_path: Path) -> None:
    """A missing HEF file raises 13 HAILO_OPEN_FILE_FAILURE naming the file."""
    missing = tmp_path / "nowhere.hef"
    with pytest.raises(HailoRTError) as info:
        Hef.from_file(rt, missing)
    err = info.value
    assert (err.code, err.name, err.call) == (13, "HAILO_OPEN_FILE_FAILURE", "hailo_create_hef_file")
    assert str(missing) in str(err)


def test_corrupt_and_truncated_hef(rt: HailoRT, standin_version: str, two_groups) -> None:
    """Garbage and truncated HEF bytes raise the status codes of the library's version."""
    # 91/92 exist from 4.21; older libraries answer HAILO_INVALID_HEF (26)
    new = standin_version == "4.23"
    with pytest.raises(HailoRTError) as info:
        rt.hef_from_bytes(b"\x00garbage, not a HEF at all")
    assert (info.value.code, info.value.name) == ((92, "HAILO_HEF_NOT_SUPPORTED") if new
                                                  else (26, "HAILO_INVALID_HEF"))
    assert info.value.call == "hailo_create_hef_buffer"
    good = hf.build_hef(two_groups)
    with pytest.raises(HailoRTError) as info:
        rt.hef_from_bytes(good[: len(good) // 2])
    assert (info.value.code, info.value.name) == ((91, "HAILO_HEF_FILE_CORRUPTED") if new
                                                  else (26, "HAILO_INVALID_HEF"))


def test_empty_buffer_is_refused_before_the_library(rt: HailoRT, standin: Standin) -> None:
    """An empty HEF buffer raises ValueError and never reaches hailo_create_hef_buffer (a real
    4.23 crashes on a size of 0; the stand-in counts such a call as misuse, which the fixture's
    teardown would report)."""
    for empty in (b"", bytearray(), memoryview(b"")):
        with pytest.raises(ValueError, match="empty buffer"):
            Hef.from_bytes(rt, empty)
    assert standin.misuse() == 0 and standin.live() == 0


def test_empty_file_and_directory_give_14_with_a_hint(rt: HailoRT, tmp_path: Path) -> None:
    """An empty file and a directory are 14 HAILO_FILE_OPERATION_FAILURE (as a real 4.23
    answers), and the message says what to check."""
    empty = tmp_path / "empty.hef"
    empty.write_bytes(b"")
    for path in (empty, tmp_path):
        with pytest.raises(HailoRTError) as info:
            Hef.from_file(rt, path)
        assert (info.value.code, info.value.name) == (14, "HAILO_FILE_OPERATION_FAILURE")
        assert "empty, a directory" in str(info.value)


@pytest.fixture
def compiled() -> list[hf.NetworkGroupSpec]:
    """Two groups named as the compiler names them, with the ONNX names as original names."""
    dense = hf.NetworkGroupSpec(
        "net_a",
        [hf.InputSpec("net_a/input_layer1", (1, 1, 4), original_names=("spikes",))],
        [hf.OutputSpec("net_a/fc1", hf.Dense(np.eye(4, dtype=np.uint8)),
                       original_names=("net_a_p0_x",)),
         hf.OutputSpec("net_a/fc2", hf.Dense(np.ones((2, 4), np.uint8)),
                       original_names=tuple(f"fused_{i}" for i in range(8)))])
    bare = hf.dense_group("net_b", np.ones((3, 5), np.uint8))
    bare = hf.NetworkGroupSpec(bare.name, [hf.InputSpec("net_b/input_layer1", (1, 1, 5))],
                               bare.outputs)
    return [dense, bare]


def test_original_names_of_vstreams(rt: HailoRT, compiled) -> None:
    """hailo_hef_get_original_names_from_vstream_name: the ONNX names of each vstream, several
    (more than the first array holds) for a fused layer, none when the HEF kept none, and 61
    for a name that is no vstream of the group."""
    with rt.hef_from_bytes(hf.build_hef(compiled)) as hef:
        assert hef.original_names("net_a/input_layer1", "net_a") == ["spikes"]
        assert hef.original_names("net_a/fc1") == ["net_a_p0_x"]  # None: the first group
        assert hef.original_names("net_a/fc2", "net_a") == [f"fused_{i}" for i in range(8)]
        assert hef.original_names("net_b/input_layer1", "net_b") == []
        assert hef.original_names("net_b/fc1", "net_b") == ["dense"]
        for vstream, group in (("spikes", "net_a"), ("net_a/fc1", "net_b"), ("net_a/fc1", "nope")):
            with pytest.raises(HailoRTError) as info:
                hef.original_names(vstream, group)
            assert (info.value.code, info.value.name) == (61, "HAILO_NOT_FOUND")
            assert info.value.call == "hailo_hef_get_original_names_from_vstream_name"


def test_original_names_retry_with_a_larger_array(rt: HailoRT, compiled, monkeypatch) -> None:
    """When the library answers HAILO_INSUFFICIENT_BUFFER with the count it needs, the binding
    asks again with an array that large (first array shrunk to 2 to force the retry)."""
    monkeypatch.setattr(hailort_module, "ORIGINAL_NAMES_FIRST_ARRAY", 2)
    with rt.hef_from_bytes(hf.build_hef(compiled)) as hef:
        assert hef.original_names("net_a/fc2", "net_a") == [f"fused_{i}" for i in range(8)]
        assert hef.original_names("net_a/fc1", "net_a") == ["net_a_p0_x"]


# --- inference --------------------------------------------------------------------------------


def test_dense_counts_equal_numpy(rt: HailoRT, rng: np.random.Generator) -> None:
    """A dense group's outputs equal numpy's A @ x, frame after frame."""
    a = _bits(rng, (37, 53), 0.3)
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([hf.dense_group("d", a)])) as hef:
        (ng,) = vdevice.configure(hef)
        assert ng.name == "d"
        with ng.create_vstreams(FormatType.UINT8, FormatType.UINT8) as vs:
            src, dst = vs.inputs["d/input_layer1"], vs.outputs["d/fc1"]
            assert (src.frame_size, dst.frame_size, dst.shape, dst.dtype) == (53, 37, (37,), np.uint8)
            for _ in range(20):
                x = _bits(rng, (53,))
                src.write(x)
                np.testing.assert_array_equal(dst.read(), _counts(a, x))
            x = rng.integers(0, 4, 53, dtype=np.uint8)  # non-binary inputs are still exact
            src.write(x)
            np.testing.assert_array_equal(dst.read(), _counts(a, x))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_out=st.integers(1, 40), n_in=st.integers(1, 300), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**32 - 1), wide=st.booleans())
def test_dense_property(rt: HailoRT, n_out: int, n_in: int, density: float, seed: int, wide: bool) -> None:
    """Any shape, density and output width: the read equals numpy's A @ x, saturated only by an
    8-bit output layer."""
    r = np.random.default_rng(seed)
    a = _bits(r, (n_out, n_in), density)
    x = _bits(r, (n_in,), 0.7)
    group = hf.dense_group("p", a, native_type=hf.UINT16 if wide else hf.UINT8)
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([group])) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams(output_format=FormatType.UINT16) as vs:
            vs.inputs["p/input_layer1"].write(x)
            expected = _counts(a, x) if wide else np.minimum(_counts(a, x), 255)
            np.testing.assert_array_equal(vs.outputs["p/fc1"].read(), expected)


def test_conv_counts_equal_numpy(rt: HailoRT, rng: np.random.Generator) -> None:
    """A conv group's outputs equal an independent loop convolution."""
    k = _bits(rng, (3, 5, 4, 6))
    group = hf.conv_group("c", k, (8, 9))
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([group])) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams() as vs:
            src, dst = vs.inputs["c/input_layer1"], vs.outputs["c/conv1"]
            assert dst.shape == (8, 9, 6) and src.shape == (8, 9, 4)
            for _ in range(5):
                x = _bits(rng, (8, 9, 4))
                src.write(x)
                np.testing.assert_array_equal(dst.read(), _naive_conv(x, k))


def _naive_conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Independent loop implementation: channels-last, 'same' zero padding, stride 1."""
    h, w, _ = x.shape
    kh, kw, _, cout = k.shape
    y = np.zeros((h, w, cout), np.int64)
    for i in range(h):
        for j in range(w):
            for dy in range(kh):
                for dx in range(kw):
                    yy, xx = i + dy - kh // 2, j + dx - kw // 2
                    if 0 <= yy < h and 0 <= xx < w:
                        y[i, j] += x[yy, xx].astype(np.int64) @ k[dy, dx].astype(np.int64)
    return y


def test_reference_helper_matches_the_naive_conv(rng: np.random.Generator) -> None:
    """The stand-in format's numpy reference agrees with the loop convolution."""
    k = _bits(rng, (3, 3, 2, 3))
    x = _bits(rng, (5, 4, 2))
    out = hf.OutputSpec("o", hf.Conv(k), native_type=hf.UINT16)
    np.testing.assert_array_equal(hf.reference(out, x), _naive_conv(x, k))


def test_uint16_output_when_fan_in_exceeds_255(rt: HailoRT) -> None:
    """A fan-in of 300 is exact with a 16-bit output layer and saturates at 255 with an 8-bit one."""
    a = np.ones((4, 300), np.uint8)  # every output listens to 300 inputs
    x = np.ones(300, np.uint8)
    wide = hf.dense_group("wide", a, native_type=hf.UINT16)
    narrow = hf.dense_group("narrow", a, native_type=hf.UINT8)
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([wide, narrow])) as hef:
        ng_wide, ng_narrow = vdevice.configure(hef)
        with ng_wide.create_vstreams(output_format=FormatType.UINT16) as vs:
            vs.inputs["wide/input_layer1"].write(x)
            y = vs.outputs["wide/fc1"].read()
            assert y.dtype == np.uint16
            np.testing.assert_array_equal(y, [300] * 4)
        with ng_narrow.create_vstreams(output_format=FormatType.UINT16) as vs:
            vs.inputs["narrow/input_layer1"].write(x)
            # an 8-bit output layer saturates: why DESIGN section 5 asks for a 16-bit one here
            np.testing.assert_array_equal(vs.outputs["narrow/fc1"].read(), [255] * 4)


def test_per_output_format_override_and_validation(rt: HailoRT, rng: np.random.Generator) -> None:
    """output_formats overrides one output's host type; unknown names and param overrides are checked."""
    group = hf.NetworkGroupSpec(
        "g", [hf.InputSpec("g/in", (1, 1, 10))],
        [hf.OutputSpec("g/small", hf.Dense(_bits(rng, (3, 10)))),
         hf.OutputSpec("g/big", hf.Dense(_bits(rng, (2, 10))), native_type=hf.UINT16)])
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([group])) as hef:
        (ng,) = vdevice.configure(hef)
        with pytest.raises(KeyError, match="g/nope"):
            ng.create_vstreams(output_formats={"g/nope": FormatType.UINT16})
        params = ng.make_output_vstream_params(FormatType.UINT8, timeout_ms=1234, queue_size=4)
        assert [(p.name, p.format_type, p.timeout_ms, p.queue_size) for p in params] == \
            [("g/small", FormatType.UINT8, 1234, 4), ("g/big", FormatType.UINT8, 1234, 4)]
        with ng.create_vstreams(output_formats={"g/big": FormatType.UINT16}) as vs:
            assert vs.outputs["g/small"].dtype == np.uint8 and vs.outputs["g/big"].dtype == np.uint16
            assert vs.outputs["g/big"].frame_size == 4


def test_write_and_read_validation(rt: HailoRT, rng: np.random.Generator) -> None:
    """write/read refuse wrong dtypes, sizes and layouts; bool spikes, any shape and `out=` work."""
    a = _bits(rng, (6, 8))
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([hf.dense_group("v", a)])) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams() as vs:
            src, dst = vs.inputs["v/input_layer1"], vs.outputs["v/fc1"]
            with pytest.raises(TypeError, match="uint8"):
                src.write(np.ones(8, np.float64))
            with pytest.raises(ValueError, match="8 elements"):
                src.write(np.ones(9, np.uint8))
            spikes = rng.random(8) < 0.5  # bool spikes are sent as 0/1 bytes
            src.write(spikes.reshape(2, 4))  # any shape with the right element count
            out = np.full(6, 99, np.uint8)
            assert dst.read(out) is out
            np.testing.assert_array_equal(out, _counts(a, spikes))
            with pytest.raises(ValueError, match="C-contiguous"):
                dst.read(np.zeros(12, np.uint8)[::2])
            with pytest.raises(TypeError):
                dst.read(np.zeros(6, np.uint16))


def test_dequantize(rt: HailoRT, rng: np.random.Generator) -> None:
    """Binding dequantization equals `(raw - zp) * scale` and the library's own FLOAT32 output."""
    a = _bits(rng, (5, 9))
    group = hf.dense_group("q", a, qp_scale=0.5, qp_zp=3.0)
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([group])) as hef:
        (ng,) = vdevice.configure(hef)
        x = _bits(rng, (9,), 0.8)
        with ng.create_vstreams(output_format=FormatType.UINT8) as vs:
            vs.inputs["q/input_layer1"].write(x)
            raw = vs.outputs["q/fc1"].read()
            ours = vs.outputs["q/fc1"].dequantize(raw)
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, (_counts(a, x) - 3.0) * 0.5)
        np.testing.assert_array_equal(dequantize(raw, 0.5, 3.0), ours)
        with ng.create_vstreams(output_format=FormatType.FLOAT32) as vs:  # the library's own
            vs.inputs["q/input_layer1"].write(x)
            np.testing.assert_array_equal(vs.outputs["q/fc1"].read(), ours)


def test_multi_input_group_runs_a_burst_when_every_input_arrived(rt: HailoRT, rng) -> None:
    """A two-input group computes only once both inputs of the burst were written."""
    a1, a2 = _bits(rng, (4, 6)), _bits(rng, (3, 5))
    group = hf.NetworkGroupSpec(
        "m", [hf.InputSpec("m/in1", (1, 1, 6)), hf.InputSpec("m/in2", (1, 1, 5))],
        [hf.OutputSpec("m/o1", hf.Dense(a1), 0), hf.OutputSpec("m/o2", hf.Dense(a2), 1)])
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([group])) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams(timeout_ms=50) as vs:
            x1, x2 = _bits(rng, (6,)), _bits(rng, (5,))
            vs.inputs["m/in1"].write(x1)
            with pytest.raises(HailoRTError) as info:  # in2 missing: nothing computed yet
                vs.outputs["m/o1"].read()
            assert info.value.name == "HAILO_TIMEOUT"
            vs.inputs["m/in2"].write(x2)
            np.testing.assert_array_equal(vs.outputs["m/o1"].read(), _counts(a1, x1))
            np.testing.assert_array_equal(vs.outputs["m/o2"].read(), _counts(a2, x2))


# --- failures during inference -----------------------------------------------------------------


@pytest.mark.parametrize(("status", "name"), [(63, "HAILO_STREAM_ABORT"), (4, "HAILO_TIMEOUT")])
def test_failure_after_n_bursts(rt: HailoRT, rng, status: int, name: str) -> None:
    """A device failure surfaces on the next write and on the read, as HailoRTError naming the
    call (and the vstream, for the write)."""
    a = _bits(rng, (3, 4))
    group = hf.dense_group("f", a, fail_after=3, fail_status=status)
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([group])) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams() as vs:
            src, dst = vs.inputs["f/input_layer1"], vs.outputs["f/fc1"]
            for _ in range(3):
                x = _bits(rng, (4,))
                src.write(x)
                np.testing.assert_array_equal(dst.read(), _counts(a, x))
            with pytest.raises(HailoRTError) as info:
                src.write(np.ones(4, np.uint8))
            assert (info.value.code, info.value.name) == (status, name)
            assert info.value.call == "hailo_vstream_write_raw_buffer"
            assert "f/input_layer1" in str(info.value)
            with pytest.raises(HailoRTError) as info:
                dst.read()
            assert (info.value.code, info.value.call) == (status, "hailo_vstream_read_raw_buffer")


def test_read_times_out(rt: HailoRT, rng) -> None:
    """A read with nothing written raises HAILO_TIMEOUT after the vstream's timeout_ms."""
    blob = hf.build_hef([hf.dense_group("t", _bits(rng, (2, 2)))])
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(blob) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams(timeout_ms=80) as vs:
            t0 = time.monotonic()
            with pytest.raises(HailoRTError) as info:
                vs.outputs["t/fc1"].read()
            assert (info.value.code, info.value.name) == (4, "HAILO_TIMEOUT")
            assert time.monotonic() - t0 >= 0.07


# --- lifetime ---------------------------------------------------------------------------------


def test_context_managers_release_in_reverse_order(rt: HailoRT, standin: Standin, rng) -> None:
    """Nested with-blocks release vstreams, HEF and vdevice in exact reverse order of creation."""
    blob = hf.build_hef([hf.dense_group("r", _bits(rng, (2, 3)))])
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(blob) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams() as vs:
            vs.inputs["r/input_layer1"].write(np.ones(3, np.uint8))
            vs.outputs["r/fc1"].read()
            assert standin.live() == 5  # vdevice, hef, group, 2 vstreams
    assert standin.events() == [
        "create_vdevice", "create_hef", "configure:r",
        "create_input_vstream:r/input_layer1", "create_output_vstream:r/fc1",
        "release_output_vstream:r/fc1", "release_input_vstream:r/input_layer1",
        "release_hef", "release_vdevice",
    ]
    assert vs.closed and ng.closed and hef.closed and vdevice.closed


def test_closing_the_vdevice_closes_what_it_owns_first(rt: HailoRT, standin: Standin, rng) -> None:
    """Closing a vdevice first releases its vstreams; later use raises HailoRTClosed, nothing twice."""
    vdevice = rt.create_vdevice()
    with rt.hef_from_bytes(hf.build_hef([hf.dense_group("o", _bits(rng, (2, 3)))])) as hef:
        (ng,) = vdevice.configure(hef)
    vs = ng.create_vstreams()
    src = vs.inputs["o/input_layer1"]
    assert vdevice.network_groups == [ng]
    vdevice.close()
    events = standin.events()
    assert events[-3:] == ["release_output_vstream:o/fc1", "release_input_vstream:o/input_layer1",
                           "release_vdevice"]
    assert src.closed and ng.closed and vdevice.network_groups == []
    with pytest.raises(HailoRTClosed):
        src.write(np.ones(3, np.uint8))
    with pytest.raises(HailoRTClosed):
        ng.make_input_vstream_params()
    vdevice.close()  # idempotent
    vs.close()
    src.close()
    assert standin.events() == events  # nothing released twice


def test_use_after_close_raises_instead_of_calling_the_library(rt: HailoRT, rng) -> None:
    """Methods of a closed HEF or vdevice raise HailoRTClosed without calling the library."""
    hef = rt.hef_from_bytes(hf.build_hef([hf.dense_group("u", _bits(rng, (2, 3)))]))
    hef.close()
    hef.close()
    with pytest.raises(HailoRTClosed, match="Hef"):
        hef.vstream_infos()
    with rt.create_vdevice() as vdevice:
        with pytest.raises(HailoRTClosed):
            vdevice.configure(hef)
    with pytest.raises(HailoRTClosed, match="VDevice"):
        vdevice.configure(hef)


def test_finalizers_release_forgotten_objects(rt: HailoRT, standin: Standin, rng) -> None:
    """Objects dropped without close() are released by finalizers, the vdevice last."""
    def forget() -> None:
        vdevice = rt.create_vdevice()
        hef = rt.hef_from_bytes(hf.build_hef([hf.dense_group("g", _bits(rng, (2, 3)))]))
        (ng,) = vdevice.configure(hef)
        vs = ng.create_vstreams()
        vs.inputs["g/input_layer1"].write(np.ones(3, np.uint8))

    forget()
    gc.collect()
    assert standin.live() == 0
    releases = [e for e in standin.events() if e.startswith("release")]
    assert releases.index("release_vdevice") == len(releases) - 1  # the vdevice went last


def test_reference_cycles_still_release_children_first(rt: HailoRT, standin: Standin, rng) -> None:
    """Garbage cycles are finalized in no particular order, after weak references are cleared;
    the vdevice is put first so that its finalizer is likely to run before the vstreams'."""
    gc.disable()  # keep the cycle intact until the explicit collection below
    try:
        vdevice = rt.create_vdevice()
        hef = rt.hef_from_bytes(hf.build_hef([hf.dense_group("cy", _bits(rng, (2, 3)))]))
        (ng,) = vdevice.configure(hef)
        vs = ng.create_vstreams()
        cycle: dict[str, object] = {"objects": [vdevice, hef, ng, vs, *vs.inputs.values(),
                                                *vs.outputs.values()]}
        cycle["self"] = cycle
        del vdevice, hef, ng, vs, cycle
        assert standin.live() == 5
    finally:
        gc.enable()
    gc.collect()
    assert standin.live() == 0  # the fixture also asserts no order violation and no double release
    releases = [e for e in standin.events() if e.startswith("release")]
    assert releases[-1] in ("release_vdevice", "release_hef")
    assert releases.index("release_vdevice") > max(i for i, e in enumerate(releases) if "vstream" in e)


def test_finalizer_never_raises(rt: HailoRT, standin: Standin, rng, monkeypatch) -> None:
    """A finalizer whose release the library refuses reports nothing (no unraisable exception)."""
    reported: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    hef = rt.hef_from_bytes(hf.build_hef([hf.dense_group("x", _bits(rng, (2, 3)))]))
    release = rt._cdll.hailo_release_hef  # release it behind the binding's back
    release.argtypes, release.restype = [ctypes.c_void_p], ctypes.c_int
    assert release(hef._handle) == 0
    standin.allowed_misuse = 1  # the finalizer's release is now refused by the library
    del hef
    gc.collect()
    assert reported == []


def test_writer_and_reader_threads(rt: HailoRT, rng) -> None:
    """A writer thread and a reader thread on one group's vstreams get every frame right."""
    a = _bits(rng, (16, 24))
    frames = [_bits(rng, (24,)) for _ in range(200)]
    results: list[np.ndarray] = []
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(hf.build_hef([hf.dense_group("th", a)])) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams(timeout_ms=5000) as vs:
            src, dst = vs.inputs["th/input_layer1"], vs.outputs["th/fc1"]

            def writer() -> None:
                for x in frames:
                    src.write(x)

            def reader() -> None:
                for _ in frames:
                    results.append(dst.read())

            threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
    assert len(results) == len(frames)
    for x, y in zip(frames, results, strict=True):
        np.testing.assert_array_equal(y, _counts(a, x))


def test_a_blocked_read_does_not_hold_the_gil(rt: HailoRT, rng) -> None:
    """Python threads keep running while a read blocks inside libhailort."""
    blob = hf.build_hef([hf.dense_group("gil", _bits(rng, (2, 2)))])
    with rt.create_vdevice() as vdevice, rt.hef_from_bytes(blob) as hef:
        (ng,) = vdevice.configure(hef)
        with ng.create_vstreams(timeout_ms=400) as vs:
            done = threading.Event()
            errors: list[BaseException] = []

            def blocked_read() -> None:
                try:
                    vs.outputs["gil/fc1"].read()
                except HailoRTError as exc:
                    errors.append(exc)
                done.set()

            t = threading.Thread(target=blocked_read)
            t.start()
            spins = 0
            while not done.is_set():  # pure-Python work while the other thread sits in C
                spins += 1
            t.join()
    assert spins > 1000
    assert len(errors) == 1 and errors[0].name == "HAILO_TIMEOUT"
