"""What every encoder shares: the injection format, the two error kinds, FEAGI's percentage codings.

An *injection* is ``(voxels, potentials)``: ``voxels`` an ``(n, 3)`` int64 array of
``(x, y, z)`` coordinates inside the target area, ``potentials`` an ``(n,)`` float32 array, the
membrane potential added to every neuron of that voxel for one burst.

Errors come in two kinds:

* :class:`SensorInputError` - the *message* is malformed (wrong encoding, data length that does
  not match its header, non-finite angles, ...). The node logs it and drops the message. Its
  subclass :class:`FieldNotProvided` says the message declares the field absent (REP 145).
* :class:`ValueError` - the *configuration* does not fit (area too small for the number of
  channels, bad settings). That is a bug in the setup, found at configure time.

FEAGI codings (feagi-core ``crates/feagi-sensorimotor/src/neuron_voxel_coding/xyzp/``):

* **Linear percentage**: ``p`` in [0, 1] fires ``z = min(floor((1 - p) * dz), dz - 1)``; z = 0 is
  the *strongest* value (``coder_shared_functions.rs``,
  ``encode_unsigned_percentage_to_linear_neuron_z_index``).
* **Signed percentage**: channel ``c`` owns columns ``x = 2c`` (positive half) and ``2c + 1``
  (negative half), the magnitude coded along z as above; exactly zero fires the weakest voxel
  of both halves so they cancel; ``y = 0`` (``encode_signed_percentage_to_linear_neuron_z_index``,
  and the ``raw_imu.rs`` layout ``[a_pos, a_neg, b_pos, b_neg, c_pos, c_neg]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

Injection = tuple[np.ndarray, np.ndarray]
"""``(voxels (n, 3) int64, potentials (n,) float32)``."""

#: FEAGI's connectors inject every sensory voxel with this potential (``... = 100``).
DEFAULT_POTENTIAL = 100.0


class SensorInputError(ValueError):
    """A sensor message is malformed; the reason says what is wrong with it.

    A subclass of :class:`ValueError`, so callers that catch configuration errors catch it
    too; the node catches it first, drops the message and counts it in ``/diagnostics``.
    """


class FieldNotProvided(SensorInputError):
    """The message says the field this binding reads is not provided (REP 145: its covariance
    starts with -1), so there is nothing to encode.

    Not a malformed message but not an accepted reading either: the binding's area gets no
    input, and the node should count it apart (:attr:`reason`) and show it in
    ``/diagnostics``. A subclass of :class:`SensorInputError`, so a caller that does not know
    it drops the message with this explanation instead of counting it as accepted.

    Args:
        field: The message field, e.g. ``"angular_velocity"``.

    Attributes:
        field: As given.
        reason: ``"field_not_provided"``, a stable key for counters.
    """

    reason = "field_not_provided"

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"{field} is not provided: {field}_covariance[0] = -1 (REP 145); "
                         "this binding's area gets no input")


def _dims(dims: Sequence[int]) -> tuple[int, int, int]:
    """``(dx, dy, dz)`` as ints; ValueError unless three positive integers."""
    if len(dims) != 3:
        raise ValueError(f"area dims must be (dx, dy, dz), got {tuple(dims)}")
    dx, dy, dz = (int(d) for d in dims)
    if min(dx, dy, dz) < 1 or (dx, dy, dz) != tuple(dims):
        raise ValueError(f"area dims must be positive integers, got {tuple(dims)}")
    return dx, dy, dz


def _potential(value: float, what: str = "potential") -> float:
    """A configured potential as a float; ValueError if it is not finite."""
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return float(value)


def _finite(value: float, what: str) -> float:
    """A message field as a finite float; SensorInputError otherwise."""
    try:
        f = float(value)
    except (TypeError, ValueError) as exc:
        raise SensorInputError(f"{what} is not a number: {value!r}") from exc
    if not math.isfinite(f):
        raise SensorInputError(f"{what} must be finite, got {f}")
    return f


def _values_1d(values: ArrayLike, what: str) -> np.ndarray:
    """A message field as a 1-D float64 array (a scalar becomes one entry)."""
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SensorInputError(f"{what} is not numeric: {values!r}") from exc
    if v.ndim == 0:
        v = v.reshape(1)
    if v.ndim != 1:
        raise SensorInputError(f"{what} must be 1-D, got shape {v.shape}")
    return v


def empty_injection() -> Injection:
    """An injection that fires nothing: ``(zeros((0, 3), int64), zeros(0, float32))``."""
    return np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=np.float32)


def _injection(x: ArrayLike, y: ArrayLike, z: ArrayLike, p: ArrayLike) -> Injection:
    """Broadcast coordinate and potential arrays (or scalars) into an injection."""
    x, y, z, p = np.broadcast_arrays(
        np.asarray(x, dtype=np.int64),
        np.asarray(y, dtype=np.int64),
        np.asarray(z, dtype=np.int64),
        np.asarray(p, dtype=np.float32),
    )
    voxels = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    return voxels, np.ascontiguousarray(p.ravel())


def percentage_to_z(p: ArrayLike, dz: int) -> np.ndarray:
    """FEAGI linear percentage coding: fractions -> z indices of an area ``dz`` deep.

    Args:
        p: Fractions, any shape; values outside [0, 1] are clamped (NaN is not allowed).
        dz: Depth of the area (>= 1).

    Returns:
        int64 array of ``p``'s shape: 1.0 -> 0, 0.0 -> ``dz - 1``, in general
        ``min(floor((1 - p) * dz), dz - 1)``.

    Source: feagi-core ``coder_shared_functions.rs``
    (``encode_unsigned_percentage_to_linear_neuron_z_index``).
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    z = np.floor((1.0 - p) * dz).astype(np.int64)
    return np.minimum(z, dz - 1)


