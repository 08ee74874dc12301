"""Event-driven Numba kernels of the CPU burst engine.

Precision: potentials, thresholds and the input accumulator are float32, and
input is summed one contribution at a time in float32, as FEAGI's engine does
(recording ``min_fsum``: 12 x float32(1/12) = 0.99999988, below a threshold of
1). The order is therefore part of the semantics; it is one canonical order
(rule 2 below), the same in every backend. No ``fastmath``: the NumPy
reference must agree bit for bit.

Data layout
-----------
* Synapses: one CSR per distinct delay; rows = global source neuron. A
  row's synapses are ``(target int32, signed weight float32)`` pairs stored
  interleaved in one ``(S, 2)`` int32 array (``syn``, with ``synf`` its
  float32 view), so a fired neuron's row is one contiguous run of memory:
  one cache miss where two parallel arrays would cost two. Row offsets are
  int32 when they fit. :func:`propagate` software-prefetches row offsets,
  rows and target accumulators a few spikes ahead (see
  ``PREFETCH_DISTANCE``), which turns delivery from latency-bound into
  mostly overlapped memory traffic.
* Past fired sets are kept by the backend as a ring of flat slots ``(ids int32, psp
  float32)`` per burst (``psp`` = what each spike carries), as deep as the
  longest delay.
* Candidates are a bitset (one bit per neuron, uint64 words): 1M neurons
  take 128 KiB, which stays in L2 while synaptic events set bits at random.
  The dynamics walk the set bits in ascending neuron order, so per-neuron
  state is streamed, not gathered, and clear the words behind them.
* Per-neuron state: ``v`` (float32), ``until`` (int32, last blocked burst),
  ``count`` (int32), ``v_burst`` (int32, burst of the last V write),
  ``acc`` (float32 input accumulator, zeroed as consumed). Burst stamps are
  relative to an epoch the backend advances long before int32 overflows.
  Per-neuron ``theta`` (float32) only matters for areas with threshold
  increments; every other parameter is per area (tiny, cached), indexed by
  ``area_of`` (uint16). The dynamics take all per-neuron arrays as one
  :class:`NeuronArrays` and all per-area parameters as one table of
  :data:`AREA_DTYPE` records, so a new parameter is a field, not a new
  argument threaded through every kernel signature.
* Whole-area injections arrive as disjoint ``[start, stop)`` ranges with a
  value: their candidate bits are set word-wise and the value is added
  during the walk, so driving every neuron costs no scattered writes. When
  ranges cover every neuron, synaptic events skip the bitset altogether.
  Inside a range, whole words of one area with plain rules (no draw, no
  fire limit, per-area threshold, accumulating V) are not walked bit by
  bit: :func:`_dense` updates them in a branch-free loop the compiler
  vectorises, then collects the spikes from byte flags (~5x faster per
  neuron than the walk on the standard benchmark).
* :func:`dynamics_parallel` splits the walk into disjoint word ranges, one
  per thread, running the same ``_walk`` body; results are identical to
  :func:`dynamics` (same spike order after compaction).

Semantics (DESIGN §4), with the decisions the text leaves open
------------------------------------------------------------------
Burst ``t``:

1. ``mp_acc = false`` clears V at the start of every burst. Implemented
   lazily: every write of V happens while processing a candidate, so when
   a candidate is processed at ``t`` its stored V is from an earlier burst
   and reads as 0. ``v_burst`` records the write so that readers between
   bursts (download, checkpoints, the PSP of a forced spike) see 0 for a
   neuron of such an area that was not processed in the last burst.
2. Input ``I_i`` is summed in float32 in this canonical order: point
   injections (in the order given, each rounded to float32), then synaptic
   events by delay ascending, then source neuron id ascending, then the
   source's synapses in connectome order (projection index, then position);
   an integrator's counts ``n`` of a projection are ``n`` additions of its
   contribution at its source area's position in that order (see
   ``backend.ExternalInput``); last the value of a dense range injection.
   Each event adds ``c = float32(sign*w * p_j / div_j)`` (computed in
   float64), where ``p_j`` is the spike's PSP and ``div_j`` is ``j``'s
   outdegree over all projections when its area has ``psp_uniform = false``
   (else 1). ``p_j`` is the area's PSP, or for ``mp_psp`` areas the raw
   ``V_j`` at firing (recording ``min_mppsp``). Two mappings between the
   same areas are two synapses, each with its delay.
   The power area is force-fired every burst by the engine, so it enters
   like any fired set.
3. Candidates (any injection, external event or synaptic event this burst,
   whatever the sign or size) are processed once each, in any order:

   * refractory (``t <= until``): input dropped, nothing else changes;
   * else, lazy rule 4 first: if ``cfc > 0``, ``count >= cfc`` and
     ``r >= 1``, the countdown has expired since the last fire, so
     ``count <- 0``;
   * ``V <- float32(V + float32(max(I, 0)))`` ("clamped", FEAGI), or with
     ``inhibition="subtractive"`` ``V <- max(float32(V + float32(I)), 0)``:
     the floor is the reset potential 0, so inhibition can remove stored
     charge but never pushes V below rest (a negative V would also have no
     meaning as a membrane-driven PSP);
   * if ``theta <= V <= theta_max`` and the excitability draw passes
     (``e >= 0.999`` always passes), in DESIGN's order: if ``cfc > 0`` and
     ``count >= cfc`` the neuron is blocked: ``count <- 0`` and V is kept
     **without leak**; otherwise it fires (``V <- 0``, ``until <- t + r``, or
     ``t + r + snooze`` when this fire brings ``count`` up to ``cfc``,
     ``count += 1`` saturating at 2**31 - 1, spike PSP from the pre-reset V);
   * not fired and not blocked (below threshold, or the draw failed):
     ``V <- float32(V * float32(1 - lambda))`` (``leak_linear``: V moves
     ``lambda`` towards 0) and ``count <- 0`` when ``cfc > 0``.
4. Refractory countdowns tick every burst with or without input: stored as
   the last blocked burst ``until`` (countdown at the start of burst ``s``
   is ``max(until - s + 1, 0)``), so nothing ticks explicitly.
5. Neurons without input are not touched.
6. Forced neurons join the fired set after the dynamics (once, even if
   also fired naturally or forced twice). Their state is left alone,
   except that a refractory countdown does not tick in that burst
   (``until += 1`` while refractory). A forced spike's PSP uses the
   neuron's V as it stands after this burst's processing.

The excitability draw is a stateless hash of ``(seed, neuron id, burst)``:
a SplitMix64 finaliser of ``id*K1 + burst*K2 + seed*K3`` (mod 2**64), top 24
bits scaled to [0, 1). It fires iff ``draw < e``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

# SplitMix64 / golden-ratio constants (public domain), as uint64 so Numba
# keeps the arithmetic in wrapping unsigned 64-bit integers.
_K_ID = np.uint64(0x9E3779B97F4A7C15)
_K_BURST = np.uint64(0xD1B54A32D192ED03)
_K_SEED = np.uint64(0x94D049BB133111EB)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S40 = np.uint64(40)
_INV24 = 1.0 / 16777216.0
_COUNT_MAX = np.int32(2**31 - 1)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_SIX = np.uint64(6)
_NEVER = np.int64(2**62)  # past any neuron index


@intrinsic
def _ctz(typingctx, word):
    """Count trailing zeros of a uint64 (LLVM ``cttz``): index of the lowest set bit."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        i1 = ir.IntType(1)
        fnty = ir.FunctionType(i64, [i64, i1])
        fn = builder.module.declare_intrinsic("llvm.cttz", [i64], fnty)
        # is_zero_poison = false: callers never pass 0, but keep it defined.
        return builder.call(fn, [args[0], ir.Constant(i1, 0)])

    return sig, codegen


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch ``arr[idx]`` into cache (LLVM ``prefetch``; no fault if bad)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, aryty, ary, [args[1]], wraparound=False, boundscheck=False
        )
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])  # fmt: skip
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def excitability_draw(seed: np.uint64, neuron: np.int64, burst: np.int64) -> float:
    """Uniform [0, 1) draw for (seed, neuron, burst); stateless and reproducible.

    ``seed`` is the backend seed as uint64 (two's complement of a negative
    one), ``neuron`` the global neuron id, ``burst`` the absolute burst. The
    returned float64 is a multiple of 2**-24; a neuron above threshold fires
    iff it is below the area's excitability. DESIGN §4 asks for "a stateless
    hash of (neuron id, burst)"; the hash is given in the module docstring,
    and ``reference.excitability_draws`` is its NumPy twin.
    """
    z = np.uint64(neuron) * _K_ID + np.uint64(burst) * _K_BURST + seed * _K_SEED
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return float(z >> _S40) * _INV24


