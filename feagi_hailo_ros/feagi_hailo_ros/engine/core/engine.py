"""The engine surface every backend runs behind.

``Engine`` owns one brain: it uploads the connectome to a backend, routes
projections assigned to integrators (accelerators) through the integrator
contract (``integrator.py``), collects injections and forced firing for the next burst,
runs bursts, answers "who fired" per area, and saves/loads checkpoints.
The ROS node and the CLI talk to this class only.

Inputs (``inject``, ``force_fire``) apply to the next burst only; call them
again for every burst that should receive them. Area-local neuron indices
follow ``connectome.py`` (x-major, z innermost, then neuron within voxel).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import checkpoint as ckpt
from .backend import (
    FEATURE_EXTERNAL_INPUT,
    FEATURE_PER_SYNAPSE_WEIGHTS,
    FEATURE_PLASTICITY,
    FEATURE_RATE_DIVIDER,
    FEATURE_STATE_TRANSFER,
    FORCED_POTENTIAL,
    Backend,
    BurstInput,
    ExternalInput,
    projection_signed_weight,
    psp_divisor,
    spike_contribution,
)
from .connectome import AreaSpec, Connectome
from .integrator import Counts, Integrator, group_spikes, integrability
from .memory import MEMORY_FIRE_POTENTIAL, MemoryAreas, MemoryEvents
from .pipeline import Lane, Submission
from .plasticity import (
    DEFAULT_MAX_PLASTIC_SYNAPSES,
    InFlightWeights,
    LearnedSynapses,
    Plasticity,
    projection_sign,
)
from .state import NeuronSnapshot

if TYPE_CHECKING:
    from .drive import PoissonDrive

BackendFactory = Callable[..., Backend]

#: Largest rate divider: dividers live in C integers in the backends (a divider past int64
#: raised OverflowError), and an area updated once in 2**31 - 1 bursts (12 days at the highest
#: burst_rate_hz, 2 kHz) is already one that never runs.
MAX_RATE_DIVIDER = 2**31 - 1


def _cpu_backend(**kw: Any) -> Backend:
    from .cpu_backend import CpuBackend

    return CpuBackend(**kw)


def _reference_backend(**kw: Any) -> Backend:
    from .reference import ReferenceBackend

    return ReferenceBackend(**kw)


#: Backend name -> factory(inhibition=..., seed=...). Later backends register here.
BACKENDS: dict[str, BackendFactory] = {"cpu": _cpu_backend, "reference": _reference_backend}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``Engine(..., backend=name)`` construct ``factory(inhibition=, seed=)``."""
    BACKENDS[name] = factory


AreaKey = str | int

# Empty inputs of the direct path (read only).
_NO_INDEX = np.zeros(0, np.int64)
_NO_VALUE = np.zeros(0, np.float64)
_NO_PSP = np.zeros(0, np.float32)
# No drive, as kernels.drive_injections takes one (no blocks).
_NO_DRIVE = (_NO_INDEX, _NO_INDEX, np.uint64(0), 0.0, 0.0)


