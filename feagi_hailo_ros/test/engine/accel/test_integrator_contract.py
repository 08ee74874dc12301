"""One contract suite for every integrator (core/integrator.py), with the same cases and the same
Hypothesis budgets: NumPy, ONNX Runtime, and Hailo through the libhailort stand-in built as 4.19
and as 4.23.

What an integrator cannot do is listed in ``UNSUPPORTED`` with the reason; its case is skipped
with that reason (and shows as skipped, never as passed).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from hailo_partitions import export as standin_export
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import area, assert_same_run, brain, connectomes, proj, recurrent_chain

from conftest import SUPPORTED_HAILORT
from feagi_hailo_ros.engine.accel.hailo_devices import HailoDevices
from feagi_hailo_ros.engine.accel.hailo_integrator import HailoIntegrator
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator
from feagi_hailo_ros.engine.accel.onnx_integrator import OnnxRuntimeIntegrator
from feagi_hailo_ros.engine.accel.placement import (
    CPU,
    PlacementRules,
    accelerator_projections,
    place,
)
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.integrator import Integrator
from feagi_hailo_ros.hailo import HailoRT

HAILO_VERSIONS = SUPPORTED_HAILORT
KINDS = ("numpy", "onnxruntime", *(f"hailo-{v}" for v in HAILO_VERSIONS))

_STANDIN_DUPLICATES = (
    "the libhailort stand-in's test model format holds 0/1 weights, so it cannot count a "
    "duplicate synapse twice (the exporter's ONNX gives such a synapse weight 2; whether the "
    "compiled HEF keeps it exact needs a real Hailo-8)"
)
#: (integrator kind, case) -> why that integrator cannot run the case.
UNSUPPORTED: dict[tuple[str, str], str] = {
    (f"hailo-{v}", "duplicate_synapses"): _STANDIN_DUPLICATES for v in HAILO_VERSIONS
}

#: Every projection an accelerator can take goes to it (the contract, not the placement, is tested).
ALL_ON = PlacementRules(min_synapses=0, min_dst_neurons=0, keep_sensory_motor_on_cpu=False)

# The same budgets for every integrator.
COUNT_EXAMPLES = 30
RASTER_EXAMPLES = 15
RASTER_BURSTS = 60


def unsupported(kind: str, case: str) -> None:
    """Skip with the listed reason when ``kind`` cannot run ``case``."""
    why = UNSUPPORTED.get((kind, case))
    if why:
        pytest.skip(f"{kind}: {why}")


def without_duplicates(c: Connectome) -> Connectome:
    """``c`` with every repeated (pre, post) synapse of a projection kept once."""
    projections = []
    for p in c.projections:
        n_src = c.areas[p.src_area].neuron_count
        keys = np.asarray(p.post, np.int64) * n_src + np.asarray(p.pre, np.int64)
        _, first = np.unique(keys, return_index=True)
        first.sort()
        weights = None if p.weights is None else p.weights[first]
        projections.append(dataclasses.replace(p, pre=p.pre[first], post=p.post[first],
                                               weights=weights))
    return dataclasses.replace(c, projections=projections)


def accelerated(c: Connectome) -> list[int]:
    """The projections the contract cases give to the integrator."""
    return accelerator_projections(place(c, ALL_ON))


def expected_counts(c: Connectome, p: int, x: np.ndarray) -> np.ndarray:
    """The oracle: ``X @ A.T`` with ``A`` built from the synapse list (duplicates add up)."""
    proj_ = c.projections[p]
    a = np.zeros((c.areas[proj_.dst_area].neuron_count, c.areas[proj_.src_area].neuron_count),
                 np.int64)
    np.add.at(a, (np.asarray(proj_.post, np.int64), np.asarray(proj_.pre, np.int64)), 1)
    return x.astype(np.int64) @ a.T


Factory = Callable[[Connectome, list[int]], Integrator]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make(kind: str, request: pytest.FixtureRequest) -> Iterator[Factory]:
    """``make(connectome, projections)``: an unprepared integrator of ``kind`` for them.

    Files (ONNX exports, stand-in HEFs) go to temporary directories; every integrator made is
    closed after the test.
    """
    made: list[Integrator] = []
    dirs: list[tempfile.TemporaryDirectory[str]] = []
    devices = None
    if kind == "onnxruntime":  # optional packages (package.xml): without them the cases skip
        pytest.importorskip("onnx", reason="onnxruntime: exporting needs the onnx package")
        pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    rt = None
    if kind.startswith("hailo-"):
        rt = HailoRT(request.getfixturevalue("standin_libs")[kind.removeprefix("hailo-")])

    def factory(c: Connectome, projections: list[int]) -> Integrator:
        integ: Integrator
        if kind == "numpy":
            integ = NumpyIntegrator()
        elif kind == "onnxruntime":
            placements = [pl if pl.projection in projections else dataclasses.replace(pl, backend=CPU)
                          for pl in place(c, ALL_ON)]  # fmt: skip
            integ = OnnxRuntimeIntegrator.from_connectome(c, placements)
        elif kind.startswith("hailo-"):
            nonlocal devices
            # One integrator per Hypothesis example, examples one after another: the previous
            # example's integrator and vdevice go first. A device serves one vdevice at a time,
            # and the network groups configured on a vdevice stay until it is released (32 at
            # most): one pool for all the examples of a test would run out of them.
            for old in made:
                old.close()
            made.clear()
            if devices is not None:
                devices.close()
            devices = HailoDevices(rt=rt)
            tmp = tempfile.TemporaryDirectory(prefix="contract_hailo_")
            dirs.append(tmp)
            integ = HailoIntegrator(standin_export(tmp.name, c, projections), devices=devices,
                                    required=True, on_error="raise")
        else:  # a new kind in KINDS needs its own branch here
            raise NotImplementedError(f"no factory for integrator kind {kind!r}")
        made.append(integ)
        return integ

    yield factory
    for integ in made:
        integ.close()
    if devices is not None:
        devices.close()
    for tmp in dirs:
        tmp.cleanup()


def random_requests(c: Connectome, projections: list[int], rng: np.random.Generator,
                    rows: int) -> dict[int, np.ndarray]:
    """0/1 spike rows for each projection's source area, shared by projections of one source."""
    by_src: dict[int, np.ndarray] = {}
    out = {}
    for p in projections:
        src = c.projections[p].src_area
        if src not in by_src:
            by_src[src] = (rng.random((rows, c.areas[src].neuron_count)) < 0.4).astype(np.uint8)
        out[p] = by_src[src]
    return out