@njit(cache=True, nogil=True)
def excitability_draws(seed: np.uint64, neurons: np.ndarray, burst: np.int64) -> np.ndarray:
    """:func:`excitability_draw` for every id in ``neurons`` (int array) -> float64 array.

    Used by the tests to check the NumPy reference's hash against this one.
    """
    out = np.empty(neurons.size, dtype=np.float64)
    for k in range(neurons.size):
        out[k] = excitability_draw(seed, np.int64(neurons[k]), burst)
    return out


@njit(cache=True, nogil=True)
def _spike_psp(v: np.float32, mp_psp: bool, psp: np.float32) -> np.float32:
    """What a natural spike carries: the area PSP, or the raw V at firing when membrane-driven
    (FEAGI sends the potential unrounded and unclamped: recording ``min_mppsp``)."""
    if mp_psp:
        return v
    return psp


# -----------------------------------------------------------------------------
# Building
# -----------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def build_csr(
    pre: np.ndarray, post: np.ndarray, sw: np.ndarray, indptr: np.ndarray, syn: np.ndarray
) -> None:
    """Counting sort of synapses by source into ``indptr``/``syn``: O(S), stable.

    ``pre`` are global source ids, ``post`` global targets, ``sw`` signed
    float32 weights. Fills ``indptr`` (int32 or int64 [n+1], zeroed by the
    caller; int32 when it fits halves the row table's cache footprint) and
    ``syn`` (int32[S, 2]: target, weight's float32 bits). The outputs are
    allocated by NumPy on purpose: NumPy asks the kernel for transparent huge
    pages on large arrays, which saves a TLB miss per fired neuron's row.
    """
    n = indptr.size - 1
    for k in range(pre.size):
        indptr[pre[k] + 1] += 1
    for j in range(n):
        indptr[j + 1] += indptr[j]
    pos = indptr[:-1].copy()
    bits = sw.view(np.int32)
    for k in range(pre.size):
        j = pre[k]
        q = pos[j]
        syn[q, 0] = post[k]
        syn[q, 1] = bits[k]
        pos[j] = q + 1


# -----------------------------------------------------------------------------
# Per-burst input
# -----------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def mark_ranges(starts: np.ndarray, stops: np.ndarray, bits: np.ndarray) -> None:
    """Set the candidate bits of ``[start, stop)`` blocks, a word at a time.

    ``starts``/``stops`` are int64 neuron ids of equal length (blocks need not
    be sorted here); ``bits`` is the uint64 candidate bitset, updated in place.
    """
    for r in range(starts.size):
        lo = starts[r]
        hi = stops[r]
        i = lo
        while i < hi:
            w = i >> 6
            b = i & 63
            if b == 0 and i + 64 <= hi:
                bits[w] = _ALL
                i += 64
            else:
                bits[w] |= _ONE << np.uint64(b)
                i += 1


