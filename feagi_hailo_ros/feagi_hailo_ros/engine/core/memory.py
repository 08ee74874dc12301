"""FEAGI's memory areas (DESIGN §4.7): one memory neuron per distinct window of upstream firing.

Per burst ``t``, after firing, for each memory area (``connectome.MemoryArea``):

1. a short-term memory neuron whose lifespan reached the long-term threshold (``mem__t``)
   becomes long-term and stops ageing;
2. the window — for each of the last ``depth`` bursts (oldest first), the fired neurons of every
   upstream area (ascending area index) — with at least one firing, and only once ``depth``
   bursts exist, is compared *exactly* with the windows stored so far: the memory neuron that
   stored it is reactivated (lifespan ``+= growth`` unless long-term), or a new one is created
   (lifespan ``mem_ls``, the next FEAGI id from 50,000,000, global and never reused);
3. every other short-term memory neuron loses 1 of lifespan and is deleted at 0, with its
   synapses.

The detected neuron is force-fired in burst ``t + 1`` with potential 1.5 (FEAGI's engine fires
it at ``t + 1`` or ``t + 2`` depending on a thread race; here always ``t + 1``, so runs are
reproducible). FEAGI's source (feagi-npu ``plasticity/src/service.rs``) ages the reactivated
neuron too; its engine, as DESIGN records it, does not: the engine wins.

Memory neurons live in a pool of ``capacity`` neurons of the memory area (voxel (0, 0, 0)); a
slot is reused after its neuron died, under a new FEAGI id. A full pool creates nothing and
counts ``pool_full``. Plain Python and NumPy: memory areas are few and small.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .connectome import Connectome, MemoryArea

#: First FEAGI id of a memory neuron (feagi-npu ``MEMORY_NEURON_ID_START``).
MEMORY_NEURON_ID_START = 50_000_000
#: Potential a detected memory neuron is force-fired with (feagi-npu plasticity service).
MEMORY_FIRE_POTENTIAL = 1.5

Window = tuple[tuple[tuple[int, ...], ...], ...]


@dataclass
class MemoryEvents:
    """What one burst did to the memory areas (global neuron indices)."""

    #: Detected memory neurons (created or reactivated): fire in the next burst.
    detected: list[int] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    reactivated: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    converted: list[int] = field(default_factory=list)


class _Pool:
    """One memory area's neurons: lifespans, long-term flags, FEAGI ids, stored windows."""

    def __init__(self, spec: MemoryArea, first_neuron: int) -> None:
        self.spec = spec
        self.first = first_neuron
        cap = spec.capacity
        self.lifespan = np.zeros(cap, np.int64)
        self.longterm = np.zeros(cap, bool)
        self.alive = np.zeros(cap, bool)
        self.feagi_id = np.full(cap, -1, np.int64)
        self.stored: dict[Window, int] = {}
        self.window: deque[tuple[tuple[int, ...], ...]] = deque(maxlen=spec.depth)
        self.pool_full = 0


