"""Build the node's outgoing messages from engine results (message classes only, no rclpy node).

Kept apart from the node so the conversions have their own tests: the PointCloud2 layout
RViz reads, the FiringEvents fields, the burst statistics. ``/diagnostics`` are built in
``diagnostics.py``.
"""

from __future__ import annotations

import array
from collections.abc import Mapping

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from feagi_hailo_msgs.msg import AreaFiring, BurstStats, FiringEvents

from ..engine.core.connectome import Connectome
from .burst_clock import RateSummary
from .fired import firing_columns
from .outputs import OutputBinding

#: PointCloud2 layout: x, y, z (float32, metres = voxels + area offset), area (uint16
#: index into the brain's area list), intensity (float32, fired neurons in the voxel).
CLOUD_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("area", "<u2"),
                        ("intensity", "<f4")])
_FIELD_TYPES = {np.dtype("<f4"): PointField.FLOAT32, np.dtype("<u2"): PointField.UINT16}


def firing_events(connectome: Connectome, fired: Mapping[str, np.ndarray], burst: int,
                  *, coordinates: bool = True) -> FiringEvents:
    """The ``~/firing`` message of one burst (header left to the caller).

    Args:
        connectome: The running brain (areas in message order).
        fired: Cortical id -> int ``(k,)`` area-local indices of the neurons that fired.
        burst: Burst number.
        coordinates: Also fill each neuron's voxel ``x``, ``y``, ``z`` (uint32).

    Returns:
        FiringEvents with one AreaFiring (uint32 ``neuron_indices``) per area that fired.
    """
    out = FiringEvents(burst=int(burst))
    # A burst's own split has every column in one compiled pass (fired.FiredByArea).
    for area, columns in firing_columns(connectome, fired):
        item = AreaFiring(cortical_id=area.cortical_id, name=area.name)
        item.neuron_indices = _uint32_array(columns[0])
        if coordinates:
            item.x, item.y, item.z = (_uint32_array(c) for c in columns[1:])
        out.areas.append(item)
    return out


def _uint32_array(values: np.ndarray) -> array.array:
    """An ``array('I')`` of ``values`` made from their bytes: a message's uint32[] field takes
    it as is (rosidl's generated setter), where a NumPy array is copied element by element."""
    return array.array("I", np.ascontiguousarray(values, dtype=np.uint32).tobytes())


def firing_cloud_points(connectome: Connectome, fired: Mapping[str, np.ndarray],
                        scale: float = 1.0) -> np.ndarray:
    """The fired voxels of one burst in cortical coordinates, for the firing cloud.

    Args:
        connectome: The running brain.
        fired: Cortical id -> int ``(k,)`` area-local indices of the neurons that fired.
        scale: Metres per voxel (the ``cloud_scale`` parameter; TF carries no scale, so the
            points themselves are scaled).

    Returns:
        :data:`CLOUD_DTYPE` ``(m,)``, one point per fired voxel: position = (area position +
        voxel) * ``scale`` metres, ``area`` = the area's index, ``intensity`` = how many of the
        voxel's neurons fired.
    """
    parts = []
    for area in connectome.areas:
        idx = fired.get(area.cortical_id)
        if idx is None or idx.size == 0:
            continue
        vox, counts = np.unique(area.voxel_of(idx), axis=0, return_counts=True)
        pts = np.zeros(len(vox), CLOUD_DTYPE)
        pos = np.asarray(area.position, dtype=np.float32)
        pts["x"], pts["y"], pts["z"] = ((vox + pos) * scale).T.astype(np.float32)
        pts["area"] = area.index
        pts["intensity"] = counts
        parts.append(pts)
    return np.concatenate(parts) if parts else np.zeros(0, CLOUD_DTYPE)


