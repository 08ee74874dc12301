"""`feagi-hailo tune`: measurement plumbing with a fake clock, the cost model, the choice, the
rules it writes, and one run on a shipped brain whose rules the engine and the node's engine
builder accept. No test asserts wall-clock speed: measured times come from fake clocks, and
the tests on real timings check only structure and exactness."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest
from hailo_partitions import export as standin_export
from strategies import area, brain, proj

from feagi_hailo_ros.cli import main
from feagi_hailo_ros.engine.accel import tune as tune_mod
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator
from feagi_hailo_ros.engine.accel.placement import (
    ACCELERATOR,
    CPU,
    PlacementRules,
    accelerated_engine,
    accelerator_projections,
    mapping_key,
    place,
)
from feagi_hailo_ros.engine.accel.tune import (
    Activity,
    CpuCost,
    PartitionCost,
    candidate_partitions,
    choose,
    integrator_factory,
    measure_cpu_costs,
    measure_partition_costs,
    predict,
    rules_for,
    tune,
    write_rules,
)
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.integrator import Integrator, SynchronousIntegrator
from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.ros.accelerators import AcceleratorConfig, make_engine


class FakeClock:
    """Time that moves only when told (``advance``), or by ``tick`` per reading."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 0.0
        self.tick = tick

    def __call__(self) -> float:
        t = self.now
        self.now += self.tick
        return t

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSync(SynchronousIntegrator):
    """Exact counts (NumPy) that cost ``cost`` seconds of fake time per burst."""

    name = "fake_sync"

    def __init__(self, clock: FakeClock, cost: float) -> None:
        self.clock, self.cost, self.ref = clock, cost, NumpyIntegrator()
        self.prepared: list[int] = []
        self.closed = False

    def prepare(self, connectome: Connectome, projections: Sequence[int]) -> None:
        self.prepared = list(projections)
        self.ref.prepare(connectome, projections)

    def compute(self, spikes):
        self.clock.advance(self.cost)
        return self.ref.compute(spikes)

    def stats(self):
        return {"bursts": self.ref.calls}

    def close(self) -> None:
        self.closed = True


class FakeAsync(Integrator):
    """A device: ``submit`` costs the host ``submit_s``, the counts are ready ``device_s`` later,
    ``collect`` waits for them and costs ``collect_s`` more."""

    name = "fake_async"

    def __init__(self, clock: FakeClock, submit_s: float, device_s: float, collect_s: float) -> None:
        self.clock, self.ref = clock, NumpyIntegrator()
        self.submit_s, self.device_s, self.collect_s = submit_s, device_s, collect_s
        self.ready_at = 0.0
        self.closed = False

    def prepare(self, connectome, projections):
        self.ref.prepare(connectome, projections)

    def submit(self, spikes):
        self.clock.advance(self.submit_s)
        self.ready_at = self.clock.now + self.device_s
        return spikes

    def collect(self, pending):
        self.clock.advance(max(0.0, self.ready_at - self.clock.now) + self.collect_s)
        return self.ref.compute(pending)

    def stats(self):
        return {"bursts": self.ref.calls}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def small() -> Connectome:
    """a0 (6) -> a1 (6) (p0, p1: two rules), a0 -> a2 (p2, delay 2), a1 -> a2 (p3)."""
    a = [area(dims=(6, 1, 1), cid=f"a{i}") for i in range(3)]
    return brain(a, [
        proj(0, 0, 1, [0, 1, 2, 3], [1, 2, 3, 4]),
        proj(1, 0, 1, [0, 0, 5], [0, 5, 5]),
        proj(2, 0, 2, [0, 1, 2, 3, 4, 5], [0, 0, 1, 1, 2, 2], delay=2),
        proj(3, 1, 2, [1, 2, 3], [3, 4, 5]),
    ])


def activity_of(connectome: Connectome, per_burst: list[list[int]]) -> Activity:
    fired = tuple((np.array(ids, np.int64), np.ones(len(ids), np.float32)) for ids in per_burst)
    return Activity(fired, cpu_burst_s=1e-3)


BASE = PlacementRules(keep_sensory_motor_on_cpu=False)


# -- measuring ---------------------------------------------------------------------------------


