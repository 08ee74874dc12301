"""ctypes declarations of the HailoRT 4.x C structs and enums the binding uses.

Written from hailort/libhailort/include/hailo/hailort.h (and platform.h) of hailo-ai/hailort at
v4.18.0 (01e4c7f5), v4.19.0 (3d673252), v4.20.0 (f4c45c48) and v4.21.0 (0df636dc). The 4.17,
4.22 and 4.23 headers were not available to read: 4.17 is taken to match 4.18 (DESIGN section 6:
432 bytes "up to 4.19"), and 4.22/4.23 to match 4.21, which the 5.x headers (e42f7f8d, 19b04439)
still match for hailo_nms_shape_t, hailo_vstream_info_t and hailo_vdevice_params_t.

Layout facts (LP64: identical on x86_64 and aarch64, both little-endian with the same alignment
rules; the header uses only fixed-width integers, int-sized enums, bool, size_t and pointers):

- `hailo_vstream_info_t` is 432 bytes up to 4.19 and 436 from 4.20, because `hailo_nms_shape_t`
  (in a union with the 12-byte frame shape) grew from three to four uint32 in 4.20. Offsets:
  name 0, network_name 128 (char[257]), direction 388, format 392, shape 404, quant_info 416 -> 420.
  The header has no version macro: pick the layout from the run-time version
  (:func:`vstream_info_type`).
- `hailo_vstream_params_t` 28 bytes; `hailo_{in,out}put_vstream_params_by_name_t` 156 bytes with
  `params.user_buffer_format.type` at 128, `params.timeout_ms` at 140, `params.queue_size` at 144.
- `hailo_vdevice_params_t` 40 bytes; `hailo_network_group_info_t` 129 bytes.
- `hailo_configure_params_t` 84488 bytes (8 x 10560-byte network group params after a size_t).
  It is only ever filled by `hailo_init_configure_params_by_vdevice` and handed back to
  `hailo_configure_vdevice`; the binding treats it as an opaque buffer of that size and declares the
  members only so that ctypes computes the size from the same rules as the C compiler.
"""

from __future__ import annotations

import ctypes
from ctypes import c_bool, c_char, c_float, c_int, c_size_t, c_uint8, c_uint16, c_uint32
from enum import IntEnum

# hailort.h defines
HAILO_MAX_NAME_SIZE = 128
HAILO_MAX_STREAM_NAME_SIZE = HAILO_MAX_NAME_SIZE
HAILO_MAX_NETWORK_GROUP_NAME_SIZE = HAILO_MAX_NAME_SIZE
HAILO_MAX_NETWORK_NAME_SIZE = HAILO_MAX_NETWORK_GROUP_NAME_SIZE + 1 + HAILO_MAX_NAME_SIZE  # 257
HAILO_MAX_DEVICE_ID_LENGTH = 32
HAILO_MAX_STREAMS_COUNT = 40
HAILO_MAX_NETWORK_GROUPS = 8
HAILO_MAX_NETWORKS_IN_NETWORK_GROUP = 8
HAILO_DEFAULT_VSTREAM_QUEUE_SIZE = 2
HAILO_DEFAULT_VSTREAM_TIMEOUT_MS = 10000
HAILO_INFINITE = 0xFFFFFFFF


class FormatType(IntEnum):
    """`hailo_format_type_t`."""

    AUTO = 0
    UINT8 = 1
    UINT16 = 2
    FLOAT32 = 3


class FormatOrder(IntEnum):
    """`hailo_format_order_t` values 0..23. Unknown newer values are kept as plain ints.

    0..20 are in every supported header (v4.17.0 on); 21..23 (NMS on chip, NMS by class, NMS by
    score) were added at v4.20.0 and are in v4.23.0 unchanged, where 9 (HAILO_NMS) is
    documented as deprecated in their favour.
    """

    AUTO = 0
    NHWC = 1
    NHCW = 2
    FCR = 3
    F8CR = 4
    NHW = 5
    NC = 6
    BAYER_RGB = 7
    BIT12_BAYER_RGB = 8  # HAILO_FORMAT_ORDER_12_BIT_BAYER_RGB
    HAILO_NMS = 9
    RGB888 = 10
    NCHW = 11
    YUY2 = 12
    NV12 = 13
    NV21 = 14
    HAILO_YYUV = 15
    HAILO_YYVU = 16
    RGB4 = 17
    I420 = 18
    HAILO_YYYYUV = 19
    HAILO_NMS_WITH_BYTE_MASK = 20
    HAILO_NMS_ON_CHIP = 21  # device side only (4.20+)
    HAILO_NMS_BY_CLASS = 22  # host side, per class: float32 count then bboxes (4.20+)
    HAILO_NMS_BY_SCORE = 23  # host side, all classes: uint16 count then detections (4.20+)


