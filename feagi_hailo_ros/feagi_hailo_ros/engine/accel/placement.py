"""Placement: which projections an accelerator integrates, and the partitions it runs.

An accelerator (Hailo-8 through HailoRT, or ONNX Runtime) computes the synaptic counts of
a projection (DESIGN §5); everything else stays on the CPU. :func:`place` decides per
projection, :func:`plan_partitions` groups the accelerator projections into networks
(:class:`~.manifest.Partition`), :func:`placement_table` makes the decisions printable, and
:func:`accelerated_engine` builds an :class:`~feagi_hailo_ros.engine.core.engine.Engine` with one integrator
for every accelerator projection.

Rules (a YAML/JSON mapping, every key optional; see :class:`PlacementRules`)::

    min_synapses: 50000            # size thresholds: both must hold
    min_dst_neurons: 4096
    max_weights: 25000000          # and the layer must fit the device (DESIGN §5)
    keep_sensory_motor_on_cpu: true
    cpu_areas: [c_v4__]            # any projection from or to these areas
    accelerator_areas: [c_v2__]
    overrides:                     # "<src>-><dst>#<rule index>": cpu | accelerator
      "c_v1__->c_v1__#0": accelerator
    pipeline: false                # true: accelerator projections of delay 1 get delay 2

``pipeline: true`` changes the brain, as NengoLoihi does on Loihi: every projection placed on the
accelerator with delay 1 gets delay 2, so the engine can submit its spikes a burst ahead and the
device works in parallel with the CPU for a whole burst (``core/pipeline.py``). The run is then
exactly the CPU engine's run of that changed brain (:func:`pipelined_brain`), not of the genome;
``feagi-hailo placement`` lists every delay it changed. Projections of delay >= 2 are pipelined
without changing anything, whatever this rule says.

Precedence, first match wins: a projection the integrator seam cannot take (per-synapse
weights), without synapses, or whose fan-in no 16-bit output holds, is CPU whatever the
rules say; then explicit ``overrides``; then ``cpu_areas``, then ``accelerator_areas``;
then sensory/motor areas stay on the CPU (latency-critical, tiny); then the size thresholds.
Area keys are cortical ids (readable or base64 v3 form) or area names.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.connectome import AreaSpec, Connectome
from ..core.engine import MAX_RATE_DIVIDER  # one bound: the engine's
from ..core.integrator import Integrator, integrability
from .layout import CONV, ProjectionLayout, projection_layout
from .manifest import Partition, PartitionOutput

if TYPE_CHECKING:
    from ..core.engine import Engine

CPU = "cpu"
ACCELERATOR = "accelerator"
BACKENDS = (CPU, ACCELERATOR)

#: DESIGN §5: about 25 M INT8 weights is the practical single-context ceiling of a
#: Hailo-8; beyond it the compiler splits the network into contexts at 3-4x lower throughput.
SINGLE_CONTEXT_WEIGHT_BUDGET = 25_000_000
#: DESIGN §5: dense layers reach that ceiling sooner, at about 10-15 M weights. The lower
#: end is used so the warning comes before the compiler starts splitting.
DENSE_WEIGHT_BUDGET = 10_000_000
#: Largest count a UINT16 output holds (DESIGN §5: 16-bit outputs once fan-in exceeds 255).
MAX_EXACT_FAN_IN = 65_535
#: Largest count a UINT8 output holds.
UINT8_MAX = 255

INPUT_NAME = "spikes"


class AcceleratorBudgetWarning(UserWarning):
    """A partition (or all of them together) exceeds the single-context weight budget."""


@dataclass(frozen=True)
class PlacementRules:
    """Configuration of :func:`place` (see the module docstring for precedence).

    Checked on construction: raises ``ValueError`` for a negative or non-integer threshold, a
    non-bool ``keep_sensory_motor_on_cpu``, area lists that are not lists of strings or share
    an area, an override key not of the form ``"<src>-><dst>#<rule index>"`` or a backend
    other than ``"cpu"``/``"accelerator"``. Area lists are stored as tuples, ``overrides`` as
    a copy; whether the areas and mappings exist is checked only by :func:`place`.
    """

    #: A projection goes to the accelerator by size only with at least this many synapses ...
    min_synapses: int = 50_000
    #: ... and at least this many destination neurons.
    min_dst_neurons: int = 4096
    #: ... and when its layer needs at most this many weights (conv kernel or dense matrix).
    max_weights: int = SINGLE_CONTEXT_WEIGHT_BUDGET
    #: Projections from or to sensory (IPU, id ``i...``) or motor (OPU, id ``o...``) areas
    #: stay on the CPU: they are small and on the latency-critical path.
    keep_sensory_motor_on_cpu: bool = True
    cpu_areas: tuple[str, ...] = ()
    accelerator_areas: tuple[str, ...] = ()
    #: ``"<src>-><dst>#<rule index>"`` -> ``"cpu"`` | ``"accelerator"``.
    overrides: Mapping[str, str] = field(default_factory=dict)
    #: Give accelerator projections of delay 1 one more burst of delay (:func:`pipelined_brain`).
    pipeline: bool = False
    #: Multi-rate areas: area id or name -> k; the area runs every k-th burst
    #: (``Engine.set_rate_dividers``; a deviation from FEAGI the user chooses).
    rate_dividers: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("min_synapses", "min_dst_neurons", "max_weights"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"placement rule {name} must be an integer >= 0, got {value!r}")
        for name in ("keep_sensory_motor_on_cpu", "pipeline"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"placement rule {name} must be true or false")
        for name in ("cpu_areas", "accelerator_areas"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"placement rule {name} must be a list of area ids or names")
            object.__setattr__(self, name, tuple(value))
        both = set(self.cpu_areas) & set(self.accelerator_areas)
        if both:
            raise ValueError(f"areas listed both in cpu_areas and accelerator_areas: {sorted(both)}")
        if not isinstance(self.overrides, Mapping):
            raise ValueError("placement rule overrides must map '<src>-><dst>#<rule>' to a backend")
        for k, v in self.overrides.items():
            parse_mapping_key(k)
            if v not in BACKENDS:
                raise ValueError(f"override {k!r}: backend must be one of {BACKENDS}, got {v!r}")
        object.__setattr__(self, "overrides", dict(self.overrides))
        if not isinstance(self.rate_dividers, Mapping):
            raise ValueError("placement rule rate_dividers must map area ids or names to an int")
        for k, v in self.rate_dividers.items():
            if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, int) \
                    or not 1 <= v <= MAX_RATE_DIVIDER:
                raise ValueError(f"rate_dividers {k!r}: must be an area id or name mapped to an "
                                 f"int in [1, {MAX_RATE_DIVIDER}], got {v!r}")
        object.__setattr__(self, "rate_dividers", dict(self.rate_dividers))

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | None) -> PlacementRules:
        """Rules from a parsed YAML/JSON mapping (``None`` = all defaults).

        Raises ``ValueError`` for unknown keys (typos) and for values the constructor refuses;
        a value of an unexpected type may raise ``TypeError`` instead.
        """
        config = dict(config or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown placement rule(s) {unknown}; known: {sorted(known)}")
        for name in ("cpu_areas", "accelerator_areas"):
            if name in config and isinstance(config[name], list):
                config[name] = tuple(config[name])
        return cls(**config)

    @classmethod
    def load(cls, path: str | Path) -> PlacementRules:
        """Rules from a ``.json`` or ``.yaml``/``.yml`` file (by suffix; anything else is
        read as JSON). An empty YAML file gives the defaults.

        Raises ``ValueError`` (naming the file) when it cannot be read or parsed, its top
        level is not a mapping, or :meth:`from_dict` refuses it. YAML needs PyYAML (shipped
        with ROS 2), imported only for YAML files.
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"cannot read placement rules {path}: {exc}") from exc
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # PyYAML (declared: package.xml, requirements); loaded for YAML rule files only

            try:
                config = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ValueError(f"placement rules {path}: {exc}") from exc
        else:
            try:
                config = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"placement rules {path}: {exc}") from exc
        if config is not None and not isinstance(config, Mapping):
            raise ValueError(f"placement rules {path}: expected a mapping at the top level")
        try:
            return cls.from_dict(config)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"placement rules {path}: {exc}") from exc


