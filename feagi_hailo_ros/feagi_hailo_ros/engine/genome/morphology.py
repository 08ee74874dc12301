"""Voxel-level synapse rules: FEAGI morphologies turned into (source voxel, destination voxel) pairs.

A FEAGI mapping connects the voxels of a source area to voxels of a destination
area by a *morphology*. Almost every morphology FEAGI defines is **separable per
axis**: whether source voxel ``(x, y, z)`` connects to destination voxel
``(x', y', z')`` is decided axis by axis (a vector offsets each axis independently,
a pattern token constrains one axis, the projector scales each axis on its own). So
a morphology is represented here as a union of :class:`SeparableTerm` s, each the
Cartesian product of three per-axis relations (:class:`AxisMap`). That gives two
things the builder needs:

* the number of voxel pairs of a term is the product of three small per-axis
  counts, known *before* anything is allocated (memory estimate, DESIGN §5), and
* materialising the pairs is a numpy broadcast, not a Python loop over voxels.

The two that are not separable (``sweeper``, ``rotator_z``) are a :class:`VoxelListTerm`:
an upper bound of their pairs is known up front, the pairs are generated when built.

Semantics (facts from FEAGI's sources, reimplemented here; "feagi-core" is
``crates/feagi-brain-development/src/connectivity/``):

``vectors``
    Source voxel ``s`` connects to ``s + v * scalar``; destinations outside the
    destination area are dropped (feagi-core ``rules/vectors.rs apply_vector_offset``).
    Several vectors are a union; duplicates are created once. FEAGI's engine calls it
    with scalar 1: a rule's ``morphology_scalar`` is ignored for vectors (measured:
    ``feagi_ref/min_vscalar``), which the genome builder follows.
``patterns``
    ``[[src_x, src_y, src_z], [dst_x, dst_y, dst_z]]`` pairs. Source side: an
    integer selects that coordinate, ``"*"`` and ``"?"`` match any, ``"N..M"`` an
    inclusive range; other tokens match any (feagi-core ``rules/patterns.rs``,
    ``source_axis_matches``). Destination side: integer = that coordinate, ``"*"``
    = every coordinate, ``"?"`` = the source's own coordinate, ``"!"`` = every
    coordinate except the source's, ``"?+"``/``"?-"`` = strictly above/below the
    source's, ``"?+="``/``"?-="`` = at or above/below, ``"?+N"``/``"?-N"`` = offset,
    ``"?-A:?+B"`` = relative inclusive range, ``"N..M"`` = absolute inclusive range
    (same file, ``expand_axis``). Out-of-range destinations are dropped.
    ``morphology_scalar`` does not apply to patterns (FEAGI ignores it there).
``projector`` (function)
    Each axis is scaled on its own (feagi-core ``rules/projector.rs``
    ``calculate_axis_projection``): same size -> identity; source larger ->
    many-to-one, ``d = int(s / (src/dst))``; source smaller -> one-to-many, every
    ``d`` with ``int(d / (dst/src)) == s``. The divisions are done in float32
    exactly as feagi-core does, so rounding at boundaries matches it.
``block_to_block``
    Identity: voxel ``(x, y, z)`` to the same coordinates of the destination,
    dropped when outside (FEAGI core morphology ``vectors: [[0, 0, 0]]``).
``last_to_first``, ``first_to_last`` (functions)
    The last source voxel (max x, y, z) to destination voxel (0, 0, 0); source voxel
    (0, 0, 0) to the last destination voxel (feagi-core ``core_morphologies/
    last_to_first.rs``, ``first_to_last.rs``).
``sweeper`` (function)
    :func:`sweeper_term` (feagi-core ``core_morphologies/sweeper.rs``).
``rotator_z`` (function)
    :func:`rotator_z_term` (feagi-core ``rules/rotator_z.rs``).
``bitmask_encoder_x/y/z``, ``bitmask_decoder_x/y/z`` (functions)
    :func:`bitmask_term` (feagi-core ``core_morphologies/bitmask.rs``).
``tile`` (composite)
    :func:`tile_term` (feagi-core ``core_morphologies/tile.rs``).
``projector_xy`` / ``_xz`` / ``_yz``, ``lateral_pairs_x`` (functions of the Python FEAGI)
    Swap the named source axes, then project (feagi/feagi ``syn_projector(transpose=...)``);
    x-neighbour pairs 0<->1, 2<->3, ... (feagi/feagi ``synaptogenesis_rules.py``). FEAGI's
    current engine builds neither (the builder follows it); they stay here for direct use.

:func:`function_terms` raises ``UnsupportedMorphologyError`` for any other function name
(the builder decides what FEAGI does with those: :mod:`.builder`).

Where FEAGI's two implementations disagree this module follows feagi-core's engine: the
Python pattern matcher lets a destination ``"*"`` ignore the source token on that axis,
which feagi-core's matcher (followed here) does not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, Union

import numpy as np

from .errors import GeneTypeError, GeneValueError, UnsupportedMorphologyError

Shape = tuple[int, int, int]

#: Pattern tokens in canonical form: a tuple whose first item names the kind.
#: ("*",) any, ("?",) same as source, ("!",) all but source, ("=", n) exact,
#: (">",) (">=",) ("<",) ("<=",) relative to source, ("+", n) offset,
#: ("rel", lo, hi) relative inclusive range, ("abs", lo, hi) absolute inclusive range.
PatternToken = tuple

#: Function morphologies of FEAGI 2.6.10's engine whose rule this module builds (feagi-core
#: ``crates/feagi-brain-development/src/connectivity/core_morphologies/``).
FEAGI_FUNCTIONS = frozenset(
    {"projector", "block_to_block", "last_to_first", "first_to_last", "sweeper", "rotator_z"}
    | {f"bitmask_{kind}_{axis}" for kind in ("encoder", "decoder") for axis in "xyz"}
)
#: Function morphologies that this module builds: FEAGI's, and older Python FEAGI rules
#: (``projector_xy``/``_xz``/``_yz``, ``lateral_pairs_x``) that FEAGI's current engine no longer
#: builds (the genome builder follows the engine; these stay available for direct use).
SUPPORTED_FUNCTIONS = FEAGI_FUNCTIONS | frozenset(
    {"projector_xy", "projector_xz", "projector_yz", "lateral_pairs_x"})

# Axis permutations of the transposing projectors: destination axis i takes its
# coordinate from source axis _TRANSPOSE[name][i] (feagi/feagi syn_projector).
_TRANSPOSE = {
    "projector": (0, 1, 2),
    "projector_xy": (1, 0, 2),
    "projector_xz": (2, 1, 0),
    "projector_yz": (0, 2, 1),
}

_RE_INT = re.compile(r"^[+-]?\d+$")
_RE_ABS_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")
_RE_OFFSET = re.compile(r"^\?([+-]\d+)$")
_RE_REL_RANGE = re.compile(r"^\?([+-]\d+):\?([+-]\d+)$")
# A pattern coordinate beyond this is certainly outside any area; capping keeps
# the interval arithmetic in int64 for absurd genome values.
_COORD_CAP = 2**40


# --------------------------------------------------------------------------- tokens


def parse_pattern_token(value: object, path: str) -> PatternToken:
    """Canonical form of one pattern coordinate (int or string token), see :data:`PatternToken`.

    ``value`` is an integer >= 0 (an integral float is accepted), an integer in a string, or one
    of the tokens listed in the module docstring (feagi-core ``rules/patterns.rs``); coordinates
    and offsets beyond +-2**40 are capped there (outside any area anyway). ``path`` is the key
    path used in errors. Raises :class:`~.errors.GeneTypeError` for a bool, a non-integral or
    non-finite float, or another type; :class:`~.errors.GeneValueError` for a negative integer
    or an unknown token.
    """
    if isinstance(value, bool):
        raise GeneTypeError(f"pattern coordinate must be an integer or token, got {value!r}", path)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise GeneTypeError(f"pattern coordinate must be an integer, got {value!r}", path)
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise GeneValueError(f"pattern coordinate must be >= 0, got {value}", path)
        return ("=", min(value, _COORD_CAP))
    if not isinstance(value, str):
        raise GeneTypeError(f"pattern coordinate must be an integer or token, got {value!r}", path)
    text = value.strip()
    simple = {"*": ("*",), "?": ("?",), "!": ("!",), "?+": (">",), "?-": ("<",),
              "?+=": (">=",), "?-=": ("<=",)}
    if text in simple:
        return simple[text]
    if _RE_INT.match(text):
        return parse_pattern_token(int(text), path)
    m = _RE_ABS_RANGE.match(text)
    if m:
        return ("abs", _cap(int(m.group(1))), _cap(int(m.group(2))))
    m = _RE_REL_RANGE.match(text)
    if m:
        return ("rel", _cap(int(m.group(1))), _cap(int(m.group(2))))
    m = _RE_OFFSET.match(text)
    if m:
        return ("+", _cap(int(m.group(1))))
    raise GeneValueError(f"unknown pattern token {value!r} (expected an integer, '*', '?', "
                         "'!', '?+', '?-', '?+=', '?-=', '?+N', '?-A:?+B' or 'N..M')", path)


def _cap(v: int) -> int:
    return max(-_COORD_CAP, min(_COORD_CAP, v))


def token_text(token: PatternToken) -> str:
    """The genome spelling of a canonical token (for messages and round trips).

    Inverse of :func:`parse_pattern_token` up to spelling (``"07"`` comes back as ``"7"``).
    """
    kind = token[0]
    if kind == "=":
        return str(token[1])
    names = {"*": "*", "?": "?", "!": "!", ">": "?+", "<": "?-", ">=": "?+=", "<=": "?-="}
    if kind in names:
        return names[kind]
    if kind == "+":
        return f"?{token[1]:+d}"
    if kind == "rel":
        return f"?{token[1]:+d}:?{token[2]:+d}"
    return f"{token[1]}..{token[2]}"


# ------------------------------------------------------------------------ axis maps


class AxisMap(Protocol):
    """Relation between coordinates of one source axis and one destination axis."""

    src_axis: int

    def count(self) -> int:
        """Number of (source coordinate, destination coordinate) pairs."""
        ...

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The pairs as two int64 arrays (source coordinates, destination coordinates)."""
        ...