class StreamDirection(IntEnum):
    """`hailo_stream_direction_t`."""

    H2D = 0  # host to device: inputs
    D2H = 1  # device to host: outputs


class SchedulingAlgorithm(IntEnum):
    """`hailo_scheduling_algorithm_t`."""

    NONE = 0
    ROUND_ROBIN = 1


def order_name(order: int) -> str:
    """Name of a `hailo_format_order_t` value: 'NHWC', 'NC', ... or the number (as text) for
    orders newer than this table."""
    try:
        return FormatOrder(order).name
    except ValueError:
        return str(order)


def type_name(fmt_type: int) -> str:
    """Name of a `hailo_format_type_t` value: 'UINT8', 'UINT16', ... or the number (as text) for
    an unknown type."""
    try:
        return FormatType(fmt_type).name
    except ValueError:
        return str(fmt_type)


# --- small structs ----------------------------------------------------------------------------


class HailoVersion(ctypes.Structure):
    """`hailo_version_t`: major, minor, revision (uint32 each; 12 bytes)."""

    _fields_ = [("major", c_uint32), ("minor", c_uint32), ("revision", c_uint32)]


class HailoDeviceId(ctypes.Structure):
    """`hailo_device_id_t`: a NUL-padded id string (PCIe BDF), 32 bytes."""

    _fields_ = [("id", c_char * HAILO_MAX_DEVICE_ID_LENGTH)]


class HailoVDeviceParams(ctypes.Structure):
    """`hailo_vdevice_params_t` (40 bytes), filled by `hailo_init_vdevice_params`."""

    _fields_ = [
        ("device_count", c_uint32),
        ("device_ids", ctypes.POINTER(HailoDeviceId)),
        ("scheduling_algorithm", c_int),
        ("group_id", ctypes.c_char_p),
        ("multi_process_service", c_bool),
    ]


class HailoLayerName(ctypes.Structure):
    """`hailo_layer_name_t`: one NUL-terminated layer name, 128 bytes (the array element of
    `hailo_hef_get_original_names_from_vstream_name`)."""

    _fields_ = [("name", c_char * HAILO_MAX_STREAM_NAME_SIZE)]


class HailoFormat(ctypes.Structure):
    """`hailo_format_t`: type (FormatType), order (FormatOrder), flags; 12 bytes."""

    _fields_ = [("type", c_int), ("order", c_int), ("flags", c_int)]


class HailoQuantInfo(ctypes.Structure):
    """`hailo_quant_info_t`: qp_zp, qp_scale, limvals_min, limvals_max (float32; 16 bytes)."""

    _fields_ = [
        ("qp_zp", c_float),
        ("qp_scale", c_float),
        ("limvals_min", c_float),
        ("limvals_max", c_float),
    ]


class Hailo3dImageShape(ctypes.Structure):
    """`hailo_3d_image_shape_t`: height, width, features (uint32; 12 bytes)."""

    _fields_ = [("height", c_uint32), ("width", c_uint32), ("features", c_uint32)]


class HailoNmsShape419(ctypes.Structure):
    """`hailo_nms_shape_t` up to 4.19: classes, max bboxes per class, max accumulated mask size."""

    _fields_ = [
        ("number_of_classes", c_uint32),
        ("max_bboxes_per_class", c_uint32),
        ("max_accumulated_mask_size", c_uint32),
    ]


class HailoNmsShape420(ctypes.Structure):
    """`hailo_nms_shape_t` from 4.20: one more 32-bit member (4.20 an order_type enum after a
    per-class/total union, 4.21 max_bboxes_total). Only the size matters to this binding."""

    _fields_ = [
        ("number_of_classes", c_uint32),
        ("max_bboxes_per_class", c_uint32),
        ("max_bboxes_total", c_uint32),
        ("max_accumulated_mask_size", c_uint32),
    ]


class _ShapeUnion419(ctypes.Union):
    _fields_ = [("shape", Hailo3dImageShape), ("nms_shape", HailoNmsShape419)]


class _ShapeUnion420(ctypes.Union):
    _fields_ = [("shape", Hailo3dImageShape), ("nms_shape", HailoNmsShape420)]


_VSTREAM_INFO_HEAD = [
    ("name", c_char * HAILO_MAX_STREAM_NAME_SIZE),
    ("network_name", c_char * HAILO_MAX_NETWORK_NAME_SIZE),
    ("direction", c_int),
    ("format", HailoFormat),
]


