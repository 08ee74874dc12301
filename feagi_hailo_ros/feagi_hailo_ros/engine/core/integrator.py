"""The integrator contract: where an accelerator plugs into the engine (DESIGN §5).

An accelerator that cannot hold neuron state (Hailo-8, ONNX Runtime) computes the *synaptic
integration* of some projections: exact integer counts ``Y = X @ A.T``, where ``A`` is the
projection's 0/1 adjacency (dst x src, one entry per synapse, so duplicate synapses count twice)
and ``X`` is a ``(G, n_src)`` uint8 0/1 matrix of source spikes at ``t - delay``. Potentials,
thresholds and spike decisions stay on the CPU. The engine splits the fired sources into ``G``
rows that share one per-spike contribution ``c = float32(sign*w*p/div)``
(:func:`group_spikes`), so ``sum_g Y[g] * c_g`` equals, bit for bit, what the CPU would add
synapse by synapse. Projections with per-synapse weights are not a 0/1 adjacency and cannot be
integrated this way (:func:`integrability`).

Every integrator implements :class:`Integrator`; the :class:`~.engine.Engine` calls only these
methods, once per burst and in this order::

    prepare(connectome, projections)       # once: open sessions, devices, check files
    pending = submit({projection: X})      # burst t: start; the device may work from here on
    counts = collect(pending)              # after the CPU propagated its own synapses
    stats()                                # any time; close() at the end (idempotent)

A synchronous integrator computes in ``submit`` and hands the result back in ``collect``
(:class:`Ready`); an asynchronous one (Hailo) returns at once from ``submit`` so the device
works while the CPU propagates. Up to ``max_in_flight`` submissions may be in flight; they are
collected in the order they were submitted (the engine submits delay >= 2 projections a burst
ahead, core/pipeline.py).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .connectome import Connectome, Projection

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
    #: How many ``submit`` calls may be in flight at once (collected oldest first).
    max_in_flight: int = 1

    @abc.abstractmethod
    def prepare(self, connectome: Connectome, projections: Sequence[int]) -> None:
        """Get ready to integrate ``projections`` (indices into ``connectome.projections``).

        Called once before the first burst, again after ``close`` to reopen. Raises on anything
        that would give wrong counts (another brain's files, shapes that do not fit).
        """

    @abc.abstractmethod
    def submit(self, spikes: SpikeRequests) -> Any:
        """Start integrating one burst's spikes; returns a handle for :meth:`collect`.

        ``spikes`` holds only prepared projections whose sources fired. At most
        ``max_in_flight`` integrations are in flight per integrator, collected oldest first.
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

    #: A handle carries its counts, so any number can wait; the engine never needs more than two.
    max_in_flight = 2

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


def integrability(connectome: Connectome) -> list[str | None]:
    """For every projection, why it cannot go to an integrator, or None if it can.

    Inputs are summed one by one in float32 in a canonical order (DESIGN §4 rule 2), so an
    integrator's counts reproduce the CPU's sum exactly only when every event they stand for
    carries the same float32 contribution as every other event from that source area, with that
    delay, into that destination area (then the events' order among themselves does not matter,
    and the backend adds the counts at the source area's place in the order). Projection ``p``
    (areas A -> B, delay d) qualifies when it has no per-synapse weights, A is not ``mp_psp``
    (the PSP changes with every spike), all of p's source neurons divide their PSP alike
    (``psp_uniform``, or one out-degree), and every other projection A -> B with delay d that
    reaches one of p's target neurons gives the same contribution. A plastic projection never
    qualifies (its weights change every burst, DESIGN §4.7), nor does any projection of a
    non-``psp_uniform`` source area that grows ``associative_memory`` synapses (its out-degree,
    hence its PSP divisor, changes as the brain learns). An ``associative_memory`` projection
    counts as reaching every neuron of its target area (it can grow onto any of them).
    """
    from .backend import projection_signed_weight, psp_divisor

    div = psp_divisor(connectome)
    growing = {p.src_area for p in connectome.projections
               if p.plasticity is not None and p.plasticity.associative}
    coef: list[float | None] = []
    why: list[str | None] = []
    for proj in connectome.projections:
        src = connectome.areas[proj.src_area]
        reason = None
        c = None
        if proj.plasticity is not None:
            kind = "associative_memory" if proj.plasticity.associative else "STDP"
            reason = f"plastic ({kind}): its weights change every burst, so it stays on the CPU"
        elif not src.psp_uniform and proj.src_area in growing:
            reason = (f"source {src.cortical_id} grows associative_memory synapses, so its PSP "
                      "divisor (out-degree) changes as the brain learns")
        elif proj.weights is not None:
            reason = "per-synapse weights (not a 0/1 adjacency)"
        elif src.mp_psp:
            reason = f"source {src.cortical_id} is mp_psp: every spike carries its own potential"
        else:
            pre = np.unique(np.asarray(proj.pre, np.int64)) + src.first_neuron
            divs = np.unique(div[pre]) if pre.size else np.ones(1)
            if divs.size > 1:
                reason = (f"source {src.cortical_id} divides its PSP by out-degrees that differ "
                          f"({divs.size} values), so spikes carry different contributions")
            else:
                c = float(np.float32(projection_signed_weight(proj) * float(src.psp) / divs[0]))
        why.append(reason)
        coef.append(c)
    bundles: dict[tuple[int, int, int], list[int]] = {}
    for i, proj in enumerate(connectome.projections):
        bundles.setdefault((proj.src_area, proj.dst_area, int(proj.delay)), []).append(i)
    for members in bundles.values():
        if len(members) < 2:
            continue
        # An associative_memory projection has no synapse at load but may grow one onto any
        # neuron of its target area, so it counts as reaching all of them.
        posts = {i: set(range(connectome.areas[connectome.projections[i].dst_area].neuron_count))
                 if _grows(connectome.projections[i])
                 else set(np.asarray(connectome.projections[i].post, np.int64).tolist())
                 for i in members}
        for a_i, i in enumerate(members):
            for j in members[a_i + 1:]:
                same = coef[i] is not None and coef[i] == coef[j]
                if not same and posts[i] & posts[j]:
                    for k in (i, j):
                        why[k] = why[k] or (
                            f"projections {i} and {j} reach the same neurons from the same area "
                            "with the same delay but carry different contributions, so the "
                            "float32 sum depends on the event order")
    return [f"projection {i}: {r}; keep it on the CPU" if r else None for i, r in enumerate(why)]


def _grows(proj: Projection) -> bool:
    """Whether ``proj`` grows synapses as the brain learns (``associative_memory``)."""
    return proj.plasticity is not None and proj.plasticity.associative


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
