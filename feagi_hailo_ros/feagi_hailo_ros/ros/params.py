"""Every parameter of the ``feagi_hailo`` node, in one table (no rclpy).

The node declares them from this table with descriptors (description, range, read-only),
so rqt_reconfigure shows sliders; README.md documents the same table and a test checks
that nothing is missing there. ``live`` parameters may change while the node runs and are
checked by :func:`check_value`; all others are read-only (changing them needs a
reconfigure: cleanup, then configure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    #: (low, high) inclusive for numbers; None for strings, booleans and lists.
    limits: tuple[float, float] | None = None
    live: bool = False
    choices: tuple[str, ...] = ()

    @property
    def kind(self) -> type:
        return type(self.default)


PARAMS: tuple[ParamSpec, ...] = (
    # -- brain ------------------------------------------------------------------------------
    ParamSpec("genome", "", "FEAGI genome: a path, or the name of a shipped example "
              "(obstacle_avoidance, obstacle_avoidance_v3, vision); empty = obstacle_avoidance."),
    ParamSpec("connectome", "", "Path of a saved connectome; when set it is used instead of genome."),
    ParamSpec("strict_genome", True, "Refuse genomes with unsupported morphologies (false: skip "
              "those mappings and log them)."),
    ParamSpec("seed", 0, "Seed of synapse sampling (synatt < 100) and of excitability draws.",
              (0, 2**31 - 1)),
    ParamSpec("inhibition", "clamped", "clamped: a net negative input counts as 0 (FEAGI); "
              "subtractive: negative input lowers the potential.", choices=("clamped", "subtractive")),
    ParamSpec("accelerator", "none", "Integrator of the projections placement puts on an "
              "accelerator: none (all on the CPU) or onnxruntime; use_hailo selects hailo.",
              choices=("none", "onnxruntime")),
    ParamSpec("placement_config", "", "Placement rules file (JSON/YAML; see README); empty: defaults."),
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
              choices=("fallback", "raise")),
    # -- timing -----------------------------------------------------------------------------
    ParamSpec("burst_rate_hz", 100.0, "Bursts per second while active.", (1.0, 2000.0), live=True),
    ParamSpec("stats_rate_hz", 1.0, "Rate of ~/burst_stats and /diagnostics.", (0.1, 50.0), live=True),
    ParamSpec("firing_decimation", 1, "Publish ~/firing every N bursts.", (1, 10000), live=True),
    ParamSpec("firing_coordinates", True, "Fill voxel coordinates in ~/firing.", live=True),
    ParamSpec("cloud_rate_hz", 5.0, "Rate of ~/firing_cloud (PointCloud2 for RViz); 0 disables.",
              (0.0, 60.0), live=True),
    ParamSpec("frame_id", "feagi_brain", "frame_id of ~/firing_cloud: one metre per voxel."),
    # -- sensors ----------------------------------------------------------------------------
    ParamSpec("sensor_names", ["scan"], "Sensor bindings; each name N reads the sensors.N.* "
              "parameters below."),
    ParamSpec("input_timeout_s", 0.5, "A sensor reading is re-injected every burst for this long "
              "(seconds) or until the next one; the watchdog zeroes cmd_vel when a sensor is silent "
              "for this long (0: no watchdog, 0.5 s hold).", (0.0, 60.0), live=True),
    # -- motors -----------------------------------------------------------------------------
    ParamSpec("motor_area", "o__mot", "Signed-percentage motor area decoded to cmd_vel; empty "
              "disables cmd_vel."),
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

BY_NAME = {p.name: p for p in PARAMS}

#: Per-sensor parameters, declared for each name in ``sensor_names``.
SENSOR_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("topic", "scan", "Topic to subscribe (relative names follow the namespace)."),
    ParamSpec("type", "laser_scan", "laser_scan, range, image, imu_angular_velocity, "
              "imu_linear_acceleration, imu_orientation, joint_state or area_input."),
    ParamSpec("area", "i__pro", "Cortical id (or name) of the input area."),
    ParamSpec("potential", 100.0, "Potential injected per active voxel.", (0.001, 1e6)),
    ParamSpec("max_age_s", 0.5, "Drop messages whose header stamp is older (0: never).", (0.0, 60.0)),
    ParamSpec("fov_deg", 180.0, "laser_scan: angular window centred ahead, spread over the area's x "
              "counter-clockwise (0: the scan's own span).", (0.0, 360.0)),
    ParamSpec("range_max", 1.0, "laser_scan/range: farthest distance that counts as an obstacle, "
              "in metres (0: the message's range_max).", (0.0, 100.0)),
)


def check_value(spec: ParamSpec, value: Any) -> str | None:
    """Why ``value`` is not acceptable for ``spec``, or None when it is."""
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
