"""The CPU backend: the Numba kernels of ``kernels.py`` behind the Backend protocol.

Single-threaded by default: on the 2-core robots the other core runs ROS
and the accelerator's I/O, and the kernels are ``nogil`` so a host thread
can overlap them with an integrator waiting on PCIe. ``threads > 1`` splits
the neuron dynamics (the dense half of a burst) over that many Numba
threads; synaptic delivery stays serial (its writes scatter).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence

import numba
import numpy as np

from . import kernels
from .backend import (
    ALL_FEATURES,
    Backend,
    BurstInput,
    check_burst_input,
    check_external,
    csr_slots,
    forced_psp,
    projection_signed_weight,
    psp_divisor,
)
from .connectome import POTENTIAL_DTYPE, AreaSpec, Connectome
from .state import INDEX_DTYPE, EngineState, NeuronSnapshot, empty_spikes


def area_threshold_limit(area: AreaSpec) -> float:
    """Upper firing bound of ``area`` as a float; ``inf`` when unset.

    FEAGI's ``fthlim = 0`` means no limit (DESIGN §4 "Per area"), and so
    does any negative value here.
    """
    lim = float(area.threshold_limit)
    return np.inf if lim <= 0 else lim


def neuron_thresholds(area: AreaSpec) -> np.ndarray:
    """Per-neuron θ of one area: float32[area.neuron_count], in area-local neuron order.

    ``θ = fire_t + x·ftincx + y·ftincy + z·ftincz`` (DESIGN §4 "Per area")
    with the neuron's voxel ``(x, y, z)``, summed in float64 and rounded to
    float32 once, as the NumPy reference does.
    """
    xyz = area.voxel_of(np.arange(area.neuron_count, dtype=np.int64)).astype(np.float64)
    fx, fy, fz = (float(c) for c in area.threshold_increment)
    # Spelled out left to right (no matmul, which may fuse multiply-adds) so
    # every backend rounds the same way.
    theta = float(area.fire_threshold) + xyz[:, 0] * fx + xyz[:, 1] * fy + xyz[:, 2] * fz
    return theta.astype(POTENTIAL_DTYPE)


def area_table(areas: Sequence[AreaSpec]) -> np.ndarray:
    """The kernels' per-area parameter table: ``kernels.AREA_DTYPE[len(areas)]``.

    Row ``a`` holds area ``a``'s neuron parameters (DESIGN §4 "Per area") in
    the types the kernels compute with: threshold, ``1 - leak`` and the PSP
    rounded once from float64 to float32 (``leak`` itself too, for ``leak_linear`` areas; the
    snooze as int64), the threshold limit as float32
    (``inf`` when unset, see :func:`area_threshold_limit`), the refractory
    period as int64, the consecutive fire limit as int32, excitability as
    float64 with ``always = excitability >= 0.999`` (FEAGI fires those
    without a draw). ``theta_var`` marks areas with threshold increments,
    whose per-neuron thresholds come from :func:`neuron_thresholds`.
    """
    table = np.zeros(len(areas), dtype=kernels.AREA_DTYPE)
    f64 = np.float64
    table["excitability"] = np.array([float(a.excitability) for a in areas], f64)
    table["refractory"] = np.array([int(a.refractory) for a in areas], np.int64)
    table["theta"] = np.array([float(a.fire_threshold) for a in areas], f64).astype(POTENTIAL_DTYPE)
    table["theta_max"] = np.array([area_threshold_limit(a) for a in areas], POTENTIAL_DTYPE)
    table["keep"] = np.array([1.0 - float(a.leak) for a in areas], f64).astype(POTENTIAL_DTYPE)
    table["psp"] = np.array([float(a.psp) for a in areas], f64).astype(POTENTIAL_DTYPE)
    table["leak"] = np.array([float(a.leak) for a in areas], f64).astype(POTENTIAL_DTYPE)
    table["snooze"] = np.array([int(a.snooze) for a in areas], np.int64)
    table["leak_linear"] = [bool(a.leak_linear) for a in areas]
    table["cfc"] = np.array([int(a.consecutive_fire_limit) for a in areas], np.int32)
    table["theta_var"] = [any(c != 0 for c in a.threshold_increment) for a in areas]
    table["always"] = table["excitability"] >= 0.999
    table["mp_acc"] = [bool(a.mp_acc) for a in areas]
    table["mp_psp"] = [bool(a.mp_psp) for a in areas]
    return table


class CpuBackend(Backend):
    """Event-driven Numba burst engine (see ``kernels.py`` for the semantics).

    ``inhibition`` (``"clamped"`` or ``"subtractive"``) and ``seed`` (any
    int; the excitability hash uses it mod 2**64) are the semantic options
    of :class:`~.backend.Backend`; ``threads`` (>= 1, capped at
    ``NUMBA_NUM_THREADS``) splits the neuron dynamics of brains with at
    least ``parallel_min_neurons`` neurons. Raises ``ValueError`` for
    ``threads < 1`` or an unknown inhibition mode. Every spike, potential
    and count equals the NumPy reference's bit for bit, whatever ``threads``.
    """

    name = "cpu"
    features = ALL_FEATURES

    def __init__(self, *, inhibition: str = "clamped", seed: int = 0, threads: int = 1) -> None:
        super().__init__(inhibition=inhibition, seed=seed)
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        #: Numba threads for the dynamics (capped at NUMBA_NUM_THREADS).
        self.threads = min(int(threads), numba.config.NUMBA_NUM_THREADS)
        self._seed_u64 = np.uint64(self.seed & 0xFFFFFFFFFFFFFFFF)
        self._n = 0
        self._burst = 0
        #: (delay, indptr, syn, syn as float32, any source divides its PSP); every delay's
        #: indptr is a row of ``_indptrs`` with offsets into the one shared ``syn``.
        self._csr: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, bool]] = []
        self._indptrs = np.zeros((0, 1), np.int32)
        self._syn = np.zeros((0, 2), np.int32)
        self._delays = np.zeros(0, np.int64)
        self._divided = np.zeros(0, np.bool_)
        self._history_length = 1
        self._epoch = 0
        self._alloc_history()
        #: Whether bursts without integrator input run as one compiled call
        #: (``kernels.burst``); false forces the general path (tests compare the two).
        self.fused = True
        self._events_per_s = 5e7  # until measured
        self.prefetch_distance = kernels.PREFETCH_DISTANCE

    # -- upload ----------------------------------------------------------------

    def upload_neurons(self, connectome: Connectome) -> None:
        """Load the per-area and per-neuron parameters and reset the dynamic state.

        Raises ``ValueError`` for more than 65535 areas (``area_of`` is
        uint16), 2**31 neurons or more (ids are int32), or a refractory
        period outside ``0 .. _REBASE_BY - 1``.
        """
        n = connectome.neuron_count
        areas = connectome.areas
        if len(areas) > np.iinfo(np.uint16).max:
            raise ValueError(f"{len(areas)} areas; the CPU backend indexes at most 65535")
        if n >= 2**31:
            raise ValueError(f"{n} neurons; the CPU backend indexes neurons with int32")
        too_long = [a.cortical_id for a in areas if not 0 <= a.refractory < self._REBASE_BY]
        if too_long:
            raise ValueError(f"refractory period out of range (0..{self._REBASE_BY - 1}) in {too_long}")
        self._n = n
        self.area_of = np.empty(n, dtype=np.uint16)
        self.theta = np.zeros(n, dtype=POTENTIAL_DTYPE)
        #: Per-area parameters (``kernels.AREA_DTYPE``, row = area index). An
        #: empty brain still gets one unused row: the dynamics read row 0 up front.
        self.area_params = area_table(areas) if areas else np.zeros(1, kernels.AREA_DTYPE)
        self._base_params = self.area_params.copy()
        #: Slowed areas: area index -> rate divider k > 1 (set_rate_dividers), and the same
        #: as two int64 arrays (area, divider) for the compiled burst.
        self._dividers: dict[int, int] = {}
        self._holds = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        for a, area in enumerate(areas):
            self.area_of[area.neuron_slice] = a
            if self.area_params["theta_var"][a]:
                self.theta[area.neuron_slice] = neuron_thresholds(area)
        # Scratch, cleared by the kernels as they go.
        self.acc = np.zeros(n, dtype=np.float32)
        self.bits = np.zeros((n + 63) // 64, dtype=np.uint64)
        self.fired_flag = np.zeros(n, dtype=np.uint8)
        self.out_idx = np.empty(n, dtype=INDEX_DTYPE)
        self.out_psp = np.empty(n, dtype=POTENTIAL_DTYPE)
        self._alloc_state()

    def _alloc_state(self) -> None:
        n = self._n
        self.v = np.zeros(n, dtype=POTENTIAL_DTYPE)
        # Burst stamps are int32 relative to _epoch (halves their memory traffic).
        self._epoch = 0
        self.v_burst = np.full(n, -1, dtype=np.int32)
        self.until = np.full(n, -1, dtype=np.int32)
        self.count = np.zeros(n, dtype=np.int32)
        self.v_kept = np.zeros(n, dtype=np.uint8)
        self._burst = 0
        self._alloc_history()

    def _alloc_history(self) -> None:
        """An empty ring of the last ``history_length`` fired sets (see ``kernels.burst``).

        Flat preallocated slots (ids int32[H, n], PSPs float32[H, n], counts int64[H]) instead
        of a deque of fresh arrays, so a burst allocates nothing and the compiled burst can
        read and write its history itself. Costs 8 bytes per neuron per slot.
        """
        self._prepared_args = None  # arrays replaced: rebuild the kernel's tuples
        h = self._history_length
        self._ring_idx = np.zeros((h, self._n), INDEX_DTYPE)
        self._ring_psp = np.zeros((h, self._n), POTENTIAL_DTYPE)
        self._ring_count = np.zeros(h, np.int64)
        self._head = np.zeros(1, np.int64)  # slot of the last burst's fired set

    def _slot(self, delay: int) -> int:
        return int((int(self._head[0]) - delay + 1) % self._history_length)

    def _push_history(self, fired: np.ndarray, fired_psp: np.ndarray) -> None:
        """Write a burst's fired set (ids ascending) as the newest history slot."""
        new = (int(self._head[0]) + 1) % self._history_length
        m = fired.size
        self._ring_idx[new, :m] = fired
        self._ring_psp[new, :m] = fired_psp
        self._ring_count[new] = m
        self._head[0] = new

    def _neuron_arrays(self) -> tuple[np.ndarray, ...]:
        """The fields of a ``kernels.NeuronArrays``, in its order, as a plain tuple.

        Plain because Numba dispatches a plain tuple ~0.7 us faster than a
        named one (``kernels.dynamics`` names the fields again). Built per
        burst (0.1 us), not stored: upload_state and reset replace arrays.
        """
        return (
            self.area_of, self.theta, self.v, self.v_burst, self.until, self.count, self.acc,
            self.bits, self.fired_flag, self.out_idx, self.out_psp, self.v_kept,
        )  # fmt: skip

    def upload_synapses(self, connectome: Connectome, exclude: Collection[int] = ()) -> None:
        """Build one CSR per delay from every projection not in ``exclude``, and reset the state.

        Excluded projections (computed by an integrator) still count in each
        source's outdegree, which the PSP divisor uses. Raises ``ValueError``
        when ``upload_neurons`` was not called with a connectome of the same
        size, or for a projection with ``delay < 1``.
        """
        if connectome.neuron_count != self._n:
            raise ValueError("upload_neurons must be called with the same connectome first")
        exclude = set(exclude)
        self.div = psp_divisor(connectome)
        by_delay: dict[int, list[int]] = {}
        max_delay = 0
        for p, proj in enumerate(connectome.projections):
            if proj.delay < 1:
                raise ValueError(f"projection {p}: delay must be >= 1, got {proj.delay}")
            max_delay = max(max_delay, int(proj.delay))
            if p not in exclude:
                by_delay.setdefault(int(proj.delay), []).append(p)
        self._csr = []
        #: plastic projection -> (index into _csr, slot in the shared syn of each synapse)
        self._plastic_slots: dict[int, tuple[int, np.ndarray]] = {}
        delays = sorted(by_delay)
        sizes = [sum(connectome.projections[p].synapse_count for p in by_delay[d])
                 for d in delays]
        total = int(sum(sizes))
        ptr_dtype = np.int32 if total < 2**31 else np.int64
        # Every delay's CSR in one structure: row k of indptrs is delay k's row table, with
        # offsets into one shared syn, so the compiled burst takes all delays at once.
        self._indptrs = np.zeros((len(delays), self._n + 1), dtype=ptr_dtype)
        self._syn = np.empty((total, 2), dtype=np.int32)
        self._delays = np.array(delays, np.int64)
        self._divided = np.zeros(len(delays), np.bool_)
        base = 0
        for k, d in enumerate(delays):
            pre, post, sw = [], [], []
            offsets = {}
            for p in by_delay[d]:
                offsets[p] = sum(a.size for a in pre)
                proj = connectome.projections[p]
                src = connectome.areas[proj.src_area]
                dst = connectome.areas[proj.dst_area]
                # int32 throughout (n < 2**31): 10M synapses stay at ~120 MB.
                pre.append(np.asarray(proj.pre).astype(np.int32) + np.int32(src.first_neuron))
                post.append(np.asarray(proj.post).astype(np.int32) + np.int32(dst.first_neuron))
                if proj.weights is None:
                    sw.append(np.full(proj.synapse_count, projection_signed_weight(proj),
                                      dtype=np.float32))  # fmt: skip
                else:
                    sw.append(np.asarray(proj.weights, dtype=np.float32))
            pre_a = np.concatenate(pre)
            post_a = np.concatenate(post)
            sw_a = np.concatenate(sw)
            del pre, post, sw
            plastic = [p for p in by_delay[d] if connectome.projections[p].plasticity is not None]
            if plastic:
                # kernels.build_csr is a stable counting sort by source: the same slots.
                slots = csr_slots(pre_a) + base
                for p in plastic:
                    size = connectome.projections[p].synapse_count
                    self._plastic_slots[p] = (k, slots[offsets[p]:offsets[p] + size])
            indptr = self._indptrs[k]
            kernels.build_csr(pre_a, post_a, sw_a, indptr, self._syn[base:base + pre_a.size])
            indptr += ptr_dtype(base)
            base += pre_a.size
            divided = any(
                not connectome.areas[connectome.projections[p].src_area].psp_uniform
                for p in by_delay[d]
            )
            self._divided[k] = divided
            del pre_a, post_a, sw_a
            self._csr.append((d, indptr, self._syn, self._syn.view(np.float32), divided))
        # At least one burst of history: it is also the last fired set, which
        # checkpoints carry.
        self._history_length = max(max_delay, 1)
        self._alloc_state()

    def set_rate_dividers(self, dividers: Mapping[int, int]) -> None:
        """Slow areas down (see ``Backend.set_rate_dividers``): their refractory period and snooze
        are scaled by their divider in the kernels' area table."""
        params = self._base_params.copy()
        slowed = {int(a): int(k) for a, k in dividers.items() if int(k) > 1}
        for a, k in slowed.items():
            params["refractory"][a] *= k
            params["snooze"][a] *= k
        self.area_params = params
        self._dividers = slowed
        self._holds = (np.array(list(slowed), np.int64), np.array(list(slowed.values()), np.int64))
        self._prepared_args = None

    def set_projection_weights(self, projection: int, signed_weights: np.ndarray) -> None:
        """Write a plastic projection's weights into its CSR slots (see ``Backend``)."""
        csr_index, slots = self._plastic_slots[projection]
        w = np.asarray(signed_weights, np.float32)
        if w.shape != slots.shape:
            raise ValueError(f"projection {projection}: {w.size} weights for {slots.size} synapses")
        self._csr[csr_index][3][slots, 1] = w

    # -- running ---------------------------------------------------------------

    #: Below this size threads cost more than they save (tests lower it).
    parallel_min_neurons = 50_000

    #: Relative burst stamps are moved back by _REBASE_BY once they reach
    #: _REBASE_AT, far below int32 overflow (tests lower both).
    _REBASE_AT = 2**30
    _REBASE_BY = 2**29

    def process_burst(self, inp: BurstInput) -> int:
        """Run one burst (DESIGN §4 rules 1-6) and return how many neurons fired.

        Order: injections and external input, synaptic delivery of the fired
        sets of ``t - delay`` for every delay, ``inp.late_external``, then the
        dynamics. Raises ``IndexError``/``ValueError`` for input addressing
        neurons outside the brain (``backend.check_burst_input``) or
        overlapping ``inject_ranges``. A burst without integrator input runs as
        one compiled call (:meth:`run_prepared`) unless :attr:`fused` is false,
        ``inp.phase_timing`` asks for phase times or the dynamics are split over
        threads. Sets ``last_timing`` (seconds per phase: input, propagate,
        dynamics; ``burst`` alone for the compiled call) and ``last_events``.
        """
        t0 = time.perf_counter()
        check_burst_input(inp, self._n)
        ranges = np.asarray(inp.inject_ranges, dtype=np.int64).reshape(-1, 2)
        range_values = np.asarray(inp.inject_range_values, np.float64)
        if ranges.shape[0] > 1:
            order = np.argsort(ranges[:, 0], kind="stable")
            ranges, range_values = ranges[order], range_values[order]
            if np.any(ranges[1:, 0] < ranges[:-1, 1]):
                raise ValueError("inject_ranges must be disjoint")
        starts = np.ascontiguousarray(ranges[:, 0])
        stops = np.ascontiguousarray(ranges[:, 1])
        inj_idx = np.asarray(inp.inject_index, np.int64)
        inj_val = np.asarray(inp.inject_value, np.float64)
        force_idx = np.asarray(inp.force_index, np.int64)
        if (self.fused and not inp.external and inp.late_external is None
                and not inp.phase_timing and not self._parallel()):
            return self.run_prepared(inj_idx, inj_val, starts, stops, range_values, force_idx,
                                     forced_psp(inp))
        self._maybe_rebase()
        t_rel = np.int64(self._burst - self._epoch)
        acc, bits = self.acc, self.bits
        if starts.size:
            kernels.mark_ranges(starts, stops, bits)
        # When dense ranges cover every neuron all are candidates anyway, and
        # synaptic events need not touch the bitset.
        mark = int((stops - starts).sum()) < self._n
        if inj_idx.size:
            kernels.add_injections(inj_idx, inj_val, acc, bits)
        t1 = time.perf_counter()
        events = self._propagate(inp, acc, bits, mark)
        t2 = time.perf_counter()
        any_hold = False
        for a, k in self._dividers.items():  # slowed areas hold except at their updates
            hold = self._burst % k != k - 1
            self.area_params["hold"][a] = hold
            any_hold |= hold
        args = (
            t_rel, np.int64(self._burst), starts, stops, range_values,
            force_idx, forced_psp(inp), self._neuron_arrays(),
            self.area_params,
            self._seed_u64, self.inhibition == "subtractive",
        )  # fmt: skip
        if self._parallel():
            numba.set_num_threads(self.threads)
            n_fired = kernels.dynamics_parallel(*args, self.threads, any_hold)
        else:
            n_fired = kernels.dynamics(*args, any_hold)
        fired = self.out_idx[:n_fired]
        fired_psp = self.out_psp[:n_fired]
        if len(inp.force_index) and n_fired > 1 and np.any(fired[1:] < fired[:-1]):
            # Forced spikes come after the natural (ascending) ones; delivery needs ascending sources
            # (the canonical order, DESIGN §4 rule 2).
            order = np.argsort(fired, kind="stable")
            fired, fired_psp = fired[order], fired_psp[order]
        self._push_history(fired, fired_psp)
        self._burst += 1
        t3 = time.perf_counter()
        self.last_timing = {"input": t1 - t0, "propagate": t2 - t1, "dynamics": t3 - t2}
        self.last_events = events
        if events > 100_000 and t2 > t1:
            self._events_per_s = 0.9 * self._events_per_s + 0.1 * events / (t2 - t1)
        return int(n_fired)

    @property
    def can_run_prepared(self) -> bool:
        """Whether :meth:`run_prepared` may be used now: :attr:`fused` is true and the dynamics
        are not split over threads (only the general path of ``process_burst`` does that)."""
        return self.fused and not self._parallel()

    def _compiled_call_args(self) -> tuple:
        """``(nrn, synapses, history, holds, subtractive)`` for the compiled calls, from the
        cached :meth:`_kernel_args` (rebuilt when the prefetch distance changed)."""
        args = self._prepared_args
        if args is None or args[4] != self.prefetch_distance:
            args = self._prepared_args = self._kernel_args()
        return (*args[:4], self.inhibition == "subtractive")

    def _kernel_args(self) -> tuple:
        """The array tuples ``kernels.burst`` takes, built once per set of arrays (rebuilt after
        anything replaces one: upload, reset, state upload, rate dividers)."""
        synapses = (self.div, self._indptrs, self._syn, self._syn.view(np.float32),
                    self._delays, self._divided, int(self.prefetch_distance))
        history = (self._ring_idx, self._ring_psp, self._ring_count, self._head)
        return (self._neuron_arrays(), synapses, history, self._holds,
                int(self.prefetch_distance))

    def _parallel(self) -> bool:
        """Whether the dynamics are split over threads (only the general path does that)."""
        return self.threads > 1 and self._n >= self.parallel_min_neurons

    def _maybe_rebase(self) -> None:
        """Move the epoch on before int32 burst stamps could overflow (``_REBASE_AT``)."""
        if self._burst - self._epoch >= self._REBASE_AT:
            kernels.rebase(self.until, self._REBASE_BY, -1)  # older: not refractory
            kernels.rebase(self.v_burst, self._REBASE_BY, -2)  # older: stale
            self._epoch += self._REBASE_BY

    def run_prepared(self, inject_index: np.ndarray, inject_value: np.ndarray,
                     range_start: np.ndarray, range_stop: np.ndarray, range_value: np.ndarray,
                     force_index: np.ndarray, force_psp: np.ndarray, count: int = 1) -> int:
        """Run ``count`` (>= 1) bursts with the same input, each one compiled call; returns
        how many neurons fired in the last.

        The input of :class:`~.backend.BurstInput` without integrators, already checked where
        it entered (``Engine.inject``/``force_fire`` check every index; ``process_burst``
        checks its ``BurstInput``): ``inject_index`` int64 / ``inject_value`` float64 point
        injections; ``range_start``/``range_stop`` int64 / ``range_value`` float64 disjoint
        ``[start, stop)`` blocks sorted by start; ``force_index`` int64 with ``force_psp``
        float32 of equal length. Nothing is checked here: an index outside the brain corrupts
        memory. Spikes and state equal those of ``count`` calls of :meth:`process_burst`
        (``kernels.burst`` runs the same kernels in the same order). Sets ``last_timing``
        (``burst``: seconds per burst) and ``last_events`` (synaptic events of all ``count``).
        """
        t0 = time.perf_counter()
        nrn, synapses, history, holds, subtractive = self._compiled_call_args()
        n_fired, events, left = 0, 0, int(count)
        while left > 0:
            self._maybe_rebase()
            t_rel = self._burst - self._epoch
            chunk = min(left, self._REBASE_AT - t_rel)
            if chunk == 1:
                n_fired, ev = kernels.burst(
                    t_rel, self._burst, inject_index, inject_value, range_start, range_stop,
                    range_value, force_index, force_psp, nrn, self.area_params, self._seed_u64,
                    subtractive, synapses, history, holds)  # fmt: skip
            else:
                n_fired, ev = kernels.bursts(
                    chunk, t_rel, self._burst, inject_index, inject_value, range_start,
                    range_stop, range_value, force_index, force_psp, nrn, self.area_params,
                    self._seed_u64, subtractive, synapses, history, holds)  # fmt: skip
            self._burst += chunk
            left -= chunk
            events += ev
        dt = time.perf_counter() - t0
        self.last_timing = {"burst": dt / max(int(count), 1)}
        self.last_events = events
        if events > 100_000 * max(int(count), 1) and dt > 0:
            # Measured over whole bursts here (no separate delivery timer in one call).
            self._events_per_s = 0.9 * self._events_per_s + 0.1 * events / dt
        return int(n_fired)

    def run_driven(self, inject_index: np.ndarray, inject_value: np.ndarray,
                   range_start: np.ndarray, range_stop: np.ndarray, range_value: np.ndarray,
                   force_index: np.ndarray, force_psp: np.ndarray, drive: tuple,
                   fired_counts: np.ndarray) -> None:
        """:meth:`run_prepared` for ``fired_counts.size`` bursts with a Poisson drive generated
        inside the compiled loop (``kernels.driven_bursts``), writing each burst's spike count
        into ``fired_counts`` (int64[count]).

        ``drive`` is ``PoissonDrive.kernel_args()`` (its blocks inside this brain: unchecked
        here, the engine checks them). Each burst gets the drive's injections first, then the
        held input given here. Spikes and state equal those of one :meth:`process_burst` per
        burst with ``PoissonDrive.apply``'s injections first. Sets ``last_timing`` (``burst``)
        and ``last_events`` as :meth:`run_prepared`.
        """
        t0 = time.perf_counter()
        nrn, synapses, history, holds, subtractive = self._compiled_call_args()
        count = int(fired_counts.size)
        events, done = 0, 0
        while done < count:
            self._maybe_rebase()
            t_rel = self._burst - self._epoch
            chunk = min(count - done, self._REBASE_AT - t_rel)
            events += kernels.driven_bursts(
                t_rel, self._burst, inject_index, inject_value, range_start, range_stop,
                range_value, force_index, force_psp, nrn, self.area_params, self._seed_u64,
                subtractive, synapses, history, holds, drive,
                fired_counts[done:done + chunk])  # fmt: skip
            self._burst += chunk
            done += chunk
        dt = time.perf_counter() - t0
        self.last_timing = {"burst": dt / max(count, 1)}
        self.last_events = events

    def _propagate(self, inp: BurstInput, acc: np.ndarray, bits: np.ndarray, mark: bool) -> int:
        """Synaptic delivery in the canonical order (DESIGN §4 rule 2): delay passes ascending,
        sources ascending; an integrator's counts go in at their source area's position of their
        delay's pass. ``inp.late_external`` is collected only when the first such position is
        reached, so an accelerator works while the CPU delivers everything before it. Returns
        the number of CPU synaptic events."""
        if not inp.external and inp.late_external is None:
            # No integrator this burst: every delay's fired set in one call each (the common
            # case; the general path below costs a few microseconds of Python per burst).
            events = 0
            for d, indptr, syn, synf, divided in self._csr:
                idx, psp = self.fired_history(d)
                if idx.size:
                    events += kernels.propagate(indptr, syn, synf, self.div, idx, psp, acc, bits,
                                                mark, divided, self.prefetch_distance)
            return events
        externals = list(inp.external)
        late_at = set(inp.late_positions)
        pending = inp.late_external
        positions = sorted({(e.delay, e.src_start) for e in externals} | late_at)
        by_delay = {d: (indptr, syn, synf, divided) for d, indptr, syn, synf, divided in self._csr}
        delays = sorted(set(by_delay) | {d for d, _ in positions})
        events = 0
        for d in delays:
            idx, psp = self.fired_history(d)
            csr = by_delay.get(d)
            lo = 0
            for pd, start in positions:
                if pd != d:
                    continue
                cut = int(np.searchsorted(idx, start)) if idx.size else 0
                if csr is not None and cut > lo:
                    events += kernels.propagate(csr[0], csr[1], csr[2], self.div, idx[lo:cut],
                                                psp[lo:cut], acc, bits, mark, csr[3],
                                                self.prefetch_distance)
                lo = max(lo, cut)
                if pending is not None and (d, start) in late_at:
                    # The accelerator's counts, collected only now so its work overlapped
                    # the delivery above.
                    late = pending()
                    pending = None
                    check_external(late, self._n)
                    externals += late
                for ext in externals:
                    if (ext.delay, ext.src_start) == (d, start):
                        kernels.add_counts(int(ext.offset), np.asarray(ext.counts, np.int64),
                                           np.float32(ext.coef), acc, bits)
            if csr is not None and idx.size > lo:
                events += kernels.propagate(csr[0], csr[1], csr[2], self.div, idx[lo:],
                                            psp[lo:], acc, bits, mark, csr[3],
                                            self.prefetch_distance)
        if pending is not None:  # positions were given for none: still collect (and apply)
            late = pending()
            check_external(late, self._n)
            for ext in late:
                kernels.add_counts(int(ext.offset), np.asarray(ext.counts, np.int64),
                                   np.float32(ext.coef), acc, bits)
        return events

    @property
    def burst(self) -> int:
        """Index of the next burst (= bursts run since reset or since the uploaded state)."""
        return self._burst

    @property
    def history_length(self) -> int:
        """Past fired sets kept: the longest delay, at least 1."""
        return self._history_length

    def last_fired(self) -> np.ndarray:
        """Global ids (int32, ascending) of the last burst's spikes, forced ones included; a copy."""
        return self.fired_history(1)[0]

    def fired_history(self, delay: int) -> tuple[np.ndarray, np.ndarray]:
        """Spikes of burst ``burst - delay`` as ``(ids int32, psp float32)``; empty if none.

        Delays outside ``1 .. history_length`` and bursts before 0 give an
        empty set. The arrays are copies (the ring slot is reused ``history_length``
        bursts later).
        """
        if delay < 1 or delay > self._history_length or self._burst - delay < 0:
            return empty_spikes()
        slot = self._slot(delay)
        m = int(self._ring_count[slot])
        return self._ring_idx[slot, :m].copy(), self._ring_psp[slot, :m].copy()

    def estimated_ops_per_second(self) -> float:
        """Synaptic events per second of delivery, measured.

        An exponential mean (weight 0.1) over bursts with more than 100k
        events; 5e7 until the first such burst.
        """
        return float(self._events_per_s)

    def reset(self) -> None:
        """Back to rest: V, countdowns, counts and history cleared, burst 0; synapses stay."""
        self.acc[:] = 0.0
        self.bits[:] = 0
        self.fired_flag[:] = 0
        self._alloc_state()

    # -- state -----------------------------------------------------------------

    def _per_neuron(self, a_values: np.ndarray) -> np.ndarray:
        return a_values[self.area_of]

    def download_neurons(self) -> NeuronSnapshot:
        """Canonical per-neuron state as of the end of the last burst (see ``state.py``).

        Converts the lazy internal form: V of an ``mp_acc = false`` neuron not
        written in the last burst reads 0 (rule 1), ``until`` becomes a
        countdown, and a fire count whose countdown expired reads 0 (rule 4).
        """
        s = self._burst
        mp_acc = self._per_neuron(self.area_params["mp_acc"])
        written_last = self.v_burst.astype(np.int64) + self._epoch == s - 1
        kept = self.v_kept.astype(bool)
        v = np.where(mp_acc | written_last | kept, self.v, np.float32(0.0)).astype(POTENTIAL_DTYPE)
        countdown = np.maximum(self.until.astype(np.int64) + self._epoch - s + 1, 0)
        countdown = countdown.astype(np.int32)
        cfc = self._per_neuron(self.area_params["cfc"])
        # The fire that reached the limit set a countdown of refractory + snooze.
        blocked_for = (self._per_neuron(self.area_params["refractory"])
                       + self._per_neuron(self.area_params["snooze"]))
        expired = (cfc > 0) & (self.count >= cfc) & (blocked_for >= 1)
        expired &= countdown == 0
        counts = np.where(expired, 0, self.count).astype(np.int32)
        return NeuronSnapshot(v, countdown, counts, s)

    def download_state(self) -> EngineState:
        """Full canonical state (neurons and fired history, copied), for checkpoints."""
        snap = self.download_neurons()
        hist = [self.fired_history(d) for d in range(1, self._history_length + 1)]
        return EngineState(
            potentials=snap.potentials,
            refractory_countdown=snap.refractory_countdown,
            fire_counts=snap.fire_counts,
            burst=self._burst,
            history=[(i.copy(), p.copy()) for i, p in hist],
            kept_potential=self.v_kept.astype(bool),
            # Between bursts only a slowed area's carried input is left in acc and the bitset.
            carried_input=self.acc.copy(),
            carried_mask=np.unpackbits(self.bits.view(np.uint8), bitorder="little")[:self._n]
            .astype(bool),
        )

    def upload_state(self, state: EngineState) -> None:
        """Replace the dynamic state with ``state`` (inverse of :meth:`download_state`).

        Raises ``ValueError`` when ``state`` does not fit this brain
        (``EngineState.validate``) or holds a refractory countdown of
        ``_REBASE_BY`` or more.
        """
        state.validate(self._n, self._history_length)
        s = int(state.burst)
        c = np.asarray(state.refractory_countdown, dtype=np.int64)
        if c.size and c.max() >= self._REBASE_BY:
            raise ValueError("refractory countdown out of range")
        self._epoch = s
        self.v = np.asarray(state.potentials, dtype=POTENTIAL_DTYPE).copy()
        # V given is V as of burst s-1, which is what v_burst == s-1 means.
        self.v_burst = np.full(self._n, -1, dtype=np.int32)
        # Last blocked burst s-1+c, relative to the epoch s.
        self.until = np.where(c > 0, c - 1, -1).astype(np.int32)
        self.count = np.asarray(state.fire_counts, dtype=np.int32).copy()
        self.v_kept = (np.zeros(self._n, np.uint8) if state.kept_potential is None
                       else np.asarray(state.kept_potential, bool).astype(np.uint8))
        self._burst = s
        self._alloc_history()
        for d, (i, p) in enumerate(state.history[:self._history_length], start=1):
            slot = self._slot(d)
            ids = np.asarray(i, INDEX_DTYPE)
            self._ring_idx[slot, :ids.size] = ids
            self._ring_psp[slot, :ids.size] = np.asarray(p, POTENTIAL_DTYPE)
            self._ring_count[slot] = ids.size
        self.acc[:] = 0.0
        self.bits[:] = 0
        self.fired_flag[:] = 0
        if state.carried_mask is not None and state.carried_input is not None:
            mask = np.asarray(state.carried_mask, bool)
            self.acc[mask] = np.asarray(state.carried_input, POTENTIAL_DTYPE)[mask]
            packed = np.packbits(np.concatenate([mask, np.zeros(self.bits.size * 64 - self._n,
                                                                bool)]), bitorder="little")
            self.bits[:] = packed.view(np.uint64)