@njit(cache=True, nogil=True)
def add_injections(idx: np.ndarray, val: np.ndarray, acc: np.ndarray, bits: np.ndarray) -> None:
    """Add point injections to the accumulator and mark their targets.

    ``idx`` (int64 neuron ids; repeats add up) and ``val`` (float64) have
    equal length; each value is rounded to float32 and added to ``acc``
    (float32[n]) in order. ``bits`` (the uint64 candidate bitset) is updated
    in place. Any injection makes its target a candidate, whatever its sign
    (DESIGN §4 rule 3).
    """
    for k in range(idx.size):
        i = idx[k]
        acc[i] = np.float32(acc[i] + np.float32(val[k]))
        bits[i >> 6] |= _ONE << np.uint64(i & 63)


@njit(cache=True, nogil=True)
def add_counts(offset: int, counts: np.ndarray, coef: np.float32, acc: np.ndarray,
               bits: np.ndarray) -> None:
    """Add an integrator's counts for neurons ``offset..``: ``counts[k]`` float32 additions of
    ``coef`` to ``acc[offset + k]`` (float32[n]), exactly what that many synaptic events would
    add one by one (DESIGN §5); a neuron with a count gets its bit set in ``bits``."""
    c = np.float32(coef)
    for k in range(counts.size):
        n = counts[k]
        if n > 0:
            i = offset + k
            a = acc[i]
            for _ in range(n):
                a = np.float32(a + c)
            acc[i] = a
            bits[i >> 6] |= _ONE << np.uint64(i & 63)


#: Prefetch distance of :func:`propagate`, in fired neurons. The row table
#: is fetched 2*D spikes ahead, the row D ahead, its targets' accumulators
#: D/2 ahead: a fired set turns into independent cache misses in flight at
#: once instead of a chain of dependent ones (~4x on 1M neurons).
PREFETCH_DISTANCE = 16
#: From this many neurons on (1 MiB of float32 accumulators, past a core's L2 on the robots'
#: CPUs), :func:`propagate` also prefetches the targets' accumulators; below it they are
#: cache-resident and the extra pass over every row only costs (0.75x measured at 10k).
PREFETCH_TARGETS_MIN = 262_144


@njit(cache=True, nogil=True)
def propagate(
    indptr: np.ndarray,
    syn: np.ndarray,
    synf: np.ndarray,
    div: np.ndarray,
    fired_idx: np.ndarray,
    fired_psp: np.ndarray,
    acc: np.ndarray,
    bits: np.ndarray,
    mark: bool,
    divided: bool,
    dist: int,
) -> int:
    """Deliver one past fired set over one delay's CSR; returns the event count.

    ``indptr`` (int32/int64[n+1]), ``syn`` (int32[S, 2]) and ``synf`` (its
    float32 view) are the CSR of :func:`build_csr`; ``div`` (float64[n]) the
    PSP divisor per source; ``fired_idx`` (int32, ascending) and ``fired_psp``
    (float32) the spikes of burst ``t - delay`` to deliver, in that order.
    Each synapse adds ``float32(w * psp / div)`` to ``acc[target]``
    (float32[n], one float32 addition per event, DESIGN §4 rule 2) and, when
    ``mark``, sets the target's bit in ``bits``.
    ``mark=False`` skips the candidate bitset, for bursts in which dense
    ranges already make every neuron a candidate. ``divided=False`` says no
    source of this CSR divides its PSP (all ``div == 1``), so ``div`` is
    not read at all. ``dist`` is the prefetch distance (see
    ``PREFETCH_DISTANCE``).
    """
    events = 0
    m = fired_idx.size
    half = dist // 2
    flat = syn.reshape(-1)
    ahead_targets = dist > 0 and acc.size >= PREFETCH_TARGETS_MIN
    for k in range(m):
        if dist and k + 2 * dist < m:
            _prefetch(indptr, fired_idx[k + 2 * dist])
            if divided:
                _prefetch(div, fired_idx[k + 2 * dist])
        if dist and k + dist < m:
            ahead = 2 * indptr[fired_idx[k + dist]]
            _prefetch(flat, ahead)
            _prefetch(flat, ahead + 16)  # rows often straddle a cache line
        if ahead_targets and k + half < m:
            jj = fired_idx[k + half]
            for q in range(indptr[jj], indptr[jj + 1]):
                _prefetch(acc, syn[q, 0])
        j = fired_idx[k]
        start = indptr[j]
        stop = indptr[j + 1]
        events += stop - start
        p = np.float64(fired_psp[k])
        d = div[j] if divided else 1.0
        if d == 1.0 and p == 1.0:
            # float32(w * 1.0 / 1.0) is w itself: skip the arithmetic (common case).
            for q in range(start, stop):
                i = np.uint32(syn[q, 0])
                acc[i] = np.float32(acc[i] + synf[q, 1])
                if mark:
                    bits[i >> np.uint32(6)] |= _ONE << np.uint64(i & np.uint32(63))
        elif d == 1.0:
            # x / 1.0 == x exactly, so skipping the division changes no bit.
            for q in range(start, stop):
                i = np.uint32(syn[q, 0])
                acc[i] = np.float32(acc[i] + np.float32(np.float64(synf[q, 1]) * p))
                if mark:
                    bits[i >> np.uint32(6)] |= _ONE << np.uint64(i & np.uint32(63))
        else:
            for q in range(start, stop):
                i = np.uint32(syn[q, 0])
                acc[i] = np.float32(acc[i] + np.float32(np.float64(synf[q, 1]) * p / d))
                if mark:
                    bits[i >> np.uint32(6)] |= _ONE << np.uint64(i & np.uint32(63))
    return events


# -----------------------------------------------------------------------------
# Dynamics
# -----------------------------------------------------------------------------

