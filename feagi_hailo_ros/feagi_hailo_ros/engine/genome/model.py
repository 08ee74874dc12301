"""The genome model: what :mod:`.parser` produces and :mod:`.builder` consumes.

Plain frozen dataclasses, no parsing: :class:`Genome` holds the :class:`AreaGenes` of every
cortical area (each with its :class:`MappingRule` s) and the :class:`Morphology` s by id. Every
value here has already been type-checked, range-checked and given FEAGI's default by the parser;
the gene codes, defaults and FEAGI sources are listed in :mod:`.parser`'s docstring. The
constants below are the value ranges the parser enforces on these fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from .morphology import PatternToken

__all__ = [
    "FLOAT32_MAX",
    "INT32_MAX",
    "MAX_DELAY_BURSTS",
    "MORPHOLOGY_TYPES",
    "POWER_FEAGI_ID",
    "POWER_IDS",
    "UINT16_MAX",
    "AreaGenes",
    "Genome",
    "GenomeSource",
    "MappingRule",
    "Morphology",
]

#: What :func:`.parser.load_genome` accepts: a file path (``str`` or path-like), JSON text
#: (``str`` starting with ``{``/``[``, or ``bytes``), or an already-decoded JSON object.
GenomeSource = Union[str, bytes, os.PathLike, Mapping]

#: Upper bound on ``synaptic_delay_bursts``: the engine keeps a spike history
#: this deep, so an absurd delay would be an absurd allocation.
MAX_DELAY_BURSTS = 65535

#: Value ranges of the fixed-width types feagi-core stores these genes in
#: (coordinates i32, refractory period and fire-count limit u16) and of float32,
#: the engine's precision: anything outside would overflow or become inf there.
INT32_MAX = 2**31 - 1
UINT16_MAX = 2**16 - 1
FLOAT32_MAX = 3.4028234663852886e38

#: Ids (legacy 6-character, and the readable form of v3 8-byte ids) of FEAGI's power area,
#: whose neurons fire every burst.
POWER_IDS = frozenset({"___pwr", "_power", "___pwr__", "___power"})
#: FEAGI's current id of the power area (``___power`` in base64).
POWER_FEAGI_ID = "X19fcG93ZXI="

#: The values of :attr:`Morphology.type`, as FEAGI's ``neuron_morphologies`` spell them.
MORPHOLOGY_TYPES = ("vectors", "patterns", "functions", "composite", "placeholder")


@dataclass(frozen=True)
class MappingRule:
    """One mapping rule of a source area towards one destination area (one ``dstmap`` entry).

    Built by the parser from an array rule (v2/v3) or an object rule (feagi-core v3); the
    builder turns it into one :class:`~feagi_hailo_ros.engine.core.connectome.Projection`.
    Field meanings (FEAGI names in brackets):

    * ``src``, ``dst``: cortical ids as written in the genome (the destination is resolved to an
      area only by the builder, so it may name an area that does not exist).
    * ``morphology_id``: key into :attr:`Genome.morphologies`.
    * ``morphology_scalar``: (x, y, z) integer factors applied to ``vectors`` morphologies.
    * ``psc_multiplier`` [``postSynapticCurrent_multiplier``]: the synaptic weight ``|m|`` (a
      float, not clamped: FEAGI 2.6.10, ``feagi_ref/min_mult300``); negative means inhibitory.
    * ``plasticity`` [``plasticity_flag``] and the ``plasticity_*``/``lt?_multiplier`` values:
      read and kept; the engine loads plastic mappings with static weights.
      ``plasticity_window`` is ``None`` when the rule does not give it.
    * ``delay`` [``synaptic_delay_bursts``]: bursts, 1..:data:`MAX_DELAY_BURSTS`.
    """

    src: str
    dst: str
    #: Position of the rule in the (src, dst) rule list; part of its identity.
    index: int
    morphology_id: str
    morphology_scalar: tuple[int, int, int]
    psc_multiplier: float
    plasticity: bool
    delay: int
    #: Rule-level attractivity (feagi-core object rules); ``None`` -> the
    #: destination area's ``synatt`` applies.
    synapse_attractivity: float | None
    plasticity_constant: float = 0.0
    ltp_multiplier: float = 0.0
    ltd_multiplier: float = 0.0
    plasticity_window: float | None = None
    #: Key path of the rule in the genome, for messages.
    path: str = ""


@dataclass(frozen=True)
class AreaGenes:
    """The genes of one cortical area, typed and validated, defaults applied.

    Values as the parser leaves them (DESIGN §4 gives the neuron rules they feed; the builder
    later reads an ``excitability`` above 1 as "always", a negative ``psp`` as 0 and a
    ``threshold_limit`` of 0 as "no limit"): ``dims`` voxels per axis (each >= 1), ``position``
    voxels (int32 range), ``neurons_per_voxel`` >= 1, ``synapse_attractivity`` percent (>= 0),
    ``psp``, ``fire_threshold``, ``threshold_increment`` (per voxel of x, y, z) and
    ``threshold_limit`` (>= 0) in membrane-potential units, ``refractory`` and
    ``consecutive_fire_limit`` bursts / fires (0..65535, 0 = none), ``leak`` fraction of the
    potential lost per burst (>= 0; FEAGI applies ``V * (1 - leak)`` for any value),
    ``excitability`` firing probability (>= 0; > 1 means always).

    ``feagi_id`` is FEAGI's current id of the area (8 bytes in base64: the id itself for a v3
    id, the migrated id for a legacy one, :mod:`.ids`), ``legacy_id`` the 6-character id it has
    or came from (``""`` when none), ``feagi_type`` FEAGI's type (``IPU``, ``OPU``, ``CUSTOM``,
    ``MEMORY``, ``CORE``).
    """

    cortical_id: str
    #: Human-readable form of the id (the decoded 8 bytes for a base64 id).
    ascii_id: str
    name: str
    group: str
    sub_group: str
    dims: tuple[int, int, int]
    position: tuple[int, int, int]
    neurons_per_voxel: int
    synapse_attractivity: float
    psp: float
    psp_uniform: bool
    fire_threshold: float
    threshold_increment: tuple[float, float, float]
    threshold_limit: float
    refractory: int
    leak: float
    consecutive_fire_limit: int
    excitability: float
    mp_acc: bool
    mp_psp: bool
    is_memory_flag: bool
    mappings: tuple[MappingRule, ...]
    #: Key path prefix of the area's genes (e.g. ``blueprint._____10c-i__pro``).
    path: str = ""
    feagi_id: str = ""
    legacy_id: str = ""
    feagi_type: str = "CUSTOM"
    #: ``nx-snooze`` / ``snooze_length``: extra bursts of refractoriness when a fire reaches the
    #: consecutive-fire limit (recording min_snooze).
    snooze: int = 0
    #: Memory genes (DESIGN §4.7), read for every area, used for memory areas: ``tmpdpt`` window
    #: depth in bursts, ``mem_ls`` initial lifespan, ``mem_gr`` growth per reactivation,
    #: ``mem__t`` long-term threshold.
    memory_depth: int = 1
    memory_lifespan: int = 9
    memory_growth: int = 1
    memory_longterm: int = 100

    @property
    def is_power(self) -> bool:
        """FEAGI's power area: its neurons fire every burst (``___pwr``/``_power``/``___power``)."""
        return (self.id_is_power(self.cortical_id) or self.id_is_power(self.ascii_id)
                or self.feagi_id == POWER_FEAGI_ID)

    @staticmethod
    def id_is_power(cortical_id: str) -> bool:
        """Whether an id (legacy 6-character, or the readable form of a v3 id) is in
        :data:`POWER_IDS`, i.e. names FEAGI's power area."""
        return cortical_id in POWER_IDS

    @property
    def is_memory(self) -> bool:
        """Memory area (group MEMORY, a MEMORY sub-group, or ``memory`` gene true). An ``m`` id
        alone is not enough: FEAGI 2.6.10 builds an ``m`` area with ``memory`` false as an
        ordinary area (its re-save ``turtlebot.v3.json`` counts their neurons and synapses)."""
        return (self.is_memory_flag or self.group.upper() == "MEMORY"
                or "MEMORY" in self.sub_group.upper())

    @property
    def neuron_count(self) -> int:
        """Neurons of the area: ``dims[0] * dims[1] * dims[2] * neurons_per_voxel``."""
        return self.dims[0] * self.dims[1] * self.dims[2] * self.neurons_per_voxel