def check_counts(c: Connectome, requests: dict[int, np.ndarray], got: dict[int, np.ndarray]) -> None:
    assert got.keys() == requests.keys()
    for p, x in requests.items():
        y = np.asarray(got[p])
        assert y.dtype.kind in "iu", (p, y.dtype)
        np.testing.assert_array_equal(y, expected_counts(c, p, x), err_msg=f"projection {p}")


# -- the cases ------------------------------------------------------------------------------------

_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.function_scoped_fixture])


@settings(max_examples=COUNT_EXAMPLES, **_SETTINGS)
@given(c=connectomes().map(without_duplicates), seed=st.integers(0, 2**31))
def test_counts_are_exact(kind, make, c, seed):
    projections = accelerated(c)
    integ = make(c, projections)
    integ.prepare(c, projections)
    rng = np.random.default_rng(seed)
    for rows in (1, 2, 3):
        requests = random_requests(c, projections, rng, rows)
        check_counts(c, requests, integ.integrate(requests))
        requests = random_requests(c, projections, rng, rows)
        check_counts(c, requests, integ.collect(integ.submit(requests)))


@settings(max_examples=RASTER_EXAMPLES, **_SETTINGS)
@given(c=connectomes().map(without_duplicates), seed=st.integers(0, 2**31))
def test_engine_raster_identical_to_cpu(kind, make, c, seed):
    projections = accelerated(c)
    integ = make(c, projections)
    engines = [Engine(c, "cpu"), Engine(c, "cpu", integrators=dict.fromkeys(projections, integ))]
    assert_same_run(engines, c, RASTER_BURSTS, seed)


