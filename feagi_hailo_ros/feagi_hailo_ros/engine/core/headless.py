"""A headless run of a brain: stimulation schedules, a Poisson drive, a JSON-lines record of every
burst, and the spike rows a raster is drawn from. What ``feagi-hailo run`` does, without the
printing."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backend import FORCED_POTENTIAL
from .connectome import Connectome
from .drive import PoissonDrive
from .engine import Engine
from .plasticity import DEFAULT_MAX_PLASTIC_SYNAPSES


class ScheduleError(ValueError):
    """A stimulation schedule that cannot be applied to this brain; the message names the entry."""


#: burst -> entries ``{"area": cortical id, "voxels": (n, 3) int64, "potential": float | None,
#: "force": bool}``.
Schedule = Mapping[int, list[dict[str, Any]]]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _voxels(value: Any, where: str) -> np.ndarray:
    """``[[x, y, z], ...]`` of integers as an ``(n, 3)`` int64 array; ScheduleError otherwise."""
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, list) and len(v) == 3 and all(map(_is_int, v)) for v in value)):
        raise ScheduleError(f"{where}: 'voxels' must be a non-empty list of [x, y, z] integer triples")
    return np.asarray(value, dtype=np.int64).reshape(-1, 3)


def load_schedule(path: Path, connectome: Connectome,
                  bursts: int | None = None) -> dict[int, list[dict[str, Any]]]:
    """Read a stimulation schedule (a JSON list of entries) and check every entry against
    ``connectome`` (and, when given, the number of ``bursts`` the run will have) before the run
    starts.

    An entry is ``{"burst": int >= 0, "area": id or name, "voxels": [[x, y, z], ...],
    "potential": finite number}`` (added to the input), or with ``"force": true`` a forced fire
    (DESIGN §4 rule 6: nothing is injected; ``potential``, default 100, is only what FEAGI reports
    and the PSP a forced ``mp_psp`` neuron sends). Raises :class:`ScheduleError` naming the entry.
    """
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScheduleError(f"schedule {path}: {exc}") from exc
    if not isinstance(entries, list):
        raise ScheduleError(f"schedule {path}: expected a JSON list of entries")
    by_burst: dict[int, list[dict[str, Any]]] = {}
    for i, e in enumerate(entries):
        where = f"schedule {path} entry {i}"
        if not isinstance(e, dict) or not _is_int(e.get("burst")) or e["burst"] < 0:
            raise ScheduleError(f"{where}: needs an integer 'burst' >= 0")
        if bursts is not None and e["burst"] >= bursts:
            raise ScheduleError(f"{where}: burst {e['burst']} is past the run's last burst "
                                f"({bursts - 1})")
        try:
            area = connectome.area(str(e.get("area", "")))
        except KeyError as exc:
            raise ScheduleError(f"{where}: {exc.args[0]}") from exc
        voxels = _voxels(e.get("voxels"), where)
        try:
            area.neurons_of_voxels(voxels)
        except IndexError as exc:
            raise ScheduleError(f"{where}: {exc}") from exc
        force = e.get("force", False)
        if not isinstance(force, bool):
            raise ScheduleError(f"{where}: 'force' must be true or false, got {force!r}")
        potential = e.get("potential")
        numeric = isinstance(potential, (int, float)) and not isinstance(potential, bool)
        if potential is not None and not (numeric and math.isfinite(potential)):
            raise ScheduleError(f"{where}: 'potential' must be a finite number, got {potential!r}")
        if not force and potential is None:
            raise ScheduleError(f"{where}: needs a numeric 'potential' (or \"force\": true)")
        by_burst.setdefault(e["burst"], []).append(
            {"area": area.cortical_id, "voxels": voxels, "potential": potential, "force": force})
    return by_burst


def raster_labels(connectome: Connectome) -> list[str]:
    """One distinct label per area (by area index): its name, with the cortical id added where
    two areas share a name or an area has none."""
    names = [a.name for a in connectome.areas]
    return [a.name if a.name and names.count(a.name) == 1 else
            f"{a.name} ({a.cortical_id})" if a.name else a.cortical_id
            for a in connectome.areas]


@dataclass
class RunResult:
    """Summary of a headless run, and the raster rows when they were asked for."""

    summary: dict[str, Any]
    #: area label (:func:`raster_labels`) -> [(burst, sorted area-local fired indices)], when
    #: ``raster=True``.
    raster_rows: dict[str, list[tuple[int, np.ndarray]]] = field(default_factory=dict)


#: Longest a batched call of :func:`run_brain` should take (seconds, estimated from the rate
#: measured so far), so progress and Ctrl-C are seen within about this long.
CHUNK_SECONDS = 0.25
#: Bursts of the first batched call, before any rate is measured.
FIRST_CHUNK = 64


def next_chunk(bursts: int, seconds: float, last: int) -> int:
    """Bursts for the next batched call of :func:`run_brain`: what ``CHUNK_SECONDS`` holds at
    the rate of the call just made (``bursts`` in ``seconds``), growing at most 4x over
    ``last`` (a call that compiled the kernels, or a very short one, measures badly), at
    least 1."""
    if seconds <= 0.0:
        return max(1, 4 * last)
    return max(1, min(4 * last, int(bursts / seconds * CHUNK_SECONDS)))


def _queue_entries(engine: Engine, entries: list[dict[str, Any]]) -> None:
    """Queue one burst's schedule entries on ``engine`` (checked by :func:`load_schedule`)."""
    for e in entries:
        if e["force"]:
            # A forced fire injects nothing (recording min_force): the potential is
            # what FEAGI reports and what a forced mp_psp neuron sends.
            engine.force_fire(e["area"], voxels=e["voxels"],
                              potential=float(e["potential"] if e["potential"] is not None
                                              else FORCED_POTENTIAL))
        elif e["potential"] is not None:
            engine.inject(e["area"], voxels=e["voxels"], potentials=float(e["potential"]))


