"""The integrator contract: where an accelerator plugs into the engine (DESIGN §5).

An accelerator that cannot hold neuron state (Hailo-8, ONNX Runtime) computes the *synaptic
integration* of some projections: exact integer counts ``Y = X @ A.T``, where ``A`` is the
projection's 0/1 adjacency (dst x src, one entry per synapse, so duplicate synapses count twice)
and ``X`` is a ``(G, n_src)`` uint8 0/1 matrix of source spikes at ``t - delay``. Potentials,
thresholds and spike decisions stay on the CPU. The engine splits the fired sources into ``G``
rows that share one per-spike contribution ``c = float32(sign*w*p/div)``
(:func:`group_spikes`), so ``sum_g Y[g] * c_g`` equals, bit for bit, what the CPU would add
synapse by synapse. Projections with per-synapse weights are not a 0/1 adjacency and cannot be
integrated this way (:func:`integrable`).

Every integrator implements :class:`Integrator`; the :class:`~.engine.Engine` calls only these
methods, once per burst and in this order::

    prepare(connectome, projections)       # once: open sessions, devices, check files
    pending = submit({projection: X})      # burst t: start; the device may work from here on
    counts = collect(pending)              # after the CPU propagated its own synapses
    stats()                                # any time; close() at the end (idempotent)

A synchronous integrator computes in ``submit`` and hands the result back in ``collect``
(:class:`Ready`); an asynchronous one (Hailo) returns at once from ``submit`` so the device
works while the CPU propagates.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .connectome import Connectome

#: ``{projection index: X}``: ``X`` is ``(G, n_src)`` uint8 0/1, rows are independent spike vectors.
SpikeRequests = Mapping[int, np.ndarray]
#: ``{projection index: Y}``: ``Y`` is ``(G, n_dst)`` integer counts (int64 or narrower).
Counts = dict[int, np.ndarray]


class Ready:
    """A pending integration whose counts are already known (synchronous integrators)."""

    __slots__ = ("counts",)

    def __init__(self, counts: Counts) -> None:
        self.counts = counts


class Integrator(abc.ABC):
    """Computes exact synaptic event counts ``X @ A.T`` for the projections it was prepared with.

    Source and destination order is area-local neuron order. Counts must be exact integers
    (a 16-bit or wider output once fan-in exceeds 255). ``name`` identifies the integrator in
    timing keys, diagnostics and error messages.
    """

    name: str = "integrator"

    @abc.abstractmethod
    def prepare(self, connectome: Connectome, projections: Sequence[int]) -> None:
        """Get ready to integrate ``projections`` (indices into ``connectome.projections``).

        Called once before the first burst, again after ``close`` to reopen. Raises on anything
        that would give wrong counts (another brain's files, shapes that do not fit).
        """

    @abc.abstractmethod
    def submit(self, spikes: SpikeRequests) -> Any:
        """Start integrating one burst's spikes; returns a handle for :meth:`collect`.

        ``spikes`` holds only prepared projections whose sources fired. At most one
        integration is in flight per integrator.
        """

    @abc.abstractmethod
    def collect(self, pending: Any) -> Counts:
        """Wait for the integration ``pending`` from :meth:`submit`; return ``{projection: Y}``
        with ``Y`` of shape ``(G, n_dst)``, integer dtype, one row per row of its ``X``."""

    def integrate(self, spikes: SpikeRequests) -> Counts:
        """``collect(submit(spikes))``: one burst, synchronously."""
        return self.collect(self.submit(spikes))

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """Counters and timings for diagnostics; at least ``{"bursts": int}`` (bursts integrated)."""

    def close(self) -> None:  # noqa: B027 (a no-op default: not every integrator holds resources)
        """Release sessions and devices; idempotent. ``prepare`` may be called again afterwards."""


class SynchronousIntegrator(Integrator):
    """An integrator that computes in the caller's thread: implement :meth:`compute`."""

    @abc.abstractmethod
    def compute(self, spikes: SpikeRequests) -> Counts:
        """The counts of one burst, computed now (see :meth:`Integrator.collect` for shapes)."""

    def submit(self, spikes: SpikeRequests) -> Ready:
        """Compute at once; the handle carries the counts."""
        return Ready(self.compute(spikes))

    def collect(self, pending: Ready) -> Counts:
        """The counts :meth:`submit` computed."""
        if not isinstance(pending, Ready):
            raise TypeError(f"{self.name}: collect() takes the handle submit() returned")
        return pending.counts


def integrable(connectome: Connectome, projection: int) -> str | None:
    """Why projection ``projection`` cannot go to an integrator, or None if it can."""
    proj = connectome.projections[projection]
    if proj.weights is not None:
        return (
            f"projection {projection} has per-synapse weights, so it is not a 0/1 adjacency; "
            "keep it on the CPU"
        )
    return None


def group_spikes(
    src_local: np.ndarray, coef: np.ndarray, n_src: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split fired sources into rows of equal per-spike contribution.

    ``src_local`` are area-local ids of fired source neurons, ``coef`` the float32 contribution
    each of their synapses in this projection carries. Returns ``(X, coefs)``: ``X`` is
    ``(G, n_src)`` uint8 0/1 and ``coefs`` the ``G`` float32 contributions, so
    ``sum_g (X @ A.T)[g] * coefs[g]`` is the projection's input.
    """
    values, inverse = np.unique(coef, return_inverse=True)
    x = np.zeros((values.size, n_src), dtype=np.uint8)
    x[inverse, src_local] = 1
    return x, values.astype(np.float32)