def _joined(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    """``parts`` as one array (``empty`` for none; the only part itself for one)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else empty


class Engine:
    """Run a connectome on one backend, optionally with integrators for some projections.

    ``integrators`` maps projection index -> integrator; all projections of
    one integrator object are prepared together and integrated in one call
    per burst. The spikes are identical with or without integrators (the
    seam is exact); only where the arithmetic happens changes. With ``pipelined`` (the
    default) projections of delay >= 2 are submitted a burst ahead so the device works in
    parallel with the CPU for a whole burst (:mod:`.pipeline`); the spikes do not change.

    Projections with a ``plasticity`` rule learn after every burst (DESIGN §4.7,
    :mod:`.plasticity`) while :attr:`learning` is true (the default, as in FEAGI); set it false
    to run a trained brain frozen. They always run on the backend (an integrator assigned to
    one is refused). ``max_plastic_synapses`` bounds what ``associative_memory`` grows
    (:class:`~.plasticity.Plasticity`; :meth:`plasticity_stats` counts what it refused).
    Learned weights and grown synapses live in checkpoints.
    """

    def __init__(
        self,
        connectome: Connectome,
        backend: str | Backend = "cpu",
        *,
        integrators: Mapping[int, Integrator] | None = None,
        inhibition: str = "clamped",
        seed: int = 0,
        learning: bool = True,
        pipelined: bool = True,
        max_plastic_synapses: int = DEFAULT_MAX_PLASTIC_SYNAPSES,
        rate_dividers: Mapping[AreaKey, int] | None = None,
    ) -> None:
        #: The brain as built from the genome (plastic projections at their genome weights).
        self.connectome = connectome
        #: Whether plastic projections learn after each burst (no effect on a static brain).
        self.learning = bool(learning)
        if isinstance(backend, str):
            if backend not in BACKENDS:
                raise ValueError(f"unknown backend {backend!r}; known: {sorted(BACKENDS)}")
            backend = BACKENDS[backend](inhibition=inhibition, seed=seed)
        self.backend: Backend = backend
        self.inhibition = backend.inhibition
        self.seed = backend.seed
        if not backend.is_available():
            raise RuntimeError(f"backend {backend.name!r} is not available on this machine")
        if any(p.weights is not None for p in connectome.projections):
            backend.require(FEATURE_PER_SYNAPSE_WEIGHTS)

        self._assign: dict[int, Integrator] = dict(integrators or {})
        reasons = integrability(connectome) if self._assign else []
        for p in self._assign:
            if not 0 <= p < len(connectome.projections):
                raise IndexError(f"integrator assigned to unknown projection {p}")
            why = reasons[p]
            if why:
                raise ValueError(why)
        if self._assign:
            backend.require(FEATURE_EXTERNAL_INPUT)
        self._plasticity: Plasticity | None = None
        self._in_flight: InFlightWeights | None = None
        #: Memory areas (DESIGN §4.7); empty (falsy) for a brain without any.
        self._memory = MemoryAreas(connectome)
        self._memory_fire = np.zeros(0, np.int64)
        #: What the memory areas did in the last burst (``None`` before any).
        self.last_memory_events: MemoryEvents | None = None
        if self._memory:
            backend.require(FEATURE_STATE_TRANSFER)  # a dead memory neuron's state is cleared
        if any(p.plasticity is not None for p in connectome.projections):
            backend.require(FEATURE_PLASTICITY)
            backend.require(FEATURE_PER_SYNAPSE_WEIGHTS)  # grown synapses are uploaded as such
            self._plasticity = Plasticity(connectome, max_plastic_synapses)
            self._in_flight = InFlightWeights(
                self._plasticity.synapses,
                {p: int(connectome.projections[p].delay) for p in self._plasticity.projections})

        backend.upload_neurons(connectome)
        backend.upload_synapses(connectome, exclude=set(self._assign))

        # Integrators grouped by object identity, each prepared once.
        self._integrators: list[tuple[Integrator, list[int]]] = []
        for p, integ in sorted(self._assign.items()):
            for known, projs in self._integrators:
                if known is integ:
                    projs.append(p)
                    break
            else:
                self._integrators.append((integ, [p]))
        for integ, projs in self._integrators:
            integ.prepare(connectome, list(projs))
        #: Whether delay >= 2 projections are submitted a burst ahead (see :mod:`.pipeline`).
        self.pipelined = bool(pipelined)
        delays = {p: int(connectome.projections[p].delay) for p in self._assign}
        self._lanes = [Lane(integ, projs, delays, ahead=self.pipelined)
                       for integ, projs in self._integrators]
        self._div = psp_divisor(connectome) if self._assign else None

        pa = connectome.power_area
        self._power = (
            np.arange(connectome.areas[pa].neuron_count, dtype=np.int64)
            + connectome.areas[pa].first_neuron
            if pa is not None
            else np.zeros(0, np.int64)
        )
        self._identity: str | None = None
        #: Slowed areas: area index -> rate divider (set_rate_dividers).
        self.rate_dividers: dict[int, int] = {}
        #: Slowed area -> its spikes of its last update, shown until the update after.
        self._held_spikes: dict[int, np.ndarray] = {}
        if rate_dividers:
            self.set_rate_dividers(rate_dividers)
        self._clear_pending()
        self.last_timing: dict[str, float] = {}
        self.timing_totals: dict[str, float] = {}
        self.bursts_timed = 0
        self._backend_key = f"backend:{backend.name}"
        # Bursts with nothing between them skip BurstInput and the per-burst bookkeeping
        # (issue 13): the backend's run_prepared, when it has one.
        simple = not self._lanes and self._plasticity is None and not self._memory
        self._direct: Callable[..., int] | None = (
            getattr(backend, "run_prepared", None) if simple else None)
        # The same with a Poisson drive generated in the compiled loop (Engine.run).
        self._driven: Callable[..., None] | None = (
            getattr(backend, "run_driven", None) if simple else None)
        self._power_psp = np.full(self._power.size, FORCED_POTENTIAL, np.float32)
        self._idle_input = (_NO_INDEX, _NO_VALUE, _NO_INDEX, _NO_INDEX, _NO_VALUE,
                            self._power, self._power_psp)

    # -- inputs for the next burst ---------------------------------------------

    def _clear_pending(self) -> None:
        self._inj_idx: list[np.ndarray] = []
        self._inj_val: list[np.ndarray] = []
        self._ranges: list[tuple[int, int, float]] = []
        self._force: list[np.ndarray] = []
        self._force_psp: list[np.ndarray] = []

    def _local_indices(
        self, area: AreaSpec, voxels: np.ndarray | None, indices: np.ndarray | None
    ) -> tuple[np.ndarray | None, int]:
        """Area-local neuron ids (None = whole area) and neurons per given item."""
        if voxels is not None and indices is not None:
            raise ValueError("give voxels or indices, not both")
        if voxels is not None:
            return area.neurons_of_voxels(voxels), area.neurons_per_voxel
        if indices is not None:
            idx = np.asarray(indices, dtype=np.int64).reshape(-1)
            # min/max first: two reductions, no temporary mask (this runs for every reading).
            if idx.size and (idx.min() < 0 or idx.max() >= area.neuron_count):
                bad = (idx < 0) | (idx >= area.neuron_count)
                raise IndexError(
                    f"neuron index {int(idx[bad][0])} is outside area {area.cortical_id} "
                    f"of {area.neuron_count} neurons"
                )
            return idx, 1
        return None, 1

    def inject(
        self,
        area: AreaKey,
        *,
        voxels: np.ndarray | None = None,
        indices: np.ndarray | None = None,
        potentials: float | np.ndarray,
    ) -> None:
        """Add ``potentials`` to the next burst's input of some neurons of ``area``.

        ``area`` is a cortical id, name or index. Select by ``voxels`` (``(n, 3)`` integer
        x, y, z: every neuron of each voxel), by area-local ``indices`` (``(k,)`` int), or neither
        for the whole area. ``potentials`` (membrane potential units, float64) is a scalar or
        one value per voxel / index / neuron. The neurons become candidates even when the value
        is 0 or negative (DESIGN §4 rule 3). Raises ``KeyError`` for an unknown area,
        ``IndexError`` for a voxel or index outside it, ``ValueError`` for non-finite
        potentials or a count that matches nothing selected.
        """
        prepared = self.prepare_injection(area, voxels=voxels, indices=indices,
                                          potentials=potentials)
        if prepared is not None:
            self.inject_prepared(prepared)

    def prepare_injection(
        self,
        area: AreaKey,
        *,
        voxels: np.ndarray | None = None,
        indices: np.ndarray | None = None,
        potentials: float | np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """What :meth:`inject` would add, checked and expanded once: ``(global neuron ids int64,
        values float64)`` for :meth:`inject_prepared`, valid for this engine's connectome. A
        whole-area scalar (no ``voxels`` / ``indices``) is a range, not prepared: it is queued
        here and ``None`` returned. Raises what :meth:`inject` raises. A sensor reading held
        for many bursts is prepared once and injected every burst without converting voxels
        again.
        """
        a = self.connectome.area(area)
        local, per_item = self._local_indices(a, voxels, indices)
        pot = np.asarray(potentials, dtype=np.float64)
        if not (math.isfinite(pot) if pot.ndim == 0 else np.isfinite(pot).all()):
            raise ValueError("injected potentials must be finite")
        if local is None:
            if pot.ndim == 0:
                self._ranges.append((a.first_neuron, a.first_neuron + a.neuron_count, float(pot)))
                return None
            local = np.arange(a.neuron_count, dtype=np.int64)
        if pot.ndim == 0:
            values = np.full(local.size, float(pot))
        elif pot.size * per_item == local.size:
            values = np.repeat(pot.reshape(-1), per_item)
        elif pot.size == local.size:
            values = pot.reshape(-1)
        else:
            raise ValueError(
                f"{pot.size} potentials for {local.size // per_item} selected items of "
                f"area {a.cortical_id}"
            )
        return local + a.first_neuron, values

    def inject_prepared(self, prepared: tuple[np.ndarray, np.ndarray]) -> None:
        """Add a :meth:`prepare_injection` result to the next burst's input (no checks: it was
        checked when prepared, for this engine's connectome)."""
        self._inj_idx.append(prepared[0])
        self._inj_val.append(prepared[1])

    def force_fire(
        self,
        area: AreaKey,
        *,
        voxels: np.ndarray | None = None,
        indices: np.ndarray | None = None,
        potential: float = FORCED_POTENTIAL,
    ) -> None:
        """Make neurons fire in the next burst unconditionally (DESIGN §4 rule 6): FEAGI's
        manual stimulation. It injects nothing and leaves the neurons' state alone. Selection as
        in :meth:`inject` (``voxels`` ``(n, 3)``, area-local ``indices``, or the whole area).
        ``potential`` is what FEAGI reports for the stimulation; a forced neuron of an ``mp_psp``
        area sends it as its PSP (recording ``min_mpforce``). Raises ``KeyError`` /
        ``IndexError`` like :meth:`inject`, ``ValueError`` for a non-finite potential.
        """
        if not np.isfinite(potential):
            raise ValueError("a forced potential must be finite")
        a = self.connectome.area(area)
        local, _ = self._local_indices(a, voxels, indices)
        if local is None:
            local = np.arange(a.neuron_count, dtype=np.int64)
        self._force.append(local + a.first_neuron)
        self._force_psp.append(np.full(local.size, potential, np.float32))

    def _merged_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Disjoint ``[start, stop)`` blocks with summed values from possibly overlapping ones."""
        if not self._ranges:
            return np.zeros((0, 2), np.int64), np.zeros(0, np.float64)
        if len(self._ranges) == 1:
            s, e, v = self._ranges[0]
            return np.array([[s, e]], np.int64), np.array([v], np.float64)
        cuts = sorted({b for s, e, _ in self._ranges for b in (s, e)})
        blocks, values = [], []
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            cover = [v for s, e, v in self._ranges if s <= lo and hi <= e]
            if cover:
                blocks.append((lo, hi))
                # One float32 addition per injection, in call order, from 0: what injecting
                # neuron by neuron would give (DESIGN §4 rule 2; 12 x 1/12 stays below 1).
                total = np.float32(0.0)
                for v in cover:
                    total = np.float32(total + np.float32(v))
                values.append(float(total))
        return np.array(blocks, np.int64).reshape(-1, 2), np.array(values, np.float64)

    # -- running ---------------------------------------------------------------

    def step(self, n: int = 1, *, repeat_inputs: bool = False) -> int:
        """Run ``n`` bursts; returns how many neurons fired in the last one.

        Pending injections and forced firing go to the first of them, or with
        ``repeat_inputs`` to every one of them (a constant drive held for ``n`` bursts).
        A brain without integrators, plasticity, memory areas or rate dividers on a backend
        with ``run_prepared`` (the CPU backend) runs bursts that share their input as one
        compiled call; spikes and state are those of ``n`` single steps either way.
        :meth:`run` does the same with a Poisson drive and returns every burst's spike count.
        """
        n = int(n)
        if n <= 0:
            return 0
        if self._direct_ok():
            return self._step_direct(n, repeat_inputs)
        if not repeat_inputs:
            fired = 0
            for _ in range(n):
                fired = self._step_once()
            return fired
        held = (list(self._inj_idx), list(self._inj_val), list(self._ranges),
                list(self._force), list(self._force_psp))
        fired = 0
        for _ in range(n):
            (self._inj_idx, self._inj_val, self._ranges, self._force,
             self._force_psp) = (list(x) for x in held)
            fired = self._step_once()
        return fired

    def _direct_ok(self) -> bool:
        """Whether bursts can skip the general path: nothing runs between the backend's
        bursts (no integrator, plasticity, memory area or slowed area) and the backend
        can run prepared input as one compiled call."""
        return (self._direct is not None and not self.rate_dividers
                and bool(getattr(self.backend, "can_run_prepared", False)))

    def _pending_arrays(self) -> tuple[np.ndarray, ...]:
        """The pending inputs (and the power area's forced fire) as ``run_prepared`` takes
        them; cached arrays when nothing is pending."""
        if not (self._inj_idx or self._ranges or self._force):
            return self._idle_input
        if self._ranges:
            ranges, range_values = self._merged_ranges()
            starts = np.ascontiguousarray(ranges[:, 0])
            stops = np.ascontiguousarray(ranges[:, 1])
        else:
            starts, stops, range_values = _NO_INDEX, _NO_INDEX, _NO_VALUE
        if self._force:
            force = np.concatenate([*self._force, self._power])
            force_psp = np.concatenate([*self._force_psp, self._power_psp])
        else:
            force, force_psp = self._power, self._power_psp
        return (_joined(self._inj_idx, _NO_INDEX), _joined(self._inj_val, _NO_VALUE),
                starts, stops, range_values, force, force_psp)

    def _step_direct(self, n: int, repeat_inputs: bool) -> int:
        """:meth:`step` for a brain that needs nothing between bursts (see ``_direct_ok``):
        every index was checked by ``inject``/``force_fire``, so the input goes to the
        backend's compiled burst as it is."""
        t0 = time.perf_counter()
        run = self._direct
        assert run is not None
        pending = self._pending_arrays()
        self._clear_pending()
        try:
            if repeat_inputs or pending is self._idle_input:
                fired = run(*pending, n)
            else:
                fired = run(*pending, 1)
                if n > 1:
                    fired = run(*self._idle_input, n - 1)
        except BaseException:
            self._drain()
            raise
        t1 = time.perf_counter()
        per = (t1 - t0) / n
        self.last_timing = {self._backend_key: per, "total": per}
        totals = self.timing_totals
        totals[self._backend_key] = totals.get(self._backend_key, 0.0) + (t1 - t0)
        totals["total"] = totals.get("total", 0.0) + (t1 - t0)
        self.bursts_timed += n
        return fired

    def run(self, n: int, *, drive: PoissonDrive | None = None) -> np.ndarray:
        """Run ``n`` bursts, each with ``drive``'s injections of that burst (none without a
        drive); returns how many neurons fired in each burst (int64[n]).

        Pending injections and forced firing go to the first burst, added after the drive's
        injections (as ``drive.apply(engine)`` then ``inject`` would queue them). When
        :meth:`step` would take its direct path (a backend with ``run_driven``, no
        integrators, plasticity, memory or slowed areas), all ``n`` bursts and their drive run
        in one compiled call (``kernels.driven_bursts``); otherwise one burst at a time with
        ``drive.injections``. Spikes and state are the same either way, bit for bit, and the
        same as ``n`` times ``drive.apply(engine); engine.step()``. Raises ``ValueError`` for
        a drive with neurons outside this brain (made from another connectome).
        """
        n = int(n)
        counts = np.zeros(max(n, 0), np.int64)
        if n <= 0:
            return counts
        if drive is not None and drive.neuron_stop > self.connectome.neuron_count:
            raise ValueError(f"the drive reaches neuron {drive.neuron_stop - 1}, outside this "
                             f"brain of {self.connectome.neuron_count} neurons")
        if self._driven is not None and self._direct_ok():
            self._run_driven(drive, counts)
            return counts
        for b in range(n):
            if drive is not None:
                ids, values = drive.injections(self.backend.burst)
                if ids.size:  # first in this burst's order, before what was pending
                    self._inj_idx.insert(0, ids)
                    self._inj_val.insert(0, values)
            counts[b] = self._step_once()
        return counts

    def _run_driven(self, drive: PoissonDrive | None, counts: np.ndarray) -> None:
        """:meth:`run` on the direct path: the pending input with the first burst, the rest
        idle, every burst's drive generated by the backend's compiled loop."""
        t0 = time.perf_counter()
        run = self._driven
        assert run is not None
        args = drive.kernel_args() if drive is not None else _NO_DRIVE
        pending = self._pending_arrays()
        self._clear_pending()
        try:
            if pending is self._idle_input:
                run(*pending, args, counts)
            else:
                run(*pending, args, counts[:1])
                if counts.size > 1:
                    run(*self._idle_input, args, counts[1:])
        except BaseException:
            self._drain()
            raise
        dt = time.perf_counter() - t0
        per = dt / counts.size
        self.last_timing = {self._backend_key: per, "total": per}
        totals = self.timing_totals
        totals[self._backend_key] = totals.get(self._backend_key, 0.0) + dt
        totals["total"] = totals.get("total", 0.0) + dt
        self.bursts_timed += counts.size

    def _step_once(self) -> int:
        t0 = time.perf_counter()
        timing: dict[str, float] = {}
        try:
            collect, positions = self._integrate(timing)
        except BaseException:
            self._drain()
            raise

        ranges, range_values = self._merged_ranges()
        force = self._force + ([self._power] if self._power.size else [])
        force_psp = self._force_psp + (
            [np.full(self._power.size, FORCED_POTENTIAL, np.float32)] if self._power.size else [])
        if self._memory_fire.size:  # memory neurons detected last burst (DESIGN §4.7)
            force = [*force, self._memory_fire]
            force_psp = [*force_psp, np.full(self._memory_fire.size, MEMORY_FIRE_POTENTIAL,
                                             np.float32)]
            self._memory_fire = np.zeros(0, np.int64)
        inp = BurstInput(
            inject_index=np.concatenate(self._inj_idx) if self._inj_idx else np.zeros(0, np.int64),
            inject_value=(
                np.concatenate(self._inj_val) if self._inj_val else np.zeros(0, np.float64)
            ),
            inject_ranges=ranges,
            inject_range_values=range_values,
            force_index=np.concatenate(force) if force else np.zeros(0, np.int64),
            force_psp=np.concatenate(force_psp) if force_psp else np.zeros(0, np.float32),
            late_external=collect,
            late_positions=positions,
            phase_timing=bool(self._lanes),
        )
        self._clear_pending()
        t1 = time.perf_counter()
        try:
            if self._in_flight is not None:
                self._apply_due_weights()
            fired = self.backend.process_burst(inp)
            if self._plasticity is not None or self._memory:
                self._learn()
            self._hold_spikes()
            if self._lanes:  # bursts whose collector did not run (nothing was due)
                self._submit_ahead(timing, self.backend.burst)
        except BaseException:
            # Drain every accelerator so its next burst does not read this one's frames, and
            # resubmit from the spikes at the next burst. The first error wins.
            self._drain()
            raise
        t2 = time.perf_counter()
        timing[f"backend:{self.backend.name}"] = t2 - t1
        for k, v in self.backend.last_timing.items():
            timing[f"backend:{self.backend.name}.{k}"] = v
        timing["total"] = t2 - t0
        self.last_timing = timing
        for k, v in timing.items():
            self.timing_totals[k] = self.timing_totals.get(k, 0.0) + v
        self.bursts_timed += 1
        return fired

    def _learn(self) -> None:
        """Memory areas, then plasticity, after the burst just run (its fired set includes
        forced fires). Frozen (``learning`` false), memory areas neither store nor forget."""
        t = self.backend.burst - 1
        fired = self.backend.last_fired()
        removed: list[int] = []
        if self._memory and not self.learning:
            self._memory.observe(t, fired, learn=False)  # windows only: neither store nor forget
        elif self._memory:
            ev = self._memory.observe(t, fired)
            self.last_memory_events = ev
            self._memory_fire = np.asarray(ev.detected, np.int64)
            if ev.deleted:
                self._clear_neurons(np.asarray(ev.deleted, np.int64))
                if self._plasticity is not None:
                    removed = self._plasticity.forget(np.asarray(ev.deleted, np.int64))
        if self._plasticity is None or self._in_flight is None:
            return
        update = self._plasticity.observe(t, fired, self.learning)
        changed = list(dict.fromkeys(removed + update.changed + update.grown))
        self._in_flight.schedule(t, changed, self._plasticity.synapses)

    def _clear_neurons(self, neurons: np.ndarray) -> None:
        """Dead memory neurons back to rest (V 0, no countdown, no count), so a slot reused by a
        new memory neuron starts as FEAGI registers one (membrane potential 0)."""
        state = self.backend.download_state()
        state.potentials[neurons] = 0
        state.refractory_countdown[neurons] = 0
        state.fire_counts[neurons] = 0
        if state.kept_potential is not None:
            state.kept_potential[neurons] = False
        self.backend.upload_state(state)

    def _apply_due_weights(self) -> None:
        """Before a burst: give the backend the weights its deliveries were fired with."""
        assert self._in_flight is not None
        changed, grown = self._in_flight.due(self.backend.burst)
        if grown:
            self._upload_learned()
            return
        for p in changed:
            self.backend.set_projection_weights(p, self._signed(p))

    def _signed(self, p: int) -> np.ndarray:
        assert self._in_flight is not None
        return self._in_flight.uploaded[p].weight * projection_sign(self.connectome.projections[p])

    def _running_connectome(self) -> Connectome:
        """The genome's connectome with every plastic projection's synapses as uploaded."""
        if self._in_flight is None:
            return self.connectome
        projections = list(self.connectome.projections)
        for p, s in self._in_flight.uploaded.items():
            projections[p] = dataclasses.replace(projections[p], pre=s.pre, post=s.post,
                                                 weights=self._signed(p))
        return dataclasses.replace(self.connectome, projections=projections)

    def _upload_learned(self) -> None:
        """Give the backend every plastic projection's uploaded synapses, keeping the state."""
        running = self._running_connectome()
        self.backend.replace_synapses(running, exclude=set(self._assign))
        if self._div is not None:
            # Grown synapses raise their sources' outdegree, which the PSP divisor uses.
            self._div = psp_divisor(running)

    def _learned_now(self) -> None:
        """The backend takes the learned synapses as they are now (nothing in flight)."""
        assert self._plasticity is not None and self._in_flight is not None
        self._in_flight.replace(self._plasticity.synapses)
        self._upload_learned()

    def learned_synapses(self) -> dict[int, LearnedSynapses]:
        """Every plastic projection's synapses and weights now (copies), keyed by projection
        index; empty for a static brain. Weights are magnitudes (float32); the sign is the
        projection's."""
        if self._plasticity is None:
            return {}
        return {p: s.copy() for p, s in self._plasticity.synapses.items()}

    @property
    def max_plastic_synapses(self) -> int:
        """The bound on the plastic projections' synapses (see the class docstring); settable
        between bursts (``ValueError`` below 0); 0 for a static brain."""
        return self._plasticity.max_synapses if self._plasticity is not None else 0

    @max_plastic_synapses.setter
    def max_plastic_synapses(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"max_plastic_synapses must be >= 0, got {value}")
        if self._plasticity is not None:
            self._plasticity.max_synapses = int(value)

    def plasticity_stats(self) -> dict[str, int]:
        """``plastic_synapses`` now, ``max_plastic_synapses`` and ``growth_refused`` (synapses
        associative_memory would have grown past the bound); ``{}`` for a static brain."""
        if self._plasticity is None:
            return {}
        return {"plastic_synapses": sum(int(s.pre.size) for s in self._plasticity.synapses.values()),
                "max_plastic_synapses": self._plasticity.max_synapses,
                "growth_refused": self._plasticity.growth_refused}

    def memory_summary(self) -> list[dict[str, Any]]:
        """Per memory area: alive and long-term memory neurons, capacity, creations refused
        for a full pool (``MemoryAreas.summary``); empty without memory areas."""
        return self._memory.summary()

    def memory_neurons(self, area: AreaKey) -> dict[int, dict[str, int | bool]]:
        """The living memory neurons of a memory area: FEAGI id (from 50,000,000) ->
        area-local ``neuron``, ``lifespan``, ``long_term``. ``KeyError`` for another area."""
        return self._memory.neurons(self.connectome.area(area).index)

    def restore_genome_weights(self) -> None:
        """Plastic projections back to the genome's synapses and weights; the neuron state and
        the fire ledger are kept."""
        if self._plasticity is not None:
            self._plasticity.restore_genome_weights()
            self._learned_now()

    def _submit(self, lane: Lane, projs: list[int], target: int,
                timing: dict[str, float]) -> None:
        """Submit ``projs``' spikes for burst ``target`` to ``lane``'s integrator (if any fired).

        Makes room first when the integrator holds as many submissions as it accepts: the
        oldest is collected now and its counts kept for its burst.
        """
        t0 = time.perf_counter()
        requests, coefs = self._requests(projs, target)
        if requests:
            while lane.busy() >= lane.slots:
                oldest = next(s for s in lane.queue if s.counts is None)
                t1 = time.perf_counter()
                oldest.counts = lane.integ.collect(oldest.handle)
                oldest.seconds += time.perf_counter() - t1
            t1 = time.perf_counter()
            handle = lane.integ.submit(requests)
            lane.queue.append(Submission(target, handle, requests, coefs,
                                         time.perf_counter() - t1))
        key = f"integrator:{lane.integ.name}"
        timing[key] = timing.get(key, 0.0) + time.perf_counter() - t0

    def _submit_ahead(self, timing: dict[str, float], target: int) -> None:
        """Submit the ahead (delay >= 2) work of burst ``target`` to every lane not done yet."""
        for lane in self._lanes:
            if lane.ahead and lane.ahead_through < target:
                self._submit(lane, lane.ahead, target, timing)
                lane.ahead_through = target

    def _drain(self) -> None:
        """Drop every submission in flight (see :meth:`Lane.drain`)."""
        for lane in self._lanes:
            lane.drain(self.backend.burst)

    def _integrate(self, timing: dict[str, float]
                   ) -> tuple[Callable[[], list[ExternalInput]] | None, list[tuple[int, int]]]:
        """Make sure this burst's integrator work is submitted; return a collector for it.

        Ahead work (delay >= 2) was normally submitted during the previous burst; it is
        submitted now when it was not (the first burst, after a reset or a failure). Direct work
        (delay 1) is submitted now. The backend calls the collector after propagating the CPU's
        own synapses and before the neuron update, so an asynchronous integrator (Hailo) works
        while the CPU propagates; the collector then submits the next burst's ahead work, so the
        device computes it while the CPU finishes this burst (:mod:`.pipeline`).
        Returns ``(None, [])`` when no integrator has work for this burst, else the collector
        and the ``(delay, src_start)`` positions of what it returns.
        """
        t = self.backend.burst
        self._submit_ahead(timing, t)
        for lane in self._lanes:
            if lane.direct:
                self._submit(lane, lane.direct, t, timing)
        due_now = [(lane, s) for lane in self._lanes for s in lane.queue if s.target == t]
        if not due_now:
            return None, []
        conn = self.connectome
        positions = sorted({(int(conn.projections[p].delay),
                             conn.areas[conn.projections[p].src_area].first_neuron)
                            for _, s in due_now for p in s.requests})

        def collect() -> list[ExternalInput]:
            late: list[ExternalInput] = []
            for lane in self._lanes:
                key = f"integrator:{lane.integ.name}"
                for s in lane.due(t):
                    t0 = time.perf_counter()
                    counts = s.counts if s.counts is not None else lane.integ.collect(s.handle)
                    late += self._scale(lane.integ, counts, s.requests, s.coefs)
                    timing[key] = timing.get(key, 0.0) + s.seconds + time.perf_counter() - t0
            # The next burst's ahead work, now that the integrator has room: the device works
            # on it while the CPU finishes this burst.
            self._submit_ahead(timing, t + 1)
            return late

        return collect, positions

    def _requests(self, projs: list[int], target: int
                  ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Spike rows per projection (grouped by per-spike contribution) and their coefficients,
        for burst ``target``: the spikes of ``target - delay``."""
        conn = self.connectome
        requests: dict[int, np.ndarray] = {}
        coefs: dict[int, np.ndarray] = {}
        for p in projs:
            proj = conn.projections[p]
            src = conn.areas[proj.src_area]
            # fired_history(k) is burst `backend.burst - k`; backend.burst is the burst running
            # (or the next one between bursts).
            lag = int(proj.delay) - (target - self.backend.burst)
            if lag < 1:
                raise RuntimeError(f"projection {p}: the spikes of burst {target - proj.delay} "
                                   "do not exist yet")
            idx, psp = self.backend.fired_history(lag)
            sel = (idx >= src.first_neuron) & (idx < src.first_neuron + src.neuron_count)
            if not sel.any():
                continue
            g = idx[sel].astype(np.int64)
            assert self._div is not None
            c = spike_contribution(projection_signed_weight(proj), psp[sel], self._div[g])
            requests[p], coefs[p] = group_spikes(g - src.first_neuron, c, src.neuron_count)
        return requests, coefs

    def _scale(self, integ: Integrator, counts: Counts, requests: dict[int, np.ndarray],
               coefs: dict[int, np.ndarray]) -> list[ExternalInput]:
        """The integrator's counts, checked, as ExternalInputs the backend adds one event at a time
        at their place in the canonical order (DESIGN §4 rule 2, §5)."""
        conn = self.connectome
        out: list[ExternalInput] = []
        for p, x in requests.items():
            dst = conn.areas[conn.projections[p].dst_area]
            y = np.asarray(counts[p])
            if y.shape != (x.shape[0], dst.neuron_count) or y.dtype.kind not in "iu":
                raise TypeError(
                    f"integrator {integ.name!r} returned {y.dtype}{y.shape} for "
                    f"projection {p}; expected integer counts of shape "
                    f"{(x.shape[0], dst.neuron_count)}"
                )
            if (y < 0).any():
                raise ValueError(f"integrator {integ.name!r} returned negative counts")
            proj = conn.projections[p]
            src = conn.areas[proj.src_area]
            # One ExternalInput per group of equal contributions; integrability guarantees a
            # single group (every spike of the projection carries the same contribution).
            for g in range(x.shape[0]):
                out.append(ExternalInput(dst.first_neuron, y[g].astype(np.int64),
                                         float(coefs[p][g]), src.first_neuron, int(proj.delay)))
        return out

    # -- outputs -----------------------------------------------------------------

    @property
    def burst(self) -> int:
        """Index of the next burst (bursts run since reset)."""
        return self.backend.burst

    def set_rate_dividers(self, dividers: Mapping[AreaKey, int]) -> None:
        """Multi-rate areas (a deviation from FEAGI the user chooses; README): run area ``a``
        only at bursts ``t`` with ``t % k == k - 1`` (``k = dividers[a]``, an int >= 1).

        Between its updates the area's neurons are not processed and their input is carried;
        at an update the input of its ``k`` bursts arrives summed (float32, in arrival order);
        refractory periods and snoozes count updates. Its spikes propagate once, from the
        update they fired in, and :meth:`fired` / :meth:`fired_global` show them for the ``k``
        bursts until its next update. Forced fires still fire at once. Call between bursts with
        no carried input (right after construction or :meth:`reset`); replaces earlier dividers.
        Raises ``ValueError`` for a divider that is not an int >= 1, ``KeyError`` for an
        unknown area, ``NotImplementedError`` for a backend without the feature.
        """
        resolved: dict[int, int] = {}
        for key, k in dividers.items():
            if (isinstance(k, bool) or not isinstance(k, (int, np.integer))
                    or not 1 <= k <= MAX_RATE_DIVIDER):
                raise ValueError(f"rate divider of {key!r} must be an int in 1..{MAX_RATE_DIVIDER}, "
                                 f"got {k!r}")
            resolved[self.connectome.area(key).index] = int(k)
        slowed = {a: k for a, k in resolved.items() if k > 1}
        if slowed or self.rate_dividers:
            self.backend.require(FEATURE_RATE_DIVIDER)
            self.backend.set_rate_dividers(slowed)
        self.rate_dividers = slowed
        self._held_spikes = {}

    def _hold_spikes(self) -> None:
        """After a burst: remember each slowed area's spikes at its update."""
        t = self.backend.burst - 1
        if not self.rate_dividers:
            return
        fired = np.sort(self.backend.last_fired().astype(np.int64))
        for a, k in self.rate_dividers.items():
            if t % k == k - 1:
                area = self.connectome.areas[a]
                lo, hi = np.searchsorted(fired, [area.first_neuron,
                                                 area.first_neuron + area.neuron_count])
                self._held_spikes[a] = fired[lo:hi]

    def fired_global(self) -> np.ndarray:
        """Sorted global ids of every neuron that fired in the last burst (a slowed area's
        spikes of its last update included, until its next update)."""
        fired = self.backend.last_fired().astype(np.int64)
        if self._held_spikes:
            t = self.backend.burst - 1
            held = [ids for a, ids in self._held_spikes.items()
                    if t % self.rate_dividers[a] != self.rate_dividers[a] - 1]
            fired = np.unique(np.concatenate([fired, *held])) if held else fired
        return np.sort(fired)

    def fired(self, area: AreaKey) -> np.ndarray:
        """Sorted area-local indices (int64) of ``area``'s neurons that fired in the last burst;
        ``KeyError`` for an unknown area."""
        a = self.connectome.area(area)
        g = self.fired_global()
        lo, hi = np.searchsorted(g, [a.first_neuron, a.first_neuron + a.neuron_count])
        return g[lo:hi] - a.first_neuron

    def fired_voxels(self, area: AreaKey) -> np.ndarray:
        """(n, 3) distinct voxels of ``area`` with at least one neuron fired, sorted."""
        a = self.connectome.area(area)
        vox = a.voxel_of(self.fired(area))
        return np.unique(vox, axis=0) if vox.size else np.zeros((0, 3), np.int64)

    def area_activity(self, area: AreaKey) -> np.ndarray:
        """Fired neurons per voxel in the last burst, shape ``dims`` (x, y, z), int32."""
        a = self.connectome.area(area)
        local = self.fired(area)
        counts = np.bincount(local // a.neurons_per_voxel, minlength=a.neuron_count // max(
            a.neurons_per_voxel, 1))  # fmt: skip
        return counts.astype(np.int32).reshape(a.dims)

    def potentials(self, area: AreaKey) -> np.ndarray:
        """Membrane potentials (float32) of ``area``'s neurons at the end of the last burst."""
        a = self.connectome.area(area)
        return self.backend.download_neurons().potentials[a.neuron_slice]

    def neuron_state(self) -> NeuronSnapshot:
        """Canonical per-neuron state of the whole brain."""
        return self.backend.download_neurons()

    def stats(self) -> dict[str, Any]:
        """Burst count and mean seconds per burst for every timed phase."""
        n = max(self.bursts_timed, 1)
        return {
            "bursts": self.bursts_timed,
            "mean_s": {k: v / n for k, v in self.timing_totals.items()},
            "total_s": dict(self.timing_totals),
        }

    # -- lifecycle ---------------------------------------------------------------

    def reset(self) -> None:
        """Back to burst 0 at rest; pending inputs and timing are dropped.

        Learned weights, grown synapses and memory neurons are kept (a reset is a fresh start of
        the dynamics, not of what the brain learned); :meth:`restore_genome_weights` drops the
        weights and synapses.
        """
        self.backend.reset()
        self._drain()  # work submitted ahead was for bursts that will not run
        self._memory.clear_windows()
        self._memory_fire = np.zeros(0, np.int64)
        if self._plasticity is not None:
            self._plasticity.clear_ledger()
            self._learned_now()  # no spike is in flight after a reset
        self._clear_pending()
        self.last_timing = {}
        self.timing_totals = {}
        self.bursts_timed = 0

    @property
    def identity(self) -> str:
        """Connectome identity (SHA-256) checkpoints are bound to; computed once."""
        if self._identity is None:
            self._identity = ckpt.connectome_identity(self.connectome)
        return self._identity

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write the dynamic state (not pending inputs) so ``load_checkpoint`` continues it."""
        self.backend.require(FEATURE_STATE_TRANSFER)
        ckpt.save_checkpoint(
            path,
            self.backend.download_state(),
            identity=self.identity,
            synapse_count=self.connectome.synapse_count,
            inhibition=self.inhibition,
            seed=self.seed,
            learned=self._learned_state(),
            memory={**self._memory.state(), "fire_next": self._memory_fire.tolist()}
            if self._memory else None,
            rate_dividers=self.rate_dividers,
        )

    def _learned_state(self) -> ckpt.Learned | None:
        if self._plasticity is None or self._in_flight is None:
            return None
        uploaded, queue = self._in_flight.snapshot()
        return ckpt.Learned(self.learned_synapses(), uploaded, queue,
                            self._plasticity.ledger.copy())

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore a checkpoint of this brain; refuses corrupt or foreign files.

        Learned weights and grown synapses come back with it; a checkpoint without them (saved
        by a version without plasticity) restores the genome's weights.
        Raises ``CheckpointCorruptError`` or ``CheckpointMismatchError`` (both
        ``CheckpointError``) and leaves the running state untouched then.
        """
        self.backend.require(FEATURE_STATE_TRANSFER)
        state = ckpt.load_checkpoint(
            path,
            identity=self.identity,
            neuron_count=self.connectome.neuron_count,
            synapse_count=self.connectome.synapse_count,
            history_length=self.backend.history_length,
            inhibition=self.inhibition,
            seed=self.seed,
            rate_dividers=self.rate_dividers,
        )
        learned = ckpt.read_learned(path)
        memory = ckpt.read_memory(path) if self._memory else None
        fresh = MemoryAreas(self.connectome)
        if memory is not None:
            try:
                fresh.set_state(memory)
                fire_next = np.asarray(memory.get("fire_next", []), np.int64)
                if fire_next.size and (fire_next.min() < 0
                                       or fire_next.max() >= self.connectome.neuron_count):
                    raise ValueError("fire_next names a neuron outside the brain")
            except (ValueError, TypeError) as e:
                raise ckpt.CheckpointCorruptError(f"{path}: {e}") from e
        else:
            fire_next = np.zeros(0, np.int64)
        if self._plasticity is not None and self._in_flight is not None:
            previous = self._learned_state()
            assert previous is not None
            try:
                if learned is None:  # saved before plasticity was modelled: genome weights
                    self._plasticity.restore_genome_weights()
                    self._plasticity.clear_ledger()
                    self._in_flight.replace(self._plasticity.synapses)
                else:
                    for p, syn in [*learned.uploaded.items(),
                                   *((p, syn) for _, p, syn in learned.queue)]:
                        self._plasticity.check(p, syn)
                    self._plasticity.set_state(learned.now, learned.ledger)
                    self._in_flight.restore(learned.uploaded, learned.queue)
            except ValueError as e:
                self._plasticity.set_state(previous.now, previous.ledger)
                self._in_flight.restore(previous.uploaded, previous.queue)
                raise ckpt.CheckpointCorruptError(f"{path}: learned synapses: {e}") from e
            self._upload_learned()
        self.backend.upload_state(state)
        self._drain()  # work submitted ahead came from the spikes just replaced
        self._memory, self._memory_fire = fresh, fire_next
        # A slowed area's spikes of an update before the save are not in the file: it shows
        # spikes again from its next update (its dynamics continue exactly).
        self._held_spikes = {}
        self._clear_pending()

    def close(self) -> None:
        """Release every integrator (devices, sessions); each is closed even if another fails,
        and the first error is raised afterwards."""
        first: Exception | None = None
        self._drain()
        for integ, _ in self._integrators:
            try:
                integ.close()
            except Exception as exc:  # noqa: BLE001 (the others must still be released)
                first = first or exc
        if first is not None:
            raise first