#: One record per area (DESIGN §4 "Per area"): every per-area neuron
#: parameter the dynamics read, in the type they compute with. A new
#: parameter is a field here, a line in the backend's
#: :func:`~feagi_hailo_ros.engine.core.cpu_backend.area_table`, and its use in
#: the kernels (in ``_walk`` also the two loads of the current area's
#: locals). ``align=True`` lays the record out like a C struct (56 bytes,
#: widest fields first; 2 bytes of tail padding).
AREA_DTYPE = np.dtype(
    [
        ("excitability", np.float64),  # fire probability above threshold
        ("refractory", np.int64),  # bursts blocked after a fire
        ("snooze", np.int64),  # extra bursts blocked when a fire reaches cfc (min_snooze)
        ("theta", np.float32),  # fire threshold (areas without increments)
        ("theta_max", np.float32),  # upper firing bound, inf when unset
        ("keep", np.float32),  # 1 - leak: V is multiplied by it when not firing
        ("psp", np.float32),  # what a spike carries (unless mp_psp)
        ("leak", np.float32),  # potential lost per burst when leak_linear
        ("cfc", np.int32),  # consecutive fire limit, 0 = none
        ("theta_var", np.bool_),  # thresholds vary per neuron: read NeuronArrays.theta
        ("always", np.bool_),  # excitability >= 0.999: fire without a draw (FEAGI)
        ("mp_acc", np.bool_),  # V accumulates across bursts (else cleared, rule 1)
        ("mp_psp", np.bool_),  # spikes carry their raw V at firing (min_mppsp)
        ("leak_linear", np.bool_),  # the old Python FEAGI's leak: V moves `leak` towards 0
        ("hold", np.bool_),  # a slowed area between its updates: input carried, not processed
    ],
    align=True,
)


class NeuronArrays(NamedTuple):
    """The per-neuron arrays the dynamics read and write, as one kernel argument.

    ``n`` is the neuron count. The kernels bind each field to a local before
    their loops (see ``_walk``). :func:`dynamics` also accepts the fields as
    a plain tuple in this order, which Numba dispatches faster. Fields:

    * ``area_of`` uint16[n]: row of the neuron's area in the ``AREA_DTYPE`` table;
    * ``theta`` float32[n]: per-neuron threshold (read only where ``theta_var``);
    * ``v`` float32[n]: membrane potential as last written;
    * ``v_burst`` int32[n]: epoch-relative burst of the last V write;
    * ``until`` int32[n]: epoch-relative last refractory (blocked) burst;
    * ``count`` int32[n]: consecutive fires;
    * ``acc`` float32[n]: input accumulator, zeroed as consumed;
    * ``bits`` uint64[ceil(n / 64)]: candidate bitset, cleared as walked;
    * ``fired_flag`` uint8[n]: scratch, all 0 between bursts;
    * ``out_idx`` int32[n], ``out_psp`` float32[n]: the burst's spikes (ids, PSPs);
    * ``v_kept`` uint8[n]: 1 for an ``mp_acc = false`` neuron whose V survives into its next
      processing because a forced fire followed its input (DESIGN §4.7, last item).
    """

    area_of: np.ndarray
    theta: np.ndarray
    v: np.ndarray
    v_burst: np.ndarray
    until: np.ndarray
    count: np.ndarray
    acc: np.ndarray
    bits: np.ndarray
    fired_flag: np.ndarray
    out_idx: np.ndarray
    out_psp: np.ndarray
    v_kept: np.ndarray