@dataclass(frozen=True)
class OffsetAxis:
    """``d = s + offset`` for every source coordinate whose image is inside the destination."""

    src_axis: int
    src_dim: int
    dst_dim: int
    offset: int

    def _range(self) -> tuple[int, int]:
        lo = max(0, -self.offset)
        hi = min(self.src_dim, self.dst_dim - self.offset)
        return lo, max(lo, hi)

    def count(self) -> int:
        """Source coordinates whose image ``s + offset`` lies in ``[0, dst_dim)``."""
        lo, hi = self._range()
        return hi - lo

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(s, s + offset)`` as two int64 arrays of length :meth:`count`, ascending."""
        lo, hi = self._range()
        s = np.arange(lo, hi, dtype=np.int64)
        return s, s + self.offset


@dataclass(frozen=True)
class ProjectAxis:
    """One axis of FEAGI's projector, float32 arithmetic as in feagi-core."""

    src_axis: int
    src_dim: int
    dst_dim: int

    def count(self) -> int:
        """``max(src_dim, dst_dim)``: one pair per coordinate of the larger side (an upper
        bound should float32 rounding push an image past the end, which :meth:`pairs` drops)."""
        # Many-to-one: every source coordinate has one image; one-to-many: every
        # destination coordinate has one preimage; equal: identity.
        return max(self.src_dim, self.dst_dim)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, destination) coordinates as two int64 arrays, ascending along the larger
        side; ratios and divisions in float32 (feagi-core ``calculate_axis_projection``)."""
        sd, dd = self.src_dim, self.dst_dim
        if sd == dd:
            s = np.arange(sd, dtype=np.int64)
            return s, s.copy()
        if sd > dd:
            ratio = np.float32(sd) / np.float32(dd)
            s = np.arange(sd, dtype=np.int64)
            d = (s.astype(np.float32) / ratio).astype(np.int64)
            keep = d < dd  # feagi-core drops images beyond the destination
            return s[keep], d[keep]
        ratio = np.float32(dd) / np.float32(sd)
        d = np.arange(dd, dtype=np.int64)
        s = (d.astype(np.float32) / ratio).astype(np.int64)
        keep = s < sd
        return s[keep], d[keep]


@dataclass(frozen=True)
class PairsAxis:
    """An explicit, small list of coordinate pairs (lateral_pairs_x, last_to_first)."""

    src_axis: int
    src: tuple[int, ...]
    dst: tuple[int, ...]

    def count(self) -> int:
        """Number of listed pairs (not checked against the area dimensions)."""
        return len(self.src)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` as two int64 arrays, in the order given."""
        return np.asarray(self.src, dtype=np.int64), np.asarray(self.dst, dtype=np.int64)


