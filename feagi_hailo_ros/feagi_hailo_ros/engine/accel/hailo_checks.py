"""Checks that run before the first burst on a Hailo device.

Two layers of trust, checked in order, so that a wrong file is refused with a message that
names what differs, never turned into wrong counts:

1. **Manifest vs connectome** (:func:`resolve_manifest`, pure Python): the genome checksum,
   that every assigned projection is an output of exactly one partition, and that each
   partition's areas, delay, frame shapes and output precision fit this connectome.
2. **HEF vs manifest** (:func:`check_hef_vstreams` on the HEF's own vstream infos before
   configuring, :func:`check_created_vstreams` on the vstreams as created): which HEF vstream
   implements which manifest vstream (:func:`match_vstreams`), frame element counts (exact
   ``(h, w, c)`` for conv frames), native and host format types, and that the output
   quantization can represent the largest fan-in without saturating.

Names. The manifest names a partition's vstreams as the exported ONNX model does (``spikes``,
``<partition>_p<i>_<dst>``); Hailo's compiler names them ``<network group>/<layer>``
(``part/input_layer1``, ``part/fc1``) and keeps the ONNX names as each layer's *original
names* (DESIGN section 6). So a manifest vstream is bound to the HEF vstream whose name or
original names contain its name; what no name ties together is paired by frame shape, in
manifest and HEF order; anything left over on either side is refused with both lists in the
message.

A mismatch of the first kind raises :class:`~.partition.ManifestError`; one of the second
kind :class:`HailoPartitionMismatch` (a ``ManifestError`` too), whose message names the
partition, the vstream, and expected vs found.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...hailo import FormatType, HailoRTError, VStreamInfo, VStreamSet
from ...hailo.status import HAILO_NOT_FOUND
from ..core.connectome import AreaSpec, Connectome
from .manifest import Manifest, ManifestError, Partition, PartitionOutput
from .quantization import DTYPES, count_range, spike_codes_exact

LAYOUTS = ("conv", "gemm")


class HailoPartitionMismatch(ManifestError):
    """A HEF does not implement the partition the manifest describes."""

    def __init__(self, partition: str, vstream: str | None, what: str, expected: object,
                 found: object) -> None:
        self.partition = partition
        self.vstream = vstream  # None for a mismatch of the network group itself
        self.what = what
        self.expected = expected
        self.found = found
        where = f"partition {partition!r}" + (f", vstream {vstream!r}" if vstream else "")
        super().__init__(f"{where}: {what}: expected {expected}, found {found}")


@dataclass(frozen=True)
class ResolvedOutput:
    """A partition output bound to a projection of this connectome."""

    output: PartitionOutput
    #: Projection index in *this* connectome (resolved through ``mapping``).
    projection: int
    n_dst: int
    #: Largest number of synapses onto one destination neuron, from the connectome.
    fan_in: int


@dataclass(frozen=True)
class ResolvedPartition:
    """A partition checked against the connectome, with its HEF's absolute path (None when
    the manifest lists no HEF for it; the file may not exist: the integrator checks)."""

    partition: Partition
    outputs: tuple[ResolvedOutput, ...]
    n_src: int
    hef_path: Path | None

    @property
    def name(self) -> str:
        """The partition's name (its network group in the HEF)."""
        return self.partition.name

    def output(self, projection: int) -> ResolvedOutput:
        """The resolved output computing ``projection``; ``KeyError`` if none does."""
        for o in self.outputs:
            if o.projection == projection:
                return o
        raise KeyError(projection)


# -- manifest vs connectome ---------------------------------------------------------------------


def _frame_shape(area: AreaSpec, layout: str) -> tuple[int, ...]:
    """Channels-last frame of an area: ``(x, y, z*k)`` for conv, ``(n,)`` for gemm."""
    if layout == "conv":
        return (area.dims[0], area.dims[1], area.dims[2] * area.neurons_per_voxel)
    return (area.neuron_count,)


def mapping_of(connectome: Connectome, p: int) -> tuple[str, str, int]:
    """``(source cortical id, destination cortical id, rule index)``: how a manifest names
    projection ``p`` independently of projection numbering."""
    proj = connectome.projections[p]
    return (connectome.areas[proj.src_area].cortical_id,
            connectome.areas[proj.dst_area].cortical_id, int(proj.rule_index))


