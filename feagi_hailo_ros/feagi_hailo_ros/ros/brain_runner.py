"""The node's logic without ROS: load a brain, queue sensor input, burst, decode motors, swap.

``HybridNode`` is a thin shell around :class:`BrainRunner`; everything here is testable
without rclpy. Threading rule: sensor callbacks and services may run on other threads than
the burst timer. Injections are queued under a short lock; the engine itself is only
touched with ``_engine_lock`` held, so reset, checkpoints and brain swaps happen between
two bursts, never inside one. Building a new brain (the slow part of an upload) happens
without the lock, so the running brain keeps bursting meanwhile.

Each brain gets its own :class:`~.areas.BoundAreas` (which area each sensor feeds, which one
drives cmd_vel, which one each joint output decodes), resolved from the same requests when it
is loaded, so a binding left to "find by type and name" follows an uploaded brain whose ids
differ.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..engine.core.connectome import Connectome
from ..engine.core.engine import Engine
from ..engine.core.plasticity import DEFAULT_MAX_PLASTIC_SYNAPSES
from ..engine.genome.brains import CONNECTOME, DEFAULT_BRAIN, load_brain, resolve_brain
from ..engine.genome.builder import DEFAULT_MEMORY_CAPACITY, build_connectome
from ..engine.genome.connectome_file import load_connectome
from ..engine.genome.parser import load_genome
from .accelerators import AcceleratorConfig, EngineChoice, hailo_device_pool, make_engine
from .areas import AUTO, AreaBindingError, AreaRequest, BoundAreas, resolve_areas
from .decoders import DiffDriveSettings, MotorReading
from .fired import AreaBounds
from .fired import warm as warm_firing_columns
from .motor_kernels import ServoDecoder, TwistDecoder
from .motor_kernels import warm as warm_motor_decoding
from .outputs import OutputBinding


class BrainLoadError(ValueError):
    """A brain could not be loaded or does not fit the node's bindings; the message says why."""


@dataclass(frozen=True)
class BrainSource:
    """Where a brain comes from: exactly one of the three fields is set.

    Raises:
        BrainLoadError: none is set (an empty ``~/upload``: refused, never the default brain)
            or several are.
    """

    genome_path: str = ""
    genome_json: str = ""
    connectome_path: str = ""

    def __post_init__(self) -> None:
        given = [f for f in ("genome_path", "genome_json", "connectome_path") if getattr(self, f)]
        if not given:
            # Unlike the genome parameter and the CLI, where empty means DEFAULT_BRAIN: a
            # request with every field unset (a client that filled none) must not replace a
            # running, perhaps trained, brain with the default one.
            raise BrainLoadError(
                "empty request: give exactly one of genome_path, genome_json, connectome_path "
                f"(the default brain is genome_path {DEFAULT_BRAIN}; an empty upload never "
                "replaces the running brain)")
        if len(given) != 1:
            raise BrainLoadError("give exactly one of genome_path, genome_json, connectome_path"
                                 f" (got {', '.join(given)})")

    def describe(self) -> str:
        """One phrase naming the source, for messages (``genome X``, ``connectome Y``, ...)."""
        if self.genome_path:
            return f"genome {self.genome_path}"
        if self.connectome_path:
            return f"connectome {self.connectome_path}"
        return f"inline genome ({len(self.genome_json)} bytes)"


