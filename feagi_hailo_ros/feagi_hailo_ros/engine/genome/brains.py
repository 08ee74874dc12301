"""One way to name a brain, for the CLI, the node's ``genome`` / ``connectome`` parameters and
``~/upload``.

A brain name is, in this order:

1. empty: the shipped default brain (``obstacle_avoidance``);
2. the name of a shipped genome, with or without ``.json`` (``feagi_hailo_ros/genomes/``), written
   without a directory part: the node runs in whatever directory it was launched from, so a bare
   shipped name never depends on the working directory (write ``./vision`` for a local file);
3. a file (``~`` expanded): a saved connectome when the file is a zip archive (what
   ``connectome_file.save_connectome`` writes, whatever its extension), otherwise a genome in any
   of FEAGI's JSON forms and with any extension (``.json``, FEAGI's own ``.genome``, none).

Names are taken as given (no whitespace is trimmed). Anything else is refused with one message
that says what was looked for and lists the shipped names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...genomes import available_genomes, example_genome_path
from ..core.connectome import Connectome
from .builder import DEFAULT_MEMORY_CAPACITY, build_connectome, estimate_memory
from .connectome_file import load_connectome
from .parser import Genome, load_genome

#: The brain an empty name stands for.
DEFAULT_BRAIN = "obstacle_avoidance"

GENOME = "genome"
CONNECTOME = "connectome"

# Every zip archive starts with a local file header (PKWARE APPNOTE 4.3.7); .npz files are zips.
_ZIP_MAGIC = b"PK\x03\x04"


class BrainNameError(ValueError):
    """A brain name that is neither a readable file nor a shipped genome."""


@dataclass(frozen=True)
class BrainRef:
    """A resolved brain name: what kind of file it is and where."""

    kind: str  # GENOME or CONNECTOME
    path: Path
    #: The name as given (or DEFAULT_BRAIN for an empty one).
    name: str
    #: Whether it is one of the package's example genomes.
    shipped: bool = False


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == _ZIP_MAGIC
    except OSError as exc:
        raise BrainNameError(f"brain file {str(path)!r} cannot be read: {exc.strerror or exc}") from exc


def _shipped(text: str) -> Path | None:
    """The shipped genome a bare name stands for, or None."""
    if os.sep in text or (os.altsep and os.altsep in text):
        return None
    try:
        return example_genome_path(text)
    except FileNotFoundError:
        return None


def resolve_brain(name: str | os.PathLike[str], *, expect: str | None = None) -> BrainRef:
    """Resolve a brain name (rules in the module docstring) without reading the brain.

    ``expect`` (GENOME or CONNECTOME) refuses the other kind. Raises :class:`BrainNameError`
    naming what was looked for and the shipped genomes.
    """
    text = os.fspath(name)
    shipped = example_genome_path(DEFAULT_BRAIN) if text == "" else _shipped(text)
    if shipped is not None:
        ref = BrainRef(GENOME, shipped, text or DEFAULT_BRAIN, shipped=True)
    else:
        try:
            path = Path(text).expanduser()
            regular, exists = path.is_file(), path.exists()
        except (RuntimeError, OSError, ValueError) as exc:  # ~nosuchuser, a name too long, NUL
            raise BrainNameError(f"brain {text!r} is not a usable path: {exc}") from exc
        if not exists:
            raise BrainNameError(
                f"brain {text!r} not found: no file of that name, and no shipped genome of that "
                f"name (shipped: {', '.join(available_genomes())})")
        if not regular:
            what = "a directory" if path.is_dir() else "not a regular file"
            raise BrainNameError(f"brain {text!r} is {what}; give a genome or connectome file")
        ref = BrainRef(CONNECTOME if _is_zip(path) else GENOME, path, text)
    if expect is not None and ref.kind != expect:
        raise BrainNameError(f"brain {text!r} is a {ref.kind}, not a {expect} file")
    return ref


def load_brain(name: str | os.PathLike[str], *, seed: int = 0, strict: bool = True,
               legacy_leak: str = "feagi",
               memory_capacity: int = DEFAULT_MEMORY_CAPACITY) -> tuple[Connectome, Genome | None]:
    """The connectome a brain name stands for, and its genome (None for a saved connectome).

    ``seed`` drives the builder's synapse sampling; ``strict=False`` skips unsupported
    morphologies instead of refusing the genome; ``legacy_leak`` is passed to
    :func:`~.builder.build_connectome` (``"feagi"`` or ``"linear"``; a saved connectome keeps
    what it was built with), and so is ``memory_capacity`` (memory neurons per memory area).
    Raises :class:`BrainNameError`, ``GenomeError`` (with the key path),
    ``ConnectomeFileError``, or ``ValueError`` for a bad ``legacy_leak``.
    """
    ref = resolve_brain(name)
    if ref.kind == CONNECTOME:
        return load_connectome(ref.path), None
    genome = load_genome(ref.path)
    return build_connectome(genome, strict=strict, seed=seed, legacy_leak=legacy_leak,
                            memory_capacity=memory_capacity), genome


def inspect_brain(connectome: Connectome, genome: Genome | None) -> dict[str, Any]:
    """A JSON-able description: neuron and synapse counts, the builder's memory estimate (bytes,
    None for a saved connectome), the source checksum, every area (with its FEAGI id, legacy id
    and FEAGI type) and mapping, the builder's notes (what it skipped or warned about)."""
    areas = [{"index": a.index, "cortical_id": a.cortical_id, "name": a.name,
              "feagi_id": a.feagi_id, "legacy_id": a.legacy_id, "type": a.feagi_type,
              "dims": list(a.dims), "neurons_per_voxel": a.neurons_per_voxel,
              "neurons": a.neuron_count, "power": a.index == connectome.power_area}
             for a in connectome.areas]
    mappings = [{"index": p.index, "src": connectome.areas[p.src_area].cortical_id,
                 "dst": connectome.areas[p.dst_area].cortical_id, "morphology": p.morphology,
                 "weight": p.weight, "delay": p.delay, "synapses": p.synapse_count,
                 "plastic": p.plastic,
                 **({"plasticity": {"kind": "associative_memory" if p.plasticity.associative
                                    else "stdp", "ltp": p.plasticity.ltp,
                                    "ltd": p.plasticity.ltd, "window": p.plasticity.window}}
                    if p.plasticity is not None else {})}
                for p in connectome.projections]
    return {
        "neurons": connectome.neuron_count,
        "synapses": connectome.synapse_count,
        "memory_estimate_bytes": estimate_memory(genome) if genome is not None else None,
        "checksum": connectome.source_checksum,
        "areas": areas,
        "mappings": mappings,
        "memory_areas": [{"area": connectome.areas[m.area].cortical_id, "capacity": m.capacity,
                          "depth": m.depth, "lifespan": m.lifespan, "growth": m.growth,
                          "longterm": m.longterm,
                          "upstream": [connectome.areas[u].cortical_id for u in m.upstream]}
                         for m in connectome.memory_areas],
        "notes": list(connectome.notes),
    }
