"""Hand-built connectomes and Hypothesis strategies for the burst-engine tests.

Connectomes are built directly (no genome), so these tests do not depend on
the importer. ``area()`` gives an area with neutral defaults (fires on any
input >= threshold, no leak, no refractory) that a test overrides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from feagi_hailo_ros.engine.core.connectome import AreaSpec, Connectome, PlasticityRule, Projection


def area(
    index: int = 0,
    dims: tuple[int, int, int] = (1, 1, 1),
    *,
    npv: int = 1,
    first: int = 0,
    threshold: float = 10.0,
    increment: tuple[float, float, float] = (0.0, 0.0, 0.0),
    limit: float = math.inf,
    leak: float = 0.0,
    refractory: int = 0,
    cfc: int = 0,
    excitability: float = 1.0,
    mp_acc: bool = True,
    mp_psp: bool = False,
    psp: float = 1,
    uniform: bool = True,
    cid: str | None = None,
    snooze: int = 0,
    leak_linear: bool = False,
) -> AreaSpec:
    """An AreaSpec with test-friendly defaults."""
    return AreaSpec(
        index=index,
        cortical_id=cid or "",
        name=cid or "",
        group="CUSTOM",
        dims=dims,
        neurons_per_voxel=npv,
        position=(0, 0, 0),
        first_neuron=first,
        fire_threshold=threshold,
        threshold_increment=increment,
        threshold_limit=limit,
        leak=leak,
        refractory=refractory,
        consecutive_fire_limit=cfc,
        excitability=excitability,
        mp_acc=mp_acc,
        mp_psp=mp_psp,
        psp=psp,
        psp_uniform=uniform,
        snooze=snooze,
        leak_linear=leak_linear,
    )


def chain(areas: list[AreaSpec]) -> list[AreaSpec]:
    """Re-index areas and lay their neurons out contiguously in list order."""
    out, first = [], 0
    for i, a in enumerate(areas):
        cid = a.cortical_id or f"a{i}"
        fields = {**a.__dict__, "index": i, "first_neuron": first, "cortical_id": cid,
                  "name": a.name or cid}  # fmt: skip
        out.append(AreaSpec(**fields))
        first += a.neuron_count
    return out


def proj(
    index: int,
    src: int,
    dst: int,
    pre: list[int] | np.ndarray,
    post: list[int] | np.ndarray,
    *,
    weight: float = 1.0,
    delay: int = 1,
    weights: np.ndarray | None = None,
    plasticity: PlasticityRule | None = None,
) -> Projection:
    """A projection from explicit area-local synapse lists (plastic when ``plasticity``)."""
    return Projection(
        index=index,
        src_area=src,
        dst_area=dst,
        weight=weight,
        delay=delay,
        pre=np.asarray(pre, dtype=np.int64),
        post=np.asarray(post, dtype=np.int64),
        weights=None if weights is None else np.asarray(weights, dtype=np.float32),
        plasticity=plasticity,
        plastic=plasticity is not None,
    )


def brain(areas: list[AreaSpec], projections: list[Projection] = (), power: int | None = None):
    """Connectome from areas (laid out with ``chain``) and projections."""
    return Connectome(areas=chain(list(areas)), projections=list(projections), power_area=power)


# -----------------------------------------------------------------------------
# Hypothesis
# -----------------------------------------------------------------------------


@st.composite
def area_specs(draw: st.DrawFn, max_x: int = 3, plain: float = 0.0) -> AreaSpec:
    """Any area rules; with probability ``plain`` the rules of the kernels' dense pass (no draw,
    no fire limit, one threshold, accumulating V, area PSP, multiplicative leak)."""
    dims = (draw(st.integers(1, max_x)), draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    if plain and draw(st.floats(0.0, 1.0)) < plain:
        return area(
            dims=dims, npv=draw(st.integers(1, 2)),
            threshold=draw(st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0, 8.0])),
            limit=draw(st.sampled_from([math.inf, 6.0])),
            leak=draw(st.sampled_from([0.0, 0.1, 0.25, 1.0])),
            refractory=draw(st.integers(0, 3)), psp=draw(st.sampled_from([1, 2, 0.1])),
            uniform=draw(st.booleans()),
        )  # fmt: skip
    threshold = draw(st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0, 8.0]))
    inc = draw(
        st.sampled_from([(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.5, 1.0), (0.25, -0.25, 2.0)])
    )
    limit = draw(st.sampled_from([math.inf, math.inf, threshold + 4.0, threshold + 12.0]))
    return area(
        dims=dims,
        npv=draw(st.integers(1, 2)),
        threshold=threshold,
        increment=inc,
        limit=limit,
        leak=draw(st.sampled_from([0.0, 0.0, 0.1, 0.25, 0.5, 1.0, 2.5])),
        refractory=draw(st.integers(0, 3)),
        cfc=draw(st.sampled_from([0, 0, 1, 2, 3])),
        snooze=draw(st.sampled_from([0, 0, 1, 2])),
        leak_linear=draw(st.sampled_from([False, False, True])),
        excitability=draw(st.sampled_from([1.0, 1.0, 0.9995, 0.7, 0.3, 0.0])),
        mp_acc=draw(st.booleans()),
        mp_psp=draw(st.sampled_from([False, False, True])),
        psp=draw(st.sampled_from([0, 1, 2, 3, 4, 2.7, 0.1])),
        uniform=draw(st.booleans()),
    )


@st.composite
def connectomes(draw: st.DrawFn, max_areas: int = 4, max_projections: int = 7, max_x: int = 3,
                plain: float = 0.0, max_synapses: int = 40) -> Connectome:
    """Small random brains exercising every neuron parameter and delays 1..3 (``max_x``,
    ``plain``: see :func:`area_specs`; up to ``max_synapses`` per projection)."""
    areas = chain(draw(st.lists(area_specs(max_x, plain), min_size=1, max_size=max_areas)))
    projections = []
    n_proj = draw(st.integers(0, max_projections))
    for p in range(n_proj):
        src = draw(st.integers(0, len(areas) - 1))
        dst = draw(st.integers(0, len(areas) - 1))
        n_syn = draw(st.integers(0, max_synapses))
        seed = draw(st.integers(0, 2**31))
        rng = np.random.default_rng(seed)
        pre = rng.integers(0, areas[src].neuron_count, n_syn)
        post = rng.integers(0, areas[dst].neuron_count, n_syn)
        weight = draw(st.sampled_from([1.0, 2.0, 3.0, -1.0, -2.0, 0.5, 7.0, 255.0, -4.0]))
        per_syn = draw(st.sampled_from([False, False, False, True]))
        weights = rng.integers(-6, 7, n_syn).astype(np.float32) if per_syn else None
        projections.append(
            proj(p, src, dst, pre, post, weight=weight, delay=draw(st.integers(1, 3)),
                 weights=weights)  # fmt: skip
        )
    power = draw(st.sampled_from([None, None, 0]))
    return Connectome(areas=areas, projections=projections, power_area=power)


@dataclass
class Drive:
    """A reproducible schedule of injections and forced firing for N bursts."""

    seed: int
    rate: float = 0.3
    force_rate: float = 0.03
    whole_area_rate: float = 0.1
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def apply(self, engines, connectome: Connectome) -> None:
        """Apply the next burst's inputs identically to every engine."""
        rng = self._rng
        for a in connectome.areas:
            n = a.neuron_count
            if rng.random() < self.whole_area_rate:
                value = float(rng.choice([1.0, 2.0, 0.5, -1.0, 4.0, 0.0]))
                for e in engines:
                    e.inject(a.index, potentials=value)
            k = int(rng.binomial(n, self.rate))
            if k:
                idx = rng.integers(0, n, k)
                # Multiples of 1/4, some negative: exact in float32 and float64.
                values = rng.integers(-8, 24, k) / 4.0
                for e in engines:
                    e.inject(a.index, indices=idx, potentials=values)
            f = int(rng.binomial(n, self.force_rate))
            if f:
                idx = rng.integers(0, n, f)
                for e in engines:
                    e.force_fire(a.index, indices=idx)


