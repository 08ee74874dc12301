"""Every parameter of the ``feagi_hailo`` node, in one table (no rclpy).

The node declares them from this table with descriptors (description, range, read-only),
so rqt_reconfigure shows sliders (DESIGN §7); the parameter tables of README.md are generated
from it (``python -m feagi_hailo_ros.ros.params``) and a test checks they are current. ``live``
parameters may change while the node runs and are checked by :func:`check_value`; all others
are read-only (changing them needs a reconfigure: cleanup, then configure).

The allowed values of a choice parameter are not written here: each one reads the constant
that the code it configures validates against (the engine's inhibition modes, the Hailo
integrator's error policies, the node's accelerators, the binding types). They are read on
first use, not at import, because those modules import the engine and may import this table.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.genome.brains import DEFAULT_BRAIN
from ..genomes import available_genomes


@functools.cache
def inhibition_modes() -> tuple[str, ...]:
    """Values of ``inhibition``: ``engine.core.backend.INHIBITION_MODES`` (DESIGN §4)."""
    from ..engine.core.backend import INHIBITION_MODES

    return tuple(INHIBITION_MODES)


@functools.cache
def legacy_leak_modes() -> tuple[str, ...]:
    """Values of ``legacy_leak``: ``engine.genome.builder.LEGACY_LEAK_MODES``."""
    from ..engine.genome.builder import LEGACY_LEAK_MODES

    return tuple(LEGACY_LEAK_MODES)


@functools.cache
def hailo_error_policies() -> tuple[str, ...]:
    """Values of ``hailo_on_error``: ``engine.accel.hailo_integrator.ON_ERROR``."""
    from ..engine.accel.hailo_integrator import ON_ERROR

    return tuple(ON_ERROR)


@functools.cache
def parameter_accelerators() -> tuple[str, ...]:
    """Values of ``accelerator``: ``ros.accelerators.ACCELERATORS`` except ``hailo``.

    ``hailo`` needs a manifest of compiled HEFs, so the node selects it with ``use_hailo``
    (which falls back to the CPU when the manifest is missing) rather than by name.
    """
    from .accelerators import PARAMETER_ACCELERATORS

    return PARAMETER_ACCELERATORS


@functools.cache
def output_types() -> tuple[str, ...]:
    """Values of ``outputs.<name>.type``: the keys of ``ros.outputs.OUTPUT_TYPES``."""
    from .outputs import OUTPUT_TYPES

    return tuple(OUTPUT_TYPES)


@functools.cache
def stop_modes() -> tuple[str, ...]:
    """Values of ``outputs.<name>.stop_mode``: ``ros.outputs.STOP_MODES``."""
    from .outputs import STOP_MODES

    return STOP_MODES


@functools.cache
def sensor_types() -> tuple[str, ...]:
    """Values of ``sensors.<name>.type``: the keys of ``ros.bindings.SENSOR_TYPES``."""
    from .bindings import SENSOR_TYPES

    return tuple(SENSOR_TYPES)


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: its name, default, description and what values it accepts.

    Attributes:
        name: Parameter name (sensor parameters: the part after ``sensors.<name>.``).
        default: Default value; its Python type is the parameter's ROS type.
        description: Text of the descriptor (rqt_reconfigure) and of README.md.
        limits: ``(low, high)`` inclusive for numbers; None for strings, booleans and lists.
        live: May change while the node runs (checked by :func:`check_value`).
        choices_from: For a string with a fixed set of values: a function returning them
            from the constant that defines them; None otherwise.
    """

    name: str
    default: Any
    description: str
    limits: tuple[float, float] | None = None
    live: bool = False
    choices_from: Callable[[], tuple[str, ...]] | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        """The allowed values, read from their defining constant; ``()``: no fixed set."""
        return self.choices_from() if self.choices_from is not None else ()

    @property
    def dynamic_typing(self) -> bool:
        """True for a list parameter whose default is empty: rclpy cannot tell its element type
        from ``[]`` (it would declare a byte array and refuse the string or double array a
        parameter file gives), so it must be declared with ``dynamic_typing`` and its value
        checked by the code that reads it (``bindings.binding_from_params``)."""
        return isinstance(self.default, list) and not self.default