@dataclass(frozen=True)
class Placement:
    """Where one projection is integrated (``backend``: :data:`CPU` or :data:`ACCELERATOR`),
    and why (``reason``, one human-readable line). ``layout`` is :data:`~.layout.CONV` or
    ``"gemm"`` (``""`` and zero sizes when no accelerator can take the projection at all)."""

    projection: int
    backend: str  # "cpu" | "accelerator"
    reason: str
    #: Weights of the accelerator layer this projection would need (conv kernel or dense
    #: matrix); reported for CPU projections too, to show what moving them would cost.
    weight_count: int
    #: Bytes between host and accelerator per burst for this projection: the source spike
    #: frame (uint8) plus its counts (uint8/uint16). 0 on the CPU. A partition reads one
    #: input frame for all of its projections.
    bytes_per_burst: int
    layout: str = ""  # "conv" | "gemm" ("" when no accelerator can take it)
    max_fan_in: int = 0


# -- names and keys --------------------------------------------------------------------------


def readable_id(cortical_id: str) -> str:
    """A v3 cortical id (8 bytes in base64, 12 characters ending in ``=``) decoded to its 8
    printable ASCII characters; any other id (or one that does not decode so) unchanged."""
    if len(cortical_id) == 12 and cortical_id.endswith("="):
        try:
            raw = base64.b64decode(cortical_id, validate=True)
        except (binascii.Error, ValueError):
            return cortical_id
        if len(raw) == 8 and all(32 <= b < 127 for b in raw):
            return raw.decode()
    return cortical_id


