"""Export accelerator partitions as ONNX for Hailo's Dataflow Compiler (and ONNX Runtime).

For every partition (:func:`~.placement.plan_partitions`) :func:`export` writes, beside a
``manifest.json`` (:class:`~.manifest.Manifest`, with each partition's ``files``):

``<name>.onnx``
    Static shapes, constant weights, opset :data:`OPSET`, nothing between the input and
    the outputs but the one layer per projection (no Reshape/Transpose, which the Hailo
    parser would have to fold or reject):

    * ``conv``: input ``spikes`` ``(1, C, X, Y)`` float32 (ONNX is NCHW; the compiled
      HEF's vstreams are NHWC, i.e. ``(X, Y, C)``, which is the area's own neuron order),
      one ``Conv`` per projection with a 0/1 kernel and symmetric zero pads, output
      ``(1, C', X, Y)``.
    * ``gemm``: input ``(1, n_src)`` float32, one ``MatMul`` per projection with a constant
      0/1 ``(n_src, n_dst)`` matrix, output ``(1, n_dst)``.
``<name>_calib.npy``
    The calibration set: **float32 0/1, channels-last**, ``(N, X, Y, C)`` for conv and
    ``(N, n_src)`` for gemm, which is what ``hailo optimize --calib-set-path`` takes (the
    network's float input, NHWC). The rows are real spike frames of the source area,
    recorded from a run of the brain on the CPU engine with random sensory input. The DFC
    derives the input quantization from them: range [0, 1] over 8 bits, so on the device a
    spike is the raw UINT8 value ``round(1 / qp_scale + qp_zp)`` (255), not 1; a host
    writing raw frames reads the input vstream's ``quant_info``.
``<name>.alls``
    The model script: counts are exact only if the output scale is 1, so the output range
    is forced to ``[0, 255]`` (8-bit) or ``[0, 65535]`` with 16-bit precision (fan-in >
    255), and the optimisations that move weights (finetune, bias correction, 4-bit
    compression) are off.
``COMPILE.md``
    The ``hailo parser onnx`` -> ``hailo optimize`` -> ``hailo compiler`` commands; the
    compiler step writes ``<name>.hef`` (the ``--net-name``), the file name the manifest
    already lists as the partition's ``files["hef"]``, so copying the compiled files beside
    ``manifest.json`` is all the node needs (a partition whose HEF is absent runs on the CPU,
    or is refused with ``hailo_required``).

``onnx`` is imported lazily: the engine runs without it; only exporting needs it.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.connectome import Connectome
from .layout import CONV, conv_kernel, dense_matrix, projection_layout
from .manifest import Manifest, Partition
from .placement import (
    ACCELERATOR,
    Placement,
    PlacementRules,
    pipelined_brain,
    place,
    plan_partitions,
    readable_id,
)

if TYPE_CHECKING:
    import onnx

#: ONNX opset of the exported models. Conv and MatMul are unchanged since opset 11/13;
#: 13 is well inside what Hailo's DFC parser and every current ONNX Runtime accept.
OPSET = 13
#: IR version 8 (ONNX 1.10+): the Hailo DFC bundles an older ``onnx`` whose checker refuses
#: IR versions newer than it knows (a model saved by a current ``onnx`` gets IR 10+).
IR_VERSION = 8
#: Hailo targets the exporter writes commands for (DESIGN §6: Hailo-8/8L, HailoRT 4.x).
ARCHES = ("hailo8", "hailo8l")
#: A protobuf message (an ONNX file with embedded weights) is limited to 2 GiB; float32
#: weights leave room for about this many.
MAX_EMBEDDED_WEIGHTS = 500_000_000
#: Default calibration size: Hailo's quantization guide uses 32-96 items; 64 more than
#: covers 0/1 inputs whose range is known.
DEFAULT_CALIB_BURSTS = 64

Progress = Callable[[str], None]


class ExportError(RuntimeError):
    """A partition cannot be exported (too large, bad arguments); the message says why."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - exercised only without onnx
        raise ExportError("exporting needs the 'onnx' package (pip install onnx)") from exc
    return onnx


