"""The Hailo integrator through the ctypes binding against the libhailort stand-in (4.19, 4.23).

The bar is the engine's: spike rasters and neuron states identical, burst by burst, to the pure
CPU engine, also when a partition fails mid-run or the device is missing. Wrong HEFs are refused
before the first burst, and every object is released (the `standin` fixture of test/hailo
checks live handles, misuse and release order on teardown).
"""

from __future__ import annotations

import dataclasses
import importlib
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hailo_partitions import (
    build_partitions,
    export,
    hf,
    replace_input,
    replace_output,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import area, assert_same_run, brain, connectomes, proj

from feagi_hailo_ros.engine.accel.hailo_checks import (
    BY_ORIGINAL_NAME,
    HailoPartitionMismatch,
    check_hef_vstreams,
)
from feagi_hailo_ros.engine.accel.hailo_integrator import (
    HailoDeviceUnavailable,
    HailoFallbackWarning,
    HailoIntegrator,
)
from feagi_hailo_ros.engine.accel.hailo_io import PartitionStreams
from feagi_hailo_ros.engine.accel.manifest import Manifest, ManifestError
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator
from feagi_hailo_ros.engine.accel.quantization import CountDecoder, HailoResultError
from feagi_hailo_ros.engine.core.connectome import Connectome, Projection
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.core.integrator import Integrator, integrability
from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.hailo import HailoRT, HailoRTError, HailoRTNotFound, HailoRTUnavailable
from feagi_hailo_ros.hailo.status import status_name

# The stand-in probe and the `standin` fixture, whose teardown checks that every handle was
# released, none was used after release, and no vdevice was released under live vstreams.
# (test/hailo is importable as the package `hailo` once hailo_partitions is imported.)
standin_conftest = importlib.import_module("hailo.conftest")
SUPPORTED = standin_conftest.SUPPORTED
Standin = standin_conftest.Standin
standin = standin_conftest.standin

OBSTACLE_ON_HAILO = [1, 2, 3, 4, 5, 6, 7, 8]  # all but the power area's projection


@pytest.fixture(params=SUPPORTED)
def standin_version(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def rt(standin: Standin) -> HailoRT:
    return HailoRT(standin.path)


@pytest.fixture
def hailo(rt: HailoRT) -> Iterator[Callable[..., HailoIntegrator]]:
    """``hailo(manifest, **options)``: a HailoIntegrator on the stand-in, closed after the test
    (before the `standin` teardown checks), so a failing test does not leak into the next."""
    made: list[HailoIntegrator] = []

    def make(manifest: Manifest | Path, **options: object) -> HailoIntegrator:
        integ = HailoIntegrator(manifest, rt=rt, **options)
        made.append(integ)
        return integ

    yield make
    for integ in made:
        integ.close()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240607)


@pytest.fixture(scope="module")
def obstacle() -> Connectome:
    connectome, _ = load_brain("obstacle_avoidance")
    return connectome


def hailo_engine(connectome: Connectome, integ: HailoIntegrator,
                 projections: list[int]) -> Engine:
    return Engine(connectome, "cpu", integrators={p: integ for p in projections})


def run_identical(connectome: Connectome, integ: HailoIntegrator, projections: list[int],
                  bursts: int, seed: int = 7) -> Engine:
    """Run CPU-only and Hailo engines side by side; assert identical rasters and states."""
    cpu = Engine(connectome, "cpu")
    hailo = hailo_engine(connectome, integ, projections)
    fired = assert_same_run([cpu, hailo], connectome, bursts, seed)
    assert fired > bursts  # the brain was active, so the comparison means something
    return hailo


# -- exact rasters ------------------------------------------------------------------------------


def test_obstacle_avoidance_raster_identical(obstacle, hailo, standin, tmp_path) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO)
    integ = hailo(manifest)
    assert isinstance(integ, Integrator)
    engine = run_identical(obstacle, integ, OBSTACLE_ON_HAILO, 500)
    stats = integ.stats()
    assert integ.available is True and integ.degraded == {}
    assert sorted(stats["on_device"]) == ["part0", "part1", "part2"]
    assert stats["fallback_bursts"] == 0
    assert stats["frames"] >= stats["bursts"] > 400  # every burst went through the device
    assert set(stats["us_per_burst"]) >= {"write", "read", "dequantize", "total"}
    assert standin.live() > 0
    engine.close()
    assert standin.live() == 0


def test_spikes_are_encoded_with_the_input_quantization(obstacle, hailo, standin, tmp_path) -> None:
    # Hailo's compiler calibrates a 0/1 input to [0, 1] over 8 bits: scale 1/255, so a spike
    # is raw 255. Written as raw 1 it would count 1/255 and every count would round to 0.
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO,
                      edit=lambda part, spec: replace_input(spec, qp_scale=1.0 / 255.0))
    integ = hailo(manifest)
    run_identical(obstacle, integ, OBSTACLE_ON_HAILO, 200)
    assert integ.degraded == {} and integ.available is True


