"""Checkpoints: identical continuation, and refusal of corrupt or foreign files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from strategies import Drive, area, brain, proj

from feagi_hailo_ros.engine.core import checkpoint as ckpt
from feagi_hailo_ros.engine.core.checkpoint import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
)
from feagi_hailo_ros.engine.core.engine import Engine


def rich_brain():
    """Delays up to 3, refractory, fire limits, mp_acc/mp_psp, power, excitability."""
    a = area(dims=(3, 2, 2), threshold=3.0, leak=0.25, refractory=2, cfc=2, excitability=0.7)
    b = area(dims=(4, 1, 1), npv=2, threshold=2.0, mp_acc=False, mp_psp=True, refractory=1,
             uniform=False)  # fmt: skip
    p = area(dims=(1, 1, 1), threshold=1e9)
    rng = np.random.default_rng(0)
    projections = [
        proj(0, 0, 1, rng.integers(0, 12, 30), rng.integers(0, 8, 30), weight=2.0, delay=1),
        proj(1, 1, 0, rng.integers(0, 8, 20), rng.integers(0, 12, 20), weight=-1.5, delay=3),
        proj(2, 2, 0, [0, 0], [0, 5], weight=1.0, delay=2),
        proj(3, 0, 0, rng.integers(0, 12, 10), rng.integers(0, 12, 10), delay=2,
             weights=rng.integers(-3, 4, 10).astype(np.float32)),
    ]  # fmt: skip
    return brain([a, b, p], projections, power=2)


def raster(engine: Engine, drive: Drive, bursts: int) -> tuple[list[list[int]], np.ndarray]:
    out = []
    for _ in range(bursts):
        drive.apply([engine], engine.connectome)
        engine.step()
        out.append(engine.fired_global().tolist())
    return out, engine.neuron_state().potentials


@pytest.mark.parametrize(("saver", "loader"),
                         [("cpu", "cpu"), ("reference", "reference"), ("cpu", "reference"),
                          ("reference", "cpu")])  # fmt: skip
def test_continuation_is_identical(tmp_path, saver, loader):
    c = rich_brain()
    path = tmp_path / "brain.ckpt"
    a = Engine(c, saver, seed=5)
    raster(a, Drive(1), 57)
    a.save_checkpoint(path)
    expected = raster(a, Drive(2), 80)
    b = Engine(c, loader, seed=5)
    b.step(3)  # some unrelated state that loading must replace
    b.load_checkpoint(path)
    assert b.burst == 57
    np.testing.assert_array_equal(b.fired_global(), stored_last_fired(path))
    got = raster(b, Drive(2), 80)
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1], expected[1])
    assert sum(len(f) for f in expected[0]) > 50


def stored_last_fired(path):
    """The last fired set stored in a checkpoint (history[0])."""
    _, state = ckpt.read_checkpoint(path)
    return np.sort(state.history[0][0])


def test_checkpoint_contents_and_no_temp_files(tmp_path):
    c = rich_brain()
    e = Engine(c)
    e.inject(0, potentials=3.0)
    e.step(4)
    path = tmp_path / "x.npz"
    e.save_checkpoint(path)
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]
    meta, state = ckpt.read_checkpoint(path)
    assert meta["format"] == ckpt.FORMAT_NAME and meta["version"] == ckpt.FORMAT_VERSION
    assert meta["burst"] == 4 and meta["neuron_count"] == c.neuron_count
    assert meta["history_length"] == 3 and len(state.history) == 3
    assert state.potentials.dtype == np.float32
    with np.load(path, allow_pickle=False) as z:  # plain npz, no pickled objects
        assert {"meta", "potentials", "history_index"} <= set(z.files)


# -- refusal --------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    e = Engine(rich_brain(), seed=5)
    raster(e, Drive(3), 20)
    path = tmp_path / "ok.npz"
    e.save_checkpoint(path)
    return e, path


def _expect_refused(engine: Engine, path, error):
    before = engine.neuron_state()
    burst = engine.burst
    with pytest.raises(error) as info:
        engine.load_checkpoint(path)
    assert isinstance(info.value, CheckpointError)
    after = engine.neuron_state()
    assert engine.burst == burst  # a refused file leaves the running state alone
    np.testing.assert_array_equal(before.potentials, after.potentials)
    return info.value


def test_truncated_file_refused(saved, tmp_path):
    e, path = saved
    bad = tmp_path / "trunc.npz"
    bad.write_bytes(path.read_bytes()[:-200])
    _expect_refused(e, bad, CheckpointCorruptError)


def test_flipped_byte_refused(saved, tmp_path):
    e, path = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("potentials.npy")
    data[info.header_offset + 200] ^= 0xFF  # inside the stored potentials
    bad = tmp_path / "flip.npz"
    bad.write_bytes(bytes(data))
    _expect_refused(e, bad, CheckpointCorruptError)


def _rewrite(path, out, **changes):
    """Copy a checkpoint, replacing members (valid zip, so only our checks can object)."""
    with np.load(path, allow_pickle=False) as z:
        members = {k: z[k] for k in z.files}
    members.update(changes)
    with open(out, "wb") as f:
        np.savez(f, **members)


def test_tampered_payload_refused(saved, tmp_path):
    e, path = saved
    with np.load(path) as z:
        pots = z["potentials"].copy()
    pots[0] += 1.0
    bad = tmp_path / "tampered.npz"
    _rewrite(path, bad, potentials=pots)
    err = _expect_refused(e, bad, CheckpointCorruptError)
    assert "checksum" in str(err)


def test_tampered_meta_refused(saved, tmp_path):
    e, path = saved
    with np.load(path) as z:
        meta = json.loads(bytes(z["meta"]))
    meta["burst"] = 12345
    bad = tmp_path / "meta.npz"
    _rewrite(path, bad, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    _expect_refused(e, bad, CheckpointCorruptError)


def test_garbage_and_foreign_npz_refused(saved, tmp_path):
    e, _ = saved
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a checkpoint at all" * 10)
    _expect_refused(e, junk, CheckpointCorruptError)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.arange(3))
    _expect_refused(e, foreign, CheckpointCorruptError)


def test_missing_file_is_file_not_found(saved, tmp_path):
    e, _ = saved
    with pytest.raises(FileNotFoundError):
        e.load_checkpoint(tmp_path / "absent.npz")


def test_other_connectome_refused(saved):
    _, path = saved
    c = rich_brain()
    # Same shape, one synapse moved: the identity differs.
    moved = c.projections[0]
    post = moved.post.copy()
    post[0] = (post[0] + 1) % 8
    c.projections[0] = type(moved)(**{**moved.__dict__, "post": post})
    err = _expect_refused(Engine(c, seed=5), path, CheckpointMismatchError)
    assert "connectome_identity" in str(err)
    # Different size.
    small = brain([area(dims=(2, 1, 1))])
    err = _expect_refused(Engine(small, seed=5), path, CheckpointMismatchError)
    assert "neuron_count" in str(err)


def test_other_engine_options_refused(saved):
    _, path = saved
    _expect_refused(Engine(rich_brain(), seed=6), path, CheckpointMismatchError)
    _expect_refused(Engine(rich_brain(), seed=5, inhibition="subtractive"), path,
                    CheckpointMismatchError)  # fmt: skip


def test_newer_format_version_refused(saved, tmp_path):
    e, path = saved
    with np.load(path) as z:
        meta = json.loads(bytes(z["meta"]))
    meta["version"] = ckpt.FORMAT_VERSION + 1
    bad = tmp_path / "v2.npz"
    _rewrite(path, bad, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    err = _expect_refused(e, bad, CheckpointMismatchError)
    assert "version" in str(err)


def test_identity_ignores_cosmetics():
    c = rich_brain()
    d = rich_brain()
    d.source_checksum = "something else"
    d.notes.append("rebuilt")
    assert ckpt.connectome_identity(c) == ckpt.connectome_identity(d)
    e = rich_brain()
    e.areas[0] = type(e.areas[0])(**{**e.areas[0].__dict__, "leak": 0.5})
    assert ckpt.connectome_identity(c) != ckpt.connectome_identity(e)


def test_failed_save_keeps_previous_checkpoint(saved, monkeypatch):
    e, path = saved
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.np, "savez", boom)
    with pytest.raises(OSError):
        e.save_checkpoint(path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def _not_checkpoints(saved_path, tmp_path) -> dict[str, tuple[object, str]]:
    """Files a user may hand ~/load_state by mistake -> (path, what the refusal says)."""
    data = saved_path.read_bytes()
    made = {"empty": b"", "text": b"root:x:0:0:root:/root:/bin/bash\n",
            "truncated": data[: len(data) // 2], "tail_cut": data[:-200]}
    for name, content in made.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "adir").mkdir()
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "not ours")
    np.save(tmp_path / "array.npy", np.arange(3))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    # Our member names, but Python objects inside: only NumPy's pickle check objects.
    with np.load(saved_path) as z:
        members = {k: z[k] for k in z.files}
    members["potentials"] = np.array([{"a": 1}], dtype=object)
    with open(tmp_path / "objects.npz", "wb") as f:
        np.savez(f, **members)
    return {
        "empty": (tmp_path / "empty", "an empty file, not a checkpoint"),
        "text": (tmp_path / "text", "this file is no zip archive"),
        "truncated": (tmp_path / "truncated", "incomplete zip archive (truncated?)"),
        "tail_cut": (tmp_path / "tail_cut", "incomplete zip archive (truncated?)"),
        "directory": (tmp_path / "adir", "a directory, not a checkpoint file"),
        "other zip": (tmp_path / "other.zip", "not an engine checkpoint (missing"),
        "npy": (tmp_path / "array.npy", "this file is no zip archive"),
        "pickled npy": (tmp_path / "objects.npy", "this file is no zip archive"),
        "pickled npz": (tmp_path / "objects.npz", "a member holds Python objects"),
        "/etc/passwd": ("/etc/passwd", "this file is no zip archive"),  # the user's case
    }


def test_files_that_are_no_checkpoint_are_refused_without_numpys_pickle_advice(saved, tmp_path):
    # np.load reads a non-zip file as a pickle and, refusing it, advises loading it unsafely
    # with allow_pickle=: a user must never be told that (issue: ~/load_state /etc/passwd).
    e, path = saved
    for what, (bad, says) in _not_checkpoints(path, tmp_path).items():
        err = _expect_refused(e, bad, CheckpointCorruptError)
        assert says in str(err), what
        assert "pickle" not in str(err) and "unsafe" not in str(err), f"{what}: {err}"