def assert_same_run(engines: list, connectome, bursts: int, seed: int) -> int:
    """Drive engines identically; assert identical rasters and states every burst."""
    drive = Drive(seed)
    total = 0
    for b in range(bursts):
        drive.apply(engines, connectome)
        counts = [e.step() for e in engines]
        assert len(set(counts)) == 1, (b, counts)
        total += counts[0]
        ref = engines[0]
        fired = ref.fired_global()
        state = ref.neuron_state()
        for other in engines[1:]:
            np.testing.assert_array_equal(other.fired_global(), fired, err_msg=f"burst {b}")
            s = other.neuron_state()
            # Exact equality of float32 values, not a tolerance.
            np.testing.assert_array_equal(s.potentials, state.potentials, err_msg=f"burst {b}")
            np.testing.assert_array_equal(s.refractory_countdown, state.refractory_countdown)
            np.testing.assert_array_equal(s.fire_counts, state.fire_counts)
    return total


def recurrent_chain(seed: int, third: tuple[int, int, int], delays: tuple[int, int, int, int],
                    synapses: tuple[int, int, int, int]) -> Connectome:
    """Areas 12, 9 and ``third`` neurons (threshold 1) in a loop 0 -> 1 -> 2 -> 0 plus 1 -> 0:
    four projections with these delays and synapse counts, random endpoints from ``seed``,
    weights 0.6, 0.7, 0.5, 0.4 (integrator and pipelining tests)."""
    rng = np.random.default_rng(seed)
    areas = [area(dims=(4, 3, 1), threshold=1.0), area(dims=(3, 3, 1), threshold=1.0),
             area(dims=third, threshold=1.0)]
    n = [a.neuron_count for a in areas]
    ends = [(0, 1), (1, 2), (2, 0), (1, 0)]
    projections = [proj(i, s, d, rng.integers(0, n[s], k), rng.integers(0, n[d], k), weight=w,
                        delay=delay)
                   for i, ((s, d), k, w, delay) in enumerate(zip(ends, synapses,
                                                                 (0.6, 0.7, 0.5, 0.4), delays,
                                                                 strict=True))]
    return brain(areas, projections)
