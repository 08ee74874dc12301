"""Struct layouts: the C compiler's view (the stand-in reports sizeof/offsetof), the ctypes
declarations, and DESIGN section 6 must agree, for the 4.19 and the 4.23 layout."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from feagi_hailo_ros.hailo.structs import (
    C_STRUCTS_COMMON,
    HailoConfigureParams,
    HailoVStreamInfo419,
    HailoVStreamInfo420,
    HailoVStreamParamsByName,
    vstream_info_type,
)

from .conftest import Standin

# DESIGN section 6: hailo_vstream_info_t size and quant_info offset per layout
DESIGN_VSTREAM_INFO = {"4.19": (432, 416), "4.23": (436, 420)}


def _offset(ctype: type, dotted: str) -> int:
    """Byte offset of a (possibly nested, possibly anonymous-union) member of a ctypes struct."""
    total = 0
    for part in dotted.split("."):
        descriptor = getattr(ctype, part)
        total += descriptor.offset
        field_type = dict((name, t) for name, t, *_ in _all_fields(ctype))[part]
        ctype = field_type
    return total


def _all_fields(ctype: type) -> list[tuple]:
    """_fields_ including the members of anonymous unions (which ctypes exposes on the parent)."""
    fields = list(getattr(ctype, "_fields_", []))
    for anon in getattr(ctype, "_anonymous_", ()):
        inner = dict((n, t) for n, t, *_ in fields)[anon]
        fields += list(inner._fields_)
    return fields


@pytest.mark.parametrize("version", ["4.19", "4.23"])
def test_vstream_info_matches_design(standin_libs: dict[str, Path], version: str) -> None:
    """hailo_vstream_info_t size and quant_info offset: C compiler, ctypes and DESIGN section 6 agree."""
    probe = Standin(standin_libs[version])
    size, quant = DESIGN_VSTREAM_INFO[version]
    assert probe.layout("hailo_vstream_info_t") == size
    assert probe.layout("hailo_vstream_info_t", "quant_info") == quant
    major, minor = map(int, version.split("."))
    ctype = vstream_info_type(major, minor)
    assert ctypes.sizeof(ctype) == size
    assert _offset(ctype, "quant_info") == quant


@pytest.mark.parametrize("version", ["4.19", "4.23"])
@pytest.mark.parametrize(
    "field",
    ["name", "network_name", "direction", "format", "format.type", "format.order", "shape",
     "shape.features", "nms_shape", "quant_info", "quant_info.qp_scale"],
)
def test_vstream_info_fields(standin_libs: dict[str, Path], version: str, field: str) -> None:
    """Every hailo_vstream_info_t member offset the binding reads matches the C compiler, per layout."""
    probe = Standin(standin_libs[version])
    ctype = HailoVStreamInfo419 if version == "4.19" else HailoVStreamInfo420
    assert _offset(ctype, field) == probe.layout("hailo_vstream_info_t", field)


def test_fixed_offsets_shared_by_both_layouts() -> None:
    """name, network_name, direction, format and shape sit at the same offsets in both layouts."""
    for ctype in (HailoVStreamInfo419, HailoVStreamInfo420):
        assert [_offset(ctype, f) for f in ("name", "network_name", "direction", "format", "shape")] == \
            [0, 128, 388, 392, 404]


@pytest.mark.parametrize("version", ["4.19", "4.23"])
@pytest.mark.parametrize("struct", sorted(C_STRUCTS_COMMON))
def test_struct_sizes_match_the_c_compiler(standin_libs: dict[str, Path], version: str, struct: str) -> None:
    """sizeof of every struct in C_STRUCTS_COMMON matches the C compiler, for both versions."""
    probe = Standin(standin_libs[version])
    assert ctypes.sizeof(C_STRUCTS_COMMON[struct]) == probe.layout(struct), struct


@pytest.mark.parametrize(
    ("struct", "field", "expected"),
    [
        ("hailo_vdevice_params_t", "device_ids", 8),
        ("hailo_vdevice_params_t", "scheduling_algorithm", 16),
        ("hailo_vdevice_params_t", "group_id", 24),
        ("hailo_vdevice_params_t", "multi_process_service", 32),
        ("hailo_input_vstream_params_by_name_t", "params", 128),
        ("hailo_input_vstream_params_by_name_t", "params.user_buffer_format.type", 128),
        ("hailo_input_vstream_params_by_name_t", "params.timeout_ms", 140),
        ("hailo_input_vstream_params_by_name_t", "params.queue_size", 144),
        ("hailo_output_vstream_params_by_name_t", "params.user_buffer_format.type", 128),
        ("hailo_network_group_info_t", "is_multi_context", 128),
        ("hailo_configure_network_group_params_t", "stream_params_by_name", 152),
        ("hailo_configure_network_group_params_t", "network_params_by_name", 8480),
        ("hailo_configure_params_t", "network_group_params", 8),
        ("hailo_quant_info_t", "qp_scale", 4),
    ],
)
def test_documented_field_offsets(standin_libs: dict[str, Path], struct: str, field: str,
                                  expected: int) -> None:
    """The offsets structs.py documents hold in the C compiler and in ctypes."""
    for version in ("4.19", "4.23"):
        assert Standin(standin_libs[version]).layout(struct, field) == expected
    assert _offset(C_STRUCTS_COMMON[struct], field) == expected


def test_param_struct_sizes() -> None:
    """The buffers the library fills have the sizes structs.py documents (84488, 156, 40 bytes)."""
    # the buffers handed to hailo_init_configure_params_by_vdevice / hailo_make_*_vstream_params
    assert ctypes.sizeof(HailoConfigureParams) == 84488
    assert ctypes.sizeof(HailoVStreamParamsByName) == 156
    assert ctypes.sizeof(C_STRUCTS_COMMON["hailo_vdevice_params_t"]) == 40


@pytest.mark.parametrize("minor", range(17, 24))
def test_layout_choice_by_runtime_version(minor: int) -> None:
    """4.17-4.19 pick the 432-byte layout, 4.20-4.23 the 436-byte one."""
    expected = HailoVStreamInfo419 if minor <= 19 else HailoVStreamInfo420
    assert vstream_info_type(4, minor) is expected


def test_unknown_layout_names_are_reported_as_such(standin_libs: dict[str, Path]) -> None:
    """The stand-in's layout probe answers -1 for unknown structs and fields."""
    probe = Standin(standin_libs["4.23"])
    assert probe.layout("hailo_no_such_t") == -1
    assert probe.layout("hailo_vstream_info_t", "no_such_field") == -1


def test_format_orders_added_in_4_20_have_names() -> None:
    """hailo_format_order_t 21..23 (v4.20.0 on, also v4.23.0) are named, not shown as numbers;
    an order newer than the table is still shown as its number."""
    from feagi_hailo_ros.hailo.structs import FormatOrder, order_name

    assert [order_name(v) for v in (20, 21, 22, 23)] == [
        "HAILO_NMS_WITH_BYTE_MASK", "HAILO_NMS_ON_CHIP", "HAILO_NMS_BY_CLASS", "HAILO_NMS_BY_SCORE"]
    assert [m.value for m in FormatOrder] == list(range(24))
    assert order_name(24) == "24"
