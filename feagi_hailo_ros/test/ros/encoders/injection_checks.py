"""Assertions shared by the encoder tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import numpy as np


def as_set(injection) -> set[tuple[int, int, int]]:
    """The voxels of an injection as a set of ``(x, y, z)`` tuples."""
    voxels, _ = injection
    return {tuple(int(c) for c in v) for v in voxels}


def check_shape(injection, n: int | None = None) -> None:
    """Assert the injection format: int64 ``(n, 3)`` voxels, float32 ``(n,)`` potentials."""
    voxels, potentials = injection
    assert voxels.dtype == np.int64 and voxels.ndim == 2 and voxels.shape[1] == 3
    assert potentials.dtype == np.float32 and potentials.shape == (voxels.shape[0],)
    if n is not None:
        assert voxels.shape[0] == n
