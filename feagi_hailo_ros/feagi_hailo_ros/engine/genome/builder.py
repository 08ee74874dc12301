"""Genome -> :class:`~feagi_hailo_ros.engine.core.connectome.Connectome`: areas, neurons, synapses.

What FEAGI's engine (feagi-core 2.6.10, engine 0.0.67) builds, reimplemented; "feagi-core"
below is ``crates/feagi-brain-development/src/connectome_manager.rs`` unless said otherwise:

* Areas: every cortical area of the genome, plus FEAGI's core areas the genome lacks
  (:data:`.ids.CORE_AREAS`: ``___death``, ``___power``, ``___fatig``, ``___pain_``,
  ``___pleas``, ``___fear_``, ``___hope_``, 1x1x1; FEAGI's ``ensure_core_cortical_areas``).
  Areas are ordered by FEAGI id (:attr:`~.model.AreaGenes.feagi_id`), so a v2 genome and
  FEAGI's re-save of it number their neurons alike. The power area fires every burst.
  Memory areas (DESIGN §4.7) are built as a pool of ``memory_capacity`` neurons in voxel
  (0, 0, 0) that the engine grows into at run time (:class:`~..core.connectome.MemoryArea`);
  mappings into them name their upstream areas and build no synapse, mappings out of them build
  synapses only as ``associative_memory`` grows them (as in FEAGI).
* The morphology gives (source voxel, destination voxel) pairs (:mod:`.morphology`).
  ``vectors`` ignore ``morphology_scalar`` (FEAGI calls them with scalar 1, measured in
  ``feagi_ref/min_vscalar``); a scalar other than 1 gets a note. Function morphologies FEAGI's
  engine builds: ``projector``, ``block_to_block``, ``last_to_first``, ``first_to_last``,
  ``sweeper``, ``rotator_z``, ``bitmask_encoder/decoder_x/y/z``, the ``tile`` composite. It
  builds no synapses at load for ``episodic_memory``, ``memory_replay``, ``episodic_scan``,
  ``associative_memory`` (plasticity grows those; the engine grows ``associative_memory``'s),
  nor for function or composite names it does not
  know ("Function morphology X not yet implemented": ``reducer_x``, ``expander_x``,
  ``randomizer``, ``lateral_pairs_x``, ``projector_xy``, ...): those mappings build 0 synapses,
  with a note. ``centered_projector`` and ``transpose_xy/yz/xz`` are built by FEAGI with a
  rule this importer does not have: :class:`~.errors.UnsupportedMorphologyError`.
* Every neuron of the source voxel connects to every neuron of the destination
  voxel (feagi/feagi ``synaptogenesis_rules.py`` ``neighbor_finder``; with one neuron per
  voxel, the usual genome, this is one synapse per voxel pair).
* Each candidate synapse survives with probability ``synapse_attractivity / 100``
  of the *destination* area (feagi/feagi ``synapse.py``); a rule-level
  ``synapse_attractivity`` (feagi-core object rules) overrides it. The draw uses
  ``numpy.random.default_rng(seed ^ h)`` with ``h`` a stable hash of (source,
  destination, rule index), so one seed gives one connectome.
* Weight ``m`` = ``postSynapticCurrent_multiplier`` as a float, sign included, **not**
  clamped (FEAGI 2.6.10 stores float weights: ``feagi_ref/min_mult300`` fires at 300);
  PSP ``pstcr_`` a float, **not** clamped to 255 nor truncated (``min_psp300``,
  ``min_pspfrac``); a negative PSP is read as 0 (feagi-core ``resolve_synapse_params_for_rule``
  clamps it at 0), with a note. Delay ``synaptic_delay_bursts`` (default 1).
* Leak: FEAGI applies ``V * (1 - leak)`` for any leak, so a leak above 1 (``leak_c`` 10 of many
  old genomes) is kept as it is, with a note; ``legacy_leak="linear"`` marks every area
  ``leak_linear`` instead (the old Python FEAGI's leak: V moves ``leak`` units towards 0 per
  burst), for the engine to apply.
* Plasticity: a plastic rule (``plasticity_flag``, or any ``associative_memory`` rule) with
  ``plasticity_window`` missing or below 1 makes FEAGI log "plasticity_window must be > 0" and
  build **no** synapse from that source area (measured: ``feagi_v3/plasticity_window_0``); the
  builder does the same, with a note. Other plastic mappings carry their learning rule
  (:func:`plasticity_rule`, ``Projection.plasticity``) and the engine runs it (DESIGN §4.7);
  ``associative_memory`` mappings start with no synapse and grow them as the brain runs.
* Nothing is silent: every mapping that builds 0 synapses, every value read differently
  from how it is written, everything skipped is one line in ``Connectome.notes``.

``strict=True`` raises for what cannot be built at all (unknown destination or morphology, a
mapping that uses an untyped placeholder morphology, a rule this importer lacks);
``strict=False`` skips those mappings and lists them in ``Connectome.notes``.

Memory: :func:`estimate_memory` computes, from the genome alone, an upper bound
of the bytes the import needs (see the ``*_BYTES`` constants);
:func:`build_connectome` refuses with :class:`~.errors.BrainTooLargeError`
*before* allocating anything when it exceeds ``memory_limit_bytes``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..core.connectome import AreaSpec, Connectome, MemoryArea, PlasticityRule, Projection
from .errors import (
    BrainTooLargeError,
    EmptyBrainError,
    GeneValueError,
    GenomeError,
    UnknownAreaError,
    UnknownMorphologyError,
    UnsupportedFeatureError,
    UnsupportedMorphologyError,
)
from .ids import CORE_AREAS, encode_id, feagi_type, legacy_alias
from .model import AreaGenes, Genome, GenomeSource, MappingRule, Morphology
from .morphology import (
    FEAGI_FUNCTIONS,
    Term,
    function_terms,
    pattern_terms,
    tile_term,
    vectors_terms,
    voxel_pairs,
)
from .parser import load_genome

__all__ = [
    "DEFAULT_MEMORY_LIMIT_BYTES",
    "LEGACY_LEAK_MODES",
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
#: Values of ``build_connectome(legacy_leak=...)``: ``"feagi"`` (FEAGI's ``V * (1 - leak)``)
#: or ``"linear"`` (the old Python FEAGI's leak of ``leak`` units per burst towards 0).
LEGACY_LEAK_MODES = ("feagi", "linear")

# Function morphologies FEAGI builds no synapses for at load: plasticity grows them at run time
# (connectome_manager.rs apply_function_morphology: "no physical synapses, plasticity-driven").
_PLASTICITY_FUNCTIONS = frozenset(
    {"episodic_memory", "memory_replay", "episodic_scan", "associative_memory"})
# Function morphologies FEAGI 2.6.10 builds with a rule that is not in the FEAGI source this
# importer follows (feagi-core templates.rs lists them as core; the engine has the names).
_UNAVAILABLE_FUNCTIONS = frozenset(
    {"centered_projector", "transpose_xy", "transpose_yz", "transpose_xz"})


@dataclass
class _PlannedMapping:
    rule: MappingRule
    src: AreaGenes
    dst: AreaGenes
    morphology: Morphology
    terms: list[Term]
    voxel_pair_bound: int
    synapse_bound: int
    #: Why the mapping builds nothing, when known in advance (it then gets no generic note).
    empty_reason: str = ""


@dataclass
class _Plan:
    areas: list[AreaGenes]
    mappings: list[_PlannedMapping]
    notes: list[str] = field(default_factory=list)
    #: memory area id -> ids of the non-memory areas mapped into it (its upstream areas)
    upstream: dict[str, set[str]] = field(default_factory=dict)


#: Memory neurons a memory area can hold at once by default (its pool; DESIGN §4.7). FEAGI's
#: pool is global and large; a robot's memory areas are small, and a full pool is reported.
DEFAULT_MEMORY_CAPACITY = 256


def _core_area(template) -> AreaGenes:
    """FEAGI's template of a core area the genome lacks (:data:`.ids.CORE_AREAS`)."""
    raw = template.ascii_id.encode("ascii")
    cid = encode_id(raw)
    return AreaGenes(
        cortical_id=cid, ascii_id=template.ascii_id, name=template.name, group="CORE",
        sub_group="", dims=(1, 1, 1), position=template.position, neurons_per_voxel=1,
        synapse_attractivity=100.0, psp=template.psp, psp_uniform=True,
        fire_threshold=template.fire_threshold, threshold_increment=(0.0, 0.0, 0.0),
        threshold_limit=0.0, refractory=0, leak=0.0, consecutive_fire_limit=0,
        excitability=template.excitability, mp_acc=False, mp_psp=False, is_memory_flag=False,
        mappings=(), path=f"core area {template.ascii_id}", feagi_id=cid,
        legacy_id=legacy_alias(raw), feagi_type=feagi_type(raw))