@dataclass(frozen=True)
class ClampAxis:
    """``d = min(s, dst_dim - 1)`` for every source coordinate: the axes a bitmask morphology
    does not code (feagi-core ``core_morphologies/bitmask.rs`` clamps them into the
    destination)."""

    src_axis: int
    src_dim: int
    dst_dim: int

    def count(self) -> int:
        """One pair per source coordinate."""
        return self.src_dim

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(s, min(s, dst_dim - 1))`` as two int64 arrays, ascending by source."""
        s = np.arange(self.src_dim, dtype=np.int64)
        return s, np.minimum(s, self.dst_dim - 1)


# A destination interval [lo(s), hi(s)) for source coordinate s, with lo and hi of
# the form ``slope * s + offset`` (slope 0 or 1): (lo_slope, lo_offset, hi_slope, hi_offset).
_Interval = tuple[int, int, int, int]


def _token_intervals(tok: PatternToken, dst_dim: int) -> list[_Interval]:
    """The destination intervals of a destination token (before clipping to the area)."""
    kind, dd = tok[0], dst_dim
    if kind == "*":
        return [(0, 0, 0, dd)]
    if kind == "?":
        return [(1, 0, 1, 1)]
    if kind == "!":
        return [(0, 0, 1, 0), (1, 1, 0, dd)]
    if kind == "=":
        return [(0, tok[1], 0, tok[1] + 1)]
    if kind == ">":
        return [(1, 1, 0, dd)]
    if kind == "<":
        return [(0, 0, 1, 0)]
    if kind == ">=":
        return [(1, 0, 0, dd)]
    if kind == "<=":
        return [(0, 0, 1, 1)]
    if kind == "+":
        return [(1, tok[1], 1, tok[1] + 1)]
    if kind == "rel":
        return [(1, tok[1], 1, tok[2] + 1)]
    return [(0, tok[1], 0, tok[2] + 1)]  # "abs"


def _sum_positive(n: int, g0: int, k: int) -> int:
    """``sum(max(0, g0 + k*i) for i in range(n))`` for slope ``k`` in {-1, 0, 1}, in O(1)."""
    if n <= 0:
        return 0
    if k == 0:
        return max(0, g0) * n
    if k == 1:
        i0 = max(0, 1 - g0)  # first index with a positive term
        if i0 >= n:
            return 0
        first, last = g0 + i0, g0 + n - 1
        return (first + last) * (n - i0) // 2
    m = min(n, max(0, g0))  # k == -1: the first m terms are positive
    return (g0 + (g0 - m + 1)) * m // 2


def _interval_total(a: int, b: int, iv: _Interval, dd: int) -> int:
    """Sum over s in [a, b) of |[lo(s), hi(s)) ∩ [0, dd)|, piecewise-linear in O(1)."""
    al, cl, ah, ch = iv
    cuts = {a, b}
    if ah:
        cuts.add(dd - ch)  # hi(s) reaches the area's end here
    if al:
        cuts.add(-cl)  # lo(s) leaves 0 here
    points = sorted(p for p in cuts if a <= p <= b)
    total = 0
    for u, v in zip(points, points[1:], strict=False):
        hi_u, lo_u = ah * u + ch, al * u + cl
        hi_clipped, lo_clipped = hi_u >= dd, lo_u < 0
        g0 = (dd if hi_clipped else hi_u) - (0 if lo_clipped else lo_u)
        slope = (0 if hi_clipped else ah) - (0 if lo_clipped else al)
        total += _sum_positive(v - u, g0, slope)
    return total


@dataclass(frozen=True)
class TokenAxis:
    """One axis of a pattern: a source token selects coordinates, a destination token maps them.

    For every source coordinate the destination set is at most two intervals whose
    ends move linearly with the source coordinate, so the pair count is closed-form
    (no work proportional to the axis length) and generation is a vectorised
    "ragged arange".
    """

    src_axis: int
    src_dim: int
    dst_dim: int
    src_token: PatternToken
    dst_token: PatternToken

    def _src_range(self) -> tuple[int, int]:
        tok, n = self.src_token, self.src_dim
        if tok[0] == "=":
            return (tok[1], tok[1] + 1) if tok[1] < n else (0, 0)
        if tok[0] == "abs":
            lo, hi = max(tok[1], 0), min(tok[2] + 1, n)
            return (lo, hi) if lo < hi else (0, 0)
        return 0, n  # '*', '?' and relative tokens match any source coordinate

    def count(self) -> int:
        """Exact pair count in closed form (no work proportional to the axis length)."""
        a, b = self._src_range()
        return sum(_interval_total(a, b, iv, self.dst_dim)
                   for iv in _token_intervals(self.dst_token, self.dst_dim))

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, destination) coordinates as two int64 arrays of length :meth:`count`,
        destinations clipped to ``[0, dst_dim)``; grouped per destination interval."""
        a, b = self._src_range()
        s = np.arange(a, b, dtype=np.int64)
        src_parts, dst_parts = [], []
        for al, cl, ah, ch in _token_intervals(self.dst_token, self.dst_dim):
            lo = np.clip(al * s + cl, 0, self.dst_dim)
            hi = np.clip(ah * s + ch, 0, self.dst_dim)
            src_i, dst_i = _ragged(s, lo, np.maximum(hi - lo, 0))
            src_parts.append(src_i)
            dst_parts.append(dst_i)
        return np.concatenate(src_parts), np.concatenate(dst_parts)


