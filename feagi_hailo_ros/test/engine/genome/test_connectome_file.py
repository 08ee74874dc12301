"""Saving and loading built connectomes: round trip, speed, corruption detection."""

from __future__ import annotations

import dataclasses
import json
import time
import zipfile

import numpy as np
import pytest

from feagi_hailo_ros.engine.core.connectome import AreaSpec, Connectome, Projection
from feagi_hailo_ros.engine.genome.builder import build_connectome
from feagi_hailo_ros.engine.genome.connectome_file import FORMAT_VERSION, load_connectome, save_connectome
from feagi_hailo_ros.engine.genome.errors import ConnectomeFileError, GenomeError
from feagi_hailo_ros.engine.genome.parser import load_genome
from feagi_hailo_ros.genomes import example_genome_path


@pytest.fixture(scope="module")
def brain():
    return build_connectome(example_genome_path("obstacle_avoidance"))


def assert_same(a: Connectome, b: Connectome):
    assert a.areas == b.areas  # dataclass equality: every parameter, inf limits included
    assert (a.power_area, a.source_checksum, a.notes) == (b.power_area, b.source_checksum, b.notes)
    assert len(a.projections) == len(b.projections)
    for p, q in zip(a.projections, b.projections, strict=True):
        scalars = ("index", "src_area", "dst_area", "weight", "delay", "morphology",
                   "rule_index", "plastic")
        assert [getattr(p, k) for k in scalars] == [getattr(q, k) for k in scalars]
        assert p.pre.dtype == q.pre.dtype and np.array_equal(p.pre, q.pre)
        assert np.array_equal(p.post, q.post)
        assert (p.weights is None) == (q.weights is None)
        if p.weights is not None:
            assert np.array_equal(p.weights, q.weights)


def test_round_trip(tmp_path, brain):
    path = save_connectome(brain, tmp_path / "oa.npz")
    assert_same(brain, load_connectome(path))
    assert [p.name for p in tmp_path.iterdir()] == ["oa.npz"]  # no temp file left behind


def test_round_trip_keeps_per_synapse_weights_and_odd_names(tmp_path):
    area = AreaSpec(index=0, cortical_id="c__abc", name="ünïcode", group="CUSTOM",
                    dims=(2, 1, 1), neurons_per_voxel=1, position=(0, -1, 2), first_neuron=0,
                    fire_threshold=1.5, threshold_increment=(0.0, 0.1, 0.0),
                    threshold_limit=float("inf"), leak=0.5, refractory=1,
                    consecutive_fire_limit=2, excitability=0.75, mp_acc=True, mp_psp=False,
                    psp=3, psp_uniform=True)
    proj = Projection(index=0, src_area=0, dst_area=0, weight=1.0, delay=2,
                      pre=np.array([0, 1], np.int32), post=np.array([1, 0], np.int32),
                      weights=np.array([0.5, -2.0], np.float32))
    c = Connectome(areas=[area], projections=[proj], power_area=None, source_checksum="x",
                   notes=["a note"])
    path = save_connectome(c, tmp_path / "no_suffix")  # numpy must not append ".npz"
    assert path.name == "no_suffix"
    assert_same(c, load_connectome(path))


def test_loading_is_faster_than_building(tmp_path):
    genome = load_genome(example_genome_path("vision"))
    build = min(_timed(lambda: build_connectome(genome)) for _ in range(2))
    c = build_connectome(genome)
    path = save_connectome(c, tmp_path / "vision.npz")
    load = min(_timed(lambda: load_connectome(path, expected_genome_checksum=genome.checksum))
               for _ in range(2))
    assert load < build
    assert load_connectome(path).synapse_count == c.synapse_count


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_flipped_bytes_never_load_a_different_brain(tmp_path, brain):
    """A flip in array data or header is an error; a flip in zip bookkeeping that
    leaves every array intact (e.g. a timestamp) may load, but only the same brain."""
    path = save_connectome(brain, tmp_path / "oa.npz")
    data = path.read_bytes()
    errors = 0
    for offset in range(0, len(data), max(1, len(data) // 80)):
        bad = bytearray(data)
        bad[offset] ^= 0x40
        path.write_bytes(bytes(bad))
        try:
            loaded = load_connectome(path)
        except ConnectomeFileError as exc:
            assert "oa.npz" in str(exc)
            errors += 1
        else:
            assert_same(brain, loaded)
    assert errors > 40  # most of the file is payload


def test_flip_inside_an_array_is_detected(tmp_path, brain):
    path = save_connectome(brain, tmp_path / "oa.npz")
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("pre_1.npy")
    data = bytearray(path.read_bytes())
    # Local file header: 30 fixed bytes, then name and extra field (lengths at 26..29).
    name_len, extra_len = np.frombuffer(bytes(data[info.header_offset + 26:
                                                   info.header_offset + 30]), "<u2")
    payload = info.header_offset + 30 + int(name_len) + int(extra_len)
    assert data[payload:payload + 6] == b"\x93NUMPY"  # we are inside the .npy member
    data[payload + info.file_size - 1] ^= 1  # last byte of the array data
    path.write_bytes(bytes(data))
    with pytest.raises(ConnectomeFileError, match="oa.npz"):
        load_connectome(path)


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, 0.99])
def test_truncated_file_is_detected(tmp_path, brain, keep):
    path = save_connectome(brain, tmp_path / "oa.npz")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ConnectomeFileError):
        load_connectome(path)