def _two_areas() -> Connectome:
    return brain([area(dims=(3, 2, 1)), area(dims=(4, 1, 1))],
                 [proj(0, 0, 1, np.arange(6), np.arange(6) % 4)])


def test_only_requested_projections_come_back(kind, make):
    c = brain([area(dims=(3, 1, 1)), area(dims=(2, 1, 1)), area(dims=(2, 1, 1))],
              [proj(0, 0, 1, [0, 1, 2], [0, 1, 1]), proj(1, 0, 2, [0, 2], [1, 0])])
    integ = make(c, [0, 1])
    integ.prepare(c, [0, 1])
    x = np.array([[1, 0, 1]], np.uint8)
    check_counts(c, {1: x}, integ.integrate({1: x}))


def test_stats_count_bursts_and_close_is_idempotent(kind, make):
    c = _two_areas()
    integ = make(c, [0])
    integ.prepare(c, [0])
    x = np.ones((1, 6), np.uint8)
    for n in range(1, 4):
        integ.collect(integ.submit({0: x}))
        assert integ.stats()["bursts"] == n
    integ.close()
    integ.close()
    integ.prepare(c, [0])  # reopens after close
    check_counts(c, {0: x}, integ.integrate({0: x}))


def test_engine_closes_the_integrator(kind, make):
    c = _two_areas()
    integ = make(c, [0])
    closed: list[bool] = []
    real_close = integ.close

    def close() -> None:
        closed.append(True)
        real_close()

    integ.close = close  # type: ignore[method-assign]
    engine = Engine(c, "cpu", integrators={0: integ})
    engine.force_fire(0)
    engine.step(2)
    before = len(closed)  # prepare may close first (to reopen cleanly)
    engine.close()
    assert len(closed) == before + 1


def test_duplicate_synapses_count_twice(kind, make):
    unsupported(kind, "duplicate_synapses")
    c = brain([area(dims=(3, 1, 1)), area(dims=(2, 1, 1))],
              [proj(0, 0, 1, [0, 0, 1, 2], [1, 1, 0, 1])])
    integ = make(c, [0])
    integ.prepare(c, [0])
    x = np.array([[1, 0, 0], [1, 1, 1]], np.uint8)
    got = integ.integrate({0: x})
    assert np.asarray(got[0]).tolist() == [[0, 2], [1, 3]]


def test_unsupported_list_names_known_kinds_and_cases():
    cases = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    for k, case in UNSUPPORTED:
        assert k in KINDS
        assert any(case in name for name in cases), case


# -- pipelining (core/pipeline.py) ----------------------------------------------------------------


def _pipelined_brain() -> Connectome:
    """A recurrent chain with delay-1, -2 and -3 projections, so direct and ahead work share
    each integrator."""
    return without_duplicates(recurrent_chain(5, (5, 2, 1), (2, 1, 3, 2), (30, 25, 25, 20)))


