"""One vdevice per device shared across brains, fallback per partition, several devices.

Against the libhailort stand-in (4.19 and 4.23), which gives a physical device to one vdevice at
a time (74 on a second), rejects its (Hailo-8) HEFs on devices listed in HAILORT_STANDIN_HAILO8L
and holds 32 network groups per vdevice. The bar is the engine's: rasters identical to the CPU
engine whatever runs where.
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hailo_partitions import export
from strategies import assert_same_run

from feagi_hailo_ros.engine.accel.hailo_devices import HailoDevices, hef_digest, spread
from feagi_hailo_ros.engine.accel.hailo_integrator import HailoFallbackWarning, HailoIntegrator
from feagi_hailo_ros.engine.accel.manifest import Manifest, ManifestError
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.hailo import HailoRT, HailoRTError

standin_conftest = importlib.import_module("hailo.conftest")
Standin = standin_conftest.Standin
standin = standin_conftest.standin

OBSTACLE_ON_HAILO = [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.fixture(params=standin_conftest.SUPPORTED)
def standin_version(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def rt(standin: Standin) -> HailoRT:
    return HailoRT(standin.path)


@pytest.fixture(scope="module")
def obstacle() -> Connectome:
    return load_brain("obstacle_avoidance")[0]


@pytest.fixture
def closing() -> Iterator[list]:
    """Things to close after the test, in reverse order (before the stand-in's leak checks)."""
    things: list = []
    yield things
    for t in reversed(things):
        t.close()


def engine_on(c: Connectome, integ: HailoIntegrator, closing: list) -> Engine:
    engine = Engine(c, "cpu", integrators={p: integ for p in OBSTACLE_ON_HAILO})
    closing.append(engine)
    return engine


def identical(c: Connectome, engine: Engine, bursts: int = 150, seed: int = 5) -> None:
    engine.reset()  # from rest, like the fresh CPU engine it is compared with
    fired = assert_same_run([Engine(c, "cpu"), engine], c, bursts, seed)
    assert fired > bursts  # active brain: the comparison means something


def per_partition_hefs(tmp_path: Path, c: Connectome) -> Path:
    """Stand-in HEFs ``part<k>.hef``, one per partition (as ``feagi-hailo export`` names them)."""
    return export(tmp_path, c, OBSTACLE_ON_HAILO, one_hef=False)


def creations(probe: Standin, what: str) -> int:
    return sum(1 for e in probe.events() if e.split(":")[0] == what)


# -- the stand-in's device rule ---------------------------------------------------------------


def test_a_device_serves_one_vdevice_at_a_time(rt, standin, monkeypatch) -> None:
    first = rt.create_vdevice()
    with pytest.raises(HailoRTError) as info:
        rt.create_vdevice()
    assert (info.value.code, info.value.name) == (74, "HAILO_OUT_OF_PHYSICAL_DEVICES")
    first.close()
    rt.create_vdevice().close()  # released: free again
    monkeypatch.setenv("HAILORT_STANDIN_DEVICES", "0000:01:00.0,0000:02:00.0")
    a = rt.create_vdevice(["0000:02:00.0"])
    b = rt.create_vdevice()  # the default takes the free one
    with pytest.raises(HailoRTError, match="74"):
        rt.create_vdevice(["0000:01:00.0"])
    with pytest.raises(HailoRTError, match="HAILO_INVALID_ARGUMENT"):
        rt.create_vdevice(["0000:09:00.0"])  # not present
    b.close()
    a.close()


# -- one vdevice for every brain of a node ----------------------------------------------------


def test_two_brains_share_the_vdevice_and_reuse_idle_network_groups(obstacle, rt, standin,
                                                                     tmp_path, closing) -> None:
    devices = HailoDevices(rt=rt)
    closing.append(devices)
    manifest = per_partition_hefs(tmp_path, obstacle)
    running = HailoIntegrator(manifest, devices=devices, required=True)
    engine_a = engine_on(obstacle, running, closing)
    # An upload builds the next brain while this one still runs: same device, no 74.
    upload = HailoIntegrator(manifest, devices=devices, required=True)
    engine_b = engine_on(obstacle, upload, closing)
    assert upload.degraded == {} and sorted(upload.on_device) == ["part0", "part1", "part2"]
    assert creations(standin, "create_vdevice") == 1
    # The running brain still holds its groups: the upload configured a second copy.
    assert creations(standin, "configure") == 6 and devices.configured_count(0) == 6
    identical(obstacle, engine_b)
    engine_a.close()  # the swap: the old brain's vstreams and HEFs go, the vdevice stays
    assert creations(standin, "release_vdevice") == 0
    identical(obstacle, engine_b)
    # A third brain with the same HEFs reuses the idle groups: nothing configured.
    third = HailoIntegrator(manifest, devices=devices, required=True)
    engine_c = engine_on(obstacle, third, closing)
    assert creations(standin, "configure") == 6 and all(lease.reused for lease in third._leases)
    identical(obstacle, engine_c)
    engine_b.close()
    engine_c.close()
    devices.close()
    assert creations(standin, "release_vdevice") == 1 and standin.live() == 0


def test_without_a_shared_pool_the_second_brain_finds_the_device_taken(obstacle, rt, standin,
                                                                        tmp_path, closing) -> None:
    """What the node did before: a vdevice per brain. On a real Hailo-8 the upload fell back."""
    manifest = per_partition_hefs(tmp_path, obstacle)
    engine_on(obstacle, HailoIntegrator(manifest, rt=rt), closing)
    second = HailoIntegrator(manifest, rt=rt)
    with pytest.warns(HailoFallbackWarning, match="HAILO_OUT_OF_PHYSICAL_DEVICES"):
        engine_on(obstacle, second, closing)
    assert second.available is False


def test_a_device_holds_32_network_groups(obstacle, rt, standin, tmp_path, closing) -> None:
    devices = HailoDevices(rt=rt)
    closing.append(devices)
    devices.open()
    path = per_partition_hefs(tmp_path, obstacle).parent / "part0.hef"
    hef = rt.hef_from_file(path)
    closing.append(hef)
    leases = [devices.acquire(0, hef, hef_digest(path), ["part0"]) for _ in range(32)]
    with pytest.raises(HailoRTError) as info:
        devices.acquire(0, hef, hef_digest(path), ["part0"])
    assert info.value.code == 6
    devices.release(leases[3])  # an idle one is reused: no new slot needed
    assert devices.acquire(0, hef, hef_digest(path), ["part0"]).reused


# -- fallback partition by partition ----------------------------------------------------------


def _without_hef(manifest: Path, name: str) -> None:
    m = Manifest.read(manifest)
    parts = tuple(dataclasses.replace(p, files={k: v for k, v in p.files.items() if k != "hef"})
                  if p.name == name else p for p in m.partitions)
    dataclasses.replace(m, partitions=parts).write(manifest)


def _hef(manifest: Path, name: str) -> Path:
    return manifest.parent / f"{name}.hef"


BROKEN = {  # how part1's HEF is broken -> what the reason says
    "not listed": (lambda m: _without_hef(m, "part1"), "lists no HEF"),
    "missing": (lambda m: _hef(m, "part1").unlink(), "does not exist"),
    "a directory": (lambda m: (_hef(m, "part1").unlink(), _hef(m, "part1").mkdir()),
                    "is not a file"),
    "not a HEF": (lambda m: _hef(m, "part1").write_bytes(b"garbage, not a HEF"),
                  "cannot load HEF"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_hef_moves_only_its_partition_to_the_cpu(case, obstacle, rt, standin, tmp_path,
                                                          closing) -> None:
    manifest = per_partition_hefs(tmp_path, obstacle)
    breaks, reason = BROKEN[case]
    breaks(manifest)
    integ = HailoIntegrator(manifest, rt=rt)
    with pytest.warns(HailoFallbackWarning, match=f"partition 'part1': .*{reason}"):
        engine = engine_on(obstacle, integ, closing)
    assert list(integ.degraded) == ["part1"] and reason in integ.degraded["part1"]
    assert sorted(integ.on_device) == ["part0", "part2"] and integ.available is True
    identical(obstacle, engine)
    assert integ.stats()["frames"] > 0  # the others did run on the device


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_hef_is_refused_when_the_device_is_required(case, obstacle, rt, standin,
                                                             tmp_path, closing) -> None:
    manifest = per_partition_hefs(tmp_path, obstacle)
    breaks, reason = BROKEN[case]
    breaks(manifest)
    integ = HailoIntegrator(manifest, rt=rt, required=True)
    closing.append(integ)
    with pytest.raises(ManifestError, match=f"part1.*{reason}"):
        integ.prepare(obstacle, OBSTACLE_ON_HAILO)
    assert standin.live() == 0  # nothing left open by the refusal


def test_a_hef_for_another_architecture_falls_back(obstacle, rt, standin, standin_version,
                                                   tmp_path, closing, monkeypatch) -> None:
    monkeypatch.setenv("HAILORT_STANDIN_HAILO8L", "0000:01:00.0")  # the one device is a Hailo-8L
    integ = HailoIntegrator(per_partition_hefs(tmp_path, obstacle), rt=rt)
    with pytest.warns(HailoFallbackWarning, match="refused HEF"):
        engine = engine_on(obstacle, integ, closing)
    code = "93 HAILO_HEF_NOT_COMPATIBLE_WITH_DEVICE" if standin_version >= "4.21" else \
        "26 HAILO_INVALID_HEF"
    assert sorted(integ.degraded) == ["part0", "part1", "part2"]
    assert all(code in why for why in integ.degraded.values())
    identical(obstacle, engine)
    engine.close()  # frees the device for the next one
    required = HailoIntegrator(per_partition_hefs(tmp_path / "r", obstacle), rt=rt, required=True)
    closing.append(required)
    with pytest.raises(ManifestError, match="refused HEF") as info:
        required.prepare(obstacle, OBSTACLE_ON_HAILO)
    assert isinstance(info.value.__cause__, HailoRTError)


# -- several devices --------------------------------------------------------------------------


def test_spread_balances_estimated_cost() -> None:
    assert spread({"a": 10, "b": 7, "c": 5, "d": 4}, 2) == {"a": 0, "b": 1, "c": 1, "d": 0}
    assert spread({"a": 1, "b": 1}, 3) == {"a": 0, "b": 1}  # ties: by name, lowest device
    assert spread({"a": 3}, 1) == {"a": 0}


TWO = "0000:01:00.0,0000:02:00.0"


def test_partitions_spread_over_two_devices(obstacle, rt, standin, tmp_path, closing,
                                             monkeypatch) -> None:
    monkeypatch.setenv("HAILORT_STANDIN_DEVICES", TWO)
    manifest = per_partition_hefs(tmp_path, obstacle)
    integ = HailoIntegrator(manifest, rt=rt, device_count=2, required=True)
    engine = engine_on(obstacle, integ, closing)
    costs = {p.name: p.weight_count for p in Manifest.read(manifest).partitions}
    assert integ.device_of == spread(costs, 2) and set(integ.device_of.values()) == {0, 1}
    assert creations(standin, "create_vdevice") == 2
    assert sorted(integ._async) == []  # no burst yet: the I/O threads start with the first
    identical(obstacle, engine)
    assert sorted(integ._async) == [0, 1]  # one I/O thread per device
    assert integ.degraded == {}


def test_fallback_is_per_device(obstacle, rt, standin, standin_version, tmp_path, closing,
                                monkeypatch) -> None:
    monkeypatch.setenv("HAILORT_STANDIN_DEVICES", TWO)
    monkeypatch.setenv("HAILORT_STANDIN_HAILO8L", "0000:02:00.0")
    integ = HailoIntegrator(per_partition_hefs(tmp_path, obstacle), rt=rt, device_count=2)
    with pytest.warns(HailoFallbackWarning, match=r"hailo1 \(0000:02:00.0\) refused"):
        engine = engine_on(obstacle, integ, closing)
    on_second = sorted(n for n, d in integ.device_of.items() if d == 1)
    assert on_second and sorted(integ.degraded) == on_second
    assert sorted(integ.on_device) == sorted(n for n, d in integ.device_of.items() if d == 0)
    identical(obstacle, engine)


def test_a_device_missing_from_the_scan_falls_back(obstacle, rt, standin, tmp_path, closing,
                                                   monkeypatch) -> None:
    monkeypatch.setenv("HAILORT_STANDIN_DEVICES", TWO)
    integ = HailoIntegrator(per_partition_hefs(tmp_path, obstacle), rt=rt, device_count=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HailoFallbackWarning)
        engine = engine_on(obstacle, integ, closing)
    on_third = sorted(n for n, d in integ.device_of.items() if d == 2)
    assert on_third and sorted(integ.degraded) == on_third
    assert all("only 2 Hailo device(s) present" in integ.degraded[n] for n in on_third)
    identical(obstacle, engine)


def test_device_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HailoDevices(device_count=0)
