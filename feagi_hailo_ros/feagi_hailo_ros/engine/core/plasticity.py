"""FEAGI's synaptic plasticity: plain STDP and ``associative_memory`` (DESIGN §4.7).

The rules are those of FEAGI's running engine (feagi-core 2.6.10, engine 0.0.67), recorded in
``test/data/genomes/feagi_ref/stdp.*`` (from ``shared/feagi_ref/plastic``), where they differ from
its source (``feagi-npu/burst-engine/src/npu.rs``, which asks for a fire in *every* burst of the
window before potentiating; the engine asks for at least one):

* After burst ``t``'s firing (forced and natural alike), each plastic projection looks at the
  window ``t - W + 1 .. t`` (``W`` = ``PlasticityRule.window``). Nothing happens before ``W``
  bursts exist.
* Plain STDP, per synapse: source and target both fired in the window -> ``w += ltp``; exactly
  one of them -> ``w = max(0, w - ltd)``; neither -> unchanged. No upper bound (the recording
  grows a weight past 255); a weight of 0 stays a synapse (its target is still a candidate).
* ``associative_memory``: when any source and any target neuron fired in the window, every
  synapse of the mapping gains ``ltp``, then every missing (fired source, fired target) pair
  becomes a synapse of weight ``ltp``; it never depresses.
* A change first affects spikes fired at ``t + 1`` (contributions are taken at firing time).

This module is plain NumPy and owns only the learned weights and the fire ledger (the last burst
each neuron fired); the engine hands the results to its backend
(:meth:`~.backend.Backend.set_projection_weights`, or a synapse rebuild when a projection grew).
Weights are magnitudes in float32 (the precision the backends compute with); the sign is the
projection's (the sign of FEAGI's multiplier).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .connectome import Connectome, Projection

#: Fire-ledger value of a neuron that never fired (far below any window).
NEVER_FIRED = np.iinfo(np.int64).min // 2


@dataclass
class LearnedSynapses:
    """One plastic projection's synapses as they are now.

    ``pre``/``post`` are area-local neuron indices (int32, one entry per synapse, the genome's
    synapses first, grown ones after in the order they were grown), ``weight`` the magnitudes
    (float32, >= 0).
    """

    pre: np.ndarray
    post: np.ndarray
    weight: np.ndarray

    def copy(self) -> LearnedSynapses:
        """A copy whose weights are copied; ``pre``/``post`` are shared: they are never written
        in place (growth makes new arrays), so sharing them is safe and saves a copy per burst."""
        return LearnedSynapses(self.pre, self.post, self.weight.copy())


@dataclass
class PlasticityUpdate:
    """What one burst's learning changed: projection indices whose weights changed, and those
    that grew synapses (a grown projection's weights are new too)."""

    changed: list[int] = field(default_factory=list)
    grown: list[int] = field(default_factory=list)


def initial_synapses(projection: Projection) -> LearnedSynapses:
    """The synapses a plastic projection starts with: the genome's, weight ``|w|`` (float32)."""
    if projection.weights is not None:
        w = np.abs(np.asarray(projection.weights, np.float32))
    else:
        w = np.full(projection.synapse_count, abs(np.float32(projection.weight)), np.float32)
    return LearnedSynapses(np.asarray(projection.pre, np.int32).copy(),
                           np.asarray(projection.post, np.int32).copy(), w)


def projection_sign(projection: Projection) -> np.float32:
    """The sign every synapse of a plastic projection carries: -1 for a negative multiplier."""
    return np.float32(-1.0 if projection.weight < 0 else 1.0)


#: Default bound on the synapses of all plastic projections together. FEAGI has none; an
#: ``associative_memory`` mapping between two large areas grows towards source x target synapses
#: (10^8 for 100x100 -> 100x100, gigabytes), so a robot needs one: about 20 bytes a synapse
#: here (CPU table, learned copy), so 10 M synapses is ~200 MB.
DEFAULT_MAX_PLASTIC_SYNAPSES = 10_000_000


class Plasticity:
    """Learning state of every plastic projection of one connectome.

    ``connectome`` is the brain as built from the genome; only projections with a
    ``plasticity`` rule take part. ``max_synapses`` bounds the synapses of all plastic
    projections together: ``associative_memory`` grows no synapse beyond it (the pairs it would
    have grown are counted in :attr:`growth_refused`; a deviation from FEAGI, which has no
    bound). Raises ``ValueError`` for a plastic projection with per-synapse weights of mixed sign
    (a plastic projection has one sign, as in FEAGI) or ``max_synapses`` < 0.
    """

    def __init__(self, connectome: Connectome,
                 max_synapses: int = DEFAULT_MAX_PLASTIC_SYNAPSES) -> None:
        if max_synapses < 0:
            raise ValueError(f"max_synapses must be >= 0, got {max_synapses}")
        self.max_synapses = int(max_synapses)
        #: Synapses associative_memory would have grown beyond ``max_synapses``, in all.
        self.growth_refused = 0
        self._connectome = connectome
        self.projections: list[int] = [p.index for p in connectome.projections
                                       if p.plasticity is not None]
        for p in self.projections:
            proj = connectome.projections[p]
            if proj.weights is not None and np.unique(np.sign(proj.weights[proj.weights != 0])).size > 1:
                raise ValueError(f"plastic projection {p} has weights of both signs")
        self._ledger = np.full(connectome.neuron_count, NEVER_FIRED, np.int64)
        self.synapses: dict[int, LearnedSynapses] = {}
        self.restore_genome_weights()

    # -- state -------------------------------------------------------------------------------

    def restore_genome_weights(self) -> None:
        """Every plastic projection back to the genome's synapses and weights."""
        self.synapses = {p: initial_synapses(self._connectome.projections[p])
                         for p in self.projections}

    def clear_ledger(self) -> None:
        """Forget every past fire (after a reset of the dynamic state)."""
        self._ledger[:] = NEVER_FIRED

    @property
    def ledger(self) -> np.ndarray:
        """Last burst each neuron fired (int64[neuron_count]; :data:`NEVER_FIRED` if never)."""
        return self._ledger

    def set_state(self, synapses: dict[int, LearnedSynapses], ledger: np.ndarray) -> None:
        """Replace the learned synapses and the fire ledger (from a checkpoint).

        Raises ``ValueError`` when the projections, the ledger size or a synapse index do not
        fit this brain; nothing is changed then.
        """
        if sorted(synapses) != self.projections:
            raise ValueError(f"learned synapses for projections {sorted(synapses)}, this brain's "
                             f"plastic projections are {self.projections}")
        ledger = np.asarray(ledger, np.int64)
        if ledger.shape != self._ledger.shape:
            raise ValueError(f"fire ledger of {ledger.size} neurons, brain has {self._ledger.size}")
        for p, s in synapses.items():
            self.check(p, s)
        self.synapses = {p: LearnedSynapses(np.asarray(s.pre, np.int32).copy(),
                                            np.asarray(s.post, np.int32).copy(),
                                            np.asarray(s.weight, np.float32).copy())
                         for p, s in synapses.items()}
        self._ledger = ledger.copy()

    def check(self, p: int, s: LearnedSynapses) -> None:
        """Raise ``ValueError`` unless ``s`` can be projection ``p``'s synapses: a plastic
        projection, equal-length 1-D arrays, indices inside its areas, at least the genome's
        synapses, finite weights >= 0 (a backend indexes with them unchecked)."""
        if p not in self.projections:
            raise ValueError(f"projection {p} is not plastic in this brain")
        proj = self._connectome.projections[p]
        n_src = self._connectome.areas[proj.src_area].neuron_count
        n_dst = self._connectome.areas[proj.dst_area].neuron_count
        if not (s.pre.shape == s.post.shape == s.weight.shape and s.pre.ndim == 1):
            raise ValueError(f"projection {p}: learned synapse arrays differ in shape")
        if s.pre.size and (s.pre.min() < 0 or s.pre.max() >= n_src
                           or s.post.min() < 0 or s.post.max() >= n_dst):
            raise ValueError(f"projection {p}: learned synapse outside its areas")
        if s.pre.size < proj.synapse_count:
            raise ValueError(f"projection {p}: fewer synapses than the genome builds")
        if not np.all(np.isfinite(s.weight)) or np.any(s.weight < 0):
            raise ValueError(f"projection {p}: learned weights must be finite and >= 0")

    def forget(self, neurons: np.ndarray) -> list[int]:
        """Delete neurons' synapses from every plastic projection and clear their fire history
        (dead memory neurons, DESIGN §4.7). ``neurons`` are global ids. Returns the projections
        that lost synapses (their structure changed)."""
        neurons = np.asarray(neurons, np.int64)
        if not neurons.size:
            return []
        self._ledger[neurons] = NEVER_FIRED
        changed = []
        for p in self.projections:
            proj = self._connectome.projections[p]
            src = self._connectome.areas[proj.src_area]
            dst = self._connectome.areas[proj.dst_area]
            s = self.synapses[p]
            gone = (np.isin(s.pre.astype(np.int64) + src.first_neuron, neurons)
                    | np.isin(s.post.astype(np.int64) + dst.first_neuron, neurons))
            if gone.any():
                self.synapses[p] = LearnedSynapses(s.pre[~gone], s.post[~gone], s.weight[~gone])
                changed.append(p)
        return changed

    # -- learning ----------------------------------------------------------------------------

    def observe(self, burst: int, fired: np.ndarray, learn: bool = True) -> PlasticityUpdate:
        """Record burst ``burst``'s fired set (global ids, forced fires included) and, when
        ``learn``, apply every plastic projection's rule over its window (module docstring).

        Returns which projections changed weights or grew synapses. The ledger is kept up to
        date even when ``learn`` is false, so learning resumes with a true window.
        """
        self._ledger[np.asarray(fired, np.int64)] = burst
        update = PlasticityUpdate()
        if not learn:
            return update
        for p in self.projections:
            proj = self._connectome.projections[p]
            rule = proj.plasticity
            assert rule is not None
            if burst + 1 < rule.window or (rule.ltp == 0 and rule.ltd == 0):
                continue
            first = burst - rule.window + 1
            src = self._connectome.areas[proj.src_area]
            dst = self._connectome.areas[proj.dst_area]
            s = self.synapses[p]
            if rule.associative:
                src_on = self._ledger[src.neuron_slice] >= first
                dst_on = self._ledger[dst.neuron_slice] >= first
                room = self.max_synapses - sum(int(x.pre.size) for x in self.synapses.values())
                if self._associate(s, src_on, dst_on, np.float32(rule.ltp), room):
                    update.grown.append(p)
                elif src_on.any() and dst_on.any() and s.pre.size:
                    update.changed.append(p)
                continue
            if _stdp(s.pre, s.post, s.weight, self._ledger[src.neuron_slice],
                     self._ledger[dst.neuron_slice], first, np.float32(rule.ltp),
                     np.float32(rule.ltd)):
                update.changed.append(p)
        return update

    def _associate(self, s: LearnedSynapses, src_on: np.ndarray, dst_on: np.ndarray,
                   ltp: np.float32, room: int) -> bool:
        """``associative_memory`` for one burst, growing at most ``room`` synapses; returns
        whether synapses were grown."""
        if not (src_on.any() and dst_on.any()):
            return False
        s.weight += ltp
        src = np.flatnonzero(src_on).astype(np.int64)
        dst = np.flatnonzero(dst_on).astype(np.int64)
        n_dst = np.int64(dst_on.size)
        # Every (fired source, fired target) pair, source-major, less those that exist.
        pairs = (src[:, None] * n_dst + dst[None, :]).reshape(-1)
        existing = s.pre.astype(np.int64) * n_dst + s.post.astype(np.int64)
        new = pairs[~np.isin(pairs, existing)]
        if new.size > max(room, 0):
            self.growth_refused += int(new.size - max(room, 0))
            new = new[:max(room, 0)]
        if not new.size:
            return False
        s.pre = np.concatenate([s.pre, (new // n_dst).astype(np.int32)])
        s.post = np.concatenate([s.post, (new % n_dst).astype(np.int32)])
        s.weight = np.concatenate([s.weight, np.full(new.size, ltp, np.float32)])
        return True


@njit(cache=True, nogil=True)
def _stdp(pre, post, weight, src_last, dst_last, first, ltp, ltd):  # pragma: no cover (compiled)
    """Plain STDP over one projection's synapses, in place; returns whether a weight was touched.

    ``src_last``/``dst_last`` are the fire ledgers of the source and target areas (last burst
    fired, area-local), ``first`` the window's first burst. Both fired -> ``+ltp``; exactly one
    -> ``max(0, w - ltd)`` (float32, module docstring).
    """
    touched = False
    zero = np.float32(0.0)
    for k in range(pre.size):
        a = src_last[pre[k]] >= first
        b = dst_last[post[k]] >= first
        if a and b:
            weight[k] = np.float32(weight[k] + ltp)
            touched = True
        elif a or b:
            w = np.float32(weight[k] - ltd)
            weight[k] = w if w > zero else zero
            touched = True
    return touched


class InFlightWeights:
    """The weights the backend must hold so every spike travels with the weights of the burst
    it fired in (DESIGN §4.7: contributions are taken at firing time).

    A spike fired at ``t`` over a projection of delay ``d`` is delivered at ``t + d``, so the
    weights learned after burst ``t`` (which first affect spikes fired at ``t + 1``) must reach
    the backend before burst ``t + 1 + d``. :meth:`schedule` queues a snapshot after learning;
    :meth:`due` hands over what the next burst needs. ``uploaded`` is what the backend holds.
    """

    def __init__(self, synapses: dict[int, LearnedSynapses], delays: dict[int, int]) -> None:
        self._delays = dict(delays)
        self.uploaded: dict[int, LearnedSynapses] = {p: s.copy() for p, s in synapses.items()}
        self._queue: list[tuple[int, int, LearnedSynapses]] = []

    def schedule(self, burst: int, projections: list[int],
                 synapses: dict[int, LearnedSynapses]) -> None:
        """Queue the snapshots of ``projections`` learned after burst ``burst``."""
        for p in projections:
            self._queue.append((burst + 1 + self._delays[p], p, synapses[p].copy()))

    def due(self, burst: int) -> tuple[list[int], bool]:
        """Move every snapshot due by burst ``burst`` into :attr:`uploaded`.

        Returns ``(projections whose weights changed, whether any synapse count changed)``: the
        caller writes the weights, or re-uploads the synapses when the structure changed.
        """
        changed: list[int] = []
        grown = False
        keep = []
        for at, p, snap in self._queue:
            if at > burst:
                keep.append((at, p, snap))
                continue
            grown |= snap.pre.size != self.uploaded[p].pre.size
            self.uploaded[p] = snap
            if p not in changed:
                changed.append(p)
        self._queue = keep
        return changed, grown

    def snapshot(self) -> tuple[dict[int, LearnedSynapses], list[tuple[int, int, LearnedSynapses]]]:
        """``(uploaded, queue)`` as copies: what a checkpoint needs to continue exactly; the queue
        holds ``(burst due, projection, synapses)``."""
        return ({p: s.copy() for p, s in self.uploaded.items()},
                [(at, p, s.copy()) for at, p, s in self._queue])

    def restore(self, uploaded: dict[int, LearnedSynapses],
                queue: list[tuple[int, int, LearnedSynapses]]) -> None:
        """Inverse of :meth:`snapshot`. Raises ``ValueError`` for projections it does not know."""
        unknown = (set(uploaded) ^ set(self._delays)) | ({p for _, p, _ in queue} - set(self._delays))
        if unknown:
            raise ValueError(f"in-flight weights for unknown projections {sorted(unknown)}")
        self.uploaded = {p: s.copy() for p, s in uploaded.items()}
        self._queue = sorted(((int(at), int(p), s.copy()) for at, p, s in queue),
                             key=lambda e: e[0])

    def replace(self, synapses: dict[int, LearnedSynapses]) -> None:
        """Drop what is in flight; the backend holds ``synapses`` from now on (after a reset,
        a checkpoint load or a restore, when no spike is in flight or all take the new ones)."""
        self._queue = []
        self.uploaded = {p: s.copy() for p, s in synapses.items()}