def _resolve_projection(connectome: Connectome, part: Partition, out: PartitionOutput,
                        by_mapping: dict[tuple[str, str, int], list[int]]) -> int:
    """The connectome projection an output computes: by its mapping, the index breaking ties.

    The mapping (source id, destination id, rule index) identifies a genome mapping
    independently of projection numbering; hand-built brains may repeat a mapping, and then
    the manifest's index must be one of the candidates.
    """
    candidates = by_mapping.get(tuple(out.mapping), [])
    if out.projection in candidates:
        return out.projection
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ManifestError(f"partition {part.name!r}, output {out.name!r}: no projection of this "
                            f"connectome has mapping {tuple(out.mapping)}")
    raise ManifestError(f"partition {part.name!r}, output {out.name!r}: mapping "
                        f"{tuple(out.mapping)} is ambiguous (projections {candidates}) and the "
                        f"manifest's projection {out.projection} is none of them")


def _check_output(connectome: Connectome, part: Partition, out: PartitionOutput,
                  p: int) -> ResolvedOutput:
    proj = connectome.projections[p]
    dst = connectome.areas[proj.dst_area]
    where = f"partition {part.name!r}, output {out.name!r} (projection {p})"
    if out.dst_area != dst.cortical_id:
        raise ManifestError(f"{where}: destination area {out.dst_area!r}, but the projection "
                            f"goes to {dst.cortical_id!r}")
    if tuple(out.shape) != _frame_shape(dst, part.layout):
        raise ManifestError(f"{where}: frame shape {tuple(out.shape)}, but area "
                            f"{dst.cortical_id!r} is {_frame_shape(dst, part.layout)} in the "
                            f"{part.layout} layout")
    if out.dtype not in DTYPES:
        raise ManifestError(f"{where}: output dtype {out.dtype!r}; expected one of {sorted(DTYPES)}")
    post = np.asarray(proj.post, dtype=np.int64)
    fan_in = int(np.bincount(post, minlength=dst.neuron_count).max()) if post.size else 0
    limit = DTYPES[out.dtype][1]
    if fan_in > limit:
        raise ManifestError(f"{where}: largest fan-in is {fan_in}, which {out.dtype} outputs "
                            f"(at most {limit}) cannot count exactly")
    if out.max_fan_in < fan_in:
        raise ManifestError(f"{where}: the manifest says the largest fan-in is {out.max_fan_in}, "
                            f"the connectome has {fan_in}: the manifest is for another brain")
    return ResolvedOutput(out, p, dst.neuron_count, fan_in)


def _check_partition(connectome: Connectome, part: Partition, base_dir: Path,
                     by_mapping: dict[tuple[str, str, int], list[int]]) -> ResolvedPartition:
    if part.layout not in LAYOUTS:
        raise ManifestError(f"partition {part.name!r}: layout {part.layout!r}; expected one of "
                            f"{LAYOUTS}")
    outs = []
    src: AreaSpec | None = None
    for out in part.outputs:
        p = _resolve_projection(connectome, part, out, by_mapping)
        proj = connectome.projections[p]
        area = connectome.areas[proj.src_area]
        if area.cortical_id != part.src_area:
            raise ManifestError(f"partition {part.name!r}: source area {part.src_area!r}, but "
                                f"projection {p} comes from {area.cortical_id!r}")
        if proj.delay != part.delay:
            raise ManifestError(f"partition {part.name!r}: delay {part.delay}, but projection {p} "
                                f"has delay {proj.delay}")
        if proj.weights is not None:
            raise ManifestError(f"partition {part.name!r}: projection {p} has per-synapse weights "
                                "and cannot be integrated as counts")
        src = area
        outs.append(_check_output(connectome, part, out, p))
    if src is None:
        raise ManifestError(f"partition {part.name!r} has no outputs")
    if tuple(part.input_shape) != _frame_shape(src, part.layout):
        raise ManifestError(f"partition {part.name!r}: input shape {tuple(part.input_shape)}, but "
                            f"area {src.cortical_id!r} is {_frame_shape(src, part.layout)} in the "
                            f"{part.layout} layout")
    names = [part.input_name, *(o.name for o in part.outputs)]
    if len(set(names)) != len(names):
        raise ManifestError(f"partition {part.name!r}: vstream names repeat: {names}")
    # A missing HEF is not a mismatch: the integrator runs that partition on the CPU (or
    # refuses, when the device is required), so only the path is resolved here.
    hef = part.files.get("hef")
    path = (base_dir / hef).resolve() if hef else None
    return ResolvedPartition(part, tuple(outs), src.neuron_count, path)