class _Spy:
    """Wraps an engine's integrator and backend: records each submit with whether the backend
    was inside a burst, and how many submissions were in flight at once."""

    def __init__(self, engine: Engine, integ: Integrator) -> None:
        self.inside = False
        self.submits: list[tuple[int, bool, tuple[int, ...]]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        real_submit, real_collect = integ.submit, integ.collect
        real_burst = engine.backend.process_burst

        def submit(spikes):
            self.submits.append((engine.backend.burst, self.inside, tuple(sorted(spikes))))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            return real_submit(spikes)

        def collect(handle):
            self.in_flight -= 1
            return real_collect(handle)

        def process_burst(inp):
            self.inside = True
            try:
                return real_burst(inp)
            finally:
                self.inside = False

        integ.submit = submit  # type: ignore[method-assign]
        integ.collect = collect  # type: ignore[method-assign]
        engine.backend.process_burst = process_burst  # type: ignore[method-assign]


def test_pipelined_raster_identical_to_cpu_and_reference(kind, make):
    c = _pipelined_brain()
    projections = accelerated(c)
    assert {c.projections[p].delay for p in projections} == {1, 2, 3}
    integ = make(c, projections)
    engines = [Engine(c, "reference"), Engine(c, "cpu"),
               Engine(c, "cpu", integrators=dict.fromkeys(projections, integ))]
    spy = _Spy(engines[2], integ)
    fired = assert_same_run(engines, c, 80, seed=3)
    assert fired > 80  # active, so the comparison means something
    # Ahead work (delay >= 2) went in during the burst before its own, while the CPU worked.
    ahead = {p for p in projections if c.projections[p].delay >= 2}
    early = [s for s in spy.submits if s[1] and set(s[2]) <= ahead]
    assert len(early) > 40, spy.submits[:10]
    assert spy.most_in_flight <= integ.max_in_flight
    engines[2].close()


def test_not_pipelined_submits_only_at_burst_start(kind, make):
    c = _pipelined_brain()
    projections = accelerated(c)
    integ = make(c, projections)
    engines = [Engine(c, "cpu"),
               Engine(c, "cpu", integrators=dict.fromkeys(projections, integ), pipelined=False)]
    spy = _Spy(engines[1], integ)
    assert_same_run(engines, c, 40, seed=3)
    assert spy.submits and not any(inside for _, inside, _ in spy.submits)
    engines[1].close()


def test_reset_and_checkpoint_drop_work_submitted_ahead(kind, make, tmp_path):
    c = _pipelined_brain()
    projections = accelerated(c)
    integ = make(c, projections)
    cpu, acc = Engine(c, "cpu"), Engine(c, "cpu", integrators=dict.fromkeys(projections, integ))
    assert_same_run([cpu, acc], c, 30, seed=4)
    cpu.save_checkpoint(tmp_path / "at30.npz")
    assert_same_run([cpu, acc], c, 7, seed=5)
    for e in (cpu, acc):
        e.reset()
    assert_same_run([cpu, acc], c, 30, seed=6)  # stale ahead work would be added here
    for e in (cpu, acc):
        e.load_checkpoint(tmp_path / "at30.npz")
    assert_same_run([cpu, acc], c, 30, seed=7)
    acc.close()


def test_failed_burst_drains_and_resubmits(kind, make):
    c = _pipelined_brain()
    projections = accelerated(c)
    integ = make(c, projections)
    cpu, acc = Engine(c, "cpu"), Engine(c, "cpu", integrators=dict.fromkeys(projections, integ))
    assert_same_run([cpu, acc], c, 20, seed=8)
    real = acc.backend.process_burst

    def boom(inp):
        if inp.late_external is not None:
            inp.late_external()  # the integrator's work was taken, then the burst fails
        raise RuntimeError("burst failed")

    acc.backend.process_burst = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="burst failed"):
        acc.step()
    acc.backend.process_burst = real  # type: ignore[method-assign]
    assert all(not lane.queue for lane in acc._lanes)
    assert_same_run([cpu, acc], c, 30, seed=9)  # the same burst again, from the same spikes
    acc.close()


def test_ahead_work_goes_in_after_a_burst_with_nothing_due(kind, make):
    # Only a delay-2 projection: burst 1 has nothing to collect (no collector runs), so the
    # spikes of burst 0 must still be submitted before step() of burst 1 returns.
    c = brain([area(dims=(3, 1, 1)), area(dims=(2, 1, 1))],
              [proj(0, 0, 1, [0, 1, 2], [0, 1, 1], delay=2)])
    integ = make(c, [0])
    acc = Engine(c, "cpu", integrators={0: integ})
    spy = _Spy(acc, integ)
    acc.force_fire(0)
    acc.step()  # burst 0: the source fires
    acc.step()  # burst 1: nothing due
    assert [(b, inside) for b, inside, _ in spy.submits] == [(2, False)]
    cpu = Engine(c, "cpu")
    cpu.force_fire(0)
    cpu.step(2)
    assert_same_run([cpu, acc], c, 5, seed=1)
    acc.close()