def _label(rule: MappingRule) -> str:
    return f"mapping {rule.src} -> {rule.dst} rule {rule.index} ({rule.morphology_id})"


def _is_plastic(rule: MappingRule) -> bool:
    # FEAGI treats every associative_memory rule as plastic (apply_cortical_mapping_for_pair).
    return rule.plasticity or rule.morphology_id == "associative_memory"


#: Why a mapping of a source area FEAGI blocks (a refused plasticity window) builds nothing.
_BLOCKED = "its source area builds no synapse (plasticity_window)"

#: FEAGI stores Δ+ and Δ− as one byte each (feagi-npu ``delta_plus_u8``), so larger steps saturate.
PLASTICITY_STEP_MAX = 255


def plasticity_rule(rule: MappingRule) -> PlasticityRule | None:
    """The learning rule of a plastic ``rule`` (DESIGN §4.7), or ``None`` for a static one.

    ``Δ+ = min(255, trunc(plasticity_constant) * trunc(ltp_multiplier))``, negative as 0, the same
    for Δ− with ``ltd_multiplier``; ``window`` = ``plasticity_window`` (bursts). Returns ``None``
    also for a window FEAGI refuses (``_window_problem``: no synapse is built then).
    """
    if not _is_plastic(rule) or _window_problem(rule):
        return None

    def step(multiplier: float) -> float:
        product = math.trunc(rule.plasticity_constant) * math.trunc(multiplier)
        return float(min(PLASTICITY_STEP_MAX, max(0, product)))

    return PlasticityRule(ltp=step(rule.ltp_multiplier), ltd=step(rule.ltd_multiplier),
                          window=int(rule.plasticity_window or 0),
                          associative=rule.morphology_id == "associative_memory")


