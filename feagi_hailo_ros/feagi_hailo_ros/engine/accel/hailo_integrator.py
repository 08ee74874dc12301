"""The Hailo integrator: accelerator partitions on a Hailo-8 through the ctypes binding.

:class:`HailoIntegrator` implements the engine's integrator contract (core/integrator.py)
for the partitions of a manifest (manifest.py): each partition is one network group of a
compiled HEF, whose input frame is the source area's 0/1 spikes and whose outputs are exact
per-projection synaptic counts. The engine multiplies counts by the per-spike contribution, so
the spike raster is identical to the CPU engine's (DESIGN §5).

Life cycle::

    integ = HailoIntegrator("export/manifest.json", on_error="fallback", required=False)
    assign = {p: integ for p in integ.projections_in_manifest(connectome)}
    engine = Engine(connectome, "cpu", integrators=assign)
    ...                      # engine.step() calls integ.submit() and integ.collect() per burst
    engine.close()           # calls integ.close()

``prepare`` refuses (``ManifestError`` / ``HailoPartitionMismatch``) anything that could give
wrong counts before the first burst: another genome's manifest, partitions that do not fit the
connectome, HEFs whose network groups or vstreams differ from the manifest in name, frame shape,
format type or count range (see hailo_checks.py).

Failure policy:

* **No HailoRT or no device** (library missing or of another version, ``hailo_create_vdevice``
  failing, e.g. 74 ``HAILO_OUT_OF_PHYSICAL_DEVICES``): with ``required=True`` prepare raises
  :class:`~feagi_hailo_ros.hailo.HailoRTUnavailable` (the message says what was searched and how
  to install HailoRT); with ``required=False`` the integrator reports ``available=False`` and the
  reason, and every partition runs on the exact CPU path.
* **A partition that cannot use its device** (README "Hailo"): the manifest lists no HEF for
  it, the HEF does not exist, cannot be read, or the library refuses to load it (13, 14, 26,
  91, 92) or to configure it (26/93 a HEF for another architecture, e.g. Hailo-8 on a
  Hailo-8L; 6 a device full of network groups), its vstreams cannot be created, or the device
  it is placed on could not be opened: with ``required=False`` that partition runs on the CPU
  path with identical counts, ``degraded`` records partition -> reason and one
  :class:`HailoFallbackWarning` names them all; with ``required=True`` prepare raises
  ``ManifestError`` naming the partition (the library's error as its cause). A HEF that loads
  but implements something else is always refused (HailoPartitionMismatch).
* **An error mid-run** (a ``HailoRTError`` from a write or read, or a result that is not an
  integral count): with ``on_error="fallback"`` that partition switches to the CPU path *for
  the same burst* (so the raster does not change), its vstreams are released, one
  :class:`HailoFallbackWarning` names the partition and the status, and ``degraded`` records
  partition -> reason. With ``on_error="raise"`` the error propagates after the other partitions
  of the burst were drained, and the integrator refuses further bursts until ``prepare`` runs
  again (the ROS node goes to its error state).
* **No answer** (``collect`` waited ``wait_timeout_s`` for the I/O thread, which is still
  blocked inside HailoRT): :class:`~.hailo_io.HailoWaitTimeout` fails every partition of that
  burst, and the same ``on_error`` policy applies (fallback: their counts come from the CPU
  path for this burst and every later one; raise: the error propagates, the integrator stops).
  Their vstreams are released by the I/O thread once it returns, never under it.

Devices (hailo_devices.py): the integrator configures its HEFs on a :class:`HailoDevices`
pool, the node's (shared by every brain it runs, so an upload reuses the vdevice the running
brain holds: a device serves one vdevice at a time) or, when none is given, its own. With
``device_count > 1`` partitions are spread over the devices by weight count
(``hailo_devices.spread``, ``device_of``), each device with its own vdevice and I/O thread.

What overlaps (see hailo_io.py for the schedules):

* ``submit`` / ``collect`` (what the engine calls): the exchange runs on an I/O thread (ctypes
  releases the GIL in every libhailort call) and ``submit`` returns at once; the engine collects
  after the CPU has propagated its own synapses, so the device works meanwhile. ``collect``
  computes the CPU-path partitions, then waits.
* ``integrate`` (synchronous, for callers without a CPU part of their own): the first frames (up
  to ``queue_size``) of *all* partitions are written before the first read, so the device
  computes one partition while the host writes the next and reads the previous; partitions
  already on the CPU path are computed after those writes and before the first read.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...hailo import (
    FormatType,
    HailoRT,
    HailoRTError,
    HailoRTUnavailable,
    Hef,
)
from ..core.connectome import Connectome
from ..core.integrator import Integrator
from .hailo_checks import (
    HailoPartitionMismatch,
    ResolvedPartition,
    VStreamBinding,
    check_created_vstreams,
    check_hef_vstreams,
    mapping_of,
    resolve_manifest,
)
from .hailo_devices import (  # HailoDeviceUnavailable: re-exported, it moved there
    HailoDevices,
    HailoDeviceUnavailable,  # noqa: F401
    Lease,
    hef_digest,
    spread,
)
from .hailo_io import (
    AsyncExchange,
    ExchangeJob,
    ExchangeResult,
    FramePlan,
    HailoWaitTimeout,
    PartitionStreams,
    exchange_sync,
    plan_frames,
    window_for,
)
from .manifest import Manifest, ManifestError
from .numpy_integrator import NumpyIntegrator
from .quantization import DTYPES

ON_ERROR = ("fallback", "raise")


class HailoFallbackWarning(RuntimeWarning):
    """A partition (or all of them) now runs on the CPU path; results stay exact."""


@dataclass
class HailoHandle:
    """An integration in flight (from ``submit``); pass it to ``collect``."""

    spikes: Mapping[int, np.ndarray]
    #: One exchange per device with partitions in this burst (each on its device's I/O thread).
    jobs: list[ExchangeJob]
    cpu: dict[str, dict[int, np.ndarray]]
    host_s: float  # caller-thread seconds spent submitting
    collected: bool = False


class HailoIntegrator(Integrator):
    """Integrates projections on a Hailo-8 from a partition manifest (see the module docstring).

    ``manifest`` is a :class:`Manifest` or the path of ``manifest.json``; HEF paths are relative
    to its directory (or to ``base_dir`` when a Manifest object is given). ``rt`` reuses an
    already loaded :class:`HailoRT`; otherwise ``lib_path`` (or the binding's search) is used at
    ``prepare``. ``queue_size``/``timeout_ms`` configure every vstream: the synchronous schedule
    writes at most ``queue_size`` frames of a partition ahead of its reads, and a device that
    does not answer within ``timeout_ms`` counts as a failure of that partition.
    ``wait_timeout_s`` bounds how long ``collect`` waits for the I/O thread (None: no bound);
    on expiry the burst's partitions fail with :class:`~.hailo_io.HailoWaitTimeout` and
    ``on_error`` applies. ``ValueError`` for a ``wait_timeout_s`` that is not positive.
    """

    name = "hailo"

    def __init__(
        self,
        manifest: Manifest | str | os.PathLike[str],
        *,
        lib_path: str | os.PathLike[str] | None = None,
        on_error: str = "fallback",
        required: bool = False,
        rt: HailoRT | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        queue_size: int = 4,
        timeout_ms: int = 2000,
        wait_timeout_s: float | None = 2.0,
        devices: HailoDevices | None = None,
        device_count: int = 1,
    ) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        if wait_timeout_s is not None and not wait_timeout_s > 0:
            raise ValueError(f"wait_timeout_s must be positive or None, got {wait_timeout_s!r}")
        self.wait_timeout_s = wait_timeout_s
        if isinstance(manifest, Manifest):
            self.manifest = manifest
            self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        else:
            self.manifest = Manifest.read(manifest)
            self.base_dir = Path(base_dir) if base_dir is not None else Path(manifest).parent
        self.lib_path = lib_path
        self.on_error = on_error
        self.required = bool(required)
        self.queue_size = int(queue_size)
        self.timeout_ms = int(timeout_ms)
        #: The devices the partitions run on: shared (a node's, kept across brain swaps) or, when
        #: None is given, this integrator's own (opened by prepare, released by close).
        self._own_devices = devices is None
        self.devices = devices if devices is not None else HailoDevices(
            lib_path=lib_path, rt=rt, device_count=device_count)
        #: partition name -> index of the device it is placed on (``spread`` by weight count).
        self.device_of: dict[str, int] = {}
        #: True once prepare opened the device, False when it could not (see unavailable_reason),
        #: None before prepare.
        self.available: bool | None = None
        self.unavailable_reason = ""
        #: The long help of the reason (what was searched, how to install HailoRT), to be shown
        #: once rather than in every message; "" when there is none.
        self.unavailable_help = ""
        #: partition name -> why it runs on the CPU path (diagnostics).
        self.degraded: dict[str, str] = {}
        self._parts: dict[str, ResolvedPartition] = {}
        self._owner: dict[int, str] = {}
        self._cpu = NumpyIntegrator()
        self._streams: dict[str, PartitionStreams] = {}
        self._leases: list[Lease] = []
        self._hefs: list[Hef] = []
        self._async: dict[int, AsyncExchange] = {}
        self._pending: HailoHandle | None = None
        self._broken: BaseException | None = None
        self._prepared = False
        self._reset_stats()

    # -- set-up --------------------------------------------------------------------------------

    def projections_in_manifest(self, connectome: Connectome) -> list[int]:
        """Every projection of ``connectome`` some partition of the manifest computes."""
        wanted = {tuple(o.mapping) for part in self.manifest.partitions for o in part.outputs}
        return [p for p in range(len(connectome.projections)) if mapping_of(connectome, p) in wanted]

    def prepare(self, connectome: Connectome, projections: Sequence[int]) -> None:
        """Check the manifest against ``connectome``, open the device and every needed partition.

        Calling it again releases what an earlier call opened first.
        """
        self.close()
        self._broken = None
        self.degraded = {}
        self._reset_stats()
        resolved = resolve_manifest(self.manifest, self.base_dir, connectome, projections)
        wanted = set(projections)
        self._parts = {rp.name: rp for rp in resolved}
        self._owner = {o.projection: rp.name for rp in resolved for o in rp.outputs
                       if o.projection in wanted}  # fmt: skip
        self._cpu = NumpyIntegrator()
        self._cpu.prepare(connectome, sorted(wanted))

        if self._own_devices and self.devices._closed:  # prepared again after close()
            self.devices = HailoDevices(lib_path=self.devices.lib_path, rt=self.devices._rt,
                                        device_count=self.devices.device_count)
        problems = _file_problems(resolved)
        if problems and self.required:
            raise ManifestError(_problem_text(problems, self.manifest))
        try:
            self.devices.open()
        except HailoRTUnavailable as exc:
            if self.required:
                raise
            self._unavailable(str(exc))
            self.unavailable_help = exc.help
            self._prepared = True
            return
        self.device_of = spread({rp.name: rp.partition.weight_count for rp in resolved},
                                self.devices.device_count)
        for rp in resolved:
            slot = self.devices.slot(self.device_of[rp.name])
            if slot.problem and rp.name not in problems:
                problems[rp.name] = f"device {slot.label} unavailable: {slot.problem}"
        try:
            problems.update(self._open(self.devices.rt, [rp for rp in resolved
                                                         if rp.name not in problems]))
            if problems and self.required:
                raise ManifestError(_problem_text(problems, self.manifest))
        except BaseException:
            self.close()
            raise
        for name, reason in problems.items():
            self.degraded[name] = reason
        if problems:
            warnings.warn("Hailo integrator: " + _problem_text(problems, self.manifest)
                          + "; they run on the CPU (exact)", HailoFallbackWarning, stacklevel=2)
        self.available = True
        self.unavailable_reason = self.unavailable_help = ""
        self._prepared = True

    def _unavailable(self, reason: str) -> None:
        self.available = False
        self.unavailable_reason = reason
        for name in self._parts:
            self.degraded[name] = f"HailoRT unavailable: {reason}"
        warnings.warn(f"Hailo integrator: HailoRT is unavailable, partitions {sorted(self._parts)} "
                      f"run on the CPU (exact): {reason}", HailoFallbackWarning, stacklevel=3)

    def _open(self, rt: HailoRT, resolved: list[ResolvedPartition]) -> dict[str, str]:
        """Load HEFs, check them, configure them on their devices, create and check the vstreams.

        Returns partition name -> why it cannot run on its device: a HEF the library refuses to
        load (e.g. 92 not a HEF, 14 empty) or to configure (26/93 compiled for another
        architecture, 6 the device holds 32 network groups), or vstreams it cannot create.
        A HEF that loads but does not implement its partition raises (HailoPartitionMismatch):
        that is a wrong file, not a missing one, and could give wrong counts.
        """
        problems: dict[str, str] = {}
        by_hef: dict[tuple[int, Path], list[ResolvedPartition]] = {}
        for rp in resolved:
            assert rp.hef_path is not None  # _file_problems took the others
            by_hef.setdefault((self.device_of[rp.name], rp.hef_path), []).append(rp)
        loaded: list[tuple[int, Hef, str, list[ResolvedPartition]]] = []
        bindings: dict[str, VStreamBinding] = {}
        for (device, path), rps in by_hef.items():
            try:
                digest = hef_digest(path)
                hef = rt.hef_from_file(path)
            except (HailoRTError, OSError) as exc:
                self._record(problems, rps, f"cannot load HEF {str(path)!r}: {exc}", exc)
                continue
            self._hefs.append(hef)
            groups = [g.name for g in hef.network_group_infos()]
            for rp in rps:
                if rp.name not in groups:
                    raise HailoPartitionMismatch(rp.name, None, f"network group in {path.name}",
                                                 repr(rp.name), groups)
                # Checked before configuring: a wrong HEF never reaches the device. The
                # binding ties the manifest's (ONNX) names to the HEF's vstream names.
                bindings[rp.name] = check_hef_vstreams(rp, hef)
            loaded.append((device, hef, digest, rps))
        for device, hef, digest, rps in loaded:
            try:
                lease = self.devices.acquire(device, hef, digest, [rp.name for rp in rps])
            except HailoRTError as exc:
                label = self.devices.slot(device).label
                self._record(problems, rps, f"device {label} refused HEF {hef.source!r}: {exc}",
                             exc)
                continue
            self._leases.append(lease)
            for rp in rps:
                binding = bindings[rp.name]
                formats = {binding.outputs[o.output.name]: DTYPES[o.output.dtype][0]
                           for o in rp.outputs}
                try:
                    vs = lease.groups[rp.name].create_vstreams(
                        FormatType.UINT8, FormatType.UINT8, output_formats=formats,
                        timeout_ms=self.timeout_ms, queue_size=self.queue_size)
                except HailoRTError as exc:
                    self._record(problems, [rp], f"cannot create its vstreams: {exc}", exc)
                    continue
                # owned (and closed) from here
                self._streams[rp.name] = PartitionStreams(rp, vs, binding)
                check_created_vstreams(rp, vs, binding)
        return problems

    def _record(self, problems: dict[str, str], rps: Sequence[ResolvedPartition], reason: str,
                exc: BaseException) -> None:
        """Note why partitions ``rps`` cannot use the device, or refuse (``required``) with the
        library's error as the cause."""
        if self.required:
            raise ManifestError(f"partition(s) {[rp.name for rp in rps]}: {reason}") from exc
        for rp in rps:
            problems[rp.name] = reason

    # -- bursts --------------------------------------------------------------------------------

    def _split(self, spikes: Mapping[int, np.ndarray]
               ) -> tuple[list[FramePlan], dict[str, dict[int, np.ndarray]]]:
        """Device plans for partitions on the device, CPU requests for the others."""
        if not self._prepared:
            raise RuntimeError("the Hailo integrator is not prepared (or was closed)")
        if self._broken is not None:
            raise RuntimeError(f"the Hailo integrator stopped after {self._broken!r}; call "
                               "prepare() again") from self._broken
        if self._pending is not None:
            raise RuntimeError("collect() the pending submit() first")
        touched: dict[str, dict[int, np.ndarray]] = {}
        for p, x in spikes.items():
            name = self._owner.get(p)
            if name is None:
                raise KeyError(f"projection {p} was not prepared on the Hailo integrator")
            touched.setdefault(name, {})[p] = x
        plans: list[FramePlan] = []
        cpu: dict[str, dict[int, np.ndarray]] = {}
        for name in self._parts:  # manifest order: a stable write order for the device
            if name not in touched:
                continue
            streams = self._streams.get(name)
            if streams is None:
                cpu[name] = touched[name]
            else:
                plans.append(plan_frames(streams, touched[name]))
        return plans, cpu

    def integrate(self, spikes: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Exact counts ``{projection: (G, n_dst) int64}`` for this burst, on the synchronous schedule."""
        t0 = time.perf_counter()
        plans, cpu = self._split(spikes)
        cpu_counts: dict[int, np.ndarray] = {}

        def cpu_path() -> None:  # partitions already on the CPU, while the device computes
            cpu_counts.update(self._run_cpu(cpu))

        try:
            result = (exchange_sync(plans, window_for(self.queue_size), cpu_path) if plans
                      else ExchangeResult())
        except BaseException as exc:  # a bug or a closed vstream: frames may be left in flight
            self._broken = exc
            raise
        if not plans:
            cpu_path()
        return self._finish(spikes, result, cpu_counts, time.perf_counter() - t0)

    def submit(self, spikes: Mapping[int, np.ndarray]) -> HailoHandle:
        """Start integrating on the I/O thread and return at once; ``collect`` the handle.

        At most one integration is in flight; ``integrate`` refuses to run meanwhile. Partitions
        on the CPU path are computed by ``collect`` (on the caller's thread, before it waits).
        """
        t0 = time.perf_counter()
        plans, cpu = self._split(spikes)
        by_device: dict[int, list[FramePlan]] = {}
        for plan in plans:
            by_device.setdefault(self.device_of.get(plan.streams.name, 0), []).append(plan)
        jobs = []
        for device, device_plans in by_device.items():  # each device has its own I/O thread
            exchange = self._async.get(device)
            if exchange is None:
                exchange = self._async[device] = AsyncExchange(window_for(self.queue_size))
            jobs.append(exchange.submit(device_plans))
        handle = HailoHandle(spikes, jobs, cpu, time.perf_counter() - t0)
        self._pending = handle
        return handle

    def collect(self, handle: HailoHandle) -> dict[int, np.ndarray]:
        """Wait for a ``submit`` and return its counts ``{projection: (G, n_dst) int64}``."""
        if handle is not self._pending or handle.collected:
            raise RuntimeError("this handle is not the pending integration of this integrator")
        t0 = time.perf_counter()
        handle.collected = True
        self._pending = None
        cpu_counts = self._run_cpu(handle.cpu)  # while the I/O thread still works
        t_wait = time.perf_counter()
        deadline = None if self.wait_timeout_s is None else t_wait + self.wait_timeout_s
        result = ExchangeResult()
        for job in handle.jobs:
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            try:
                part = job.wait(left)
            except HailoWaitTimeout:
                # One deadline for the burst: say the configured bound, not what was left of it.
                names = ", ".join(p.streams.name for p in job.plans)
                part = self._timed_out(job, HailoWaitTimeout(
                    f"the Hailo exchange of partition(s) {names} did not finish within "
                    f"{self.wait_timeout_s} s"))  # the policy decides, in _finish
            except BaseException as exc:
                self._broken = exc
                raise
            _merge(result, part)
        self._totals["wait"] += time.perf_counter() - t_wait
        return self._finish(handle.spikes, result, cpu_counts,
                            handle.host_s + time.perf_counter() - t0)

    def _timed_out(self, job: ExchangeJob, exc: HailoWaitTimeout) -> ExchangeResult:
        """Every partition of ``job`` failed with ``exc``; take their vstreams out of service.

        The I/O thread is still inside HailoRT with those vstreams, so closing them here could
        pull them from under it: they are closed on that thread once it returns
        (``AsyncExchange.after_jobs``), and ``_abandon`` finds them already gone.
        """
        stuck = [self._streams.pop(p.streams.name) for p in job.plans
                 if p.streams.name in self._streams]
        device = self.device_of.get(job.plans[0].streams.name, 0) if job.plans else 0
        exchange = self._async.get(device)
        if stuck and exchange is not None:
            exchange.after_jobs(lambda: _close_all(stuck))
        return ExchangeResult(failed={p.streams.name: exc for p in job.plans})

    def _run_cpu(self, cpu: Mapping[str, Mapping[int, np.ndarray]]) -> dict[int, np.ndarray]:
        """Exact counts on the CPU path for the partitions in ``cpu`` (timed as cpu_fallback)."""
        if not cpu:
            return {}
        t0 = time.perf_counter()
        out = self._cpu.integrate({p: x for reqs in cpu.values() for p, x in reqs.items()})
        self._totals["cpu_fallback"] += time.perf_counter() - t0
        return out

    def _finish(self, spikes: Mapping[int, np.ndarray], result: ExchangeResult,
                cpu_counts: dict[int, np.ndarray], host_s: float) -> dict[int, np.ndarray]:
        """Merge device and CPU-path counts and apply the failure policy.

        ``host_s`` is the caller-thread time spent on this burst so far (for ``stats``).
        """
        t0 = time.perf_counter()
        out = dict(cpu_counts)
        for counts in result.counts.values():
            out.update(counts)
        first_error: BaseException | None = None
        failed: dict[str, dict[int, np.ndarray]] = {}
        for name, exc in result.failed.items():
            self._abandon(name, exc)
            if self.on_error == "raise":
                first_error = first_error or exc
            else:  # recompute the whole partition on the CPU, for this very burst
                failed[name] = {p: x for p, x in spikes.items() if self._owner.get(p) == name}
        if first_error is not None:
            self._broken = first_error
            raise first_error
        if failed:
            out.update(self._run_cpu(failed))
        if failed or cpu_counts:
            self._cpu_bursts += 1
        for k, v in result.seconds.items():
            self._totals[k] += v
        self._totals["total"] += host_s + (time.perf_counter() - t0)
        self._frames += result.frames
        self._bursts += 1
        return out

    def _abandon(self, name: str, exc: BaseException) -> None:
        """Take a failed partition off the device: release its vstreams, record and warn."""
        streams = self._streams.pop(name, None)
        status = getattr(exc, "name", type(exc).__name__)
        reason = f"{status}: {exc}"
        if streams is not None:
            try:
                streams.close()
            except Exception as close_exc:  # keep the original reason first
                reason += f" (releasing its vstreams also failed: {close_exc})"
        self.degraded[name] = reason
        if self.on_error == "fallback":
            warnings.warn(f"Hailo partition {name!r} failed with {status}; its projections "
                          f"{sorted(p for p, n in self._owner.items() if n == name)} run on the "
                          f"CPU from this burst on (exact): {exc}", HailoFallbackWarning,
                          stacklevel=4)

    # -- diagnostics ---------------------------------------------------------------------------

    def _reset_stats(self) -> None:
        self._totals = {"write": 0.0, "read": 0.0, "dequantize": 0.0, "cpu_fallback": 0.0,
                        "wait": 0.0, "total": 0.0}
        self._bursts = 0
        self._frames = 0
        self._cpu_bursts = 0

    @property
    def partition_of(self) -> dict[int, str]:
        """Projection index -> the partition computing it (after ``prepare``)."""
        return dict(self._owner)

    def device_label(self, partition: str) -> str:
        """``hailo<k>`` (with its id when several devices are used) of a partition's device."""
        k = self.device_of.get(partition, 0)
        slots = self.devices.slots
        return slots[k].label if k < len(slots) else f"hailo{k}"

    @property
    def on_device(self) -> list[str]:
        """Partitions currently integrated on the Hailo device."""
        return list(self._streams)

    def stats(self) -> dict[str, Any]:
        """Bursts, frames, fallbacks, and mean microseconds per burst of each phase.

        ``write``/``read``/``dequantize`` are time inside those calls (on the I/O thread for
        ``submit``); ``wait`` is the caller blocked in ``collect``; ``total`` the
        caller's own time in ``integrate`` (or ``submit`` + ``collect``).
        """
        n = max(self._bursts, 1)
        return {
            "bursts": self._bursts,
            "frames": self._frames,
            "available": self.available,
            "on_device": self.on_device,
            "degraded": dict(self.degraded),
            "fallbacks": len(self.degraded),
            "fallback_bursts": self._cpu_bursts,
            "us_per_burst": {k: v * 1e6 / n for k, v in self._totals.items()},
        }

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the I/O thread, release vstreams, network groups, HEFs and the vdevice
        (reverse order of creation). Idempotent; the first release error is raised after
        everything was released."""
        first: Exception | None = None
        self._prepared = False
        exchanges, self._async = self._async, {}
        ended = True
        for exchange in exchanges.values():
            # Finishes an uncollected job first: no vstream is in use after.
            ended = exchange.close(self.wait_timeout_s) and ended
        if not ended:
            self._leave_to_blocked_thread()
            return
        self._pending = None
        resources: list[Any] = [*reversed(list(self._streams.values())), *reversed(self._hefs)]
        leases, self._leases = self._leases, []
        self._streams, self._hefs = {}, []
        for r in resources:
            try:
                r.close()
            except Exception as exc:
                first = first or exc
        for lease in leases:  # their vstreams are gone: another brain may reuse the groups
            self.devices.release(lease)
        if self._own_devices:
            try:
                self.devices.close()
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first

    def _leave_to_blocked_thread(self) -> None:
        """close() while an I/O thread stays blocked inside HailoRT (a device that stopped
        answering): release the vstreams it cannot be using, keep the network groups it may
        be using out of the shared pool for good, leave HEFs and this integrator's own vdevice
        to the binding's finalizers (releasing a device under a blocked call could crash the
        process), and say so."""
        pending = self._pending
        busy = ({p.streams.name for job in pending.jobs for p in job.plans}
                if pending is not None else set())
        idle = [st for name, st in self._streams.items() if name not in busy]
        self._streams, self._pending = {}, None
        self._hefs, self._leases = [], []  # leases never returned: no one reuses those groups
        if self._own_devices:
            self.devices = HailoDevices(lib_path=self.devices.lib_path, rt=self.devices._rt,
                                        device_count=self.devices.device_count)
        _close_all(idle)
        warnings.warn("Hailo integrator closed while its I/O thread is still blocked in HailoRT; "
                      "the device is released when that call returns or the process exits",
                      RuntimeWarning, stacklevel=3)

    def __enter__(self) -> HailoIntegrator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # The binding's finalizers release the handles; only the I/O thread needs stopping.
        for exchange in list((getattr(self, "_async", None) or {}).values()):
            try:
                exchange.close()
            except Exception:
                pass


def _close_all(streams: Sequence[PartitionStreams]) -> None:
    """Close every one of ``streams``; errors are dropped (called where no one can act on them)."""
    for st in streams:
        try:
            st.close()
        except Exception:  # noqa: BLE001 - see the docstring
            pass


def _merge(into: ExchangeResult, part: ExchangeResult) -> None:
    """Add one device's exchange result to the burst's."""
    into.counts.update(part.counts)
    into.failed.update(part.failed)
    for k, v in part.seconds.items():
        into.seconds[k] = into.seconds.get(k, 0.0) + v
    into.frames += part.frames


def _file_problems(resolved: Sequence[ResolvedPartition]) -> dict[str, str]:
    """Partition name -> why its HEF file cannot be used, before any library call: none
    listed in the manifest, or a path that is not an existing file."""
    out: dict[str, str] = {}
    for rp in resolved:
        if rp.hef_path is None:
            onnx = rp.partition.files.get("onnx", f"{rp.name}.onnx")
            out[rp.name] = (f"the manifest lists no HEF for it (files.hef): export again "
                            f"(`feagi-hailo export` lists {rp.name}.hef) and compile {onnx} "
                            "as COMPILE.md says")
        elif not rp.hef_path.exists():
            out[rp.name] = f"HEF {str(rp.hef_path)!r} does not exist"
        elif not rp.hef_path.is_file():
            out[rp.name] = f"HEF {str(rp.hef_path)!r} is not a file"
    return out


def _problem_text(problems: Mapping[str, str], manifest: Manifest) -> str:
    """One message naming every partition that cannot run on a device and why."""
    order = [p.name for p in manifest.partitions]
    names = sorted(problems, key=lambda n: order.index(n) if n in order else len(order))
    return "; ".join(f"partition {n!r}: {problems[n]}" for n in names)
