"""One burst's spikes split per area, built only when read (no rclpy).

The burst thread needs one area's spikes (the motor area's) every burst; the per-area dict
of every area is only read by ``~/firing``, the cloud and observers, which run off the burst
thread or not every burst. So the split is one ``searchsorted`` of the area bounds on the
burst thread, and the per-area arrays are sliced when (and where) they are first read.

The global array a :class:`FiredByArea` reads is made read-only: it is the burst's own
(``Engine.fired_global`` returns a new array per call), so handing the mapping to another
thread can never show it another burst's spikes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
from numba import njit

from ..engine.core.connectome import Connectome


@njit(cache=True, nogil=True)
def _columns(fired_global: np.ndarray, cuts: np.ndarray, first: np.ndarray, per_voxel: np.ndarray,
             dy: np.ndarray, dz: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    # Row 0: area-local index; rows 1-3: voxel x, y, z (AreaSpec.voxel_of's arithmetic).
    out = np.zeros((4, fired_global.size), np.uint32)
    for a in range(first.size):
        for i in range(cuts[2 * a], cuts[2 * a + 1]):
            local = fired_global[i] - first[a]
            voxel = local // per_voxel[a]
            out[0, i] = local
            out[1, i] = voxel // (dy[a] * dz[a])
            out[2, i] = (voxel // dz[a]) % dy[a]
            out[3, i] = voxel % dz[a]
    return out


def warm() -> None:
    """Compile (or load from Numba's cache) ``~/firing``'s column kernel for the types a burst
    passes (read-only int64 spike ids, int64 cuts and area shapes), so the first message with
    coordinates does not."""
    spikes = np.zeros(0, np.int64)
    spikes.flags.writeable = False
    one = np.zeros(1, np.int64)
    _columns(spikes, np.searchsorted(spikes, np.zeros(2, np.int64)), one, one, one, one)


class AreaBounds:
    """Where each area's neurons lie in one connectome's global numbering (made once per brain).

    Args:
        connectome: The brain; its areas, in order, are the mapping's keys.
    """

    def __init__(self, connectome: Connectome) -> None:
        self.connectome = connectome
        #: Cortical ids in area order.
        self.ids = [a.cortical_id for a in connectome.areas]
        self._index = {cid: k for k, cid in enumerate(self.ids)}
        self._first = [a.first_neuron for a in connectome.areas]
        #: int64 ``(2 * areas,)``: first and one-past-last global neuron of each area.
        self.bounds = np.array([[a.first_neuron, a.first_neuron + a.neuron_count]
                                for a in connectome.areas], np.int64).reshape(-1)
        #: Per area: first neuron, neurons per voxel, dy, dz (int64 each), for _columns.
        self.shape_args = tuple(np.array(v, np.int64) for v in zip(*[
            (a.first_neuron, a.neurons_per_voxel, a.dims[1], a.dims[2])
            for a in connectome.areas], strict=True))

    def split(self, fired_global: np.ndarray) -> FiredByArea:
        """The spikes of one burst per area.

        Args:
            fired_global: int64 ``(k,)`` ascending global ids of the burst's spikes, owned by
                the caller's burst (it is made read-only here).
        """
        fired_global.flags.writeable = False
        return FiredByArea(self, fired_global, np.searchsorted(fired_global, self.bounds))

    def local(self, fired_global: np.ndarray, cuts: np.ndarray, cortical_id: str) -> np.ndarray:
        """Area-local ids (int64, ascending, a new read-only array) of one area's spikes.

        Raises:
            KeyError: ``cortical_id`` is not an area of this connectome.
        """
        k = self._index[cortical_id]
        out = fired_global[cuts[2 * k]:cuts[2 * k + 1]] - self._first[k]
        out.flags.writeable = False
        return out


class FiredByArea(Mapping[str, np.ndarray]):
    """Cortical id -> area-local ids (int64, ascending, read-only) of one burst's spikes.

    Every area of the brain is a key (an area that did not fire maps to an empty array), in
    the connectome's area order. Each area's array is sliced on first read and kept.

    Args:
        bounds: The brain's :class:`AreaBounds`.
        fired_global: The burst's global spike ids (read-only).
        cuts: ``searchsorted(fired_global, bounds.bounds)``.
    """

    def __init__(self, bounds: AreaBounds, fired_global: np.ndarray, cuts: np.ndarray) -> None:
        self._bounds = bounds
        self._global = fired_global
        self._cuts = cuts
        self._areas: dict[str, np.ndarray] = {}
        self._columns: np.ndarray | None = None

    @property
    def connectome(self) -> Connectome:
        """The brain these spikes belong to (an upload swaps the node's brain, not this one)."""
        return self._bounds.connectome

    def __getitem__(self, cortical_id: str) -> np.ndarray:
        got = self._areas.get(cortical_id)
        if got is None:
            # Two readers on two threads may both slice it: the same values either way.
            got = self._areas[cortical_id] = self._bounds.local(self._global, self._cuts,
                                                                cortical_id)
        return got

    def uint32_columns(self, cortical_id: str) -> np.ndarray:
        """uint32 ``(4, n)`` of one area's ``n`` spikes: area-local index, voxel x, y, z.

        One compiled pass over every spike on the first call (``~/firing`` reads all areas),
        a view of it after.

        Raises:
            KeyError: ``cortical_id`` is not an area of this connectome.
        """
        k = self._bounds._index[cortical_id]
        if self._columns is None:
            self._columns = _columns(self._global, self._cuts, *self._bounds.shape_args)
            self._columns.flags.writeable = False
        return self._columns[:, self._cuts[2 * k]:self._cuts[2 * k + 1]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._bounds.ids)

    def __len__(self) -> int:
        return len(self._bounds.ids)

    def __contains__(self, cortical_id: object) -> bool:
        return cortical_id in self._bounds._index


def firing_columns(connectome: Connectome, fired: Mapping[str, np.ndarray]
                   ) -> Iterator[tuple[object, np.ndarray]]:
    """``(area, uint32 (4, k) columns)`` of every area of ``connectome`` (in its order) with at
    least one spike in ``fired``: area-local index, voxel x, y, z, what ``~/firing`` carries.

    A :class:`FiredByArea` of this connectome gives its compiled columns; any other mapping
    (cortical id -> area-local indices) is converted area by area. Areas absent from the
    mapping or without spikes are skipped.
    """
    compiled = isinstance(fired, FiredByArea) and fired.connectome is connectome
    for area in connectome.areas:
        if compiled:
            columns = fired.uint32_columns(area.cortical_id)
        else:
            idx = fired.get(area.cortical_id)
            if idx is None:
                continue
            columns = np.vstack([idx, area.voxel_of(idx).T]).astype(np.uint32)
        if columns.shape[1]:
            yield area, columns
