"""Synthetic sensory input: a seeded Poisson drive of the input areas, for headless runs,
benchmarks, export calibration and the simulated robot's fast mode."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .connectome import Connectome


class _Injectable(Protocol):
    def inject(self, area: int, *, indices: np.ndarray, potentials: float) -> None: ...


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


class PoissonDrive:
    """Each burst, every neuron of every input area is injected with ``potential`` with
    probability ``rate`` (independently, seeded by ``seed``).

    Raises ``ValueError`` when ``rate`` is outside [0, 1].
    """

    def __init__(self, connectome: Connectome, rate: float, potential: float = 100.0,
                 seed: int = 0) -> None:
        rate = check_rate(rate)
        self.areas = [connectome.areas[i] for i in input_areas(connectome)]
        self.rate, self.potential = rate, potential
        self.rng = np.random.default_rng(seed)

    def apply(self, engine: _Injectable) -> None:
        """Queue this burst's injections on ``engine`` (anything with ``Engine.inject``)."""
        for a in self.areas:
            # Binomial count, then distinct indices: O(active) per burst, not O(area).
            n = self.rng.binomial(a.neuron_count, self.rate)
            if n:
                idx = np.unique(self.rng.integers(0, a.neuron_count, n))
                engine.inject(a.index, indices=idx, potentials=self.potential)
