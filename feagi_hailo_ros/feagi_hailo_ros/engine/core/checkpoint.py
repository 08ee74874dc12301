"""Checkpoint files of the engine's dynamic state.

Format: a NumPy ``.npz`` (zip of ``.npy``), read with ``allow_pickle=False``.
Member ``meta`` is UTF-8 JSON (as a uint8 array) holding the format name and
version, the identity of the connectome the state belongs to, the sizes,
the engine options that change the continuation (inhibition mode, seed) and
the SHA-256 of the metadata and payload. Payload members: ``potentials`` (float32),
``refractory_countdown`` (int32), ``fire_counts`` (int32), and the fired
sets of past bursts, newest first, as ``history_index`` (int32, concatenated),
``history_psp`` (float32) and ``history_offsets`` (int64, length H + 1).
A brain with plastic projections (DESIGN §4.7) adds what it learned, marked by
``meta["learned"]``: sets of synapses, set ``k`` being projection ``learned_projections[k]``
(int64) in role ``learned_roles[k]`` (int64: -2 = as learned now, -1 = as the backend holds
them, b >= 0 = learned, due at the backend before burst b: spikes in flight carry the weights of
their firing burst), ``learned_offsets`` (int64[K + 1]) into ``learned_pre``/``learned_post``
(int32, area-local) and ``learned_weight`` (float32 magnitudes); and ``fire_ledger`` (int64[n],
the last burst each neuron fired). The payload hash covers them too. ``kept_potential``
(uint8[n], present when ``meta["kept"]``) marks ``mp_acc = false`` neurons whose V a forced fire
kept (``EngineState.kept_potential``). ``memory_state`` (UTF-8 JSON as uint8, present when
``meta["memory"]``) is the memory areas' state (``memory.MemoryAreas.state`` plus the memory
neurons to fire next burst, ``fire_next``). ``carried_input`` (float32) and ``carried_mask``
(uint8), present when ``meta["carried"]``, are the input slowed areas carry to their next update
(``EngineState.carried_*``); ``meta["rate_dividers"]`` (area index as text -> divider) is
compared like the seed.

Files are written to a temporary name and renamed, so a crash mid-write
leaves the previous checkpoint intact. Loading refuses, with
:class:`CheckpointCorruptError`, anything unreadable or whose payload hash
does not match, and with :class:`CheckpointMismatchError` a state that
belongs to a different connectome (identity or shape) or engine options.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .connectome import POTENTIAL_DTYPE, Connectome
from .plasticity import LearnedSynapses
from .state import INDEX_DTYPE, EngineState

FORMAT_NAME = "feagi_hailo_ros.engine.checkpoint"
FORMAT_VERSION = 1

_PAYLOAD = (
    "potentials",
    "refractory_countdown",
    "fire_counts",
    "history_index",
    "history_psp",
    "history_offsets",
)
#: Roles of a learned synapse set in a checkpoint (module docstring); b >= 0 means "due at b".
ROLE_NOW = -2
ROLE_UPLOADED = -1

_LEARNED = (
    "learned_projections",
    "learned_roles",
    "learned_offsets",
    "learned_pre",
    "learned_post",
    "learned_weight",
    "fire_ledger",
)
_DTYPES = {
    "potentials": np.dtype(POTENTIAL_DTYPE),
    "refractory_countdown": np.dtype(np.int32),
    "fire_counts": np.dtype(np.int32),
    "history_index": np.dtype(INDEX_DTYPE),
    "history_psp": np.dtype(POTENTIAL_DTYPE),
    "history_offsets": np.dtype(np.int64),
    "learned_projections": np.dtype(np.int64),
    "learned_roles": np.dtype(np.int64),
    "learned_offsets": np.dtype(np.int64),
    "learned_pre": np.dtype(np.int32),
    "learned_post": np.dtype(np.int32),
    "learned_weight": np.dtype(np.float32),
    "fire_ledger": np.dtype(np.int64),
    "kept_potential": np.dtype(np.uint8),
    "memory_state": np.dtype(np.uint8),
    "carried_input": np.dtype(POTENTIAL_DTYPE),
    "carried_mask": np.dtype(np.uint8),
}


class CheckpointError(Exception):
    """A checkpoint cannot be used (base class of the two errors below)."""


class CheckpointCorruptError(CheckpointError):
    """The file is unreadable, truncated, tampered with or not a checkpoint."""


class CheckpointMismatchError(CheckpointError):
    """The file is intact but belongs to another brain or engine configuration."""


def connectome_identity(connectome: Connectome) -> str:
    """SHA-256 of everything in a connectome that shapes the dynamics.

    Covers area parameters and layout, the power area, and every projection's
    endpoints, weight(s), delay and synapse lists. Cosmetic fields (names,
    positions, notes, the genome file checksum) are left out, so the same
    brain rebuilt from a reformatted genome still matches. Floats enter as their
    ``repr``, synapse lists as int64 (weights float32) bytes. Returns 64 lowercase hex digits.
    """
    h = hashlib.sha256()
    desc: dict[str, Any] = {
        "power_area": connectome.power_area,
        "areas": [
            [
                a.index, a.cortical_id, list(a.dims), a.neurons_per_voxel, a.first_neuron,
                repr(float(a.fire_threshold)), [repr(float(c)) for c in a.threshold_increment],
                repr(float(a.threshold_limit)), repr(float(a.leak)), int(a.refractory),
                int(a.consecutive_fire_limit), repr(float(a.excitability)), bool(a.mp_acc),
                bool(a.mp_psp),
                int(a.psp) if float(a.psp).is_integer() else repr(float(a.psp)),
                bool(a.psp_uniform),
                # Newer parameters only when set, so checkpoints of brains without them keep
                # their identity.
                *([["snooze", int(a.snooze)]] if a.snooze else []),
                *([["leak_linear", True]] if a.leak_linear else []),
            ]  # fmt: skip
            for a in connectome.areas
        ],
        "projections": [
            [p.src_area, p.dst_area, repr(float(p.weight)), int(p.delay), p.synapse_count,
             p.weights is not None]  # fmt: skip
            for p in connectome.projections
        ],
    }
    h.update(json.dumps(desc, sort_keys=True).encode())
    for p in connectome.projections:
        h.update(np.ascontiguousarray(p.pre, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(p.post, dtype=np.int64).tobytes())
        if p.weights is not None:
            h.update(np.ascontiguousarray(p.weights, dtype=np.float32).tobytes())
    return h.hexdigest()


def _members(meta: dict[str, Any]) -> tuple[str, ...]:
    """Payload members a checkpoint with this metadata holds."""
    return (_PAYLOAD + (_LEARNED if meta.get("learned") else ())
            + (("kept_potential",) if meta.get("kept") else ())
            + (("memory_state",) if meta.get("memory") else ())
            + (("carried_input", "carried_mask") if meta.get("carried") else ()))


def _payload_hash(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    """SHA-256 over the metadata (less the hash itself) and every payload array."""
    h = hashlib.sha256()
    fields = {k: v for k, v in meta.items() if k != "payload_sha256"}
    h.update(json.dumps(fields, sort_keys=True).encode())
    for name in _members(meta):
        a = arrays[name]
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save_checkpoint(
    path: str | os.PathLike[str],
    state: EngineState,
    *,
    identity: str,
    synapse_count: int,
    inhibition: str,
    seed: int,
    learned: Learned | None = None,
    memory: dict[str, Any] | None = None,
    rate_dividers: dict[int, int] | None = None,
) -> None:
    """Write ``state`` atomically to ``path`` (the name is used as given).

    ``learned`` is what a brain with plastic projections learned (:class:`Learned`), else
    ``None``; ``memory`` the memory areas' JSON-able state, else ``None``.

    ``identity`` is :func:`connectome_identity` of the brain, ``synapse_count`` its synapse
    count, ``inhibition`` and ``seed`` the engine options the continuation depends on; all are
    stored in the metadata that :func:`load_checkpoint` compares. Arrays are converted to the
    dtypes in the module docstring. The file is written under a temporary name in the same
    directory, fsync'ed and renamed over ``path``. Returns ``None``; raises ``OSError`` when
    the file cannot be written (the temporary file is removed, ``path`` left as it was).
    """
    hist_idx = [np.asarray(i, INDEX_DTYPE) for i, _ in state.history]
    hist_psp = [np.asarray(p, POTENTIAL_DTYPE) for _, p in state.history]
    offsets = np.zeros(len(hist_idx) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([i.size for i in hist_idx])
    arrays = {
        "potentials": np.asarray(state.potentials, POTENTIAL_DTYPE),
        "refractory_countdown": np.asarray(state.refractory_countdown, np.int32),
        "fire_counts": np.asarray(state.fire_counts, np.int32),
        "history_index": np.concatenate(hist_idx) if hist_idx else np.zeros(0, INDEX_DTYPE),
        "history_psp": np.concatenate(hist_psp) if hist_psp else np.zeros(0, POTENTIAL_DTYPE),
        "history_offsets": offsets,
    }
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "connectome_identity": identity,
        "neuron_count": int(state.neuron_count),
        "synapse_count": int(synapse_count),
        "history_length": len(state.history),
        "burst": int(state.burst),
        "inhibition": inhibition,
        "seed": int(seed),
    }
    if learned is not None:
        sets = learned.sets()
        offsets = np.zeros(len(sets) + 1, np.int64)
        offsets[1:] = np.cumsum([syn.pre.size for _, _, syn in sets])
        arrays.update({
            "learned_projections": np.asarray([p for p, _, _ in sets], np.int64),
            "learned_roles": np.asarray([r for _, r, _ in sets], np.int64),
            "learned_offsets": offsets,
            "learned_pre": np.concatenate([np.asarray(x.pre, np.int32) for _, _, x in sets]
                                          + [np.zeros(0, np.int32)]),
            "learned_post": np.concatenate([np.asarray(x.post, np.int32) for _, _, x in sets]
                                           + [np.zeros(0, np.int32)]),
            "learned_weight": np.concatenate([np.asarray(x.weight, np.float32) for _, _, x in sets]
                                             + [np.zeros(0, np.float32)]),
            "fire_ledger": np.asarray(learned.ledger, np.int64),
        })
        meta["learned"] = True
    if rate_dividers:
        meta["rate_dividers"] = {str(a): int(k) for a, k in sorted(rate_dividers.items())}
    if state.carried_mask is not None and np.any(state.carried_mask):
        arrays["carried_input"] = np.asarray(state.carried_input, POTENTIAL_DTYPE)
        arrays["carried_mask"] = np.asarray(state.carried_mask, bool).astype(np.uint8)
        meta["carried"] = True
    if memory is not None:
        arrays["memory_state"] = np.frombuffer(json.dumps(memory).encode(), np.uint8)
        meta["memory"] = True
    if state.kept_potential is not None and np.any(state.kept_potential):
        arrays["kept_potential"] = np.asarray(state.kept_potential, bool).astype(np.uint8)
        meta["kept"] = True
    meta["payload_sha256"] = _payload_hash(arrays, meta)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@dataclass
class Learned:
    """What a brain with plastic projections learned, as a checkpoint keeps it: the synapses
    ``now`` (by projection), as the backend holds them (``uploaded``), the snapshots still in
    flight (``queue``: burst due, projection, synapses) and the fire ledger (int64[n])."""

    now: dict[int, LearnedSynapses]
    uploaded: dict[int, LearnedSynapses]
    queue: list[tuple[int, int, LearnedSynapses]]
    ledger: np.ndarray

    def sets(self) -> list[tuple[int, int, LearnedSynapses]]:
        """Every synapse set as ``(projection, role, synapses)`` (roles: module docstring)."""
        return ([(p, ROLE_NOW, s) for p, s in sorted(self.now.items())]
                + [(p, ROLE_UPLOADED, s) for p, s in sorted(self.uploaded.items())]
                + [(p, at, s) for at, p, s in self.queue])


def read_memory(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The memory areas' state a checkpoint holds, or ``None``. Raises what
    :func:`read_checkpoint` raises, and :class:`CheckpointCorruptError` for unreadable JSON."""
    meta, _, arrays = _read(path)
    if not meta.get("memory"):
        return None
    try:
        memory = json.loads(bytes(arrays["memory_state"]).decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointCorruptError(f"{path}: unreadable memory state ({e})") from e
    if not isinstance(memory, dict):
        raise CheckpointCorruptError(f"{path}: memory state is not an object")
    return memory


def read_learned(path: str | os.PathLike[str]) -> Learned | None:
    """What a checkpoint says its brain learned, or ``None`` when it holds nothing learned.

    Raises what :func:`read_checkpoint` raises, and :class:`CheckpointCorruptError` for an
    inconsistent layout."""
    meta, _, arrays = _read(path)
    if not meta.get("learned"):
        return None
    off = arrays["learned_offsets"]
    keys = arrays["learned_projections"]
    roles = arrays["learned_roles"]
    n = arrays["learned_pre"].size
    if (off.size != keys.size + 1 or roles.size != keys.size or off[0] != 0 or off[-1] != n
            or np.any(np.diff(off) < 0) or np.any(roles < ROLE_NOW)
            or arrays["learned_post"].size != n or arrays["learned_weight"].size != n):
        raise CheckpointCorruptError(f"{path}: inconsistent learned-synapse layout")
    learned = Learned({}, {}, [], arrays["fire_ledger"].copy())
    for k, role, a, b in zip(keys.tolist(), roles.tolist(), off[:-1], off[1:], strict=True):
        syn = LearnedSynapses(arrays["learned_pre"][a:b].copy(), arrays["learned_post"][a:b].copy(),
                              arrays["learned_weight"][a:b].copy())
        if role == ROLE_NOW:
            learned.now[k] = syn
        elif role == ROLE_UPLOADED:
            learned.uploaded[k] = syn
        else:
            learned.queue.append((role, k, syn))
    return learned


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], EngineState]:
    """Read and integrity-check a checkpoint; no compatibility checks.

    Returns ``(meta, state)``: the metadata dict (format, version, identity, sizes, burst,
    inhibition, seed, payload hash) and an :class:`~.state.EngineState` whose arrays have the
    dtypes of the module docstring (``state.validate`` is not called).
    Raises ``FileNotFoundError`` for a missing file,
    :class:`CheckpointCorruptError` for anything unreadable (not a checkpoint, wrong member
    types, payload hash mismatch, inconsistent history layout), and
    :class:`CheckpointMismatchError` for another format version.
    """
    meta, state, _ = _read(path)
    return meta, state