def point_cloud(points: np.ndarray) -> PointCloud2:
    """An unorganized, little-endian PointCloud2 of ``points`` (header left to the caller).

    Args:
        points: ``(m,)`` structured array convertible to :data:`CLOUD_DTYPE`.

    Returns:
        PointCloud2 with ``height = 1``, ``width = m`` and the fields x, y, z, area, intensity.
    """
    msg = PointCloud2(height=1, width=len(points), is_bigendian=False, is_dense=True,
                      point_step=CLOUD_DTYPE.itemsize, row_step=CLOUD_DTYPE.itemsize * len(points))
    msg.fields = [PointField(name=name, offset=CLOUD_DTYPE.fields[name][1],
                             datatype=_FIELD_TYPES[CLOUD_DTYPE.fields[name][0]], count=1)
                  for name in CLOUD_DTYPE.names]
    msg.data = points.astype(CLOUD_DTYPE, copy=False).tobytes()
    return msg


def timed_components(timing: Mapping[str, float]) -> list[str]:
    """The engine's timed components in ``timing``, sorted: its backend (``backend:<name>``)
    and each integrator (``integrator:<name>``, e.g. ``integrator:onnxruntime``).

    ``timing`` is a burst's timing or ``Engine.stats()["mean_s"]``; phases inside a component
    (``backend:cpu.<phase>``) and ``total`` are left out. ``~/burst_stats``'s ``backend_names``
    and the ``/diagnostics`` statuses per component both list these, so they agree.
    """
    return sorted(k for k in timing if k != "total" and "." not in k)


def burst_stats(burst: int, target_hz: float, rate: RateSummary, duration_s: float,
                timing: Mapping[str, float], neurons_fired: int, cpu_s: float = 0.0,
                cpu_mean_s: float = 0.0) -> BurstStats:
    """The ``~/burst_stats`` message (header left to the caller).

    Args:
        burst: Burst number.
        target_hz: The ``burst_rate_hz`` parameter.
        rate: Statistics of the burst loop.
        duration_s: Wall time of the last burst (seconds).
        timing: Seconds per engine phase of the last burst; its :func:`timed_components`
            become ``backend_names`` / ``backend_duration_ms``.
        neurons_fired: Neurons that fired in the last burst.
        cpu_s, cpu_mean_s: CPU seconds the burst thread spent on the last burst, and their mean
            over the bursts since the previous message.
    """
    names = timed_components(timing)
    return BurstStats(burst=int(burst), target_rate_hz=float(target_hz),
                      achieved_rate_hz=rate.achieved_rate_hz,
                      period_error_p50_ms=rate.period_error_p50_ms,
                      period_error_p99_ms=rate.period_error_p99_ms,
                      burst_duration_ms=duration_s * 1e3, backend_names=names,
                      backend_duration_ms=[timing[k] * 1e3 for k in names],
                      overruns=rate.overruns, neurons_fired=int(neurons_fired),
                      burst_cpu_ms=cpu_s * 1e3, burst_cpu_mean_ms=cpu_mean_s * 1e3)


#: Diagnostic levels (the statuses themselves are built in ``diagnostics.py``).
OK, WARN, ERROR, STALE = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR,
                          DiagnosticStatus.STALE)


def joint_command(binding: OutputBinding,
                  positions: np.ndarray) -> Float64MultiArray | JointTrajectory:
    """A joint command as the output's message type.

    Args:
        binding: A joint output.
        positions: float ``(joints,)`` in ``joints`` order.

    Returns:
        ``joint_positions``: Float64MultiArray with ``data = positions`` (no layout, as
        forward_command_controller expects a flat array). ``joint_trajectory``:
        JointTrajectory with ``joint_names = joints``, one point with ``positions`` and
        ``time_from_start = time_from_start_s``, header stamp zero (start on receipt).

    Raises:
        ValueError: ``binding`` is not a joint output or ``positions`` has another length.
    """
    values = [float(v) for v in np.asarray(positions, dtype=np.float64).reshape(-1)]
    if not binding.commands_joints or len(values) != len(binding.joints):
        raise ValueError(f"output {binding.name!r}: {len(values)} positions for "
                         f"{len(binding.joints)} joints of a {binding.kind} output")
    if binding.kind == "joint_positions":
        return Float64MultiArray(data=values)
    point = JointTrajectoryPoint(positions=values)
    point.time_from_start.sec, point.time_from_start.nanosec = divmod(
        round(binding.time_from_start_s * 1e9), 1_000_000_000)
    return JointTrajectory(joint_names=list(binding.joints), points=[point])
