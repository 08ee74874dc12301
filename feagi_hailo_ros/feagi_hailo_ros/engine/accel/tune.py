"""Auto-tuned CPU/accelerator split (``feagi-hailo tune``; issue 12 item 5, the seed's
"Auto-tuning for optimal CPU/Hailo split").

Placement's default rules (:mod:`.placement`) decide by size thresholds guessed once for every
machine. :func:`tune` measures instead, on this machine and with the integrator that is present:

1. **Activity** (:func:`record_activity`): the brain runs on the CPU engine for ``bursts`` bursts
   under a :class:`~..core.drive.PoissonDrive`; every burst's fired set (global ids and the PSP
   each spike carries) is kept, and the mean wall time of a whole CPU burst.
2. **Candidates**: every projection placement could put on an accelerator when the size
   thresholds are zero (the base rules' ``keep_sensory_motor_on_cpu``, area lists, overrides
   and ``max_weights`` still apply), grouped into partitions by :func:`.placement.plan_partitions`
   (with a Hailo manifest: its compiled partitions instead).
3. **CPU cost of each candidate projection** (:func:`measure_cpu_costs`): the engine's own
   delivery kernel (``kernels.propagate``) over a CSR of that projection alone, fed the recorded
   spikes of its source area; seconds per burst and synaptic events per burst.
4. **Accelerator round trip of each candidate partition** (:func:`measure_partition_costs`): an
   integrator prepared with that partition's projections alone, fed the same spikes as the 0/1
   frames the engine would send, through ``submit``/``collect``, plus the host work the engine
   adds (building frames, adding counts back, ``kernels.add_counts``). ``host_s`` is what the
   burst thread spends; ``round_trip_s`` is submit to counts. They are equal for a synchronous
   integrator (NumPy, ONNX Runtime); for an asynchronous one (Hailo) the difference is device
   time the CPU can overlap.
5. **Choice** (:func:`choose`) under the model :func:`predict`, and the **rules**
   (:func:`rules_for`): the base rules plus one override per candidate mapping, so
   :func:`.placement.place` with them puts exactly the chosen projections on the accelerator.

Model (seconds per burst, ``S`` the partitions on the accelerator)::

    burst(S) = base + sum(cpu[p] for p not in S) + sum(host[k] for k in S)
               + max(0, sum(device[k] for k in S) - sum(cpu[p] for p not in S))

``base`` is the measured CPU burst minus every candidate's CPU cost (dynamics, inputs, the
projections no accelerator can take); ``device[k] = round_trip[k] - host[k]`` runs while the
CPU delivers its own synapses (the engine submits before and collects after CPU delivery), one
partition after another on one device. In this engine a burst's latency is its compute time,
so "highest burst rate" minimises ``burst(S)``; ``target_rate`` keeps the splits whose burst
fits ``1/target_rate`` and takes the lowest latency among them (the same split when the fastest
fits; the report says whether the target is met). Splits within ``tolerance`` of the best
prefer fewer accelerator partitions (less to compile, less device time shared). Up to
:data:`EXHAUSTIVE_LIMIT` candidate partitions every subset is evaluated, beyond that a greedy
start (each partition alone) improved by single flips.

Timing is injectable (``timer``, ``sleep``): tests drive every step with a fake clock.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core import kernels
from ..core.backend import projection_signed_weight, psp_divisor
from ..core.connectome import Connectome
from ..core.drive import PoissonDrive
from ..core.integrator import Integrator, SynchronousIntegrator
from .manifest import Partition
from .placement import (
    ACCELERATOR,
    CPU,
    PlacementRules,
    mapping_key,
    place,
    plan_partitions,
)

#: Candidate partitions up to which every subset is evaluated (2**12 = 4096 predictions).
EXHAUSTIVE_LIMIT = 12

Timer = Callable[[], float]
#: ``(connectome, projections) -> Integrator`` not yet prepared (``tune`` prepares and closes it).
IntegratorFactory = Callable[[Connectome, Sequence[int]], Integrator]


# -- activity ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """What the brain did on the CPU: ``fired[b]`` = ``(global ids int64 ascending, psp
    float32)`` of burst ``b``; ``cpu_burst_s`` the mean wall time of one whole CPU burst."""

    fired: tuple[tuple[np.ndarray, np.ndarray], ...]
    cpu_burst_s: float

    def source_spikes(self, connectome: Connectome, area: int, burst: int
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Area-local ids (int32, ascending) and PSPs of ``area``'s spikes in ``burst``."""
        a = connectome.areas[area]
        idx, psp = self.fired[burst]
        sel = (idx >= a.first_neuron) & (idx < a.first_neuron + a.neuron_count)
        return (idx[sel] - a.first_neuron).astype(np.int32), psp[sel]


