"""The built brain: neuron parameters per area and synapses per projection.

This is the contract between the genome importer (which fills it) and the
backends (which run it). It holds no dynamic state; see :mod:`.state` for that.

Neuron numbering is global and contiguous per area. Inside an area the neuron
index is ``((x * dim_y + y) * dim_z + z) * neurons_per_voxel + k``: x-major,
z innermost, so an area read as an array is ``[x, y, z, k]`` (channels-last
with z as channels, which is how the Hailo mapping lays out a grid).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np

#: Precision declared, not implied: potentials and thresholds are float32,
#: exact for integer contributions below 2**24.
POTENTIAL_DTYPE = np.float32


#: FEAGI's area types by the first byte of a cortical id (feagi-structures ``cortical_id.rs``).
AREA_TYPES = {"i": "IPU", "o": "OPU", "c": "CUSTOM", "m": "MEMORY", "_": "CORE"}


def _type_of(cortical_id: str, group: str) -> str:
    """FEAGI's type of an area given only its id (legacy or base64) and group gene."""
    first = cortical_id[:1]
    if len(cortical_id) == 12:
        try:
            first = base64.b64decode(cortical_id, validate=True)[:1].decode("ascii")
        except (ValueError, UnicodeDecodeError):
            pass
    if first in AREA_TYPES:
        return AREA_TYPES[first]
    return group.upper() if group.upper() in AREA_TYPES.values() else "CUSTOM"


