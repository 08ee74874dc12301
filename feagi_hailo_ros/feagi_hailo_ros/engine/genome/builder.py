"""Genome -> :class:`~feagi_hailo_ros.engine.core.connectome.Connectome`: areas, neurons, synapses.

How a FEAGI mapping becomes synapses (facts from FEAGI's sources, reimplemented):

* The morphology gives (source voxel, destination voxel) pairs (:mod:`.morphology`).
* Every neuron of the source voxel connects to every neuron of the destination
  voxel: FEAGI iterates over all source neurons and, for each candidate voxel,
  over all neurons the voxel holds (feagi/feagi ``src/evo/synaptogenesis_rules.py``
  ``neighbor_finder`` -> ``voxels.voxel_list_to_neuron_list``). With one neuron
  per voxel (the usual genome) this is one synapse per voxel pair. (feagi-core's
  Rust builder keys destinations by coordinate and so keeps only one neuron per
  destination voxel when ``_n_cnt`` > 1; the importer follows the documented
  Python behaviour.)
* Each candidate synapse survives with probability ``synapse_attractivity / 100``
  of the *destination* area (feagi/feagi ``synapse.py`` throws a die against
  ``blueprint[dst]['synapse_attractivity']``); a rule-level
  ``synapse_attractivity`` (feagi-core object rules) overrides it. The draw uses
  ``numpy.random.default_rng(seed ^ h)`` with ``h`` a stable hash of (source,
  destination, rule index), so one seed gives one connectome, independent of the
  order mappings are built in.
* Weight ``sign(m) * min(|m|, 255)`` for ``postSynapticCurrent_multiplier`` ``m``
  (feagi-core ``connectome_manager.rs`` ``apply_single_morphology_rule``: the
  multiplier is the u8 weight, a negative one makes the synapse inhibitory),
  delay ``synaptic_delay_bursts`` (default 1).
* Plastic mappings (``plasticity_flag``) are loaded with static weights and a
  :class:`~.errors.PlasticityIgnoredWarning`.

Core areas: the power area (``___pwr`` in v2, ``___power`` in v3) is recorded in
``Connectome.power_area``; the engine fires its neurons every burst. ``_death``
is an ordinary 1x1x1 area here (FEAGI's death handling is outside the burst
engine). Memory areas are not built: ``strict=True`` raises
:class:`~.errors.UnsupportedFeatureError`, ``strict=False`` drops them and every
mapping touching them, and lists what was skipped in ``Connectome.notes``.

Memory: :func:`estimate_memory` computes, from the genome alone, an upper bound
of the bytes the import needs (see the ``*_BYTES`` constants);
:func:`build_connectome` refuses with :class:`~.errors.BrainTooLargeError`
*before* allocating anything when it exceeds ``memory_limit_bytes``.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.connectome import AreaSpec, Connectome, Projection
from .errors import (
    BrainTooLargeError,
    GeneValueError,
    GenomeError,
    PlasticityIgnoredWarning,
    UnknownAreaError,
    UnknownMorphologyError,
    UnsupportedFeatureError,
    UnsupportedMorphologyError,
)
from .model import AreaGenes, Genome, GenomeSource, MappingRule, Morphology
from .morphology import (
    SeparableTerm,
    function_terms,
    pattern_terms,
    vectors_terms,
    voxel_pairs,
)
from .parser import load_genome

__all__ = [
    "DEFAULT_MEMORY_LIMIT_BYTES",
    "build_connectome",
    "estimate_memory",
    "load_genome",
]

#: Default ceiling for :func:`build_connectome` (fits a Raspberry Pi 5 with room to spare).
DEFAULT_MEMORY_LIMIT_BYTES = 4 * 2**30
#: Engine state per neuron (potential, threshold, counters, parameters; generous).
NEURON_STATE_BYTES = 64
#: A built synapse: int32 pre + int32 post.
SYNAPSE_BYTES = 8
#: Transient bytes while building the largest mapping: int64 voxel keys, the
#: sort inside ``np.unique``, int64 neuron indices before the int32 cast, the
#: attractivity draw.
BUILD_BYTES_PER_VOXEL_PAIR = 40
BUILD_BYTES_PER_SYNAPSE = 33
#: Area-local neuron indices are int32.
MAX_AREA_NEURONS = 2**31 - 1


@dataclass
class _PlannedMapping:
    rule: MappingRule
    src: AreaGenes
    dst: AreaGenes
    morphology: Morphology
    terms: list[SeparableTerm]
    voxel_pair_bound: int
    synapse_bound: int


@dataclass
class _Plan:
    areas: list[AreaGenes]
    mappings: list[_PlannedMapping]
    notes: list[str] = field(default_factory=list)


def _plan(genome: Genome, strict: bool) -> _Plan:
    """Resolve areas, destinations and morphologies; nothing large is allocated here."""
    notes = list(genome.notes)

    def issue(err: GenomeError) -> None:
        if strict:
            raise err
        notes.append(f"skipped: {err}")

    resolve = _id_resolver(genome)
    kept: list[AreaGenes] = []
    dropped: set[str] = set()
    for area in genome.areas:
        if area.is_memory:
            dropped.add(area.cortical_id)
            issue(UnsupportedFeatureError(
                f"memory area {area.cortical_id!r} ({area.name}) is not supported: FEAGI grows "
                "its neurons from plasticity at run time", area.path))
            continue
        kept.append(area)
    powers = [a.cortical_id for a in kept if a.is_power]
    if len(powers) > 1:
        raise GeneValueError(f"more than one power area: {', '.join(powers)}", "blueprint")

    mappings: list[_PlannedMapping] = []
    for area in kept:
        # Sorted so that the projection order depends on the genome's content,
        # not on the key order of the JSON file.
        for rule in sorted(area.mappings, key=lambda r: (r.dst, r.index)):
            label = f"mapping {rule.src} -> {rule.dst} rule {rule.index}"
            dst = resolve(rule.dst)
            if dst is None:
                issue(UnknownAreaError(f"{label}: destination area {rule.dst!r} is not in the "
                                       "blueprint", rule.path))
                continue
            if dst.cortical_id in dropped:
                issue(UnsupportedFeatureError(f"{label}: destination is a memory area", rule.path))
                continue
            morphology = genome.morphologies.get(rule.morphology_id)
            if morphology is None:
                issue(UnknownMorphologyError(f"{label}: morphology {rule.morphology_id!r} is not "
                                             "defined in neuron_morphologies", rule.path))
                continue
            try:
                terms = _terms(morphology, rule, area, dst, label)
            except UnsupportedFeatureError as err:
                issue(err)
                continue
            if morphology.type == "placeholder":
                notes.append(f"{rule.path}: {label} uses placeholder morphology "
                             f"{rule.morphology_id!r}, which creates no synapses")
            pairs = sum(t.count() for t in terms)
            synapses = pairs * area.neurons_per_voxel * dst.neurons_per_voxel
            mappings.append(_PlannedMapping(rule, area, dst, morphology, terms, pairs, synapses))
    return _Plan(kept, mappings, notes)


def _id_resolver(genome: Genome) -> Callable[[str], AreaGenes | None]:
    """Destination id -> area. Exact id first; then the readable id, so that a v3
    genome whose mapping keys are still legacy 6-character ids finds its areas the
    way feagi-core does (it pads ``o__mot`` to the 8-byte ``o__mot__``)."""
    exact = {a.cortical_id: a for a in genome.areas}
    readable = {a.ascii_id: a for a in genome.areas}
    power = next((a for a in genome.areas if a.is_power), None)

    def resolve(cid: str) -> AreaGenes | None:
        area = exact.get(cid) or readable.get(cid) or readable.get(cid.ljust(8, "_"))
        if area is None and power is not None and AreaGenes.id_is_power(cid):
            area = power
        return area
    return resolve


def _terms(morphology: Morphology, rule: MappingRule, src: AreaGenes, dst: AreaGenes,
           label: str) -> list[SeparableTerm]:
    mid = morphology.morphology_id
    if morphology.type == "vectors":
        return vectors_terms(morphology.vectors, rule.morphology_scalar, src.dims, dst.dims)
    if morphology.type == "patterns":
        return pattern_terms(morphology.patterns, src.dims, dst.dims)
    if morphology.type == "functions":
        if mid == "memory":
            raise UnsupportedMorphologyError(
                f"{label}: the 'memory' morphology builds no static synapses in FEAGI (memory "
                "neurons grow from plasticity at run time); not supported", rule.path)
        try:
            return function_terms(mid, src.dims, dst.dims, rule.path)
        except UnsupportedMorphologyError as err:
            raise UnsupportedMorphologyError(f"{label}: {err.message}", rule.path) from err
    if morphology.type == "placeholder":
        return []  # FEAGI's placeholder creates nothing
    raise UnsupportedMorphologyError(
        f"{label}: {morphology.type} morphology {mid!r} is not supported", rule.path)


def _estimate(plan: _Plan) -> int:
    neurons = sum(a.neuron_count for a in plan.areas)
    synapses = sum(m.synapse_bound for m in plan.mappings)
    transient = max((BUILD_BYTES_PER_VOXEL_PAIR * m.voxel_pair_bound
                     + BUILD_BYTES_PER_SYNAPSE * m.synapse_bound for m in plan.mappings),
                    default=0)
    return neurons * NEURON_STATE_BYTES + synapses * SYNAPSE_BYTES + transient


def estimate_memory(genome: Genome | GenomeSource) -> int:
    """Upper bound (bytes) of what building this genome needs, computed before allocating.

    Counts engine state per neuron (:data:`NEURON_STATE_BYTES`), the final synapse arrays
    (:data:`SYNAPSE_BYTES` each), and the transient working set of the largest mapping
    (:data:`BUILD_BYTES_PER_VOXEL_PAIR`, :data:`BUILD_BYTES_PER_SYNAPSE`). Memory areas and
    unsupported or broken mappings count 0 (as ``build_connectome(strict=False)`` would skip
    them). Synapse attractivity is not taken into account (the bound assumes 100 %).

    ``genome`` is a parsed :class:`~.model.Genome` or anything :func:`~.parser.load_genome`
    accepts. Returns bytes (int). Raises what :func:`~.parser.load_genome` raises for a source,
    and :class:`~.errors.GeneValueError` when the genome has more than one power area.
    """
    if not isinstance(genome, Genome):
        genome = load_genome(genome)
    return _estimate(_plan(genome, strict=False))


def build_connectome(
    genome: Genome | GenomeSource,
    *,
    strict: bool = True,
    seed: int = 0,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> Connectome:
    """Build the connectome of a genome (or of a path / JSON text / dict, loaded first).

    ``strict=False`` skips unsupported parts (memory areas, composite and
    unsupported function morphologies, unknown destinations or morphologies)
    and lists them in ``Connectome.notes`` instead of raising. ``seed`` (an int >= 0)
    drives the synapse-attractivity draws (same seed, same connectome).

    Returns a :class:`~feagi_hailo_ros.engine.core.connectome.Connectome`: areas in the
    genome's order (sorted by cortical id, skipped areas left out), one projection per mapping
    rule built, ordered by source area then (destination id, rule index), with area-local int32
    ``pre``/``post`` arrays (ordered by source voxel, then destination voxel), weight
    ``sign(m) * min(|m|, 255)`` for the rule's multiplier ``m`` (feagi-core
    ``connectome_manager.rs``), the power area's index (or ``None``) and ``source_checksum`` =
    ``Genome.checksum``. Emits one
    :class:`~.errors.PlasticityIgnoredWarning` per plastic mapping.

    Raises ``ValueError`` for a bad ``seed``; what :func:`~.parser.load_genome` raises for a
    source; :class:`~.errors.GeneValueError` for more than one power area;
    :class:`~.errors.BrainTooLargeError` before allocating when the estimate
    (:func:`estimate_memory`) exceeds ``memory_limit_bytes`` or an area has more neurons than
    int32 indices hold; and with ``strict=True`` :class:`~.errors.UnsupportedFeatureError`
    (memory areas, :class:`~.errors.UnsupportedMorphologyError` for morphologies not built),
    :class:`~.errors.UnknownAreaError` and :class:`~.errors.UnknownMorphologyError`.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(genome, Genome):
        genome = load_genome(genome)
    plan = _plan(genome, strict)
    estimate = _estimate(plan)
    if estimate > memory_limit_bytes:
        raise BrainTooLargeError(
            f"building this brain needs an estimated {estimate / 2**20:.1f} MiB ({estimate} "
            f"bytes: {sum(a.neuron_count for a in plan.areas)} neurons, up to "
            f"{sum(m.synapse_bound for m in plan.mappings)} synapses), over the limit of "
            f"{memory_limit_bytes / 2**20:.1f} MiB", estimate, memory_limit_bytes, "blueprint")
    for area in plan.areas:
        if area.neuron_count > MAX_AREA_NEURONS:
            raise BrainTooLargeError(
                f"area {area.cortical_id!r} has {area.neuron_count} neurons; at most "
                f"{MAX_AREA_NEURONS} fit int32 neuron indices", estimate, memory_limit_bytes,
                area.path)

    notes = plan.notes
    areas: list[AreaSpec] = []
    index_of: dict[str, int] = {}
    first = 0
    for area in plan.areas:
        spec = _area_spec(area, len(areas), first, notes)
        index_of[area.cortical_id] = spec.index
        areas.append(spec)
        first += spec.neuron_count

    projections: list[Projection] = []
    for planned in plan.mappings:
        rule = planned.rule
        if rule.plasticity:
            message = (f"{rule.path}: mapping {rule.src} -> {rule.dst} rule {rule.index} "
                       f"({rule.morphology_id}) asks for plasticity; loaded with static weights")
            warnings.warn(message, PlasticityIgnoredWarning, stacklevel=2)
            notes.append(message)
        pre, post = _synapses(planned, seed)
        m = rule.psc_multiplier
        weight = math.copysign(min(abs(m), 255.0), m) if m != 0 else 0.0
        projections.append(Projection(
            index=len(projections),
            src_area=index_of[planned.src.cortical_id],
            dst_area=index_of[planned.dst.cortical_id],
            weight=weight,
            delay=rule.delay,
            pre=pre,
            post=post,
            morphology=rule.morphology_id,
            rule_index=rule.index,
            plastic=rule.plasticity,
        ))

    power = next((index_of[a.cortical_id] for a in plan.areas if a.is_power), None)
    return Connectome(areas=areas, projections=projections, power_area=power,
                      source_checksum=genome.checksum, notes=notes)


