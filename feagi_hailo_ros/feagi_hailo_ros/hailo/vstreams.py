"""Input and output virtual streams: `hailo_vstream_write_raw_buffer` / `..._read_raw_buffer`
on numpy frames, plus VStreamSet, which releases a group of vstreams together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from ctypes import byref, c_size_t, c_void_p

import numpy as np

from .infos import VStreamInfo, enum_or_int
from .resource import HailoRTCalls, _Resource
from .status import HailoRTError, status_name
from .structs import FormatOrder, FormatType, HailoFormat, type_name

_DTYPES: dict[int, np.dtype] = {
    FormatType.UINT8: np.dtype(np.uint8),
    FormatType.UINT16: np.dtype(np.uint16),
    FormatType.FLOAT32: np.dtype(np.float32),
}


class _VStream(_Resource):
    """Shared parts of input and output vstreams."""

    _kind = "vstream"
    _prefix = ""

    def __init__(self, rt: HailoRTCalls, handle: int, ng: _Resource, name: str) -> None:
        # Describe the vstream before taking ownership of the handle: if a query fails, the caller
        # still owns the handle and releases it exactly once.
        self.name = name
        raw = rt.vstream_info_t()
        rt.call(f"hailo_get_{self._prefix}_vstream_info", handle, byref(raw))
        self.info: VStreamInfo = VStreamInfo.from_struct(raw)
        fmt = HailoFormat()
        rt.call(f"hailo_get_{self._prefix}_vstream_user_format", handle, byref(fmt))
        self.format_type: FormatType | int = enum_or_int(FormatType, fmt.type)
        self.format_order: FormatOrder | int = enum_or_int(FormatOrder, fmt.order)
        size = c_size_t()
        rt.call(f"hailo_get_{self._prefix}_vstream_frame_size", handle, byref(size))
        self.frame_size: int = int(size.value)
        if fmt.type not in _DTYPES:
            raise HailoRTError(2, status_name(2), f"hailo_get_{self._prefix}_vstream_user_format",
                               f"{name}: host format type {fmt.type} is not supported here")
        self.dtype: np.dtype = _DTYPES[fmt.type]
        elements = self.frame_size // self.dtype.itemsize
        shape = self.info.host_shape
        self.shape: tuple[int, ...] = shape if int(np.prod(shape)) == elements else (elements,)
        super().__init__(rt, handle, self._releaser(rt), ng)

    def _describe(self) -> str:
        return self.name

    @classmethod
    def _release_many(cls, rt: HailoRTCalls, handles: Sequence[int]) -> None:
        if handles:
            arr = (c_void_p * len(handles))(*handles)
            rt.call(f"hailo_release_{cls._prefix}_vstreams", arr, len(handles))

    @classmethod
    def _releaser(cls, rt: HailoRTCalls) -> Callable[[int], None]:
        def release(handle: int) -> None:
            cls._release_many(rt, [handle])
        return release

    @property
    def qp_scale(self) -> float:
        """Quantization scale of the vstream (from its info)."""
        return self.info.qp_scale

    @property
    def qp_zp(self) -> float:
        """Quantization zero point of the vstream (from its info)."""
        return self.info.qp_zp

    def _check_frame(self, arr: np.ndarray, what: str) -> None:
        if arr.dtype != self.dtype:
            raise TypeError(f"{self.name} {what} {self.dtype} frames (host format "
                            f"{type_name(self.format_type)}), got {arr.dtype}")
        if arr.nbytes != self.frame_size:
            raise ValueError(f"{self.name} {what} frames of {self.frame_size // self.dtype.itemsize} "
                             f"elements {self.shape}, got {arr.size} {arr.shape}")


class InputVStream(_VStream):
    """`hailo_input_vstream`: host-to-device frames."""

    _kind = "InputVStream"
    _prefix = "input"

    def write(self, frame: np.ndarray) -> None:
        """Send one frame (any shape with the right element count, dtype of the host format;
        bool is accepted for UINT8 spikes). Blocks while the vstream's queue is full.

        Raises TypeError for another dtype, ValueError for another size, HailoRTClosed when the
        vstream (or its owner) is closed, HailoRTError when the write fails (e.g. 4 HAILO_TIMEOUT).
        """
        arr = np.asarray(frame)
        if arr.dtype == np.bool_ and self.dtype == np.uint8:
            arr = arr.view(np.uint8)  # same bytes, 0/1
        self._check_frame(arr, "takes")
        arr = np.ascontiguousarray(arr)
        with self._lock:
            handle = self._require_open()
            self._rt.call("hailo_vstream_write_raw_buffer", handle, arr.ctypes.data_as(c_void_p),
                          self.frame_size, detail=self.name)


class OutputVStream(_VStream):
    """`hailo_output_vstream`: device-to-host frames."""

    _kind = "OutputVStream"
    _prefix = "output"

    def read(self, out: np.ndarray | None = None) -> np.ndarray:
        """Receive one frame: a new array of `shape`/`dtype`, or into `out` (C-contiguous,
        writeable, same dtype and size) to avoid an allocation per burst. Blocks until the frame
        is ready or the vstream's timeout_ms passes (HAILO_TIMEOUT).

        Returns the frame (`out` itself when given). Raises TypeError / ValueError for an `out`
        of the wrong dtype, size or memory layout, HailoRTClosed, HailoRTError.
        """
        if out is None:
            out = np.empty(self.shape, dtype=self.dtype)
        else:
            self._check_frame(out, "returns")
            if not (out.flags.c_contiguous and out.flags.writeable):
                raise ValueError(f"{self.name}: `out` must be C-contiguous and writeable")
        with self._lock:
            handle = self._require_open()
            self._rt.call("hailo_vstream_read_raw_buffer", handle, out.ctypes.data_as(c_void_p),
                          self.frame_size, detail=self.name)
        return out

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        """`(raw - qp_zp) * qp_scale` with this output's quantization, as float32 of `raw`'s
        shape."""
        return self.info.dequantize(raw)


class VStreamSet:
    """The input and output vstreams of one network group, by name. Closing it releases the outputs
    and then the inputs (newest first); use it as a context manager so that, nested inside the
    vdevice and HEF blocks, everything is released in exact reverse order of creation."""

    def __init__(self, inputs: Sequence[InputVStream], outputs: Sequence[OutputVStream]) -> None:
        self.inputs: dict[str, InputVStream] = {v.name: v for v in inputs}
        self.outputs: dict[str, OutputVStream] = {v.name: v for v in outputs}

    def close(self) -> None:
        """Close the outputs, then the inputs, newest first; idempotent. Every vstream is closed
        even when one fails; the first error is raised afterwards."""
        first_error: Exception | None = None
        for v in [*reversed(list(self.outputs.values())), *reversed(list(self.inputs.values()))]:
            try:
                v.close()
            except Exception as exc:  # release the rest before reporting
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    @property
    def closed(self) -> bool:
        """True when every vstream of the set is closed."""
        return all(v.closed for v in [*self.inputs.values(), *self.outputs.values()])

    def __enter__(self) -> VStreamSet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