@dataclass(frozen=True)
class AreaSpec:
    """One cortical area and the neuron parameters all its neurons share.

    Attributes follow FEAGI's genes (DESIGN §4). ``threshold_limit`` is
    ``inf`` when the genome says ``fthlim = 0``; ``consecutive_fire_limit``
    is 0 for "no limit"; ``excitability`` is clamped to [0, 1] with values
    >= 0.999 meaning "always". ``index`` is the area's position in
    :attr:`Connectome.areas`, ``first_neuron`` the global index of its neuron 0,
    ``dims`` and ``position`` are in voxels (x, y, z), ``refractory`` in bursts,
    ``psp`` the PSP every spike of the area carries (a float >= 0, not clamped to 255 nor
    truncated: FEAGI 2.6.10), ``leak`` FEAGI's leak coefficient: ``V * (1 - leak)`` per burst
    without firing, for any value (also above 1), or, when ``leak_linear``, ``leak`` potential
    units per burst towards 0 (the old Python FEAGI's leak, chosen with
    ``build_connectome(legacy_leak="linear")``).

    ``feagi_id`` is FEAGI's current id of the area (8 bytes in base64; ``cortical_id`` is the id
    as the genome writes it), ``legacy_id`` the 6-character id it has or came from (``i__pro``),
    ``feagi_type`` FEAGI's type: ``IPU``, ``OPU``, ``CUSTOM``, ``MEMORY`` or ``CORE`` (derived
    from the id, then ``group``, when not given). :meth:`Connectome.area` finds an area by any
    of these ids or its name.
    """

    index: int
    cortical_id: str
    name: str
    group: str
    dims: tuple[int, int, int]
    neurons_per_voxel: int
    position: tuple[int, int, int]
    first_neuron: int
    fire_threshold: float
    threshold_increment: tuple[float, float, float]
    threshold_limit: float
    leak: float
    refractory: int
    consecutive_fire_limit: int
    excitability: float
    mp_acc: bool
    mp_psp: bool
    psp: float
    psp_uniform: bool
    feagi_id: str = ""
    legacy_id: str = ""
    feagi_type: str = ""
    leak_linear: bool = False
    #: Extra bursts of refractoriness when a fire brings the consecutive-fire count up to
    #: ``consecutive_fire_limit`` (FEAGI's snooze, recording min_snooze).
    snooze: int = 0

    def __post_init__(self) -> None:
        if not self.feagi_type:
            object.__setattr__(self, "feagi_type", _type_of(self.cortical_id, self.group))

    @property
    def neuron_count(self) -> int:
        """``dims[0] * dims[1] * dims[2] * neurons_per_voxel``."""
        dx, dy, dz = self.dims
        return dx * dy * dz * self.neurons_per_voxel

    @property
    def neuron_slice(self) -> slice:
        """The area's global neuron indices, ``first_neuron .. first_neuron + neuron_count``."""
        return slice(self.first_neuron, self.first_neuron + self.neuron_count)

    def voxel_of(self, local_index: np.ndarray) -> np.ndarray:
        """Voxel coordinates (x, y, z) of area-local neuron indices.

        ``local_index`` is an int array of any shape; returns an int64 array of that shape plus
        a last axis of 3 (``(n, 3)`` for ``(n,)``). Indices are not range-checked.
        """
        local_index = np.asarray(local_index, dtype=np.int64)
        _, dy, dz = self.dims
        voxel = local_index // self.neurons_per_voxel
        return np.stack([voxel // (dy * dz), (voxel // dz) % dy, voxel % dz], axis=-1)

    def neurons_of_voxels(self, voxels: np.ndarray) -> np.ndarray:
        """Area-local indices of every neuron in the given (n, 3) voxels.

        ``voxels`` is anything reshapeable to ``(n, 3)`` integer (x, y, z). Returns an int64
        array of ``n * neurons_per_voxel`` indices, voxel by voxel in the order given. Raises
        ``IndexError`` when a voxel is outside the area.
        """
        voxels = np.asarray(voxels, dtype=np.int64).reshape(-1, 3)
        dx, dy, dz = self.dims
        ok = np.all((voxels >= 0) & (voxels < np.array([dx, dy, dz])), axis=1)
        if not ok.all():
            bad = voxels[~ok][0].tolist()
            raise IndexError(f"voxel {bad} is outside area {self.cortical_id} of size {self.dims}")
        v = (voxels[:, 0] * dy + voxels[:, 1]) * dz + voxels[:, 2]
        k = np.arange(self.neurons_per_voxel, dtype=np.int64)
        return (v[:, None] * self.neurons_per_voxel + k[None, :]).reshape(-1)


@dataclass(frozen=True)
class PlasticityRule:
    """How a plastic mapping learns (DESIGN §4.7, recording ``feagi_ref/plastic/stdp``).

    ``ltp`` and ``ltd`` are FEAGI's per-update steps Δ+ and Δ− (weight units, floats >= 0, already
    ``min(255, trunc(plasticity_constant) * trunc(ltp_multiplier))`` and the same with
    ``ltd_multiplier``, negative products as 0); ``window`` is ``plasticity_window`` in bursts
    (>= 1). ``associative`` marks FEAGI's ``associative_memory`` morphology: it starts without
    synapses, grows them between co-active neurons and never depresses.
    """

    ltp: float
    ltd: float
    window: int
    associative: bool = False

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"plasticity window must be >= 1 burst, got {self.window}")
        if not (self.ltp >= 0 and self.ltd >= 0):
            raise ValueError(f"plasticity steps must be >= 0, got ltp={self.ltp}, ltd={self.ltd}")


@dataclass(frozen=True)
class Projection:
    """All synapses one mapping rule creates between two areas.

    Every synapse of a projection has the same signed weight and delay
    (FEAGI: ``w = |m|``, a float, sign of ``m``), so the projection is a 0/1
    adjacency ``A`` (dst x src) plus a scalar; this is what lets an
    accelerator compute exact counts ``A @ x``. ``pre`` and ``post`` are
    area-local neuron indices (integer arrays of equal length, int32 from the
    genome importer), one entry per synapse; ``src_area``/``dst_area`` index
    :attr:`Connectome.areas`; ``delay`` is in bursts (>= 1); ``morphology`` and
    ``rule_index`` name the mapping rule it came from.
    """

    index: int
    src_area: int
    dst_area: int
    weight: float
    delay: int
    pre: np.ndarray
    post: np.ndarray
    morphology: str = ""
    rule_index: int = 0
    plastic: bool = False
    #: Optional per-synapse signed weights. ``None`` (every genome-built
    #: projection) means all synapses carry ``weight``; a projection with
    #: per-synapse weights (e.g. the random benchmark network) is CPU-only,
    #: since it is not a 0/1 adjacency.
    weights: np.ndarray | None = None
    #: How the projection learns (``None``: static). A projection with a rule runs on the CPU
    #: (its weights change every burst); ``plastic`` is FEAGI's flag as the genome gave it.
    plasticity: PlasticityRule | None = None

    @property
    def synapse_count(self) -> int:
        """Number of synapses (``pre.size``)."""
        return int(self.pre.size)


@dataclass(frozen=True)
class MemoryArea:
    """A FEAGI memory area (DESIGN §4.7): its neurons are grown at run time, one per distinct
    window of upstream firing.

    ``area`` indexes :attr:`Connectome.areas`; that area holds a pool of ``capacity`` neurons
    in its voxel (0, 0, 0) (``dims`` (1, 1, 1), ``neurons_per_voxel`` = capacity), of which the
    engine uses as many as are alive. ``depth`` is the window in bursts (``tmpdpt``),
    ``lifespan`` a new neuron's lifespan (``mem_ls``), ``growth`` what a reactivation adds
    (``mem_gr``, truncated), ``longterm`` the lifespan at which a neuron becomes long-term
    (``mem__t``); ``upstream`` the indices of the non-memory areas mapped into it, ascending.
    """

    area: int
    depth: int
    lifespan: int
    growth: int
    longterm: int
    upstream: tuple[int, ...]
    capacity: int


@dataclass
class Connectome:
    """Areas plus projections; the unit a backend uploads and runs.

    ``power_area`` is the index of FEAGI's power area (fired every burst) or ``None``;
    ``memory_areas`` FEAGI's memory areas (:class:`MemoryArea`);
    ``source_checksum`` the :attr:`Genome.checksum <feagi_hailo_ros.engine.genome.model.Genome>`
    it was built from (``""`` when not built from a genome); ``notes`` what the importer
    skipped, clamped or ignored.
    """

    areas: list[AreaSpec]
    projections: list[Projection]
    power_area: int | None = None
    source_checksum: str = ""
    notes: list[str] = field(default_factory=list)
    #: FEAGI memory areas (DESIGN §4.7), whose neurons the engine grows at run time.
    memory_areas: list[MemoryArea] = field(default_factory=list)

    @property
    def neuron_count(self) -> int:
        """Neurons of all areas (global indices run ``0 .. neuron_count - 1``)."""
        return sum(a.neuron_count for a in self.areas)

    @property
    def synapse_count(self) -> int:
        """Synapses of all projections."""
        return sum(p.synapse_count for p in self.projections)

    def area(self, key: str | int) -> AreaSpec:
        """An area by index, cortical id, FEAGI id, legacy id or name.

        A ``str`` equal to an area's ``cortical_id`` finds it. Otherwise every area whose
        ``feagi_id``, ``legacy_id`` or ``name`` equals ``key``, or whose id or legacy id reads as
        ``key`` (up to 8 ASCII characters, padded with ``_`` as FEAGI pads legacy ids:
        ``"o__mot"`` finds ``b19fbW90X18=``, ``"o__mot__"`` finds the area whose legacy id is
        ``o__mot``), is a candidate; exactly one must match. Raises ``KeyError`` listing
        the candidates when several areas match, or the known ids when none does;
        ``IndexError`` for an ``int`` out of range (negative ints count from the end).
        """
        if isinstance(key, int):
            return self.areas[key]
        for a in self.areas:
            if a.cortical_id == key:
                return a
        readable = padded = ""
        if 0 < len(key) <= 8 and key.isascii():
            padded = key.ljust(8, "_")
            readable = base64.b64encode(padded.encode()).decode()
        found = [a for a in self.areas
                 if key in (a.feagi_id, a.legacy_id, a.name)
                 or (readable and readable in (a.cortical_id, a.feagi_id))
                 or (padded and a.legacy_id and a.legacy_id.ljust(8, "_") == padded)]
        if len(found) == 1:
            return found[0]
        if found:
            listed = "; ".join(_describe(a) for a in found)
            raise KeyError(f"{key!r} is ambiguous: it names {len(found)} areas ({listed}); use "
                           "a cortical id")
        known = ", ".join(a.cortical_id for a in self.areas)
        raise KeyError(f"no cortical area {key!r}; known: {known}")

    def areas_of_type(self, feagi_type: str) -> list[AreaSpec]:
        """The areas of one FEAGI type (``"IPU"`` the input areas, ``"OPU"`` the output areas,
        ``"CUSTOM"``, ``"MEMORY"``, ``"CORE"``; case-insensitive), in area order."""
        wanted = feagi_type.upper()
        return [a for a in self.areas if a.feagi_type == wanted]


def _describe(area: AreaSpec) -> str:
    """``cortical_id`` with the name and legacy id, for messages."""
    extra = ", ".join(x for x in (area.name, area.legacy_id) if x and x != area.cortical_id)
    return f"{area.cortical_id} ({extra})" if extra else area.cortical_id
