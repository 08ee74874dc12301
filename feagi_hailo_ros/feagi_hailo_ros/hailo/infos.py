"""Plain data decoded from HailoRT structs: network group and vstream descriptions, vstream
parameters, and the output dequantization rule. No library calls here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .structs import (
    HAILO_MAX_STREAM_NAME_SIZE,
    FormatOrder,
    FormatType,
    HailoVStreamParamsByName,
    StreamDirection,
    order_name,
    type_name,
)


def enum_or_int(enum_type: type, value: int) -> Any:
    """`enum_type(value)`, or `int(value)` when the enum has no such member (values that newer
    HailoRT releases added are kept rather than refused)."""
    try:
        return enum_type(value)
    except ValueError:
        return int(value)


def dequantize(raw: np.ndarray, qp_scale: float, qp_zp: float) -> np.ndarray:
    """HailoRT's output transformation: `(raw - qp_zp) * qp_scale`, as float32.

    `raw` is any array (e.g. uint8/uint16 frames); the result has its shape, dtype float32.
    """
    return (np.asarray(raw, dtype=np.float32) - np.float32(qp_zp)) * np.float32(qp_scale)


# --- plain data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkGroupInfo:
    """`hailo_network_group_info_t`: the group's name and whether it needs several contexts."""

    name: str
    is_multi_context: bool


@dataclass(frozen=True)
class VStreamInfo:
    """A decoded `hailo_vstream_info_t` (either layout).

    `shape` is the HEF's (height, width, features); `format_type`/`format_order` are enum
    members, or plain ints for values newer than structs.py knows; `qp_scale`/`qp_zp` the
    quantization of the vstream (see :func:`dequantize`).
    """

    name: str
    network_name: str
    direction: StreamDirection
    format_type: FormatType | int
    format_order: FormatOrder | int
    shape: tuple[int, int, int]  # (height, width, features)
    qp_scale: float
    qp_zp: float
    limvals_min: float
    limvals_max: float
    _raw: bytes = field(default=b"", repr=False, compare=False)  # the C struct, for frame-size calls

    @classmethod
    def from_struct(cls, s: Any) -> VStreamInfo:
        """Decode a `HailoVStreamInfo419`/`420` (names as UTF-8 with replacement, the raw bytes
        kept for later frame-size calls). Raises ValueError for an unknown stream direction."""
        return cls(
            name=s.name.decode(errors="replace"),
            network_name=s.network_name.decode(errors="replace"),
            direction=StreamDirection(s.direction),
            format_type=enum_or_int(FormatType, s.format.type),
            format_order=enum_or_int(FormatOrder, s.format.order),
            shape=(int(s.shape.height), int(s.shape.width), int(s.shape.features)),
            qp_scale=float(s.quant_info.qp_scale),
            qp_zp=float(s.quant_info.qp_zp),
            limvals_min=float(s.quant_info.limvals_min),
            limvals_max=float(s.quant_info.limvals_max),
            _raw=bytes(s),
        )

    @property
    def is_input(self) -> bool:
        """True for a host-to-device (input) vstream."""
        return self.direction == StreamDirection.H2D

    @property
    def host_shape(self) -> tuple[int, ...]:
        """numpy shape of one frame on the host: (features,) for NC, (h, w) for NHW, else (h, w, f)."""
        h, w, f = self.shape
        if self.format_order == FormatOrder.NC:
            return (f,)
        if self.format_order == FormatOrder.NHW:
            return (h, w)
        return (h, w, f)

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        """:func:`dequantize` with this vstream's `qp_scale` and `qp_zp` (float32, shape of `raw`)."""
        return dequantize(raw, self.qp_scale, self.qp_zp)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (names for enums)."""
        return {
            "name": self.name,
            "network_name": self.network_name,
            "direction": self.direction.name,
            "shape": list(self.shape),
            "format_type": type_name(self.format_type),
            "format_order": order_name(self.format_order),
            "qp_scale": self.qp_scale,
            "qp_zp": self.qp_zp,
        }


@dataclass
class VStreamParams:
    """One `hailo_*_vstream_params_by_name_t`, as made by `hailo_make_*_vstream_params`.

    Change `format_type`, `timeout_ms` or `queue_size` (documented members) before creating the
    vstreams; the other members are carried through unchanged.
    """

    name: str
    format_type: FormatType | int
    format_order: FormatOrder | int
    format_flags: int
    timeout_ms: int
    queue_size: int
    vstream_stats_flags: int = 0
    pipeline_elements_stats_flags: int = 0

    @classmethod
    def from_struct(cls, s: HailoVStreamParamsByName) -> VStreamParams:
        """Decode one entry filled by `hailo_make_{input,output}_vstream_params`."""
        p = s.params
        return cls(
            name=s.name.decode(errors="replace"),
            format_type=enum_or_int(FormatType, p.user_buffer_format.type),
            format_order=enum_or_int(FormatOrder, p.user_buffer_format.order),
            format_flags=int(p.user_buffer_format.flags),
            timeout_ms=int(p.timeout_ms),
            queue_size=int(p.queue_size),
            vstream_stats_flags=int(p.vstream_stats_flags),
            pipeline_elements_stats_flags=int(p.pipeline_elements_stats_flags),
        )

    def fill(self, s: HailoVStreamParamsByName) -> None:
        """Write these params into `s` for `hailo_create_{input,output}_vstreams`.

        Raises ValueError when the UTF-8 name does not fit the C field with its terminating NUL
        (`HAILO_MAX_STREAM_NAME_SIZE` - 1 bytes).
        """
        raw = self.name.encode()
        if len(raw) >= HAILO_MAX_STREAM_NAME_SIZE:  # room for the terminating NUL
            raise ValueError(f"vstream name too long: {self.name!r}")
        s.name = raw
        p = s.params
        p.user_buffer_format.type = int(self.format_type)
        p.user_buffer_format.order = int(self.format_order)
        p.user_buffer_format.flags = int(self.format_flags)
        p.timeout_ms = int(self.timeout_ms)
        p.queue_size = int(self.queue_size)
        p.vstream_stats_flags = int(self.vstream_stats_flags)
        p.pipeline_elements_stats_flags = int(self.pipeline_elements_stats_flags)
