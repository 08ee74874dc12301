"""ONNX Runtime integrator: exported partitions run behind the integrator contract.

It runs the very ONNX files the Hailo compiler takes (``onnx_export.py``), in ONNX Runtime
on the CPU here or with the CUDA / TensorRT execution providers on a Jetson, and hands the
engine exact integer counts (``core/integrator.py``).

Exactness: the models compute in float32 with 0/1 inputs and 0/1 weights, so every partial
sum is an integer no larger than the fan-in; float32 represents every integer up to 2**24
exactly, so the result is exact in any summation order as long as the largest fan-in is at
most 2**24 (checked at ``prepare``). The outputs are still verified to be non-negative
integers each burst (a provider running in reduced precision, e.g. TensorRT with FP16
enabled, would fail that check rather than perturb the spikes silently, at least whenever
it produces a fraction).

``onnxruntime`` is imported when an integrator is created; the engine does not need it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.connectome import Connectome
from ..core.integrator import SynchronousIntegrator
from .layout import CONV, frame_shape
from .manifest import Manifest, ManifestError, Partition, PartitionOutput
from .placement import Placement, adjacency_digest

#: float32 holds every integer up to 2**24 exactly (24-bit significand).
FLOAT32_EXACT_INTEGERS = 2**24

#: Short names accepted for the usual execution providers.
PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}

ProviderSpec = str | tuple[str, Mapping[str, Any]]


class ProviderUnavailableError(ValueError):
    """An execution provider was asked for that this ONNX Runtime build does not have."""


class InexactCountsError(ArithmeticError):
    """A model returned counts that are not non-negative integers (reduced precision?)."""


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError("the ONNX Runtime integrator needs the 'onnxruntime' package "
                          "(pip install onnxruntime, or onnxruntime-gpu on a Jetson)") from exc
    return onnxruntime


def resolve_providers(providers: Sequence[ProviderSpec]) -> list[ProviderSpec]:
    """Full provider names (aliases expanded); refuse any this build lacks, naming those it has."""
    available = _ort().get_available_providers()
    out: list[ProviderSpec] = []
    for spec in providers:
        name, options = (spec, None) if isinstance(spec, str) else (spec[0], dict(spec[1]))
        name = PROVIDER_ALIASES.get(name.lower(), name)
        if name not in available:
            raise ProviderUnavailableError(
                f"ONNX Runtime execution provider {name!r} is not available in this build; "
                f"available: {', '.join(available)}")
        out.append(name if options is None else (name, options))
    if not out:
        raise ProviderUnavailableError(f"no execution provider given; available: {', '.join(available)}")
    return out


class OnnxRuntimeIntegrator(SynchronousIntegrator):
    """Computes projection counts with ONNX Runtime from an exported manifest.

    ``manifest_or_dir`` is an export directory, its ``manifest.json``, or a
    :class:`~.partition.Manifest` together with ``directory=`` (where its files are).
    ``providers`` are tried in order by ONNX Runtime (names or aliases ``cpu``, ``cuda``,
    ``tensorrt``; ``(name, options)`` pairs pass provider options). ``threads`` sets ONNX
    Runtime's intra-op threads: 1 by default, because the Numba engine and the ROS executor
    share the same few cores and ONNX Runtime's worker threads spin while waiting (spinning
    is switched off here too); 0 lets ONNX Runtime use every core.
    """

    name = "onnxruntime"

    def __init__(self, manifest_or_dir: str | Path | Manifest, *,
                 providers: Sequence[ProviderSpec] = ("CPUExecutionProvider",),
                 directory: str | Path | None = None, threads: int = 1) -> None:
        if isinstance(manifest_or_dir, Manifest):
            if directory is None:
                raise ValueError("give directory= (where the manifest's files are) with a Manifest")
            self.manifest, self.directory = manifest_or_dir, Path(directory)
        else:
            path = Path(manifest_or_dir)
            path = path / "manifest.json" if path.is_dir() else path
            self.manifest, self.directory = Manifest.read(path), path.parent
        self.providers = resolve_providers(providers)
        self.threads = int(threads)
        self._by_projection: dict[int, tuple[Partition, PartitionOutput]] = {}
        for part in self.manifest.partitions:
            for out in part.outputs:
                self._by_projection[out.projection] = (part, out)
        self._sessions: dict[str, Any] = {}
        self._plan: dict[str, list[tuple[int, PartitionOutput]]] = {}
        self._parts: dict[str, Partition] = {}
        self._tmp: Any = None  # a TemporaryDirectory kept alive by from_connectome
        #: Calls of ``integrate`` and model runs (one per partition and distinct spike row).
        self.calls = 0
        self.runs = 0
        #: Seconds inside ONNX Runtime (``run``) and in layout conversion and checks
        #: (``convert``), summed over all calls.
        self.seconds = {"run": 0.0, "convert": 0.0}

    @classmethod
    def from_connectome(cls, connectome: Connectome, placements: Sequence[Placement], *,
                        providers: Sequence[ProviderSpec] = ("CPUExecutionProvider",),
                        threads: int = 1, **export_kw: Any) -> OnnxRuntimeIntegrator:
        """Export the accelerator partitions to a temporary directory and load them.

        The directory lives as long as the integrator object (removed when it is garbage
        collected). No calibration run unless ``calib_bursts`` is given.
        """
        from .onnx_export import export_temporary

        manifest, tmp = export_temporary(connectome, placements, **export_kw)
        integ = cls(manifest, directory=tmp.name, providers=providers, threads=threads)
        integ._tmp = tmp
        return integ

    # -- the integrator contract ------------------------------------------------------------

    def prepare(self, connectome: Connectome, projections: Sequence[int]) -> None:
        """Check the manifest against ``connectome`` and open a session per needed partition."""
        if self.manifest.genome_checksum != connectome.source_checksum:
            raise ManifestError(
                f"the manifest was exported from genome {self.manifest.genome_checksum[:16]!r}, "
                f"this brain is {connectome.source_checksum[:16]!r}: export it again")
        plan: dict[str, list[tuple[int, PartitionOutput]]] = {}
        parts: dict[str, Partition] = {}
        for p in projections:
            if p not in self._by_projection:
                raise ManifestError(f"projection {p} is not in the manifest (it holds "
                                    f"{sorted(self._by_projection)}): export it again")
            part, out = self._by_projection[p]
            _check_output(connectome, part, out)
            plan.setdefault(part.name, []).append((p, out))
            parts[part.name] = part
        ort = _ort()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1  # one node per output: nothing to run in parallel
        # Idle workers would spin on the cores the burst loop needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions = {}
        for name, part in parts.items():
            path = self.directory / part.files.get("onnx", f"{name}.onnx")
            if not path.is_file():
                raise ManifestError(f"partition {name}: model file {path} is missing")
            session = ort.InferenceSession(str(path), sess_options=options,
                                           providers=list(self.providers))
            _check_session(session, part)
            sessions[name] = session
        self._sessions, self._plan, self._parts = sessions, plan, parts

    def compute(self, spikes: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Counts ``X @ A.T`` per projection: one model run per partition and distinct row."""
        self.calls += 1
        out: dict[int, np.ndarray] = {}
        for name, members in self._plan.items():
            wanted = [(p, o) for p, o in members if p in spikes]
            if not wanted:
                continue
            part, session = self._parts[name], self._sessions[name]
            # Projections of one partition share their source frame; rows repeat across them
            # (same fired set, contributions differ only by the projection's weight).
            rows: dict[bytes, np.ndarray] = {}
            for p, _ in wanted:
                for row in np.asarray(spikes[p], dtype=np.uint8):
                    rows.setdefault(row.tobytes(), row)
            names = [o.name for _, o in wanted]
            results: dict[bytes, list[np.ndarray]] = {}
            for key, row in rows.items():
                t0 = time.perf_counter()
                feed = {part.input_name: _to_input(part, row)}
                t1 = time.perf_counter()
                raw = session.run(names, feed)
                t2 = time.perf_counter()
                results[key] = [_to_counts(part, o, v) for (_, o), v in zip(wanted, raw, strict=True)]
                self.seconds["run"] += t2 - t1
                self.seconds["convert"] += time.perf_counter() - t2 + t1 - t0
                self.runs += 1
            for k, (p, _) in enumerate(wanted):
                x = np.asarray(spikes[p], dtype=np.uint8)
                out[p] = np.stack([results[row.tobytes()][k] for row in x])
        return out

    def stats(self) -> dict[str, Any]:
        """Bursts integrated, model runs, and seconds inside ONNX Runtime and in conversion."""
        return {"bursts": self.calls, "runs": self.runs, "seconds": dict(self.seconds)}

    def close(self) -> None:
        """Drop the sessions; ``prepare`` may open them again (the integrator contract).

        The temporary export of :meth:`from_connectome` stays until the integrator is garbage
        collected (``TemporaryDirectory`` removes it then), so a closed integrator can reopen.
        """
        self._sessions, self._plan = {}, {}


