"""When the engine hands each integrator its work: direct and pipelined projections.

A projection with delay ``d`` needs, at burst ``t``, the spikes of ``t - d``. For ``d = 1``
they exist only once burst ``t - 1`` has ended, so the engine submits them at the start of
burst ``t`` and collects them in the middle of it (after the CPU propagated its own synapses):
the device overlaps the CPU's delivery of that one burst. For ``d >= 2`` (:data:`AHEAD_MIN_DELAY`)
the spikes exist a burst earlier, so the engine submits burst ``t``'s work *during burst
t - 1*, right after collecting that burst's counts, and collects it at burst ``t``: the device
works for a whole burst period (the rest of burst ``t - 1``, the time between bursts, and the
delivery of burst ``t``) in parallel with the CPU. Nothing else changes: the same spikes, the
same counts, added at the same place of the canonical order (DESIGN §4 rule 2, §5), so the
raster is identical to the unpipelined one and to the CPU engine's.

An integrator says how many submissions it accepts at once (``Integrator.max_in_flight``) and
returns them in submission order. When a lane that holds both kinds is limited to one, the
engine collects the work submitted ahead before submitting the direct work (the device has
then already had the rest of the previous burst for it).

This module holds the per-integrator bookkeeping (:class:`Lane`); the engine drives it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .integrator import Counts, Integrator

#: Projections with at least this delay are submitted a burst ahead (their spikes exist then).
AHEAD_MIN_DELAY = 2


@dataclass
class Submission:
    """One ``submit`` in flight: the burst its counts are for, and what it was asked."""

    target: int
    handle: Any
    requests: dict[int, np.ndarray]
    coefs: dict[int, np.ndarray]
    #: Caller-thread seconds spent so far (submitting, collecting early).
    seconds: float
    #: Counts collected before their burst (an integrator with one slot needed it free).
    counts: Counts | None = None


class Lane:
    """One integrator, its projections split by when they can be submitted, and its FIFO of
    submissions in flight (oldest first).

    ``delays`` maps each of ``projections`` to its delay (>= 1). With ``ahead`` false every
    projection is direct (submitted at the start of its burst). ``ahead_through`` is the last
    burst whose ahead work was submitted (or found empty: no source fired).
    """

    def __init__(self, integ: Integrator, projections: Sequence[int], delays: Mapping[int, int],
                 *, ahead: bool = True) -> None:
        self.integ = integ
        self.projections = list(projections)
        self.direct = [p for p in projections if not (ahead and delays[p] >= AHEAD_MIN_DELAY)]
        self.ahead = [p for p in projections if ahead and delays[p] >= AHEAD_MIN_DELAY]
        #: Submissions the integrator accepts at once (at least 1).
        self.slots = max(1, int(getattr(integ, "max_in_flight", 1)))
        self.queue: deque[Submission] = deque()
        self.ahead_through = -1

    def busy(self) -> int:
        """Submissions the integrator still holds (not collected yet)."""
        return sum(1 for s in self.queue if s.counts is None)

    def due(self, burst: int) -> list[Submission]:
        """Take the submissions for ``burst`` off the front of the queue (FIFO order)."""
        out = []
        while self.queue and self.queue[0].target == burst:
            out.append(self.queue.popleft())
        if any(s.target <= burst for s in self.queue):
            # The engine submits in burst order; anything older is a scheduling bug.
            raise RuntimeError(f"integrator {self.integ.name!r}: work for an earlier burst is "
                               "still queued behind later work")
        return out

    def drain(self, next_burst: int) -> None:
        """Collect and drop everything in flight (errors ignored: the caller is already
        failing or resetting), so the next burst starts from ``next_burst`` with nothing
        queued."""
        while self.queue:
            s = self.queue.popleft()
            if s.counts is None:
                try:
                    self.integ.collect(s.handle)
                except Exception:  # noqa: BLE001 - the first error is the caller's
                    pass
        self.ahead_through = next_burst - 1
