"""Synthetic sensory input: a seeded Poisson drive of the input areas, for headless runs,
benchmarks and export calibration."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .connectome import Connectome
from .reference import excitability_draws

#: Added (mod 2**64) to the seed to key the drive's draws, so that they are not the
#: excitability draws of the same seed (which hash the same (neuron, burst) pairs): with an
#: equal key, a driven neuron's injection and its fire decision would be one coin. Any fixed
#: odd constant does; this is the increment of Knuth's MMIX linear congruential generator.
DRIVE_STREAM = 0x14057B7EF767814F
_MASK64 = (1 << 64) - 1


class _Injectable(Protocol):
    @property
    def burst(self) -> int: ...

    def inject_prepared(self, prepared: tuple[np.ndarray, np.ndarray]) -> None: ...


def input_areas(connectome: Connectome) -> list[int]:
    """Indices of the sensory areas: FEAGI type IPU (``AreaSpec.feagi_type``: from the group,
    or the first byte of the cortical id, ``i`` = input)."""
    return [a.index for a in connectome.areas_of_type("IPU")]


def check_rate(rate: float) -> float:
    """``rate`` as a float if it is a probability in [0, 1]; ``ValueError`` otherwise (NaN too)."""
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"input rate must be in [0, 1], got {rate}")
    return rate


def drive_key(seed: int) -> int:
    """The key of a drive seeded ``seed`` (any int): ``(seed + DRIVE_STREAM) mod 2**64``."""
    return (int(seed) + DRIVE_STREAM) & _MASK64


class PoissonDrive:
    """Each burst, every neuron of every input area is injected with ``potential`` with
    probability ``rate``, independently per neuron and burst.

    The rule (counter-based, no generator state): neuron ``i`` (global id) is injected in
    burst ``t`` (the engine's absolute burst) iff ``d < rate``, where ``d`` is the kernels'
    excitability draw (``kernels.excitability_draw``: SplitMix64 of ``(key, i, t)``, a multiple
    of 2**-24 in [0, 1)) keyed by :func:`drive_key` of ``seed``. So rate 0 injects nothing,
    rate 1 every neuron, and a rate between is honoured to 2**-24. Because a draw depends only
    on ``(seed, i, t)``, :meth:`apply` (NumPy, one burst) and the compiled loop
    (``kernels.drive_injections`` through ``Engine.run``) inject the same neurons bit for bit,
    however the bursts are batched, and one drive serves any number of engines.

    Raises ``ValueError`` when ``rate`` is outside [0, 1] or ``potential`` is not finite.
    """

    def __init__(self, connectome: Connectome, rate: float, potential: float = 100.0,
                 seed: int = 0) -> None:
        rate = check_rate(rate)
        if not np.isfinite(potential):
            raise ValueError(f"drive potential must be finite, got {potential}")
        self.areas = [connectome.areas[i] for i in input_areas(connectome)]
        self.rate, self.potential, self.seed = rate, float(potential), int(seed)
        self.key = drive_key(seed)
        #: The driven blocks ``[start, stop)`` of global neuron ids (int64[R] each), in area
        #: order: what the compiled loop walks.
        self.starts = np.array([a.first_neuron for a in self.areas], np.int64)
        self.stops = np.array([a.first_neuron + a.neuron_count for a in self.areas], np.int64)
        self._ids = (np.concatenate([np.arange(s, e, dtype=np.int64)
                                     for s, e in zip(self.starts, self.stops, strict=True)])
                     if self.areas else np.zeros(0, np.int64))

    @property
    def neuron_stop(self) -> int:
        """One past the highest driven global neuron id (0 without input areas)."""
        return int(self.stops.max()) if self.stops.size else 0

    def kernel_args(self) -> tuple[np.ndarray, np.ndarray, np.uint64, float, float]:
        """``(starts, stops, key, rate, potential)`` as ``kernels.drive_injections`` takes them."""
        return self.starts, self.stops, np.uint64(self.key), self.rate, self.potential

    def injections(self, burst: int) -> tuple[np.ndarray, np.ndarray]:
        """Burst ``burst``'s injections: ``(global ids int64 ascending, values float64)``."""
        ids = self._ids[excitability_draws(self.key, self._ids, int(burst)) < self.rate]
        return ids, np.full(ids.size, self.potential)

    def apply(self, engine: _Injectable) -> None:
        """Queue the injections of ``engine``'s next burst (``engine.burst``) on ``engine``
        (anything with ``Engine.burst`` and ``Engine.inject_prepared``: the ids are valid for
        the connectome this drive was made from)."""
        ids, values = self.injections(engine.burst)
        if ids.size:
            engine.inject_prepared((ids, values))
