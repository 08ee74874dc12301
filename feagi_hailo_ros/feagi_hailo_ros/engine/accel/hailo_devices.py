"""The Hailo devices a node holds for its whole life: one vdevice per physical device.

HailoRT gives a physical device to one vdevice at a time: a second ``hailo_create_vdevice``
while the first lives returns 74 ``HAILO_OUT_OF_PHYSICAL_DEVICES`` (DESIGN §6, vdevice.cpp).
So a node that swaps brains (``~/upload``) must not open a vdevice per brain: the brain being
built would find the device taken by the brain still running. :class:`HailoDevices` opens each
device once and every :class:`~.hailo_integrator.HailoIntegrator` of the node configures its
HEFs on those vdevices; HailoRT's model scheduler time-shares the network groups configured on
one vdevice, so the running brain keeps bursting while the next one is configured beside it.

The C API has no call that releases a configured network group: ``hailo_configure_vdevice``
keeps every group alive in the vdevice's scope until ``hailo_release_vdevice`` (hailort.cpp,
4.17-4.23), and one device holds at most 32 (``CONTROL_PROTOCOL__MAX_CONTEXT_SWITCH_APPLICATIONS``;
one more is 6 ``HAILO_INVALID_OPERATION``). "Releasing" the old brain's network groups therefore
means releasing their vstreams and HEFs and returning the groups to this pool, which hands an
idle group to a later brain whose HEF has the same content (SHA-256) instead of configuring it
again. Uploading the same brain again and again costs no device slot; each brain with new HEFs
costs its network groups until the node cleans up (``on_cleanup`` releases the vdevices).

Several devices (``device_count > 1``): the first ``device_count`` ids of
``hailo_scan_devices``, each with a vdevice of its own (``device_ids`` = that one id). A device
that cannot be opened is recorded with the reason; the integrator runs the partitions placed
on it on the CPU (fallback per device). With ``device_count == 1`` the vdevice is HailoRT's
default (it picks the free device).

Thread safety: every method takes the pool's lock; the pool is shared by the running brain's
integrator and the one an upload prepares.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ...hailo import ConfiguredNetworkGroup, HailoRT, HailoRTError, HailoRTUnavailable, Hef, VDevice


class HailoDeviceUnavailable(HailoRTUnavailable):
    """libhailort loaded but no Hailo device could be opened (``hailo_create_vdevice`` failed).

    ``code``/``name`` are the HailoRT status (e.g. 74 ``HAILO_OUT_OF_PHYSICAL_DEVICES``). The
    library loaded fine, so the message carries no install help (``help`` stays empty).
    """

    def __init__(self, error: HailoRTError, devices: list[str] | None) -> None:
        self.code = error.code
        self.name = error.name
        seen = ("hailo_scan_devices found no device" if devices == []
                else f"hailo_scan_devices found {devices}" if devices else "")
        super().__init__(f"no usable Hailo device: {error}" + (f" ({seen})" if seen else ""))


@dataclass
class DeviceSlot:
    """One physical device of the pool: its vdevice, or why it could not be opened."""

    index: int
    #: The device id (PCIe BDF) when the pool chose it; "" for HailoRT's default choice.
    device_id: str
    vdevice: VDevice | None = None
    #: Why the device is not usable ("" when it is open).
    problem: str = ""

    @property
    def label(self) -> str:
        """``hailo0`` (``hailo0 (0000:01:00.0)`` when the id is known), for messages."""
        return f"hailo{self.index}" + (f" ({self.device_id})" if self.device_id else "")


@dataclass
class _Configured:
    """The network groups one HEF content configured on one device, and who uses them."""

    digest: str
    groups: dict[str, ConfiguredNetworkGroup]
    in_use: bool = False


@dataclass
class Lease:
    """Network groups an integrator took from the pool (give them back with ``release``)."""

    device: int
    groups: dict[str, ConfiguredNetworkGroup]
    entry: _Configured = field(repr=False)
    reused: bool = False


def hef_digest(path: Path) -> str:
    """SHA-256 of a HEF file's bytes (which network groups a configured copy can stand for);
    ``OSError`` when it cannot be read."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class HailoDevices:
    """Library and vdevices shared by every Hailo integrator of one node (module docstring).

    ``lib_path``/``rt``: the library to load (or an already loaded one); ``device_count``: how
    many physical devices to use (>= 1; ``ValueError`` otherwise). Nothing is opened before
    :meth:`open`.
    """

    def __init__(self, *, lib_path: str | os.PathLike[str] | None = None, rt: HailoRT | None = None,
                 device_count: int = 1) -> None:
        if int(device_count) < 1:
            raise ValueError(f"device_count must be at least 1, got {device_count!r}")
        self.lib_path = lib_path
        self.device_count = int(device_count)
        self._rt = rt
        self._lock = threading.RLock()
        self.slots: list[DeviceSlot] = []
        self._configured: list[list[_Configured]] = []
        self._opened = False
        self._closed = False

    @property
    def rt(self) -> HailoRT:
        """The loaded library (after a successful :meth:`open`)."""
        if self._rt is None:
            raise RuntimeError("HailoDevices.open() has not loaded libhailort")
        return self._rt

    def open(self) -> None:
        """Load libhailort and open the devices, once; later calls return at once.

        Raises :class:`~feagi_hailo_ros.hailo.HailoRTUnavailable` (library missing or of an
        unsupported version) or :class:`HailoDeviceUnavailable` when *no* device could be
        opened; a pool of several devices records the ones that failed in ``slots`` instead.
        A failure is not cached: the next call tries again (a device freed meanwhile is found).
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the Hailo device pool was closed")
            if self._opened:
                return
            rt = self._rt if self._rt is not None else HailoRT(self.lib_path)
            self._rt = rt
            ids = [""] if self.device_count == 1 else self._scan(rt)[: self.device_count]
            slots = [DeviceSlot(i, d) for i, d in enumerate(ids)]
            while len(slots) < self.device_count:  # asked for more than are present
                slots.append(DeviceSlot(len(slots), "", problem=(
                    f"only {len(ids)} Hailo device(s) present (hailo_scan_devices: {ids})")))
            first_error: HailoRTError | None = None
            for slot in slots:
                if slot.problem:
                    continue
                try:
                    slot.vdevice = rt.create_vdevice([slot.device_id] if slot.device_id else None)
                except HailoRTError as exc:
                    first_error = first_error or exc
                    slot.problem = f"cannot open it: {exc}"
            if all(s.vdevice is None for s in slots):
                if first_error is None:  # none present at all
                    first_error = HailoRTError(74, "HAILO_OUT_OF_PHYSICAL_DEVICES",
                                               "hailo_scan_devices", "no device present")
                devices = None
                try:
                    devices = rt.scan_devices()  # for the message only
                except HailoRTError:
                    pass
                raise HailoDeviceUnavailable(first_error, devices)
            self.slots = slots
            self._configured = [[] for _ in slots]
            self._opened = True

    @staticmethod
    def _scan(rt: HailoRT) -> list[str]:
        try:
            return rt.scan_devices()
        except HailoRTError as exc:
            raise HailoDeviceUnavailable(exc, None) from exc

    def slot(self, index: int) -> DeviceSlot:
        """Device ``index`` of an opened pool (``IndexError`` beyond ``device_count``)."""
        return self.slots[index]

    def acquire(self, device: int, hef: Hef, digest: str, names: list[str]) -> Lease:
        """Network groups ``names`` of ``hef`` on ``device``, configured or reused.

        An idle configured copy of the same HEF content (``digest``) is reused; otherwise the
        HEF is configured on the device's vdevice. Raises HailoRTError from configuring (e.g.
        26/93 for a HEF of another architecture, 6 when the device holds 32 network groups),
        KeyError when the HEF lacks one of ``names``, RuntimeError for a device not open.
        """
        with self._lock:
            slot = self.slots[device]
            if slot.vdevice is None:
                raise RuntimeError(f"Hailo device {slot.label} is not open: {slot.problem}")
            for entry in self._configured[device]:
                if entry.digest == digest and not entry.in_use and set(names) <= set(entry.groups):
                    entry.in_use = True
                    return Lease(device, {n: entry.groups[n] for n in names}, entry, reused=True)
            groups = {g.name: g for g in slot.vdevice.configure(hef)}
            entry = _Configured(digest, groups, in_use=True)
            self._configured[device].append(entry)
            missing = [n for n in names if n not in groups]
            if missing:
                entry.in_use = False
                raise KeyError(f"network group(s) {missing} not configured from {hef.source}")
            return Lease(device, {n: groups[n] for n in names}, entry)

    def release(self, lease: Lease) -> None:
        """Give a lease's network groups back (their vstreams must be released already)."""
        with self._lock:
            lease.entry.in_use = False

    def configured_count(self, device: int) -> int:
        """Network groups configured on ``device`` so far (they live until :meth:`close`)."""
        with self._lock:
            return sum(len(e.groups) for e in self._configured[device]) if self._configured else 0

    def close(self) -> None:
        """Release every vdevice (and so every network group configured on it). Idempotent;
        the first release error is raised after all were released."""
        with self._lock:
            slots, self.slots, self._configured = self.slots, [], []
            self._opened = False
            self._closed = True
        first: Exception | None = None
        for slot in slots:
            if slot.vdevice is not None:
                try:
                    slot.vdevice.close()
                except Exception as exc:
                    first = first or exc
        if first is not None:
            raise first


def spread(costs: dict[str, int], device_count: int) -> dict[str, int]:
    """Device index of each partition: longest-processing-time-first over ``device_count``.

    ``costs`` is partition name -> estimated cost (the manifest's ``weight_count``: the
    multiply-accumulates of one frame). Partitions go in order of decreasing cost (ties by
    name) to the device with the least cost so far (ties: the lowest index). Deterministic, so
    the same manifest always gets the same placement.
    """
    load = [0] * max(1, device_count)
    out: dict[str, int] = {}
    for name in sorted(costs, key=lambda n: (-costs[n], n)):
        d = min(range(len(load)), key=lambda i: (load[i], i))
        out[name] = d
        load[d] += int(costs[name])
    return out


__all__ = ["DeviceSlot", "HailoDeviceUnavailable", "HailoDevices", "Lease", "hef_digest", "spread"]