def test_input_quantization_that_cannot_hold_a_spike_is_refused(obstacle, hailo, standin,
                                                                 tmp_path) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO,
                      edit=lambda part, spec: replace_input(spec, qp_scale=0.3))
    with pytest.raises(HailoPartitionMismatch, match="input quantization"):
        hailo_engine(obstacle, hailo(manifest), OBSTACLE_ON_HAILO)
    assert standin.live() == 0


def nonuniform_brain(seed: int = 5) -> Connectome:
    """Fan-in > 255 (UINT16 outputs), a conv partition, two projections sharing a partition, a
    delay of 3. (Divided and membrane-driven PSP sources cannot be integrated exactly under
    float32 summation: ``core.integrator.integrability``; test_engine covers that refusal.)"""
    rng = np.random.default_rng(seed)
    src = area(dims=(12, 12, 2), threshold=1.0, psp=6, leak=0.5, refractory=1, cid="src")
    mem = area(dims=(3, 3, 1), npv=2, threshold=1.0, psp=3, cid="mem")
    mid = area(dims=(4, 2, 1), threshold=900.0, leak=0.25, cid="mid")
    out = area(dims=(2, 1, 1), threshold=40.0, cid="out")
    n_src, n_mid = src.neuron_count, mid.neuron_count
    # src -> mid: dense and random (about 200 of 288 sources per target: fan-in > 255 for none,
    # so make two targets listen to every source).
    keep = rng.random((n_mid, n_src)) < 0.7
    keep[:2] = True
    post, pre = np.nonzero(keep)
    # src -> src: a translation-invariant 3x3 neighbourhood on z=0 -> z=1 (a conv layer).
    lat_pre, lat_post = [], []
    for x in range(12):
        for y in range(12):
            for ox in (-1, 0, 1):
                for oy in (-1, 0, 1):
                    if 0 <= x + ox < 12 and 0 <= y + oy < 12 and (ox, oy) != (0, 0):
                        lat_pre.append(((x + ox) * 12 + y + oy) * 2)
                        lat_post.append((x * 12 + y) * 2 + 1)
    projections = [
        proj(0, 0, 2, pre, post, weight=2.0, delay=1),
        proj(1, 0, 2, pre[::3], post[::3], weight=2.0, delay=1),  # same sources as 0
        proj(2, 0, 0, lat_pre, lat_post, weight=1.0, delay=2),
        proj(3, 1, 3, np.arange(18), np.arange(18) % 2, weight=0.5, delay=1),
        proj(4, 2, 3, np.arange(8), np.arange(8) % 2, weight=1.0, delay=3),
        proj(5, 1, 2, rng.integers(0, 18, 30), rng.integers(0, 8, 30), weight=1.0, delay=1),
    ]
    return brain([src, mem, mid, out], projections)


NONUNIFORM_ON_HAILO = [0, 1, 2, 3, 4]  # 5 stays on the CPU


def test_uint16_and_conv_raster_identical(hailo, standin, tmp_path) -> None:
    c = nonuniform_brain()
    parts = {p.name: p for p in build_partitions(c, NONUNIFORM_ON_HAILO)}
    assert {p.layout for p in parts.values()} == {"conv", "gemm"}
    assert {o.dtype for p in parts.values() for o in p.outputs} == {"uint8", "uint16"}
    integ = hailo(export(tmp_path, c, NONUNIFORM_ON_HAILO), queue_size=1)
    engine = run_identical(c, integ, NONUNIFORM_ON_HAILO, 500, seed=11)
    stats = integ.stats()
    assert stats["fallback_bursts"] == 0 and integ.degraded == {}
    # Divided PSP splits the sources into many rows: several frames per exchange, beyond the
    # write-ahead window of 1 frame. (The engine sends the delay-2/3 projections a burst ahead,
    # core/pipeline.py, so each burst is two exchanges.)
    assert stats["frames"] > 1.5 * stats["bursts"]
    engine.close()


def _dedupe(c: Connectome) -> Connectome:
    """The same brain with each (pre, post) pair once (0/1 weights cannot count a pair twice)."""
    projections = []
    for p in c.projections:
        n_src = c.areas[p.src_area].neuron_count
        _, first = np.unique(p.post * n_src + p.pre, return_index=True)
        first.sort()
        weights = None if p.weights is None else p.weights[first]
        projections.append(dataclasses.replace(p, pre=p.pre[first], post=p.post[first],
                                               weights=weights))
    return dataclasses.replace(c, projections=projections)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(connectome=connectomes(), drive_seed=st.integers(0, 2**31), data=st.data())
