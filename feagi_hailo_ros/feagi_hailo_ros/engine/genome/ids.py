"""FEAGI cortical ids: the current 8-byte ids, the migration of legacy 6-character ids, the
aliases that let an old id find a FEAGI-saved area, FEAGI's area types and its core areas.

FEAGI's current cortical id is 8 bytes, written in JSON as base64 (``GET /v1/genome/download``);
its first byte is the area type (feagi-core ``crates/feagi-structures/src/genomic/cortical_area/
cortical_id.rs``): ``i`` input (IPU), ``o`` output (OPU), ``c`` custom, ``m`` memory, ``_`` core.
An IPU/OPU id is ``[i|o, u0, u1, u2, flag_lo, flag_hi, sub-unit, unit index]``: a 3-letter unit
code (``pro`` proximity, ``mot`` rotary motor, ... from ``templates/sensor_cortical_units.rs`` /
``motor_cortical_units.rs``), the IO configuration flag as a little-endian u16 (the variant number,
+256 for incremental frames, +512 for fractional positioning:
``io_cortical_area_configuration_flag.rs``), the unit's sub-area and the unit (group) index.

Legacy ids (v2 genomes: ``i__pro``, ``o__mot``, ``c__obl``, ``___pwr``) are migrated as FEAGI's
migrator does (feagi-core ``crates/feagi-evolutionary/src/genome/migrator.rs`` and
``parser.rs string_to_cortical_id``), checked against FEAGI 2.6.10's own re-saves
(``test/data/genomes/feagi_v3``):

* ``_power`` / ``___pwr`` -> ``___power``, ``_death`` -> ``___death``;
* ``iicN00`` (N = 0..8) -> segmented vision sub-area N; ``iv00XX`` (XX = BL BM BR ML _C MR TL TM
  TR) -> segmented vision tile 0..8; ``omot00`` -> rotary motor; ``ogaz00`` -> gaze;
* any other 6-character ``i``/``o`` id whose letters (underscores dropped) are a FEAGI unit code
  of that direction -> that unit's first area, absolute frames, linear positioning, sub-unit 0,
  group 0: ``i__pro`` -> ``ipro\\x01\\x00\\x00\\x00`` (``aXBybwEAAAA=``), ``o__mot`` ->
  ``omot\\x05\\x00\\x00\\x00`` (``b21vdAUAAAA=``), as FEAGI 2.6.10 measurably does. FEAGI turns an
  ``i``/``o`` shorthand whose unit it does not know into a *custom* area under an id it picks;
  that id is not reproduced here (the area keeps its padded id and type CUSTOM, with a note);
* everything else is padded with ``_`` to 8 bytes (``c__obl`` -> ``c__obl__``).

The reverse (:func:`legacy_alias`) gives a FEAGI-saved area the legacy id it came from, so
configurations and schedules written for ``i__pro`` keep working on a FEAGI re-save.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

__all__ = [
    "AREA_TYPES",
    "CORE_AREAS",
    "POWER_ASCII",
    "CoreArea",
    "decode_id",
    "encode_id",
    "feagi_type",
    "legacy_alias",
    "migrate_legacy_id",
]

#: FEAGI's area types, by the first byte of the id.
AREA_TYPES = {"i": "IPU", "o": "OPU", "c": "CUSTOM", "m": "MEMORY", "_": "CORE"}

#: The 8 bytes of FEAGI's power area id.
POWER_ASCII = "___power"

# IO configuration flag variants (io_cortical_area_configuration_flag.rs).
_BOOLEAN, _PERCENT, _PERCENT_2D, _SIGNED, _SIGNED_3D, _SIGNED_4D, _CARTESIAN, _MISC = (
    0, 1, 2, 5, 7, 8, 9, 10)

#: Unit code -> flag variant of the unit's first area (feagi-structures templates).
SENSOR_UNITS = {
    "inf": _PERCENT, "pro": _PERCENT, "shk": _PERCENT, "bat": _PERCENT, "svm": _PERCENT,
    "agp": _PERCENT, "dgp": _BOOLEAN, "mis": _MISC, "ten": _MISC, "cnt": _PERCENT,
    "img": _CARTESIAN, "svi": _CARTESIAN, "acc": _SIGNED_3D, "gyq": _SIGNED_4D,
}
MOTOR_UNITS = {
    "mot": _SIGNED, "pse": _SIGNED, "gaz": _PERCENT_2D, "mis": _MISC, "ten": _MISC,
    "cnt": _PERCENT, "seg": _MISC, "img": _CARTESIAN, "ifs": _PERCENT,
}
# Legacy segmented-vision tile suffixes -> tile index (migrator.rs).
_VISION_TILES = {"BL": 0, "BM": 1, "BR": 2, "ML": 3, "_C": 4, "MR": 5, "TL": 6, "TM": 7, "TR": 8}


@dataclass(frozen=True)
class CoreArea:
    """One of FEAGI's core areas, as FEAGI 2.6.10 adds it to a genome that lacks it.

    ``ascii_id`` is the 8-byte id, ``name`` FEAGI's name, ``position`` (x, y, z) voxels; the
    neuron genes are FEAGI's template defaults (feagi-core ``templates.rs``
    ``get_default_neural_properties``, ``create_*_area``), the positions those of FEAGI's re-save
    ``obstacle_avoidance.v3.json``.
    """

    ascii_id: str
    name: str
    position: tuple[int, int, int]
    fire_threshold: float = 0.1
    psp: float = 500.0
    excitability: float = 1.0


#: FEAGI 2.6.10's core areas (1x1x1 each; the power area fires every burst). FEAGI adds every
#: one a genome lacks (``ensure_core_components``: "Added missing core area: _death ... _hope").
CORE_AREAS = (
    CoreArea("___death", "Death", (0, 0, -20)),
    CoreArea(POWER_ASCII, "Brain_Power", (0, 0, -20), excitability=100.0),
    CoreArea("___fatig", "Fatigue", (0, 0, -30)),
    CoreArea("___pain_", "Pain", (0, 0, -40)),
    CoreArea("___pleas", "Pleasure", (0, 0, -50)),
    CoreArea("___fear_", "Fear", (0, 0, -60)),
    CoreArea("___hope_", "Hope", (0, 0, -70)),
)


def encode_id(raw: bytes) -> str:
    """The base64 text FEAGI writes for 8 id bytes (``b"___power"`` -> ``"X19fcG93ZXI="``)."""
    return base64.b64encode(raw).decode("ascii")


def decode_id(cid: str) -> bytes | None:
    """The 8 bytes of a base64 cortical id, or ``None`` when ``cid`` is not 8 bytes in base64."""
    if len(cid) != 12:
        return None
    try:
        raw = base64.b64decode(cid, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 8 else None


def _io_id(direction: str, unit: str, variant: int, sub_unit: int = 0, group: int = 0) -> bytes:
    return (direction + unit).encode("ascii") + bytes((variant & 0xFF, variant >> 8,
                                                       sub_unit, group))


def migrate_legacy_id(cid: str) -> tuple[bytes, str]:
    """FEAGI's id bytes for a legacy (6 or 8 ASCII character) id, and a note ("" if none).

    Rules in the module docstring (feagi-core ``genome/migrator.rs``, ``genome/parser.rs``, and
    FEAGI 2.6.10's measured migration of ``i__pro``/``o__mot``). ``cid`` is ASCII; returns
    ``(8 bytes, note)``. The note is set when FEAGI would make the area a custom area under an id
    of its own choosing (an ``i``/``o`` shorthand of an unknown unit): the caller then types the
    area ``CUSTOM``, as FEAGI does.
    """
    if cid in ("_power", "___pwr", POWER_ASCII):
        return POWER_ASCII.encode(), ""
    if cid == "_death":
        return b"___death", ""
    if len(cid) == 6 and cid[0] in "io":
        direction = cid[0]
        if cid.startswith("iic") and cid[3].isdigit() and int(cid[3]) <= 8:
            return _io_id("i", "svi", _CARTESIAN, int(cid[3])), ""
        if cid.startswith("iv00") and cid[4:] in _VISION_TILES:
            return _io_id("i", "svi", _CARTESIAN, _VISION_TILES[cid[4:]]), ""
        if cid == "omot00":
            return _io_id("o", "mot", _SIGNED), ""
        if cid == "ogaz00":
            return _io_id("o", "gaz", _PERCENT_2D), ""
        units = SENSOR_UNITS if direction == "i" else MOTOR_UNITS
        code = cid[1:].replace("_", "")
        if code in units:
            return _io_id(direction, code, units[code]), ""
        return cid.ljust(8, "_").encode("ascii"), (
            f"legacy {'input' if direction == 'i' else 'output'} id {cid!r}: {code!r} is not a "
            "FEAGI unit; FEAGI turns such an area into a custom area under an id of its own "
            f"(not reproduced here): kept as {cid.ljust(8, '_')!r}, type CUSTOM")
    return cid.ljust(8, "_").encode("ascii"), ""


def legacy_alias(raw: bytes) -> str:
    """The legacy 6-character id FEAGI's migrator turns into these 8 bytes, or ``""``.

    ``i``/``o`` ids of sub-unit 0 and group 0 answer ``<i|o>__<unit>`` (``ipro\\x01\\0\\0\\0`` ->
    ``i__pro``); the power area answers ``___pwr``, the death area ``_death``; other printable
    ids ending in ``__`` answer their first 6 characters (``c__obl__`` -> ``c__obl``).
    """
    if len(raw) != 8:
        return ""
    if raw == POWER_ASCII.encode():
        return "___pwr"
    if raw == b"___death":
        return "_death"
    if raw[:1] in (b"i", b"o") and raw[6:] == b"\x00\x00" and raw[1:4].isalpha():
        return raw[:1].decode() + "__" + raw[1:4].decode()
    text = raw.decode("ascii", errors="replace")
    if text.isprintable() and text.endswith("__") and text[0] in AREA_TYPES:
        return text[:6]
    return ""


def feagi_type(raw: bytes, group: str = "", memory: bool = False) -> str:
    """FEAGI's area type (``IPU``, ``OPU``, ``CUSTOM``, ``MEMORY`` or ``CORE``).

    From the first id byte (feagi-structures ``cortical_id.rs``); ids FEAGI would not accept
    (another first byte, only possible in old v2 genomes) fall back on the ``_group`` gene, then
    on ``MEMORY`` when the ``memory`` gene is set, else ``CUSTOM``.
    """
    first = raw[:1].decode("ascii", errors="replace")
    if first in AREA_TYPES:
        return AREA_TYPES[first]
    if group.upper() in AREA_TYPES.values():
        return group.upper()
    return "MEMORY" if memory else "CUSTOM"