def resolve_manifest(manifest: Manifest, base_dir: Path, connectome: Connectome,
                     projections: Sequence[int]) -> list[ResolvedPartition]:
    """The partitions that compute ``projections``, checked against ``connectome``.

    Raises :class:`ManifestError` for a checksum mismatch, an assigned projection that no
    partition (or more than one) computes, and any partition that does not fit the brain.
    Partitions with none of ``projections`` are not checked and not returned.
    """
    if manifest.genome_checksum != connectome.source_checksum:
        raise ManifestError(f"manifest genome checksum {manifest.genome_checksum!r} differs from "
                            f"the connectome's {connectome.source_checksum!r}: the partitions were "
                            "exported from another genome; export and compile them again")
    by_mapping: dict[tuple[str, str, int], list[int]] = {}
    for p in range(len(connectome.projections)):
        by_mapping.setdefault(mapping_of(connectome, p), []).append(p)
    wanted = set(projections)
    resolved: list[ResolvedPartition] = []
    owner: dict[int, str] = {}
    for part in manifest.partitions:
        candidates = {p for o in part.outputs
                      for p in by_mapping.get(tuple(o.mapping), [])} & wanted  # fmt: skip
        if not candidates:
            continue
        rp = _check_partition(connectome, part, base_dir, by_mapping)
        if not {o.projection for o in rp.outputs} & wanted:
            continue  # a repeated mapping matched, but the manifest's indices say: another one
        for o in rp.outputs:
            if o.projection in wanted:
                if o.projection in owner:
                    raise ManifestError(f"projection {o.projection} is computed by partitions "
                                        f"{owner[o.projection]!r} and {part.name!r}")
                owner[o.projection] = part.name
        resolved.append(rp)
    missing = sorted(wanted - set(owner))
    if missing:
        raise ManifestError(f"no partition of the manifest computes projection(s) {missing}")
    return resolved


# -- HEF vs manifest ----------------------------------------------------------------------------


def _elements(shape: Iterable[int]) -> int:
    return int(math.prod(shape))


def _check_shape(part: str, vstream: str, expected: tuple[int, ...],
                 found: tuple[int, int, int]) -> None:
    """Element counts must match; a 3-D (conv) frame must match axis by axis."""
    if not _fits(expected, found):
        raise HailoPartitionMismatch(part, vstream, "shape (h, w, c)", expected, found)


def _type_name(value: int) -> str:
    try:
        return FormatType(int(value)).name
    except ValueError:
        return str(int(value))


class HefDescription(Protocol):
    """What :func:`check_hef_vstreams` reads from a HEF (:class:`~feagi_hailo_ros.hailo.Hef`)."""

    def vstream_infos(self, network_group: str | None = None) -> list[VStreamInfo]:
        """The group's input and output vstreams."""
        ...

    def original_names(self, vstream_name: str, network_group: str | None = None) -> list[str]:
        """The names the compiled model had for ``vstream_name`` (its ONNX names)."""
        ...


#: How a manifest vstream was tied to a HEF vstream (:attr:`VStreamBinding.how`).
BY_NAME = "vstream name"
BY_ORIGINAL_NAME = "original name"
BY_SHAPE = "shape and order"


@dataclass(frozen=True)
class VStreamBinding:
    """Which HEF vstream implements each vstream the manifest names, for one partition.

    ``input`` is the HEF name of the manifest's input, ``outputs`` maps each manifest output
    name to its HEF vstream name, ``how`` each manifest name to :data:`BY_NAME`,
    :data:`BY_ORIGINAL_NAME` or :data:`BY_SHAPE`.
    """

    input: str
    outputs: Mapping[str, str]
    how: Mapping[str, str] = field(default_factory=dict)

    def by_shape(self) -> list[str]:
        """Manifest names that only shape and order tied to a HEF vstream (worth a log line:
        nothing but their order tells equal-shaped outputs apart)."""
        return [name for name, how in self.how.items() if how == BY_SHAPE]