def encode_signed_percentages(
    values: ArrayLike,
    dims: Sequence[int],
    full_scale: float | ArrayLike = 1.0,
    potential: float = DEFAULT_POTENTIAL,
) -> Injection:
    """Signed FEAGI linear percentages (split-sign halves), one channel per value.

    Channel ``c`` writes column ``2c`` when its value is positive and ``2c + 1`` when negative,
    at depth ``percentage_to_z(|v|)``, row ``y = 0``; exactly 0 fires the deepest voxel of both
    halves, which a FEAGI decoder reads back as 0.

    Args:
        values: ``(n,)`` readings (a scalar counts as one), in the unit of ``full_scale``.
        dims: ``(dx, dy, dz)`` of the area; ``dx >= 2n``.
        full_scale: The reading that fires the strongest voxel, scalar or ``(n,)``; each
            ``value / full_scale`` is clamped to [-1, 1].
        potential: Potential of every fired voxel.

    Returns:
        An injection, voxels sorted by x.

    Raises:
        SensorInputError: a value is NaN or infinite, or ``values`` is not 1-D numeric.
        ValueError: the channels do not fit in ``dx`` or ``full_scale`` is not positive.

    Source: feagi-core ``encode_signed_percentage_to_linear_neuron_z_index`` and the
    ``raw_imu.rs`` layout ``[a_pos, a_neg, b_pos, b_neg, c_pos, c_neg]``.
    """
    dx, _, dz = _dims(dims)
    v = _values_1d(values, "values")
    if not np.all(np.isfinite(v)):
        raise SensorInputError(f"values must be finite, got {v.tolist()}")
    scale = np.broadcast_to(np.asarray(full_scale, dtype=np.float64), v.shape)
    if not np.all((scale > 0) & np.isfinite(scale)):
        raise ValueError(f"full_scale must be positive and finite, got {full_scale}")
    if 2 * v.size > dx:
        raise ValueError(f"{v.size} signed channels need {2 * v.size} columns, the area has {dx}")
    frac = np.clip(v / scale, -1.0, 1.0)
    ch = np.arange(v.size)
    zero = frac == 0.0
    nz = ~zero
    x = np.concatenate([2 * ch[nz] + (frac[nz] < 0), 2 * ch[zero], 2 * ch[zero] + 1])
    z = np.concatenate(
        [percentage_to_z(np.abs(frac[nz]), dz), np.full(2 * int(zero.sum()), dz - 1)]
    )
    order = np.argsort(x, kind="stable")
    return _injection(x[order], 0, z[order], _potential(potential))
