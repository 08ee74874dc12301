"""Test-only converter: connectome projections -> partitions, stand-in HEFs and a manifest.

Real HEFs come only from Hailo's Dataflow Compiler (x86, not redistributable, not available
here); the real exporter writes ONNX for it. This converter writes the libhailort stand-in's
test HEF format instead (``test/hailo/standin/hef_format.py``), named as the real tools name
things: the manifest uses the exporter's ONNX names (input ``spikes``, outputs
``<partition>_p<projection>``), the HEF the compiler's (``<partition>/input_layer1``,
``<partition>/fc<k>`` or ``/conv<k>``) with the ONNX names as each vstream's original names. One
network group per partition named after it, one output vstream per projection, 0/1 weights,
UINT8 outputs up to a fan-in of 255 and UINT16 beyond. That lets the whole ctypes path of the
Hailo integrator, including matching vstreams by original name, run in CI.

Partitions group projections by (source area, delay). A group whose projections are all
translation invariant between areas of the same x, y extent gets the ``conv`` layout (a 0/1
kernel with z and the neurons of a voxel as channels); anything else is ``gemm`` (a 0/1
matrix). Duplicate synapses (a count of 2 for one pair) are refused: the stand-in's format
holds 0/1 weights only.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from feagi_hailo_ros.engine.accel.manifest import Manifest, Partition, PartitionOutput
from feagi_hailo_ros.engine.accel.placement import INPUT_NAME
from feagi_hailo_ros.engine.core.connectome import AreaSpec, Connectome

# The stand-in lives in the `hailo` test package (test/hailo, imported by pytest as the
# top-level package `hailo` with test/ on sys.path); make that importable from here too.
_TEST_ROOT = str(Path(__file__).resolve().parents[1])
if _TEST_ROOT not in sys.path:
    sys.path.insert(0, _TEST_ROOT)

from hailo.conftest import SUPPORTED as SUPPORTED_HAILORT  # noqa: E402, F401  (for tests)
from hailo.standin import build as standin_build  # noqa: E402, F401  (for tests and bench)
from hailo.standin import hef_format as hf  # noqa: E402

Edit = Callable[[Partition, hf.NetworkGroupSpec], hf.NetworkGroupSpec]


def channels(area: AreaSpec) -> int:
    return area.dims[2] * area.neurons_per_voxel


def _xyc(local: np.ndarray, area: AreaSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, channel) of area-local indices, channel = z * neurons_per_voxel + k."""
    c, dy = channels(area), area.dims[1]
    return local // (dy * c), (local // c) % dy, local % c


def _pairs_unique(connectome: Connectome, p: int) -> bool:
    proj = connectome.projections[p]
    n_src = connectome.areas[proj.src_area].neuron_count
    pairs = np.asarray(proj.post, np.int64) * n_src + np.asarray(proj.pre, np.int64)
    return np.unique(pairs).size == pairs.size


def dense_matrix(connectome: Connectome, p: int) -> np.ndarray:
    """The 0/1 adjacency ``A[dst, src]`` of projection ``p``."""
    proj = connectome.projections[p]
    if not _pairs_unique(connectome, p):
        raise ValueError(f"projection {p} has duplicate synapses; 0/1 weights cannot count them")
    a = np.zeros((connectome.areas[proj.dst_area].neuron_count,
                  connectome.areas[proj.src_area].neuron_count), np.uint8)
    a[np.asarray(proj.post, np.int64), np.asarray(proj.pre, np.int64)] = 1
    return a


def conv_kernel(connectome: Connectome, p: int) -> np.ndarray | None:
    """The stand-in kernel ``(2rx+1, 2ry+1, c_src, c_dst)`` of a translation-invariant
    projection, or None. Tap ``(ox, oy)``: destination (x, y) hears source (x+ox, y+oy)."""
    proj = connectome.projections[p]
    src, dst = connectome.areas[proj.src_area], connectome.areas[proj.dst_area]
    pre, post = np.asarray(proj.pre, np.int64), np.asarray(proj.post, np.int64)
    if pre.size == 0 or src.dims[:2] != dst.dims[:2] or not _pairs_unique(connectome, p):
        return None
    big_x, big_y = src.dims[:2]
    xs, ys, cs = _xyc(pre, src)
    xd, yd, cd = _xyc(post, dst)
    taps = np.stack([xs - xd, ys - yd, cs, cd], axis=1)
    uniq, counts = np.unique(taps, axis=0, return_counts=True)
    # Exact invariance: each tap occurs at every position where its source is in the area.
    if not np.array_equal(counts, (big_x - np.abs(uniq[:, 0])) * (big_y - np.abs(uniq[:, 1]))):
        return None
    rx, ry = int(np.abs(uniq[:, 0]).max()), int(np.abs(uniq[:, 1]).max())
    k = np.zeros((2 * rx + 1, 2 * ry + 1, channels(src), channels(dst)), np.uint8)
    k[uniq[:, 0] + rx, uniq[:, 1] + ry, uniq[:, 2], uniq[:, 3]] = 1
    return k


def _fan_in(connectome: Connectome, p: int) -> int:
    proj = connectome.projections[p]
    post = np.asarray(proj.post, np.int64)
    n = connectome.areas[proj.dst_area].neuron_count
    return int(np.bincount(post, minlength=n).max()) if post.size else 0


