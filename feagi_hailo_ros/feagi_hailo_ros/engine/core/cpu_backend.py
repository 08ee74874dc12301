"""The CPU backend: the Numba kernels of ``kernels.py`` behind the Backend protocol.

Single-threaded by default: on the 2-core robots the other core runs ROS
and the accelerator's I/O, and the kernels are ``nogil`` so a host thread
can overlap them with an integrator waiting on PCIe. ``threads > 1`` splits
the neuron dynamics (the dense half of a burst) over that many Numba
threads; synaptic delivery stays serial (its writes scatter).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Collection

import numba
import numpy as np

from . import kernels
from .backend import (
    ALL_FEATURES,
    Backend,
    BurstInput,
    check_burst_input,
    check_external,
    projection_signed_weight,
    psp_divisor,
)
from .connectome import POTENTIAL_DTYPE, AreaSpec, Connectome
from .state import INDEX_DTYPE, EngineState, NeuronSnapshot, empty_spikes


def area_threshold_limit(area: AreaSpec) -> float:
    """Upper firing bound; ``inf`` when unset (FEAGI's ``fthlim = 0`` also means none)."""
    lim = float(area.threshold_limit)
    return np.inf if lim <= 0 else lim


def neuron_thresholds(area: AreaSpec) -> np.ndarray:
    """Per-neuron θ of one area, float32, rounded once from a float64 sum."""
    xyz = area.voxel_of(np.arange(area.neuron_count, dtype=np.int64)).astype(np.float64)
    fx, fy, fz = (float(c) for c in area.threshold_increment)
    # Spelled out left to right (no matmul, which may fuse multiply-adds) so
    # every backend rounds the same way.
    theta = float(area.fire_threshold) + xyz[:, 0] * fx + xyz[:, 1] * fy + xyz[:, 2] * fz
    return theta.astype(POTENTIAL_DTYPE)


class CpuBackend(Backend):
    """Event-driven Numba burst engine (see ``kernels.py`` for the semantics)."""

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
        #: (delay, indptr, syn, syn as float32, any source divides its PSP)
        self._csr: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, bool]] = []
        self._history_length = 1
        self._epoch = 0
        self._history: deque[tuple[np.ndarray, np.ndarray]] = deque()
        self._last = empty_spikes()[0]
        self._events_per_s = 5e7  # until measured
        self.prefetch_distance = kernels.PREFETCH_DISTANCE

    # -- upload ----------------------------------------------------------------

    def upload_neurons(self, connectome: Connectome) -> None:
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
        self.a_theta_var = np.array([any(c != 0 for c in a.threshold_increment) for a in areas],
                                    np.bool_)  # fmt: skip
        for a, area in enumerate(areas):
            self.area_of[area.neuron_slice] = a
            if self.a_theta_var[a]:
                self.theta[area.neuron_slice] = neuron_thresholds(area)
        self.a_theta = np.array([float(a.fire_threshold) for a in areas], np.float64).astype(
            POTENTIAL_DTYPE
        )
        self.a_theta_max = np.array([area_threshold_limit(a) for a in areas], POTENTIAL_DTYPE)
        self.a_keep = np.array([1.0 - float(a.leak) for a in areas], np.float64).astype(
            POTENTIAL_DTYPE
        )
        self.a_refr = np.array([int(a.refractory) for a in areas], np.int64)
        self.a_cfc = np.array([int(a.consecutive_fire_limit) for a in areas], np.int32)
        self.a_excit = np.array([float(a.excitability) for a in areas], np.float64)
        self.a_always = self.a_excit >= 0.999
        self.a_mp_acc = np.array([bool(a.mp_acc) for a in areas], np.bool_)
        self.a_mp_psp = np.array([bool(a.mp_psp) for a in areas], np.bool_)
        self.a_psp = np.array([int(a.psp) for a in areas], np.float64).astype(POTENTIAL_DTYPE)
        # Scratch, cleared by the kernels as they go.
        self.acc = np.zeros(n, dtype=np.float64)
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
        self._burst = 0
        self._history = deque(
            (empty_spikes() for _ in range(self._history_length)), maxlen=self._history_length
        )
        self._last = empty_spikes()[0]

    def upload_synapses(self, connectome: Connectome, exclude: Collection[int] = ()) -> None:
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
        for d in sorted(by_delay):
            pre, post, sw = [], [], []
            for p in by_delay[d]:
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
            ptr_dtype = np.int32 if pre_a.size < 2**31 else np.int64
            indptr = np.zeros(self._n + 1, dtype=ptr_dtype)
            syn = np.empty((pre_a.size, 2), dtype=np.int32)
            kernels.build_csr(pre_a, post_a, sw_a, indptr, syn)
            divided = any(
                not connectome.areas[connectome.projections[p].src_area].psp_uniform
                for p in by_delay[d]
            )
            del pre_a, post_a, sw_a
            self._csr.append((d, indptr, syn, syn.view(np.float32), divided))
        # At least one burst of history: it is also the last fired set, which
        # checkpoints carry.
        self._history_length = max(max_delay, 1)
        self._alloc_state()

    # -- running ---------------------------------------------------------------

    #: Below this size threads cost more than they save (tests lower it).
    parallel_min_neurons = 50_000

    #: Relative burst stamps are moved back by _REBASE_BY once they reach
    #: _REBASE_AT, far below int32 overflow (tests lower both).
    _REBASE_AT = 2**30
    _REBASE_BY = 2**29

    def process_burst(self, inp: BurstInput) -> int:
        t0 = time.perf_counter()
        check_burst_input(inp, self._n)
        if self._burst - self._epoch >= self._REBASE_AT:
            kernels.rebase(self.until, self._REBASE_BY, -1)  # older: not refractory
            kernels.rebase(self.v_burst, self._REBASE_BY, -2)  # older: stale
            self._epoch += self._REBASE_BY
        t_rel = np.int64(self._burst - self._epoch)
        acc, bits = self.acc, self.bits
        ranges = np.asarray(inp.inject_ranges, dtype=np.int64).reshape(-1, 2)
        range_values = np.asarray(inp.inject_range_values, np.float64)
        if ranges.shape[0] > 1:
            order = np.argsort(ranges[:, 0], kind="stable")
            ranges, range_values = ranges[order], range_values[order]
            if np.any(ranges[1:, 0] < ranges[:-1, 1]):
                raise ValueError("inject_ranges must be disjoint")
        starts = np.ascontiguousarray(ranges[:, 0])
        stops = np.ascontiguousarray(ranges[:, 1])
        if starts.size:
            kernels.mark_ranges(starts, stops, bits)
        # When dense ranges cover every neuron all are candidates anyway, and
        # synaptic events need not touch the bitset.
        mark = int((stops - starts).sum()) < self._n
        if len(inp.inject_index):
            kernels.add_injections(
                np.asarray(inp.inject_index, np.int64), np.asarray(inp.inject_value, np.float64),
                acc, bits,
            )  # fmt: skip
        for ext in inp.external:
            kernels.add_external(
                int(ext.offset), np.asarray(ext.values, np.float64),
                np.asarray(ext.mask, np.bool_), acc, bits,
            )  # fmt: skip
        t1 = time.perf_counter()
        events = 0
        for d, indptr, syn, synf, divided in self._csr:
            idx, psp = self.fired_history(d)
            if idx.size:
                events += kernels.propagate(
                    indptr, syn, synf, self.div, idx, psp, acc, bits, mark, divided,
                    self.prefetch_distance,
                )
        if inp.late_external is not None:
            # The accelerator's counts, collected only now so its work overlapped the
            # propagation above.
            late = inp.late_external()
            check_external(late, self._n)
            for ext in late:
                kernels.add_external(
                    int(ext.offset), np.asarray(ext.values, np.float64),
                    np.asarray(ext.mask, np.bool_), acc, bits,
                )  # fmt: skip
        t2 = time.perf_counter()
        args = (
            t_rel, np.int64(self._burst), starts, stops, range_values, bits, acc,
            self.v, self.v_burst, self.until, self.count, self.theta, self.area_of,
            self.a_theta, self.a_theta_var, self.a_theta_max, self.a_keep, self.a_refr,
            self.a_cfc, self.a_excit, self.a_always, self.a_mp_acc, self.a_mp_psp, self.a_psp,
            self._seed_u64, self.inhibition == "subtractive",
            np.asarray(inp.force_index, np.int64), self.fired_flag, self.out_idx, self.out_psp,
        )  # fmt: skip
        if self.threads > 1 and self._n >= self.parallel_min_neurons:
            numba.set_num_threads(self.threads)
            n_fired = kernels.dynamics_parallel(*args, self.threads)
        else:
            n_fired = kernels.dynamics(*args)
        fired = self.out_idx[:n_fired].copy()
        self._history.appendleft((fired, self.out_psp[:n_fired].copy()))
        self._last = fired
        self._burst += 1
        t3 = time.perf_counter()
        self.last_timing = {"input": t1 - t0, "propagate": t2 - t1, "dynamics": t3 - t2}
        self.last_events = events
        if events > 100_000 and t2 > t1:
            self._events_per_s = 0.9 * self._events_per_s + 0.1 * events / (t2 - t1)
        return int(n_fired)

    @property
    def burst(self) -> int:
        return self._burst

    @property
    def history_length(self) -> int:
        return self._history_length

    def last_fired(self) -> np.ndarray:
        return self._last

    def fired_history(self, delay: int) -> tuple[np.ndarray, np.ndarray]:
        if delay < 1 or delay > self._history_length or self._burst - delay < 0:
            return empty_spikes()
        return self._history[delay - 1]

    def estimated_ops_per_second(self) -> float:
        return float(self._events_per_s)

    def reset(self) -> None:
        self.acc[:] = 0.0
        self.bits[:] = 0
        self.fired_flag[:] = 0
        self._alloc_state()

    # -- state -----------------------------------------------------------------

    def _per_neuron(self, a_values: np.ndarray) -> np.ndarray:
        return a_values[self.area_of]

    def download_neurons(self) -> NeuronSnapshot:
        s = self._burst
        mp_acc = self._per_neuron(self.a_mp_acc)
        written_last = self.v_burst.astype(np.int64) + self._epoch == s - 1
        v = np.where(mp_acc | written_last, self.v, np.float32(0.0)).astype(POTENTIAL_DTYPE)
        countdown = np.maximum(self.until.astype(np.int64) + self._epoch - s + 1, 0)
        countdown = countdown.astype(np.int32)
        cfc = self._per_neuron(self.a_cfc)
        expired = (cfc > 0) & (self.count >= cfc) & (self._per_neuron(self.a_refr) >= 1)
        expired &= countdown == 0
        counts = np.where(expired, 0, self.count).astype(np.int32)
        return NeuronSnapshot(v, countdown, counts, s)

    def download_state(self) -> EngineState:
        snap = self.download_neurons()
        hist = [self.fired_history(d) for d in range(1, self._history_length + 1)]
        return EngineState(
            potentials=snap.potentials,
            refractory_countdown=snap.refractory_countdown,
            fire_counts=snap.fire_counts,
            burst=self._burst,
            history=[(i.copy(), p.copy()) for i, p in hist],
        )

    def upload_state(self, state: EngineState) -> None:
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
        self._burst = s
        self._history = deque(
            ((np.asarray(i, INDEX_DTYPE).copy(), np.asarray(p, POTENTIAL_DTYPE).copy())
             for i, p in state.history),
            maxlen=self._history_length,
        )  # fmt: skip
        self._last = self._history[0][0]
        self.acc[:] = 0.0
        self.bits[:] = 0
        self.fired_flag[:] = 0
