"""``feagi_hailo_msgs/AreaInput`` -> a raw injection, by voxel or by neuron index.

The generic per-area input of DESIGN §7: the publisher already did the coding, so these
functions only validate; no FEAGI coding is applied.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .common import Injection, SensorInputError, _dims, empty_injection


def encode_raw(
    voxels: ArrayLike, potentials: float | ArrayLike, dims: Sequence[int]
) -> Injection:
    """Validate a ready-made injection.

    Args:
        voxels: ``(n, 3)`` voxel coordinates (or a flat list of 3n); float coordinates are
            accepted only when integral.
        potentials: A scalar for every voxel, or ``(n,)``.
        dims: ``(dx, dy, dz)`` of the target area.

    Returns:
        The injection: voxels int64 ``(n, 3)``, potentials float32 ``(n,)``.

    Raises:
        SensorInputError: wrong shape, non-integral or out-of-area coordinates, non-finite
            potentials.
        ValueError: ``dims`` are not three positive integers.
    """
    dx, dy, dz = _dims(dims)
    v = np.asarray(voxels)
    if v.size == 0:
        return empty_injection()
    if v.ndim == 1 and v.size % 3 == 0:
        v = v.reshape(-1, 3)
    if v.ndim != 2 or v.shape[1] != 3:
        raise SensorInputError(f"voxels must be (n, 3), got shape {v.shape}")
    if not np.issubdtype(v.dtype, np.integer):
        vf = v.astype(np.float64)
        if not np.all(np.isfinite(vf)) or np.any(vf != np.round(vf)):
            raise SensorInputError("voxel coordinates must be integers")
        v = vf
    v = v.astype(np.int64)
    bounds = np.array([dx, dy, dz])
    outside = np.any((v < 0) | (v >= bounds), axis=1)
    if outside.any():
        raise SensorInputError(
            f"voxel {v[outside][0].tolist()} is outside the area of size {(dx, dy, dz)}"
        )
    p = np.asarray(potentials, dtype=np.float64)
    if p.ndim == 0:
        p = np.full(v.shape[0], float(p))
    if p.shape != (v.shape[0],):
        raise SensorInputError(f"{v.shape[0]} voxels but potentials of shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise SensorInputError("potentials must be finite")
    return v, p.astype(np.float32)


def encode_area_input(
    x: Sequence[int],
    y: Sequence[int],
    z: Sequence[int],
    neuron_indices: Sequence[int],
    potentials: ArrayLike,
    dims: Sequence[int],
) -> Injection | tuple[None, tuple[np.ndarray, np.ndarray]]:
    """The fields of an ``AreaInput`` message -> an injection.

    A message addresses its area either by voxel (``x``, ``y``, ``z`` of equal length) or by
    area-local neuron index, never both; ``potentials`` holds one value for all or one per
    entry.

    Args:
        x, y, z: Voxel coordinates (empty when addressing by index).
        neuron_indices: Area-local neuron indices (empty when addressing by voxel).
        potentials: ``(1,)`` or one per voxel / index.
        dims: ``(dx, dy, dz)`` of the target area.

    Returns:
        By voxel: an injection (see :func:`encode_raw`). By index: ``(None, (indices int64
        (k,), potentials float64 (1,) or (k,)))``; the engine checks the indices when it
        injects them.

    Raises:
        SensorInputError: both or mismatched addressings, a potentials count that fits
            neither, non-finite potentials, out-of-area voxels.
    """
    pots = np.asarray(potentials, dtype=np.float64)
    if len(neuron_indices):
        if len(x) or len(y) or len(z):
            raise SensorInputError("AreaInput: give voxels or neuron_indices, not both")
        idx = np.asarray(neuron_indices, dtype=np.int64)
        if pots.size not in (1, idx.size):
            raise SensorInputError(f"AreaInput: {pots.size} potentials for {idx.size} neuron indices")
        if not np.all(np.isfinite(pots)):
            raise SensorInputError("AreaInput: non-finite potential")
        return None, (idx, pots)
    if not (len(x) == len(y) == len(z)):
        raise SensorInputError(f"AreaInput: x, y, z lengths differ ({len(x)}, {len(y)}, {len(z)})")
    voxels = np.stack([np.asarray(x, np.int64), np.asarray(y, np.int64),
                       np.asarray(z, np.int64)], axis=-1).reshape(-1, 3)
    if pots.size == 1 and voxels.shape[0] > 1:
        pots = np.full(voxels.shape[0], pots[0])
    return encode_raw(voxels, pots, dims)