def build_partitions(connectome: Connectome, projections: Sequence[int], *,
                     layout: str = "auto", hef: str | None = "partitions.hef") -> list[Partition]:
    """Partitions for ``projections`` grouped by (source area, delay).

    ``layout``: "auto" (conv where every projection of the group allows it), "gemm" or
    "conv" (ValueError if impossible). ``hef``: one file for all partitions, or None for one
    file per partition (``<name>.hef``).
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for p in projections:
        proj = connectome.projections[p]
        groups.setdefault((proj.src_area, proj.delay), []).append(p)
    parts = []
    for k, ((src_i, delay), projs) in enumerate(groups.items()):
        src = connectome.areas[src_i]
        name = f"part{k}"
        conv = layout != "gemm" and all(conv_kernel(connectome, p) is not None for p in projs)
        if layout == "conv" and not conv:
            raise ValueError(f"projections {projs} are not all translation invariant")
        kind = "conv" if conv else "gemm"
        outs, weights = [], 0
        for p in projs:
            proj = connectome.projections[p]
            dst = connectome.areas[proj.dst_area]
            fan_in = _fan_in(connectome, p)
            shape = ((dst.dims[0], dst.dims[1], channels(dst)) if conv else (dst.neuron_count,))
            weights += (conv_kernel(connectome, p).size if conv  # type: ignore[union-attr]
                        else src.neuron_count * dst.neuron_count)
            outs.append(PartitionOutput(
                projection=p, mapping=(src.cortical_id, dst.cortical_id, proj.rule_index),
                name=f"{name}_p{p}", dst_area=dst.cortical_id, shape=shape,
                dtype="uint8" if fan_in <= 255 else "uint16", max_fan_in=fan_in))
        in_shape = (src.dims[0], src.dims[1], channels(src)) if conv else (src.neuron_count,)
        parts.append(Partition(
            name=name, src_area=src.cortical_id, delay=delay, layout=kind,
            input_name=INPUT_NAME, input_shape=in_shape, outputs=tuple(outs),
            weight_count=weights, files={"hef": hef if hef is not None else f"{name}.hef"}))
    return parts


def network_group(connectome: Connectome, part: Partition, *, fail_after: int = 0,
                  fail_status: int = 0) -> hf.NetworkGroupSpec:
    """The stand-in network group that implements ``part`` exactly, named as compiled."""
    in_name, originals = hf.layer_name(part.name, "input_layer"), (part.input_name,)
    if part.layout == "conv":
        h, w, c = part.input_shape
        inp = hf.InputSpec(in_name, (h, w, c), hf.ORDER_NHWC, original_names=originals)
    else:
        inp = hf.InputSpec(in_name, (1, 1, part.input_shape[0]), hf.ORDER_NC,
                           original_names=originals)
    outs = []
    kind = "conv" if part.layout == "conv" else "fc"
    for k, o in enumerate(part.outputs, start=1):
        if part.layout == "conv":
            kernel = conv_kernel(connectome, o.projection)
            assert kernel is not None
            model: hf.Dense | hf.Conv = hf.Conv(kernel)
        else:
            model = hf.Dense(dense_matrix(connectome, o.projection))
        native = hf.UINT16 if o.dtype == "uint16" else hf.UINT8
        outs.append(hf.OutputSpec(hf.layer_name(part.name, kind, k), model, 0, native,
                                  original_names=(o.name,)))
    return hf.NetworkGroupSpec(part.name, [inp], outs, fail_after=fail_after,
                               fail_status=fail_status)


def export(out_dir: str | Path, connectome: Connectome, projections: Sequence[int], *,
           layout: str = "auto", one_hef: bool = True,
           fail: Mapping[str, tuple[int, int]] | None = None, edit: Edit | None = None,
           checksum: str | None = None) -> Path:
    """Write stand-in HEF(s) and ``manifest.json`` into ``out_dir``; return the manifest path.

    ``fail``: partition name -> (fail_after frames, status) for the stand-in's failure knob.
    ``edit``: rewrites a network group before it is written (to make a HEF that does not match
    its manifest). ``checksum`` overrides the manifest's genome checksum.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = build_partitions(connectome, projections, layout=layout,
                             hef="partitions.hef" if one_hef else None)
    by_file: dict[str, list[hf.NetworkGroupSpec]] = {}
    for part in parts:
        after, status = (fail or {}).get(part.name, (0, 0))
        spec = network_group(connectome, part, fail_after=after, fail_status=status)
        if edit is not None:
            spec = edit(part, spec)
        by_file.setdefault(part.files["hef"], []).append(spec)
    for name, specs in by_file.items():
        hf.write_hef(out_dir / name, specs)
    manifest = Manifest(genome_checksum=connectome.source_checksum if checksum is None else checksum,
                        arch="hailo8", partitions=tuple(parts))
    return manifest.write(out_dir / "manifest.json")


def replace_output(spec: hf.NetworkGroupSpec, index: int = 0, **changes: object) -> hf.NetworkGroupSpec:
    """``spec`` with output ``index`` changed (``dataclasses.replace`` keywords)."""
    outs = list(spec.outputs)
    outs[index] = dataclasses.replace(outs[index], **changes)
    return dataclasses.replace(spec, outputs=outs)


def replace_input(spec: hf.NetworkGroupSpec, **changes: object) -> hf.NetworkGroupSpec:
    return dataclasses.replace(spec, inputs=[dataclasses.replace(spec.inputs[0], **changes)])