#: First bytes of a checkpoint: a zip archive (``.npz``) starts with a local file header.
_ZIP_MAGIC = b"PK\x03\x04"


def _check_archive(path: str | os.PathLike[str]) -> None:
    """Refuse a file that cannot be a checkpoint before NumPy reads it.

    ``np.load`` reads any file that is neither ``.npy`` nor a zip as a pickle and, with
    ``allow_pickle=False``, refuses it with advice to load it unsafely: text no user may
    follow (a checkpoint never holds pickled data), so such files never reach it. Also refused
    here: a directory, an empty file, a ``.npy`` array, and a zip archive cut short (a
    truncated checkpoint: its central directory is missing). Raises ``FileNotFoundError`` for
    a missing file, ``CheckpointCorruptError`` otherwise; other ``OSError`` pass through.
    """
    if os.path.isdir(path):
        raise CheckpointCorruptError(f"{path}: a directory, not a checkpoint file")
    with open(path, "rb") as f:
        head = f.read(len(_ZIP_MAGIC))
    if not head:
        raise CheckpointCorruptError(f"{path}: an empty file, not a checkpoint")
    if head != _ZIP_MAGIC:
        raise CheckpointCorruptError(f"{path}: not a checkpoint (a checkpoint is a zip archive "
                                     "of NumPy arrays, .npz; this file is no zip archive)")
    if not zipfile.is_zipfile(path):
        raise CheckpointCorruptError(f"{path}: an incomplete zip archive (truncated?), not a "
                                     "readable checkpoint")