PARAMS: tuple[ParamSpec, ...] = (
    # -- brain ------------------------------------------------------------------------------
    ParamSpec("genome", "", "Brain to run, named as everywhere (CLI, ~/upload genome_path): a "
              "shipped genome (" + ", ".join(available_genomes()) + "), or a genome file with any "
              "extension (.json, FEAGI's .genome) or a saved connectome; "
              f"empty = {DEFAULT_BRAIN} (here and in the CLI; an empty ~/upload is refused)."),
    ParamSpec("connectome", "", "Path of a saved connectome (feagi-hailo build); when set it is "
              "used instead of genome."),
    ParamSpec("state_dir", "", "Directory a relative ~/save_state or ~/load_state path is resolved "
              "against (~ expanded; absolute paths are used as given); empty: the ROS log "
              "directory (rclpy.logging.get_logging_directory(): $ROS_LOG_DIR, else "
              "$ROS_HOME/log, else ~/.ros/log). Never the process's working directory."),
    ParamSpec("strict_genome", True, "Refuse genomes with unsupported morphologies (false: skip "
              "those mappings and log them)."),
    ParamSpec("legacy_leak", "feagi", "feagi: leak as FEAGI's engine applies it, V*(1-leak) for "
              "any value (a leak of 10 from an old genome makes V oscillate, as in FEAGI); "
              "linear: the old Python FEAGI's meaning, V moves leak units towards 0 per burst.",
              choices_from=legacy_leak_modes),
    ParamSpec("seed", 0, "Seed of synapse sampling (synatt < 100) and of excitability draws.",
              (0, 2**31 - 1)),
    ParamSpec("inhibition", "clamped", "clamped: a net negative input counts as 0 (FEAGI); "
              "subtractive: negative input lowers the potential.", choices_from=inhibition_modes),
    ParamSpec("accelerator", "none", "Integrator of the projections placement puts on an "
              "accelerator: none (all on the CPU) or onnxruntime; use_hailo selects hailo.",
              choices_from=parameter_accelerators),
    ParamSpec("placement_config", "", "Placement rules file (JSON/YAML; see README), e.g. "
              "written by `feagi-hailo tune`; empty: defaults."),
    ParamSpec("onnx_providers", ["CPUExecutionProvider"], "ONNX Runtime execution providers in "
              "order (e.g. TensorrtExecutionProvider, CUDAExecutionProvider on a Jetson)."),
    ParamSpec("use_hailo", False, "Run the partitions of hailo_manifest on a Hailo-8 through HailoRT."),
    ParamSpec("hailo_manifest", "", "manifest.json written by `feagi-hailo export`, with the HEFs "
              "Hailo's compiler made from it beside it (files.hef of each partition)."),
    ParamSpec("hailo_required", False, "With use_hailo: refuse to configure when HailoRT, the "
              "device or the manifest is missing (false: run exactly on the CPU and report it)."),
    ParamSpec("hailo_library", "", "Explicit path of libhailort.so (empty: $FEAGI_HAILO_LIBHAILORT, "
              "then the usual library directories)."),
    ParamSpec("hailo_on_error", "fallback", "A HailoRT error while running: fallback (that "
              "partition continues exactly on the CPU, diagnostics warn) or raise (bursting stops).",
              choices_from=hailo_error_policies),
    ParamSpec("hailo_devices", 1, "With use_hailo: how many Hailo devices to spread the "
              "partitions over, by estimated cost (weight count); each gets its own vdevice and "
              "I/O thread, a device that cannot be opened or refuses a HEF runs its partitions "
              "exactly on the CPU. 1: the free device HailoRT picks.", (1, 16)),
    ParamSpec("hailo_wait_timeout_s", 2.0, "Longest a burst waits for the Hailo device (s); "
              "a device that has not answered by then fails that burst's partitions and "
              "hailo_on_error applies (fallback: exact CPU path from that burst on; raise: "
              "bursting stops, the node takes its error path).", (0.01, 60.0)),
    # -- timing -----------------------------------------------------------------------------
    ParamSpec("memory_capacity", 256, "Memory neurons each FEAGI memory area can hold at once (its "
              "pool, DESIGN §4.7); a full pool stores no new window and says so in /diagnostics.",
              (1, 1_000_000)),
    ParamSpec("max_plastic_synapses", 10_000_000, "Bound on the synapses of all plastic mappings "
              "together: associative_memory grows none past it (FEAGI has no bound; "
              "/diagnostics counts plastic_growth_refused).", (0, 2_000_000_000)),
    ParamSpec("learning", True, "Plastic mappings (STDP, associative_memory) learn after every burst, "
              "as in FEAGI (DESIGN §4.7); false runs a trained brain frozen. Learned weights live "
              "in ~/save_state checkpoints and survive ~/reset.", live=True),
    ParamSpec("burst_rate_hz", 100.0, "Bursts per second while active.", (1.0, 2000.0), live=True),
    ParamSpec("burst_thread_priority", 0, "Real-time priority of the burst thread: 1..99 runs it "
              "under SCHED_FIFO (as ros2_control's thread_priority) so other threads cannot delay "
              "a burst; needs CAP_SYS_NICE or an rtprio limit, else a warning and normal "
              "scheduling. 0: normal scheduling. Applied when bursting starts (activate). Under "
              "SCHED_FIFO a brain slower than its period still idles a quarter of each burst's "
              "time after it, so the executor, watchdog and stop path keep running on its core.",
              (0, 99), live=True),
    ParamSpec("stats_rate_hz", 1.0, "Rate of ~/burst_stats and /diagnostics.", (0.1, 50.0), live=True),
    ParamSpec("firing_decimation", 1, "Publish ~/firing every N bursts.", (1, 10000), live=True),
    ParamSpec("firing_coordinates", True, "Fill voxel coordinates in ~/firing.", live=True),
    ParamSpec("cloud_rate_hz", 5.0, "Rate of ~/firing_cloud (PointCloud2 for RViz); 0 disables.",
              (0.0, 60.0), live=True),
    ParamSpec("frame_id", "feagi_brain", "TF frame of the brain's cortical coordinates: "
              "header.frame_id of ~/firing_cloud and ~/firing (README: frames)."),
    ParamSpec("cloud_scale", 1.0, "Metres per voxel in ~/firing_cloud (e.g. 0.02 draws a "
              "100-voxel brain 2 m wide beside a robot in RViz).", (1e-4, 100.0), live=True),
    ParamSpec("cloud_parent_frame", "", "When set (e.g. base_link or odom), a static transform "
              "cloud_parent_frame → frame_id goes out on /tf_static (tf2's static QoS) at node "
              "start, placing the cloud at cloud_x/y/z, cloud_roll/pitch/yaw; empty: none."),
    ParamSpec("cloud_x", 0.0, "x of frame_id's origin in cloud_parent_frame (m).", (-1000.0, 1000.0)),
    ParamSpec("cloud_y", 0.0, "y of frame_id's origin in cloud_parent_frame (m).", (-1000.0, 1000.0)),
    ParamSpec("cloud_z", 0.0, "z of frame_id's origin in cloud_parent_frame (m).", (-1000.0, 1000.0)),
    ParamSpec("cloud_roll", 0.0, "Roll of frame_id in cloud_parent_frame (rad, about x, applied "
              "first; fixed axes as static_transform_publisher).", (-math.pi, math.pi)),
    ParamSpec("cloud_pitch", 0.0, "Pitch of frame_id in cloud_parent_frame (rad, about y).",
              (-math.pi, math.pi)),
    ParamSpec("cloud_yaw", 0.0, "Yaw of frame_id in cloud_parent_frame (rad, about z, applied "
              "last).", (-math.pi, math.pi)),
    # -- sensors ----------------------------------------------------------------------------
    ParamSpec("sensor_names", ["scan"], "Sensor bindings; each name N reads the sensors.N.* "
              "parameters below."),
    ParamSpec("input_timeout_s", 0.5, "A sensor reading is re-injected every burst for this long "
              "(seconds) or until the next one; the watchdog stops every motor output (zero cmd_vel, "
              "joints by stop_mode) when a sensor is silent for this long (0: no watchdog, 0.5 s "
              "hold).", (0.0, 60.0), live=True),
    # -- motors -----------------------------------------------------------------------------
    ParamSpec("output_names", ["cmd_vel"], "Motor output bindings; each name N reads the "
              "outputs.N.* parameters below (at most one of type twist)."),
    ParamSpec("motor_area", "", "Motor area the twist output decodes to cmd_vel unless its "
              "outputs.<name>.area names one (FEAGI's signed-percentage motor layout): a cortical "
              "id or name; empty = the brain's motor output, found by FEAGI type and name (OPU, "
              "unit mot or a name with \"motor\"; several: configure fails listing them; none: "
              "cmd_vel is not published); none = no cmd_vel."),
    ParamSpec("left_channel", 0, "Motor channel of the left wheel (area columns 2c, 2c+1).", (0, 63)),
    ParamSpec("right_channel", 1, "Motor channel of the right wheel.", (0, 63)),
    ParamSpec("max_wheel_speed", 0.3, "Wheel speed (m/s) at 100 % motor activity.", (0.01, 10.0),
              live=True),
    ParamSpec("wheel_separation", 0.3, "Distance between the wheels (m).", (0.01, 5.0), live=True),
    ParamSpec("linear_gain", 1.0, "Gain on linear.x.", (0.0, 10.0), live=True),
    ParamSpec("angular_gain", 1.0, "Gain on angular.z.", (0.0, 10.0), live=True),
    ParamSpec("max_linear", 0.5, "Clamp of linear.x (m/s).", (0.01, 10.0), live=True),
    ParamSpec("max_angular", 2.0, "Clamp of angular.z (rad/s).", (0.01, 20.0), live=True),
)