def _window_problem(rule: MappingRule) -> str:
    """FEAGI's refusal of a plastic rule's window (register_stdp_mapping_for_rule), or ""."""
    if not _is_plastic(rule):
        return ""
    if rule.plasticity_window is None:
        return "has no plasticity_window (FEAGI: 'Missing plasticity_window in plastic mapping " \
               "rule')"
    if rule.plasticity_window < 1:
        return (f"has plasticity_window {rule.plasticity_window:g} (FEAGI: 'plasticity_window "
                "must be > 0')")
    return ""


def _plan(genome: Genome, strict: bool, add_core_areas: bool = True,
          memory_capacity: int = DEFAULT_MEMORY_CAPACITY) -> _Plan:
    """Resolve areas, destinations and morphologies; nothing large is allocated here."""
    notes = list(genome.notes)

    def issue(err: GenomeError) -> None:
        if strict:
            raise err
        notes.append(f"skipped: {err}")

    resolve = _id_resolver(genome)
    kept: list[AreaGenes] = []
    memory: set[str] = set()
    for area in genome.areas:
        if area.is_memory:
            # FEAGI grows a memory area's neurons at run time, all in voxel (0, 0, 0); here they
            # come from a fixed pool there (DESIGN §4.7).
            memory.add(area.cortical_id)
            notes.append(f"{area.path}: memory area {area.cortical_id!r} ({area.name}): its "
                         f"neurons grow at run time, from a pool of {memory_capacity} in voxel "
                         "(0, 0, 0) (memory_capacity); replay into a twin area (made by FEAGI's "
                         "REST API, not by genomes) is not modelled")
            area = replace(area, dims=(1, 1, 1), neurons_per_voxel=memory_capacity)
        kept.append(area)
    if add_core_areas:
        present = {a.feagi_id for a in genome.areas}
        kept += [_core_area(t) for t in CORE_AREAS if encode_id(t.ascii_id.encode()) not in present]
    # FEAGI's id order: a legacy genome and FEAGI's re-save of it number their neurons alike.
    kept.sort(key=lambda a: (a.feagi_id or a.cortical_id, a.cortical_id))
    powers = [a.cortical_id for a in kept if a.is_power]
    if len(powers) > 1:
        raise GeneValueError(f"more than one power area: {', '.join(powers)}", "blueprint")

    # A plastic rule FEAGI refuses stops every mapping of its source area (FEAGI's
    # apply_cortical_mapping returns the error for the whole area; neuroembryogenesis.rs logs it
    # and moves on to the next area).
    blocked: dict[str, str] = {}
    for area in kept:
        for rule in area.mappings:
            problem = _window_problem(rule)
            if problem and area.cortical_id not in blocked:
                blocked[area.cortical_id] = f"{_label(rule)} {problem}"
    for cid, why in blocked.items():
        area = next(a for a in kept if a.cortical_id == cid)
        notes.append(f"{area.path}: {why}; FEAGI builds no synapse from area {cid!r} "
                     f"({area.name}): none built here either")

    mappings: list[_PlannedMapping] = []
    upstream: dict[str, set[str]] = {}
    for area in kept:
        # Sorted so that the projection order depends on the genome's content,
        # not on the key order of the JSON file.
        for rule in sorted(area.mappings, key=lambda r: (r.dst, r.index)):
            label = _label(rule)
            dst = resolve(rule.dst)
            if dst is None:
                issue(UnknownAreaError(f"{label}: destination area {rule.dst!r} is not in the "
                                       "blueprint", rule.path))
                continue
            associative = rule.morphology_id == "associative_memory"
            if dst.cortical_id in memory and not associative:
                # FEAGI registers the source as an upstream area of the memory area (its
                # firing makes the windows the memory area stores); no synapse is built.
                if area.cortical_id not in memory:
                    upstream.setdefault(dst.cortical_id, set()).add(area.cortical_id)
                else:
                    notes.append(f"{rule.path}: {label} builds 0 synapses and no upstream area "
                                 "(a memory area mapped into a memory area: a memory area stores "
                                 "windows of non-memory areas only)")
                continue
            if area.cortical_id in memory and not associative:
                notes.append(f"{rule.path}: {label} builds 0 synapses: memory neurons reach other "
                             "areas only through associative_memory (DESIGN §4.7)")
                continue
            morphology = genome.morphologies.get(rule.morphology_id)
            if morphology is None:
                issue(UnknownMorphologyError(f"{label}: morphology {rule.morphology_id!r} is not "
                                             "defined in neuron_morphologies", rule.path))
                continue
            try:
                terms, reason = _terms(morphology, rule, area, dst, label)
            except UnsupportedFeatureError as err:
                issue(err)
                continue
            if area.cortical_id in blocked:
                terms, reason = [], _BLOCKED
            elif reason and rule.morphology_id != "associative_memory":
                notes.append(f"{rule.path}: {label} builds 0 synapses: {reason}")
            if morphology.type == "vectors" and tuple(rule.morphology_scalar) != (1, 1, 1):
                notes.append(f"{rule.path}: {label}: morphology_scalar "
                             f"{list(rule.morphology_scalar)} ignored, as FEAGI's engine "
                             "ignores it for vectors morphologies")
            pairs = sum(t.count() for t in terms)
            synapses = pairs * area.neurons_per_voxel * dst.neurons_per_voxel
            mappings.append(_PlannedMapping(rule, area, dst, morphology, terms, pairs, synapses,
                                            reason))
    return _Plan(kept, mappings, notes, {m: upstream.get(m, set()) for m in memory})