class HailoVStreamInfo419(ctypes.Structure):
    """`hailo_vstream_info_t`, HailoRT 4.17-4.19: 432 bytes, quant_info at 416."""

    _anonymous_ = ("_u",)
    _fields_ = [*_VSTREAM_INFO_HEAD, ("_u", _ShapeUnion419), ("quant_info", HailoQuantInfo)]


class HailoVStreamInfo420(ctypes.Structure):
    """`hailo_vstream_info_t`, HailoRT 4.20-4.23: 436 bytes, quant_info at 420."""

    _anonymous_ = ("_u",)
    _fields_ = [*_VSTREAM_INFO_HEAD, ("_u", _ShapeUnion420), ("quant_info", HailoQuantInfo)]


HailoVStreamInfo = HailoVStreamInfo419 | HailoVStreamInfo420


def vstream_info_type(major: int, minor: int) -> type[HailoVStreamInfo419] | type[HailoVStreamInfo420]:
    """The `hailo_vstream_info_t` layout of a run-time library version: the 432-byte
    :class:`HailoVStreamInfo419` before 4.20, the 436-byte :class:`HailoVStreamInfo420` from
    4.20 on (DESIGN section 6). Versions outside 4.17..4.23 are refused earlier (library.py)."""
    return HailoVStreamInfo419 if (major, minor) < (4, 20) else HailoVStreamInfo420


class HailoVStreamParams(ctypes.Structure):
    """`hailo_vstream_params_t` (28 bytes): host format, timeout_ms, queue_size, stats flags."""

    _fields_ = [
        ("user_buffer_format", HailoFormat),
        ("timeout_ms", c_uint32),
        ("queue_size", c_uint32),
        ("vstream_stats_flags", c_int),
        ("pipeline_elements_stats_flags", c_int),
    ]


class HailoVStreamParamsByName(ctypes.Structure):
    """`hailo_input_vstream_params_by_name_t` and `hailo_output_vstream_params_by_name_t`
    (identical layouts)."""

    _fields_ = [("name", c_char * HAILO_MAX_STREAM_NAME_SIZE), ("params", HailoVStreamParams)]


class HailoNetworkGroupInfo(ctypes.Structure):
    """`hailo_network_group_info_t` (129 bytes): name and is_multi_context."""

    _fields_ = [("name", c_char * HAILO_MAX_NETWORK_GROUP_NAME_SIZE), ("is_multi_context", c_bool)]


# --- configure params (opaque to the binding; declared for their size) -----------------------


class SockaddrIn(ctypes.Structure):
    """Linux `struct sockaddr_in` (16 bytes, 4-byte aligned)."""

    _fields_ = [
        ("sin_family", c_uint16),
        ("sin_port", c_uint16),
        ("sin_addr", c_uint32),
        ("sin_zero", c_uint8 * 8),
    ]


class _EthInputStreamParams(ctypes.Structure):
    _fields_ = [
        ("host_address", SockaddrIn),
        ("device_port", c_uint16),  # port_t = in_port_t
        ("is_sync_enabled", c_bool),
        ("frames_per_sync", c_uint32),
        ("max_payload_size", c_uint16),
        ("rate_limit_bytes_per_sec", c_uint32),
        ("buffers_threshold", c_uint32),
    ]


class _EthOutputStreamParams(ctypes.Structure):
    _fields_ = [
        ("host_address", SockaddrIn),
        ("device_port", c_uint16),
        ("is_sync_enabled", c_bool),
        ("max_payload_size", c_uint16),
        ("buffers_threshold", c_uint32),
    ]


class _EmptyParams(ctypes.Structure):
    _fields_ = [("reserved", c_uint8)]  # EMPTY_STRUCT_PLACEHOLDER


class _MipiCommonParams(ctypes.Structure):
    _fields_ = [
        ("img_width_pixels", c_uint16),
        ("img_height_pixels", c_uint16),
        ("pixels_per_clock", c_int),
        ("number_of_lanes", c_uint8),
        ("clock_selection", c_int),
        ("virtual_channel_index", c_uint8),
        ("data_rate", c_uint32),
    ]


class _IspParams(ctypes.Structure):
    _fields_ = [
        ("isp_img_in_order", c_int),
        ("isp_img_out_data_type", c_int),
        ("isp_crop_enable", c_bool),
        ("isp_crop_output_width_pixels", c_uint16),
        ("isp_crop_output_height_pixels", c_uint16),
        ("isp_crop_output_width_start_offset_pixels", c_uint16),
        ("isp_crop_output_height_start_offset_pixels", c_uint16),
        ("isp_test_pattern_enable", c_bool),
        ("isp_configuration_bypass", c_bool),
        ("isp_run_time_ae_enable", c_bool),
        ("isp_run_time_awb_enable", c_bool),
        ("isp_run_time_adt_enable", c_bool),
        ("isp_run_time_af_enable", c_bool),
        ("isp_run_time_calculations_interval_ms", c_uint16),
        ("isp_light_frequency", c_int),
    ]


