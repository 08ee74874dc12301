"""Dynamic state of a running brain, in the canonical form every backend speaks.

``Connectome`` is the static brain; this is what changes burst to burst.
Backends keep their own internal layout (the Numba backend stores absolute
"refractory until" bursts so nothing is swept per burst; the reference
stores plain countdowns) and convert to and from :class:`EngineState` for
checkpoints and cross-backend comparison. The canonical form is what FEAGI
would show between two bursts:

* ``potentials`` (float32): V at the end of the last burst. A neuron with
  ``mp_acc = false`` that was not processed in that burst shows 0 (its V was
  cleared at the start of the burst, DESIGN §4 rule 1).
* ``refractory_countdown`` (int32): the countdown ``c`` the next burst starts
  with; the neuron drops input in that burst iff ``c > 0``.
* ``fire_counts`` (int32): consecutive-fire counts, with the reset that rule 4
  performs when a countdown expires already applied.
* ``burst``: index of the next burst to run (= bursts run since reset).
* ``history``: fired sets of past bursts, newest first: ``history[k]`` is the
  burst ``burst - 1 - k``, as ``(global neuron indices int32, psp float32)``
  where psp is the value each spike carries (the area PSP, or the clamped
  rounded V at firing for ``mp_psp`` areas). Only as many bursts as the
  longest synaptic delay needs are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .connectome import POTENTIAL_DTYPE

#: Index dtype of fired sets (global neuron ids).
INDEX_DTYPE = np.int32


def empty_spikes() -> tuple[np.ndarray, np.ndarray]:
    """A fired set with no spikes: ``(int32 indices, float32 psp)``, both of shape ``(0,)``."""
    return np.zeros(0, dtype=INDEX_DTYPE), np.zeros(0, dtype=POTENTIAL_DTYPE)


@dataclass
class EngineState:
    """Backend-independent snapshot of all dynamic state (see module docstring).

    ``potentials`` float32, ``refractory_countdown`` and ``fire_counts`` int32, each of shape
    ``(neuron_count,)``; ``history`` a list of ``(int32 indices, float32 psp)`` pairs of equal
    length, newest burst first; ``kept_potential`` (bool, ``(neuron_count,)``, or ``None`` for
    none) marks ``mp_acc = false`` neurons whose V is not reset before their next input because
    a forced fire followed their last input (DESIGN §4.7); ``carried_input`` (float32) and
    ``carried_mask`` (bool), both ``(neuron_count,)`` or ``None``, hold the input a slowed area
    (rate divider) carries to its next update. Nothing is checked on construction: see
    :meth:`validate`.
    """

    potentials: np.ndarray
    refractory_countdown: np.ndarray
    fire_counts: np.ndarray
    burst: int = 0
    history: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    kept_potential: np.ndarray | None = None
    carried_input: np.ndarray | None = None
    carried_mask: np.ndarray | None = None

    @classmethod
    def zeros(cls, neuron_count: int, history_length: int) -> EngineState:
        """The state right after reset: everything at rest, no past spikes.

        Arrays of shape ``(neuron_count,)`` filled with 0 (dtypes as in the class docstring),
        ``burst`` 0, and ``history_length`` empty fired sets (:func:`empty_spikes`).
        """
        return cls(
            potentials=np.zeros(neuron_count, dtype=POTENTIAL_DTYPE),
            refractory_countdown=np.zeros(neuron_count, dtype=np.int32),
            fire_counts=np.zeros(neuron_count, dtype=np.int32),
            burst=0,
            history=[empty_spikes() for _ in range(history_length)],
        )

    @property
    def neuron_count(self) -> int:
        """Size of ``potentials``."""
        return int(self.potentials.size)

    def validate(self, neuron_count: int, history_length: int) -> None:
        """Raise ``ValueError`` unless the arrays fit a brain of this size.

        Checks the three per-neuron arrays have shape ``(neuron_count,)``, ``burst >= 0``,
        ``len(history) == history_length``, each fired set is two 1-D arrays of one length
        naming neurons in ``0 .. neuron_count - 1``, and no countdown or fire count is negative.
        Dtypes are not checked. Returns ``None``.
        """
        for name in ("potentials", "refractory_countdown", "fire_counts"):
            arr = getattr(self, name)
            if arr.shape != (neuron_count,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({neuron_count},)")
        for name in ("carried_input", "carried_mask"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (neuron_count,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({neuron_count},)")
        if self.kept_potential is not None and self.kept_potential.shape != (neuron_count,):
            raise ValueError(f"kept_potential has shape {self.kept_potential.shape}, expected "
                             f"({neuron_count},)")
        if self.burst < 0:
            raise ValueError(f"burst must be >= 0, got {self.burst}")
        if len(self.history) != history_length:
            raise ValueError(
                f"history holds {len(self.history)} bursts, expected {history_length}"
            )
        for k, (idx, psp) in enumerate(self.history):
            if idx.shape != psp.shape or idx.ndim != 1:
                raise ValueError(f"history[{k}]: index and psp arrays differ in shape")
            if idx.size and (idx.min() < 0 or idx.max() >= neuron_count):
                raise ValueError(f"history[{k}] names a neuron outside 0..{neuron_count - 1}")
        if np.any(self.refractory_countdown < 0) or np.any(self.fire_counts < 0):
            raise ValueError("refractory countdowns and fire counts must be >= 0")

    def copy(self) -> EngineState:
        """A deep copy: every array (history included) is copied."""
        return EngineState(
            potentials=self.potentials.copy(),
            refractory_countdown=self.refractory_countdown.copy(),
            fire_counts=self.fire_counts.copy(),
            burst=self.burst,
            history=[(i.copy(), p.copy()) for i, p in self.history],
            kept_potential=None if self.kept_potential is None else self.kept_potential.copy(),
            carried_input=None if self.carried_input is None else self.carried_input.copy(),
            carried_mask=None if self.carried_mask is None else self.carried_mask.copy(),
        )


@dataclass(frozen=True)
class NeuronSnapshot:
    """What ``Backend.download_neurons`` returns: the per-neuron canonical state.

    The same arrays (dtypes, shapes and meaning) as :class:`EngineState` without the spike
    history; ``burst`` is the index of the next burst to run.
    """

    potentials: np.ndarray
    refractory_countdown: np.ndarray
    fire_counts: np.ndarray
    burst: int