def test_record_activity_keeps_the_engines_spikes_after_the_warmup():
    c = brain([area(dims=(8, 1, 1), cid="i_in", threshold=1.0),
               area(dims=(8, 1, 1), cid="a1", threshold=1.0)],
              [proj(0, 0, 1, list(range(8)), list(range(8)))])
    act = tune_mod.record_activity(c, 5, input_rate=0.5, warmup=3, seed=4,
                                   timer=FakeClock(tick=1e-3))
    assert len(act.fired) == 5
    assert act.cpu_burst_s == pytest.approx(1e-3)  # one tick between the readings per burst
    # The same drive and seed through a plain engine: bursts 3..7 are the recording.
    from feagi_hailo_ros.engine.core.drive import PoissonDrive

    engine, drive = Engine(c, "cpu", seed=4, learning=False), PoissonDrive(c, 0.5, seed=4)
    seen = []
    for _ in range(8):
        drive.apply(engine)
        engine.step()
        seen.append(engine.fired_global())
    assert any(s.size for s in seen[3:]), "nothing fired: the comparison proves nothing"
    for (ids, psp), expected in zip(act.fired, seen[3:], strict=True):
        assert np.array_equal(ids, expected) and psp.shape == ids.shape



def test_cpu_cost_counts_the_events_of_the_recorded_spikes(small):
    # a0 is neurons 0-5, a1 6-11: burst 0 fires a0 {0, 5} and a1 {1}; burst 1 a0 {1}.
    act = activity_of(small, [[0, 5, 7], [1]])
    costs = measure_cpu_costs(small, [0, 1, 2, 3], act, repeats=2, timer=FakeClock(tick=1e-6))
    out_degree = {p: np.bincount(small.projections[p].pre, minlength=6) for p in range(4)}
    # Events per burst: sum over the bursts of the fired sources' out-degrees, / 2 bursts.
    assert costs[0].events == (out_degree[0][[0, 5]].sum() + out_degree[0][1]) / 2
    assert costs[1].events == (out_degree[1][[0, 5]].sum() + out_degree[1][1]) / 2
    assert costs[2].events == (out_degree[2][[0, 5]].sum() + out_degree[2][1]) / 2
    assert costs[3].events == out_degree[3][1] / 2
    # One clock tick between the two readings around each burst's delivery.
    assert all(c.seconds == pytest.approx(1e-6) for c in costs.values())


def test_best_of_repeats_keeps_the_smallest(small):
    samples = iter([5.0, 2.0, 3.0])
    assert tune_mod._best_of(3, lambda: next(samples)) == 2.0


def test_synchronous_partition_cost_is_all_host_time(small):
    clock = FakeClock()
    made: list[FakeSync] = []

    def factory(connectome, projections):
        made.append(FakeSync(clock, 40e-6))
        return made[-1]

    parts = candidate_partitions(small, BASE)
    act = activity_of(small, [[0, 7], [1, 8], [2]])
    costs = measure_partition_costs(small, parts, act, factory, repeats=2, timer=clock)
    by_name = {p.name: p for p in parts}
    for name, cost in costs.items():
        fires = sum(1 for b in range(3)
                    if act.source_spikes(small, small.projections[cost.projections[0]].src_area,
                                         b)[0].size)
        assert cost.round_trip_s == pytest.approx(40e-6 * fires / 3)
        assert cost.host_s == cost.round_trip_s and cost.device_s == 0
        assert cost.projections == by_name[name].projections
    # Each integrator was prepared with its partition's projections alone, and closed.
    assert sorted(tuple(m.prepared) for m in made) == sorted(p.projections for p in parts)
    assert all(m.closed for m in made)


def test_asynchronous_partition_cost_separates_host_and_device(small):
    clock = FakeClock()
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock.advance(s)

    parts = [p for p in candidate_partitions(small, BASE) if 3 in p.projections]
    act = activity_of(small, [[7], [8]])  # a1 fires every burst
    costs = measure_partition_costs(small, parts, act,
                                    lambda c, p: FakeAsync(clock, 10e-6, 300e-6, 5e-6),
                                    repeats=1, timer=clock, sleep=sleep)
    (cost,) = costs.values()
    assert cost.round_trip_s == pytest.approx(315e-6)
    assert cost.host_s == pytest.approx(15e-6)
    assert cost.device_s == pytest.approx(300e-6)
    assert slept and all(s == pytest.approx(315e-6) for s in slept)


# -- the model and the choice -------------------------------------------------------------


def costs(cpu: dict[int, float], parts: dict[str, tuple[tuple[int, ...], float, float]]):
    return ({p: CpuCost(p, s, 0.0) for p, s in cpu.items()},
            {k: PartitionCost(k, projs, host, rt) for k, (projs, host, rt) in parts.items()})


def test_predict_adds_synchronous_costs():
    cpu, parts = costs({0: 10.0, 1: 20.0, 2: 5.0}, {"A": ((0, 1), 12.0, 12.0), "B": ((2,), 7.0, 7.0)})
    assert predict((), cpu, parts, 100.0).burst_s == 135.0
    assert predict(("A",), cpu, parts, 100.0).burst_s == 100.0 + 5.0 + 12.0
    assert predict(("A", "B"), cpu, parts, 100.0).burst_s == 100.0 + 12.0 + 7.0