def test_random_brains_raster_identical(hailo, connectome, drive_seed, data) -> None:
    c = _dedupe(connectome)
    reasons = integrability(c)
    eligible = [p for p in range(len(c.projections)) if reasons[p] is None]
    chosen = data.draw(st.lists(st.sampled_from(eligible), unique=True, min_size=1)
                       if eligible else st.just([]))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        integ = hailo(export(tmp, c, chosen)) if chosen else None
        engines = [Engine(c, "cpu"),
                   Engine(c, "cpu", integrators={p: integ for p in chosen})]  # fmt: skip
        try:
            assert_same_run(engines, c, 120, drive_seed)
            if integ is not None:
                assert integ.degraded == {}
        finally:
            engines[1].close()


# -- refusing wrong HEFs before any burst -------------------------------------------------------


def _wrong_output_shape(part, spec):  # one extra destination neuron
    w = spec.outputs[0].model.weights
    return replace_output(spec, model=hf.Dense(np.vstack([w, w[:1]])))


def _wrong_input_shape(part, spec):  # a model for a source with one more neuron
    n = spec.inputs[0].shape[2] + 1
    outs = [dataclasses.replace(o, model=hf.Dense(np.pad(o.model.weights, ((0, 0), (0, 1)))))
            for o in spec.outputs]
    return dataclasses.replace(replace_input(spec, shape=(1, 1, n)), outputs=outs)


def _unnamed_wrong_output_shape(part, spec):  # no name ties it, and no shape fits
    return replace_output(_wrong_output_shape(part, spec), original_names=("something_else",))


def _unnamed_wrong_input_shape(part, spec):
    return replace_input(_wrong_input_shape(part, spec), original_names=())


MISMATCHES = {
    # the compiler's vstream names never need to equal the manifest's: only when neither an
    # original name nor a fitting shape ties a vstream to the manifest is the HEF refused
    "input name and shape": (_unnamed_wrong_input_shape,
                             r"input vstreams \(by name, original name, then shape and order\)"),
    "output name and shape": (_unnamed_wrong_output_shape,
                              r"output vstreams \(by name, original name, then shape and order\)"),
    "output shape": (_wrong_output_shape,
                     r"'part1/fc1': shape \(h, w, c\): expected \(10,\), found \(1, 1, 11\)"),
    "input shape": (_wrong_input_shape,
                    r"'part1/input_layer1': shape \(h, w, c\): expected \(10,\), found \(1, 1, 11\)"),
    "output format": (lambda part, spec: replace_output(spec, native_type=hf.UINT16),
                      "native format type: expected UINT8, found UINT16"),
    "network group": (lambda part, spec: dataclasses.replace(spec, name=part.name + "x"),
                      "network group"),
    "count range": (lambda part, spec: replace_output(spec, qp_zp=250.0), "saturation"),
    "extra output": (lambda part, spec: dataclasses.replace(
        spec, outputs=[*spec.outputs, dataclasses.replace(spec.outputs[0], name="part1/fc9",
                                                          original_names=())]),
        "output vstreams"),
    "original name twice": (lambda part, spec: dataclasses.replace(
        spec, outputs=[*spec.outputs, dataclasses.replace(spec.outputs[0], name="part1/fc9")]),
        "the name matches several"),
}


@pytest.mark.parametrize("kind", sorted(MISMATCHES))
def test_mismatching_hef_is_refused_before_configuring(obstacle, hailo, standin, tmp_path,
                                                       kind) -> None:
    edit, message = MISMATCHES[kind]

    def edit_part1(part, spec):
        return edit(part, spec) if part.name == "part1" else spec

    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, edit=edit_part1)
    integ = hailo(manifest)
    with pytest.raises(HailoPartitionMismatch, match=message) as info:
        hailo_engine(obstacle, integ, OBSTACLE_ON_HAILO)
    err = info.value
    assert err.partition == "part1" and "'part1'" in str(err)
    assert "expected" in str(err) and "found" in str(err)
    assert isinstance(err, ManifestError)
    # HEF vstream infos are checked before anything is configured on the device.
    assert not [e for e in standin.events() if e.startswith("configure")]
    assert standin.live() == 0  # the vdevice and HEF were released on the way out


def test_mismatch_message_names_both_sides(obstacle, hailo, standin, tmp_path) -> None:
    """Nothing ties a manifest output to the HEF: the error lists the manifest's names and
    shapes and the HEF's vstream names with their original names and shapes."""
    def edit(part, spec):
        return _unnamed_wrong_output_shape(part, spec) if part.name == "part1" else spec

    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, edit=edit)
    with pytest.raises(HailoPartitionMismatch) as info:
        hailo_engine(obstacle, hailo(manifest), OBSTACLE_ON_HAILO)
    text = str(info.value)
    assert info.value.vstream == "part1_p4"
    for manifest_side in ("part1_p4 (shape (10,))", "part1_p5 (shape (40,))"):
        assert manifest_side in text
    assert "part1/fc1 (original names ['something_else'], shape (1, 1, 11))" in text
    assert "part1/fc2 (original names ['part1_p5'], shape (1, 1, 40))" in text


