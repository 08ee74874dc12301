"""Moving spike frames through a partition's vstreams: planning, exchange, decoding.

One engine request ``{projection: X (G, n_src)}`` becomes, per partition, a stack of input
frames (rows of ``X``; projections of a partition share the source spikes, so their rows are
usually identical and are sent once), one write per frame and one read per frame and output
vstream, then counts decoded from the raw outputs.

Two exchange schedules, both keeping each vstream on one thread at a time (the binding's
threading rule):

* :func:`exchange_sync`, on the caller's thread: the first ``window`` frames of *every*
  partition are written before the first read, so the device computes partition k while the
  host is still writing k+1 and reading k-1; further frames are written as reads make room.
  ``window`` never exceeds the vstream queue size, so a write never waits for a read that this
  same thread would only issue later.
* :class:`AsyncExchange`: the same schedule on an I/O thread, so the caller's thread is free
  until it collects the result. ctypes releases the GIL in every libhailort call (and Numba
  kernels are nogil), so the exchange and the caller's CPU work run at the same time.

A failure is per partition: its remaining frames are skipped (the caller abandons that
partition's vstreams and recomputes it on the CPU), the other partitions complete normally, so
no stale frame is ever left in a vstream that is used again.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ...hailo import HailoRTError, InputVStream, OutputVStream, VStreamSet
from .hailo_checks import ResolvedOutput, ResolvedPartition, VStreamBinding
from .quantization import CountDecoder, HailoResultError, spike_codes

#: Errors of one partition that the fallback policy handles; anything else (a bug, a closed
#: integrator) propagates.
PARTITION_ERRORS: tuple[type[BaseException], ...] = (HailoRTError, HailoResultError)

class PartitionStreams:
    """The open vstreams of one partition, its decoders and reusable raw output buffers.

    ``binding`` says which HEF vstream implements each manifest vstream (hailo_checks)."""

    def __init__(self, rp: ResolvedPartition, vstreams: VStreamSet,
                 binding: VStreamBinding) -> None:
        self.resolved = rp
        self.name = rp.name
        self.vstreams = vstreams
        self.input: InputVStream = vstreams.inputs[binding.input]
        # A spike is the real value 1.0; the device dequantizes raw input as
        # (raw - qp_zp) * qp_scale. The DFC calibrates a 0/1 input to [0, 1] over 8 bits
        # (scale 1/255), so a spike is usually raw 255, not 1 (hailo_checks verifies 0 and 1
        # are exactly representable).
        self.raw_zero, self.raw_one = spike_codes(self.input.qp_scale, self.input.qp_zp)
        self._identity_input = (self.raw_zero, self.raw_one) == (0, 1)
        # Every output is read every frame (the device waits for room in all of them), even
        # those whose projection another integrator computes; only requested ones are decoded.
        self.outputs: list[tuple[ResolvedOutput, OutputVStream, CountDecoder]] = []
        for o in rp.outputs:
            v = vstreams.outputs[binding.outputs[o.output.name]]
            self.outputs.append((o, v, CountDecoder(rp.name, v.name, v.qp_scale, v.qp_zp)))
        self._index = {o.projection: k for k, (o, _, _) in enumerate(self.outputs)}
        self._raw: list[np.ndarray] = []
        self._capacity = 0

    @property
    def projections(self) -> tuple[int, ...]:
        """Projection indices this partition's outputs compute, in output order."""
        return tuple(self._index)

    def buffers(self, frames: int) -> list[np.ndarray]:
        """Raw output buffers ``(>= frames, n)`` per output, grown on demand and then reused."""
        if frames > self._capacity:
            self._capacity = max(frames, 2 * self._capacity)
            self._raw = [np.empty((self._capacity, v.frame_size // v.dtype.itemsize), v.dtype)
                         for _, v, _ in self.outputs]
        return self._raw

    def write(self, frame: np.ndarray) -> None:
        """Write one 0/1 uint8 spike frame ``(n_src,)``, encoded with the input's spike codes."""
        if not self._identity_input:
            frame = np.where(frame != 0, np.uint8(self.raw_one), np.uint8(self.raw_zero))
        self.input.write(frame)

    def read(self, i: int) -> None:
        """Read frame ``i`` of every output into the buffers."""
        for (_, v, _), buf in zip(self.outputs, self._raw, strict=True):
            v.read(out=buf[i])

    def decode(self, plan: FramePlan) -> dict[int, np.ndarray]:
        """Counts ``(G, n_dst)`` per requested projection from the frames read for ``plan``."""
        n = len(plan.frames)
        out: dict[int, np.ndarray] = {}
        for p, rows in plan.rows.items():
            k = self._index[p]
            counts = self.outputs[k][2](self._raw[k][:n])
            out[p] = counts if rows is None else counts[rows]
        return out

    def close(self) -> None:
        """Release the partition's vstreams (idempotent)."""
        self.vstreams.close()


@dataclass
class FramePlan:
    """The frames one partition needs for one request, and which frame answers which row."""

    streams: PartitionStreams
    frames: np.ndarray  # (F, n_src) uint8, C-contiguous
    #: projection -> frame index of each of its request rows; None when rows == frames.
    rows: dict[int, np.ndarray | None]


def plan_frames(streams: PartitionStreams, requests: Mapping[int, np.ndarray]) -> FramePlan:
    """Frames for the requested projections of one partition (rows shared where equal).

    The engine groups one source's spikes by per-spike contribution, so projections of a
    partition normally send the same rows; those are sent once. Otherwise distinct rows are
    gathered (a frame produces every output of the partition at once).
    """
    n_src = streams.resolved.n_src
    xs: list[tuple[int, np.ndarray]] = []
    for p in streams.projections:
        if p not in requests:
            continue
        x = np.asarray(requests[p])
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != n_src:
            raise ValueError(f"projection {p}: spikes must be uint8 (G, {n_src}), got "
                             f"{x.dtype}{x.shape}")
        if x.size and int(x.max()) > 1:
            raise ValueError(f"projection {p}: spikes must be 0/1 (a UINT8 frame would count "
                             f"{int(x.max())} for one spike)")
        xs.append((p, x))
    first = xs[0][1]
    if all(x is first or (x.shape == first.shape and np.array_equal(x, first)) for _, x in xs):
        return FramePlan(streams, np.ascontiguousarray(first), {p: None for p, _ in xs})
    index: dict[bytes, int] = {}
    frames: list[np.ndarray] = []
    rows: dict[int, np.ndarray | None] = {}
    for p, x in xs:
        r = np.empty(x.shape[0], dtype=np.intp)
        for g in range(x.shape[0]):
            k = index.setdefault(x[g].tobytes(), len(frames))
            if k == len(frames):
                frames.append(x[g])
            r[g] = k
        rows[p] = r
    return FramePlan(streams, np.ascontiguousarray(np.stack(frames)), rows)


@dataclass
class ExchangeResult:
    """Counts per partition name, failures per partition name, seconds per phase."""

    counts: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)
    seconds: dict[str, float] = field(
        default_factory=lambda: {"write": 0.0, "read": 0.0, "dequantize": 0.0})
    frames: int = 0


def exchange_sync(plans: Sequence[FramePlan], window: int,
                  between: Callable[[], None] | None = None) -> ExchangeResult:
    """Write and read every plan's frames on this thread; decode each partition as it completes.

    ``between`` runs after the first writes and before the first read, i.e. while the device
    computes (the integrator runs its CPU-path partitions there). Partition errors
    (:data:`PARTITION_ERRORS`) end only that partition; other exceptions propagate.
    """
    res = ExchangeResult()
    sec = res.seconds
    written = [0] * len(plans)

    def write_until(k: int, stop: int) -> None:
        plan = plans[k]
        while written[k] < stop:
            t0 = time.perf_counter()
            plan.streams.write(plan.frames[written[k]])
            sec["write"] += time.perf_counter() - t0
            written[k] += 1

    for k, plan in enumerate(plans):
        plan.streams.buffers(len(plan.frames))
        try:
            write_until(k, min(len(plan.frames), window))
        except PARTITION_ERRORS as exc:
            res.failed[plan.streams.name] = exc
    if between is not None:
        between()
    for k, plan in enumerate(plans):
        name = plan.streams.name
        if name in res.failed:
            continue
        n = len(plan.frames)
        try:
            for i in range(n):
                t0 = time.perf_counter()
                plan.streams.read(i)
                sec["read"] += time.perf_counter() - t0
                write_until(k, min(n, i + 1 + window))
            t0 = time.perf_counter()
            res.counts[name] = plan.streams.decode(plan)
            sec["dequantize"] += time.perf_counter() - t0
            res.frames += n
        except PARTITION_ERRORS as exc:
            res.failed[name] = exc
    return res


class HailoWaitTimeout(TimeoutError):
    """The I/O thread did not finish a burst's exchange within the integrator's wait timeout.

    The device (or its driver) stopped answering without a HailoRT error, e.g. a read that
    never returns. The integrator treats it as a failure of every partition of that exchange
    and applies its ``on_error`` policy (hailo_integrator.py).
    """


class ExchangeJob:
    """One asynchronous exchange; ``wait`` returns its result once the I/O thread is done."""

    def __init__(self, plans: Sequence[FramePlan]) -> None:
        self.plans = list(plans)
        self.result: ExchangeResult | None = None
        self.error: BaseException | None = None  # not a partition error: re-raised by wait()
        self.done = threading.Event()

    def wait(self, timeout: float | None = None) -> ExchangeResult:
        """Block until the I/O thread finished this job; return its result or raise the error
        the exchange raised.

        Raises:
            HailoWaitTimeout: not finished within ``timeout`` seconds (None: no limit).
        """
        if not self.done.wait(timeout):
            names = ", ".join(p.streams.name for p in self.plans)
            raise HailoWaitTimeout(f"the Hailo exchange of partition(s) {names} did not finish "
                                   f"within {timeout} s")
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class AsyncExchange:
    """An I/O thread running :func:`exchange_sync` for submitted jobs, in order.

    One thread does both the writes and the reads of a job, so every vstream is used by one
    thread at a time, and the windowed schedule keeps up to ``window`` frames per partition in
    the device while that thread waits on a read. A writer/reader thread pair was measured
    slower here: its per-frame hand-offs cost more (GIL and condition-variable round trips,
    ~100-300 us on 2 cores) than they overlap when a partition has no more frames than the
    vstream queue holds, which is the normal case (one frame per burst for uniform-PSP areas).
    """

    def __init__(self, window: int) -> None:
        self.window = window
        self._q: queue.SimpleQueue[ExchangeJob | Callable[[], object] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="hailo-io", daemon=True)
        self._thread.start()

    def submit(self, plans: Sequence[FramePlan]) -> ExchangeJob:
        """Queue ``plans`` for the I/O thread; returns the job to ``wait`` on."""
        job = ExchangeJob(plans)
        self._q.put(job)
        return job

    def after_jobs(self, task: Callable[[], object]) -> None:
        """Run ``task`` on the I/O thread once the jobs queued so far are done (e.g. release
        the vstreams of a job that timed out: only the thread using them may close them).
        An exception of ``task`` is dropped: there is no caller left to tell."""
        self._q.put(task)

    def close(self, timeout: float | None = None) -> bool:
        """Finish the queued jobs, then stop the thread; wait at most ``timeout`` seconds
        (None: no limit). Returns whether the thread ended (False: it is blocked in a job)."""
        self._q.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while (job := self._q.get()) is not None:
            if not isinstance(job, ExchangeJob):
                try:
                    job()
                except Exception:  # noqa: BLE001 - see after_jobs
                    pass
                continue
            try:
                job.result = exchange_sync(job.plans, self.window)
            except BaseException as exc:  # a bug or a closed vstream: wait() re-raises it
                job.error = exc
            finally:
                job.done.set()


def window_for(queue_size: int) -> int:
    """Frames written ahead of reads in the synchronous schedule: the vstream queue size."""
    return max(1, int(queue_size))


__all__ = [
    "AsyncExchange",
    "CountDecoder",
    "ExchangeJob",
    "ExchangeResult",
    "FramePlan",
    "HailoResultError",
    "HailoWaitTimeout",
    "PARTITION_ERRORS",
    "PartitionStreams",
    "exchange_sync",
    "plan_frames",
    "window_for",
]