def test_predict_hides_device_time_behind_cpu_delivery():
    cpu, parts = costs({0: 10.0, 1: 50.0}, {"A": ((0,), 2.0, 32.0)})  # 30 on the device
    # The CPU still delivers p1 (50) while the device works (30): only host time is added.
    assert predict(("A",), cpu, parts, 0.0).burst_s == 50.0 + 2.0
    cpu, parts = costs({0: 10.0, 1: 20.0}, {"A": ((0,), 2.0, 32.0)})
    # The device (30) outlasts the CPU's 20: the burst waits the 10 more.
    assert predict(("A",), cpu, parts, 0.0).burst_s == 20.0 + 2.0 + 10.0


def test_choose_takes_exactly_the_partitions_cheaper_on_the_accelerator():
    cpu, parts = costs({0: 10.0, 1: 20.0, 2: 5.0, 3: 8.0},
                       {"A": ((0, 1), 12.0, 12.0), "B": ((2,), 7.0, 7.0), "C": ((3,), 1.0, 1.0)})
    pick = choose(cpu, parts, 100.0, tolerance=0.0)
    assert pick.partitions == ("A", "C")
    assert pick.burst_s == 100.0 + 12.0 + 5.0 + 1.0


def test_choose_prefers_fewer_partitions_within_tolerance():
    cpu, parts = costs({0: 10.0}, {"A": ((0,), 9.0, 9.0)})  # saves 1 of 110: 0.9 %
    assert choose(cpu, parts, 100.0, tolerance=0.02).partitions == ()
    assert choose(cpu, parts, 100.0, tolerance=0.0).partitions == ("A",)


def test_choose_at_a_target_rate():
    # Base 1 ms; p0 costs 0.5 ms on the CPU, 0.2 ms on the accelerator.
    cpu, parts = costs({0: 0.5e-3}, {"A": ((0,), 0.2e-3, 0.2e-3)})
    assert choose(cpu, parts, 1e-3, target_rate=800.0).partitions == ("A",)  # needs <= 1.25 ms
    # Nothing reaches 2000 bursts/s: the fastest split still.
    assert choose(cpu, parts, 1e-3, target_rate=2000.0).partitions == ("A",)
    # A near tie: A saves 1 % (within the 2 % tolerance, so fewer partitions wins) ...
    cpu, parts = costs({0: 0.2e-3}, {"A": ((0,), 0.19e-3, 0.19e-3)})  # 1.2 ms vs 1.19 ms
    assert choose(cpu, parts, 1e-3).partitions == ()
    # ... unless the target needs the faster split: 1/1.195 ms is reached by A only.
    assert choose(cpu, parts, 1e-3, target_rate=1 / 1.195e-3).partitions == ("A",)
    with pytest.raises(ValueError, match="target rate"):
        choose(cpu, parts, 1e-3, target_rate=0.0)
    with pytest.raises(ValueError, match="tolerance"):
        choose(cpu, parts, 1e-3, tolerance=-1.0)


def test_local_search_beyond_the_exhaustive_limit_matches_exhaustive(monkeypatch):
    # Four partitions that each pay off alone (device time hidden behind the CPU's work), so
    # the greedy start takes all four; but k of them cost 70 - 9k + max(0, 31k - 70): best at
    # k = 2 (52), two flips away from the start (88). E never pays off.
    cpu_s = {p: 10.0 for p in range(4)} | {4: 30.0}
    parts = {n: ((p,), 1.0, 22.0) for p, n in enumerate("ABCD")} | {"E": ((4,), 40.0, 40.0)}
    cpu, pc = costs(cpu_s, parts)
    exhaustive = choose(cpu, pc, 0.0, tolerance=0.0)
    assert exhaustive.burst_s == 52.0 and len(exhaustive.partitions) == 2
    monkeypatch.setattr(tune_mod, "EXHAUSTIVE_LIMIT", 1)
    local = choose(cpu, pc, 0.0, tolerance=0.0)
    assert local.burst_s == 52.0 and len(local.partitions) == 2 and "E" not in local.partitions


# -- rules ---------------------------------------------------------------------------------