def _reverse_outputs(part, spec):  # the compiler may list outputs in any order
    return dataclasses.replace(spec, outputs=list(reversed(spec.outputs)))


def _strip_original_names(part, spec):  # a HEF that kept no ONNX names
    return dataclasses.replace(
        spec, inputs=[dataclasses.replace(i, original_names=()) for i in spec.inputs],
        outputs=[dataclasses.replace(o, original_names=()) for o in spec.outputs])


def test_original_names_beat_order(obstacle, hailo, standin, tmp_path) -> None:
    """HEF outputs in reverse order, two of the same shape in part0 and part2: bound by their
    original (ONNX) names the rasters stay identical (paired by order they would swap)."""
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, edit=_reverse_outputs)
    integ = hailo(manifest)
    run_identical(obstacle, integ, OBSTACLE_ON_HAILO, 300).close()
    assert integ.degraded == {}
    with integ.devices.rt.hef_from_file(tmp_path / "partitions.hef") as hef:
        rp = integ._parts["part0"]
        binding = check_hef_vstreams(rp, hef)
    assert binding.input == "part0/input_layer1"
    # the HEF lists fc3, fc2, fc1; by order p2 would take fc3 (the first 40-wide output)
    assert dict(binding.outputs) == {"part0_p1": "part0/fc1", "part0_p2": "part0/fc2",
                                     "part0_p3": "part0/fc3"}
    assert set(binding.how.values()) == {BY_ORIGINAL_NAME} and binding.by_shape() == []


def test_without_original_names_shape_and_order_decide(obstacle, hailo, standin, tmp_path) -> None:
    """A HEF without original names is matched by shape, then order, and still runs exactly."""
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, edit=_strip_original_names)
    integ = hailo(manifest)
    engine = run_identical(obstacle, integ, OBSTACLE_ON_HAILO, 300)
    assert integ.degraded == {} and sorted(integ.on_device) == ["part0", "part1", "part2"]
    engine.close()
    with integ.devices.rt.hef_from_file(tmp_path / "partitions.hef") as hef:
        binding = check_hef_vstreams(integ._parts["part2"], hef)
    assert dict(binding.outputs) == {"part2_p7": "part2/fc1", "part2_p8": "part2/fc2"}
    assert binding.by_shape() == ["spikes", "part2_p7", "part2_p8"]


def test_wrong_host_format_is_refused_after_creating_vstreams(obstacle, hailo, standin, tmp_path,
                                                              monkeypatch) -> None:
    """The created vstreams are checked too (here the binding is made to ask for UINT8)."""
    from feagi_hailo_ros.engine.accel import hailo_integrator as module

    def uint16(p, s):
        return replace_output(s, native_type=hf.UINT16) if p.name == "part0" else s

    # part0's first output is UINT16 in both manifest and HEF (so the HEF checks pass) ...
    m = Manifest.read(export(tmp_path, obstacle, OBSTACLE_ON_HAILO, edit=uint16))
    part = m.partitions[0]
    outs = (dataclasses.replace(part.outputs[0], dtype="uint16"), *part.outputs[1:])
    m = dataclasses.replace(m, partitions=(dataclasses.replace(part, outputs=outs),
                                           *m.partitions[1:]))
    # ... but the vstreams are created with a UINT8 host format.
    monkeypatch.setattr(module, "DTYPES", dict(module.DTYPES, uint16=(module.FormatType.UINT8, 65535)))
    integ = hailo(m, base_dir=tmp_path)
    with pytest.raises(HailoPartitionMismatch, match="host frame") as info:
        hailo_engine(obstacle, integ, OBSTACLE_ON_HAILO)
    assert info.value.partition == "part0"
    assert standin.live() == 0


def test_checksum_and_manifest_mismatch_refused(obstacle, hailo, standin, tmp_path) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, checksum="0" * 64)
    with pytest.raises(ManifestError, match="checksum .* differs") as info:
        hailo_engine(obstacle, hailo(manifest), OBSTACLE_ON_HAILO)
    assert obstacle.source_checksum in str(info.value)
    manifest = export(tmp_path, obstacle, [1, 2])
    with pytest.raises(ManifestError, match=r"no partition .* projection\(s\) \[7\]"):
        hailo_engine(obstacle, hailo(manifest), [1, 2, 7])
    m = Manifest.read(manifest)
    later = dataclasses.replace(m.partitions[0], delay=2)
    with pytest.raises(ManifestError, match="delay 2, but projection 1 has delay 1"):
        hailo_engine(obstacle, hailo(dataclasses.replace(m, partitions=(later,)),
                                     base_dir=tmp_path), [1, 2])
    assert not [e for e in standin.events() if e.startswith("create")]  # not even a vdevice