@njit(cache=True, nogil=True)
def _walk(w_lo, w_hi, out_base, t, t_abs, range_start, range_stop, range_value, nrn, areas, seed,
          subtractive, any_hold):  # fmt: skip
    """Rule 3 for the candidates in bitset words ``w_lo..w_hi``; spikes go to ``out_*[out_base:]``.

    Walks set bits in ascending order, adding the value of the dense range a
    neuron lies in, and clears bits and ``acc`` behind itself. Returns the
    index after the last spike written. One loop body on purpose: a helper
    taking arrays inside the hot loop would make Numba reference-count every
    array per neuron; this function is called once per burst (or per thread).
    """
    n_fired = out_base
    # Locals, not tuple fields, inside the loop: a field read there makes
    # Numba reference-count the array per neuron (~3x slower).
    bits, acc, v, v_burst = nrn.bits, nrn.acc, nrn.v, nrn.v_burst
    until, count, theta, area_of = nrn.until, nrn.count, nrn.theta, nrn.area_of
    fired_flag, out_idx, out_psp, v_kept = nrn.fired_flag, nrn.out_idx, nrn.out_psp, nrn.v_kept
    # The current area's parameters are locals too, reloaded only when the
    # area changes (areas are contiguous neuron ranges, so rarely): reading
    # the record for every neuron measured ~7 % slower on the standard
    # benchmark. The two loads below must name the same fields. Row 0 is
    # read before any neuron, so the table has a row even for an empty brain
    # (an early return here for that case measured ~5 % slower: it costs no
    # work, but the compiler then lays the loop out worse).
    cur_a = 0
    ar = areas[0]
    a_theta, a_theta_var, a_theta_max, a_keep = ar.theta, ar.theta_var, ar.theta_max, ar.keep
    a_refr, a_cfc, a_excit, a_always = ar.refractory, ar.cfc, ar.excitability, ar.always
    a_mp_acc, a_mp_psp, a_psp = ar.mp_acc, ar.mp_psp, ar.psp
    a_snooze, a_leak, a_linear = ar.snooze, ar.leak, ar.leak_linear
    n_ranges = range_start.size
    # First dense range that ends past this chunk's first neuron.
    r = 0
    while r < n_ranges and range_stop[r] <= w_lo * 64:
        r += 1
    if r < n_ranges:
        cur_lo, cur_hi, cur_val = range_start[r], range_stop[r], range_value[r]
    else:
        cur_lo, cur_hi, cur_val = _NEVER, _NEVER, 0.0
    t32 = np.int32(t)
    for w in range(w_lo, w_hi):
        word = bits[w]
        if word == _ZERO:
            continue
        bits[w] = _ZERO
        base = w << 6
        while word != _ZERO:
            i = base + np.int64(_ctz(word))
            word &= word - _ONE
            # Dense ranges are sorted and disjoint and i only grows; the
            # current one lives in locals (array reads here cost ~30 %).
            if i >= cur_hi:
                while r < n_ranges and i >= range_stop[r]:
                    r += 1
                if r < n_ranges:
                    cur_lo, cur_hi, cur_val = range_start[r], range_stop[r], range_value[r]
                else:
                    cur_lo, cur_hi, cur_val = _NEVER, _NEVER, 0.0
            total = acc[i]
            acc[i] = np.float32(0.0)
            if i >= cur_lo:
                total = np.float32(total + np.float32(cur_val))
            # A slowed area between updates (rate_divider): its input is carried to its next
            # update, where it arrives summed, and the neuron stays a candidate. Only tested when
            # some area holds this burst, so the common path reads nothing more.
            if any_hold and areas[np.int64(area_of[i])].hold:
                acc[i] = total
                bits[w] |= _ONE << np.uint64(i & 63)
                continue
            if t32 <= until[i]:
                continue  # refractory: input dropped
            a = np.int64(area_of[i])
            if a != cur_a:
                cur_a = a
                ar = areas[a]
                a_theta, a_theta_var, a_theta_max, a_keep = ar.theta, ar.theta_var, ar.theta_max, ar.keep
                a_refr, a_cfc, a_excit, a_always = ar.refractory, ar.cfc, ar.excitability, ar.always
                a_mp_acc, a_mp_psp, a_psp = ar.mp_acc, ar.mp_psp, ar.psp
                a_snooze, a_leak, a_linear = ar.snooze, ar.leak, ar.leak_linear
            if a_mp_acc:
                vv = v[i]
            elif v_kept[i]:
                vv = v[i]  # its last input was followed by a forced fire: no reset (§4.7)
                v_kept[i] = 0
                v_burst[i] = t32
            else:
                vv = np.float32(0.0)  # rule 1, lazily
                v_burst[i] = t32
            inp = np.float32(total)
            if subtractive:
                vv = np.float32(vv + inp)
                if vv < np.float32(0.0):
                    vv = np.float32(0.0)
            elif inp > np.float32(0.0):
                vv = np.float32(vv + inp)
            th = theta[i] if a_theta_var else a_theta
            cfc = a_cfc
            # DESIGN §4 rule 3: above threshold and the excitability draw passes, then the limit.
            if (vv >= th and vv <= a_theta_max
                    and (a_always or excitability_draw(seed, np.int64(i), t_abs) < a_excit)):
                cnt = count[i]
                if cfc > 0 and cnt >= cfc and a_refr + a_snooze >= 1:
                    cnt = 0  # lazy rule 4: the countdown expired since the last fire
                if cfc > 0 and cnt >= cfc:
                    count[i] = 0  # blocked by the limit: no fire, no leak
                    v[i] = vv
                    continue
                out_idx[n_fired] = i
                out_psp[n_fired] = _spike_psp(vv, a_mp_psp, a_psp)
                n_fired += 1
                fired_flag[i] = 1
                v[i] = np.float32(0.0)
                # Snooze: the fire that reaches the limit blocks r + s bursts (min_snooze).
                if cfc > 0 and cnt + 1 >= cfc:
                    until[i] = np.int32(t + a_refr + a_snooze)
                else:
                    until[i] = np.int32(t + a_refr)
                # Saturate: with no limit set the count only grows and must not wrap.
                count[i] = cnt + 1 if cnt < _COUNT_MAX else cnt
                continue
            if a_linear:  # legacy_leak="linear": V moves `leak` towards 0, never past it
                if vv > a_leak:
                    v[i] = np.float32(vv - a_leak)
                elif vv < -a_leak:
                    v[i] = np.float32(vv + a_leak)
                else:
                    v[i] = np.float32(0.0)
            else:
                v[i] = np.float32(vv * a_keep)
            if cfc > 0:
                count[i] = 0
    return n_fired


#: Shortest dense stretch (in 64-neuron words) worth the branch-free pass.
DENSE_MIN_WORDS = 1


@njit(cache=True, nogil=True)
def _dense_ok(ar, any_hold):
    """Whether an area's rules fit :func:`_dense`: no draw, no limit, no per-neuron threshold,
    accumulating V, spikes carrying the area PSP, multiplicative leak, not held."""
    return (ar.always and ar.cfc == 0 and not ar.theta_var and ar.mp_acc and not ar.mp_psp
            and not ar.leak_linear and not (any_hold and ar.hold))