def is_sensory_or_motor(area: AreaSpec) -> bool:
    """Sensory (IPU) or motor (OPU) area, by group or by FEAGI's id prefix ``i``/``o``."""
    return area.group.upper() in ("IPU", "OPU") or readable_id(area.cortical_id)[:1] in ("i", "o")


def mapping_key(connectome: Connectome, projection: int) -> str:
    """``"<src>-><dst>#<rule>"`` of a projection, as overrides name it.

    Ids are in readable form (:func:`readable_id`), ``rule`` is the projection's rule index.
    Raises ``IndexError`` for a projection index out of range.
    """
    p = connectome.projections[projection]
    src, dst = connectome.areas[p.src_area], connectome.areas[p.dst_area]
    return f"{readable_id(src.cortical_id)}->{readable_id(dst.cortical_id)}#{p.rule_index}"


_KEY = re.compile(r"^(?P<src>.+?)->(?P<dst>.+)#(?P<rule>\d+)$")


def parse_mapping_key(key: str) -> tuple[str, str, int]:
    """``(src, dst, rule)`` of ``"<src>-><dst>#<rule>"``; ``ValueError`` when malformed."""
    m = _KEY.match(key) if isinstance(key, str) else None
    if not m:
        raise ValueError(f"override key {key!r} is not of the form '<src>-><dst>#<rule index>'")
    return m["src"], m["dst"], int(m["rule"])


def _area_indices(connectome: Connectome, keys: Iterable[str], what: str) -> set[int]:
    out = set()
    for k in keys:
        try:
            out.add(connectome.area(k).index)
        except KeyError as exc:
            raise ValueError(f"{what}: {exc.args[0]}") from exc
    return out


def _resolve_overrides(connectome: Connectome, overrides: Mapping[str, str]) -> dict[int, tuple[str, str]]:
    """projection index -> (backend, key); every key must name an existing mapping."""
    out: dict[int, tuple[str, str]] = {}
    for k, backend in overrides.items():
        src_key, dst_key, rule = parse_mapping_key(k)
        try:
            src, dst = connectome.area(src_key).index, connectome.area(dst_key).index
        except KeyError as exc:
            raise ValueError(f"override {k!r}: {exc.args[0]}") from exc
        hits = [p.index for p in connectome.projections
                if p.src_area == src and p.dst_area == dst and p.rule_index == rule]
        if not hits:
            raise ValueError(f"override {k!r}: the brain has no such mapping")
        for p in hits:
            out[p] = (backend, k)
    return out


# -- placing -----------------------------------------------------------------------------------