def _fits(expected: tuple[int, ...], found: tuple[int, int, int]) -> bool:
    """Same element count, and axis by axis for a 3-D (conv) frame."""
    return _elements(found) == _elements(expected) and (len(expected) != 3 or found == expected)


def _describe_hef_side(infos: Sequence[VStreamInfo],
                       originals: Mapping[str, Sequence[str]]) -> list[str]:
    return [f"{i.name} (original names {list(originals.get(i.name, ()))}, shape {i.shape})"
            for i in infos]


def _match_direction(part: str, what: str, wanted: Sequence[tuple[str, tuple[int, ...]]],
                     infos: Sequence[VStreamInfo], originals: Mapping[str, Sequence[str]],
                     how: dict[str, str]) -> dict[str, str]:
    """Manifest name -> HEF vstream name for one direction (see the module docstring)."""
    bound: dict[str, str] = {}
    taken: dict[str, str] = {}  # HEF name -> manifest name
    for name, _ in wanted:
        hits = [i.name for i in infos if i.name == name or name in originals.get(i.name, ())]
        if len(hits) > 1:
            raise HailoPartitionMismatch(part, name, f"{what} (the name matches several)",
                                         f"one vstream named or originally named {name!r}", hits)
        if hits:
            if hits[0] in taken:
                raise HailoPartitionMismatch(
                    part, name, f"{what} (one HEF vstream for two manifest names)",
                    f"{name!r} and {taken[hits[0]]!r} on different vstreams", hits[0])
            bound[name] = taken[hits[0]] = hits[0]
            how[name] = BY_NAME if hits[0] == name else BY_ORIGINAL_NAME
    rest = [i for i in infos if i.name not in taken]
    for name, shape in wanted:
        if name in bound:
            continue
        fit = next((i for i in rest if _fits(shape, i.shape)), None)
        if fit is not None:
            rest.remove(fit)
            bound[name] = fit.name
            how[name] = BY_SHAPE
    missing = [(n, s) for n, s in wanted if n not in bound]
    if missing or rest:
        vstream = missing[0][0] if missing else rest[0].name
        raise HailoPartitionMismatch(
            part, vstream, f"{what} (by name, original name, then shape and order)",
            [f"{n} (shape {tuple(s)})" for n, s in wanted],
            _describe_hef_side(infos, originals))
    return bound


def match_vstreams(rp: ResolvedPartition, infos: Sequence[VStreamInfo],
                   originals: Mapping[str, Sequence[str]]) -> VStreamBinding:
    """Tie the manifest's vstreams of ``rp`` to the HEF's ``infos`` (one network group).

    ``originals`` maps each HEF vstream name to its original (ONNX) names. A manifest name is
    bound to the HEF vstream whose name or original names contain it; the rest are paired in
    manifest order with the first unbound HEF vstream of the same direction whose frame fits
    (same element count, exact ``(h, w, c)`` for a conv frame). Raises
    :class:`HailoPartitionMismatch` naming both sides (manifest names with shapes, HEF names
    with original names and shapes) when a manifest vstream has no partner or the HEF has
    vstreams the manifest lacks, and when a name is ambiguous.
    """
    part = rp.partition
    how: dict[str, str] = {}
    inputs = [i for i in infos if i.is_input]
    outputs = [i for i in infos if not i.is_input]
    bound_in = _match_direction(part.name, "input vstreams",
                                [(part.input_name, tuple(part.input_shape))], inputs, originals,
                                how)
    bound_out = _match_direction(part.name, "output vstreams",
                                 [(o.output.name, tuple(o.output.shape)) for o in rp.outputs],
                                 outputs, originals, how)
    return VStreamBinding(bound_in[part.input_name], bound_out, how)