@njit(cache=True, nogil=True)
def _dense(lo, hi, n_fired, t, value, nrn, ar, subtractive):
    """Rule 3 for every neuron of ``[lo, hi)`` (64-aligned, one area that :func:`_dense_ok`),
    all candidates because a dense range of ``value`` covers them; spikes are appended to
    ``nrn.out_*`` from ``n_fired`` in ascending order; returns the new end.

    The same float32 operations as :func:`_walk` for these rules, written as selects so the
    compiler can vectorise the update; the spikes are collected in a second pass over the
    fired flags (which :func:`_force_and_clear` needs set anyway).
    """
    # Views from 0: an index the compiler knows is not negative needs no wraparound test,
    # which is what lets it vectorise the loop (~4x measured on 10k neurons).
    acc, v, until, count = nrn.acc[lo:hi], nrn.v[lo:hi], nrn.until[lo:hi], nrn.count[lo:hi]
    flag, out_idx, out_psp = nrn.fired_flag[lo:hi], nrn.out_idx, nrn.out_psp
    t32 = np.int32(t)
    val = np.float32(value)
    th, th_max, keep, psp = ar.theta, ar.theta_max, ar.keep, ar.psp
    fire_until = np.int32(t + ar.refractory)
    zero = np.float32(0.0)
    # Two copies of one loop, so neither tests the mode per neuron (a branch in the loop stops
    # the compiler vectorising it).
    if subtractive:
        for i in range(hi - lo):
            total = np.float32(acc[i] + val)
            acc[i] = zero
            v0 = v[i]
            u0 = until[i]
            vv = np.float32(v0 + total)
            # `< zero`, not `>= zero` the other way round: a NaN must stay NaN, as in the walk
            # (`if vv < 0`) and the reference (np.maximum).
            vv = zero if vv < zero else vv
            live = t32 > u0
            fire = live & (vv >= th) & (vv <= th_max)
            v[i] = (zero if fire else np.float32(vv * keep)) if live else v0
            flag[i] = 1 if fire else 0
    else:
        for i in range(hi - lo):
            total = np.float32(acc[i] + val)
            acc[i] = zero
            v0 = v[i]
            u0 = until[i]
            vv = np.float32(v0 + total) if total > zero else v0
            live = t32 > u0
            fire = live & (vv >= th) & (vv <= th_max)
            v[i] = (zero if fire else np.float32(vv * keep)) if live else v0
            flag[i] = 1 if fire else 0
    words = flag.view(np.uint64)
    for q in range(words.size):
        wd = words[q]
        if wd == _ZERO:
            continue
        base = q << 3
        while wd != _ZERO:  # flags are 0/1 bytes: a set bit's index / 8 is its byte
            k = base + np.int64(_ctz(wd) >> np.uint64(3))
            wd &= wd - _ONE
            until[k] = fire_until
            c0 = count[k]
            count[k] = c0 + 1 if c0 < _COUNT_MAX else c0
            out_idx[n_fired] = lo + k
            out_psp[n_fired] = psp
            n_fired += 1
    return n_fired


@njit(cache=True, nogil=True)
def _candidates(w_lo, w_hi, out_base, t, t_abs, range_start, range_stop, range_value, nrn, areas,
                seed, subtractive, any_hold):  # fmt: skip
    """Rule 3 for every candidate in bitset words ``w_lo..w_hi``, spikes ascending from
    ``out_*[out_base]``; returns the index after the last one (as :func:`_walk`).

    The word-aligned inside of a dense range lying in one area that :func:`_dense_ok` goes to
    the branch-free :func:`_dense` (every neuron there is a candidate anyway); everything else,
    the ranges' edge words included, to :func:`_walk`. Both run the same float32 operations, so
    which one a neuron meets changes no bit.
    """
    bits, area_of = nrn.bits, nrn.area_of
    n_fired = out_base
    w = w_lo
    for r in range(range_start.size):
        w_a = max((range_start[r] + 63) >> 6, w)
        w_b = min(range_stop[r] >> 6, w_hi)
        if w_b - w_a < DENSE_MIN_WORDS:
            continue
        a = np.int64(area_of[w_a << 6])
        # Areas are contiguous id ranges: same area at both ends, same area throughout.
        if np.int64(area_of[(w_b << 6) - 1]) != a or not _dense_ok(areas[a], any_hold):
            continue
        n_fired = _walk(w, w_a, n_fired, t, t_abs, range_start, range_stop, range_value, nrn,
                        areas, seed, subtractive, any_hold)  # fmt: skip
        n_fired = _dense(w_a << 6, w_b << 6, n_fired, t, range_value[r], nrn, areas[a],
                         subtractive)
        for q in range(w_a, w_b):
            bits[q] = _ZERO  # set by mark_ranges; these neurons are done
        w = w_b
    return _walk(w, w_hi, n_fired, t, t_abs, range_start, range_stop, range_value, nrn, areas,
                 seed, subtractive, any_hold)  # fmt: skip


@njit(cache=True, nogil=True)
def _force_and_clear(t, n_fired, force_idx, force_psp, nrn, areas):
    """Rule 6: append forced spikes (once each), then clear the fired flags.

    Appends after the ``n_fired`` spikes already in ``nrn.out_*`` and returns
    the new total. Each forced neuron's area record is read here directly:
    forced neurons are few, unlike the walk's candidates.
    """
    until, area_of, v_burst, v_kept = nrn.until, nrn.area_of, nrn.v_burst, nrn.v_kept
    fired_flag, out_idx, out_psp = nrn.fired_flag, nrn.out_idx, nrn.out_psp
    t32 = np.int32(t)
    for k in range(force_idx.size):
        i = force_idx[k]
        if fired_flag[i]:
            continue
        fired_flag[i] = 1
        ar = areas[area_of[i]]
        if not ar.mp_acc and v_burst[i] == t32:
            # Input this burst, then a forced fire: the next burst does not reset V (FEAGI's
            # engine counts the forced fire as a fire; DESIGN §4.7, recording stdp).
            v_kept[i] = 1
        if t32 <= until[i]:
            until[i] += 1  # a forced burst does not tick the countdown
        out_idx[n_fired] = i
        # A forced mp_psp neuron sends the stimulation's potential (recording min_mpforce).
        out_psp[n_fired] = force_psp[k] if ar.mp_psp else ar.psp
        n_fired += 1
    for k in range(n_fired):
        fired_flag[out_idx[k]] = 0
    return n_fired