def _id_resolver(genome: Genome) -> Callable[[str], AreaGenes | None]:
    """Destination id -> area. Exact id first; then the readable id (a v3 genome whose mapping
    keys are still legacy 6-character ids: feagi-core ``parser.rs string_to_cortical_id`` pads
    ``o__mot`` to ``o__mot__``), then the power area's legacy names."""
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
           label: str) -> tuple[list[Term], str]:
    """The mapping's terms and, when FEAGI builds nothing for it, the reason (else "")."""
    mid = morphology.morphology_id
    if morphology.type == "vectors":
        # FEAGI's engine ignores morphology_scalar for vectors (feagi_ref/min_vscalar).
        return vectors_terms(morphology.vectors, (1, 1, 1), src.dims, dst.dims), ""
    if morphology.type == "patterns":
        return pattern_terms(morphology.patterns, src.dims, dst.dims), ""
    if morphology.type == "functions":
        if mid == "associative_memory":
            # Learned, not built: the engine grows its synapses (DESIGN §4.7); no note needed.
            return [], "plasticity grows it"
        if mid in _PLASTICITY_FUNCTIONS:
            return [], (f"FEAGI's {mid!r} creates no synapses at load (plasticity grows them at "
                        "run time; not modelled)")
        if mid in _UNAVAILABLE_FUNCTIONS:
            raise UnsupportedMorphologyError(
                f"{label}: FEAGI builds function morphology {mid!r} with a rule that is not in "
                "the FEAGI source this importer follows; not built", rule.path)
        if mid not in FEAGI_FUNCTIONS:
            return [], (f"FEAGI's engine has no rule for function morphology {mid!r} (it logs "
                        f"'Function morphology {mid} not yet implemented')")
        return function_terms(mid, src.dims, dst.dims, rule.path), ""
    if morphology.type == "composite":
        if mid == "tile":
            return [tile_term(src.dims, dst.dims)], ""
        return [], (f"FEAGI's engine has no rule for composite morphology {mid!r} (it logs "
                    f"'Composite morphology {mid} not yet implemented')")
    if morphology.type == "placeholder":
        raise UnsupportedMorphologyError(
            f"{label}: morphology {mid!r} has no type (an untyped placeholder); FEAGI accepts it "
            "only while no mapping uses it", rule.path)
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

    Counts engine state per neuron (:data:`NEURON_STATE_BYTES`, FEAGI's core areas included),
    the final synapse arrays (:data:`SYNAPSE_BYTES` each), and the transient working set of the
    largest mapping (:data:`BUILD_BYTES_PER_VOXEL_PAIR`, :data:`BUILD_BYTES_PER_SYNAPSE`).
    Memory areas and unsupported or broken mappings count 0 (as
    ``build_connectome(strict=False)`` would skip them). Synapse attractivity is not taken into
    account (the bound assumes 100 %).

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
    legacy_leak: str = "feagi",
    add_core_areas: bool = True,
    memory_capacity: int = DEFAULT_MEMORY_CAPACITY,
) -> Connectome:
    """Build the connectome of a genome (or of a path / JSON text / dict, loaded first).

    The rules are in the module docstring. ``strict=False`` skips what cannot be built
    (unknown destinations or morphologies, mappings using an untyped placeholder, rules this
    importer lacks) and lists it in ``Connectome.notes`` instead of raising; memory areas,
    plastic rules and morphologies FEAGI builds nothing for never raise (notes). ``seed`` (an
    int >= 0) drives the synapse-attractivity draws (same seed, same connectome).
    ``legacy_leak`` is ``"feagi"`` (leak applied as FEAGI does, ``V * (1 - leak)``) or
    ``"linear"`` (every area marked ``leak_linear``: the old Python FEAGI's leak of ``leak``
    units per burst towards 0, for genomes written for it). ``add_core_areas`` adds FEAGI's
    core areas a genome lacks, as FEAGI does (``False`` builds the genome's areas only).
    ``memory_capacity`` is how many memory neurons each memory area can hold at once (its pool,
    :class:`~feagi_hailo_ros.engine.core.connectome.MemoryArea`).

    Returns a :class:`~feagi_hailo_ros.engine.core.connectome.Connectome`: areas ordered by
    FEAGI id (skipped areas left out), one projection per mapping rule built (0-synapse ones
    included), ordered by source area then (destination id, rule index), with area-local int32
    ``pre``/``post`` arrays (ordered by source voxel, then destination voxel), weight ``m`` (the
    rule's multiplier, a float, sign included), the power area's index (or ``None``),
    ``source_checksum`` = ``Genome.checksum`` and the notes.

    Raises ``ValueError`` for a bad ``seed`` or ``legacy_leak``; what
    :func:`~.parser.load_genome` raises for a source; :class:`~.errors.GeneValueError` for more
    than one power area; :class:`~.errors.BrainTooLargeError` before allocating when the
    estimate (:func:`estimate_memory`) exceeds ``memory_limit_bytes`` or an area has more
    neurons than int32 indices hold; :class:`~.errors.EmptyBrainError` when no area is left to
    build or the areas have no neuron (:func:`_refuse_empty`); and with ``strict=True``
    :class:`~.errors.UnsupportedMorphologyError`, :class:`~.errors.UnknownAreaError` and
    :class:`~.errors.UnknownMorphologyError`.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if legacy_leak not in LEGACY_LEAK_MODES:
        raise ValueError(f"legacy_leak must be one of {', '.join(LEGACY_LEAK_MODES)}, got "
                         f"{legacy_leak!r}")
    if not isinstance(genome, Genome):
        genome = load_genome(genome)
    if not 1 <= memory_capacity <= MAX_AREA_NEURONS:
        raise ValueError(f"memory_capacity must be 1..{MAX_AREA_NEURONS}, got {memory_capacity}")
    plan = _plan(genome, strict, add_core_areas, memory_capacity)
    _refuse_empty(plan)
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
        spec = _area_spec(area, len(areas), first, notes, legacy_leak == "linear")
        index_of[area.cortical_id] = spec.index
        areas.append(spec)
        first += spec.neuron_count

    projections: list[Projection] = []
    for planned in plan.mappings:
        rule = planned.rule
        pre, post = _synapses(planned, seed)
        if pre.size == 0 and not planned.empty_reason:
            notes.append(f"{rule.path}: {_label(rule)} builds 0 synapses (no voxel pair of the "
                         "morphology falls inside the destination, or synapse attractivity "
                         "dropped every candidate)")
        m = float(rule.psc_multiplier)
        learning = plasticity_rule(rule) if planned.empty_reason != _BLOCKED else None
        associative = learning is not None and learning.associative
        projections.append(Projection(
            index=len(projections),
            src_area=index_of[planned.src.cortical_id],
            dst_area=index_of[planned.dst.cortical_id],
            # An associative mapping's synapses are grown with weight Δ+ (its own weights), the
            # sign of the multiplier, and delay 1 whatever the rule says (DESIGN §4.7).
            weight=(-1.0 if m < 0 else 1.0) if associative else (m if m != 0 else 0.0),
            delay=1 if associative else rule.delay,
            pre=pre,
            post=post,
            morphology=rule.morphology_id,
            rule_index=rule.index,
            plastic=_is_plastic(rule),
            plasticity=learning,
        ))

    power = next((index_of[a.cortical_id] for a in plan.areas if a.is_power), None)
    memory_areas = [
        MemoryArea(area=index_of[a.cortical_id], depth=a.memory_depth, lifespan=a.memory_lifespan,
                   growth=a.memory_growth, longterm=a.memory_longterm,
                   upstream=tuple(sorted(index_of[u] for u in plan.upstream[a.cortical_id])),
                   capacity=a.neurons_per_voxel)
        for a in plan.areas if a.cortical_id in plan.upstream]
    for m in memory_areas:
        if not m.upstream:
            notes.append(f"memory area {areas[m.area].cortical_id!r} ({areas[m.area].name}) has no "
                         "upstream area mapped into it: it never stores anything")
    return Connectome(areas=areas, projections=projections, power_area=power,
                      source_checksum=genome.checksum, notes=notes, memory_areas=memory_areas)


def _refuse_empty(plan: _Plan) -> None:
    """Raise :class:`~.errors.EmptyBrainError` when ``plan`` builds no area or no neuron.

    Such a brain has nothing to burst: every consumer of a connectome (an engine warming its
    kernels on the first area, the node binding sensors) would fail on it later and less
    clearly. Areas are counted after core areas are added.
    """
    if not plan.areas:
        raise EmptyBrainError("the genome builds no cortical area (an empty blueprint)",
                              "blueprint")
    if sum(a.neuron_count for a in plan.areas) == 0:
        raise EmptyBrainError(f"the genome's {len(plan.areas)} area(s) hold no neuron",
                              "blueprint")


def _area_spec(area: AreaGenes, index: int, first: int, notes: list[str],
               leak_linear: bool) -> AreaSpec:
    leak = float(area.leak)
    if leak > 1.0 and not leak_linear:
        notes.append(f"{area.path}: area {area.cortical_id} ({area.name}): leak {leak:g} > 1: "
                     f"FEAGI's engine computes V*(1-{leak:g}), so the potential changes sign "
                     "and grows each burst it is not reset; use legacy_leak='linear' for the old "
                     f"linear meaning (V moves {leak:g} towards 0 per burst)")
    excitability = area.excitability
    if excitability > 1.0:
        # Old genomes store 100 for "always" (DESIGN §4: values > 1 mean always). A
        # value strictly between 1 and 100 may have meant a percentage: say so.
        if excitability < 100.0:
            notes.append(f"{area.path}: neuron_excitability {excitability:g} read as 'always' "
                         "(values > 1 mean always; write a fraction like 0.5 for 50 %)")
        excitability = 1.0
    limit = area.threshold_limit if area.threshold_limit > 0 else math.inf
    psp = float(area.psp)
    if psp < 0:
        notes.append(f"{area.path}: postsynaptic_current {psp:g} < 0 read as 0, as FEAGI's "
                     "engine clamps it")
        psp = 0.0
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
        leak=leak,
        refractory=int(area.refractory),
        consecutive_fire_limit=int(area.consecutive_fire_limit),
        excitability=float(excitability),
        mp_acc=area.mp_acc,
        mp_psp=area.mp_psp,
        psp=psp,
        psp_uniform=area.psp_uniform,
        feagi_id=area.feagi_id,
        legacy_id=area.legacy_id,
        feagi_type=area.feagi_type,
        leak_linear=leak_linear,
        snooze=int(area.snooze),
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