def _area_spec(area: AreaGenes, index: int, first: int, notes: list[str]) -> AreaSpec:
    leak = area.leak
    if leak > 1.0:
        # FEAGI's API clamps leak to [0, 1] (DESIGN §4: λ ∈ [0, 1]).
        notes.append(f"{area.path}: leak_coefficient {leak:g} > 1 clamped to 1 (full leak)")
        leak = 1.0
    excitability = area.excitability
    if excitability > 1.0:
        # Old genomes store 100 for "always" (DESIGN §4: values > 1 mean always). A
        # value strictly between 1 and 100 may have meant a percentage: say so.
        if excitability < 100.0:
            notes.append(f"{area.path}: neuron_excitability {excitability:g} read as 'always' "
                         "(values > 1 mean always; write a fraction like 0.5 for 50 %)")
        excitability = 1.0
    limit = area.threshold_limit if area.threshold_limit > 0 else math.inf
    psp = int(min(max(area.psp, 0.0), 255.0))
    return AreaSpec(
        index=index,
        cortical_id=area.cortical_id,
        name=area.name,
        group=area.group,
        dims=area.dims,
        neurons_per_voxel=area.neurons_per_voxel,
        position=area.position,
        first_neuron=first,
        fire_threshold=float(area.fire_threshold),
        threshold_increment=tuple(float(v) for v in area.threshold_increment),  # type: ignore
        threshold_limit=float(limit),
        leak=float(leak),
        refractory=int(area.refractory),
        consecutive_fire_limit=int(area.consecutive_fire_limit),
        excitability=float(excitability),
        mp_acc=area.mp_acc,
        mp_psp=area.mp_psp,
        psp=psp,
        psp_uniform=area.psp_uniform,
    )