# -- helpers ---------------------------------------------------------------------------------


def _check_output(connectome: Connectome, part: Partition, out: PartitionOutput) -> None:
    """The manifest entry must describe this connectome's projection: ManifestError if not."""
    p = out.projection
    if not 0 <= p < len(connectome.projections):
        raise ManifestError(f"manifest names projection {p}; the brain has "
                            f"{len(connectome.projections)}")
    proj = connectome.projections[p]
    src, dst = connectome.areas[proj.src_area], connectome.areas[proj.dst_area]
    mapping = (src.cortical_id, dst.cortical_id, proj.rule_index)
    if tuple(out.mapping) != mapping:
        raise ManifestError(f"projection {p} is {mapping} in this brain but {tuple(out.mapping)} "
                            "in the manifest")
    if part.src_area != src.cortical_id or part.delay != proj.delay:
        raise ManifestError(f"partition {part.name} reads {part.src_area} at delay {part.delay}; "
                            f"projection {p} reads {src.cortical_id} at delay {proj.delay}")
    if tuple(part.input_shape) != frame_shape(src, part.layout):
        raise ManifestError(f"partition {part.name}: input shape {tuple(part.input_shape)} does "
                            f"not fit area {src.cortical_id} {frame_shape(src, part.layout)}")
    if tuple(out.shape) != frame_shape(dst, part.layout):
        raise ManifestError(f"output {out.name}: shape {tuple(out.shape)} does not fit area "
                            f"{dst.cortical_id} {frame_shape(dst, part.layout)}")
    if out.max_fan_in >= FLOAT32_EXACT_INTEGERS:
        raise ManifestError(f"output {out.name}: fan-in {out.max_fan_in} is beyond the integers "
                            "float32 holds exactly (2**24)")
    if out.adjacency_sha256 and out.adjacency_sha256 != adjacency_digest(connectome, p):
        raise ManifestError(f"output {out.name}: the exported synapses differ from projection "
                            f"{p}'s (same genome, other build seed?): export it again")