def hef_original_names(hef: HefDescription, network_group: str,
                       infos: Sequence[VStreamInfo]) -> dict[str, tuple[str, ...]]:
    """Original names of every vstream in ``infos``; a vstream the library has none for
    (61 ``HAILO_NOT_FOUND``, e.g. one behind a mux) gets ``()`` and is matched by shape."""
    out: dict[str, tuple[str, ...]] = {}
    for info in infos:
        try:
            out[info.name] = tuple(hef.original_names(info.name, network_group))
        except HailoRTError as exc:
            if exc.code != HAILO_NOT_FOUND:
                raise
            out[info.name] = ()
    return out


def check_hef_vstreams(rp: ResolvedPartition, hef: HefDescription) -> VStreamBinding:
    """The HEF's network group ``rp.name`` implements this partition exactly; returns which HEF
    vstream implements which manifest vstream (:func:`match_vstreams`).

    Checks, per bound vstream: frame shape, native format type (UINT8 input, the manifest's
    output type), that 0 and 1 are exact input codes, and that each output's quantization
    counts up to the largest fan-in. Raises :class:`HailoPartitionMismatch`; HailoRTError from
    the library calls.
    """
    part = rp.partition
    infos = hef.vstream_infos(part.name)
    binding = match_vstreams(rp, infos, hef_original_names(hef, part.name, infos))
    by_name = {i.name: i for i in infos}
    inp = by_name[binding.input]
    _check_shape(part.name, inp.name, tuple(part.input_shape), inp.shape)
    if int(inp.format_type) != FormatType.UINT8:
        raise HailoPartitionMismatch(part.name, inp.name, "native format type", "UINT8",
                                     _type_name(inp.format_type))
    _check_spike_codes(part.name, inp)
    for o in rp.outputs:
        info = by_name[binding.outputs[o.output.name]]
        _check_shape(part.name, info.name, tuple(o.output.shape), info.shape)
        want = DTYPES[o.output.dtype][0]
        if int(info.format_type) != want:
            raise HailoPartitionMismatch(part.name, info.name, "native format type", want.name,
                                         _type_name(info.format_type))
        if not info.qp_scale > 0 or not math.isfinite(info.qp_scale):
            raise HailoPartitionMismatch(part.name, info.name, "quantization scale", "> 0",
                                         info.qp_scale)
        top = count_range(info, o.output.dtype)
        if top < o.fan_in:
            raise HailoPartitionMismatch(
                part.name, info.name, "count range (saturation)",
                f">= {o.fan_in} (largest fan-in)",
                f"{top:g} (qp_scale {info.qp_scale:g}, qp_zp {info.qp_zp:g})")
    return binding


def _check_spike_codes(partition: str, inp: Any) -> None:
    """0 and 1 must be exactly representable in the input's UINT8 quantization."""
    if not spike_codes_exact(inp.qp_scale, inp.qp_zp):
        raise HailoPartitionMismatch(partition, inp.name, "input quantization",
                                     "0 and 1 exactly representable in UINT8",
                                     f"qp_scale {inp.qp_scale:g}, qp_zp {inp.qp_zp:g}")


def check_created_vstreams(rp: ResolvedPartition, vs: VStreamSet,
                           binding: VStreamBinding) -> None:
    """Host formats and frame sizes of the created vstreams (named as ``binding`` says) are what
    the counts need; raises :class:`HailoPartitionMismatch`."""
    part = rp.partition
    inp = vs.inputs[binding.input]
    if int(inp.format_type) != FormatType.UINT8 or inp.frame_size != rp.n_src:
        raise HailoPartitionMismatch(part.name, inp.name, "host frame", f"UINT8 x {rp.n_src}",
                                     f"{_type_name(inp.format_type)}, {inp.frame_size} bytes")
    for o in rp.outputs:
        v = vs.outputs[binding.outputs[o.output.name]]
        fmt, _ = DTYPES[o.output.dtype]
        size = o.n_dst * np.dtype(o.output.dtype).itemsize
        if int(v.format_type) != fmt or v.frame_size != size:
            raise HailoPartitionMismatch(part.name, v.name, "host frame",
                                         f"{fmt.name}, {size} bytes",
                                         f"{_type_name(v.format_type)}, {v.frame_size} bytes")