def build_brain(source: BrainSource, *, seed: int = 0, strict: bool = True,
                legacy_leak: str = "feagi", memory_capacity: int = DEFAULT_MEMORY_CAPACITY
                ) -> Connectome:
    """Load and build a connectome; every failure becomes :class:`BrainLoadError`.

    ``genome_path`` is a brain name with the same rules as the CLI and the ``genome``
    parameter (``engine/genome/brains.py``): a genome or connectome file, or a shipped name.
    ``genome_json`` is always JSON text, never a path: it goes to the genome module's guarded
    decoder as bytes (``parser.load_genome``: size and nesting-depth limits).
    ``legacy_leak`` is the builder's option (``genome.builder.LEGACY_LEAK_MODES``), and so is
    ``memory_capacity`` (memory neurons per memory area).

    Raises:
        BrainLoadError: for every failure, whatever its type (a request must not be able to
            raise anything else out of a service); its text names the source and the cause.
    """
    try:
        if source.connectome_path:
            return load_connectome(resolve_brain(source.connectome_path, expect=CONNECTOME).path)
        if source.genome_path:
            return load_brain(source.genome_path, seed=seed, strict=strict,
                              legacy_leak=legacy_leak, memory_capacity=memory_capacity)[0]
        genome = load_genome(source.genome_json.encode("utf-8", errors="surrogatepass"))
        return build_connectome(genome, strict=strict, seed=seed, legacy_leak=legacy_leak,
                                memory_capacity=memory_capacity)
    except Exception as exc:
        # GenomeError, ConnectomeFileError and BrainNameError are ValueErrors whose text names
        # the key path or what was looked for; anything else (a RecursionError, a MemoryError)
        # is a refusal of this brain too, never an exception out of the caller.
        raise BrainLoadError(f"{source.describe()}: {type(exc).__name__}: {exc}") from exc


def bind_areas(connectome: Connectome, sensors: Sequence[AreaRequest],
               motor_area: str, outputs: Sequence[OutputBinding] = ()) -> BoundAreas:
    """:func:`~.areas.resolve_areas` (the joint outputs of ``outputs``), its errors as
    :class:`BrainLoadError`."""
    try:
        return resolve_areas(connectome, sensors, motor_area,
                             [o.area_request() for o in outputs if o.commands_joints])
    except AreaBindingError as exc:
        raise BrainLoadError(str(exc)) from exc


@dataclass(frozen=True)
class _BurstLayout:
    """What a burst of one brain needs beyond the engine: where its areas are, and the
    compiled decoders of its motor area (twist) and joint outputs (by output name)."""

    bounds: AreaBounds
    twist: TwistDecoder | None
    joints: dict[str, ServoDecoder]


@dataclass(frozen=True)
class PreparedBrain:
    """A brain built off to the side by :meth:`BrainRunner.prepare_swap`, ready to swap in.

    Attributes:
        choice: Its engine with the placement report.
        areas: Its bindings' areas.
    """

    choice: EngineChoice
    areas: BoundAreas

    @property
    def placement_text(self) -> str:
        """The placement table of the new engine (``EngineChoice.placement_text``)."""
        return self.choice.placement_text


@dataclass
class BurstResult:
    """What one burst produced, for the publishers."""

    burst: int
    fired_total: int
    #: cortical id → sorted area-local indices (int64, read-only) of fired neurons (every
    #: area, maybe empty; ``fired.FiredByArea``, sliced when read).
    fired: Mapping[str, np.ndarray]
    duration_s: float
    #: Seconds per engine phase (backend / integrators) of this burst.
    timing: dict[str, float] = field(default_factory=dict)
    #: (linear.x, angular.z) decoded from the motor area; None without a motor area.
    twist: tuple[float, float] | None = None
    #: Joint output name -> its decoded positions (``OutputBinding.decode``; NaN and
    #: ``active`` False where the joint's column did not fire).
    joints: dict[str, MotorReading] = field(default_factory=dict)
    swapped: bool = False
    #: The brain that ran this burst (an upload may swap the runner's brain meanwhile).
    connectome: Connectome | None = None


