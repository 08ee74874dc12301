"""Writer (and numpy reference) for the stand-in's test-only "HEF" format.

Real HEFs come out of Hailo's Dataflow Compiler and cannot be produced here, so the C stand-in
(`hailort_standin.c`) executes this small format instead. It carries exactly what the binding has to
discover through HailoRT's API (network groups, vstream names, shapes, format type and order,
quantization) plus a model that gives exact integer results: a 0/1 dense matrix (`y = A @ x`) or a
0/1 convolution with the grid's z-axis as channels (channels-last, 'same' zero padding, stride 1).

Names follow Hailo's compiler: a vstream is called `<network group>/<layer>` (`net/input_layer1`,
`net/fc1`, `net/conv1`), and the names the model had before compiling (the ONNX input and
nodes) are kept beside it as its *original names*, which the stand-in answers through
`hailo_hef_get_original_names_from_vstream_name` (DESIGN section 6). :func:`layer_name` gives
the compiler-style names.

Layout (little-endian)::

    b"FHSTDHEF"  u32 format_version (=2)  u32 n_network_groups
    per network group:
        name  u32 fail_after  u32 fail_status  u32 n_inputs  u32 n_outputs
        per input:  name originals u32 h u32 w u32 c u32 order f32 qp_scale f32 qp_zp
                    u32 native_type (=UINT8)
        per output: name originals u32 h u32 w u32 c u32 order f32 qp_scale f32 qp_zp
                    u32 native_type u32 input_index u32 kind
                    kind 1 (dense): u32 rows u32 cols, rows*cols bytes of 0/1 (row-major)
                    kind 2 (conv):  u32 kh u32 kw u32 cin u32 cout, kh*kw*cin*cout bytes of 0/1
    name = u32 length + UTF-8 bytes (1..127)
    originals = u32 count (0..8) + count names

`fail_after` > 0 makes the group fail after that many complete bursts with `fail_status`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"FHSTDHEF"
FORMAT_VERSION = 2
MAX_ORIGINAL_NAMES = 8

# hailo_format_type_t / hailo_format_order_t values (hailort.h)
UINT8 = 1
UINT16 = 2
ORDER_NHWC = 1
ORDER_NC = 6

_KIND_DENSE = 1
_KIND_CONV = 2


@dataclass(frozen=True)
class Dense:
    """0/1 adjacency `weights[out, in]`: output neuron `r` counts the active inputs it listens to."""

    weights: np.ndarray

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        if w.ndim != 2 or not np.isin(w, (0, 1)).all():
            raise ValueError("dense weights must be a 2-D 0/1 matrix")


@dataclass(frozen=True)
class Conv:
    """0/1 kernel `kernel[kh, kw, cin, cout]` (odd kh, kw), 'same' padding, stride 1."""

    kernel: np.ndarray

    def __post_init__(self) -> None:
        k = np.asarray(self.kernel)
        if k.ndim != 4 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
            raise ValueError("conv kernel must be (kh, kw, cin, cout) with odd kh and kw")
        if not np.isin(k, (0, 1)).all():
            raise ValueError("conv kernel must be 0/1")


def layer_name(group: str, kind: str, index: int = 1) -> str:
    """A vstream name as Hailo's compiler gives it: `<group>/<kind><index>` (kind `input_layer`,
    `fc`, `conv`, ...; layers of a kind are numbered from 1 in model order)."""
    return f"{group}/{kind}{index}"


@dataclass(frozen=True)
class InputSpec:
    """An input vstream. Dense models take shape (1, 1, n) in NC order; conv takes (h, w, c) NHWC.

    `original_names`: the names the model had before compiling (e.g. the ONNX input)."""

    name: str
    shape: tuple[int, int, int]
    order: int = ORDER_NC
    qp_scale: float = 1.0
    qp_zp: float = 0.0
    original_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputSpec:
    """An output vstream computed from input `input_index` by `model`; `original_names` as for
    :class:`InputSpec` (e.g. the ONNX node the layer was compiled from)."""

    name: str
    model: Dense | Conv
    input_index: int = 0
    native_type: int = UINT8
    qp_scale: float = 1.0
    qp_zp: float = 0.0
    original_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkGroupSpec:
    """One network group: its vstreams, and an optional failure after `fail_after` bursts."""

    name: str
    inputs: list[InputSpec]
    outputs: list[OutputSpec]
    fail_after: int = 0
    fail_status: int = 0


def _name(s: str) -> bytes:
    raw = s.encode()
    if not 0 < len(raw) < 128:
        raise ValueError(f"name {s!r} must be 1..127 bytes")
    return struct.pack("<I", len(raw)) + raw


def _originals(names: tuple[str, ...]) -> bytes:
    if len(names) > MAX_ORIGINAL_NAMES:
        raise ValueError(f"at most {MAX_ORIGINAL_NAMES} original names, got {len(names)}")
    return struct.pack("<I", len(names)) + b"".join(_name(n) for n in names)


def output_shape(out: OutputSpec, inputs: list[InputSpec]) -> tuple[int, int, int]:
    """Shape (h, w, c) of an output, derived from its model and input."""
    src = inputs[out.input_index]
    if isinstance(out.model, Dense):
        return (1, 1, int(np.asarray(out.model.weights).shape[0]))
    h, w, _ = src.shape
    return (h, w, int(np.asarray(out.model.kernel).shape[3]))


def output_order(out: OutputSpec) -> int:
    """Format order of an output: NC for dense, NHWC for conv."""
    return ORDER_NC if isinstance(out.model, Dense) else ORDER_NHWC


def build_hef(groups: list[NetworkGroupSpec]) -> bytes:
    """Serialize network groups into stand-in HEF bytes (layout in the module docstring).

    Raises ValueError for a name outside 1..127 UTF-8 bytes or more than 8 original names.
    """
    parts = [MAGIC, struct.pack("<II", FORMAT_VERSION, len(groups))]
    for g in groups:
        parts += [_name(g.name), struct.pack("<IIII", g.fail_after, g.fail_status, len(g.inputs),
                                             len(g.outputs))]
        for i in g.inputs:
            parts += [_name(i.name), _originals(i.original_names),
                      struct.pack("<IIII", *i.shape, i.order),
                      struct.pack("<ff", i.qp_scale, i.qp_zp), struct.pack("<I", UINT8)]
        for o in g.outputs:
            shape = output_shape(o, g.inputs)
            parts += [_name(o.name), _originals(o.original_names),
                      struct.pack("<IIII", *shape, output_order(o)),
                      struct.pack("<ff", o.qp_scale, o.qp_zp), struct.pack("<I", o.native_type),
                      struct.pack("<I", o.input_index)]
            if isinstance(o.model, Dense):
                w = np.asarray(o.model.weights, dtype=np.uint8)
                parts += [struct.pack("<III", _KIND_DENSE, *w.shape), w.tobytes()]
            else:
                k = np.asarray(o.model.kernel, dtype=np.uint8)
                parts += [struct.pack("<IIIII", _KIND_CONV, *k.shape), k.tobytes()]
    return b"".join(parts)


def write_hef(path: str | Path, groups: list[NetworkGroupSpec]) -> Path:
    """:func:`build_hef` written to `path`; returns the path."""
    path = Path(path)
    path.write_bytes(build_hef(groups))
    return path


def reference(out: OutputSpec, x: np.ndarray) -> np.ndarray:
    """What the stand-in returns for input `x`, computed with numpy (int64, saturated like the
    device's output layer: 255 for UINT8, 65535 for UINT16), in the output's host shape."""
    limit = 65535 if out.native_type == UINT16 else 255
    if isinstance(out.model, Dense):
        a = np.asarray(out.model.weights, dtype=np.int64)
        y = a @ np.asarray(x, dtype=np.int64).reshape(-1)
    else:
        k = np.asarray(out.model.kernel, dtype=np.int64)
        kh, kw, _, cout = k.shape
        xi = np.asarray(x, dtype=np.int64)
        h, w, _ = xi.shape
        padded = np.pad(xi, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
        y = np.zeros((h, w, cout), dtype=np.int64)
        for dy in range(kh):
            for dx in range(kw):
                y += padded[dy:dy + h, dx:dx + w, :] @ k[dy, dx]
    return np.minimum(y, limit)


def dense_group(name: str, weights: np.ndarray, *, native_type: int = UINT8, qp_scale: float = 1.0,
                qp_zp: float = 0.0, fail_after: int = 0, fail_status: int = 0) -> NetworkGroupSpec:
    """One input (1, 1, n_in) NC -> one dense output (1, 1, n_out) NC, named like a compiled
    ONNX graph `spikes -> dense`: vstreams `<name>/input_layer1` and `<name>/fc1`."""
    w = np.asarray(weights)
    return NetworkGroupSpec(
        name=name,
        inputs=[InputSpec(layer_name(name, "input_layer"), (1, 1, int(w.shape[1])), ORDER_NC,
                          original_names=("spikes",))],
        outputs=[OutputSpec(layer_name(name, "fc"), Dense(w), 0, native_type, qp_scale, qp_zp,
                            original_names=("dense",))],
        fail_after=fail_after,
        fail_status=fail_status,
    )


def conv_group(name: str, kernel: np.ndarray, hw: tuple[int, int], *, native_type: int = UINT8,
               fail_after: int = 0, fail_status: int = 0) -> NetworkGroupSpec:
    """One input (h, w, cin) NHWC -> one conv output (h, w, cout) NHWC, named like a compiled
    ONNX graph `spikes -> conv`: vstreams `<name>/input_layer1` and `<name>/conv1`."""
    k = np.asarray(kernel)
    return NetworkGroupSpec(
        name=name,
        inputs=[InputSpec(layer_name(name, "input_layer"), (hw[0], hw[1], int(k.shape[2])),
                          ORDER_NHWC, original_names=("spikes",))],
        outputs=[OutputSpec(layer_name(name, "conv"), Conv(k), 0, native_type,
                            original_names=("conv",))],
        fail_after=fail_after,
        fail_status=fail_status,
    )
