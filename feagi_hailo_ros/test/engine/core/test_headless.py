"""``run_brain`` (what ``feagi-hailo run`` does): quiet stretches between schedule entries run
batched (``Engine.run``), schedule bursts one at a time, and the result is that of the NumPy
reference stepping burst by burst; chunks follow the measured rate (fake clock here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from feagi_hailo_ros.engine.core import headless
from feagi_hailo_ros.engine.core.drive import PoissonDrive
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.headless import CHUNK_SECONDS, next_chunk, run_brain
from feagi_hailo_ros.engine.genome.brains import load_brain


@pytest.fixture(scope="module")
def shipped():
    return load_brain("obstacle_avoidance", seed=0)[0]


def schedule_of(connectome) -> dict:
    """Injections and forced fires at the first burst, two adjacent ones, a lone one and the
    last (of 300)."""
    sensor = connectome.area("i__pro")
    vox = sensor.voxel_of(np.arange(0, sensor.neuron_count, 3))[:4].astype(np.int64)

    def inject(p: float) -> dict:
        return {"area": "i__pro", "voxels": vox, "potential": p, "force": False}

    def force(p: float | None) -> dict:
        return {"area": "i__pro", "voxels": vox[:2], "potential": p, "force": True}

    return {0: [inject(2.0)], 57: [force(None), inject(0.5)], 58: [inject(7.0), inject(-1.0)],
            160: [force(3.0)], 299: [inject(100.0)]}


class Calls:
    """Spy on ``Engine.run``: the burst count of every call."""

    def __init__(self, monkeypatch) -> None:
        self.sizes: list[int] = []
        real = Engine.run

        def run(engine, n, **kw):
            self.sizes.append(int(n))
            return real(engine, n, **kw)

        monkeypatch.setattr(Engine, "run", run)


def test_batched_run_equals_the_reference_burst_by_burst(shipped, tmp_path: Path, monkeypatch):
    schedule = schedule_of(shipped)
    drive = PoissonDrive(shipped, 0.05, seed=2)
    calls = Calls(monkeypatch)
    fast = run_brain(shipped, 300, seed=2, schedule=schedule, drive=drive).summary
    batched_calls = list(calls.sizes)
    ref_record, cpu_record = tmp_path / "ref.jsonl", tmp_path / "cpu.jsonl"
    ref = run_brain(shipped, 300, seed=2, schedule=schedule, drive=drive, record=ref_record,
                    backend="reference").summary
    cpu = run_brain(shipped, 300, seed=2, schedule=schedule, drive=drive, record=cpu_record).summary
    assert fast["fired_total"] == ref["fired_total"] == cpu["fired_total"] > 300
    assert cpu_record.read_bytes() == ref_record.read_bytes()
    lines = [json.loads(x) for x in cpu_record.read_text().splitlines()]
    assert [x["burst"] for x in lines] == list(range(300))
    # The batched run: schedule bursts alone, the stretches between them in few calls.
    starts = np.cumsum([0, *batched_calls])[:-1]
    alone = {int(b) for b, n in zip(starts, batched_calls, strict=True) if n == 1}
    assert set(schedule) <= alone
    assert sum(batched_calls) == 300 and len(batched_calls) < 30
    # The record path steps one burst per call (it reads every burst's ids).
    assert calls.sizes[len(batched_calls):] == [1] * 600


def test_batched_run_without_drive_or_schedule(shipped):
    ref = run_brain(shipped, 120, backend="reference").summary
    assert run_brain(shipped, 120).summary["fired_total"] == ref["fired_total"] > 0


class FakeClock:
    """Each reading is ``tick`` seconds after the previous one."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_chunks_follow_the_measured_rate_and_progress_comes_once_a_second(shipped, monkeypatch):
    calls = Calls(monkeypatch)
    reports: list[tuple[int, float]] = []
    clock = FakeClock(0.05)  # every call seems to take 0.05 s, whatever its size
    summary = run_brain(shipped, 50_000, drive=PoissonDrive(shipped, 0.05),
                        progress=lambda done, rate: reports.append((done, rate)),
                        clock=clock).summary
    sizes = calls.sizes
    assert sizes[0] == headless.FIRST_CHUNK and sum(sizes) == 50_000
    for last, n in zip(sizes, sizes[1:-1], strict=False):
        # A call's rate is last / 0.05 s: the next holds CHUNK_SECONDS of it, growth <= 4x.
        assert n == min(4 * last, int(last / 0.05 * CHUNK_SECONDS))
    # Two readings per call (before, after): 0.1 s of fake time per call, a report every
    # ~1 s, i.e. every 10th or 11th call.
    assert len(reports) == pytest.approx(len(sizes) / 10.5, abs=1)
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)
    assert summary["bursts"] == 50_000


def test_next_chunk():
    assert next_chunk(100, 0.01, 100) == 400  # 10k bursts/s: 2500 fit, at most 4x
    assert next_chunk(100, 1.0, 100) == 25  # 100 bursts/s: a quarter of a second
    assert next_chunk(1, 10.0, 64) == 1  # at least one burst
    assert next_chunk(5, 0.0, 8) == 32  # unmeasurably fast: grow 4x


def test_ctrl_c_stops_and_closes_the_record(shipped, tmp_path: Path, monkeypatch):
    from feagi_hailo_ros.cli import main

    real = Engine.run
    seen = []

    def interrupted(engine, n, **kw):
        seen.append(n)
        if len(seen) == 5:
            raise KeyboardInterrupt
        return real(engine, n, **kw)

    monkeypatch.setattr(Engine, "run", interrupted)
    record = tmp_path / "rec.jsonl"
    try:
        status = main(["run", "obstacle_avoidance", "--bursts", "100", "--record", str(record),
                       "--quiet", "--input-rate", "0.1"])
    except KeyboardInterrupt:  # escaping here would also stop pytest itself
        pytest.fail("Ctrl-C escaped feagi-hailo's main with a traceback")
    assert status == 130
    lines = record.read_text().splitlines()  # closed: every line written is complete
    assert [json.loads(x)["burst"] for x in lines] == [0, 1, 2, 3]