def test_tampered_array_with_original_header_is_detected(tmp_path, brain):
    path = save_connectome(brain, tmp_path / "oa.npz")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["post_1"] = arrays["post_1"].copy()
    arrays["post_1"][0] += 1
    np.savez(path, **arrays)
    with pytest.raises(ConnectomeFileError, match="checksum"):
        load_connectome(path)


def _rewrite_header(path, change):
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(bytes(arrays["header"]).decode())
    change(header)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_other_format_version_is_refused(tmp_path, brain):
    path = save_connectome(brain, tmp_path / "oa.npz")
    _rewrite_header(path, lambda h: h.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ConnectomeFileError, match="format version"):
        load_connectome(path)


def test_edited_metadata_is_refused(tmp_path, brain):
    path = save_connectome(brain, tmp_path / "oa.npz")
    _rewrite_header(path, lambda h: h["meta"]["areas"][0].update(fire_threshold=99.0))
    with pytest.raises(ConnectomeFileError, match="checksum"):
        load_connectome(path)


def test_genome_checksum_mismatch_is_refused(tmp_path, brain):
    path = save_connectome(brain, tmp_path / "oa.npz")
    assert load_connectome(path, expected_genome_checksum=brain.source_checksum).areas
    other = load_genome(example_genome_path("vision")).checksum
    with pytest.raises(ConnectomeFileError, match="expected"):
        load_connectome(path, expected_genome_checksum=other)


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"PK\x03\x04" + b"\x00" * 50])
def test_non_connectome_files_are_refused(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ConnectomeFileError, match="bad.npz"):
        load_connectome(path)


def test_other_npz_and_npy_files_are_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3))
    with pytest.raises(ConnectomeFileError, match="npy"):
        load_connectome(tmp_path / "a.npy")
    np.savez(tmp_path / "b.npz", x=np.arange(3))
    with pytest.raises(ConnectomeFileError, match="no header"):
        load_connectome(tmp_path / "b.npz")
    with zipfile.ZipFile(tmp_path / "c.npz", "w") as z:
        z.writestr("header.npy", b"not an npy")
    with pytest.raises(ConnectomeFileError):
        load_connectome(tmp_path / "c.npz")
    with pytest.raises(ConnectomeFileError, match="missing"):
        load_connectome(tmp_path / "missing.npz")


def test_errors_belong_to_the_genome_error_family(brain):
    assert issubclass(ConnectomeFileError, GenomeError)
    assert dataclasses.is_dataclass(brain.areas[0])


def test_a_file_written_before_feagi_ids_still_loads(tmp_path, brain):
    # Format version 1 files from before FEAGI ids and float PSPs: areas without feagi_id,
    # legacy_id, feagi_type and leak_linear, PSP an integer. They load with the defaults
    # (the type read from the id), so no rebuild is forced.
    from feagi_hailo_ros.engine.genome import connectome_file as cf

    meta = cf._meta(brain)
    for area in meta["areas"]:
        for key in ("feagi_id", "legacy_id", "feagi_type", "leak_linear"):
            del area[key]
        area["psp"] = int(area["psp"])
    arrays = cf._arrays(brain)
    header = {"format": cf.FORMAT, "format_version": 1, "genome_checksum": brain.source_checksum,
              "payload_sha256": cf._payload_digest(cf._meta_text(meta), arrays), "meta": meta}
    path = tmp_path / "old.npz"
    with path.open("wb") as f:
        np.savez(f, header=np.frombuffer(cf._meta_text(header).encode(), np.uint8), **arrays)
    old = load_connectome(path)
    assert [a.cortical_id for a in old.areas] == [a.cortical_id for a in brain.areas]
    assert all(isinstance(a.psp, float) and not a.leak_linear for a in old.areas)
    assert old.area("i__pro").feagi_type == "IPU" and old.area("o__mot").feagi_type == "OPU"
    assert old.synapse_count == brain.synapse_count


def test_feagi_ids_and_leak_mode_round_trip(tmp_path):
    c = build_connectome(example_genome_path("obstacle_avoidance"), legacy_leak="linear")
    loaded = load_connectome(save_connectome(c, tmp_path / "oa.npz"))
    assert_same(c, loaded)
    assert loaded.area("aXBybwEAAAA=").legacy_id == "i__pro" and loaded.areas[0].leak_linear