@njit(cache=True, nogil=True)
def dynamics(t, t_abs, range_start, range_stop, range_value, force_idx, force_psp, nrn, areas, seed,
             subtractive, any_hold=False):  # fmt: skip
    """Process every candidate of one burst (rules 3 and 6 of the module docstring).

    ``t`` is the burst relative to the backend's epoch (the origin of the
    int32 stamps in ``nrn``), ``t_abs`` the absolute burst (it seeds the
    excitability draw). ``range_start``/``range_stop`` (int64[R], sorted,
    disjoint) and ``range_value`` (float64[R]) are the dense injections whose
    candidate bits :func:`mark_ranges` already set; the values are added here.
    ``force_idx`` (int64) lists forced neurons and ``force_psp`` (float32, same length) the
    PSP each sends when its area is ``mp_psp``. ``nrn`` holds the
    :class:`NeuronArrays` fields in their order, updated in place: a
    ``NeuronArrays`` or a plain tuple. The backend passes a plain tuple:
    Numba fingerprints a named tuple's class and field names on every call,
    ~0.7 us more, ~1 % of a burst of 10k neurons. ``areas`` is the
    ``AREA_DTYPE`` table with at least one row (row 0 is read up front, so
    an empty brain passes one unused row); ``seed`` (uint64) the
    excitability seed; ``subtractive`` selects the inhibition mode (DESIGN
    §4 rule 3). Nothing is bounds-checked: every index must be valid (the
    backend checks its input with ``backend.check_burst_input``).

    Returns the number of spikes written to ``nrn.out_idx``/``nrn.out_psp``:
    natural ones in ascending neuron order, then forced ones. On return the
    bitset, ``acc`` and ``fired_flag`` are clear again.
    """
    nrn = NeuronArrays(*nrn)  # names for a plain tuple
    n_fired = _candidates(0, nrn.bits.size, 0, t, t_abs, range_start, range_stop, range_value,
                          nrn, areas, seed, subtractive, any_hold)  # fmt: skip
    return _force_and_clear(t, n_fired, force_idx, force_psp, nrn, areas)


@njit(cache=True, nogil=True, parallel=True)
def dynamics_parallel(t, t_abs, range_start, range_stop, range_value, force_idx, force_psp, nrn,
                      areas, seed, subtractive, n_chunks, any_hold=False):  # fmt: skip
    """:func:`dynamics` with the candidate walk split over ``n_chunks`` threads.

    Takes the arguments of :func:`dynamics` plus ``n_chunks`` (>= 1) and
    returns the same count with the same spikes in the same order. Chunks are
    disjoint neuron ranges, so every per-neuron write is private to one
    thread; each chunk writes its spikes at its own first neuron's offset,
    and the lists are compacted afterwards.
    """
    nrn = NeuronArrays(*nrn)  # a plain tuple in, see dynamics
    out_idx, out_psp = nrn.out_idx, nrn.out_psp
    n_words = nrn.bits.size
    ends = np.zeros(n_chunks, np.int64)
    for c in prange(n_chunks):
        w_lo = c * n_words // n_chunks
        w_hi = (c + 1) * n_words // n_chunks
        ends[c] = _candidates(w_lo, w_hi, w_lo * 64, t, t_abs, range_start, range_stop,
                              range_value, nrn, areas, seed, subtractive, any_hold)  # fmt: skip
    n_fired = 0
    for c in range(n_chunks):
        base = (c * n_words // n_chunks) * 64
        for k in range(base, ends[c]):
            out_idx[n_fired] = out_idx[k]
            out_psp[n_fired] = out_psp[k]
            n_fired += 1
    return _force_and_clear(t, n_fired, force_idx, force_psp, nrn, areas)


@njit(cache=True, nogil=True)
def rebase(stamps: np.ndarray, shift: int, floor: int) -> None:
    """Move burst stamps back by ``shift``; anything older than the new origin becomes ``floor``.

    ``stamps`` is an int32 array of epoch-relative bursts (``until`` or
    ``v_burst``), rewritten in place; the backend calls this when it moves
    its epoch forward by ``shift`` so the stamps never overflow int32.
    """
    for i in range(stamps.size):
        s = np.int64(stamps[i]) - shift
        stamps[i] = floor if s < floor else s


# -----------------------------------------------------------------------------
# One compiled call per burst (issue 13)
# -----------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def burst(t, t_abs, inj_idx, inj_val, range_start, range_stop, range_value, force_idx, force_psp,
          nrn, areas, seed, subtractive, synapses, history, holds):  # fmt: skip
    """One whole burst in one call: input, delivery over every delay, dynamics, history.

    The steps and their order are those of the backend's general path (``CpuBackend``
    ``process_burst``), by the same kernels, so every spike and potential is the same bit for
    bit: :func:`mark_ranges` and :func:`add_injections` (point injections in the order given),
    :func:`propagate` for each delay ascending over the fired set of ``t_abs - delay``, the
    rate dividers' ``hold`` flags, :func:`dynamics`, then the burst's spikes sorted by id
    (needed only when forced spikes follow natural ones out of order) written to the history.

    Arguments as in :func:`dynamics` (``t`` epoch-relative, ``t_abs`` absolute; ranges sorted
    and disjoint; ``inj_idx`` int64, ``inj_val`` float64; ``nrn`` a plain tuple of the
    :class:`NeuronArrays` fields), plus three tuples:

    * ``synapses = (div, indptrs, syn, synf, delays, divided, dist)``: ``indptrs`` (int32 or
      int64 [D, n+1]) row ``k`` is the CSR row table of delay ``delays[k]`` (int64[D],
      ascending), its offsets absolute into the shared ``syn`` (int32[S, 2]) and ``synf`` (its
      float32 view); ``divided`` (bool[D]) and ``dist`` as for :func:`propagate`;
    * ``history = (ring_idx, ring_psp, ring_count, head)``: the fired sets of the last ``H``
      bursts, slot ``(head[0] - d + 1) mod H`` holding burst ``t_abs - d``'s ``ring_count``
      spikes (ids int32[H, n] ascending, PSPs float32[H, n]); ``head`` (int64[1]) moves on
      by one as this burst's set is written;
    * ``holds = (areas_slowed, dividers)`` (int64[K] each): a slowed area holds at every burst
      but those with ``t_abs % k == k - 1`` (see ``Engine.set_rate_dividers``).

    Nothing is bounds-checked: the caller validated every index where it entered. Returns
    ``(spikes, synaptic events)`` of this burst.
    """
    div, indptrs, syn, synf, delays, divided, dist = synapses
    ring_idx, ring_psp, ring_count, head_arr = history
    slowed, dividers = holds
    acc, bits = nrn[6], nrn[7]
    out_idx, out_psp = nrn[9], nrn[10]
    n = acc.size
    covered = 0
    if range_start.size:
        mark_ranges(range_start, range_stop, bits)
        for r in range(range_start.size):
            covered += range_stop[r] - range_start[r]
    # Dense ranges covering every neuron make all candidates: events need not mark (as in
    # the general path).
    mark = covered < n
    if inj_idx.size:
        add_injections(inj_idx, inj_val, acc, bits)
    h = ring_idx.shape[0]
    head = head_arr[0]
    events = 0
    for k in range(delays.size):
        d = delays[k]
        if d > h:
            continue
        slot = (head - d + 1 + h) % h
        m = ring_count[slot]
        if m:
            events += propagate(indptrs[k], syn, synf, div, ring_idx[slot, :m],
                                ring_psp[slot, :m], acc, bits, mark, divided[k], dist)
    any_hold = False
    for q in range(slowed.size):
        kq = dividers[q]
        hold = t_abs % kq != kq - 1
        areas[slowed[q]].hold = hold
        any_hold |= hold
    n_fired = dynamics(t, t_abs, range_start, range_stop, range_value, force_idx, force_psp,
                       nrn, areas, seed, subtractive, any_hold)  # fmt: skip
    new = (head + 1) % h
    ordered = True
    if force_idx.size:
        for k in range(1, n_fired):
            if out_idx[k] < out_idx[k - 1]:
                ordered = False
                break
    if ordered:
        for k in range(n_fired):
            ring_idx[new, k] = out_idx[k]
            ring_psp[new, k] = out_psp[k]
    else:
        # Forced spikes come after the natural (ascending) ones; delivery needs ascending
        # sources (DESIGN §4 rule 2). Ids are distinct, so any sort gives one order.
        order = np.argsort(out_idx[:n_fired], kind="mergesort")
        for k in range(n_fired):
            ring_idx[new, k] = out_idx[order[k]]
            ring_psp[new, k] = out_psp[order[k]]
    ring_count[new] = n_fired
    head_arr[0] = new
    return n_fired, events