def record_activity(connectome: Connectome, bursts: int, *, input_rate: float = 0.05,
                    warmup: int = 10, seed: int = 0, timer: Timer = time.perf_counter) -> Activity:
    """Run ``warmup + bursts`` CPU bursts under a Poisson drive of ``input_rate`` (probability
    per input neuron per burst) and keep the last ``bursts`` fired sets.

    The warm-up bursts (Numba compilation, the brain filling up) are neither kept nor timed.
    Raises ``ValueError`` for ``bursts < 1`` or a rate outside [0, 1].
    """
    from ..core.engine import Engine

    if bursts < 1:
        raise ValueError(f"tune needs at least 1 burst, got {bursts}")
    drive = PoissonDrive(connectome, input_rate, seed=seed)
    engine = Engine(connectome, "cpu", seed=seed, learning=False)
    fired = []
    spent = 0.0
    for b in range(warmup + bursts):
        drive.apply(engine)
        t0 = timer()
        engine.step()
        t1 = timer()
        if b >= warmup:
            spent += t1 - t0
            idx, psp = engine.backend.fired_history(1)
            order = np.argsort(idx, kind="stable")  # forced spikes come last
            fired.append((idx[order].astype(np.int64), psp[order].astype(np.float32)))
    return Activity(tuple(fired), spent / bursts)


# -- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuCost:
    """CPU delivery of one projection: seconds and synaptic events per burst (means)."""

    projection: int
    seconds: float
    events: float


@dataclass(frozen=True)
class PartitionCost:
    """One partition on the accelerator, per burst (means): ``host_s`` spent by the burst
    thread, ``round_trip_s`` from submit to counts (``>= host_s`` for an asynchronous
    integrator, equal for a synchronous one)."""

    name: str
    projections: tuple[int, ...]
    host_s: float
    round_trip_s: float

    @property
    def device_s(self) -> float:
        """The part of the round trip the CPU can overlap (0 for a synchronous integrator)."""
        return max(0.0, self.round_trip_s - self.host_s)


def _best_of(repeats: int, run_once: Callable[[], float]) -> float:
    """The smallest of ``repeats`` measurements: noise (other processes, interrupts) only
    ever adds time."""
    return min(run_once() for _ in range(max(1, repeats)))