# -- models ------------------------------------------------------------------------------------


def partition_model(connectome: Connectome, partition: Partition) -> onnx.ModelProto:
    """The ONNX model of one partition (see the module docstring for its shape).

    One ``Conv`` or ``MatMul`` node per output, named after the output; weights are float32
    initializers (:func:`~.layout.conv_kernel` / :func:`~.layout.dense_matrix`); opset
    :data:`OPSET`, IR :data:`IR_VERSION`; metadata ``genome_checksum``, ``partition`` and
    ``projections``. Raises :class:`ExportError` when ``onnx`` is missing, the partition has
    more than :data:`MAX_EMBEDDED_WEIGHTS` weights, or a projection's layout no longer
    matches the plan.
    """
    onnx = _onnx()
    helper, tp = onnx.helper, onnx.TensorProto
    if partition.weight_count > MAX_EMBEDDED_WEIGHTS:
        raise ExportError(
            f"partition {partition.name} needs {partition.weight_count:,} weights; an ONNX "
            f"file holds at most {MAX_EMBEDDED_WEIGHTS:,} float32 weights (2 GiB) and the "
            "accelerator far fewer: keep its projections on the CPU")
    # Each node is named after its output tensor, so the parser's --end-node-names finds it
    # whether it looks up node or tensor names.
    nodes, inits, outputs = [], [], []
    if partition.layout == CONV:
        x, y, c = partition.input_shape
        graph_input = helper.make_tensor_value_info(partition.input_name, tp.FLOAT, [1, c, x, y])
    else:
        (n_src,) = partition.input_shape
        graph_input = helper.make_tensor_value_info(partition.input_name, tp.FLOAT, [1, n_src])
    for out in partition.outputs:
        layout = projection_layout(connectome, out.projection)
        if layout.kind != partition.layout or tuple(layout.out_shape) != tuple(out.shape):
            raise ExportError(f"partition {partition.name}: projection {out.projection} is "
                              f"{layout.kind}{layout.out_shape}, the plan says "
                              f"{partition.layout}{out.shape}; re-plan the partitions")
        w_name = f"w_p{out.projection}"
        if partition.layout == CONV:
            kernel = conv_kernel(layout)
            rx, ry = layout.radius
            inits.append(onnx.numpy_helper.from_array(kernel, w_name))
            nodes.append(helper.make_node(
                "Conv", [partition.input_name, w_name], [out.name], name=out.name,
                kernel_shape=list(kernel.shape[2:]), pads=[rx, ry, rx, ry],
                strides=[1, 1], dilations=[1, 1], group=1))
            x, y, c_out = out.shape
            outputs.append(helper.make_tensor_value_info(out.name, tp.FLOAT, [1, c_out, x, y]))
        else:
            inits.append(onnx.numpy_helper.from_array(dense_matrix(connectome, out.projection),
                                                      w_name))
            nodes.append(helper.make_node("MatMul", [partition.input_name, w_name], [out.name],
                                          name=out.name))
            outputs.append(helper.make_tensor_value_info(out.name, tp.FLOAT, [1, out.shape[0]]))
    graph = helper.make_graph(nodes, partition.name, [graph_input], outputs, initializer=inits,
                              doc_string=_describe(connectome, partition))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="feagi_hailo_ros")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {
        "genome_checksum": connectome.source_checksum,
        "partition": partition.name,
        "projections": ",".join(str(p) for p in partition.projections),
    })
    return model