def _check_session(session: Any, part: Partition) -> None:
    """The ONNX file must have the manifest's input and outputs (a stale file is refused)."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != part.input_name:
        raise ManifestError(f"partition {part.name}: the model's inputs "
                            f"{[i.name for i in inputs]} are not [{part.input_name!r}]")
    expected_in = _nchw(part.input_shape) if part.layout == CONV else [1, *part.input_shape]
    if list(inputs[0].shape) != expected_in:
        raise ManifestError(f"partition {part.name}: model input shape {inputs[0].shape}, "
                            f"manifest says {expected_in}")
    have = {o.name: list(o.shape) for o in session.get_outputs()}
    for out in part.outputs:
        expected = _nchw(out.shape) if part.layout == CONV else [1, *out.shape]
        if have.get(out.name) != expected:
            raise ManifestError(f"partition {part.name}: model output {out.name!r} is "
                                f"{have.get(out.name)}, manifest says {expected}")


def _nchw(frame: Sequence[int]) -> list[int]:
    x, y, c = frame
    return [1, c, x, y]


def _to_input(part: Partition, row: np.ndarray) -> np.ndarray:
    """A spike row (area neuron order = channels-last frame) as the model's float32 input."""
    if part.layout == CONV:
        x, y, c = part.input_shape
        return np.ascontiguousarray(row.reshape(x, y, c).transpose(2, 0, 1)[None], np.float32)
    return row.astype(np.float32)[None]


def _to_counts(part: Partition, out: PartitionOutput, value: np.ndarray) -> np.ndarray:
    """Model output back in destination neuron order, verified to be exact counts."""
    # Check on the model's own layout (no copy), then transpose and cast in one pass.
    if (np.floor(value) != value).any() or (value.size and value.min() < 0):
        bad = value[(np.floor(value) != value) | (value < 0)][:3].tolist()
        raise InexactCountsError(f"output {out.name} returned non-integer or negative counts "
                                 f"{bad}; is the execution provider computing in reduced "
                                 "precision (e.g. TensorRT FP16)?")
    if part.layout == CONV:
        return value[0].transpose(1, 2, 0).astype(np.int32, order="C").reshape(-1)
    return value.astype(np.int32).reshape(-1)