#: ``PARAMS`` by name.
BY_NAME = {p.name: p for p in PARAMS}

#: Per-sensor parameters, declared for each name in ``sensor_names``.
SENSOR_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("topic", "scan", "Topic to subscribe (relative names follow the namespace)."),
    ParamSpec("type", "laser_scan", "Binding type: which message is subscribed and how it is "
              "coded (README: sensor types).", choices_from=sensor_types),
    ParamSpec("area", "", "Input area this sensor feeds: a cortical id or name; empty = found "
              "by FEAGI type and name for the binding type (sensor types table). Configure fails "
              "listing the candidates when several match, or when none matches in a brain that "
              "drives cmd_vel; in a brain without a motor area the sensor is left unbound."),
    ParamSpec("potential", 100.0, "Potential injected per active voxel.", (0.001, 1e6)),
    ParamSpec("max_age_s", 0.5, "Drop messages whose header stamp is older (0: never).", (0.0, 60.0)),
    ParamSpec("fov_deg", 180.0, "laser_scan: angular window centred ahead, spread over the area's x "
              "counter-clockwise (0: the scan's own span).", (0.0, 360.0)),
    ParamSpec("range_max", 1.0, "laser_scan/range: farthest distance that counts as an obstacle, "
              "in metres (0: the message's range_max); image with a depth encoding: farthest "
              "depth coded (0: 1 m).", (0.0, 100.0)),
    ParamSpec("joints", [], "joint_state (required): joint names, one area column each in this "
              "order; joints the message does not name fire nothing (string array)."),
    ParamSpec("joint_lower", [], "joint_state (required): lower limit of each joint, in its unit "
              "(rad or m), fires the weakest level (double array, one per joint)."),
    ParamSpec("joint_upper", [], "joint_state (required): upper limit of each joint, > its lower "
              "limit, fires the strongest level, z = 0 (double array, one per joint)."),
)