class _MipiInputStreamParams(ctypes.Structure):
    _fields_ = [
        ("mipi_common_params", _MipiCommonParams),
        ("mipi_rx_id", c_uint8),
        ("data_type", c_int),
        ("isp_enable", c_bool),
        ("isp_params", _IspParams),
    ]


class _StreamParamsUnion(ctypes.Union):
    _fields_ = [
        ("pcie_input_params", _EmptyParams),
        ("integrated_input_params", _EmptyParams),
        ("eth_input_params", _EthInputStreamParams),
        ("mipi_input_params", _MipiInputStreamParams),
        ("pcie_output_params", _EmptyParams),
        ("integrated_output_params", _EmptyParams),
        ("eth_output_params", _EthOutputStreamParams),
    ]


class HailoStreamParameters(ctypes.Structure):
    """`hailo_stream_parameters_t` (80 bytes); declared for the size of the configure params."""

    _anonymous_ = ("_u",)
    _fields_ = [("stream_interface", c_int), ("direction", c_int), ("flags", c_int),
                ("_u", _StreamParamsUnion)]


class HailoStreamParametersByName(ctypes.Structure):
    """`hailo_stream_parameters_by_name_t` (208 bytes); declared for its size."""

    _fields_ = [("name", c_char * HAILO_MAX_STREAM_NAME_SIZE), ("stream_params", HailoStreamParameters)]


class HailoNetworkParametersByName(ctypes.Structure):
    """`hailo_network_parameters_by_name_t` (260 bytes); declared for its size."""

    _fields_ = [("name", c_char * HAILO_MAX_NETWORK_NAME_SIZE), ("batch_size", c_uint16)]


class HailoConfigureNetworkGroupParams(ctypes.Structure):
    """`hailo_configure_network_group_params_t` (10560 bytes); only its name is read."""

    _fields_ = [
        ("name", c_char * HAILO_MAX_NETWORK_GROUP_NAME_SIZE),
        ("batch_size", c_uint16),
        ("power_mode", c_int),
        ("latency", c_int),
        ("stream_params_by_name_count", c_size_t),
        ("stream_params_by_name", HailoStreamParametersByName * HAILO_MAX_STREAMS_COUNT),
        ("network_params_by_name_count", c_size_t),
        ("network_params_by_name", HailoNetworkParametersByName * HAILO_MAX_NETWORKS_IN_NETWORK_GROUP),
    ]


class HailoConfigureParams(ctypes.Structure):
    """`hailo_configure_params_t` (84488 bytes): a count and 8 network group params;
    filled by `hailo_init_configure_params_by_vdevice`, passed back unchanged."""

    _fields_ = [
        ("network_group_params_count", c_size_t),
        ("network_group_params", HailoConfigureNetworkGroupParams * HAILO_MAX_NETWORK_GROUPS),
    ]


#: C struct name -> ctypes type (for layout checks against the stand-in); vstream info per layout
C_STRUCTS_COMMON: dict[str, type[ctypes.Structure]] = {
    "hailo_version_t": HailoVersion,
    "hailo_device_id_t": HailoDeviceId,
    "hailo_vdevice_params_t": HailoVDeviceParams,
    "hailo_format_t": HailoFormat,
    "hailo_quant_info_t": HailoQuantInfo,
    "hailo_3d_image_shape_t": Hailo3dImageShape,
    "hailo_vstream_params_t": HailoVStreamParams,
    "hailo_input_vstream_params_by_name_t": HailoVStreamParamsByName,
    "hailo_output_vstream_params_by_name_t": HailoVStreamParamsByName,
    "hailo_network_group_info_t": HailoNetworkGroupInfo,
    "hailo_layer_name_t": HailoLayerName,
    "hailo_eth_input_stream_params_t": _EthInputStreamParams,
    "hailo_mipi_input_stream_params_t": _MipiInputStreamParams,
    "hailo_stream_parameters_t": HailoStreamParameters,
    "hailo_stream_parameters_by_name_t": HailoStreamParametersByName,
    "hailo_network_parameters_by_name_t": HailoNetworkParametersByName,
    "hailo_configure_network_group_params_t": HailoConfigureNetworkGroupParams,
    "hailo_configure_params_t": HailoConfigureParams,
}
