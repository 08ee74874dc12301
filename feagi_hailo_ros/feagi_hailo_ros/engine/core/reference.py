"""Plain NumPy reference of DESIGN §4: slow, dense, written straight from the rules.

It shares no code with the Numba kernels beyond the numeric definitions
stated in ``backend.py`` and the hash constants, and it models time the
obvious way: explicit refractory countdowns decremented every burst, V of
``mp_acc = false`` neurons cleared at the start of every burst, the whole
fired set of every past burst kept as a dense mask. Every burst is O(N + S).
Its job is to be obviously right; ``kernels.py`` lists the rule decisions
both implement.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from .backend import (
    ALL_FEATURES,
    Backend,
    BurstInput,
    check_burst_input,
    csr_slots,
    forced_psp,
    projection_signed_weight,
)
from .connectome import POTENTIAL_DTYPE, Connectome
from .state import INDEX_DTYPE, EngineState, NeuronSnapshot

_MASK64 = (1 << 64) - 1
_K_ID = 0x9E3779B97F4A7C15
_K_BURST = 0xD1B54A32D192ED03
_K_SEED = 0x94D049BB133111EB
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_COUNT_MAX = 2**31 - 1


def excitability_draws(seed: int, neurons: np.ndarray, burst: int) -> np.ndarray:
    """Uniform [0, 1) per neuron for this burst: SplitMix64 of id*K1 + burst*K2 + seed*K3."""
    # Array arithmetic on uint64 wraps modulo 2**64, which is the definition.
    offset = np.uint64((burst * _K_BURST + seed * _K_SEED) & _MASK64)
    z = np.asarray(neurons, dtype=np.uint64) * np.uint64(_K_ID) + offset
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / 16777216.0


def _psp_of(v: np.ndarray, mp_psp: np.ndarray, psp: np.ndarray) -> np.ndarray:
    # mp_psp: the raw potential at firing (recording min_mppsp).
    return np.where(mp_psp, v, psp).astype(POTENTIAL_DTYPE)


class ReferenceBackend(Backend):
    """Dense NumPy burst engine used as the oracle in tests."""

    name = "reference"
    features = ALL_FEATURES

    def upload_neurons(self, connectome: Connectome) -> None:
        n = connectome.neuron_count
        self.n = n
        f64 = np.float64
        self.theta = np.zeros(n, POTENTIAL_DTYPE)
        self.theta_max = np.zeros(n, POTENTIAL_DTYPE)
        self.keep = np.zeros(n, POTENTIAL_DTYPE)
        self.refr = np.zeros(n, np.int64)
        self.snooze = np.zeros(n, np.int64)
        self.leak = np.zeros(n, POTENTIAL_DTYPE)
        self.linear = np.zeros(n, bool)
        self.cfc = np.zeros(n, np.int64)
        self.excit = np.zeros(n, f64)
        self.mp_acc = np.zeros(n, bool)
        self.mp_psp = np.zeros(n, bool)
        self.psp = np.zeros(n, POTENTIAL_DTYPE)
        for area in connectome.areas:
            sl = area.neuron_slice
            # Neuron k of the area sits in voxel k // npv, numbered x-major, z innermost.
            vox = np.arange(area.neuron_count) // area.neurons_per_voxel
            _, dy, dz = area.dims
            x, y, z = vox // (dy * dz), (vox // dz) % dy, vox % dz
            fx, fy, fz = (float(c) for c in area.threshold_increment)
            self.theta[sl] = (float(area.fire_threshold) + x * fx + y * fy + z * fz).astype(
                POTENTIAL_DTYPE
            )
            lim = float(area.threshold_limit)
            self.theta_max[sl] = np.inf if lim <= 0 else lim
            self.keep[sl] = np.float32(1.0 - float(area.leak))
            self.refr[sl] = area.refractory
            self.snooze[sl] = area.snooze
            self.leak[sl] = np.float32(area.leak)
            self.linear[sl] = area.leak_linear
            self.cfc[sl] = area.consecutive_fire_limit
            self.excit[sl] = area.excitability
            self.mp_acc[sl] = area.mp_acc
            self.mp_psp[sl] = area.mp_psp
            self.psp[sl] = area.psp
        self.always = self.excit >= 0.999
        self.area_of = np.zeros(n, np.int64)
        for area in connectome.areas:
            self.area_of[area.neuron_slice] = area.index
        self._base_refr, self._base_snooze = self.refr.copy(), self.snooze.copy()
        self._dividers: dict[int, int] = {}
        #: delay -> (pre, post, signed weight) of every synapse with that delay, in the canonical
        #: order of DESIGN §4 rule 2: by source id, then connectome order.
        self.by_delay: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.max_delay = 1
        self.reset()

    def upload_synapses(self, connectome: Connectome, exclude: Collection[int] = ()) -> None:
        deg = np.zeros(self.n, np.int64)
        parts: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        members: dict[int, list[int]] = {}
        self.max_delay = 1
        excluded = set(exclude)
        for p, proj in enumerate(connectome.projections):
            src = connectome.areas[proj.src_area]
            dst = connectome.areas[proj.dst_area]
            pre = np.asarray(proj.pre, np.int64) + src.first_neuron
            post = np.asarray(proj.post, np.int64) + dst.first_neuron
            np.add.at(deg, pre, 1)
            self.max_delay = max(self.max_delay, int(proj.delay))
            if p in excluded:
                continue
            if proj.weights is None:
                w = np.full(pre.size, projection_signed_weight(proj), np.float32)
            else:
                w = np.asarray(proj.weights, np.float32)
            parts.setdefault(int(proj.delay), []).append((pre, post, w))
            members.setdefault(int(proj.delay), []).append(p)
        self.by_delay = {}
        self._plastic_slots: dict[int, tuple[int, np.ndarray]] = {}
        for d, ps in parts.items():
            pre, post, w = (np.concatenate([p[k] for p in ps]) for k in range(3))
            order = np.argsort(pre, kind="stable")  # by source; connectome order within one
            self.by_delay[d] = (pre[order], post[order], w[order])
            slots = csr_slots(pre)
            start = 0
            for p, part in zip(members[d], ps, strict=True):
                if connectome.projections[p].plasticity is not None:
                    self._plastic_slots[p] = (d, slots[start:start + part[0].size])
                start += part[0].size
        uniform = np.ones(self.n, bool)
        for area in connectome.areas:
            uniform[area.neuron_slice] = area.psp_uniform
        self.div = np.where(uniform, 1.0, np.maximum(deg, 1).astype(np.float64))
        self.reset()

    def set_projection_weights(self, projection: int, signed_weights: np.ndarray) -> None:
        """Write a plastic projection's weights into the sorted synapse table (see ``Backend``)."""
        d, slots = self._plastic_slots[projection]
        w = np.asarray(signed_weights, np.float32)
        if w.shape != slots.shape:
            raise ValueError(f"projection {projection}: {w.size} weights for {slots.size} synapses")
        self.by_delay[d][2][slots] = w

    def set_rate_dividers(self, dividers: Mapping[int, int]) -> None:
        """Slowed areas (``Backend.set_rate_dividers``): refractory periods and snoozes scaled."""
        self._dividers = {int(a): int(k) for a, k in dividers.items() if int(k) > 1}
        self.refr, self.snooze = self._base_refr.copy(), self._base_snooze.copy()
        for a, k in self._dividers.items():
            self.refr[self.area_of == a] *= k
            self.snooze[self.area_of == a] *= k

    def reset(self) -> None:
        self.carry = np.zeros(self.n, np.float32)
        self.carried = np.zeros(self.n, bool)
        self.v = np.zeros(self.n, POTENTIAL_DTYPE)
        self.countdown = np.zeros(self.n, np.int64)
        self.count = np.zeros(self.n, np.int64)
        self.kept = np.zeros(self.n, bool)
        self._burst = 0
        #: burst index -> (fired mask, psp per neuron)
        self.spikes: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def estimated_ops_per_second(self) -> float:
        return 1e6

    @property
    def burst(self) -> int:
        return self._burst

    @property
    def history_length(self) -> int:
        return self.max_delay

    def process_burst(self, inp: BurstInput) -> int:
        # float32 sums overflow to ±inf, and inf - inf or inf * 0 give NaN, as in the compiled
        # kernels (IEEE 754, the same operations): that is the rule, not an accident, so
        # NumPy's overflow/invalid warnings are silenced here only.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._process_burst(inp)

    def _process_burst(self, inp: BurstInput) -> int:
        check_burst_input(inp, self.n)
        t = self._burst
        n = self.n
        # Rule 1: no charge accumulation -> start the burst from zero.
        v = self.v.copy()
        # ... except after an input followed by a forced fire, which FEAGI counts as a fire
        # (DESIGN §4.7, last item; recording stdp).
        v[~self.mp_acc & ~self.kept] = 0
        # Rule 2: inputs, summed one by one in float32 in the canonical order (kernels.py).
        # A slowed area's input carried from the bursts since its last update comes first.
        total = np.where(self.carried, self.carry, np.float32(0)).astype(np.float32)
        cand = self.carried.copy()
        inj = np.asarray(inp.inject_index, np.int64)
        # np.add.at is unbuffered: it adds element by element in the order given.
        np.add.at(total, inj, np.asarray(inp.inject_value, np.float64).astype(np.float32))
        cand[inj] = True
        externals = list(inp.external)
        if inp.late_external is not None:
            externals += inp.late_external()
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
        for d in sorted(set(self.by_delay) | {e.delay for e in externals}):
            if t - d in self.spikes:
                fired, psp = self.spikes[t - d]
            else:
                fired, psp = np.zeros(n, bool), np.zeros(n, POTENTIAL_DTYPE)
            pre, post, w = self.by_delay.get(d, empty)
            on = fired[pre]
            pre, post, w = pre[on], post[on], w[on]
            c = (w.astype(np.float64) * psp[pre] / self.div[pre]).astype(np.float32)
            # An integrator's counts go in at their source area's position (DESIGN §5).
            for ext in sorted((e for e in externals if e.delay == d), key=lambda e: e.src_start):
                cut = int(np.searchsorted(pre, ext.src_start))
                counts = np.asarray(ext.counts, np.int64)
                targets = np.repeat(np.arange(counts.size) + ext.offset, counts)
                post = np.concatenate([post[:cut], targets, post[cut:]])
                c = np.concatenate([c[:cut], np.full(targets.size, ext.coef, np.float32), c[cut:]])
                pre = np.concatenate([pre[:cut], np.full(targets.size, ext.src_start), pre[cut:]])
            np.add.at(total, post, c)
            cand[post] = True
        for (start, stop), value in zip(
            np.asarray(inp.inject_ranges).reshape(-1, 2), inp.inject_range_values, strict=True
        ):
            total[start:stop] = (total[start:stop] + np.float32(value)).astype(np.float32)
            cand[start:stop] = True
        forced = np.zeros(n, bool)
        forced[np.asarray(inp.force_index, np.int64)] = True
        # Slowed areas between updates: carry the input on, process nothing.
        holding = np.zeros(n, bool)
        for a, k in self._dividers.items():
            if t % k != k - 1:
                holding |= self.area_of == a
        self.carried = cand & holding
        self.carry = np.where(self.carried, total, np.float32(0)).astype(np.float32)
        # Rule 3: candidates outside refractory.
        ticking = (self.countdown > 0) & ~forced
        proc = cand & ~holding & (self.countdown == 0)
        inp32 = total
        if self.inhibition == "subtractive":
            vn = np.maximum(v + inp32, np.float32(0))
        else:
            # NaN input counts as 0, like FEAGI's f32::max (and the kernel's `> 0` test).
            vn = v + np.fmax(inp32, np.float32(0))
        above = proc & (vn >= self.theta) & (vn <= self.theta_max)
        # Rule 3: above threshold and the excitability draw passes, then the fire limit.
        draw = excitability_draws(self.seed, np.arange(n), t)
        passes = above & (self.always | (draw < self.excit))
        blocked = passes & (self.cfc > 0) & (self.count >= self.cfc)
        fire = passes & ~blocked
        rest = proc & ~fire & ~blocked
        psp_out = np.zeros(n, POTENTIAL_DTYPE)
        psp_out[fire] = _psp_of(vn[fire], self.mp_psp[fire], self.psp[fire])
        v[proc] = vn[proc]
        v[fire] = 0
        self.countdown[fire] = self.refr[fire]
        # Snooze: the fire that reaches the limit blocks r + s bursts (recording min_snooze).
        limit_hit = fire & (self.cfc > 0) & (self.count + 1 >= self.cfc)
        self.countdown[limit_hit] += self.snooze[limit_hit]
        self.count[fire] = np.minimum(self.count[fire] + 1, _COUNT_MAX)
        self.count[blocked] = 0
        v[rest] = vn[rest] * self.keep[rest]
        # legacy_leak="linear": V moves `leak` towards 0 and stops there.
        lin = rest & self.linear
        v[lin] = np.where(vn[lin] > self.leak[lin], vn[lin] - self.leak[lin],
                          np.where(vn[lin] < -self.leak[lin], vn[lin] + self.leak[lin],
                                   np.float32(0))).astype(POTENTIAL_DTYPE)
        self.count[rest & (self.cfc > 0)] = 0
        # Rule 4: countdowns tick once per burst, input or not (not while forced).
        self.countdown[ticking] -= 1
        expired = ticking & (self.countdown == 0) & (self.cfc > 0) & (self.count >= self.cfc)
        self.count[expired] = 0
        # Rule 6: forced neurons join the fired set; their state is not touched.
        extra = forced & ~fire
        fpsp = np.zeros(n, np.float32)
        fpsp[np.asarray(inp.force_index, np.int64)] = forced_psp(inp)
        psp_out[extra] = _psp_of(fpsp[extra], self.mp_psp[extra], self.psp[extra])
        self.v = v
        self.kept[proc] = (forced & ~fire & ~self.mp_acc)[proc]
        self.spikes[t] = (fire | forced, psp_out)
        self.spikes.pop(t - self.max_delay, None)
        self._burst = t + 1
        return int((fire | forced).sum())

    def _sparse(self, burst: int) -> tuple[np.ndarray, np.ndarray]:
        if burst not in self.spikes:
            return np.zeros(0, INDEX_DTYPE), np.zeros(0, POTENTIAL_DTYPE)
        fired, psp = self.spikes[burst]
        idx = np.flatnonzero(fired)
        return idx.astype(INDEX_DTYPE), psp[idx]

    def last_fired(self) -> np.ndarray:
        return self._sparse(self._burst - 1)[0]

    def fired_history(self, delay: int) -> tuple[np.ndarray, np.ndarray]:
        return self._sparse(self._burst - delay)

    def download_neurons(self) -> NeuronSnapshot:
        return NeuronSnapshot(
            self.v.copy(),
            self.countdown.astype(np.int32),
            self.count.astype(np.int32),
            self._burst,
        )

    def download_state(self) -> EngineState:
        snap = self.download_neurons()
        return EngineState(
            potentials=snap.potentials,
            refractory_countdown=snap.refractory_countdown,
            fire_counts=snap.fire_counts,
            burst=self._burst,
            history=[self._sparse(self._burst - d) for d in range(1, self.max_delay + 1)],
            kept_potential=self.kept.copy(),
            carried_input=self.carry.copy(),
            carried_mask=self.carried.copy(),
        )

    def upload_state(self, state: EngineState) -> None:
        state.validate(self.n, self.max_delay)
        self.v = np.asarray(state.potentials, POTENTIAL_DTYPE).copy()
        self.countdown = np.asarray(state.refractory_countdown, np.int64).copy()
        self.count = np.asarray(state.fire_counts, np.int64).copy()
        self.carried = (np.zeros(self.n, bool) if state.carried_mask is None
                        else np.asarray(state.carried_mask, bool).copy())
        self.carry = np.where(self.carried, np.zeros(self.n, np.float32) if state.carried_input
                              is None else np.asarray(state.carried_input, np.float32),
                              np.float32(0)).astype(np.float32)
        self.kept = (np.zeros(self.n, bool) if state.kept_potential is None
                     else np.asarray(state.kept_potential, bool).copy())
        self._burst = int(state.burst)
        self.spikes = {}
        for k, (idx, psp) in enumerate(state.history):
            mask = np.zeros(self.n, bool)
            mask[idx] = True
            dense = np.zeros(self.n, POTENTIAL_DTYPE)
            dense[idx] = psp
            self.spikes[self._burst - 1 - k] = (mask, dense)