def test_missing_and_corrupt_hef_refused_when_required(obstacle, hailo, standin, standin_version,
                                                       tmp_path) -> None:
    # Without hailo_required these fall back per partition: test_hailo_devices.py.
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO)
    hef = tmp_path / "partitions.hef"
    hef.write_bytes(b"not a hef at all")
    with pytest.raises(ManifestError, match="cannot load HEF") as info:
        hailo_engine(obstacle, hailo(manifest, required=True), OBSTACLE_ON_HAILO)
    code = 92 if standin_version >= "4.21" else 26
    assert isinstance(info.value.__cause__, HailoRTError) and info.value.__cause__.code == code
    hef.unlink()
    with pytest.raises(ManifestError, match="does not exist"):
        hailo_engine(obstacle, hailo(manifest, required=True), OBSTACLE_ON_HAILO)
    assert standin.live() == 0


# -- failures mid-run ---------------------------------------------------------------------------


def test_device_error_falls_back_in_the_same_burst(obstacle, hailo, standin, tmp_path) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, fail={"part2": (60, 8)})
    integ = hailo(manifest)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine = run_identical(obstacle, integ, OBSTACLE_ON_HAILO, 500)
    ours = [w for w in caught if issubclass(w.category, HailoFallbackWarning)]
    assert len(ours) == 1
    assert "part2" in str(ours[0].message) and "HAILO_INTERNAL_FAILURE" in str(ours[0].message)
    assert list(integ.degraded) == ["part2"]
    assert "HAILO_INTERNAL_FAILURE" in integ.degraded["part2"]
    assert sorted(integ.on_device) == ["part0", "part1"]
    stats = integ.stats()
    assert stats["fallbacks"] == 1 and stats["fallback_bursts"] > 400
    engine.close()


def test_device_error_mid_burst_with_many_frames(hailo, standin, tmp_path) -> None:
    """The failure hits between frames of one burst (several rows per burst)."""
    c = nonuniform_brain()
    manifest = export(tmp_path, c, NONUNIFORM_ON_HAILO, fail={"part0": (37, 36)})
    integ = hailo(manifest, queue_size=2)
    with pytest.warns(HailoFallbackWarning, match="part0"):
        engine = run_identical(c, integ, NONUNIFORM_ON_HAILO, 200, seed=3)
    assert list(integ.degraded) == ["part0"]
    engine.close()


def test_device_error_with_raise(obstacle, hailo, standin, standin_version, tmp_path) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, fail={"part1": (20, 36)})
    integ = hailo(manifest, on_error="raise")
    engine = hailo_engine(obstacle, integ, OBSTACLE_ON_HAILO)
    expected = status_name(36, tuple(map(int, standin_version.split("."))))
    assert expected == ("HAILO_DRIVER_FAIL" if standin_version == "4.19"
                        else "HAILO_DRIVER_OPERATION_FAILED")  # fmt: skip
    with pytest.raises(HailoRTError) as info:
        for _ in range(500):
            engine.force_fire("c__obr")
            engine.step()
    assert (info.value.code, info.value.name) == (36, expected)
    assert integ.degraded.keys() == {"part1"}
    with pytest.raises(RuntimeError, match="prepare"):  # no garbage from a half-run burst
        engine.force_fire("c__obr")
        engine.step()
        engine.step()
    engine.close()
    assert standin.live() == 0


def test_non_integral_output_falls_back(obstacle, hailo, standin, tmp_path) -> None:
    """A HEF whose output quantization makes counts non-integral is caught at run time."""
    def halve(part, spec):
        return replace_output(spec, qp_scale=0.5) if part.name == "part2" else spec

    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, edit=halve)
    integ = hailo(manifest)
    with pytest.warns(HailoFallbackWarning, match="NON_INTEGRAL_COUNT"):
        engine = run_identical(obstacle, integ, OBSTACLE_ON_HAILO, 300)
    assert "not an integral count" in integ.degraded["part2"]
    engine.close()


# -- no library, no device ----------------------------------------------------------------------