class MemoryAreas:
    """The memory state of every memory area of ``connectome`` (module docstring)."""

    def __init__(self, connectome: Connectome) -> None:
        self._connectome = connectome
        self._pools = [_Pool(m, connectome.areas[m.area].first_neuron)
                       for m in connectome.memory_areas]
        self._next_id = MEMORY_NEURON_ID_START
        #: Running totals: created, reactivated, deleted, converted.
        self.totals = {"created": 0, "reactivated": 0, "deleted": 0, "converted": 0}

    def __bool__(self) -> bool:
        return bool(self._pools)

    def observe(self, burst: int, fired: np.ndarray, learn: bool = True) -> MemoryEvents:
        """Record burst ``burst``'s fired set (global ids, any order) in every window and, when
        ``learn``, run rules 1-3; returns what happened (nothing when not ``learn``).

        The windows are kept up to date even when ``learn`` is false, so a brain unfrozen
        later compares the bursts it really saw, not a window with the frozen bursts cut out.
        """
        fired = np.sort(np.asarray(fired, np.int64))
        ev = MemoryEvents()
        for pool in self._pools:
            spec = pool.spec
            frame = []
            for u in spec.upstream:
                a = self._connectome.areas[u]
                lo, hi = np.searchsorted(fired, [a.first_neuron, a.first_neuron + a.neuron_count])
                frame.append(tuple(int(i) for i in fired[lo:hi]))
            pool.window.append(tuple(frame))
            if not learn:
                continue
            # 1. long-term conversion, before anything ages.
            conv = pool.alive & ~pool.longterm & (pool.lifespan >= spec.longterm)
            pool.longterm |= conv
            ev.converted += (np.flatnonzero(conv) + pool.first).tolist()
            # 2. the exact window.
            slot = -1
            if (spec.upstream and len(pool.window) == spec.depth
                    and any(ids for step in pool.window for ids in step)):
                key: Window = tuple(pool.window)
                if key in pool.stored:
                    slot = pool.stored[key]
                    if not pool.longterm[slot]:
                        pool.lifespan[slot] += spec.growth
                    ev.reactivated.append(pool.first + slot)
                else:
                    free = np.flatnonzero(~pool.alive)
                    if free.size:
                        slot = int(free[0])
                        pool.alive[slot] = True
                        pool.longterm[slot] = False
                        pool.lifespan[slot] = spec.lifespan
                        pool.feagi_id[slot] = self._next_id
                        self._next_id += 1
                        pool.stored[key] = slot
                        ev.created.append(pool.first + slot)
                    else:
                        pool.pool_full += 1
                if slot >= 0:
                    ev.detected.append(pool.first + slot)
            # 3. every other short-term neuron ages; at 0 it dies.
            ageing = pool.alive & ~pool.longterm
            if slot >= 0:
                ageing[slot] = False
            pool.lifespan[ageing] -= 1
            died = ageing & (pool.lifespan <= 0)
            if died.any():
                pool.alive[died] = False
                pool.lifespan[died] = 0
                pool.feagi_id[died] = -1
                dead = set(np.flatnonzero(died).tolist())
                pool.stored = {k: s for k, s in pool.stored.items() if s not in dead}
                ev.deleted += [pool.first + s for s in sorted(dead)]
        for name, items in (("created", ev.created), ("reactivated", ev.reactivated),
                            ("deleted", ev.deleted), ("converted", ev.converted)):
            self.totals[name] += len(items)
        return ev

    def clear_windows(self) -> None:
        """Forget recent upstream firing (after a reset of the dynamics); memory neurons stay."""
        for pool in self._pools:
            pool.window.clear()

    # -- reading ---------------------------------------------------------------------------

    def summary(self) -> list[dict[str, Any]]:
        """Per memory area: ``area`` (cortical id), ``alive``, ``long_term``, ``capacity``,
        ``pool_full`` (creations refused for want of a free slot)."""
        return [{"area": self._connectome.areas[p.spec.area].cortical_id,
                 "alive": int(p.alive.sum()), "long_term": int((p.alive & p.longterm).sum()),
                 "capacity": p.spec.capacity, "pool_full": p.pool_full} for p in self._pools]

    def neurons(self, area_index: int) -> dict[int, dict[str, int | bool]]:
        """The living memory neurons of memory area ``area_index``: FEAGI id -> ``neuron``
        (area-local index), ``lifespan``, ``long_term``."""
        for p in self._pools:
            if p.spec.area == area_index:
                return {int(p.feagi_id[s]): {"neuron": int(s), "lifespan": int(p.lifespan[s]),
                                             "long_term": bool(p.longterm[s])}
                        for s in np.flatnonzero(p.alive)}
        raise KeyError(f"area {area_index} is not a memory area")

    # -- checkpoints -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly, as JSON-able data."""
        return {"next_id": self._next_id, "totals": dict(self.totals), "pools": [
            {"area": p.spec.area, "lifespan": p.lifespan.tolist(),
             "longterm": p.longterm.tolist(), "alive": p.alive.tolist(),
             "feagi_id": p.feagi_id.tolist(), "pool_full": p.pool_full,
             "stored": [[[list(ids) for ids in step] for step in key] + [s]
                        for key, s in p.stored.items()],
             "window": [[list(ids) for ids in step] for step in p.window]}
            for p in self._pools]}

    def set_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state`. Raises ``ValueError`` (nothing changed) when it does not
        fit these memory areas."""
        try:
            pools = state["pools"]
            if [d["area"] for d in pools] != [p.spec.area for p in self._pools]:
                raise ValueError("memory areas differ")
            new = []
            for p, d in zip(self._pools, pools, strict=True):
                cap = p.spec.capacity
                arrays = [np.asarray(d[k], t) for k, t in (("lifespan", np.int64),
                          ("longterm", bool), ("alive", bool), ("feagi_id", np.int64))]
                if any(a.shape != (cap,) for a in arrays):
                    raise ValueError("memory pool size differs")
                stored = {}
                for item in d["stored"]:
                    *steps, slot = item
                    if not (isinstance(slot, int) and 0 <= slot < cap):
                        raise ValueError("stored window names a slot outside the pool")
                    stored[tuple(tuple(tuple(int(i) for i in ids) for ids in step)
                                 for step in steps)] = slot
                window = [tuple(tuple(int(i) for i in ids) for ids in step) for step in d["window"]]
                if len(window) > p.spec.depth:
                    raise ValueError("window longer than the area's depth")
                new.append((arrays, stored, window, int(d["pool_full"])))
            next_id, totals = int(state["next_id"]), {k: int(v) for k, v in state["totals"].items()}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"memory state does not fit this brain: {e}") from e
        for p, (arrays, stored, window, full) in zip(self._pools, new, strict=True):
            p.lifespan, p.longterm, p.alive, p.feagi_id = arrays
            p.stored, p.pool_full = stored, full
            p.window = deque(window, maxlen=p.spec.depth)
        self._next_id, self.totals = next_id, totals