def run_brain(connectome: Connectome, bursts: int, *, seed: int = 0,
              schedule: Schedule | None = None, record: Path | None = None,
              raster: bool = False, drive: PoissonDrive | None = None,
              progress: Callable[[int, float], None] | None = None,
              learning: bool = True,
              max_plastic_synapses: int = DEFAULT_MAX_PLASTIC_SYNAPSES,
              backend: str = "cpu",
              clock: Callable[[], float] = time.perf_counter) -> RunResult:
    """Run ``bursts`` bursts on ``backend`` (an ``Engine`` backend name; the NumPy
    ``"reference"`` is the oracle the tests compare with).

    Each burst gets ``drive``'s injections, then the ``schedule`` entries of that burst;
    ``record`` gets one JSON line per burst: ``{"burst": b, "fired": {id: [[x, y, z], ...]}}``.
    Without ``record`` and ``raster`` the bursts between schedule entries run batched
    (``Engine.run``: one compiled call per chunk of up to ~``CHUNK_SECONDS``, the drive
    generated inside it); with them one burst per call, since every burst's fired ids are
    read. The spikes are the same either way. ``progress(bursts_done, bursts_per_second)`` is
    called about once a second (``clock``, seconds, times it). The summary
    has bursts, seconds, bursts_per_second, fired_total, neurons and synapses, and for a brain
    with plastic mappings ``learning`` (``learning=False`` runs it frozen) and
    ``plastic_synapses`` (their count at the end: ``associative_memory`` grows them) and
    ``plastic_weight_sum`` (their weights summed at the end, to see that learning happened) and
    ``plastic_growth_refused`` (associative synapses not grown past ``max_plastic_synapses``);
    with memory areas, ``memory_areas`` (``Engine.memory_summary`` at the end); ``notes``, the
    connectome's notes (what its build skipped or read differently), when there are any.
    A ``KeyboardInterrupt`` between calls stops the run; the record so far is closed.
    """
    engine = Engine(connectome, backend, seed=seed, learning=learning,
                    max_plastic_synapses=max_plastic_synapses)
    schedule = schedule or {}
    stim_bursts = sorted(b for b in schedule if 0 <= b < bursts)
    labels = raster_labels(connectome)
    rows: dict[str, list[tuple[int, np.ndarray]]] = {label: [] for label in labels} if raster else {}
    out = record.open("w") if record else None
    per_burst = out is not None or raster
    fired_total = 0
    t0 = clock()
    last_report = t0
    chunk = FIRST_CHUNK
    try:
        b, s = 0, 0  # next burst; next schedule burst's index in stim_bursts
        while b < bursts:
            if s < len(stim_bursts) and stim_bursts[s] == b:
                _queue_entries(engine, schedule[b])
                s += 1
                n = 1
            else:
                quiet_until = stim_bursts[s] if s < len(stim_bursts) else bursts
                n = 1 if per_burst else min(chunk, quiet_until - b)
            started = clock()
            counts = engine.run(n, drive=drive)
            fired_total += int(counts.sum())
            if per_burst:
                fired = {}
                for a in connectome.areas:
                    idx = engine.fired(a.index)
                    if raster:
                        rows[labels[a.index]].append((b, idx))
                    if idx.size:
                        fired[a.cortical_id] = a.voxel_of(idx).tolist()
                if out is not None:
                    out.write(json.dumps({"burst": b, "fired": fired}) + "\n")
            b += n
            now = clock()
            if not per_burst:
                chunk = next_chunk(n, now - started, chunk)
            if progress is not None and now - last_report > 1.0:
                last_report = now
                progress(b, b / (now - t0))
        learned = engine.learned_synapses()
        memory = engine.memory_summary()
        refused = engine.plasticity_stats().get("growth_refused", 0)
    finally:
        if out is not None:
            out.close()
        engine.close()
    elapsed = clock() - t0
    summary = {"bursts": bursts, "seconds": round(elapsed, 4),
               "bursts_per_second": round(bursts / elapsed, 1) if elapsed else None,
               "fired_total": int(fired_total), "neurons": connectome.neuron_count,
               "synapses": connectome.synapse_count}
    if memory:
        summary["memory_areas"] = memory
    if connectome.notes:
        summary["notes"] = list(connectome.notes)  # what the build skipped or read differently
    if learned:
        summary["learning"] = bool(learning)
        summary["plastic_synapses"] = sum(int(s.pre.size) for s in learned.values())
        summary["plastic_weight_sum"] = round(sum(float(s.weight.sum(dtype=np.float64))
                                                  for s in learned.values()), 6)
        summary["plastic_growth_refused"] = refused
    return RunResult(summary, rows)
