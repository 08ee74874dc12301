"""The node's logic without ROS: load a brain, queue sensor input, burst, decode motors, swap.

``HybridNode`` is a thin shell around :class:`BrainRunner`; everything here is testable
without rclpy. Threading rule: sensor callbacks and services may run on other threads than
the burst timer. Injections are queued under a short lock; the engine itself is only
touched with ``_engine_lock`` held, so reset, checkpoints and brain swaps happen between
two bursts, never inside one. Building a new brain (the slow part of an upload) happens
without the lock, so the running brain keeps bursting meanwhile.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..engine.core.connectome import Connectome
from ..engine.core.engine import Engine
from ..engine.genome.brains import CONNECTOME, load_brain, resolve_brain
from ..engine.genome.builder import build_connectome
from ..engine.genome.connectome_file import load_connectome
from ..engine.genome.parser import load_genome
from .accelerators import AcceleratorConfig, EngineChoice, make_engine
from .decoders import DiffDriveSettings, motor_voxels_to_twist


class BrainLoadError(ValueError):
    """A brain could not be loaded or does not fit the node's bindings; the message says why."""


@dataclass(frozen=True)
class BrainSource:
    """Where a brain comes from: exactly one of the three fields is set."""

    genome_path: str = ""
    genome_json: str = ""
    connectome_path: str = ""

    def __post_init__(self) -> None:
        given = [f for f in ("genome_path", "genome_json", "connectome_path") if getattr(self, f)]
        if len(given) != 1:
            raise BrainLoadError(
                "give exactly one of genome_path, genome_json, connectome_path"
                + (f" (got {', '.join(given)})" if given else ""))

    def describe(self) -> str:
        """One phrase naming the source, for messages (``genome X``, ``connectome Y``, ...)."""
        if self.genome_path:
            return f"genome {self.genome_path}"
        if self.connectome_path:
            return f"connectome {self.connectome_path}"
        return f"inline genome ({len(self.genome_json)} bytes)"


def build_brain(source: BrainSource, *, seed: int = 0, strict: bool = True) -> Connectome:
    """Load and build a connectome; every failure becomes :class:`BrainLoadError`.

    ``genome_path`` is a brain name with the same rules as the CLI and the ``genome``
    parameter (``engine/genome/brains.py``): a genome or connectome file, or a shipped name.
    """
    try:
        if source.connectome_path:
            return load_connectome(resolve_brain(source.connectome_path, expect=CONNECTOME).path)
        if source.genome_path:
            return load_brain(source.genome_path, seed=seed, strict=strict)[0]
        genome = load_genome(json.loads(source.genome_json)
                             if source.genome_json.lstrip().startswith("{")
                             else source.genome_json)
        return build_connectome(genome, strict=strict, seed=seed)
    except (ValueError, OSError, KeyError, TypeError) as exc:
        # GenomeError, ConnectomeFileError and BrainNameError are ValueErrors whose text names
        # the key path or what was looked for.
        raise BrainLoadError(f"{source.describe()}: {type(exc).__name__}: {exc}") from exc


def check_areas(connectome: Connectome, required: Sequence[str], what: str = "binding") -> None:
    """Refuse a brain that lacks an area some binding needs."""
    known = {a.cortical_id for a in connectome.areas} | {a.name for a in connectome.areas}
    missing = [a for a in required if a and a not in known]
    if missing:
        ids = ", ".join(a.cortical_id for a in connectome.areas)
        raise BrainLoadError(f"{what} area(s) {', '.join(missing)} not in the brain (areas: {ids})")


@dataclass
class BurstResult:
    """What one burst produced, for the publishers."""

    burst: int
    fired_total: int
    #: cortical id → sorted area-local indices of fired neurons (every area, maybe empty).
    fired: dict[str, np.ndarray]
    duration_s: float
    #: Seconds per engine phase (backend / integrators) of this burst.
    timing: dict[str, float] = field(default_factory=dict)
    #: (linear.x, angular.z) decoded from the motor area; None without a motor area.
    twist: tuple[float, float] | None = None
    swapped: bool = False