@njit(cache=True, nogil=True)
def bursts(count, t, t_abs, inj_idx, inj_val, range_start, range_stop, range_value, force_idx,
           force_psp, nrn, areas, seed, subtractive, synapses, history, holds):  # fmt: skip
    """:func:`burst` ``count`` (>= 1) times with the same input, bursts ``t .. t + count - 1``.

    Returns ``(spikes of the last burst, synaptic events of all)``. The caller keeps the
    epoch-relative ``t + count`` within the range its stamps allow (the backend's rebase).
    """
    n_fired = 0
    events = 0
    for b in range(count):
        n_fired, ev = burst(t + b, t_abs + b, inj_idx, inj_val, range_start, range_stop,
                            range_value, force_idx, force_psp, nrn, areas, seed, subtractive,
                            synapses, history, holds)  # fmt: skip
        events += ev
    return n_fired, events


# -----------------------------------------------------------------------------
# A Poisson drive inside the compiled loop (issue 13 item 2)
# -----------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def drive_injections(drive, t_abs, acc, bits):
    """Add burst ``t_abs``'s Poisson drive to the input (``drive.PoissonDrive`` has the rule).

    ``drive = (starts, stops, key, rate, value)``: the driven neurons are the ``[start, stop)``
    blocks (int64[R] each, global ids); neuron ``i`` is injected ``value`` (float64, rounded to
    float32 as every point injection is) iff ``excitability_draw(key, i, t_abs) < rate``
    (``key`` uint64, ``rate`` float64 in [0, 1]). Each neuron is drawn once per burst, so each
    gets at most one addition: in ``acc`` (float32[n]) from 0 when this runs first, and its bit
    set in ``bits``. O(driven neurons) hashes per burst. Returns the neurons injected.
    """
    starts, stops, key, rate, value = drive
    v32 = np.float32(value)
    injected = 0
    for r in range(starts.size):
        for i in range(starts[r], stops[r]):
            if excitability_draw(key, i, t_abs) < rate:
                acc[i] = np.float32(acc[i] + v32)
                bits[i >> 6] |= _ONE << np.uint64(i & 63)
                injected += 1
    return injected


@njit(cache=True, nogil=True)
def driven_bursts(t, t_abs, inj_idx, inj_val, range_start, range_stop, range_value, force_idx,
                  force_psp, nrn, areas, seed, subtractive, synapses, history, holds, drive,
                  fired_counts):  # fmt: skip
    """:func:`burst` ``fired_counts.size`` times, bursts ``t ..``, each with the same input
    and burst ``t_abs + b``'s :func:`drive_injections` added before it (the drive's point
    injections come first in the canonical order, then ``inj_idx``'s).

    ``fired_counts`` (int64[count]) receives each burst's spike count. Arguments otherwise as
    :func:`bursts` (``drive`` as :func:`drive_injections`; no blocks: no drive). Returns the
    synaptic events of all bursts. Spikes and state are those of ``count`` single bursts with
    the drive's injections given as point injections (``PoissonDrive.apply``).
    """
    acc, bits = nrn[6], nrn[7]
    events = 0
    for b in range(fired_counts.size):
        drive_injections(drive, t_abs + b, acc, bits)
        n_fired, ev = burst(t + b, t_abs + b, inj_idx, inj_val, range_start, range_stop,
                            range_value, force_idx, force_psp, nrn, areas, seed, subtractive,
                            synapses, history, holds)  # fmt: skip
        fired_counts[b] = n_fired
        events += ev
    return events