@dataclass(frozen=True)
class LateralPairsAxis:
    """x of ``lateral_pairs_x``: 0<->1, 2<->3, ... (feagi/feagi syn_lateral_pairs_x: an even
    s goes to s+1 when that is inside the source, an odd s to s-1), kept inside the
    destination. Counted in closed form."""

    src_axis: int
    src_dim: int
    dst_dim: int

    def count(self) -> int:
        """Pairs whose partner ``s +- 1`` lies inside both the source and the destination, in
        closed form."""
        evens = min(self.src_dim, self.dst_dim) // 2  # s even, s+1 < both dims
        odd_max = min(self.src_dim - 1, self.dst_dim)  # s odd, s-1 < dst
        return evens + (odd_max + 1) // 2 if odd_max >= 1 else evens

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, destination) x coordinates as two int64 arrays, ascending by source."""
        s = np.arange(self.src_dim, dtype=np.int64)
        d = np.where(s % 2 == 0, s + 1, s - 1)
        keep = (d < self.src_dim) & (d < self.dst_dim)
        return s[keep], d[keep]


def _ragged(values: np.ndarray, starts: np.ndarray,
            lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Repeat ``values[i]`` ``lengths[i]`` times, paired with ``starts[i] + 0..lengths[i]-1``."""
    lengths = lengths.astype(np.int64)
    total = int(lengths.sum())
    rep_values = np.repeat(values, lengths)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    within = np.arange(total, dtype=np.int64) - offsets
    return rep_values, np.repeat(starts, lengths) + within