def _bytes(connectome: Connectome, projection: int, layout: ProjectionLayout) -> int:
    p = connectome.projections[projection]
    n_src = connectome.areas[p.src_area].neuron_count
    n_dst = connectome.areas[p.dst_area].neuron_count
    return n_src + n_dst * output_bytes(layout.max_fan_in)


def output_dtype(fan_in: int) -> str:
    """Narrowest output holding every count exactly (DESIGN §5)."""
    return "uint8" if fan_in <= UINT8_MAX else "uint16"


def output_bytes(fan_in: int) -> int:
    """Bytes per destination neuron of :func:`output_dtype` ``(fan_in)``: 1 or 2."""
    return 1 if fan_in <= UINT8_MAX else 2


def place(connectome: Connectome, rules: PlacementRules | None = None) -> list[Placement]:
    """Decide CPU or accelerator for every projection (module docstring: precedence).

    ``rules`` defaults to ``PlacementRules()``. Returns one :class:`Placement` per projection,
    in projection order. Raises ``ValueError`` when ``cpu_areas``/``accelerator_areas`` or
    ``rate_dividers`` name an area the connectome lacks, or an override names no existing mapping.
    """
    rules = rules or PlacementRules()
    overrides = _resolve_overrides(connectome, rules.overrides)
    # Not used here, but checked like the area lists: export and the node must run one brain,
    # and the node refuses a divider for an area the brain lacks.
    _area_indices(connectome, rules.rate_dividers, "rate_dividers")
    cpu_areas = _area_indices(connectome, rules.cpu_areas, "cpu_areas")
    acc_areas = _area_indices(connectome, rules.accelerator_areas, "accelerator_areas")
    out = []
    reasons = integrability(connectome)
    for p in connectome.projections:
        why_not = reasons[p.index]
        if why_not:
            out.append(Placement(p.index, CPU, why_not, 0, 0))
            continue
        layout = projection_layout(connectome, p.index)
        backend, reason = _decide(connectome, p.index, layout, rules, overrides, cpu_areas,
                                  acc_areas)
        out.append(Placement(
            projection=p.index, backend=backend, reason=reason, weight_count=layout.weight_count,
            bytes_per_burst=_bytes(connectome, p.index, layout) if backend == ACCELERATOR else 0,
            layout=layout.kind, max_fan_in=layout.max_fan_in))
    return out


def _decide(connectome: Connectome, projection: int, layout: ProjectionLayout,
            rules: PlacementRules, overrides: Mapping[int, tuple[str, str]],
            cpu_areas: set[int], acc_areas: set[int]) -> tuple[str, str]:
    p = connectome.projections[projection]
    src, dst = connectome.areas[p.src_area], connectome.areas[p.dst_area]
    if p.synapse_count == 0:
        return CPU, "no synapses"
    if layout.max_fan_in > MAX_EXACT_FAN_IN:
        return CPU, (f"fan-in {layout.max_fan_in} exceeds {MAX_EXACT_FAN_IN}, the largest "
                     "count a 16-bit output holds exactly")
    if projection in overrides:
        backend, key = overrides[projection]
        return backend, f"override {key}"
    touched = {p.src_area, p.dst_area}
    if touched & cpu_areas:
        return CPU, "cpu_areas lists " + ", ".join(
            connectome.areas[a].cortical_id for a in sorted(touched & cpu_areas))
    if touched & acc_areas:
        return ACCELERATOR, "accelerator_areas lists " + ", ".join(
            connectome.areas[a].cortical_id for a in sorted(touched & acc_areas))
    if rules.keep_sensory_motor_on_cpu:
        io = [a for a in (src, dst) if is_sensory_or_motor(a)]
        if io:
            return CPU, f"sensory/motor area {io[0].cortical_id} stays on the CPU"
    if p.synapse_count < rules.min_synapses:
        return CPU, f"{p.synapse_count} synapses < min_synapses {rules.min_synapses}"
    if dst.neuron_count < rules.min_dst_neurons:
        return CPU, f"{dst.neuron_count} destination neurons < min_dst_neurons {rules.min_dst_neurons}"
    if layout.weight_count > rules.max_weights:
        why = f" (dense: {layout.why_not_conv})" if layout.why_not_conv else ""
        return CPU, (f"{layout.kind} layer needs {layout.weight_count:,} weights > max_weights "
                     f"{rules.max_weights:,}{why}")
    return ACCELERATOR, (f"{p.synapse_count} synapses, {dst.neuron_count} destination neurons, "
                         f"{layout.kind} with {layout.weight_count:,} weights")