def _read(path: str | os.PathLike[str]
          ) -> tuple[dict[str, Any], EngineState, dict[str, np.ndarray]]:
    try:
        _check_archive(path)
        with np.load(path, allow_pickle=False) as z:
            members = set(z.files)
            missing = {"meta", *_PAYLOAD} - members
            if missing:
                raise CheckpointCorruptError(
                    f"{path}: not an engine checkpoint (missing {sorted(missing)})"
                )
            meta = json.loads(bytes(z["meta"]).decode())
            names = _members(meta) if isinstance(meta, dict) else _PAYLOAD
            if set(names) - members:
                raise CheckpointCorruptError(f"{path}: members {sorted(set(names) - members)} "
                                             "missing")
            arrays = {name: z[name] for name in names}
    except FileNotFoundError:
        raise
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        if "pickle" in str(e):
            # NumPy's refusal of an object array names allow_pickle: a checkpoint holds no
            # Python objects, so that advice must not reach a user (see _check_archive).
            raise CheckpointCorruptError(f"{path}: not an engine checkpoint (a member holds "
                                         "Python objects, which a checkpoint never does)") from e
        raise CheckpointCorruptError(f"{path}: unreadable checkpoint ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise CheckpointCorruptError(f"{path}: not an engine checkpoint")
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointMismatchError(
            f"{path}: checkpoint format version {meta.get('version')!r}, "
            f"this engine reads version {FORMAT_VERSION}"
        )
    for name, dtype in _DTYPES.items():
        if name not in arrays:
            continue
        if arrays[name].dtype != dtype or arrays[name].ndim != 1:
            raise CheckpointCorruptError(f"{path}: member {name} has the wrong type")
    if _payload_hash(arrays, meta) != meta.get("payload_sha256"):
        raise CheckpointCorruptError(f"{path}: payload checksum mismatch (file corrupted)")
    off = arrays["history_offsets"]
    n_idx = arrays["history_index"].size
    if (
        off.size < 1
        or off[0] != 0
        or off[-1] != n_idx
        or np.any(np.diff(off) < 0)
        or arrays["history_psp"].size != n_idx
    ):
        raise CheckpointCorruptError(f"{path}: inconsistent fired-history layout")
    history = [
        (arrays["history_index"][a:b].copy(), arrays["history_psp"][a:b].copy())
        for a, b in zip(off[:-1], off[1:], strict=True)
    ]
    state = EngineState(
        potentials=arrays["potentials"],
        refractory_countdown=arrays["refractory_countdown"],
        fire_counts=arrays["fire_counts"],
        burst=int(meta["burst"]),
        history=history,
        kept_potential=arrays["kept_potential"].astype(bool) if "kept_potential" in arrays else None,
        carried_input=arrays.get("carried_input"),
        carried_mask=arrays["carried_mask"].astype(bool) if "carried_mask" in arrays else None,
    )
    return meta, state, arrays


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    identity: str,
    neuron_count: int,
    synapse_count: int,
    history_length: int,
    inhibition: str,
    seed: int,
    rate_dividers: dict[int, int] | None = None,
) -> EngineState:
    """Read a checkpoint and check that it belongs to this brain and engine.

    The keyword arguments are what the running engine has (the same values
    :func:`save_checkpoint` stores, plus ``neuron_count`` and ``history_length``, the number of
    past bursts it keeps). Returns the validated :class:`~.state.EngineState`. Raises what
    :func:`read_checkpoint` raises; :class:`CheckpointMismatchError` (listing every differing
    field) when identity, sizes, inhibition or seed differ; :class:`CheckpointCorruptError`
    when the state fails :meth:`~.state.EngineState.validate`.
    """
    meta, state = read_checkpoint(path)
    expected = {
        "connectome_identity": identity,
        "neuron_count": neuron_count,
        "synapse_count": synapse_count,
        "history_length": history_length,
        "inhibition": inhibition,
        "seed": seed,
    }
    # Multi-rate areas change the continuation; files without them ran every area every burst.
    expected_dividers = {str(a): int(k) for a, k in sorted((rate_dividers or {}).items())}
    if meta.get("rate_dividers", {}) != expected_dividers:
        expected["rate_dividers"] = expected_dividers
    wrong = [f"{k}: file {meta.get(k)!r}, engine {v!r}" for k, v in expected.items()
             if meta.get(k) != v]  # fmt: skip
    if wrong:
        raise CheckpointMismatchError(
            f"{path}: checkpoint belongs to another brain or configuration (" + "; ".join(wrong)
            + ")"
        )
    try:
        state.validate(neuron_count, history_length)
    except ValueError as e:
        raise CheckpointCorruptError(f"{path}: {e}") from e
    return state