def _describe(connectome: Connectome, partition: Partition) -> str:
    src = readable_id(partition.src_area)
    outs = "; ".join(f"{o.name}: projection {o.projection} -> {readable_id(o.dst_area)}, "
                     f"max fan-in {o.max_fan_in}, {o.dtype}" for o in partition.outputs)
    return (f"Synaptic counts of spikes of {src} at t-{partition.delay} ({partition.layout}); "
            f"inputs and weights 0/1, outputs integer counts. {outs}")


# -- calibration ----------------------------------------------------------------------------


def _drive_areas(connectome: Connectome) -> list[int]:
    """Areas that receive the random sensory input of a calibration run.

    Sensory (IPU) areas when there are any; otherwise every area no other area projects
    to; otherwise all areas (a brain with no obvious entry point).
    """
    sensory = [a.index for a in connectome.areas
               if a.group.upper() == "IPU" or readable_id(a.cortical_id).startswith("i")]
    if sensory:
        return sensory
    fed = {p.dst_area for p in connectome.projections if p.src_area != p.dst_area}
    roots = [a.index for a in connectome.areas if a.index not in fed]
    return roots or [a.index for a in connectome.areas]


def _firing_potential(connectome: Connectome, area_index: int) -> float:
    """An injection that crosses the highest threshold of an area (and not its limit)."""
    a = connectome.areas[area_index]
    top = a.fire_threshold + sum(max(inc, 0.0) * (d - 1)
                                 for inc, d in zip(a.threshold_increment, a.dims, strict=True))
    return float(max(min(top, a.threshold_limit), 1.0))


#: Bursts a calibration run drops before it records (the activity settles first).
CALIBRATION_WARMUP = 16


def record_calibration(connectome: Connectome, source_areas: Sequence[int], bursts: int, *,
                       input_rate: float = 0.05, warmup: int = CALIBRATION_WARMUP, seed: int = 0,
                       progress: Progress | None = None) -> dict[int, np.ndarray]:
    """Spike frames (``(bursts, n)`` uint8 0/1) of ``source_areas`` from a CPU run.

    The brain runs on the CPU engine; every burst each neuron of the driven areas (see
    :func:`_drive_areas`) is injected, with probability ``input_rate``, a potential that
    crosses its threshold. The first ``warmup`` bursts are dropped so the activity has
    spread through the delays.

    ``source_areas`` are area indices; returns ``{area index: frames}`` with ``n`` that area's
    neuron count, rows in burst order, columns in neuron order. ``seed`` drives the input and
    the engine; ``progress`` gets a line every 64 bursts.
    """
    from ..core.engine import Engine

    rng = np.random.default_rng(seed)
    engine = Engine(connectome, "cpu", seed=seed)
    drive = [(a, _firing_potential(connectome, a)) for a in _drive_areas(connectome)]
    frames = {a: np.zeros((bursts, connectome.areas[a].neuron_count), np.uint8)
              for a in source_areas}
    for b in range(warmup + bursts):
        for a, potential in drive:
            n = connectome.areas[a].neuron_count
            k = rng.binomial(n, input_rate)
            if k:
                engine.inject(a, indices=np.unique(rng.integers(0, n, k)), potentials=potential)
        engine.step()
        if b >= warmup:
            for a, rows in frames.items():
                rows[b - warmup, engine.fired(a)] = 1
        if progress is not None and (b + 1) % 64 == 0:
            progress(f"calibration run: burst {b + 1}/{warmup + bursts} (warm-up {warmup})")
    engine.close()
    return frames


