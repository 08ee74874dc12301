"""The NumPy reference against a literal, neuron-by-neuron transcription of DESIGN §4.

The reference is the oracle the Numba kernels are checked against, so it is
itself checked here against the slowest possible reading of the rules: plain
Python loops over neurons and synapses, eager countdown ticks, an explicit
sweep for rule 1. Any vectorisation slip in the reference shows up as a
difference.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Drive, area, brain, connectomes, proj

from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.reference import ReferenceBackend, excitability_draws

F32 = np.float32


class Recorder:
    """Collects what ``Drive`` would inject / force, as global neuron ids."""

    def __init__(self, c: Connectome):
        self.c = c
        self.inj: list[tuple[int, float]] = []
        self.ranges: list[tuple[int, int, float]] = []  # whole-area injections
        self.force: list[int] = []

    def inject(self, a, *, indices=None, potentials):
        spec = self.c.areas[a]
        if indices is None and np.ndim(potentials) == 0:
            self.ranges.append((spec.first_neuron, spec.first_neuron + spec.neuron_count,
                                float(potentials)))
            return
        idx = np.arange(spec.neuron_count) if indices is None else np.asarray(indices)
        pot = np.broadcast_to(np.asarray(potentials, float), idx.shape)
        self.inj += [(spec.first_neuron + int(i), float(v)) for i, v in zip(idx, pot, strict=True)]

    def force_fire(self, a, *, indices):
        self.force += [self.c.areas[a].first_neuron + int(i) for i in indices]


class Literal:
    """DESIGN §4, one neuron at a time."""

    def __init__(self, c: Connectome, inhibition: str, seed: int):
        self.c, self.inhibition, self.seed = c, inhibition, seed
        n = c.neuron_count
        self.V = [F32(0)] * n
        self.countdown = [0] * n
        self.count = [0] * n
        self.reset_next: set[int] = set()
        self.fired: dict[int, dict[int, float]] = {}  # burst -> {neuron: psp}
        self.p = [None] * n  # area params per neuron
        for a in c.areas:
            for k in range(a.neuron_count):
                self.p[a.first_neuron + k] = (a, k)
        self.syn = []  # (global pre, global post, signed weight, delay)
        outdeg = [0] * n
        for pr in c.projections:
            s, d = c.areas[pr.src_area], c.areas[pr.dst_area]
            for k in range(pr.synapse_count):
                w = pr.weight if pr.weights is None else pr.weights[k]
                j = s.first_neuron + int(pr.pre[k])
                self.syn.append((j, d.first_neuron + int(pr.post[k]), float(F32(w)), pr.delay))
                outdeg[j] += 1
        self.outdeg = outdeg
        # The canonical order of rule 2: delay, then source neuron, then connectome order.
        self.syn.sort(key=lambda s_: (s_[3], s_[0]))

    def theta(self, i):
        a, k = self.p[i]
        _, dy, dz = a.dims
        vox = k // a.neurons_per_voxel
        x, y, z = vox // (dy * dz), (vox // dz) % dy, vox % dz
        fx, fy, fz = a.threshold_increment
        return F32(a.fire_threshold + x * fx + y * fy + z * fz)

    def spike_psp(self, i, v):
        a, _ = self.p[i]
        return float(v) if a.mp_psp else float(F32(a.psp))  # raw V (recording min_mppsp)

    # float32 overflow to inf/NaN is the rule being modelled (as in reference.process_burst).
    @np.errstate(over="ignore", invalid="ignore")
    def burst(self, t, inj, force, ranges=()):
        n = self.c.neuron_count
        for i in range(n):  # rule 1, as DESIGN §4.7 refines it: only after input and no fire
            if not self.p[i][0].mp_acc and i in self.reset_next:
                self.V[i] = F32(0)
        total = [F32(0)] * n  # rule 2: one float32 addition per contribution, in order
        cand = [False] * n
        for i, v in inj:
            total[i] = F32(total[i] + F32(v))
            cand[i] = True
        for j, i, w, d in self.syn:
            if j in self.fired.get(t - d, {}):
                a = self.p[j][0]
                div = 1.0 if a.psp_uniform else float(self.outdeg[j])
                total[i] = F32(total[i] + F32(w * self.fired[t - d][j] / div))
                cand[i] = True
        for i in range(n):  # whole-area injections come last, summed in float32 in call order
            cover = [v for lo, hi, v in ranges if lo <= i < hi]
            if cover:
                block = F32(0)
                for v in cover:
                    block = F32(block + F32(v))
                total[i] = F32(total[i] + block)
                cand[i] = True
        force = set(force)
        if self.c.power_area is not None:
            pa = self.c.areas[self.c.power_area]
            force |= set(range(pa.first_neuron, pa.first_neuron + pa.neuron_count))
        ticking = [self.countdown[i] > 0 and i not in force for i in range(n)]
        out: dict[int, float] = {}
        for i in range(n):  # rule 3
            if not cand[i] or self.countdown[i] > 0:
                continue
            a = self.p[i][0]
            inp = F32(total[i])
            if self.inhibition == "subtractive":
                v = max(F32(self.V[i] + inp), F32(0))
            else:
                v = F32(self.V[i] + (inp if inp > 0 else F32(0)))  # NaN counts as 0
            limit = math.inf if a.threshold_limit <= 0 else a.threshold_limit
            draw = excitability_draws(self.seed, np.array([i]), t)[0]
            # Rule 3: above threshold and the draw passes; then the fire limit decides.
            if self.theta(i) <= v <= F32(limit) and (a.excitability >= 0.999
                                                     or draw < a.excitability):
                if a.consecutive_fire_limit > 0 and self.count[i] >= a.consecutive_fire_limit:
                    self.count[i] = 0
                    self.V[i] = v
                    continue
                out[i] = self.spike_psp(i, v)
                self.V[i] = F32(0)
                self.countdown[i] = a.refractory
                if a.consecutive_fire_limit > 0 and self.count[i] + 1 >= a.consecutive_fire_limit:
                    self.countdown[i] += a.snooze  # recording min_snooze
                self.count[i] = min(self.count[i] + 1, 2**31 - 1)
                continue
            if a.leak_linear:  # V moves `leak` towards 0 and stops there
                lk = F32(a.leak)
                self.V[i] = F32(v - lk) if v > lk else F32(v + lk) if v < -lk else F32(0)
            else:
                self.V[i] = F32(v * F32(1.0 - a.leak))
            if a.consecutive_fire_limit > 0:
                self.count[i] = 0
        for i in range(n):  # rule 4
            if ticking[i]:
                self.countdown[i] -= 1
                cfc = self.p[i][0].consecutive_fire_limit
                if self.countdown[i] == 0 and cfc > 0 and self.count[i] >= cfc:
                    self.count[i] = 0
        for i in force:  # rule 6: a forced mp_psp neuron sends 100 (recording min_mpforce)
            if i not in out:
                out[i] = 100.0 if self.p[i][0].mp_psp else float(F32(self.p[i][0].psp))
        self.fired[t] = out
        # A forced fire counts as a fire: its V is not reset before the next burst (§4.7).
        self.reset_next = {i for i in range(n) if cand[i] and i not in out}
        return sorted(out)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    connectome=connectomes(max_areas=3, max_projections=5),
    drive_seed=st.integers(0, 2**31),
    inhibition=st.sampled_from(["clamped", "subtractive"]),
    seed=st.integers(0, 2**20),
)
def test_reference_matches_literal_rules(connectome, drive_seed, inhibition, seed):
    ref = Engine(connectome, "reference", inhibition=inhibition, seed=seed)
    lit = Literal(connectome, inhibition, seed)
    drive = Drive(drive_seed)
    for t in range(60):
        rec = Recorder(connectome)
        drive.apply([rec], connectome)
        # The same inputs go through the public Engine API, one neuron at a time.
        for gi, v in rec.inj:
            a = next(a for a in connectome.areas if a.first_neuron <= gi < a.first_neuron
                     + a.neuron_count)  # fmt: skip
            ref.inject(a.index, indices=[gi - a.first_neuron], potentials=v)
        for lo, _, v in rec.ranges:  # whole-area injections stay whole-area (ranges)
            ref.inject(next(a.index for a in connectome.areas if a.first_neuron == lo
                            and a.neuron_count), potentials=v)
        for gi in rec.force:
            a = next(a for a in connectome.areas if a.first_neuron <= gi < a.first_neuron
                     + a.neuron_count)  # fmt: skip
            ref.force_fire(a.index, indices=[gi - a.first_neuron])
        ref.step()
        want = lit.burst(t, rec.inj, rec.force, rec.ranges)
        assert ref.fired_global().tolist() == want, t
        s = ref.neuron_state()
        # Bit for bit, NaN included (a NaN potential equals a NaN: list equality would not).
        np.testing.assert_array_equal(s.potentials, np.array([float(v) for v in lit.V],
                                                             np.float32), err_msg=str(t))
        assert s.refractory_countdown.tolist() == lit.countdown, t
        assert s.fire_counts.tolist() == lit.count, t


def test_reference_keeps_only_needed_history():
    c = brain([area(threshold=1.0), area()], [proj(0, 0, 1, [0], [0], delay=4)])
    e = Engine(c, "reference")
    for _ in range(10):
        e.inject(0, potentials=1.0)
        e.step()
    assert isinstance(e.backend, ReferenceBackend)
    assert sorted(e.backend.spikes) == [6, 7, 8, 9]
    assert e.backend.fired_history(4)[0].tolist() == [0]
    assert e.backend.fired_history(5)[0].size == 0


def test_reference_state_round_trip():
    c = brain([area(dims=(3, 1, 1), threshold=2.0, refractory=2, cfc=1)],
              [proj(0, 0, 0, [0, 1, 2], [1, 2, 0], delay=2)])  # fmt: skip
    e = Engine(c, "reference")
    for _ in range(7):
        e.inject(0, indices=[0, 1], potentials=[2.0, 1.0])
        e.step()
    state = e.backend.download_state()
    f = Engine(c, "reference")
    f.backend.upload_state(state)
    back = f.backend.download_state()
    assert back.burst == state.burst
    for a, b in zip(back.history, state.history, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(back.potentials, state.potentials)
    np.testing.assert_array_equal(back.refractory_countdown, state.refractory_countdown)