@dataclass(frozen=True)
class Morphology:
    """One entry of ``neuron_morphologies`` (or a FEAGI core morphology).

    ``type`` is one of :data:`MORPHOLOGY_TYPES`. Only the field of that type is filled:
    ``vectors`` for ``"vectors"`` ((x, y, z) integer offsets), ``patterns`` for ``"patterns"``
    (canonical tokens, see :data:`.morphology.PatternToken`), ``parameters`` for the others
    (a ``functions`` morphology is identified by ``morphology_id`` alone). ``"placeholder"`` is
    an entry without a type (``{}`` or ``{"parameters": {}}``): FEAGI accepts it as long as no
    mapping uses it, and so does the builder.
    ``morphology_class`` is the genome's ``class`` (``"core"`` for FEAGI's core morphologies).
    """

    morphology_id: str
    type: str
    vectors: tuple[tuple[int, int, int], ...] = ()
    #: (source tokens, destination tokens) per pattern, canonical tokens.
    patterns: tuple[tuple[tuple[PatternToken, ...], tuple[PatternToken, ...]], ...] = ()
    #: Raw parameters (functions/composite), kept for messages.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    morphology_class: str = "custom"
    path: str = ""


@dataclass(frozen=True)
class Genome:
    """A parsed genome: areas sorted by cortical id, morphologies by id.

    ``schema_version`` is the genome's integer ``genome_schema_version`` when it has one (2..7),
    else 2 for a ``"2.x"`` and 3 for a ``"3.x"`` ``version``; ``version`` is the version string
    (empty when only the schema number is given).
    ``morphologies`` always contains FEAGI's core morphologies. ``notes`` lists what the parser
    ignored or replaced (unknown genes, core morphologies overridden, modulators).
    """

    schema_version: int
    version: str
    genome_id: str
    title: str
    areas: tuple[AreaGenes, ...]
    morphologies: Mapping[str, Morphology]
    #: sha256 of the canonical JSON text (sorted keys, no whitespace).
    checksum: str
    notes: tuple[str, ...] = ()

    def area(self, cortical_id: str) -> AreaGenes:
        """An area by its id as written, its readable id (decoded v3 id), then its FEAGI id or
        legacy id (:attr:`AreaGenes.feagi_id`, :attr:`AreaGenes.legacy_id`).

        Raises ``KeyError`` (with the id) when no area has that id.
        """
        for a in self.areas:
            if cortical_id in (a.cortical_id, a.ascii_id):
                return a
        for a in self.areas:
            if cortical_id in (a.feagi_id, a.legacy_id) and cortical_id:
                return a
        raise KeyError(cortical_id)

    @property
    def neuron_count(self) -> int:
        """Sum of :attr:`AreaGenes.neuron_count` over every area (memory areas included)."""
        return sum(a.neuron_count for a in self.areas)