def accelerator_projections(placements: Iterable[Placement]) -> list[int]:
    """Indices of the projections placed on the accelerator, in the order given."""
    return [pl.projection for pl in placements if pl.backend == ACCELERATOR]


# -- partitions --------------------------------------------------------------------------------


def _safe(name: str) -> str:
    """A name ONNX, the Hailo tools and file systems all accept."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def plan_partitions(connectome: Connectome, placements: Iterable[Placement]) -> list[Partition]:
    """Group accelerator projections into networks, one per (source area, delay, layout).

    Projections sharing a source area and a delay read the same spike frame, so they form
    one network with one input and one output per projection. Conv and dense projections
    of the same source are split into two networks because their inputs have different
    shapes (``(X, Y, C)`` vs ``(n,)``) and a reshape inside the graph is avoided. Warns
    (:class:`AcceleratorBudgetWarning`) when a partition, or all of them together, passes
    the single-context budget of DESIGN §5.

    Partitions come out sorted by (source area index, delay, layout), named
    ``<readable source id>_d<delay>_<layout>`` (made unique), input :data:`INPUT_NAME`; each
    output carries its dtype (:func:`output_dtype`) and :func:`adjacency_digest`. CPU
    placements are ignored. Raises ``ValueError`` when an accelerator placement names a
    projection no integrator can take (``core.integrator.integrability``).
    """
    groups: dict[tuple[int, int, str], list[tuple[int, ProjectionLayout]]] = {}
    reasons = integrability(connectome)
    for pl in placements:
        if pl.backend != ACCELERATOR:
            continue
        why = reasons[pl.projection]
        if why:
            raise ValueError(why)
        p = connectome.projections[pl.projection]
        layout = projection_layout(connectome, pl.projection)
        groups.setdefault((p.src_area, p.delay, layout.kind), []).append((pl.projection, layout))

    partitions: list[Partition] = []
    used: set[str] = set()
    for (src_index, delay, kind), members in sorted(groups.items()):
        src = connectome.areas[src_index]
        name = _safe(f"{readable_id(src.cortical_id)}_d{delay}_{kind}")
        while name in used:  # two ids that sanitise alike
            name += "_"
        used.add(name)
        outputs = []
        for proj_index, layout in members:
            p = connectome.projections[proj_index]
            dst = connectome.areas[p.dst_area]
            outputs.append(PartitionOutput(
                projection=proj_index,
                mapping=(src.cortical_id, dst.cortical_id, p.rule_index),
                name=_safe(f"{name}_p{proj_index}_{readable_id(dst.cortical_id)}"),
                dst_area=dst.cortical_id,
                shape=layout.out_shape,
                dtype=output_dtype(layout.max_fan_in),
                max_fan_in=layout.max_fan_in,
                adjacency_sha256=adjacency_digest(connectome, proj_index),
            ))
        part = Partition(
            name=name, src_area=src.cortical_id, delay=delay, layout=kind,
            input_name=INPUT_NAME, input_shape=members[0][1].in_shape,
            outputs=tuple(outputs), weight_count=sum(m[1].weight_count for m in members))
        budget = SINGLE_CONTEXT_WEIGHT_BUDGET if kind == CONV else DENSE_WEIGHT_BUDGET
        if part.weight_count > budget:
            warnings.warn(
                f"partition {name} needs {part.weight_count:,} weights, over the "
                f"{'single-context' if kind == CONV else 'dense-layer'} budget of {budget:,} "
                "(DESIGN §5): the Hailo compiler will split it into contexts at 3-4x lower "
                "throughput, or fail; keep some of its projections on the CPU",
                AcceleratorBudgetWarning, stacklevel=2)
        partitions.append(part)
    total = sum(p.weight_count for p in partitions)
    if total > SINGLE_CONTEXT_WEIGHT_BUDGET and len(partitions) > 1:
        warnings.warn(
            f"the {len(partitions)} partitions need {total:,} weights together, over the "
            f"{SINGLE_CONTEXT_WEIGHT_BUDGET:,} a Hailo-8 holds in one context (DESIGN §5): "
            "they will not all stay resident; expect context switches between them",
            AcceleratorBudgetWarning, stacklevel=2)
    return partitions


def adjacency_digest(connectome: Connectome, projection: int) -> str:
    """SHA-256 of a projection's synapse lists: binds an exported layer to its adjacency.

    Hashes ``pre`` then ``post`` as contiguous int64 bytes; returns 64 lowercase hex digits
    (:attr:`~.manifest.PartitionOutput.adjacency_sha256`).
    """
    p = connectome.projections[projection]
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(p.pre, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(p.post, dtype=np.int64).tobytes())
    return h.hexdigest()


# -- pipelining -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DelayChange:
    """A delay :func:`pipelined_brain` changed: projection index, its mapping key
    (:func:`mapping_key`), and its delay in the genome and in the brain that runs."""

    projection: int
    mapping: str
    genome_delay: int
    delay: int


def pipelined_brain(connectome: Connectome, placements: Sequence[Placement],
                    rules: PlacementRules | None = None) -> tuple[Connectome, list[DelayChange]]:
    """The brain that runs under ``rules.pipeline``, and every delay that differs from the genome.

    Without ``pipeline`` (or with no accelerator projection of delay 1): ``connectome`` itself and
    no change. With it: a copy whose accelerator projections of delay 1 have delay 2 (one burst
    later, as NengoLoihi adds on Loihi); everything else, projection indices included, is the
    same, so ``placements`` still apply. The result is exact: an engine of the copy, with or
    without integrators, gives the CPU engine's spikes for the copy.

    Raises ``ValueError`` when a changed projection can no longer go to an integrator (it now
    shares its areas and delay 2 with another projection carrying a different contribution to
    the same neurons, ``core.integrator.integrability``); keep one of them on the CPU then.
    """
    if rules is None or not rules.pipeline:
        return connectome, []
    changes = [DelayChange(pl.projection, mapping_key(connectome, pl.projection),
                           int(connectome.projections[pl.projection].delay),
                           int(connectome.projections[pl.projection].delay) + 1)
               for pl in placements
               if pl.backend == ACCELERATOR and connectome.projections[pl.projection].delay == 1]
    if not changes:
        return connectome, []
    projections = list(connectome.projections)
    for ch in changes:
        projections[ch.projection] = dataclasses.replace(projections[ch.projection], delay=ch.delay)
    changed = dataclasses.replace(connectome, projections=projections)
    reasons = integrability(changed)
    for ch in changes:
        if reasons[ch.projection]:
            raise ValueError(f"pipeline: {ch.mapping} at delay {ch.delay}: {reasons[ch.projection]}")
    return changed, changes


# -- reporting -----------------------------------------------------------------------------


def placement_table(connectome: Connectome, placements: Sequence[Placement],
                    changes: Sequence[DelayChange] = ()) -> list[dict[str, Any]]:
    """One row per placement: areas, sizes, backend, reason, weights, bytes per burst.

    Each row is a JSON-able dict with keys ``projection``, ``mapping`` (:func:`mapping_key`),
    ``src``, ``area`` (destination id), ``neurons`` (destination), ``synapses``, ``delay``,
    ``morphology``, ``backend``, ``layout``, ``max_fan_in``, ``weight_count``,
    ``bytes_per_burst``, ``reason``, ``plastic`` (the projection learns, DESIGN §4.7),
    ``max_synapses`` (the most synapses it can have: source x target neurons for an
    ``associative_memory`` projection, which grows them; else ``synapses``) and
    ``genome_delay`` (the genome's delay; differs from ``delay`` where ``changes`` from
    :func:`pipelined_brain` say so, and the reason then says so too). ``connectome`` is the
    brain that runs (the pipelined one when pipelining).
    """
    changed = {ch.projection: ch for ch in changes}
    rows = []
    for pl in placements:
        p = connectome.projections[pl.projection]
        src, dst = connectome.areas[p.src_area], connectome.areas[p.dst_area]
        rows.append({
            "projection": pl.projection,
            "mapping": mapping_key(connectome, pl.projection),
            "src": src.cortical_id,
            "area": dst.cortical_id,
            "neurons": dst.neuron_count,
            "synapses": p.synapse_count,
            "delay": p.delay,
            "morphology": p.morphology,
            "backend": pl.backend,
            "layout": pl.layout,
            "max_fan_in": pl.max_fan_in,
            "weight_count": pl.weight_count,
            "bytes_per_burst": pl.bytes_per_burst,
            "reason": pl.reason + (
                f"; pipelined: delay {changed[pl.projection].genome_delay} -> {p.delay}"
                if pl.projection in changed else ""),
            "plastic": p.plasticity is not None,
            # associative_memory grows at most one synapse per (source, target) pair.
            "max_synapses": src.neuron_count * dst.neuron_count
            if p.plasticity is not None and p.plasticity.associative else p.synapse_count,
            "genome_delay": (changed[pl.projection].genome_delay if pl.projection in changed
                             else p.delay),
        })
    return rows


def format_placement_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Fixed-width text of :func:`placement_table` rows plus a one-line summary."""
    head = (f"{'mapping':<30} {'dst neurons':>11} {'synapses':>9} {'backend':<11} {'layout':<6} "
            f"{'weights':>13} {'bytes/burst':>11}  reason")
    lines = [head]
    for r in rows:
        lines.append(f"{r['mapping'][:30]:<30} {r['neurons']:>11} {r['synapses']:>9} "
                     f"{r['backend']:<11} {r['layout']:<6} {r['weight_count']:>13,} "
                     f"{r['bytes_per_burst']:>11,}  {r['reason']}")
    acc = [r for r in rows if r["backend"] == ACCELERATOR]
    lines.append(f"{len(acc)} of {len(rows)} projections on the accelerator: "
                 f"{sum(r['synapses'] for r in acc):,} of {sum(r['synapses'] for r in rows):,} "
                 f"synapses, {sum(r['weight_count'] for r in acc):,} weights, "
                 f"{sum(r['bytes_per_burst'] for r in acc):,} bytes per burst")
    changed = [r for r in rows if r.get("genome_delay", r["delay"]) != r["delay"]]
    for r in changed:
        lines.append(f"pipeline: {r['mapping']} delay {r['genome_delay']} -> {r['delay']} "
                     "(one burst later than the genome, so the accelerator works a burst ahead)")
    plastic = [r for r in rows if r.get("plastic")]
    if plastic:
        # What learning costs: every burst reads each plastic synapse's two fire-ledger entries
        # and may write its weight (engine/core/plasticity.py), on the CPU.
        at_load = sum(r["synapses"] for r in plastic)
        most = sum(r.get("max_synapses", r["synapses"]) for r in plastic)
        grows = f", up to {most:,} as associative_memory grows them" if most > at_load else ""
        lines.append(f"{len(plastic)} plastic projection(s), {at_load:,} synapses at load{grows}, "
                     "learn on the CPU: each burst updates every plastic "
                     "synapse (O(synapses)); associative_memory adds synapses as it learns. "
                     "bench/bench_plasticity.py measures the cost against the same brain frozen")
    return "\n".join(lines)


# -- engines ---------------------------------------------------------------------------------


def accelerated_engine(connectome: Connectome, integrator: Integrator,
                       placements: Iterable[Placement], backend: str = "cpu",
                       **engine_kw: Any) -> Engine:
    """An Engine whose accelerator projections all go to ``integrator``.

    ``backend`` names the engine backend (``"cpu"``); ``engine_kw`` (``inhibition``, ``seed``)
    pass through to :class:`~feagi_hailo_ros.engine.core.engine.Engine`. Raises what the
    Engine constructor raises (e.g. for a projection the integrator cannot take).
    """
    from ..core.engine import Engine

    integrators = {p: integrator for p in accelerator_projections(placements)}
    return Engine(connectome, backend, integrators=integrators, **engine_kw)
