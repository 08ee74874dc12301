"""The NumPy integrator: exact counts by ``bincount``, the model every other integrator is checked
against, and the CPU path of the Hailo integrator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.connectome import Connectome
from ..core.integrator import Counts, SpikeRequests, SynchronousIntegrator


class NumpyIntegrator(SynchronousIntegrator):
    """Reference integrator in plain NumPy: counts by ``bincount`` per spike row.

    It proves the seam (identical rasters with and without it) and is the model the Hailo and
    ONNX Runtime integrators are checked against. ``calls`` counts integrated bursts.
    """

    name = "numpy"

    def __init__(self) -> None:
        self._adj: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        self.calls = 0

    def prepare(self, connectome: Connectome, projections: Sequence[int]) -> None:
        """Keep the (pre, post) synapse lists of ``projections``; nothing can fail here."""
        self._adj = {}
        for p in projections:
            proj = connectome.projections[p]
            n_dst = connectome.areas[proj.dst_area].neuron_count
            self._adj[p] = (
                np.asarray(proj.pre, dtype=np.int64),
                np.asarray(proj.post, dtype=np.int64),
                n_dst,
            )

    def compute(self, spikes: SpikeRequests) -> Counts:
        """``{projection: (G, n_dst) int64}``; raises ``KeyError`` for an unprepared projection."""
        self.calls += 1
        out: Counts = {}
        for p, x in spikes.items():
            pre, post, n_dst = self._adj[p]
            y = np.empty((x.shape[0], n_dst), dtype=np.int64)
            for g in range(x.shape[0]):
                # Counts are small integers: float64 bincount is exact.
                y[g] = np.bincount(post, weights=x[g, pre], minlength=n_dst).astype(np.int64)
            out[p] = y
        return out

    def stats(self) -> dict[str, Any]:
        """``{"bursts": calls}``."""
        return {"bursts": self.calls}