def test_rules_place_exactly_the_chosen_partitions(small, tmp_path):
    parts = candidate_partitions(small, BASE)
    chosen = [parts[0].name]
    rules = rules_for(small, BASE, parts, chosen)
    assert sorted(accelerator_projections(place(small, rules))) == sorted(parts[0].projections)
    for suffix in (".yaml", ".json"):
        path = write_rules(rules, tmp_path / f"rules{suffix}", "a comment\nof two lines")
        loaded = PlacementRules.load(path)
        assert loaded == rules
    assert (tmp_path / "rules.yaml").read_text().startswith("# a comment\n# of two lines\n")


def test_rules_keep_the_users_other_overrides(small):
    # The user's rules keep a2's projections on the CPU and name one of them in an override.
    base = PlacementRules(keep_sensory_motor_on_cpu=False, cpu_areas=["a2"],
                          overrides={mapping_key(small, 3): CPU})
    parts = candidate_partitions(small, base)
    assert {p for part in parts for p in part.projections} == {0, 1}  # a2 touches p2, p3
    rules = rules_for(small, base, parts, [])
    assert rules.cpu_areas == ("a2",)
    assert rules.overrides == {mapping_key(small, 0): CPU, mapping_key(small, 1): CPU,
                               mapping_key(small, 3): CPU}
    rules = rules_for(small, base, parts, [parts[0].name])
    assert {k: v for k, v in rules.overrides.items() if v == ACCELERATOR} == {
        mapping_key(small, p): ACCELERATOR for p in parts[0].projections}


# -- the whole run -----------------------------------------------------------------------------


def test_tune_with_a_fake_clock_chooses_the_cheap_partition_and_reports(small, monkeypatch):
    clock = FakeClock()
    # Fake cost model. CPU: 1 us per synaptic event the engine's kernel delivers.
    real = tune_mod.kernels.propagate

    def propagate(*args):
        events = real(*args)
        clock.advance(events * 1e-6)
        return events

    monkeypatch.setattr(tune_mod.kernels, "propagate", propagate)
    # Integrator per burst: 0.1 us for the a1 partition (p3 delivers 1 event per burst on the
    # CPU, 1 us), 1 s for the a0 ones.
    dear = {p.name: (1e-7 if p.src_area == "a1" else 1.0) for p in candidate_partitions(small, BASE)}

    def factory(connectome, projections):
        src = connectome.areas[connectome.projections[projections[0]].src_area].cortical_id
        return FakeSync(clock, 1e-7 if src == "a1" else 1.0)

    act = activity_of(small, [[0, 7], [1, 8]])
    r = tune(small, factory, integrator_name="fake", base=BASE, activity=act, timer=clock,
             repeats=1, tolerance=0.0)
    cheap = [k for k, v in dear.items() if v < 1]
    assert len(cheap) == 1 and len(r.chosen.partitions) == 1
    assert sorted(accelerator_projections(place(small, r.rules))) == [3]
    rows = {row["name"]: row for row in r.report["partitions"]}
    assert {k for k, row in rows.items() if row["chosen"]} == set(cheap)
    assert r.report["integrator"] == "fake" and r.report["bursts"] == 2
    json.dumps(r.report)  # JSON-able
    text = tune_mod.format_report(r.report)
    assert cheap[0] in text and "tuned split" in text


def test_tune_measures_hailo_partitions_through_the_standin(small, standin_libs, tmp_path):
    manifest = standin_export(tmp_path, small, [0, 1, 3])
    factory = integrator_factory("hailo", hailo_manifest=manifest,
                                 hailo_library=str(standin_libs["4.23"]))
    act = activity_of(small, [[0, 7], [1, 8], [5, 9]])
    r = tune(small, factory, integrator_name="hailo", base=BASE, activity=act, repeats=1,
             candidates=tune_mod.manifest_candidates(small, manifest), sleep=lambda s: None)
    names = {p.name for p in tune_mod.manifest_candidates(small, manifest)}
    assert set(r.partitions) == names
    assert all(0 <= c.host_s for c in r.partitions.values())
    # Whatever was chosen, the rules place exactly that on the accelerator.
    chosen = {p for k in r.report["partitions"] if k["chosen"] for p in k["projections"]}
    assert set(accelerator_projections(place(small, r.rules))) == chosen


def test_tune_refuses_to_time_the_cpu_fallback_as_the_device(small, tmp_path):
    # No HailoRT at that path: the Hailo integrator would fall back to the CPU (exactly), and
    # tune would time the CPU as if it were the device. It must fail instead.
    from feagi_hailo_ros.hailo import HailoRTUnavailable

    manifest = standin_export(tmp_path, small, [0, 1, 3])
    factory = integrator_factory("hailo", hailo_manifest=manifest,
                                 hailo_library=str(tmp_path / "no_libhailort.so"))
    with pytest.raises(HailoRTUnavailable):
        tune(small, factory, integrator_name="hailo", base=BASE, repeats=1,
             activity=activity_of(small, [[0, 7]]),
             candidates=tune_mod.manifest_candidates(small, manifest))