# ---------------------------------------------------------------------------- terms


@dataclass(frozen=True)
class SeparableTerm:
    """Cartesian product of three axis relations; ``axes[i]`` feeds destination axis ``i``."""

    axes: tuple[AxisMap, AxisMap, AxisMap]

    def count(self) -> int:
        """Voxel pairs of this term (exact; a union of terms may overlap)."""
        result = 1
        for axis in self.axes:
            c = axis.count()
            if c == 0:
                return 0
            result *= c
        return result


@dataclass(frozen=True)
class VoxelListTerm:
    """A morphology that is not separable per axis (``sweeper``, ``rotator_z``): its voxel pairs
    are generated when built. ``bound`` is an upper bound of the pair count, known without
    generating them (the memory estimate uses it); ``generate`` returns ``(src_xyz, dst_xyz)``,
    two int64 arrays of shape ``(n, 3)``, every destination inside the destination area."""

    bound: int
    generate: Callable[[], tuple[np.ndarray, np.ndarray]]

    def count(self) -> int:
        """Upper bound of the pairs (exact count needs :attr:`generate`)."""
        return self.bound


#: What a morphology is made of: separable terms, or generated voxel lists.
Term = Union[SeparableTerm, VoxelListTerm]


def vectors_terms(vectors: Sequence[Sequence[int]], scalar: Sequence[int],
                  src_shape: Shape, dst_shape: Shape) -> list[SeparableTerm]:
    """One term per vector: offset ``v[i] * scalar[i]`` on each axis.

    ``vectors`` are (x, y, z) integer offsets, ``scalar`` the rule's ``morphology_scalar``
    (feagi/feagi ``synaptogenesis_rules.py`` ``match_vectors``), shapes the (x, y, z) voxel
    dimensions of the source and destination areas. Returns ``len(vectors)`` terms; images
    outside the destination are dropped by the axes.
    """
    terms = []
    for v in vectors:
        axes = tuple(OffsetAxis(i, src_shape[i], dst_shape[i], int(v[i]) * int(scalar[i]))
                     for i in range(3))
        terms.append(SeparableTerm(axes))  # type: ignore[arg-type]
    return terms