#: Prefix of the per-sensor parameters as README.md writes them.
SENSOR_PREFIX = "sensors.<name>."

#: Per-output parameters, declared for each name in ``output_names`` (``outputs.py``).
OUTPUT_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("type", "twist", "Output type: which message is published and how the area is "
              "decoded (README: output types).", choices_from=output_types),
    ParamSpec("topic", "cmd_vel", "Topic to publish on (relative names follow the namespace); "
              "each output needs its own."),
    ParamSpec("area", "", "Motor area decoded: a cortical id or name. Empty: twist reads "
              "motor_area; a joint type finds FEAGI's positional servo output by type and name "
              "(output types table), and configure fails when none or several match."),
    ParamSpec("joints", [], "Joint types (required): joint names, one area column each in this "
              "order (string array)."),
    ParamSpec("joint_lower", [], "Joint types (required): lower limit of each joint in its unit "
              "(rad or m), the position of the weakest firing (double array, one per joint)."),
    ParamSpec("joint_upper", [], "Joint types (required): upper limit of each joint, > its lower "
              "limit, the position of the strongest firing, z = 0 (double array, one per joint)."),
    ParamSpec("joint_safe", [], "Joint types (required): each joint's command before the brain "
              "first commands it and, with stop_mode safe, on every stop; inside its limits "
              "(double array, one per joint)."),
    ParamSpec("stop_mode", "hold", "Joint types: what every stop (deactivate, watchdog, "
              "shutdown, Ctrl-C, a failed burst) sends: hold repeats the last command (nothing "
              "if none was sent); safe sends joint_safe (e.g. 0 for velocity controllers).",
              choices_from=stop_modes),
    ParamSpec("time_from_start_s", 0.1, "joint_trajectory: time_from_start of the point (s).",
              (0.001, 60.0)),
)