class BrainRunner:
    """Owns the engine of the running brain and everything done to it between bursts."""

    def __init__(self, connectome: Connectome, *, seed: int = 0, inhibition: str = "clamped",
                 motor_area: str = "", drive: DiffDriveSettings | None = None,
                 required_areas: Sequence[str] = (),
                 accelerator: AcceleratorConfig | None = None) -> None:
        self.seed = seed
        self.accelerator = accelerator or AcceleratorConfig()
        self.inhibition = inhibition
        self.motor_area = motor_area
        self.drive = drive or DiffDriveSettings()
        self.required_areas = tuple(a for a in (*required_areas, motor_area) if a)
        check_areas(connectome, self.required_areas)
        #: The running engine with its placement report.
        self.choice = self._make_engine(connectome)
        self._engine_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queued: list[tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray]] = []
        self._pending: EngineChoice | None = None
        #: Sensor name → (area, voxels, potentials, monotonic time received).
        self._latched: dict[str, tuple[str, np.ndarray, np.ndarray, float]] = {}
        #: How long a latched sensor reading keeps being injected (seconds).
        self.hold_s = 0.5

    @property
    def _engine(self) -> Engine:
        return self.choice.engine

    def _make_engine(self, connectome: Connectome) -> EngineChoice:
        choice = make_engine(connectome, self.accelerator, seed=self.seed,
                             inhibition=self.inhibition)
        engine = choice.engine
        # Numba compiles a kernel variant the first time each input path is used; do it
        # now, not in the middle of a live burst where it would stall the loop for seconds.
        first = connectome.areas[0].cortical_id
        engine.inject(first, indices=np.zeros(1, np.int64), potentials=0.0)
        engine.inject(first, potentials=0.0)
        engine.step()
        engine.reset()
        return choice

    # -- brain --------------------------------------------------------------------------

    @property
    def connectome(self) -> Connectome:
        """The running brain's connectome."""
        return self._engine.connectome

    @property
    def burst(self) -> int:
        """Index of the next burst of the running brain (bursts since reset)."""
        return self._engine.burst

    def area_dims(self, area: str) -> tuple[int, int, int]:
        """``(x, y, z)`` voxel dimensions of ``area`` (cortical id or name); ``KeyError`` if absent."""
        return self._engine.connectome.area(area).dims

    def prepare_swap(self, connectome: Connectome) -> EngineChoice:
        """Build an engine for ``connectome`` off to the side (no lock held); validate it."""
        check_areas(connectome, self.required_areas)
        try:
            return self._make_engine(connectome)
        except (ValueError, RuntimeError, NotImplementedError) as exc:
            raise BrainLoadError(f"engine refused the brain: {exc}") from exc

    def swap(self, choice: EngineChoice) -> None:
        """Run ``choice.engine`` from the next burst on; the old one keeps going until then."""
        with self._queue_lock:
            self._pending = choice

    def apply_pending(self) -> None:
        """Install a pending swap now (used while not bursting)."""
        with self._queue_lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            with self._engine_lock:
                old, self.choice = self.choice, pending
                old.engine.close()

    # -- input --------------------------------------------------------------------------

    def queue_voxels(self, area: str, voxels: np.ndarray, potentials: np.ndarray) -> None:
        """Inject into ``area`` at the next burst (thread-safe)."""
        if len(voxels):
            with self._queue_lock:
                self._queued.append((area, np.asarray(voxels), None, np.asarray(potentials)))

    def latch(self, sensor: str, area: str, voxels: np.ndarray, potentials: np.ndarray,
              now: float | None = None) -> None:
        """Make ``sensor``'s latest reading the input of every burst until it is replaced or
        older than ``hold_s``.

        A FEAGI connector sends its sensors every burst; a ROS sensor publishes at its own
        rate (a 10 Hz lidar, a 100 Hz brain). Holding the last reading gives the brain the
        same steady input it would get from a connector, instead of one burst in ten.
        """
        stamp = time.monotonic() if now is None else now
        with self._queue_lock:
            self._latched[sensor] = (area, np.asarray(voxels), np.asarray(potentials), stamp)

    def queue_indices(self, area: str, indices: np.ndarray, potentials: np.ndarray) -> None:
        """Inject by area-local neuron index at the next burst (thread-safe)."""
        if len(indices):
            with self._queue_lock:
                self._queued.append((area, None, np.asarray(indices), np.asarray(potentials)))

    # -- bursting -----------------------------------------------------------------------

    def step(self, now: float | None = None) -> BurstResult:
        """Run one burst with the latched readings and everything queued since the last one."""
        t0 = time.perf_counter()
        now = time.monotonic() if now is None else now
        with self._queue_lock:
            queued, self._queued = self._queued, []
            pending, self._pending = self._pending, None
            for name, (area, voxels, pots, stamp) in list(self._latched.items()):
                if now - stamp > self.hold_s:
                    del self._latched[name]
                elif len(voxels):
                    queued.append((area, voxels, None, pots))
        with self._engine_lock:
            swapped = pending is not None
            if swapped:
                old, self.choice = self.choice, pending
                old.engine.close()
            engine = self._engine
            for area, voxels, indices, pots in queued:
                try:
                    engine.inject(area, voxels=voxels, indices=indices, potentials=pots)
                except (KeyError, IndexError, ValueError):
                    # Queued for a brain that was swapped out, or outside this brain's area:
                    # the input is dropped, the burst goes on.
                    continue
            fired_total = engine.step()
            fired = self._fired_by_area(engine)
            twist = None
            if self.motor_area:
                area = engine.connectome.area(self.motor_area)
                voxels = area.voxel_of(fired[area.cortical_id])
                twist = motor_voxels_to_twist(voxels, area.dims, self.drive)
            return BurstResult(burst=engine.burst, fired_total=int(fired_total), fired=fired,
                               duration_s=time.perf_counter() - t0,
                               timing=dict(engine.last_timing), twist=twist, swapped=swapped)

    @staticmethod
    def _fired_by_area(engine: Engine) -> dict[str, np.ndarray]:
        g = engine.fired_global()
        out: dict[str, np.ndarray] = {}
        for a in engine.connectome.areas:
            lo, hi = np.searchsorted(g, [a.first_neuron, a.first_neuron + a.neuron_count])
            out[a.cortical_id] = g[lo:hi] - a.first_neuron
        return out

    # -- between bursts -------------------------------------------------------------------

    def reset(self) -> None:
        """Clear the dynamic state and queued input; keep the brain."""
        with self._queue_lock:
            self._queued = []
            self._latched = {}
        with self._engine_lock:
            self._engine.reset()

    def save_state(self, path: str) -> int:
        """Checkpoint the running brain to ``path`` between bursts; returns the burst saved.
        Raises ``CheckpointError`` or ``OSError``."""
        with self._engine_lock:
            self._engine.save_checkpoint(path)
            return self._engine.burst

    def load_state(self, path: str) -> int:
        """Restore a checkpoint of this brain between bursts; returns the burst restored.
        Raises ``CheckpointError`` (corrupt or foreign file, state untouched) or ``OSError``."""
        with self._engine_lock:
            self._engine.load_checkpoint(path)
            return self._engine.burst

    def close(self) -> None:
        """Release the running engine (its integrators and devices)."""
        with self._engine_lock:
            self._engine.close()