def pattern_terms(patterns: Sequence[tuple[Sequence[PatternToken], Sequence[PatternToken]]],
                  src_shape: Shape, dst_shape: Shape) -> list[SeparableTerm]:
    """One term per ``[src_pattern, dst_pattern]`` pair (canonical tokens).

    Each side holds three tokens from :func:`parse_pattern_token`; shapes are the (x, y, z)
    voxel dimensions of the source and destination areas. ``morphology_scalar`` does not
    apply (FEAGI ignores it for patterns). Returns ``len(patterns)`` terms.
    """
    terms = []
    for src_pat, dst_pat in patterns:
        axes = tuple(TokenAxis(i, src_shape[i], dst_shape[i], src_pat[i], dst_pat[i])
                     for i in range(3))
        terms.append(SeparableTerm(axes))  # type: ignore[arg-type]
    return terms


def projector_term(src_shape: Shape, dst_shape: Shape,
                   transpose: tuple[int, int, int] = (0, 1, 2)) -> SeparableTerm:
    """FEAGI's projector; ``transpose[i]`` is the source axis feeding destination axis ``i``.

    One :class:`ProjectAxis` per destination axis (feagi-core ``rules/projector.rs``; the
    transposes follow feagi/feagi ``syn_projector``). Shapes are (x, y, z) voxel dimensions.
    """
    axes = tuple(ProjectAxis(transpose[i], src_shape[transpose[i]], dst_shape[i])
                 for i in range(3))
    return SeparableTerm(axes)  # type: ignore[arg-type]


def function_terms(name: str, src_shape: Shape, dst_shape: Shape, path: str = "") -> list[Term]:
    """Terms of a ``functions`` morphology by name.

    ``name`` is one of :data:`SUPPORTED_FUNCTIONS` (semantics in the module docstring);
    shapes are the (x, y, z) voxel dimensions of the source and destination areas; ``path``
    is the key path for the error. Returns one term. Raises
    :class:`~.errors.UnsupportedMorphologyError` for any other name (``episodic_memory``,
    ``randomizer``, ``expander_x``, ``reducer_x``, unknown names).
    """
    if name in _TRANSPOSE:
        return [projector_term(src_shape, dst_shape, _TRANSPOSE[name])]
    if name == "block_to_block":
        return vectors_terms([(0, 0, 0)], (1, 1, 1), src_shape, dst_shape)
    if name == "lateral_pairs_x":
        x_axis = LateralPairsAxis(0, src_shape[0], dst_shape[0])
        y_axis = OffsetAxis(1, src_shape[1], dst_shape[1], 0)
        z_axis = OffsetAxis(2, src_shape[2], dst_shape[2], 0)
        return [SeparableTerm((x_axis, y_axis, z_axis))]
    if name == "last_to_first":
        axes = tuple(PairsAxis(i, (src_shape[i] - 1,), (0,)) for i in range(3))
        return [SeparableTerm(axes)]  # type: ignore[arg-type]
    if name == "first_to_last":
        axes = tuple(PairsAxis(i, (0,), (dst_shape[i] - 1,)) for i in range(3))
        return [SeparableTerm(axes)]  # type: ignore[arg-type]
    if name.startswith("bitmask_") and name in FEAGI_FUNCTIONS:
        return [bitmask_term(src_shape, dst_shape, "xyz".index(name[-1]),
                             name.startswith("bitmask_encoder"))]
    if name == "sweeper":
        return [sweeper_term(src_shape, dst_shape)]
    if name == "rotator_z":
        return [rotator_z_term(src_shape, dst_shape)]
    raise UnsupportedMorphologyError(
        f"function morphology {name!r} is not supported (supported: "
        f"{', '.join(sorted(SUPPORTED_FUNCTIONS))})", path)


def _bit_set_msb(value: np.ndarray, bit_from_msb: np.ndarray, width: int) -> np.ndarray:
    """Whether bit ``bit_from_msb`` (counted from the most significant of ``width`` bits) of
    ``value`` is set; bits beyond 32 are never set (feagi-core ``bitmask.rs bit_is_set_msb``)."""
    lsb = width - 1 - bit_from_msb
    ok = (bit_from_msb < width) & (lsb >= 0) & (lsb < 32)
    return ok & (((value >> np.where(ok, lsb, 0)) & 1) == 1)