def measure_cpu_costs(connectome: Connectome, projections: Sequence[int], activity: Activity, *,
                      repeats: int = 3, timer: Timer = time.perf_counter) -> dict[int, CpuCost]:
    """CPU delivery cost of each of ``projections`` with the engine's kernel (module steps 3).

    Each projection gets its own CSR (sources and targets area-local, its signed float32
    weight, the brain's PSP divisors); every recorded burst's spikes of its source area are
    delivered into a scratch accumulator. Returns ``{projection: CpuCost}``; seconds are the
    best of ``repeats`` passes over the recording divided by its bursts.
    """
    div_all = psp_divisor(connectome)
    out: dict[int, CpuCost] = {}
    bursts = len(activity.fired)
    for p in projections:
        proj = connectome.projections[p]
        src, dst = connectome.areas[proj.src_area], connectome.areas[proj.dst_area]
        indptr = np.zeros(src.neuron_count + 1, np.int32 if proj.synapse_count < 2**31 else np.int64)
        syn = np.empty((proj.synapse_count, 2), np.int32)
        kernels.build_csr(np.asarray(proj.pre, np.int32), np.asarray(proj.post, np.int32),
                          np.full(proj.synapse_count, projection_signed_weight(proj), np.float32),
                          indptr, syn)
        synf = syn.view(np.float32)
        div = np.ascontiguousarray(div_all[src.first_neuron:src.first_neuron + src.neuron_count])
        acc = np.zeros(dst.neuron_count, np.float32)
        bits = np.zeros((dst.neuron_count + 63) // 64, np.uint64)
        spikes = [activity.source_spikes(connectome, proj.src_area, b) for b in range(bursts)]
        events = [0]

        def once(indptr=indptr, syn=syn, synf=synf, div=div, acc=acc, bits=bits, spikes=spikes,
                 divided=not src.psp_uniform, events=events) -> float:
            spent, n = 0.0, 0
            for idx, psp in spikes:
                t0 = timer()
                if idx.size:
                    n += kernels.propagate(indptr, syn, synf, div, idx, psp, acc, bits, True,
                                           divided, kernels.PREFETCH_DISTANCE)
                spent += timer() - t0
                acc[:] = 0  # keep the scratch potentials finite; not timed
            events[0] = n
            return spent

        seconds = _best_of(repeats, once)
        out[p] = CpuCost(p, seconds / bursts, events[0] / bursts)
    return out


def _frames(connectome: Connectome, projections: Sequence[int], activity: Activity, burst: int
            ) -> dict[int, np.ndarray]:
    """The ``(1, n_src)`` uint8 0/1 frames the engine sends for one burst (one row: every spike
    of an integrable projection carries the same contribution); projections whose source was
    silent are left out, as the engine leaves them out."""
    out = {}
    for p in projections:
        proj = connectome.projections[p]
        idx, _ = activity.source_spikes(connectome, proj.src_area, burst)
        if idx.size:
            x = np.zeros((1, connectome.areas[proj.src_area].neuron_count), np.uint8)
            x[0, idx] = 1
            out[p] = x
    return out


def measure_partition_costs(connectome: Connectome, partitions: Sequence[Partition],
                            activity: Activity, factory: IntegratorFactory, *, repeats: int = 3,
                            timer: Timer = time.perf_counter,
                            sleep: Callable[[float], None] = time.sleep
                            ) -> dict[str, PartitionCost]:
    """Accelerator round trip of each partition with an integrator of its own (module step 4).

    Per recorded burst: build the frames, ``submit``, ``collect``, add the counts to a scratch
    accumulator as the engine does (``kernels.add_counts``). For a synchronous integrator all of
    it is host time. For an asynchronous one a second pass waits the measured round trip between
    ``submit`` and ``collect`` so only the host's part is timed. Every integrator is closed;
    what ``prepare`` raises propagates (a partition the integrator cannot run is not a
    candidate the tuner can judge).
    """
    out: dict[str, PartitionCost] = {}
    for part in partitions:
        integ = factory(connectome, part.projections)
        try:
            integ.prepare(connectome, list(part.projections))
            out[part.name] = _measure_partition(connectome, part, activity, integ,
                                                repeats=repeats, timer=timer, sleep=sleep)
        finally:
            integ.close()
    return out


def _measure_partition(connectome: Connectome, part: Partition, activity: Activity,
                       integ: Integrator, *, repeats: int, timer: Timer,
                       sleep: Callable[[float], None]) -> PartitionCost:
    """:func:`measure_partition_costs` for one partition and its prepared integrator."""
    projs = part.projections
    bursts = len(activity.fired)
    scratch = {}
    for p in projs:
        n_dst = connectome.areas[connectome.projections[p].dst_area].neuron_count
        scratch[p] = (np.zeros(n_dst, np.float32), np.zeros((n_dst + 63) // 64, np.uint64))

    def add_back(counts: Mapping[int, np.ndarray]) -> None:
        # What the engine does with counts: float32 additions into the accumulator.
        for p, y in counts.items():
            acc, bits = scratch[p]
            kernels.add_counts(0, np.asarray(y[0], np.int64), np.float32(1.0), acc, bits)
            acc[:] = 0

    def frames_of(b: int) -> dict[int, np.ndarray]:
        # Timed: the engine selects the source's spikes and builds the frames every burst.
        return _frames(connectome, projs, activity, b)

    def round_trips() -> float:
        spent = 0.0
        for b in range(bursts):
            t0 = timer()
            request = frames_of(b)
            if request:
                add_back(integ.collect(integ.submit(request)))
            spent += timer() - t0
        return spent

    def host_parts(wait: float) -> float:
        spent = 0.0
        for b in range(bursts):
            t0 = timer()
            request = frames_of(b)
            handle = integ.submit(request) if request else None
            spent += timer() - t0
            if handle is None:
                continue
            sleep(wait)  # the device finishes meanwhile, so collect costs host time only
            t0 = timer()
            add_back(integ.collect(handle))
            spent += timer() - t0
        return spent

    round_trip = _best_of(repeats, round_trips) / bursts
    if isinstance(integ, SynchronousIntegrator):
        host = round_trip
    else:
        host = min(round_trip, _best_of(repeats, lambda: host_parts(round_trip)) / bursts)
    return PartitionCost(part.name, tuple(projs), host, round_trip)


# -- the model and the choice ---------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """Predicted cost of one split: ``burst_s`` per burst (its inverse is the burst rate) and
    ``latency_s`` from a burst's start to its spikes (equal in this engine; kept apart so a
    pipelined strategy can make them differ)."""

    partitions: tuple[str, ...]
    burst_s: float
    latency_s: float

    @property
    def rate_hz(self) -> float:
        """Bursts per second the split allows (``inf`` for a zero prediction)."""
        return 1.0 / self.burst_s if self.burst_s > 0 else float("inf")


def predict(chosen: Sequence[str], cpu: Mapping[int, CpuCost], parts: Mapping[str, PartitionCost],
            base_s: float) -> Prediction:
    """The model of the module docstring for the partitions ``chosen`` (names in ``parts``);
    ``cpu`` holds every candidate projection. ``KeyError`` for an unknown partition."""
    on_acc = {p for k in chosen for p in parts[k].projections}
    cpu_rest = sum(c.seconds for p, c in cpu.items() if p not in on_acc)
    host = sum(parts[k].host_s for k in chosen)
    device = sum(parts[k].device_s for k in chosen)
    burst = base_s + cpu_rest + host + max(0.0, device - cpu_rest)
    return Prediction(tuple(sorted(chosen)), burst, burst)


def choose(cpu: Mapping[int, CpuCost], parts: Mapping[str, PartitionCost], base_s: float, *,
           target_rate: float | None = None, tolerance: float = 0.02) -> Prediction:
    """The split to run (module docstring: objective, tie-break, search).

    ``target_rate`` (bursts/s, > 0) restricts the choice to splits that reach it when any does;
    ``tolerance`` (fraction, >= 0) is how close to the best a split with fewer partitions may be
    and still win. Raises ``ValueError`` for a bad ``target_rate`` or ``tolerance``.
    """
    if target_rate is not None and not target_rate > 0:
        raise ValueError(f"target rate must be > 0 bursts/s, got {target_rate}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    names = sorted(parts)
    if len(names) <= EXHAUSTIVE_LIMIT:
        splits = [predict(s, cpu, parts, base_s) for r in range(len(names) + 1)
                  for s in itertools.combinations(names, r)]
    else:
        splits = _local_search(names, cpu, parts, base_s)
    if target_rate is not None:
        fits = [s for s in splits if s.burst_s <= 1.0 / target_rate]
        splits = fits or splits  # none fits: the fastest, and the report says it misses
    best = min(s.latency_s for s in splits)
    near = [s for s in splits if s.latency_s <= best * (1 + tolerance)]
    return min(near, key=lambda s: (len(s.partitions), s.latency_s, s.partitions))


def _local_search(names: Sequence[str], cpu: Mapping[int, CpuCost],
                  parts: Mapping[str, PartitionCost], base_s: float) -> list[Prediction]:
    """Greedy start (each partition that is cheaper on the accelerator alone), then single
    flips while one improves; returns every split visited."""
    alone = predict((), cpu, parts, base_s).burst_s
    current = {k for k in names if predict((k,), cpu, parts, base_s).burst_s < alone}
    now = predict(tuple(current), cpu, parts, base_s)
    seen = [now]
    improved = True
    while improved:
        improved = False
        for k in names:
            trial = predict(tuple(current ^ {k}), cpu, parts, base_s)
            seen.append(trial)
            if trial.burst_s < now.burst_s:
                current, now, improved = current ^ {k}, trial, True
    return seen


# -- integrators ------------------------------------------------------------------------------

#: Integrators ``feagi-hailo tune`` can measure.
INTEGRATORS = ("numpy", "onnxruntime", "hailo")


def integrator_factory(name: str, *, onnx_providers: Sequence[str] = ("CPUExecutionProvider",),
                       hailo_manifest: str | Path | None = None,
                       hailo_library: str | None = None) -> IntegratorFactory:
    """A factory of the integrator ``name`` (:data:`INTEGRATORS`) for one partition at a time.

    ``onnxruntime`` exports the partition to a temporary ONNX model; ``hailo`` opens the
    compiled partitions of ``hailo_manifest`` with ``required=True``, so a missing device or
    HEF is an error here rather than a CPU fallback timed as if it were the device. Raises
    ``ValueError`` for an unknown name or ``hailo`` without a manifest.
    """
    if name == "numpy":
        from .numpy_integrator import NumpyIntegrator

        return lambda connectome, projections: NumpyIntegrator()
    if name == "onnxruntime":
        from .onnx_integrator import OnnxRuntimeIntegrator
        from .placement import Placement

        def onnx(connectome: Connectome, projections: Sequence[int]) -> Integrator:
            on = set(projections)
            placements = [Placement(p, ACCELERATOR if p in on else CPU, "tune", 0, 0)
                          for p in range(len(connectome.projections))]
            return OnnxRuntimeIntegrator.from_connectome(connectome, placements,
                                                         providers=tuple(onnx_providers))
        return onnx
    if name == "hailo":
        if not hailo_manifest:
            raise ValueError("tuning with the hailo integrator needs the manifest.json whose "
                             "partitions were compiled to HEFs")
        from .hailo_integrator import HailoIntegrator

        manifest = Path(hailo_manifest)
        return lambda connectome, projections: HailoIntegrator(
            manifest, lib_path=hailo_library or None, required=True)
    raise ValueError(f"unknown integrator {name!r}; known: {', '.join(INTEGRATORS)}")


def manifest_candidates(connectome: Connectome, manifest_path: str | Path) -> list[Partition]:
    """The partitions of a compiled manifest, as tuning candidates (the HEFs that exist are
    the only splits a Hailo device can run). ``ManifestError`` for an unreadable manifest or
    one of another genome."""
    from .manifest import Manifest, ManifestError

    manifest = Manifest.read(manifest_path)
    if manifest.genome_checksum != connectome.source_checksum:
        raise ManifestError(f"manifest {manifest_path} was exported from another genome "
                            f"(checksum {manifest.genome_checksum!r})")
    return list(manifest.partitions)


# -- candidates, rules, the whole run ---------------------------------------------------------


def candidate_rules(base: PlacementRules) -> PlacementRules:
    """``base`` with the size thresholds at zero: everything the device could take, except what
    the user's rules keep on the CPU."""
    return dataclasses.replace(base, min_synapses=0, min_dst_neurons=0)


def candidate_partitions(connectome: Connectome, base: PlacementRules) -> list[Partition]:
    """The partitions of :func:`candidate_rules` (module step 2). ``ValueError`` as
    :func:`.placement.place` raises it for rules naming what the brain lacks."""
    return planned_partitions(connectome, candidate_rules(base))


def rules_for(connectome: Connectome, base: PlacementRules, candidates: Sequence[Partition],
              chosen: Sequence[str]) -> PlacementRules:
    """``base`` plus one override per candidate mapping: ``accelerator`` for the projections of
    the ``chosen`` partitions, ``cpu`` for the other candidates. A mapping key that names
    projections on both sides (one genome mapping split over delays) goes to the accelerator;
    the report's placement is recomputed from the rules, so it shows what runs."""
    on = {p for part in candidates if part.name in chosen for p in part.projections}
    tuned: dict[str, str] = {}
    for part in candidates:
        for p in part.projections:
            key = mapping_key(connectome, p)
            tuned[key] = ACCELERATOR if p in on or tuned.get(key) == ACCELERATOR else CPU
    overrides = {**base.overrides, **tuned}
    return dataclasses.replace(base, overrides=overrides)


def rules_document(rules: PlacementRules) -> dict[str, Any]:
    """The rules as the mapping :meth:`PlacementRules.from_dict` reads (lists, not tuples)."""
    doc = dataclasses.asdict(rules)
    for k in ("cpu_areas", "accelerator_areas"):
        doc[k] = list(doc[k])
    doc["overrides"] = dict(sorted(doc["overrides"].items()))
    return doc


@dataclass
class TuneResult:
    """What :func:`tune` measured and chose: the rules to write and a JSON-able ``report``."""

    rules: PlacementRules
    chosen: Prediction
    #: None when the default rules' partitions cannot be measured (``report`` says why).
    default: Prediction | None
    cpu_only: Prediction
    cpu: dict[int, CpuCost] = field(default_factory=dict)
    partitions: dict[str, PartitionCost] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def tune(connectome: Connectome, factory: IntegratorFactory, *, integrator_name: str,
         base: PlacementRules | None = None, candidates: Sequence[Partition] | None = None,
         bursts: int = 200, warmup: int = 10, input_rate: float = 0.05, repeats: int = 3,
         seed: int = 0, target_rate: float | None = None, tolerance: float = 0.02,
         timer: Timer = time.perf_counter, sleep: Callable[[float], None] = time.sleep,
         activity: Activity | None = None) -> TuneResult:
    """Measure, choose and build the rules (module steps 1-5).

    ``factory`` makes the integrator named ``integrator_name`` (for the report);
    ``candidates`` defaults to :func:`candidate_partitions` (a Hailo manifest's compiled
    partitions are passed here). ``activity`` skips the recording (tests, or several
    integrators over one recording). Raises ``ValueError`` for bad arguments or rules, and what
    the integrator raises for a partition it cannot run.
    """
    base = base or PlacementRules()
    parts = list(candidates) if candidates is not None else candidate_partitions(connectome, base)
    if activity is None:
        activity = record_activity(connectome, bursts, input_rate=input_rate, warmup=warmup,
                                   seed=seed, timer=timer)
    cand_projs = sorted({p for part in parts for p in part.projections})
    cpu = measure_cpu_costs(connectome, cand_projs, activity, repeats=repeats, timer=timer)
    costs = measure_partition_costs(connectome, parts, activity, factory, repeats=repeats,
                                    timer=timer, sleep=sleep)
    base_s = max(0.0, activity.cpu_burst_s - sum(c.seconds for c in cpu.values()))
    pick = choose(cpu, costs, base_s, target_rate=target_rate, tolerance=tolerance)
    rules = rules_for(connectome, base, parts, pick.partitions)
    by_projections = {k.projections: k for k in costs.values()}

    def predicted(r: PlacementRules) -> Prediction:
        # What the rules actually place, partition by partition; a partition no candidate
        # equals (the default rules split candidates by size) is measured now.
        planned = planned_partitions(connectome, r)
        missing = [k for k in planned if k.projections not in by_projections]
        for cost in measure_partition_costs(connectome, missing, activity, factory,
                                            repeats=repeats, timer=timer, sleep=sleep).values():
            by_projections[cost.projections] = cost
        mine = {c.name: c for c in (by_projections[k.projections] for k in planned)}
        return predict(list(mine), cpu, mine, base_s)

    actual = predicted(rules)
    try:
        default: Prediction | None = predicted(base)
        default_error = ""
    except (ValueError, RuntimeError) as exc:  # e.g. a HEF manifest without those partitions
        default, default_error = None, str(exc)
    cpu_only = predict((), cpu, costs, base_s)
    result = TuneResult(rules, actual, default, cpu_only, cpu, costs)
    result.report = _report(connectome, result, integrator_name=integrator_name,
                            bursts=len(activity.fired), input_rate=input_rate, repeats=repeats,
                            base_s=base_s, cpu_burst_s=activity.cpu_burst_s,
                            target_rate=target_rate, default_error=default_error)
    return result


def planned_partitions(connectome: Connectome, rules: PlacementRules) -> list[Partition]:
    """The partitions :func:`.placement.plan_partitions` makes of what ``rules`` place on the
    accelerator (budget warnings silenced: the exporter repeats them)."""
    import warnings

    from .placement import AcceleratorBudgetWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AcceleratorBudgetWarning)
        return plan_partitions(connectome, place(connectome, rules))


def _report(connectome: Connectome, r: TuneResult, *, integrator_name: str, bursts: int,
            input_rate: float, repeats: int, base_s: float, cpu_burst_s: float,
            target_rate: float | None, default_error: str) -> dict[str, Any]:
    us = 1e6

    def pred(p: Prediction) -> dict[str, Any]:
        return {"partitions": list(p.partitions), "burst_us": round(p.burst_s * us, 2),
                "latency_us": round(p.latency_s * us, 2), "bursts_per_s": round(p.rate_hz, 1)}

    report: dict[str, Any] = {
        "integrator": integrator_name, "bursts": bursts, "input_rate": input_rate,
        "repeats": repeats, "genome_checksum": connectome.source_checksum,
        "cpu_burst_us": round(cpu_burst_s * us, 2), "base_us": round(base_s * us, 2),
        "projections": [{"projection": c.projection, "mapping": mapping_key(connectome, c.projection),
                         "cpu_us": round(c.seconds * us, 3), "events_per_burst": round(c.events, 1)}
                        for c in r.cpu.values()],
        "partitions": [{"name": k.name, "projections": list(k.projections),
                        "cpu_us": round(sum(r.cpu[p].seconds for p in k.projections) * us, 3),
                        "host_us": round(k.host_s * us, 3),
                        "round_trip_us": round(k.round_trip_s * us, 3),
                        "chosen": k.name in r.chosen.partitions}
                       for k in r.partitions.values()],
        "chosen": pred(r.chosen), "cpu_only": pred(r.cpu_only),
        "default_rules": pred(r.default) if r.default is not None else None,
        "target_rate": target_rate,
    }
    if default_error:
        report["default_rules_error"] = default_error
    if target_rate is not None:
        report["meets_target"] = r.chosen.burst_s <= 1.0 / target_rate
    return report


def format_report(report: Mapping[str, Any]) -> str:
    """The readable table of a :func:`tune` report: one row per candidate partition, then the
    chosen split next to the default rules and the CPU alone."""
    lines = [f"measured {report['bursts']} bursts (input rate {report['input_rate']:g}) with "
             f"the {report['integrator']} integrator; a CPU burst took "
             f"{report['cpu_burst_us']:.1f} us, {report['base_us']:.1f} us of it fixed",
             f"{'partition':<28} {'projections':>11} {'cpu us':>10} {'host us':>10} "
             f"{'round trip us':>14}  chosen"]
    for k in report["partitions"]:
        lines.append(f"{k['name'][:28]:<28} {len(k['projections']):>11} {k['cpu_us']:>10.2f} "
                     f"{k['host_us']:>10.2f} {k['round_trip_us']:>14.2f}  "
                     f"{'accelerator' if k['chosen'] else 'cpu'}")
    for label, key in (("tuned split", "chosen"), ("default rules", "default_rules"),
                       ("cpu only", "cpu_only")):
        p = report[key]
        if p is None:
            lines.append(f"{label:<14} not measured: {report.get('default_rules_error', '')}")
            continue
        lines.append(f"{label:<14} {len(p['partitions']):>2} partition(s) on the accelerator: "
                     f"{p['burst_us']:.1f} us per burst, {p['bursts_per_s']:.0f} bursts/s (predicted)")
    if report.get("target_rate") is not None:
        verdict = "met" if report.get("meets_target") else "NOT met by any split"
        lines.append(f"target {report['target_rate']:g} bursts/s: {verdict}")
    return "\n".join(lines)


def write_rules(rules: PlacementRules, path: str | Path, comment: str = "") -> Path:
    """Write ``rules`` where :meth:`PlacementRules.load` reads them (the node's
    ``placement_config``): YAML for a ``.yaml``/``.yml`` suffix (``comment`` as ``#`` lines on
    top), JSON otherwise (JSON has no comments; ``comment`` is dropped). Returns the path;
    ``OSError`` when it cannot be written."""
    path = Path(path)
    doc = rules_document(rules)
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # PyYAML (declared: package.xml, requirements); loaded for YAML rule files only

        head = "".join(f"# {line}\n" for line in comment.splitlines())
        path.write_text(head + yaml.safe_dump(doc, sort_keys=False))
    else:
        path.write_text(json.dumps(doc, indent=1) + "\n")
    return path