def test_no_device_not_required_runs_on_cpu(obstacle, hailo, standin, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HAILORT_STANDIN_NO_DEVICE", "1")
    integ = hailo(export(tmp_path, obstacle, OBSTACLE_ON_HAILO), required=False)
    with pytest.warns(HailoFallbackWarning, match="HAILO_OUT_OF_PHYSICAL_DEVICES"):
        engine = run_identical(obstacle, integ, OBSTACLE_ON_HAILO, 200)
    assert integ.available is False
    assert "74 HAILO_OUT_OF_PHYSICAL_DEVICES" in integ.unavailable_reason
    assert sorted(integ.degraded) == ["part0", "part1", "part2"]
    assert integ.stats()["frames"] == 0 and integ.on_device == []
    engine.close()


def test_no_device_required_raises_with_a_device_hint(obstacle, hailo, standin, tmp_path,
                                                      monkeypatch) -> None:
    """The library loaded fine: the message says what to check about the device, in one short
    line without HailoRT's install help (issue 12: not appended to every message)."""
    monkeypatch.setenv("HAILORT_STANDIN_NO_DEVICE", "1")
    integ = hailo(export(tmp_path, obstacle, OBSTACLE_ON_HAILO), required=True)
    with pytest.raises(HailoDeviceUnavailable) as info:
        hailo_engine(obstacle, integ, OBSTACLE_ON_HAILO)
    err = info.value
    assert isinstance(err, HailoRTUnavailable)
    assert (err.code, err.name) == (74, "HAILO_OUT_OF_PHYSICAL_DEVICES")
    assert "found no device" in str(err) and "lspci" in str(err)
    assert "Install HailoRT" not in str(err) and err.help == "" and "\n" not in str(err)
    assert len(str(err)) < 400


def test_missing_library(obstacle, tmp_path) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO)
    missing = tmp_path / "nowhere" / "libhailort.so"
    with pytest.raises(HailoRTNotFound) as info:
        hailo_engine(obstacle, HailoIntegrator(manifest, lib_path=missing, required=True),
                     OBSTACLE_ON_HAILO)
    assert str(missing) in str(info.value) and "Install HailoRT" not in str(info.value)
    assert "Install HailoRT" in info.value.help  # the long help travels apart, shown once
    integ = HailoIntegrator(manifest, lib_path=missing)
    with pytest.warns(HailoFallbackWarning, match="not found"):
        engine = run_identical(obstacle, integ, OBSTACLE_ON_HAILO, 100)
    assert integ.available is False and "not found" in integ.unavailable_reason
    assert "Searched" not in integ.unavailable_reason and "Searched" in integ.unavailable_help
    engine.close()


# -- the integrator API directly ----------------------------------------------------------------


def _requests(c: Connectome, projections: list[int], rng: np.random.Generator, rows: int,
              shared: bool) -> dict[int, np.ndarray]:
    """Random 0/1 requests; ``shared``: projections of one source send the same rows."""
    by_src: dict[int, np.ndarray] = {}
    out = {}
    for p in projections:
        src = c.projections[p].src_area
        n = c.areas[src].neuron_count
        if not shared or src not in by_src:
            by_src[src] = (rng.random((rows, n)) < 0.4).astype(np.uint8)
        out[p] = by_src[src]
    return out


@pytest.mark.parametrize("shared", [True, False])
def test_integrate_and_async_equal_numpy(hailo, standin, tmp_path, rng, shared) -> None:
    c = nonuniform_brain()
    ref = NumpyIntegrator()
    ref.prepare(c, NONUNIFORM_ON_HAILO)
    with hailo(export(tmp_path, c, NONUNIFORM_ON_HAILO), queue_size=2) as integ:
        integ.prepare(c, NONUNIFORM_ON_HAILO)
        for rows in (1, 2, 7):
            req = _requests(c, NONUNIFORM_ON_HAILO, rng, rows, shared)
            want = ref.integrate(req)
            for got in (integ.integrate(req), integ.collect(integ.submit(req))):
                assert got.keys() == want.keys()
                for p in want:
                    assert got[p].dtype == np.int64
                    np.testing.assert_array_equal(got[p], want[p])
        # Only some projections of a partition requested: the others are read, not returned.
        req = _requests(c, [0, 4], rng, 3, shared)
        got = integ.integrate(req)
        assert got.keys() == {0, 4}
        np.testing.assert_array_equal(got[0], ref.integrate(req)[0])
        assert integ.stats()["bursts"] == 7


def test_async_failure_falls_back(obstacle, hailo, standin, tmp_path, rng) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, fail={"part0": (2, 8)})
    ref = NumpyIntegrator()
    ref.prepare(obstacle, OBSTACLE_ON_HAILO)
    with hailo(manifest) as integ:
        integ.prepare(obstacle, OBSTACLE_ON_HAILO)
        with pytest.warns(HailoFallbackWarning, match="part0"):
            for _ in range(4):
                req = _requests(obstacle, OBSTACLE_ON_HAILO, rng, 1, True)
                handle = integ.submit(req)
                with pytest.raises(RuntimeError, match="pending"):
                    integ.integrate(req)  # one integration in flight at a time
                got = integ.collect(handle)
                want = ref.integrate(req)
                for p in want:
                    np.testing.assert_array_equal(got[p], want[p])
        assert list(integ.degraded) == ["part0"]


