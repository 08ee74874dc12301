"""Accelerator partitions: which projections an accelerator integrates, and the manifest format.

A *partition* is one accelerator network (one ONNX model, one HEF network group): the
projections that share a source area and a delay, so they read the same spike vector. Its
input is the source area's spikes at ``t - delay`` (0/1, uint8); each output is the *count*
``A @ x`` of one projection's 0/1 adjacency (DESIGN §5), exact in UINT8 while the largest
fan-in is at most 255 and in UINT16 beyond. The CPU multiplies counts by the per-spike
contribution (the engine's integrator seam does that exactly).

Layouts (precision declared: inputs UINT8 0/1, weights 0/1 INT8, outputs UINT8 or UINT16):

* ``conv``: the source and destination areas have the same x, y and the adjacency is
  translation invariant; input ``(dx, dy, dz * k)`` channels-last, one Conv2D with 0/1
  kernels (z and the neurons of a voxel are channels), output ``(dx, dy, dz' * k')``.
* ``gemm``: anything else; input ``(n_src,)``, one dense layer, output ``(n_dst,)``.

Neuron order inside an area is x-major with z (then k) innermost, i.e. exactly the
channels-last order, so a frame is the area's spike vector as it lies in memory and an
output frame is the destination area's counts in neuron order: no reordering on the host.

The manifest (``manifest.json`` beside the exported models) is the contract between the
exporter, the ONNX Runtime integrator and the Hailo integrator. This module defines it and
reads/writes it; it has no FEAGI-genome knowledge beyond the connectome.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_FORMAT = "feagi-hailo-partitions"
MANIFEST_VERSION = 1


class ManifestError(ValueError):
    """A manifest that cannot be read or does not match the connectome; the message says why."""


@dataclass(frozen=True)
class PartitionOutput:
    """One projection's counts: output ``name`` of its partition's network.

    ``projection`` is the index in the connectome, ``dst_area`` the destination cortical id,
    ``max_fan_in`` the largest in-degree of a destination neuron, i.e. the largest count the
    output must hold exactly.
    """

    projection: int
    #: (source cortical id, destination cortical id, rule index): identifies the mapping
    #: independently of projection numbering.
    mapping: tuple[str, str, int]
    name: str
    dst_area: str
    #: Channels-last frame shape: (dx, dy, dz*k) for conv, (n_dst,) for gemm.
    shape: tuple[int, ...]
    #: "uint8" or "uint16": the narrowest that holds the largest fan-in exactly.
    dtype: str
    max_fan_in: int
    #: SHA-256 of the projection's synapse lists (int64 ``pre`` then ``post`` bytes), so a
    #: consumer can check that the layer it runs is the connectome's adjacency; "" = unknown
    #: (optional, added by the exporter).
    adjacency_sha256: str = ""


@dataclass(frozen=True)
class Partition:
    """One accelerator network: projections sharing a source area and a delay.

    ``src_area`` is the source cortical id, ``delay`` in bursts, ``input_name`` /
    ``input_shape`` the network input (channels-last: ``(X, Y, C)`` conv, ``(n_src,)`` gemm),
    ``outputs`` one :class:`PartitionOutput` per projection in network order. ``files`` keys
    are ``"onnx"``, ``"alls"``, ``"calib"`` as the exporter writes them, and ``"hef"``, the
    compiled network, which is added after compiling and which the Hailo integrator needs.
    """

    name: str
    src_area: str
    delay: int
    layout: str  # "conv" | "gemm"
    input_name: str
    input_shape: tuple[int, ...]
    outputs: tuple[PartitionOutput, ...]
    #: Number of weights of the compiled layer (kernel elements or matrix entries).
    weight_count: int
    #: Files beside the manifest (relative paths); absent entries are not produced yet.
    files: dict[str, str] = field(default_factory=dict)

    @property
    def projections(self) -> tuple[int, ...]:
        """Projection indices of the outputs, in output order."""
        return tuple(o.projection for o in self.outputs)


@dataclass(frozen=True)
class Manifest:
    """The partitions exported for one connectome: ``manifest.json``.

    ``genome_checksum`` is the connectome's ``source_checksum`` (so a manifest of another
    genome is detected), ``arch`` the Hailo target (``"hailo8"``/``"hailo8l"``).
    """

    genome_checksum: str
    arch: str
    partitions: tuple[Partition, ...]

    def to_json(self) -> str:
        """The manifest as JSON text: ``format`` :data:`MANIFEST_FORMAT`, ``version``
        :data:`MANIFEST_VERSION`, then every field (tuples as lists)."""
        body = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, **asdict(self)}
        return json.dumps(body, indent=1)

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` and return it as a ``Path``; ``OSError`` on failure."""
        path = Path(path)
        path.write_text(self.to_json())
        return path

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse :meth:`to_json` text back (lists become tuples).

        Raises :class:`ManifestError` for another format or version, invalid JSON, or
        missing, unknown or ill-typed fields. (Valid JSON whose top level is not an object
        currently escapes as ``AttributeError``.)
        """
        try:
            body = json.loads(text)
            if body.get("format") != MANIFEST_FORMAT:
                raise ManifestError(f"not a partition manifest (format {body.get('format')!r})")
            if body.get("version") != MANIFEST_VERSION:
                raise ManifestError(f"manifest version {body.get('version')!r}; "
                                    f"this build reads version {MANIFEST_VERSION}")
            parts = []
            for p in body["partitions"]:
                outs = tuple(PartitionOutput(**{**o, "mapping": tuple(o["mapping"]),
                                                 "shape": tuple(o["shape"])})
                             for o in p["outputs"])
                parts.append(Partition(**{**p, "outputs": outs,
                                          "input_shape": tuple(p["input_shape"])}))
            return cls(genome_checksum=body["genome_checksum"], arch=body["arch"],
                       partitions=tuple(parts))
        except ManifestError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"malformed manifest: {type(exc).__name__}: {exc}") from exc

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        """:meth:`from_json` of a file; :class:`ManifestError` also when it cannot be read."""
        try:
            return cls.from_json(Path(path).read_text())
        except OSError as exc:
            raise ManifestError(f"cannot read manifest {path}: {exc}") from exc


def as_dict(partition: Partition) -> dict[str, Any]:
    """JSON-able form of one partition (for placement reports): ``dataclasses.asdict``, with
    tuples left as tuples (``json`` writes them as lists)."""
    return asdict(partition)
