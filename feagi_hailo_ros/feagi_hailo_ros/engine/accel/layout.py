"""How one projection's 0/1 adjacency becomes an accelerator layer: Conv2D or dense.

A projection is a **convolution** when its source and destination areas have the same x
and y extent and the adjacency is *exactly* translation invariant: there is a set of taps
``(c_dst, c_src, ox, oy)`` such that destination neuron ``(x, y, c_dst)`` receives one
synapse from source neuron ``(x + ox, y + oy, c_src)`` for every tap whose source lies
inside the area, and no other synapse. Channels are ``z * neurons_per_voxel + k`` on both
sides (the area's channels-last order, see ``core/connectome.py``), so neurons of a voxel
fold into channels. Synapses that would leave the area are simply absent (FEAGI drops them),
which is exactly a zero-padded convolution: boundary clipping is part of the definition,
not an exception to it.

The test is exact and cheap: with no duplicate synapses, each tap must occur at precisely
``(X - |ox|) * (Y - |oy|)`` destinations (every in-bounds position). Anything else (a
projector between areas of different size, a random sample of synapses, parity-dependent
pairs) is a **dense** layer, ``(n_src, n_dst)`` entries.

Weights are counts of synapses between a pair of neurons: 0/1 for every genome-built
projection (morphologies create each pair once), an integer > 1 only if a projection lists
a pair twice, which the dense layout represents as that integer (still exact in INT8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.connectome import AreaSpec, Connectome

CONV = "conv"
GEMM = "gemm"


@dataclass(frozen=True, eq=False)
class ProjectionLayout:
    """The accelerator layer of one projection (see the module docstring).

    Shapes are channels-last frames, as in :mod:`.manifest`: ``(X, Y, C)`` for a
    convolution, ``(n,)`` for a dense layer. ``kind`` is :data:`CONV` or :data:`GEMM`.
    """

    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    #: Weights of the compiled layer: ``C_dst * C_src * kh * kw`` or ``n_src * n_dst``.
    weight_count: int
    #: Largest number of synapses onto one destination neuron (duplicates counted).
    max_fan_in: int
    #: Conv only: kernel half-widths ``(rx, ry)``; the kernel is ``(2rx+1, 2ry+1)``.
    radius: tuple[int, int] = (0, 0)
    #: Conv only: ``(T, 4)`` int64 rows ``(c_dst, c_src, ox, oy)``.
    taps: np.ndarray | None = None
    #: Why the projection is not a convolution ("" for conv).
    why_not_conv: str = ""


def channels(area: AreaSpec) -> int:
    """Channels of an area's conv frame: ``dims[2] * neurons_per_voxel`` (z and the neurons
    of a voxel)."""
    return area.dims[2] * area.neurons_per_voxel


def frame_shape(area: AreaSpec, kind: str) -> tuple[int, ...]:
    """Channels-last frame of an area in a layout: ``(X, Y, C)`` for :data:`CONV`, ``(n,)``
    (the area's neuron count) for any other ``kind``."""
    if kind == CONV:
        return (area.dims[0], area.dims[1], channels(area))
    return (area.neuron_count,)


def max_fan_in(post: np.ndarray, n_dst: int) -> int:
    """Largest in-degree of a destination neuron (0 for no synapses).

    ``post`` holds area-local destination indices in ``0 .. n_dst - 1`` (duplicates count
    twice); a negative index raises ``ValueError`` (``np.bincount``).
    """
    post = np.asarray(post, dtype=np.int64)
    return int(np.bincount(post, minlength=n_dst).max()) if post.size else 0


def projection_layout(connectome: Connectome, projection: int) -> ProjectionLayout:
    """Decide conv vs dense for one projection and size its layer.

    Conv when the adjacency is exactly translation invariant over equal x, y extents (module
    docstring), with a symmetric kernel of half-widths ``radius``; dense otherwise, with
    ``why_not_conv`` saying why. Raises ``IndexError`` for a projection index out of range.
    """
    proj = connectome.projections[projection]
    src, dst = connectome.areas[proj.src_area], connectome.areas[proj.dst_area]
    pre = np.asarray(proj.pre, dtype=np.int64)
    post = np.asarray(proj.post, dtype=np.int64)
    fan_in = max_fan_in(post, dst.neuron_count)
    taps, why = _conv_taps(src, dst, pre, post)
    if taps is None:
        return ProjectionLayout(
            kind=GEMM, in_shape=frame_shape(src, GEMM), out_shape=frame_shape(dst, GEMM),
            weight_count=src.neuron_count * dst.neuron_count, max_fan_in=fan_in,
            why_not_conv=why)
    rx = int(np.abs(taps[:, 2]).max())
    ry = int(np.abs(taps[:, 3]).max())
    # A symmetric ("same") kernel: every padding scheme compilers accept, at the cost of
    # zero taps when the offsets are one-sided.
    weights = channels(dst) * channels(src) * (2 * rx + 1) * (2 * ry + 1)
    return ProjectionLayout(
        kind=CONV, in_shape=frame_shape(src, CONV), out_shape=frame_shape(dst, CONV),
        weight_count=weights, max_fan_in=fan_in, radius=(rx, ry), taps=taps)


def _split(local: np.ndarray, area: AreaSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, channel) of area-local neuron indices (index = (x*Y + y)*C + c)."""
    c = channels(area)
    dy = area.dims[1]
    return local // (dy * c), (local // c) % dy, local % c


def _conv_taps(src: AreaSpec, dst: AreaSpec, pre: np.ndarray,
               post: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The taps of a translation-invariant adjacency, or (None, why not)."""
    if pre.size == 0:
        return None, "no synapses"
    if src.dims[:2] != dst.dims[:2]:
        return None, (f"source x,y {src.dims[:2]} differ from destination x,y {dst.dims[:2]}")
    xs, ys, cs = _split(pre, src)
    xd, yd, cd = _split(post, dst)
    n_src = src.neuron_count
    pairs = post * n_src + pre
    if np.unique(pairs).size != pairs.size:
        return None, "duplicate synapses (a weight > 1)"
    ox, oy = xs - xd, ys - yd
    big_x, big_y = src.dims[0], src.dims[1]
    # Encode the tap (cd, cs, ox, oy) as one integer so np.unique counts it in one pass.
    c_src = channels(src)
    key = ((cd * c_src + cs) * (2 * big_x - 1) + (ox + big_x - 1)) * (2 * big_y - 1) + (oy + big_y - 1)
    keys, counts = np.unique(key, return_counts=True)
    oy_t = keys % (2 * big_y - 1) - (big_y - 1)
    rest = keys // (2 * big_y - 1)
    ox_t = rest % (2 * big_x - 1) - (big_x - 1)
    rest = rest // (2 * big_x - 1)
    cs_t, cd_t = rest % c_src, rest // c_src
    expected = (big_x - np.abs(ox_t)) * (big_y - np.abs(oy_t))
    short = counts != expected
    if short.any():
        i = int(np.flatnonzero(short)[0])
        return None, (f"not translation invariant: offset ({int(ox_t[i])}, {int(oy_t[i])}) "
                      f"channel {int(cs_t[i])}->{int(cd_t[i])} occurs at {int(counts[i])} of "
                      f"{int(expected[i])} positions")
    return np.stack([cd_t, cs_t, ox_t, oy_t], axis=1).astype(np.int64), ""


def conv_kernel(layout: ProjectionLayout) -> np.ndarray:
    """ONNX ``Conv`` weight ``(C_dst, C_src, kh, kw)`` float32 of 0/1 for a conv layout.

    ONNX convolution is a cross-correlation over the zero-padded input: with pads ``r``,
    ``y[o, i, j] = sum W[o, c, u, v] * x[c, i + u - rx, j + v - ry]``; the tap at source
    offset ``(ox, oy)`` therefore sits at ``u = ox + rx``, ``v = oy + ry``.
    Raises ``ValueError`` for a layout that is not a convolution.
    """
    if layout.kind != CONV or layout.taps is None:
        raise ValueError("conv_kernel needs a conv layout")
    rx, ry = layout.radius
    kernel = np.zeros((layout.out_shape[2], layout.in_shape[2], 2 * rx + 1, 2 * ry + 1),
                      dtype=np.float32)
    t = layout.taps
    kernel[t[:, 0], t[:, 1], t[:, 2] + rx, t[:, 3] + ry] = 1.0
    return kernel


def dense_matrix(connectome: Connectome, projection: int) -> np.ndarray:
    """``(n_src, n_dst)`` float32 synapse counts, so ``y = x @ M`` (ONNX ``MatMul``).

    Entry ``[i, j]`` counts the synapses from source neuron ``i`` to destination neuron ``j``
    (0/1 for genome-built projections). Allocates ``4 * n_src * n_dst`` bytes.
    """
    proj = connectome.projections[projection]
    n_src = connectome.areas[proj.src_area].neuron_count
    n_dst = connectome.areas[proj.dst_area].neuron_count
    matrix = np.zeros((n_src, n_dst), dtype=np.float32)
    np.add.at(matrix, (np.asarray(proj.pre, np.int64), np.asarray(proj.post, np.int64)), 1.0)
    return matrix