def test_cpu_path_runs_while_the_device_computes(obstacle, hailo, standin, tmp_path, rng,
                                                 monkeypatch) -> None:
    """A degraded partition's CPU work sits between the writes and the reads of the others."""
    integ = hailo(export(tmp_path, obstacle, OBSTACLE_ON_HAILO, fail={"part0": (1, 8)}))
    integ.prepare(obstacle, OBSTACLE_ON_HAILO)
    req = _requests(obstacle, OBSTACLE_ON_HAILO, rng, 1, True)
    with pytest.warns(HailoFallbackWarning, match="part0"):
        integ.integrate(req)
        integ.integrate(req)  # part0's second frame fails: CPU path from here on
    calls: list[str] = []
    for method in ("write", "read"):
        original = getattr(PartitionStreams, method)

        def spy(self, arg, _original=original, _method=method):
            calls.append(f"{_method} {self.name}")
            return _original(self, arg)

        monkeypatch.setattr(PartitionStreams, method, spy)
    cpu_integrate = integ._cpu.integrate
    monkeypatch.setattr(integ._cpu, "integrate",
                        lambda spikes: calls.append(f"cpu {sorted(spikes)}") or cpu_integrate(spikes))
    integ.integrate(req)
    assert calls == ["write part1", "write part2", "cpu [1, 2, 3]", "read part1", "read part2"]


def test_unassigned_outputs_are_read_but_not_returned(obstacle, hailo, standin, tmp_path,
                                                      rng) -> None:
    integ = hailo(export(tmp_path, obstacle, [1, 2, 3]))  # one partition, three outputs
    integ.prepare(obstacle, [1, 3])  # projection 2 is someone else's
    ref = NumpyIntegrator()
    ref.prepare(obstacle, [1, 3])
    for _ in range(20):  # the unread output would fill its queue and stall the device
        req = _requests(obstacle, [1, 3], rng, 1, True)
        got, want = integ.integrate(req), ref.integrate(req)
        assert got.keys() == {1, 3}
        for p in want:
            np.testing.assert_array_equal(got[p], want[p])
    with pytest.raises(KeyError, match="projection 2"):
        integ.integrate({2: req[1]})


def test_bad_requests_are_refused(obstacle, hailo, standin, tmp_path) -> None:
    with hailo(export(tmp_path, obstacle, [7, 8])) as integ:
        integ.prepare(obstacle, [7, 8])
        with pytest.raises(KeyError, match="projection 1"):
            integ.integrate({1: np.zeros((1, 10), np.uint8)})
        with pytest.raises(ValueError, match="uint8"):
            integ.integrate({7: np.zeros((1, 5), np.uint8)})
        with pytest.raises(ValueError, match="0/1"):
            integ.integrate({7: np.full((1, 160), 2, np.uint8)})
        assert integ.integrate({7: np.ones((1, 160), np.uint8)})[7].sum() == 80


def test_close_is_idempotent_and_releases_everything(obstacle, hailo, standin, tmp_path,
                                                     rng) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO, one_hef=False)
    integ = hailo(manifest)
    integ.prepare(obstacle, OBSTACLE_ON_HAILO)
    live = standin.live()
    assert live > 1 + 3 + 11  # the vdevice, three HEFs, 3 inputs + 8 outputs, ...
    integ.prepare(obstacle, OBSTACLE_ON_HAILO)  # again: the first set is released first
    assert standin.live() == live
    req = _requests(obstacle, OBSTACLE_ON_HAILO, rng, 1, True)
    integ.submit(req)  # never collected: close finishes it before releasing
    standin.clear_events()
    integ.close()
    assert standin.live() == 0
    events = standin.events()
    releases = [e.split(":")[0] for e in events]
    # vstreams (outputs, then the input, per partition), then the HEFs, then the vdevice
    assert releases[:11].count("release_input_vstream") == 3
    assert releases[:11].count("release_output_vstream") == 8
    assert releases[11:] == ["release_hef"] * 3 + ["release_vdevice"]
    integ.close()
    assert standin.live() == 0 and standin.events() == events  # nothing released twice
    with pytest.raises(RuntimeError, match="not prepared"):
        integ.integrate(req)


def test_count_decoder() -> None:
    raw = np.array([[0, 3, 255]], np.uint8)
    assert CountDecoder("p", "o", 1.0, 0.0)(raw).tolist() == [[0, 3, 255]]
    assert CountDecoder("p", "o", 2.0, -1.0)(raw).tolist() == [[2, 8, 512]]
    third = float(np.float32(1 / 3))  # not exact in float32: dequantized counts land within ulps
    assert CountDecoder("p", "o", third, 0.0)(np.array([[3, 6, 765]], np.uint16)).tolist() == \
        [[1, 2, 255]]
    with pytest.raises(HailoResultError, match="not an integral count"):
        CountDecoder("p", "o", 0.5, 0.0)(raw)
    with pytest.raises(HailoResultError, match="negative count"):
        CountDecoder("p", "o", 1.0, 4.0)(raw)