def bitmask_term(src_shape: Shape, dst_shape: Shape, axis: int, encoder: bool) -> SeparableTerm:
    """``bitmask_encoder_<axis>`` / ``bitmask_decoder_<axis>`` (feagi-core
    ``core_morphologies/bitmask.rs``), bits counted from the most significant one.

    Encoder: source coordinate ``s`` on ``axis`` is bit ``s`` of a ``src_dim``-bit number; it
    reaches every destination coordinate whose value has that bit set. Decoder: source
    coordinate ``s`` is a number; it reaches destination coordinate ``d`` when bit ``d`` of a
    ``dst_dim``-bit ``s`` is set. The other two axes are clamped into the destination
    (:class:`ClampAxis`). Shapes are (x, y, z) voxel dimensions.
    """
    n_src, n_dst = src_shape[axis], dst_shape[axis]
    s = np.arange(n_src, dtype=np.int64)[:, None]
    d = np.arange(n_dst, dtype=np.int64)[None, :]
    hit = _bit_set_msb(d, s, n_src) if encoder else _bit_set_msb(s, d, n_dst)
    src_i, dst_i = np.nonzero(hit)
    coded = PairsAxis(axis, tuple(src_i.tolist()), tuple(dst_i.tolist()))
    axes = tuple(coded if i == axis else ClampAxis(i, src_shape[i], dst_shape[i])
                 for i in range(3))
    return SeparableTerm(axes)  # type: ignore[arg-type]


def _all_voxels(shape: Shape) -> np.ndarray:
    """Every voxel of an area as an ``(n, 3)`` int64 array, in the connectome's order."""
    grid = np.indices(shape, dtype=np.int64).reshape(3, -1)
    return grid.T.copy()


def sweeper_term(src_shape: Shape, dst_shape: Shape) -> VoxelListTerm:
    """FEAGI's ``sweeper`` (feagi-core ``core_morphologies/sweeper.rs``): every source voxel,
    clamped into the destination, reaches the next destination voxel in x-major order (+1 in x,
    else x = 0 and +1 in y, else x = y = 0 and +1 in z; none after the last voxel)."""

    def generate() -> tuple[np.ndarray, np.ndarray]:
        src = _all_voxels(src_shape)
        dims = np.asarray(dst_shape, dtype=np.int64)
        c = np.minimum(src, dims - 1)
        x, y, z = c[:, 0], c[:, 1], c[:, 2]
        step_x = x + 1 < dims[0]
        step_y = ~step_x & (y + 1 < dims[1])
        step_z = ~step_x & ~step_y & (z + 1 < dims[2])
        dst = np.stack([np.where(step_x, x + 1, 0),
                        np.where(step_x, y, np.where(step_y, y + 1, 0)),
                        np.where(step_x | step_y, z, z + 1)], axis=1)
        keep = step_x | step_y | step_z
        return src[keep], dst[keep]

    return VoxelListTerm(voxel_count(src_shape), generate)


def _round_half_away(v: np.ndarray) -> np.ndarray:
    """Rust's ``f64::round``: halves away from zero (numpy's ``rint`` rounds them to even)."""
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def rotator_z_term(src_shape: Shape, dst_shape: Shape) -> VoxelListTerm:
    """FEAGI's ``rotator_z`` (feagi-core ``connectivity/rules/rotator_z.rs syn_rotator_z``).

    Every source voxel (its z ignored) is scaled into the destination's xy extent, then rotated
    about the destination's xy centre once per destination z layer, layer ``k`` by
    ``-90 + 180 * k / (depth - 1)`` degrees (0 for a single layer), clockwise positive;
    coordinates are rounded half away from zero and dropped outside the destination. float64
    arithmetic in FEAGI's order of operations.
    """
    sw, sh, _ = src_shape
    dw, dh, dd = dst_shape

    def generate() -> tuple[np.ndarray, np.ndarray]:
        src = _all_voxels(src_shape)
        sw_span, sh_span = float(max(sw - 1, 1)), float(max(sh - 1, 1))
        dw_span, dh_span = float(max(dw - 1, 1)), float(max(dh - 1, 1))
        base_x = src[:, 0].astype(np.float64) / sw_span * dw_span
        base_y = src[:, 1].astype(np.float64) / sh_span * dh_span
        cx, cy = dw_span / 2.0, dh_span / 2.0
        dx, dy = base_x - cx, base_y - cy
        src_parts, dst_parts = [], []
        for k in range(dd):
            angle = 0.0 if dd <= 1 else -90.0 + 180.0 * (k / (dd - 1))
            t = math.radians(angle)
            cos_t, sin_t = math.cos(t), math.sin(t)
            rx = _round_half_away(cx + cos_t * dx + sin_t * dy)
            ry = _round_half_away(cy - sin_t * dx + cos_t * dy)
            keep = (rx >= 0) & (rx < dw) & (ry >= 0) & (ry < dh)
            src_parts.append(src[keep])
            dst_parts.append(np.stack([rx[keep].astype(np.int64), ry[keep].astype(np.int64),
                                       np.full(int(keep.sum()), k, np.int64)], axis=1))
        return np.concatenate(src_parts), np.concatenate(dst_parts)

    return VoxelListTerm(voxel_count(src_shape) * dd, generate)