def test_cli_tune_with_hailo_through_the_standin(tmp_path, standin_libs, capsys):
    obstacle = load_brain("obstacle_avoidance")[0]
    parts = candidate_partitions(obstacle, PlacementRules())
    manifest = standin_export(tmp_path / "hef", obstacle,
                              sorted(p for k in parts for p in k.projections))
    out = tmp_path / "tuned.yaml"
    assert main(["tune", "obstacle_avoidance", "--integrator", "hailo", "--hailo-manifest",
                 str(manifest), "--hailo-library", str(standin_libs["4.23"]), "--out", str(out),
                 "--bursts", "4", "--warmup", "1", "--repeats", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["integrator"] == "hailo"
    assert {k["name"] for k in report["partitions"]} == {
        k.name for k in tune_mod.manifest_candidates(obstacle, manifest)}
    PlacementRules.load(out)


def test_hailo_factory_needs_a_manifest_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="manifest"):
        integrator_factory("hailo")
    with pytest.raises(ValueError, match="unknown integrator"):
        integrator_factory("tpu")


@pytest.fixture(scope="module")
def vision() -> Connectome:
    return load_brain("vision")[0]


def test_cli_tune_on_a_shipped_brain_writes_rules_the_engine_and_node_accept(vision, tmp_path,
                                                                               capsys):
    out, report = tmp_path / "tuned.yaml", tmp_path / "tune.json"
    assert main(["tune", "vision", "--out", str(out), "--report", str(report), "--bursts", "8",
                 "--warmup", "2", "--repeats", "1", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(report.read_text())
    rules = PlacementRules.load(out)
    # The rules decide every candidate explicitly, as the report says.
    on = set(accelerator_projections(place(vision, rules)))
    assert on == {p for k in printed["partitions"] if k["chosen"] for p in k["projections"]}
    assert {row["projection"] for row in printed["projections"]} >= on
    # The node's engine builder takes the file as placement_config.
    choice = make_engine(vision, AcceleratorConfig(accelerator="none", placement_config=str(out)))
    assert len(choice.placement_rows) == len(vision.projections)


def test_tuned_rules_run_exactly_on_an_integrator(vision, tmp_path):
    # Every candidate chosen (the machine may well prefer none): the rules still give an
    # engine whose spikes equal the CPU engine's.
    base = PlacementRules()
    parts = candidate_partitions(vision, base)
    rules = rules_for(vision, base, parts, [p.name for p in parts])
    path = write_rules(rules, tmp_path / "all.json")
    rules = PlacementRules.load(path)
    placements = place(vision, rules)
    assert set(accelerator_projections(placements)) == {p for k in parts for p in k.projections}
    cpu = Engine(vision, "cpu", seed=1)
    acc = accelerated_engine(vision, NumpyIntegrator(), placements, seed=1)
    vis = vision.area("iv00_C")
    rng = np.random.default_rng(0)
    inner = set()
    for _ in range(12):
        idx = rng.choice(vis.neuron_count, vis.neuron_count // 10, replace=False)
        for e in (cpu, acc):
            e.inject(vis.index, indices=idx, potentials=100.0)
            e.step()
        assert np.array_equal(cpu.fired_global(), acc.fired_global())
        inner |= {k.src_area for k in parts if cpu.fired(k.src_area).size}
    assert inner, "no partition's source fired: the comparison proved nothing"


def test_cli_tune_prints_the_table_and_writes_json_rules(tmp_path, capsys):
    out = tmp_path / "tuned.json"
    assert main(["tune", "obstacle_avoidance", "--out", str(out), "--bursts", "3", "--warmup",
                 "1", "--repeats", "1", "--target-rate", "1e9"]) == 0
    captured = capsys.readouterr()
    assert "tuned split" in captured.out and f"rules written to {out}" in captured.out
    assert "target 1e+09 bursts/s: NOT met" in captured.out
    assert "no split reaches" in captured.err
    rules = PlacementRules.load(out)
    assert json.loads(out.read_text())["overrides"] == rules.overrides


@pytest.mark.parametrize("argv, message", [
    (["--bursts", "0"], "--bursts"),
    (["--integrator", "hailo"], "manifest"),
    (["--input-rate", "2"], "input rate"),
])
def test_cli_tune_refuses_bad_flags(tmp_path, capsys, argv, message):
    assert main(["tune", "obstacle_avoidance", "--out", str(tmp_path / "r.yaml"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.yaml").exists()
