"""Save a built :class:`~feagi_hailo_ros.engine.core.connectome.Connectome` to one file and load it back.

Building a large genome means running every morphology; loading a saved
connectome is reading a few arrays. The file is a numpy ``.npz`` (a zip of
``.npy`` arrays, written with :func:`numpy.savez`, read with
``allow_pickle=False`` so a file can never execute code):

``header``
    UTF-8 JSON as a uint8 array: ``format`` (``"feagi-hailo-connectome"``),
    ``format_version``, ``payload_sha256``, ``genome_checksum`` and ``meta`` (areas,
    projection scalars, power area, notes).
``pre_<i>``, ``post_<i>`` (and ``weights_<i>`` when present)
    The synapse arrays of projection ``i``.

``payload_sha256`` covers the canonical ``meta`` JSON and every array (name,
dtype, shape, bytes), so any corruption the zip's own CRC might miss, any
truncation, and any hand edit are detected. Every failure to read is a
:class:`~.errors.ConnectomeFileError` with the file name in the message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import tempfile
import zipfile
from typing import Any

import numpy as np

from ..core.connectome import AreaSpec, Connectome, PlasticityRule, Projection
from .errors import ConnectomeFileError

FORMAT = "feagi-hailo-connectome"
FORMAT_VERSION = 1

_PROJECTION_SCALARS = ("index", "src_area", "dst_area", "weight", "delay", "morphology",
                       "rule_index", "plastic")


def _meta(connectome: Connectome) -> dict[str, Any]:
    areas = [dataclasses.asdict(a) for a in connectome.areas]
    projections = []
    for p in connectome.projections:
        d = {k: getattr(p, k) for k in _PROJECTION_SCALARS}
        d["has_weights"] = p.weights is not None
        if p.plasticity is not None:
            d["plasticity"] = dataclasses.asdict(p.plasticity)
        projections.append(d)
    return {"areas": areas, "projections": projections, "power_area": connectome.power_area,
            "notes": list(connectome.notes)}


def _arrays(connectome: Connectome) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for i, p in enumerate(connectome.projections):
        arrays[f"pre_{i}"] = np.ascontiguousarray(p.pre)
        arrays[f"post_{i}"] = np.ascontiguousarray(p.post)
        if p.weights is not None:
            arrays[f"weights_{i}"] = np.ascontiguousarray(p.weights)
    return arrays


def _meta_text(meta: dict[str, Any]) -> str:
    # allow_nan: a threshold limit of "none" is inf; Python's JSON round-trips it.
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _payload_digest(meta_text: str, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    h.update(meta_text.encode("utf-8"))
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"\x00{name}\x00{a.dtype.str}\x00{a.shape}\x00".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def save_connectome(connectome: Connectome, path: str | os.PathLike) -> pathlib.Path:
    """Write ``connectome`` to ``path`` (atomically: a temp file is renamed into place).

    The layout is in the module docstring (format version :data:`FORMAT_VERSION`); the
    synapse arrays are stored with their dtypes as they are. Parent directories are created.
    Returns ``path`` as a :class:`pathlib.Path`. Raises ``OSError`` when the file cannot be
    written (the temp file is removed and an existing ``path`` is left untouched).
    """
    path = pathlib.Path(path)
    meta = _meta(connectome)
    meta_text = _meta_text(meta)
    arrays = _arrays(connectome)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "payload_sha256": _payload_digest(meta_text, arrays),
        "genome_checksum": connectome.source_checksum,
        "meta": meta,
    }
    header_bytes = np.frombuffer(_meta_text(header).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:  # a file object: numpy adds no ".npz" suffix
            np.savez(f, header=header_bytes, **arrays)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_connectome(path: str | os.PathLike, *,
                    expected_genome_checksum: str | None = None) -> Connectome:
    """Read a file written by :func:`save_connectome`.

    ``expected_genome_checksum`` (e.g. ``load_genome(...).checksum``) makes a
    file built from another genome an error instead of a silent swap. Returns the
    :class:`~feagi_hailo_ros.engine.core.connectome.Connectome` (arrays with the dtypes they
    were saved with, ``source_checksum`` from the file).

    Raises :class:`~.errors.ConnectomeFileError` (with the file name) for every failure: the
    file is missing or unreadable, not an ``.npz`` connectome, of another format version,
    corrupted or truncated (payload checksum), built from another genome than expected, or
    holding metadata that does not make a connectome.
    """
    path = pathlib.Path(path)
    name = str(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ConnectomeFileError("not a connectome file (a bare .npy array)", name)
        with loaded as npz:
            if "header" not in npz.files:
                raise ConnectomeFileError("not a connectome file (no header)", name)
            header_raw = npz["header"]
            arrays = {k: npz[k] for k in npz.files if k != "header"}
    except ConnectomeFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile,
            zipfile.LargeZipFile, RuntimeError, NotImplementedError) as exc:
        raise ConnectomeFileError(f"cannot read connectome file ({exc.__class__.__name__}: "
                                  f"{exc}); corrupted or truncated?", name) from exc
    # NpzFile hands back raw bytes for a member that is not a valid .npy array.
    if not isinstance(header_raw, np.ndarray) or header_raw.dtype != np.uint8:
        raise ConnectomeFileError("header is not a byte array", name)
    if any(not isinstance(a, np.ndarray) for a in arrays.values()):
        raise ConnectomeFileError("a member is not a numpy array", name)
    try:
        header = json.loads(header_raw.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConnectomeFileError(f"header is not valid JSON: {exc}", name) from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ConnectomeFileError("not a feagi_hailo_ros connectome file", name)
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ConnectomeFileError(f"format version {version!r} is not supported (this build "
                                  f"reads version {FORMAT_VERSION}); rebuild from the genome",
                                  name)
    meta = header.get("meta")
    if not isinstance(meta, dict):
        raise ConnectomeFileError("header has no metadata", name)
    if _payload_digest(_meta_text(meta), arrays) != header.get("payload_sha256"):
        raise ConnectomeFileError("payload checksum mismatch: the file is corrupted", name)
    genome_checksum = header.get("genome_checksum", "")
    if expected_genome_checksum is not None and genome_checksum != expected_genome_checksum:
        raise ConnectomeFileError(f"built from genome {genome_checksum[:12]}..., expected "
                                  f"{expected_genome_checksum[:12]}...", name)
    try:
        return _rebuild(meta, arrays, genome_checksum)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConnectomeFileError(f"inconsistent metadata: {exc}", name) from exc


def _rebuild(meta: dict[str, Any], arrays: dict[str, np.ndarray], checksum: str) -> Connectome:
    areas = []
    for d in meta["areas"]:
        d = dict(d)
        for key in ("dims", "position", "threshold_increment"):
            d[key] = tuple(d[key])
        # Files written before FEAGI ids and float PSPs lack the newer fields (their defaults
        # apply) and hold an integer PSP.
        d["psp"] = float(d["psp"])
        areas.append(AreaSpec(**d))
    projections = []
    for i, d in enumerate(meta["projections"]):
        d = dict(d)
        has_weights = d.pop("has_weights")
        # Files written before plasticity was modelled have no rule: their projections load
        # static, as they ran then.
        rule = d.pop("plasticity", None)
        projections.append(Projection(pre=arrays[f"pre_{i}"], post=arrays[f"post_{i}"],
                                      weights=arrays[f"weights_{i}"] if has_weights else None,
                                      plasticity=PlasticityRule(**rule) if rule else None,
                                      **d))
    return Connectome(areas=areas, projections=projections, power_area=meta["power_area"],
                      source_checksum=checksum, notes=list(meta["notes"]))