def tile_term(src_shape: Shape, dst_shape: Shape) -> SeparableTerm:
    """FEAGI's ``tile`` composite (feagi-core ``core_morphologies/tile.rs``).

    A source with more voxels than the destination folds into it (``d = s mod dst_dim`` per
    axis); otherwise the source is repeated across the destination (``d = s + k * src_dim`` for
    every ``k`` that stays inside). Shapes are (x, y, z) voxel dimensions.
    """
    fold = voxel_count(src_shape) > voxel_count(dst_shape)
    axes = []
    for i in range(3):
        n_src, n_dst = src_shape[i], dst_shape[i]
        if fold:
            src_c = list(range(n_src))
            dst_c = [c % n_dst for c in src_c]
        else:
            src_c = [c for c in range(n_src) for k in range(-(-n_dst // n_src))
                     if c + k * n_src < n_dst]
            dst_c = [c + k * n_src for c in range(n_src) for k in range(-(-n_dst // n_src))
                     if c + k * n_src < n_dst]
        axes.append(PairsAxis(i, tuple(src_c), tuple(dst_c)))
    return SeparableTerm(tuple(axes))  # type: ignore[arg-type]


def voxel_count(shape: Shape) -> int:
    """Voxels of an area of (x, y, z) dimensions ``shape``: their product."""
    return shape[0] * shape[1] * shape[2]


def voxel_pairs(terms: Sequence[Term], src_shape: Shape,
                dst_shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Union of the terms as linear voxel indices ``(src, dst)``, int64, unique.

    Linear index of voxel ``(x, y, z)`` is ``(x * dim_y + y) * dim_z + z`` (the
    connectome's numbering). Pairs are sorted by source voxel, then destination
    voxel, so the result does not depend on the order of vectors or patterns.
    """
    n_dst = voxel_count(dst_shape)
    src_strides = (src_shape[1] * src_shape[2], src_shape[2], 1)
    dst_strides = (dst_shape[1] * dst_shape[2], dst_shape[2], 1)
    keys = []
    for term in terms:
        if term.count() == 0:
            continue
        if isinstance(term, VoxelListTerm):
            src_xyz, dst_xyz = term.generate()
            keys.append((src_xyz @ np.asarray(src_strides, np.int64)) * n_dst
                        + dst_xyz @ np.asarray(dst_strides, np.int64))
            continue
        src_lin = np.zeros((1, 1, 1), dtype=np.int64)
        dst_lin = np.zeros((1, 1, 1), dtype=np.int64)
        for i, axis in enumerate(term.axes):
            s, d = axis.pairs()
            shape = [1, 1, 1]
            shape[i] = s.size
            src_lin = src_lin + (s * src_strides[axis.src_axis]).reshape(shape)
            dst_lin = dst_lin + (d * dst_strides[i]).reshape(shape)
        src_lin, dst_lin = np.broadcast_arrays(src_lin, dst_lin)
        keys.append((src_lin * n_dst + dst_lin).ravel())
    if not keys:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    # np.unique sorts and removes pairs created by more than one vector/pattern:
    # FEAGI creates each (source, destination) synapse once per mapping.
    key = np.unique(np.concatenate(keys) if len(keys) > 1 else keys[0])
    return key // n_dst, key % n_dst
