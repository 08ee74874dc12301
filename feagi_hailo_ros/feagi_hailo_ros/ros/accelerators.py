"""Which engine the node runs: CPU only, or CPU plus an accelerator integrator (no rclpy).

``accelerator`` selects the integrator of the projections that placement puts on an
accelerator (DESIGN §5): ``none`` (everything on the CPU), ``onnxruntime`` (the partitions
exported to ONNX and run by ONNX Runtime: CPU here, CUDA/TensorRT providers on a Jetson), or
``hailo`` (the HEFs named by a manifest from ``feagi-hailo export`` + Hailo's compiler, run
through HailoRT). Spikes are identical in every case; only where the arithmetic happens
changes. The placement table is kept for the logs, diagnostics and the upload response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.accel.placement import (
    PlacementRules,
    accelerated_engine,
    accelerator_projections,
    format_placement_table,
    pipelined_brain,
    place,
    placement_table,
)
from ..engine.core.connectome import Connectome
from ..engine.core.engine import Engine
from ..engine.core.integrator import Integrator

if TYPE_CHECKING:  # the Hailo modules load only when a node uses Hailo
    from ..engine.accel.hailo_devices import HailoDevices

#: What the ``accelerator`` parameter may name; ``hailo`` needs a compiled manifest, so the
#: ``use_hailo`` parameter selects it instead.
PARAMETER_ACCELERATORS = ("none", "onnxruntime")
HAILO = "hailo"
ACCELERATORS = (*PARAMETER_ACCELERATORS, HAILO)


@dataclass(frozen=True)
class AcceleratorConfig:
    """Which accelerator the node's engine uses, from the node's parameters (README, Parameters).

    Raises ``ValueError`` for an accelerator not in :data:`ACCELERATORS`, or ``hailo`` without a
    manifest.
    """

    accelerator: str = "none"
    #: Placement rules file (JSON or YAML); empty: the defaults of PlacementRules.
    placement_config: str = ""
    onnx_providers: tuple[str, ...] = ("CPUExecutionProvider",)
    #: manifest.json of the exported partitions whose HEFs were compiled (hailo only).
    hailo_manifest: str = ""
    hailo_library: str = ""
    hailo_required: bool = False
    #: "fallback": a partition that fails mid-run continues on the CPU, exactly; "raise".
    hailo_on_error: str = "fallback"
    #: Longest a burst waits for the device (s); on expiry hailo_on_error applies.
    hailo_wait_timeout_s: float = 2.0
    #: Where libhailort writes hailort.log unless HAILORT_LOGGER_PATH is set (the node passes
    #: its ROS log directory); empty: leave the library's default (the current directory).
    hailort_log_dir: str = ""
    #: Hailo devices the partitions are spread over (each its own vdevice and I/O thread).
    hailo_devices: int = 1

    def __post_init__(self) -> None:
        if self.accelerator not in ACCELERATORS:
            raise ValueError(f"accelerator must be one of {', '.join(ACCELERATORS)}, "
                             f"got {self.accelerator!r}")
        if self.hailo_devices < 1:
            raise ValueError(f"hailo_devices must be at least 1, got {self.hailo_devices}")
        if self.accelerator == HAILO and not self.hailo_manifest:
            raise ValueError("accelerator 'hailo' needs hailo_manifest: the manifest.json of "
                             "`feagi-hailo export` whose partitions were compiled to HEFs")


@dataclass
class EngineChoice:
    """The engine :func:`make_engine` built, with its placement table (rows of
    ``placement.placement_table``), a one-line status for logs and diagnostics, and the
    integrator (None on the CPU only)."""

    engine: Engine
    placement_rows: list[dict] = field(default_factory=list)
    status: str = "cpu only"
    integrator: Integrator | None = None
    #: Long help for why the accelerator is unavailable (what was searched, how to install
    #: HailoRT): log it once, not with every status line; "" when there is none.
    help: str = ""

    @property
    def placement_text(self) -> str:
        """The placement table as aligned text for the log (empty without an accelerator)."""
        return format_placement_table(self.placement_rows) if self.placement_rows else ""


def make_engine(connectome: Connectome, config: AcceleratorConfig, *, seed: int = 0,
                inhibition: str = "clamped", hailo_devices: HailoDevices | None = None
                ) -> EngineChoice:
    """Build the engine ``config`` asks for; errors are ValueError/RuntimeError with a reason.

    ``hailo_devices`` is the node's device pool (``hailo`` only): every brain the node builds
    configures its HEFs on those vdevices, so an upload never needs a second vdevice on a
    device the running brain holds (engine/accel/hailo_devices.py). None: the integrator opens
    its own and releases it with the engine. The placement rules' ``rate_dividers`` slow their
    areas down (``Engine.set_rate_dividers``); an area they name that the brain lacks is a
    ValueError.
    """
    rules = (PlacementRules.load(config.placement_config) if config.placement_config
             else PlacementRules())
    choice = _build_engine(connectome, config, rules, seed=seed, inhibition=inhibition,
                           hailo_devices=hailo_devices)
    if rules.rate_dividers:
        try:
            choice.engine.set_rate_dividers(rules.rate_dividers)
        except KeyError as exc:
            choice.engine.close()
            raise ValueError(f"placement rule rate_dividers: {exc.args[0]}") from exc
    return choice


def _build_engine(connectome: Connectome, config: AcceleratorConfig, rules: PlacementRules, *,
                  seed: int, inhibition: str, hailo_devices: HailoDevices | None) -> EngineChoice:
    if config.accelerator != "none":
        # The pipeline rule gives accelerator projections of delay 1 delay 2: the brain that
        # runs (and its placement table) is that one.
        connectome, changes = pipelined_brain(connectome, place(connectome, rules), rules)
    else:
        changes = []
    if config.accelerator == "none":
        placements = place(connectome, rules)
        rows = placement_table(connectome, placements)
        for row in rows:
            if row.get("backend") == "accelerator":
                # No accelerator selected: what placement would send there runs here.
                row["backend"], row["reason"] = "cpu", f"accelerator: none ({row['reason']})"
        return EngineChoice(Engine(connectome, "cpu", seed=seed, inhibition=inhibition), rows)
    if config.accelerator == "onnxruntime":
        from ..engine.accel.onnx_integrator import OnnxRuntimeIntegrator

        placements = place(connectome, rules)
        integ = OnnxRuntimeIntegrator.from_connectome(connectome, placements,
                                                      providers=config.onnx_providers)
        engine = accelerated_engine(connectome, integ, placements, seed=seed,
                                    inhibition=inhibition)
        n = len(accelerator_projections(placements))
        return EngineChoice(engine, placement_table(connectome, placements, changes),
                            f"onnxruntime ({', '.join(config.onnx_providers)}): {n} projections",
                            integ)
    if config.accelerator != HAILO:  # AcceleratorConfig checked the name: a missing branch
        raise NotImplementedError(f"accelerator {config.accelerator!r} has no branch in make_engine")
    from ..engine.accel.hailo_integrator import HailoIntegrator

    if config.hailort_log_dir:
        from ..hailo import ensure_logger_path

        ensure_logger_path(config.hailort_log_dir)  # before HailoIntegrator loads the library
    manifest = Path(config.hailo_manifest)
    integ = HailoIntegrator(manifest, lib_path=config.hailo_library or None,
                            on_error=config.hailo_on_error, required=config.hailo_required,
                            wait_timeout_s=config.hailo_wait_timeout_s, devices=hailo_devices,
                            device_count=config.hailo_devices)
    projections = integ.projections_in_manifest(connectome)
    engine = Engine(connectome, "cpu", integrators={p: integ for p in projections},
                    seed=seed, inhibition=inhibition)
    owner = integ.partition_of
    fallback = dict(integ.degraded)
    if not integ.available:
        status = f"hailo unavailable, exact CPU fallback: {integ.unavailable_reason}"
    else:
        status = (f"hailo: {len(integ.on_device)} of {len(set(owner.values()))} partitions on "
                  f"{config.hailo_devices} device(s)"
                  + (f", exact CPU fallback for {', '.join(fallback)}" if fallback else ""))
    # The manifest, not the rules, decides what runs on the device (the HEFs were compiled
    # from it); the table says so, with the device of each partition.
    rows = placement_table(connectome, place(connectome, rules), changes)
    for row in rows:
        part = owner.get(row["projection"])
        if part is not None and integ.available and part not in fallback:
            row["backend"] = "accelerator"
            row["device"] = integ.device_label(part)
            row["reason"] = f"hailo manifest {manifest.name}, partition {part} on {row['device']}"
        elif part is not None:
            row["backend"] = "cpu"
            row["reason"] = (f"hailo partition {part}: exact CPU fallback ({fallback[part]})"
                             if part in fallback else "hailo unavailable, exact CPU fallback")
        elif row["backend"] == "accelerator":
            row["backend"], row["reason"] = "cpu", "not in the hailo manifest"
    return EngineChoice(engine, rows, status, integ, help=integ.unavailable_help)


def hailo_device_pool(config: AcceleratorConfig) -> HailoDevices | None:
    """The device pool a node keeps for every brain it runs (``hailo`` only, else None);
    unopened: the first Hailo engine opens it. Close it when the node releases its devices."""
    if config.accelerator != HAILO:
        return None
    from ..engine.accel.hailo_devices import HailoDevices

    return HailoDevices(lib_path=config.hailo_library or None, device_count=config.hailo_devices)


def degraded(choice: EngineChoice) -> dict[str, str]:
    """Partitions running on the CPU fallback, with why (empty without a Hailo integrator)."""
    return dict(getattr(choice.integrator, "degraded", {}) or {})


__all__ = ["ACCELERATORS", "HAILO", "PARAMETER_ACCELERATORS", "AcceleratorConfig", "EngineChoice",
           "hailo_device_pool", "make_engine", "degraded"]