class BrainRunner:
    """Owns the engine of the running brain and everything done to it between bursts.

    Args:
        connectome: The brain to run.
        seed, inhibition: Engine settings (``Engine``).
        motor_area: The area decoded to a twist: a cortical id or name, ``areas.AUTO`` (find
            FEAGI's motor output by type and name; none found: no twist) or ``areas.OFF``.
        drive: Differential-drive decoding settings.
        sensors: The sensor bindings' area requests (``areas.AreaRequest``).
        accelerator: Where placement may put projections.
        outputs: The node's output bindings; the joint outputs among them are decoded every
            burst (``BurstResult.joints``), the twist is ``motor_area``'s.

    Raises:
        BrainLoadError: an area a binding names is missing or ambiguous, or a joint output's
            area is missing or too narrow (``areas.resolve_areas``).
        ValueError, RuntimeError: the engine or accelerator refused the brain.
    """

    def __init__(self, connectome: Connectome, *, seed: int = 0, inhibition: str = "clamped",
                 motor_area: str = AUTO, drive: DiffDriveSettings | None = None,
                 sensors: Sequence[AreaRequest] = (),
                 accelerator: AcceleratorConfig | None = None,
                 outputs: Sequence[OutputBinding] = (), learning: bool = True,
                 max_plastic_synapses: int = DEFAULT_MAX_PLASTIC_SYNAPSES) -> None:
        self.seed = seed
        #: The running brain's area bounds and motor decoders (_layout_of).
        self._layout: _BurstLayout | None = None
        self._learning = bool(learning)
        self.max_plastic_synapses = int(max_plastic_synapses)
        self.accelerator = accelerator or AcceleratorConfig()
        self.inhibition = inhibition
        self.drive = drive or DiffDriveSettings()
        self.sensor_requests = tuple(sensors)
        self.motor_request = motor_area
        #: The joint outputs, decoded every burst.
        self.joint_outputs = tuple(o for o in outputs if o.commands_joints)
        #: The running brain's areas for the bindings.
        self.areas = bind_areas(connectome, self.sensor_requests, motor_area, self.joint_outputs)
        #: The Hailo devices of every brain this runner runs (None without Hailo): opened once,
        #: so an upload configures the new brain on the vdevice the running one holds (a
        #: device serves one vdevice at a time), released by close().
        self.hailo_devices = hailo_device_pool(self.accelerator)
        try:
            #: The running engine with its placement report.
            self.choice = self._make_engine(connectome)
        except BaseException:
            if self.hailo_devices is not None:
                self.hailo_devices.close()
            raise
        self._engine_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queued: list[tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray]] = []
        self._pending: PreparedBrain | None = None
        self._closed = False
        #: Sensor name → (area, voxels, potentials, monotonic time received).
        self._latched: dict[str, tuple[str, np.ndarray, np.ndarray, float]] = {}
        #: Sensor name → (the latched reading it was made from, Engine.prepare_injection result
        #: for the running engine); cleared when the brain is swapped or reset.
        self._prepared: dict[str, tuple[object, tuple[np.ndarray, np.ndarray]]] = {}
        #: How long a latched sensor reading keeps being injected (seconds).
        self.hold_s = 0.5

    @property
    def _engine(self) -> Engine:
        return self.choice.engine

    def _make_engine(self, connectome: Connectome) -> EngineChoice:
        if not connectome.areas or connectome.neuron_count == 0:
            # The builder refuses such genomes; a saved connectome file can still be empty.
            raise BrainLoadError("the brain has no areas or no neurons: nothing to run")
        choice = make_engine(connectome, self.accelerator, seed=self.seed,
                             inhibition=self.inhibition, hailo_devices=self.hailo_devices)
        engine = choice.engine
        try:
            self._warm_up(engine, connectome)
        except BaseException:
            engine.close()  # its integrators give their devices back
            raise
        return choice

    def _warm_up(self, engine: Engine, connectome: Connectome) -> None:
        # Numba compiles a kernel variant the first time each input path is used; do it
        # now, not in the middle of a live burst where it would stall the loop for seconds.
        # Frozen, the warm-up burst teaches nothing: no weight changes, no memory neuron (the
        # reset keeps what was learned and stored).
        engine.learning = False
        first = connectome.areas[0].cortical_id
        engine.inject(first, indices=np.zeros(1, np.int64), potentials=0.0)
        engine.inject(first, potentials=0.0)
        engine.step()
        engine.reset()
        # The node's per-burst kernels outside the engine: motor decoding and ~/firing's
        # voxel columns (compiled at the first burst, they stalled it for 0.8 s).
        warm_motor_decoding()
        warm_firing_columns()
        engine.learning = self._learning
        engine.max_plastic_synapses = self.max_plastic_synapses

    # -- brain --------------------------------------------------------------------------

    @property
    def learning(self) -> bool:
        """Whether plastic mappings learn (DESIGN §4.7); applies to a brain swapped in later too."""
        return self._learning

    @learning.setter
    def learning(self, value: bool) -> None:
        self._learning = bool(value)
        with self._engine_lock:
            self._engine.learning = self._learning

    def learning_summary(self) -> dict[str, object]:
        """What the running brain learned so far: plastic projections, their synapse count now
        and their weights summed, and per memory area its memory neurons (alive, long-term,
        pool size, creations refused); ``{}`` for a brain with neither."""
        learned = self._engine.learned_synapses()
        memory = self._engine.memory_summary()
        out: dict[str, object] = {}
        if learned or memory:
            out["learning"] = self._learning
        if learned:
            stats = self._engine.plasticity_stats()
            out.update(max_plastic_synapses=stats["max_plastic_synapses"],
                       plastic_growth_refused=stats["growth_refused"])
            out.update(plastic_projections=len(learned),
                       plastic_synapses=sum(int(s.pre.size) for s in learned.values()),
                       plastic_weight_sum=round(sum(float(s.weight.sum(dtype=np.float64))
                                                    for s in learned.values()), 3))
        for m in memory:
            out[f"memory {m['area']}"] = (f"{m['alive']} alive ({m['long_term']} long-term) of "
                                          f"{m['capacity']}; {m['pool_full']} refused (pool full)")
        return out

    @property
    def connectome(self) -> Connectome:
        """The running brain's connectome."""
        return self._engine.connectome

    @property
    def burst(self) -> int:
        """Index of the next burst of the running brain (bursts since reset)."""
        return self._engine.burst

    @property
    def motor_area(self) -> str:
        """Cortical id of the running brain's motor area; ``""`` when it has none."""
        return self.areas.motor or ""

    def sensor_area(self, sensor: str) -> str | None:
        """Cortical id of the area ``sensor`` feeds in the running brain; None if it feeds none."""
        return self.areas.sensors.get(sensor)

    def area_dims(self, area: str) -> tuple[int, int, int]:
        """``(x, y, z)`` voxel dimensions of ``area`` (cortical id or name); ``KeyError`` if absent."""
        return self._engine.connectome.area(area).dims

    def prepare_swap(self, connectome: Connectome) -> PreparedBrain:
        """Build an engine for ``connectome`` off to the side (no lock held); validate it.

        The bindings are resolved again on the new brain (an area found by type and name may
        have another id there); the same sensors must get an area, and a motor area must be
        there exactly when the running brain has one, because the node's subscriptions and
        cmd_vel publisher were made at configure.

        Raises:
            BrainLoadError: a binding's area is missing or ambiguous, the bindings differ from
                the running brain's, or the engine refused the brain.
        """
        areas = bind_areas(connectome, self.sensor_requests, self.motor_request,
                           self.joint_outputs)
        if areas.shape() != self.areas.shape():
            raise BrainLoadError(
                f"the new brain binds {_shape_text(areas)}, the running one {_shape_text(self.areas)}; "
                "cleanup and configure to change which bindings are used")
        try:
            return PreparedBrain(self._make_engine(connectome), areas)
        except BrainLoadError:
            raise
        except Exception as exc:
            raise BrainLoadError(f"engine refused the brain: {type(exc).__name__}: {exc}") from exc

    def swap(self, prepared: PreparedBrain) -> None:
        """Run ``prepared`` from the next burst on; the old brain keeps going until then.

        A swap still pending (two uploads before a burst) is replaced and its engine closed:
        only the latest upload runs, and no engine is left holding its integrators or device.

        Raises:
            BrainLoadError: the runner was closed meanwhile (a cleanup during the upload);
                ``prepared``'s engine is closed.
        """
        with self._queue_lock:
            closed = self._closed
            if not closed:
                replaced, self._pending = self._pending, prepared
        if closed:
            prepared.choice.engine.close()
            raise BrainLoadError("the node released its brain during the upload")
        if replaced is not None:
            replaced.choice.engine.close()

    def _drop_stale_latches(self, areas: BoundAreas) -> None:
        # _queue_lock held. A held reading was coded for its sensor's area in the old brain:
        # drop it when the new brain gives that sensor another area.
        for name, (area, *_rest) in list(self._latched.items()):
            if name in areas.sensors and areas.sensors[name] != area:
                del self._latched[name]

    def _install(self, prepared: PreparedBrain) -> None:
        # _engine_lock held.
        old, self.choice, self.areas = self.choice, prepared.choice, prepared.areas
        old.engine.close()

    def apply_pending(self) -> None:
        """Install a pending swap now (used while not bursting)."""
        with self._queue_lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                self._drop_stale_latches(pending.areas)
        if pending is not None:
            with self._engine_lock:
                self._install(pending)

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
            if pending is not None:
                self._drop_stale_latches(pending.areas)
            held = []
            for name, rec in list(self._latched.items()):
                area, voxels, pots, stamp = rec
                if now - stamp > self.hold_s:
                    del self._latched[name]
                elif len(voxels):
                    held.append((name, rec))
        with self._engine_lock:
            swapped = pending is not None
            if swapped:
                self._install(pending)
                self._prepared.clear()  # prepared for the old brain's neuron numbering
            engine = self._engine
            for area, voxels, indices, pots in queued:
                try:
                    engine.inject(area, voxels=voxels, indices=indices, potentials=pots)
                except (KeyError, IndexError, ValueError):
                    # Queued for a brain that was swapped out, or outside this brain's area:
                    # the input is dropped, the burst goes on.
                    continue
            for name, rec in held:
                # A held reading is converted to neurons once per brain, then injected as is
                # every burst it is held (converting voxels every burst cost tens of µs). The
                # entry names the reading it was made from, so a newer reading is never
                # injected with an older one's neurons.
                made_from, prepared = self._prepared.get(name, (None, None))
                if made_from is not rec:
                    area, voxels, pots, _ = rec
                    try:
                        prepared = engine.prepare_injection(area, voxels=voxels, potentials=pots)
                    except (KeyError, IndexError, ValueError):
                        continue  # not this brain's (see above)
                    if prepared is None:  # a whole-area range: queued, nothing to keep
                        continue
                    self._prepared[name] = (rec, prepared)
                engine.inject_prepared(prepared)
            fired_total = engine.step()
            layout = self._layout_of(engine.connectome)
            fired = layout.bounds.split(engine.fired_global())
            twist = None
            if layout.twist is not None:
                twist = layout.twist(fired[layout.twist.area.cortical_id], self.drive)
            joints = {name: decode(fired[decode.area.cortical_id])
                      for name, decode in layout.joints.items()}
            return BurstResult(burst=engine.burst, fired_total=int(fired_total), fired=fired,
                               duration_s=time.perf_counter() - t0,
                               timing=dict(engine.last_timing), twist=twist, joints=joints,
                               swapped=swapped, connectome=engine.connectome)

    def _layout_of(self, connectome: Connectome) -> _BurstLayout:
        """The running brain's area bounds and motor decoders (made at its first burst)."""
        layout = self._layout
        if layout is None or layout.bounds.connectome is not connectome:
            twist = None
            if self.areas.motor is not None:
                twist = TwistDecoder(connectome.area(self.areas.motor), self.drive)
            joints = {}
            for out in self.joint_outputs:
                area = connectome.area(self.areas.outputs[out.name])
                joints[out.name] = ServoDecoder(area, out.joint_lower, out.joint_upper)
            layout = self._layout = _BurstLayout(AreaBounds(connectome), twist, joints)
        return layout

    # -- between bursts -------------------------------------------------------------------

    def reset(self) -> None:
        """Clear the dynamic state and queued input; keep the brain, with what it learned
        (learned weights, grown synapses and memory neurons stay: ``Engine.reset``)."""
        with self._queue_lock:
            self._queued = []
            self._latched = {}
            self._prepared = {}
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
        """Release the running engine and a swap still pending (their integrators), then the
        Hailo devices."""
        with self._queue_lock:
            pending, self._pending, self._closed = self._pending, None, True
        if pending is not None:
            pending.choice.engine.close()
        with self._engine_lock:
            try:
                self._engine.close()
            finally:
                if self.hailo_devices is not None:  # after every brain's vstreams are gone
                    self.hailo_devices.close()


def _shape_text(areas: BoundAreas) -> str:
    sensors, motor, joints = areas.shape()
    return (f"sensors {', '.join(sorted(sensors)) or 'none'} and "
            f"{'a motor area' if motor else 'no motor area'}"
            + (f" and joint outputs {', '.join(sorted(joints))}" if joints else ""))