def calibration_set(partition: Partition, frames: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """The DFC calibration array of a partition: float32 0/1, channels-last.

    An area that never fired in the recorded run would calibrate the input range to
    [0, 0]; its rows are replaced by random frames (2 % of the neurons, drawn with ``seed``)
    with a ``RuntimeWarning``.

    ``frames`` are the ``(N, n_src)`` 0/1 rows of :func:`record_calibration` for the
    partition's source area; returns float32 ``(N, *partition.input_shape)``, i.e.
    ``(N, X, Y, C)`` for conv and ``(N, n_src)`` for gemm. Raises ``ValueError`` when the
    rows do not reshape to the input shape.
    """
    if not frames.any():
        warnings.warn(f"partition {partition.name}: source area "
                      f"{readable_id(partition.src_area)} never fired in the calibration run; "
                      "using random spike frames (2 %) instead", RuntimeWarning, stacklevel=2)
        rng = np.random.default_rng(seed)
        frames = (rng.random(frames.shape) < 0.02).astype(np.uint8)
    # Neuron order is x-major, channel innermost: a reshape is the channels-last frame.
    return frames.reshape((frames.shape[0], *partition.input_shape)).astype(np.float32)


# -- model scripts and instructions --------------------------------------------------------


def hailo_layer_names(partition: Partition) -> list[str]:
    """Names the Hailo parser gives the partition's layers, in output order.

    The parser numbers layers by kind in graph order (``conv1``, ``conv2``, ... for Conv;
    ``fc1``, ... for a dense MatMul); each output here is one node, written in output order.
    Returns ``len(partition.outputs)`` names.
    """
    prefix = "conv" if partition.layout == CONV else "fc"
    return [f"{prefix}{i + 1}" for i in range(len(partition.outputs))]


def model_script(partition: Partition) -> str:
    """The ``.alls`` model script of a partition (see the module docstring), as text.

    Optimisation level 0, no compression, finetune and bias correction off; per output layer
    (:func:`hailo_layer_names`) ``force_range_out`` ``[0, 255]``, or ``[0, 65535]`` with
    ``precision_mode=a16_w16`` for a ``uint16`` output.
    """
    lines = [
        f"# {partition.name}: synaptic counts, exact only if every output scale is 1.",
        "# Inputs and weights are 0/1; force_range_out fixes the output scale at 1 (8-bit",
        "# [0, 255], 16-bit [0, 65535]). Nothing may move the weights: no finetune, no bias",
        "# correction, no 4-bit compression.",
        "# Layer names follow the parser's numbering in graph order (see COMPILE.md).",
        "model_optimization_flavor(optimization_level=0, compression_level=0)",
        "post_quantization_optimization(finetune, policy=disabled)",
        "post_quantization_optimization(bias_correction, policy=disabled)",
    ]
    for layer, out in zip(hailo_layer_names(partition), partition.outputs, strict=True):
        lines.append(f"# {layer} = {out.name} (max fan-in {out.max_fan_in}, {out.dtype})")
        if out.dtype == "uint16":
            lines.append(f"quantization_param({layer}, precision_mode=a16_w16)")
            lines.append(f"quantization_param({layer}, force_range_out=[0.0, 65535.0])")
        else:
            lines.append(f"quantization_param({layer}, force_range_out=[0.0, 255.0])")
    return "\n".join(lines) + "\n"


def hef_file(partition: Partition) -> str:
    """The HEF file name of a partition: ``<name>.hef``, what ``hailo compiler`` writes for
    a network parsed with ``--net-name <name>`` (and what the manifest lists as ``files.hef``)."""
    return partition.files.get("hef", f"{partition.name}.hef")


def compile_instructions(manifest: Manifest) -> str:
    """``COMPILE.md`` (Markdown text): the DFC commands for every partition of a manifest.

    Per partition: ``hailo parser onnx`` (start/end node names from the manifest),
    ``hailo optimize`` with its calibration set and model script, ``hailo compiler`` for
    ``manifest.arch``. File names come from ``Partition.files`` (defaults when absent).
    """
    arch = manifest.arch
    out = [
        "# Compiling the accelerator partitions",
        "",
        f"Genome checksum `{manifest.genome_checksum}`, target `{arch}`. Run on an x86_64 "
        "machine with Hailo's Dataflow Compiler (the `hailo` command), in this directory. "
        "Each partition's last command writes `<partition>.hef` (the compiler names the HEF "
        "after `--net-name`); `manifest.json` already lists exactly these files "
        "(`files.hef`): "
        + ", ".join(f"`{hef_file(p)}`" for p in manifest.partitions)
        + ". Copy them back beside `manifest.json` on the robot; if your DFC version names "
        "its output differently, rename it to the listed name. A partition whose HEF is "
        "missing or rejected runs exactly on the CPU (the node warns in /diagnostics), or "
        "refuses to configure with `hailo_required: true`.",
        "",
        "Each partition is one network: input = spike frame of the source area "
        "(NHWC on the device, 0/1), outputs = integer synapse counts per projection. The "
        "calibration sets are float32 0/1 channels-last frames recorded from a CPU run of the "
        "brain. With them the input quantization is [0, 1] over 8 bits, so a host writing raw "
        "UINT8 frames encodes a spike as `round(1 / qp_scale + qp_zp)` (read `quant_info` of "
        "the input vstream; 255 for this calibration) or writes FLOAT32 frames and lets "
        "HailoRT quantize. The model scripts force every output scale to 1, so raw output "
        "values are the counts; check `qp_scale == 1, qp_zp == 0` of each output vstream.",
        "",
        "The model scripts name layers as the parser numbers them (`conv1`, `conv2`, ... or "
        "`fc1`, ... in ONNX node order, which is the order of `outputs` in `manifest.json`). "
        "If your DFC version names them differently, the parser's log lists the names: "
        "edit the `.alls` to match.",
        "",
    ]
    for part in manifest.partitions:
        onnx_file = part.files.get("onnx", f"{part.name}.onnx")
        calib = part.files.get("calib", f"{part.name}_calib.npy")
        alls = part.files.get("alls", f"{part.name}.alls")
        ends = " ".join(o.name for o in part.outputs)
        out += [
            f"## {part.name}",
            "",
            f"Source `{readable_id(part.src_area)}` at t-{part.delay}, {part.layout}, "
            f"{part.weight_count:,} weights; outputs: "
            + ", ".join(f"`{o.name}` ({o.dtype}, fan-in {o.max_fan_in})" for o in part.outputs),
            "",
            "```bash",
            f"hailo parser onnx {onnx_file} --hw-arch {arch} --net-name {part.name} "
            f"--har-path {part.name}.har --start-node-names {part.input_name} "
            f"--end-node-names {ends} -y",
            f"hailo optimize {part.name}.har --hw-arch {arch} --calib-set-path {calib} "
            f"--model-script {alls} --output-har-path {part.name}_optimized.har",
            f"hailo compiler {part.name}_optimized.har --hw-arch {arch} --output-dir .  "
            f"# writes {hef_file(part)}",
            "```",
            "",
        ]
    return "\n".join(out)


# -- export ------------------------------------------------------------------------------------


def export(connectome: Connectome, out_dir: str | Path, *, arch: str = "hailo8",
           rules: PlacementRules | None = None, placements: Sequence[Placement] | None = None,
           calib_bursts: int = DEFAULT_CALIB_BURSTS, input_rate: float = 0.05, seed: int = 0,
           progress: Progress | None = None) -> Manifest:
    """Write every accelerator partition of ``connectome`` to ``out_dir``; return the manifest.

    ``placements`` (from :func:`~.placement.place`) wins over ``rules``; with neither the
    default rules apply. With ``rules`` alone their ``pipeline`` rule applies
    (:func:`~.placement.pipelined_brain`: the partitions are those of the brain that runs).
    ``calib_bursts`` frames are recorded per partition (0 skips the calibration run and files,
    e.g. for ONNX Runtime only). ``progress`` receives one line per step.

    Creates ``out_dir`` if needed and writes the files listed in the module docstring plus
    ``manifest.json`` and ``COMPILE.md``. Returns the :class:`~.manifest.Manifest` written
    (``genome_checksum`` = ``connectome.source_checksum``, ``files`` filled); with no
    accelerator projection it has no partitions. Raises :class:`ExportError` for a missing
    ``onnx`` package, an ``arch`` not in :data:`ARCHES`, ``calib_bursts < 0`` or a partition
    :func:`partition_model` refuses; ``ValueError`` from :func:`~.placement.place` /
    :func:`~.placement.plan_partitions` for rules or placements that do not fit the brain;
    ``OSError`` when a file cannot be written. Warns
    :class:`~.placement.AcceleratorBudgetWarning` for partitions over the weight budget.
    """
    onnx = _onnx()
    if arch not in ARCHES:
        raise ExportError(f"unknown Hailo architecture {arch!r}; known: {', '.join(ARCHES)}")
    if calib_bursts < 0:
        raise ExportError("calib_bursts must be >= 0")
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if placements is None:
        placements = place(connectome, rules)
        # The pipeline rule changes the brain that runs (delay 1 -> 2 on the accelerator):
        # export that brain, as the node does with the same rules. With ``placements`` given
        # the caller passes the brain they belong to (the CLI pipelines it first).
        connectome, _ = pipelined_brain(connectome, placements, rules)
    n_acc = sum(pl.backend == ACCELERATOR for pl in placements)
    partitions = plan_partitions(connectome, placements)
    say(f"{n_acc} of {len(placements)} projections on the accelerator, "
        f"{len(partitions)} partition(s)")
    frames: dict[int, np.ndarray] = {}
    if partitions and calib_bursts:
        sources = sorted({connectome.area(p.src_area).index for p in partitions})
        say(f"calibration run: {calib_bursts} bursts of the CPU engine recorded, after "
            f"{CALIBRATION_WARMUP} warm-up bursts")
        frames = record_calibration(connectome, sources, calib_bursts, input_rate=input_rate,
                                    seed=seed, progress=say)
    written = []
    for i, part in enumerate(partitions):
        # "hef" is the file COMPILE.md's compiler step writes; listed now so the manifest
        # needs no edit after compiling (README "Hailo").
        files = {"onnx": f"{part.name}.onnx", "alls": f"{part.name}.alls",
                 "hef": hef_file(part)}
        model = partition_model(connectome, part)
        onnx.checker.check_model(model)
        onnx.save(model, str(out / files["onnx"]))
        (out / files["alls"]).write_text(model_script(part))
        if frames:
            files["calib"] = f"{part.name}_calib.npy"
            src = connectome.area(part.src_area).index
            np.save(out / files["calib"], calibration_set(part, frames[src], seed=seed))
        written.append(replace(part, files=files))
        say(f"[{i + 1}/{len(partitions)}] {part.name}: {part.layout}, "
            f"{len(part.outputs)} output(s), {part.weight_count:,} weights")
    manifest = Manifest(genome_checksum=connectome.source_checksum, arch=arch,
                        partitions=tuple(written))
    manifest.write(out / "manifest.json")
    (out / "COMPILE.md").write_text(compile_instructions(manifest))
    say(f"wrote {out / 'manifest.json'} and {out / 'COMPILE.md'}")
    return manifest


def export_temporary(connectome: Connectome, placements: Sequence[Placement],
                     **kw: Any) -> tuple[Manifest, tempfile.TemporaryDirectory[str]]:
    """Export to a fresh temporary directory (no calibration unless asked); keep the handle.

    ``kw`` are :func:`export`'s keyword arguments (``calib_bursts`` defaults to 0 here).
    Returns ``(manifest, directory)``: the files live in ``directory.name`` until the
    ``TemporaryDirectory`` is cleaned up (explicitly or when garbage-collected). Raises what
    :func:`export` raises (the directory is then left for the garbage collector).
    """
    tmp = tempfile.TemporaryDirectory(prefix="feagi_onnx_")
    kw.setdefault("calib_bursts", 0)
    return export(connectome, tmp.name, placements=placements, **kw), tmp