#: Prefix of the per-output parameters as README.md writes them.
OUTPUT_PREFIX = "outputs.<name>."


def check_value(spec: ParamSpec, value: Any) -> str | None:
    """Why ``value`` is not acceptable for ``spec``, or None when it is.

    Args:
        spec: The parameter.
        value: A candidate value (as rclpy delivers it: bool, int, float, str or list).

    Returns:
        None, or a message naming the parameter: a value outside ``spec.choices``, a
        non-number (booleans included), a non-finite number or one outside ``spec.limits``.
        Types of other parameters are left to rclpy.
    """
    if spec.choices and value not in spec.choices:
        return f"{spec.name} must be one of {', '.join(spec.choices)}"
    if spec.limits is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{spec.name} must be a number"
        if not math.isfinite(float(value)):
            return f"{spec.name} must be finite"
        lo, hi = spec.limits
        if not lo <= value <= hi:
            return f"{spec.name}={value} is outside [{lo}, {hi}]"
    return None


def _range_text(spec: ParamSpec) -> str:
    if spec.choices:
        return " / ".join(spec.choices)
    if spec.limits is not None:
        lo, hi = spec.limits
        return f"{lo:g} – {hi:g}"
    return ""


def markdown_table(specs: Sequence[ParamSpec], prefix: str = "") -> str:
    """The README.md table of ``specs``: parameter, default, range, change, meaning.

    Args:
        specs: The parameters, in table order.
        prefix: Written before every name (``SENSOR_PREFIX`` for the per-sensor table).

    Returns:
        Markdown lines joined by newlines, no trailing newline; defaults as JSON, ranges as
        ``low – high`` or the choices joined by `` / ``.
    """
    lines = ["| parameter | default | range | change | meaning |", "| --- | --- | --- | --- | --- |"]
    for spec in specs:
        change = "live" if spec.live else "read-only"
        lines.append(f"| `{prefix}{spec.name}` | {json.dumps(spec.default)} | {_range_text(spec)} "
                     f"| {change} | {spec.description} |")
    return "\n".join(lines)


def sensor_types_table() -> str:
    """The README.md table of binding types: type, message, what it feeds (``SENSOR_TYPES``)
    and which area an empty ``area`` finds (``areas.SENSOR_ROLES``)."""
    from .areas import SENSOR_ROLES
    from .bindings import SENSOR_TYPES

    lines = ["| type | message | what it feeds | empty `area` finds |", "| --- | --- | --- | --- |"]
    for kind, (msg, feeds) in SENSOR_TYPES.items():
        role = SENSOR_ROLES[kind]
        finds = role.describe() if role is not None else "nothing: name the area"
        lines.append(f"| `{kind}` | `{msg}` | {feeds} | {finds} |")
    return "\n".join(lines)


def output_types_table() -> str:
    """The README.md table of output types: type, message, what is published
    (``OUTPUT_TYPES``) and which area an empty ``area`` finds (``areas.OUTPUT_ROLES``)."""
    from .areas import OUTPUT_ROLES
    from .outputs import OUTPUT_TYPES

    lines = ["| type | message | what is published | empty `area` finds |",
             "| --- | --- | --- | --- |"]
    for kind, (msg, what) in OUTPUT_TYPES.items():
        role = OUTPUT_ROLES.get(kind)
        finds = role.describe() if role is not None else "`motor_area`"
        lines.append(f"| `{kind}` | `{msg}` | {what} | {finds} |")
    return "\n".join(lines)


def readme_tables() -> list[str]:
    """Every README.md table generated from this module, in README order."""
    return [markdown_table(PARAMS), markdown_table(SENSOR_PARAMS, SENSOR_PREFIX), sensor_types_table(),
            markdown_table(OUTPUT_PARAMS, OUTPUT_PREFIX), output_types_table()]


if __name__ == "__main__":
    print("\n\n".join(readme_tables()))