def _rule_seed(seed: int, rule: MappingRule) -> int:
    """``seed`` mixed with a stable (process-independent) hash of the mapping's identity."""
    digest = hashlib.sha256(f"{rule.src}\x1f{rule.dst}\x1f{rule.index}".encode()).digest()
    return seed ^ int.from_bytes(digest[:8], "little")


def _synapses(planned: _PlannedMapping, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-local (pre, post) int32 arrays of one mapping."""
    src, dst, rule = planned.src, planned.dst, planned.rule
    src_vox, dst_vox = voxel_pairs(planned.terms, src.dims, dst.dims)
    ns, nd = src.neurons_per_voxel, dst.neurons_per_voxel
    if ns == 1 and nd == 1:
        pre, post = src_vox, dst_vox
    else:
        # Every neuron of the source voxel to every neuron of the destination voxel.
        pre3 = src_vox[:, None, None] * ns + np.arange(ns, dtype=np.int64)[None, :, None]
        post3 = dst_vox[:, None, None] * nd + np.arange(nd, dtype=np.int64)[None, None, :]
        pre3, post3 = np.broadcast_arrays(pre3, post3)
        pre, post = pre3.ravel(), post3.ravel()
    attractivity = (rule.synapse_attractivity if rule.synapse_attractivity is not None
                    else dst.synapse_attractivity)
    p = attractivity / 100.0
    if p < 1.0 and pre.size:
        rng = np.random.default_rng(_rule_seed(seed, rule))
        keep = rng.random(pre.size) < p
        pre, post = pre[keep], post[keep]
    return pre.astype(np.int32), post.astype(np.int32)