def test_duplicate_synapses_are_not_exported(tmp_path) -> None:
    c = brain([area(dims=(2, 1, 1)), area(dims=(2, 1, 1))],
              [Projection(0, 0, 1, 1.0, 1, np.array([0, 0]), np.array([1, 1]))])
    with pytest.raises(ValueError, match="duplicate"):
        export(tmp_path, c, [0])


# -- a device that never answers -----------------------------------------------------------------


@pytest.fixture
def hung_reads(monkeypatch) -> Iterator[Callable[[], None]]:
    """Every vstream read blocks until the returned ``answer()`` is called (a device that
    stopped answering without an error), or for 20 s at most: then it answers normally, so
    code that waited without a bound fails the test's assertions instead of hanging it."""
    import threading

    answered = threading.Event()
    original = PartitionStreams.read

    def read(self, i):
        answered.wait(20.0)
        return original(self, i)

    monkeypatch.setattr(PartitionStreams, "read", read)
    yield answered.set
    answered.set()


def io_thread_done(integ: HailoIntegrator) -> bool:
    """Wait until the integrator's I/O thread ran everything queued so far (True) or 10 s."""
    import threading

    flushed = threading.Event()
    integ._async[0].after_jobs(flushed.set)  # one device: one I/O thread
    return flushed.wait(10.0)


def test_a_device_that_never_answers_falls_back_after_the_wait_timeout(
        obstacle, hailo, standin, tmp_path, rng, hung_reads) -> None:
    from feagi_hailo_ros.engine.accel.hailo_io import HailoWaitTimeout

    ref = NumpyIntegrator()
    ref.prepare(obstacle, OBSTACLE_ON_HAILO)
    integ = hailo(export(tmp_path, obstacle, OBSTACLE_ON_HAILO), wait_timeout_s=0.2)
    integ.prepare(obstacle, OBSTACLE_ON_HAILO)
    req = _requests(obstacle, OBSTACLE_ON_HAILO, rng, 1, True)
    with pytest.warns(HailoFallbackWarning, match="HailoWaitTimeout"):
        got = integ.collect(integ.submit(req))  # returns: the wait is bounded
    want = ref.integrate(req)
    assert got.keys() == want.keys()
    for p in want:  # this burst's counts are exact all the same (the CPU path)
        np.testing.assert_array_equal(got[p], want[p])
    assert sorted(integ.degraded) == ["part0", "part1", "part2"]
    assert all("did not finish within 0.2 s" in why for why in integ.degraded.values())
    assert isinstance(HailoWaitTimeout("x"), TimeoutError)
    req = _requests(obstacle, OBSTACLE_ON_HAILO, rng, 1, True)
    got = integ.collect(integ.submit(req))  # the next burst runs on the CPU path at once
    for p, y in ref.integrate(req).items():
        np.testing.assert_array_equal(got[p], y)
    hung_reads()  # the device answers late: the I/O thread releases the vstreams it held
    assert io_thread_done(integ)
    integ.close()
    assert standin.live() == 0


def test_a_device_that_never_answers_raises_with_the_raise_policy(
        obstacle, hailo, standin, tmp_path, rng, hung_reads) -> None:
    from feagi_hailo_ros.engine.accel.hailo_io import HailoWaitTimeout

    integ = hailo(export(tmp_path, obstacle, OBSTACLE_ON_HAILO), wait_timeout_s=0.2,
                  on_error="raise")
    engine = hailo_engine(obstacle, integ, OBSTACLE_ON_HAILO)
    engine.force_fire("c__obr")
    with pytest.raises(HailoWaitTimeout, match="did not finish within 0.2 s"):
        for _ in range(5):
            engine.force_fire("c__obr")
            engine.step()
    with pytest.raises(RuntimeError, match="prepare"):  # stopped: no half-run burst goes on
        engine.force_fire("c__obr")
        engine.step()
        engine.step()
    hung_reads()
    assert io_thread_done(integ)
    engine.close()
    assert standin.live() == 0


def test_close_does_not_hang_on_a_blocked_io_thread(obstacle, hailo, standin, tmp_path, rng,
                                                    hung_reads) -> None:
    integ = hailo(export(tmp_path, obstacle, OBSTACLE_ON_HAILO), wait_timeout_s=0.2)
    integ.prepare(obstacle, OBSTACLE_ON_HAILO)
    integ.submit(_requests(obstacle, OBSTACLE_ON_HAILO, rng, 1, True))  # never collected
    io_thread = integ._async[0]._thread
    with pytest.warns(RuntimeWarning, match="still blocked"):
        integ.close()  # returns after wait_timeout_s instead of joining forever
    hung_reads()
    io_thread.join(10.0)  # it finishes the job; the binding's finalizers release the rest


def test_wait_timeout_must_be_positive(obstacle, tmp_path) -> None:
    manifest = export(tmp_path, obstacle, OBSTACLE_ON_HAILO)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="wait_timeout_s"):
            HailoIntegrator(manifest, wait_timeout_s=bad)
