"""Object API over libhailort's synchronous vstream C flow (HailoRT 4.17-4.23, Hailo-8/8L).

The flow (DESIGN section 6)::

    rt = HailoRT()                                   # dlopen + hailo_get_library_version
    rt.scan_devices()                                # hailo_scan_devices
    with rt.create_vdevice() as vdevice, Hef.from_file(rt, "model.hef") as hef:
        (ng,) = vdevice.configure(hef)               # init_configure_params_by_vdevice + configure_vdevice
        with ng.create_vstreams(FormatType.UINT8, FormatType.UINT16) as vs:  # make_*_params + create_*
            vs.inputs["net/input_layer1"].write(x)   # hailo_vstream_write_raw_buffer
            y = vs.outputs["net/dense1"].read()      # hailo_vstream_read_raw_buffer
    # the blocks release the vstreams, then the HEF, then the vdevice: reverse order of creation

The default vdevice runs HailoRT's model scheduler, which activates network groups by itself:
`hailo_activate_network_group` would return HAILO_INVALID_OPERATION (6), so it is never called.

Ownership and release. A VDevice owns its ConfiguredNetworkGroups, which own their vstreams;
closing an owner closes what it owns first (vstreams newest first, then network groups, then the
vdevice). A child object keeps its owner object alive, and the handles themselves are linked
parent-to-child (resource.py), so even finalizers running in arbitrary order inside a garbage
cycle release children before parents. `close()` is idempotent, every object is a context manager,
and `__del__` closes quietly. A released handle is never passed to the library: each object
forgets its handle before releasing it and checks it under its lock before every call, raising
`HailoRTClosed` instead.

Threading rule. Use each vstream from one thread at a time (different vstreams may run in different
threads: a writer thread and a reader thread is the intended pattern for overlapping transfers).
ctypes releases the GIL for the duration of every libhailort call, so a read blocked on the device
does not stall other Python threads. Every call on an object holds that object's lock, so `close()`
from another thread waits for an in-flight read/write (bounded by the vstream's timeout_ms) rather
than freeing the handle under it; still, stop I/O threads before closing, as a blocked peer will
see HailoRTClosed.

Header facts are from hailort/libhailort/include/hailo/hailort.h (hailo-ai/hailort v4.18-v4.21;
the original-names call as declared, unchanged, at v4.17.0, v4.19.0 and v4.23.0); see structs.py
for the layouts and their versions.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from ctypes import POINTER, byref, c_bool, c_char_p, c_int, c_size_t, c_void_p
from typing import Any

from .infos import NetworkGroupInfo, VStreamInfo, VStreamParams, dequantize, enum_or_int
from .library import SYSTEM_DIRS, LoadedLibrary, Version, load_libhailort
from .resource import HailoRTCalls, HailoRTClosed, _Resource
from .status import HAILO_INSUFFICIENT_BUFFER, HailoRTError, check, status_name
from .structs import (
    HAILO_MAX_DEVICE_ID_LENGTH,
    HAILO_MAX_NETWORK_GROUPS,
    HAILO_MAX_STREAMS_COUNT,
    FormatOrder,
    FormatType,
    HailoConfigureParams,
    HailoDeviceId,
    HailoFormat,
    HailoLayerName,
    HailoNetworkGroupInfo,
    HailoVDeviceParams,
    HailoVStreamParamsByName,
    StreamDirection,
    vstream_info_type,
)
from .vstreams import InputVStream, OutputVStream, VStreamSet, _VStream

__all__ = [
    "ConfiguredNetworkGroup",
    "FormatOrder",
    "FormatType",
    "Hef",
    "HailoRT",
    "HailoRTClosed",
    "InputVStream",
    "NetworkGroupInfo",
    "OutputVStream",
    "StreamDirection",
    "VDevice",
    "VStreamInfo",
    "VStreamParams",
    "VStreamSet",
    "dequantize",
]

_S = c_int  # hailo_status is an int-sized enum
#: Length of the first `hailo_layer_name_t` array passed for original names (a layer fused from
#: more ONNX nodes makes the library ask for a larger one, which the binding then passes).
ORIGINAL_NAMES_FIRST_ARRAY = 8
_P = POINTER

# Prototypes of every C function the binding calls (hailort.h). hailo_vstream_info_t pointers are
# void* because the struct's size depends on the run-time version. hailo_activate_network_group is
# deliberately absent (see the module docstring).
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "hailo_scan_devices": (_S, [c_void_p, _P(HailoDeviceId), _P(c_size_t)]),
    "hailo_init_vdevice_params": (_S, [_P(HailoVDeviceParams)]),
    "hailo_create_vdevice": (_S, [_P(HailoVDeviceParams), _P(c_void_p)]),
    "hailo_release_vdevice": (_S, [c_void_p]),
    "hailo_create_hef_file": (_S, [_P(c_void_p), c_char_p]),
    "hailo_create_hef_buffer": (_S, [_P(c_void_p), c_void_p, c_size_t]),
    "hailo_release_hef": (_S, [c_void_p]),
    "hailo_get_network_groups_infos": (_S, [c_void_p, _P(HailoNetworkGroupInfo), _P(c_size_t)]),
    "hailo_hef_get_all_vstream_infos": (_S, [c_void_p, c_char_p, c_void_p, _P(c_size_t)]),
    # (hef, network_group_name or NULL, vstream_name, hailo_layer_name_t[], size_t *inout):
    # the same prototype in the v4.17.0 ... v4.23.0 headers.
    "hailo_hef_get_original_names_from_vstream_name": (
        _S, [c_void_p, c_char_p, c_char_p, _P(HailoLayerName), _P(c_size_t)]),
    "hailo_get_vstream_frame_size": (_S, [c_void_p, _P(HailoFormat), _P(c_size_t)]),
    "hailo_init_configure_params_by_vdevice": (_S, [c_void_p, c_void_p, _P(HailoConfigureParams)]),
    "hailo_configure_vdevice": (
        _S, [c_void_p, c_void_p, _P(HailoConfigureParams), _P(c_void_p), _P(c_size_t)]),
    "hailo_make_input_vstream_params": (
        _S, [c_void_p, c_bool, c_int, _P(HailoVStreamParamsByName), _P(c_size_t)]),
    "hailo_make_output_vstream_params": (
        _S, [c_void_p, c_bool, c_int, _P(HailoVStreamParamsByName), _P(c_size_t)]),
    "hailo_create_input_vstreams": (
        _S, [c_void_p, _P(HailoVStreamParamsByName), c_size_t, _P(c_void_p)]),
    "hailo_create_output_vstreams": (
        _S, [c_void_p, _P(HailoVStreamParamsByName), c_size_t, _P(c_void_p)]),
    "hailo_release_input_vstreams": (_S, [_P(c_void_p), c_size_t]),
    "hailo_release_output_vstreams": (_S, [_P(c_void_p), c_size_t]),
    "hailo_get_input_vstream_info": (_S, [c_void_p, c_void_p]),
    "hailo_get_output_vstream_info": (_S, [c_void_p, c_void_p]),
    "hailo_get_input_vstream_user_format": (_S, [c_void_p, _P(HailoFormat)]),
    "hailo_get_output_vstream_user_format": (_S, [c_void_p, _P(HailoFormat)]),
    "hailo_get_input_vstream_frame_size": (_S, [c_void_p, _P(c_size_t)]),
    "hailo_get_output_vstream_frame_size": (_S, [c_void_p, _P(c_size_t)]),
    "hailo_vstream_write_raw_buffer": (_S, [c_void_p, c_void_p, c_size_t]),
    "hailo_vstream_read_raw_buffer": (_S, [c_void_p, c_void_p, c_size_t]),
}


# --- the library -------------------------------------------------------------------------------


class HailoRT:
    """A loaded libhailort (4.17-4.23). The library stays loaded for the life of the process.

    `lib_path` overrides the search (see library.py); `environ`, `search_dirs` and `find_library`
    exist for tests of the search order. Raises HailoRTNotFound (no loadable library),
    HailoRTVersionError (not 4.17..4.23) or HailoRTError (`hailo_get_library_version` failed).

    Attributes: `path` (the file loaded), `version` (:class:`~.library.Version`) and
    `vstream_info_t`, the `hailo_vstream_info_t` layout of that version. Implements
    :class:`~.resource.HailoRTCalls`, which the object wrappers are typed against.
    """

    def __init__(
        self,
        lib_path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        search_dirs: Sequence[str] = SYSTEM_DIRS,
        find_library: Callable[[str], str | None] | None = ctypes.util.find_library,
    ) -> None:
        loaded: LoadedLibrary = load_libhailort(
            lib_path, environ=environ, search_dirs=search_dirs, find_library=find_library)
        self.path: str = loaded.path
        self.version: Version = loaded.version
        self._cdll = loaded.cdll
        self._functions: dict[str, Any] = {}
        self.vstream_info_t = vstream_info_type(self.version.major, self.version.minor)

    def __repr__(self) -> str:
        return f"HailoRT({self.path!r}, version={self.version})"

    def function(self, name: str) -> Any:
        """The C function `name` with its prototype set, cached.

        Raises HailoRTError (code 7, HAILO_NOT_IMPLEMENTED) when the library does not export it,
        KeyError for a name the binding has no prototype for.
        """
        fn = self._functions.get(name)
        if fn is None:
            try:
                fn = getattr(self._cdll, name)
            except AttributeError:
                raise HailoRTError(7, status_name(7), name, f"{self.path} does not export it") from None
            restype, argtypes = _PROTOTYPES[name]
            fn.restype, fn.argtypes = restype, argtypes
            self._functions[name] = fn
        return fn

    def call(self, name: str, *args: Any, detail: str = "") -> None:
        """Call a libhailort function and raise HailoRTError (code and name) unless it succeeds.

        `args` are passed as ctypes converts them under the function's prototype; `detail` is
        added to the error message (file or vstream name). Returns None.
        """
        check(self.function(name)(*args), name, self.version.major_minor, detail)

    def status(self, name: str, *args: Any) -> int:
        """Call a libhailort function and return its raw `hailo_status` without checking it (for
        retry-on-size loops); a missing function raises as in :meth:`function`."""
        return int(self.function(name)(*args))

    def releaser(self, name: str) -> Callable[[int], None]:
        """A function releasing one handle with `name` (e.g. "hailo_release_hef"); it raises
        HailoRTError when the release call fails."""
        def release(handle: int) -> None:
            self.call(name, handle)
        return release

    # convenience constructors
    def scan_devices(self) -> list[str]:
        """Device ids (PCIe BDFs) of the Hailo devices present; empty when there are none.

        Retries with a larger buffer when there are more than 16. Raises HailoRTError when the
        scan fails (e.g. no driver).
        """
        capacity = 16
        while True:
            ids = (HailoDeviceId * capacity)()
            count = c_size_t(capacity)
            status = self.status("hailo_scan_devices", None, ids, byref(count))
            if status == HAILO_INSUFFICIENT_BUFFER and count.value > capacity:
                capacity = count.value
                continue
            check(status, "hailo_scan_devices", self.version.major_minor)
            return [ids[i].id.decode(errors="replace") for i in range(count.value)]

    def create_vdevice(self, device_ids: Sequence[str] | None = None) -> VDevice:
        """:meth:`VDevice.create` on this library (HailoRTError 74 when no device is free)."""
        return VDevice.create(self, device_ids)

    def hef_from_file(self, path: str | os.PathLike[str]) -> Hef:
        """:meth:`Hef.from_file` on this library."""
        return Hef.from_file(self, path)

    def hef_from_bytes(self, data: bytes | bytearray | memoryview) -> Hef:
        """:meth:`Hef.from_bytes` on this library."""
        return Hef.from_bytes(self, data)


# --- resources ---------------------------------------------------------------------------------


class VDevice(_Resource):
    """`hailo_vdevice` with default parameters (all devices as one, model scheduler on)."""

    _kind = "VDevice"

    @classmethod
    def create(cls, rt: HailoRT, device_ids: Sequence[str] | None = None) -> VDevice:
        """A vdevice with default params (`hailo_init_vdevice_params`, `hailo_create_vdevice`):
        one free device chosen by HailoRT, or exactly the devices `device_ids` names (ids as
        :meth:`HailoRT.scan_devices` returns them; an empty sequence means the default).

        Raises HailoRTError, e.g. 74 HAILO_OUT_OF_PHYSICAL_DEVICES when there is no device or
        another vdevice holds it (a physical device serves one vdevice at a time, DESIGN section
        6); ValueError for an id longer than the 32-byte `hailo_device_id_t`."""
        params = HailoVDeviceParams()
        rt.call("hailo_init_vdevice_params", byref(params))
        ids = None
        if device_ids:
            ids = (HailoDeviceId * len(device_ids))()
            for slot, text in zip(ids, device_ids, strict=True):
                raw = text.encode()
                if len(raw) >= HAILO_MAX_DEVICE_ID_LENGTH:  # the C string needs its NUL
                    raise ValueError(f"device id {text!r} is longer than "
                                     f"{HAILO_MAX_DEVICE_ID_LENGTH - 1} bytes")
                slot.id = raw
            params.device_ids = ctypes.cast(ids, _P(HailoDeviceId))
            params.device_count = len(device_ids)
        handle = c_void_p()
        rt.call("hailo_create_vdevice", byref(params), byref(handle),
                detail=", ".join(device_ids) if device_ids else "")
        del ids  # kept alive until the call returned
        return cls(rt, handle.value)

    def __init__(self, rt: HailoRT, handle: int) -> None:
        super().__init__(rt, handle, rt.releaser("hailo_release_vdevice"))
        self._groups: list[weakref.ref[ConfiguredNetworkGroup]] = []

    @property
    def network_groups(self) -> list[ConfiguredNetworkGroup]:
        """The live network groups configured on this vdevice, in configuration order (raises
        nothing once closed: the list is then empty)."""
        with self._lock:
            return [g for r in self._groups if (g := r()) is not None and not g.closed]

    def configure(self, hef: Hef) -> list[ConfiguredNetworkGroup]:
        """Configure every network group of `hef` with HailoRT's default parameters.

        Returns one ConfiguredNetworkGroup per group, owned by this vdevice (they are not
        activated: the scheduler does that). Raises HailoRTClosed when the vdevice or the HEF is
        closed, HailoRTError when a configure call fails (e.g. the HEF does not fit or targets
        another device).
        """
        with self._lock, hef._lock:
            vdev = self._require_open()
            hef_handle = hef._require_open()
            params = HailoConfigureParams()  # 84488 bytes, filled by the library
            self._rt.call("hailo_init_configure_params_by_vdevice", hef_handle, vdev, byref(params))
            count = min(int(params.network_group_params_count), HAILO_MAX_NETWORK_GROUPS)
            names = [params.network_group_params[i].name.decode(errors="replace")
                     for i in range(count)]
            handles = (c_void_p * HAILO_MAX_NETWORK_GROUPS)()
            n = c_size_t(HAILO_MAX_NETWORK_GROUPS)
            self._rt.call("hailo_configure_vdevice", vdev, hef_handle, byref(params), handles,
                          byref(n), detail=hef.source)
            if len(names) != n.value:  # defensive: fall back to the HEF's own order
                names = [info.name for info in hef.network_group_infos()]
            groups = [ConfiguredNetworkGroup(self._rt, handles[i], self, names[i])
                      for i in range(n.value)]
            self._groups = [r for r in self._groups if r() is not None]
            self._groups += [weakref.ref(g) for g in groups]
            return groups


class Hef(_Resource):
    """`hailo_hef`: a compiled model loaded from a file or from memory.

    `source` is the path, or `<N bytes>` for a buffer (shown in messages). The HEF is released
    on close; network groups configured from it do not depend on it afterwards.
    """

    _kind = "Hef"

    def __init__(self, rt: HailoRT, handle: int, source: str) -> None:
        self.source = source
        super().__init__(rt, handle, rt.releaser("hailo_release_hef"))

    def _describe(self) -> str:
        return self.source

    @classmethod
    def from_file(cls, rt: HailoRT, path: str | os.PathLike[str]) -> Hef:
        """`hailo_create_hef_file`. Raises HailoRTError; a real 4.23 answers 13 for a missing
        file, 14 for an empty file or a directory, 92 for a file that is not a HEF (DESIGN
        section 6)."""
        handle = c_void_p()
        name = os.fspath(path)
        rt.call("hailo_create_hef_file", byref(handle), os.fsencode(name), detail=name)
        return cls(rt, handle.value, name)

    @classmethod
    def from_bytes(cls, rt: HailoRT, data: bytes | bytearray | memoryview) -> Hef:
        """`hailo_create_hef_buffer` on a copy of `data`. Raises HailoRTError (92 on 4.23 for
        bytes that are not a HEF), ValueError for an empty buffer.

        An empty buffer is refused here, before the library sees it: a real libhailort 4.23
        crashes the process on a size of 0 (a memcpy in its HEF reader, DESIGN section 6).
        """
        blob = bytes(data)
        if not blob:
            raise ValueError("an empty buffer is not a HEF (refused before hailo_create_hef_buffer, "
                             "which crashes on a size of 0)")
        handle = c_void_p()
        rt.call("hailo_create_hef_buffer", byref(handle), c_char_p(blob), len(blob),
                detail=f"{len(blob)}-byte buffer")
        return cls(rt, handle.value, f"<{len(blob)} bytes>")

    def network_group_infos(self) -> list[NetworkGroupInfo]:
        """The network groups in the HEF, in its order (at most 8). Raises HailoRTClosed,
        HailoRTError."""
        with self._lock:
            handle = self._require_open()
            infos = (HailoNetworkGroupInfo * HAILO_MAX_NETWORK_GROUPS)()
            n = c_size_t(HAILO_MAX_NETWORK_GROUPS)
            self._rt.call("hailo_get_network_groups_infos", handle, infos, byref(n))
            return [NetworkGroupInfo(infos[i].name.decode(errors="replace"),
                                     bool(infos[i].is_multi_context)) for i in range(n.value)]

    def vstream_infos(self, network_group: str | None = None) -> list[VStreamInfo]:
        """Inputs and outputs of a network group (the first one if None), as the HEF describes them.

        Needs no device. Raises HailoRTClosed, HailoRTError (e.g. for an unknown group name).
        """
        with self._lock:
            handle = self._require_open()
            info_t = self._rt.vstream_info_t
            name = network_group.encode() if network_group is not None else None
            capacity = HAILO_MAX_STREAMS_COUNT
            while True:
                arr = (info_t * capacity)()
                n = c_size_t(capacity)
                status = self._rt.status("hailo_hef_get_all_vstream_infos", handle, name, arr,
                                         byref(n))
                if status == HAILO_INSUFFICIENT_BUFFER and n.value > capacity:
                    capacity = n.value
                    continue
                check(status, "hailo_hef_get_all_vstream_infos", self._rt.version.major_minor,
                      network_group or "")
                return [VStreamInfo.from_struct(arr[i]) for i in range(n.value)]

    def original_names(self, vstream_name: str, network_group: str | None = None) -> list[str]:
        """The names the model given to Hailo's compiler had for `vstream_name` (e.g. the ONNX
        nodes a compiled layer came from), in the HEF's order; `network_group` None means the
        first group. `hailo_hef_get_original_names_from_vstream_name`; needs no device.

        A compiled HEF names its vstreams `<network group>/<layer>` (`net/input_layer1`,
        `net/fc1`), so this is how a vstream is tied back to the ONNX model (DESIGN section 6).
        Retries with a larger array when the library asks for one. Raises HailoRTClosed,
        HailoRTError (61 HAILO_NOT_FOUND for a name that is no vstream of the group).
        """
        with self._lock:
            handle = self._require_open()
            group = network_group.encode() if network_group is not None else None
            capacity = ORIGINAL_NAMES_FIRST_ARRAY
            while True:
                names = (HailoLayerName * capacity)()
                n = c_size_t(capacity)
                status = self._rt.status("hailo_hef_get_original_names_from_vstream_name", handle,
                                         group, vstream_name.encode(), names, byref(n))
                if status == HAILO_INSUFFICIENT_BUFFER and n.value > capacity:
                    capacity = n.value
                    continue
                check(status, "hailo_hef_get_original_names_from_vstream_name",
                      self._rt.version.major_minor, vstream_name)
                return [names[i].name.decode(errors="replace") for i in range(n.value)]

    def frame_size(self, info: VStreamInfo, format_type: FormatType | int = FormatType.AUTO) -> int:
        """Bytes of one host frame of `info` in `format_type` (AUTO: the HEF's own type).

        `info` must come from this library (:meth:`vstream_infos`); its format order is kept.
        Raises HailoRTError.
        """
        raw = self._rt.vstream_info_t.from_buffer_copy(info._raw)
        fmt = HailoFormat(int(format_type), int(info.format_order), 0)
        size = c_size_t()
        self._rt.call("hailo_get_vstream_frame_size", byref(raw), byref(fmt), byref(size))
        return int(size.value)


class ConfiguredNetworkGroup(_Resource):
    """`hailo_configured_network_group`, owned by its VDevice (the C API has no release call for
    it: it lives until the vdevice is released). Closing it releases the vstreams it created."""

    _kind = "ConfiguredNetworkGroup"

    def __init__(self, rt: HailoRTCalls, handle: int, vdevice: VDevice, name: str) -> None:
        self.name = name
        super().__init__(rt, handle, None, vdevice)  # nothing to release: the vdevice owns it

    def _describe(self) -> str:
        return self.name

    def _make_params(self, function: str, format_type: FormatType | int, timeout_ms: int | None,
                     queue_size: int | None) -> list[VStreamParams]:
        with self._lock:
            handle = self._require_open()
            capacity = HAILO_MAX_STREAMS_COUNT
            while True:
                arr = (HailoVStreamParamsByName * capacity)()
                n = c_size_t(capacity)
                # the bool ("quantized" in older headers, "unused" since) is ignored by 4.17+
                status = self._rt.status(function, handle, False, int(format_type), arr, byref(n))
                if status == HAILO_INSUFFICIENT_BUFFER and n.value > capacity:
                    capacity = n.value
                    continue
                check(status, function, self._rt.version.major_minor, self.name)
                params = [VStreamParams.from_struct(arr[i]) for i in range(n.value)]
                break
        for p in params:
            if timeout_ms is not None:
                p.timeout_ms = int(timeout_ms)
            if queue_size is not None:
                p.queue_size = int(queue_size)
        return params

    def make_input_vstream_params(self, format_type: FormatType | int = FormatType.UINT8, *,
                                  timeout_ms: int | None = None,
                                  queue_size: int | None = None) -> list[VStreamParams]:
        """Default params of every input vstream, with host format type `format_type`.

        `timeout_ms`/`queue_size` override HailoRT's defaults when given. The list can be edited
        before :meth:`create_input_vstreams`. Raises HailoRTClosed, HailoRTError.
        """
        return self._make_params("hailo_make_input_vstream_params", format_type, timeout_ms,
                                 queue_size)

    def make_output_vstream_params(self, format_type: FormatType | int = FormatType.UINT8, *,
                                   timeout_ms: int | None = None,
                                   queue_size: int | None = None) -> list[VStreamParams]:
        """Default params of every output vstream, with host format type `format_type`.

        As :meth:`make_input_vstream_params`, for the outputs.
        """
        return self._make_params("hailo_make_output_vstream_params", format_type, timeout_ms,
                                 queue_size)

    def _create(self, function: str, params: Sequence[VStreamParams], cls: type[_VStream]) -> list:
        if not params:
            return []
        arr = (HailoVStreamParamsByName * len(params))()
        for p, s in zip(params, arr, strict=True):
            p.fill(s)
        with self._lock:
            handle = self._require_open()
            handles = (c_void_p * len(params))()
            self._rt.call(function, handle, arr, len(params), handles, detail=self.name)
            created: list[_VStream] = []
            try:
                for i, p in enumerate(params):
                    created.append(cls(self._rt, handles[i], self, p.name))
            except BaseException:
                # describing a vstream failed: release the wrapped ones and the raw rest, once each
                for v in created:
                    v.close()
                cls._release_many(self._rt, [handles[i] for i in range(len(created), len(params))])
                raise
            return created

    def create_input_vstreams(self, params: Sequence[VStreamParams]) -> list[InputVStream]:
        """Create input vstreams from `params` (in that order), owned by this group.

        On failure nothing stays allocated. Raises HailoRTClosed, HailoRTError (also for a host
        format type the binding does not support), ValueError for a name too long.
        """
        return self._create("hailo_create_input_vstreams", params, InputVStream)

    def create_output_vstreams(self, params: Sequence[VStreamParams]) -> list[OutputVStream]:
        """As :meth:`create_input_vstreams`, for output vstreams."""
        return self._create("hailo_create_output_vstreams", params, OutputVStream)

    def create_vstreams(
        self,
        input_format: FormatType | int = FormatType.UINT8,
        output_format: FormatType | int = FormatType.UINT8,
        *,
        output_formats: Mapping[str, FormatType | int] | None = None,
        timeout_ms: int | None = None,
        queue_size: int | None = None,
    ) -> VStreamSet:
        """All input and output vstreams of this group, as a VStreamSet (context manager).

        `output_formats` overrides the host format type per output name (e.g. UINT16 only for
        layers whose fan-in exceeds 255); `timeout_ms`/`queue_size` apply to every vstream.
        Raises KeyError for an `output_formats` name that is not an output, HailoRTClosed and
        HailoRTError; on failure the inputs already created are released.
        """
        in_params = self.make_input_vstream_params(input_format, timeout_ms=timeout_ms,
                                                   queue_size=queue_size)
        out_params = self.make_output_vstream_params(output_format, timeout_ms=timeout_ms,
                                                     queue_size=queue_size)
        overrides = dict(output_formats or {})
        unknown = set(overrides) - {p.name for p in out_params}
        if unknown:
            raise KeyError(f"no output vstream named {sorted(unknown)} in {self.name}")
        for p in out_params:
            if p.name in overrides:
                p.format_type = enum_or_int(FormatType, int(overrides[p.name]))
        inputs = self.create_input_vstreams(in_params)
        try:
            outputs = self.create_output_vstreams(out_params)
        except BaseException:
            for v in reversed(inputs):
                v.close()
            raise
        return VStreamSet(inputs, outputs)
