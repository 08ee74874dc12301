"""FEAGI genome (JSON) -> the plain dataclasses of :mod:`.model`: :class:`~.model.Genome`,
:class:`~.model.AreaGenes`, :class:`~.model.MappingRule`, :class:`~.model.Morphology`.

(Those names, :data:`~.model.GenomeSource` and the range constants stay importable from here.)

Formats read (facts from FEAGI's sources; nothing here is copied from them):

* **v2** (``"version": "2.0"``/``"2.1"``): a *flat* blueprint whose keys are
  ``_____10c-<cortical id>-<cx|nx>-<gene>-<type>``, cortical ids of 6 ASCII
  characters (``i__pro``, ``o__mot``, ``___pwr``), mapping rules (gene ``dstmap``)
  as arrays ``[morphology_id, morphology_scalar, psc_multiplier, plasticity_flag,
  plasticity_constant, ltp_multiplier, ltd_multiplier, plasticity_window,
  synaptic_delay_bursts]`` of which the first four are required
  (feagi/feagi ``src/evo/genome_processor.py`` ``genome_2_1_convertor``;
  feagi-core ``crates/feagi-evolutionary/src/converter_flat_full.rs``).
* **v3** (``"version": "3.0"`` and/or an integer ``genome_schema_version`` >= 3,
  feagi-core ``genome/schema/detector.rs``): the same flat keys, but cortical ids
  are 8-byte ids written in base64 (``X19fcG93ZXI=`` is ``___power``), and rules
  may be objects ``{"morphology_id", "morphology_scalar",
  "postSynapticCurrent_multiplier", "plasticity_flag", "plasticity_constant",
  "ltp_multiplier", "ltd_multiplier", "plasticity_window",
  "synaptic_delay_bursts", "synapse_attractivity"}``
  (feagi-core ``converter_hierarchical_to_flat.rs``). Legacy 6-character ids are
  still accepted there, as feagi-core does.
* A *hierarchical* blueprint (``{"<id>": {"cortical_name": ..., "block_boundaries":
  [x, y, z], "cortical_mapping_dst": {...}, ...}}``, the in-memory form FEAGI's
  migrations work on) is read too, with the same genes under their long names.

What FEAGI accepts is accepted (DESIGN §4, last paragraph): in a flat blueprint every key that
is not a ``_____10c-`` cortical gene (the ``_____10b-`` species keys of FEAGI's own default
genomes) is ignored with a note (feagi-core ``converter_flat_full.rs parse_cortical_id``); a
morphology entry without a type (``{}``, ``{"parameters": {}}``) is an untyped placeholder that
only a mapping using it makes an error (:mod:`.builder`); the legacy morphology ids ``memory``
and ``bi_directional_stdp`` are renamed ``episodic_memory`` / ``associative_memory`` in the
morphology section and in every rule (feagi-core ``genome/migrator.rs``). Each area also gets
its FEAGI id, legacy id and FEAGI type (:mod:`.ids`: 8-byte ids are read as they are, legacy
6-character ids migrated as FEAGI's migrator does).

Genes used (flat code, long name, default when absent):
``__name`` cortical_name (the id), ``_group`` group_id ("CUSTOM"), ``subgrp``
sub_group_id (""), ``___bbx/y/z`` block_boundaries (**required**, > 0),
``rcordx/y/z`` relative_coordinate (0), ``_n_cnt`` per_voxel_neuron_cnt (1),
``dstmap`` cortical_mapping_dst ({}), ``synatt`` synapse_attractivity (100),
``pstcr_`` postsynaptic_current (1), ``pspuni`` psp_uniform_distribution (false;
true for the power area), ``fire_t`` firing_threshold (1), ``ftincx/y/z``
firing_threshold_increment (0), ``fthlim`` firing_threshold_limit (0 = none),
``refrac`` refractory_period (0), ``leak_c`` leak_coefficient (0), ``c_fr_c``
consecutive_fire_cnt_max (0 = none), ``snooze`` snooze_length (0), ``excite`` neuron_excitability (100),
``mp_acc`` mp_charge_accumulation (false), ``mp_psp`` mp_driven_psp (false),
``memory`` is_mem_type (false), and the memory genes (DESIGN §4.7) ``tmpdpt``
temporal_depth (1), ``mem_ls`` init_lifespan (9), ``mem_gr`` lifespan_growth_rate (1),
``mem__t`` longterm_mem_threshold (100). Defaults follow feagi/feagi ``genome_processor.py``
``genome_1_template`` and feagi-core's ``converter_flat_full.rs`` /
``CorticalAreaExt`` accessors; where they disagree (``mp_acc``: true in the Python
template, false in feagi-core) feagi-core wins, because DESIGN §4 reproduces
feagi-core's engine. Power area defaults (``pspuni`` true) are feagi-core's
``apply_power_area_defaults``.

Genes FEAGI parses but does not use in the burst engine are read and ignored:
``leak_v`` (leak variability), ``de_gen`` (degeneration), ``pstcrm`` (PSP max),
and the presentation/memory-bookkeeping genes ``gd_vis``,
``2dcorx``/``2dcory``, ``__rand``, ``mplrn``, ``mnwin``, ``scnsk``, ``devcnt``, ``twinrf``,
``hmlk``. Any other gene name is ignored with a note in :attr:`Genome.notes`.

Values are checked strictly: NaN/inf, a float where FEAGI stores an integer
(1.5 neurons per voxel), a non-bool flag, a non-positive dimension, a
non-positive delay all raise a :class:`~.errors.GenomeError` subclass whose
message starts with the key path. Values FEAGI reads differently from how they are written
(a negative PSP, an excitability above 1) are converted later by the builder, with a note.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import json
import math
import os
import pathlib
import re
from collections.abc import Container, Iterable, Mapping
from typing import Any

from .errors import (
    GeneTypeError,
    GeneValueError,
    GenomeError,
    GenomeFileError,
    GenomeSyntaxError,
    MissingGeneError,
)
from .ids import decode_id, encode_id, feagi_type, legacy_alias, migrate_legacy_id
from .model import (
    FLOAT32_MAX,
    INT32_MAX,
    MAX_DELAY_BURSTS,
    MORPHOLOGY_TYPES,
    POWER_IDS,
    UINT16_MAX,
    AreaGenes,
    Genome,
    GenomeSource,
    MappingRule,
    Morphology,
)
from .morphology import parse_pattern_token

FLAT_PREFIX = "_____10c-"
#: Highest ``genome_schema_version`` known to use the layout read here.
MAX_SCHEMA_VERSION = 7
#: Largest genome text :func:`load_genome` decodes (bytes). The shipped genomes are about 30 kB;
#: the limit leaves room for far larger FEAGI brains and only stops a request or a file from
#: making the decoder allocate without bound.
MAX_GENOME_BYTES = 64 * 2**20
#: Deepest nesting of JSON arrays and objects :func:`load_genome` decodes. A FEAGI genome nests
#: about 7 deep (morphologies → id → parameters → patterns → pattern → coordinates); the limit
#: keeps the decoder and the parser far from Python's recursion limit, whose RecursionError
#: would otherwise surface from wherever the stack ran out.
MAX_JSON_DEPTH = 64
# A JSON string (escapes included), and one bracket; used by the depth check of _decode_json.
_RE_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_RE_JSON_BRACKET = re.compile(r"[\[\]{}]")

_RE_LEGACY_ID = re.compile(r"^[A-Za-z0-9_]{6}([A-Za-z0-9_]{2})?$")
# A flat gene key of any gene class: "_____10c-..." (cortical), "_____10b-..." (species), ...
_RE_FLAT_KEY = re.compile(r"^_____\d\d[a-z]-")

# gene code -> (kind, default). Kinds: int, float, bool, text, map. ``None``
# default = required.
_GENES: dict[str, tuple[str, Any]] = {
    "__name": ("text", None),  # default filled with the cortical id
    "_group": ("text", "CUSTOM"),
    "subgrp": ("text", ""),
    "___bbx": ("int", None),
    "___bby": ("int", None),
    "___bbz": ("int", None),
    "rcordx": ("int", 0),
    "rcordy": ("int", 0),
    "rcordz": ("int", 0),
    "_n_cnt": ("int", 1),
    "dstmap": ("map", None),  # default {}
    "synatt": ("float", 100.0),
    "pstcr_": ("float", 1.0),
    "pspuni": ("bool", False),
    "fire_t": ("float", 1.0),
    "ftincx": ("float", 0.0),
    "ftincy": ("float", 0.0),
    "ftincz": ("float", 0.0),
    "fthlim": ("float", 0.0),
    "refrac": ("int", 0),
    "leak_c": ("float", 0.0),
    "c_fr_c": ("int", 0),
    "snooze": ("float", 0.0),
    "excite": ("float", 100.0),
    "mp_acc": ("bool", False),
    "mp_psp": ("bool", False),
    "memory": ("bool", False),
    # Memory areas (DESIGN §4.7; defaults: feagi-evolutionary extract_memory_properties).
    "tmpdpt": ("int", 1),
    "mem_ls": ("int", 9),
    "mem_gr": ("float", 1.0),  # an f32 in FEAGI, truncated where it is added
    "mem__t": ("int", 100),
}
_IGNORED_GENES = frozenset({
    "leak_v", "de_gen", "pstcrm", "gd_vis", "2dcorx", "2dcory", "__rand",
    "mplrn", "mnwin", "scnsk", "devcnt", "twinrf",
    "hmlk",
})
# Long (hierarchical) names -> gene code.
_LONG_NAMES = {
    "cortical_name": "__name", "group_id": "_group", "cortical_group": "_group",
    "sub_group_id": "subgrp", "per_voxel_neuron_cnt": "_n_cnt",
    "cortical_mapping_dst": "dstmap", "synapse_attractivity": "synatt",
    "postsynaptic_current": "pstcr_", "psp_uniform_distribution": "pspuni",
    "firing_threshold": "fire_t", "firing_threshold_increment_x": "ftincx",
    "firing_threshold_increment_y": "ftincy", "firing_threshold_increment_z": "ftincz",
    "firing_threshold_limit": "fthlim", "refractory_period": "refrac",
    "leak_coefficient": "leak_c", "consecutive_fire_cnt_max": "c_fr_c",
    "neuron_excitability": "excite", "mp_charge_accumulation": "mp_acc",
    "mp_driven_psp": "mp_psp", "is_mem_type": "memory", "snooze_length": "snooze",
    "temporal_depth": "tmpdpt", "init_lifespan": "mem_ls", "lifespan_growth_rate": "mem_gr",
    "longterm_mem_threshold": "mem__t",
}
_LONG_IGNORED = frozenset({
    "leak_variability", "degeneration", "postsynaptic_current_max",
    "visualization", "2d_coordinate", "coordinates_2d", "location_generation_type",
    "cortical_type", "mp_learning_enabled", "min_window_activity", "scan_skip_density",
    "dev_count", "memory_twin_of", "rate_modulated_leak", "plasticity_constant",
    "burst_engine_activation", "properties", "cortical_id", "firing_threshold_increment",
    "visualization_voxel_granularity", "parent_region_id", "sub_group",
})
_AXIS_GENES = {
    "block_boundaries": ("___bbx", "___bby", "___bbz"),
    "relative_coordinate": ("rcordx", "rcordy", "rcordz"),
}
_AXIS_DICTS = {
    "cortical_dimensions": (("width", "height", "depth"), ("___bbx", "___bby", "___bbz")),
    "coordinates_3d": (("x", "y", "z"), ("rcordx", "rcordy", "rcordz")),
}

# FEAGI's core morphologies, as FEAGI 2.6.10 (engine 0.0.67) installs them: feagi-core
# crates/feagi-evolutionary/src/templates.rs add_core_morphologies (the names also appear in the
# engine binary). They replace a same-named genome entry, as FEAGI does.
_FUNCTION = {"type": "functions", "parameters": {}}
_CORE_MORPHOLOGIES: dict[str, dict[str, Any]] = {
    "block_to_block": {"type": "vectors", "parameters": {"vectors": [[0, 0, 0]]}},
    "projector": _FUNCTION,
    "centered_projector": _FUNCTION,
    "transpose_xy": _FUNCTION,
    "transpose_yz": _FUNCTION,
    "transpose_xz": _FUNCTION,
    "sweeper": _FUNCTION,
    "last_to_first": _FUNCTION,
    "first_to_last": _FUNCTION,
    "episodic_memory": _FUNCTION,
    "memory_replay": _FUNCTION,
    "associative_memory": _FUNCTION,
    "rotator_z": _FUNCTION,
    **{f"bitmask_{kind}_{axis}": _FUNCTION for kind in ("encoder", "decoder") for axis in "xyz"},
    "0-0-0_to_all": {"type": "patterns",
                     "parameters": {"patterns": [[[0, 0, 0], ["*", "*", "*"]]]}},
    "all_to_0-0-0": {"type": "patterns",
                     "parameters": {"patterns": [[["*", "*", "*"], [0, 0, 0]]]}},
    "tile": {"type": "composite", "parameters": {"src_seed": [16, 16, 1],
                                                 "src_pattern": [[1, 0], [1, 0], [1, 0]],
                                                 "mapper_morphology": "projector"}},
    "lateral_+x": {"type": "vectors", "parameters": {"vectors": [[1, 0, 0]]}},
    "lateral_-x": {"type": "vectors", "parameters": {"vectors": [[-1, 0, 0]]}},
    "lateral_+y": {"type": "vectors", "parameters": {"vectors": [[0, 1, 0]]}},
    "lateral_-y": {"type": "vectors", "parameters": {"vectors": [[0, -1, 0]]}},
    "lateral_+z": {"type": "vectors", "parameters": {"vectors": [[0, 0, 1]]}},
    "lateral_-z": {"type": "vectors", "parameters": {"vectors": [[0, 0, -1]]}},
}
# Morphologies of FEAGI's default genomes (feagi-core genomes/*.json, the genomes embedded in the
# engine) that are not core any more: provided when a genome uses them without defining them
# (older genomes relied on the Python FEAGI's core set); a genome's own definition wins.
_FALLBACK_MORPHOLOGIES: dict[str, dict[str, Any]] = {
    "all_to_all": {"type": "patterns",
                   "parameters": {"patterns": [[["*", "*", "*"], ["*", "*", "*"]]]}},
    "randomizer": _FUNCTION,
    "expander_x": _FUNCTION,
    "reducer_x": _FUNCTION,
    "lateral_pairs_x": _FUNCTION,
}
# Legacy morphology ids FEAGI renames, in the morphology section and in every rule
# (feagi-core genome/migrator.rs migrate_morphology_ids).
_RENAMED_MORPHOLOGIES = {"memory": "episodic_memory", "bi_directional_stdp": "associative_memory"}


# --------------------------------------------------------------------------- loading


def load_genome(source: GenomeSource) -> Genome:
    """Parse a genome from a path, JSON text (str/bytes) or an already-decoded dict.

    A ``str`` whose first non-blank character is ``{`` or ``[`` is JSON text; any other
    ``str`` (or an ``os.PathLike``) is a file path. Text and files are UTF-8 (a BOM is
    allowed); a ``Mapping`` is parsed as it is. Returns the :class:`~.model.Genome`
    (see :func:`parse_genome`).

    ``bytes`` are always JSON text, never a path: a caller holding text from outside (the
    node's ``~/upload`` ``genome_json``) passes it encoded, so text that happens not to start
    with ``{`` cannot make this read a file.

    Raises only :class:`~.errors.GenomeError` subclasses for bad input:
    :class:`~.errors.GenomeFileError` when the file cannot be read (missing, unreadable,
    a NUL byte in the path); :class:`~.errors.GenomeSyntaxError` for text that is not
    UTF-8 or not JSON, longer than :data:`MAX_GENOME_BYTES`, nested deeper than
    :data:`MAX_JSON_DEPTH`, duplicate keys in an object, ``NaN``/``Infinity`` literals, or a
    source of another type; then whatever :func:`parse_genome` raises.
    """
    if isinstance(source, Mapping):
        obj = source
    else:
        if isinstance(source, (bytes, bytearray)):
            raw = bytes(source)
        elif isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
            raw = source.encode("utf-8", errors="surrogatepass")
        elif isinstance(source, (str, os.PathLike)):
            try:
                raw = pathlib.Path(source).read_bytes()
            except (OSError, ValueError) as exc:  # ValueError: NUL byte in the path
                shown = str(source) if len(str(source)) < 200 else str(source)[:200] + "..."
                raise GenomeFileError(f"cannot read genome file: {exc.__class__.__name__}",
                                      shown) from exc
        else:
            raise GenomeSyntaxError(f"cannot load a genome from {type(source).__name__}")
        obj = _decode_json(raw)
    return parse_genome(obj)


def _decode_json(raw: bytes, max_bytes: int | None = None, max_depth: int | None = None) -> Any:
    """Decode genome JSON text, refusing what could exhaust memory or the stack.

    ``raw`` is UTF-8 (BOM allowed). Raises :class:`~.errors.GenomeSyntaxError` when ``raw`` is
    longer than ``max_bytes`` bytes (checked before decoding), arrays/objects nest deeper than
    ``max_depth`` (checked before parsing, brackets inside strings not counted), for text that
    is not UTF-8 or not JSON, duplicate keys and ``NaN``/``Infinity`` literals. The limits
    default to :data:`MAX_GENOME_BYTES` and :data:`MAX_JSON_DEPTH`, read at each call.
    """
    max_bytes = MAX_GENOME_BYTES if max_bytes is None else max_bytes
    max_depth = MAX_JSON_DEPTH if max_depth is None else max_depth
    if len(raw) > max_bytes:
        raise GenomeSyntaxError(f"genome text is {len(raw)} bytes, over the limit of {max_bytes} "
                                "bytes (MAX_GENOME_BYTES)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GenomeSyntaxError(f"genome is not UTF-8 text: {exc}") from exc
    depth = deepest = 0
    for bracket in _RE_JSON_BRACKET.findall(_RE_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > max_depth:
                raise GenomeSyntaxError(f"genome JSON nests arrays/objects deeper than "
                                        f"{max_depth} levels (MAX_JSON_DEPTH)")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise GenomeSyntaxError(f"duplicate key {k!r} in a JSON object")
            out[k] = v
        return out

    def no_constants(name: str) -> Any:
        raise GenomeSyntaxError(f"{name} is not a valid JSON number")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except GenomeSyntaxError:
        raise
    except json.JSONDecodeError as exc:
        raise GenomeSyntaxError(f"invalid JSON: {exc}") from exc
    except (RecursionError, ValueError) as exc:  # absurd nesting / huge numbers
        raise GenomeSyntaxError(f"invalid JSON: {exc.__class__.__name__}: {exc}") from exc


def canonical_json(obj: Any) -> str:
    """The canonical text a checksum is taken over: sorted keys, compact, no NaN.

    ``obj`` is a decoded JSON value; non-ASCII characters are kept as they are. Raises
    :class:`~.errors.GenomeSyntaxError` when ``obj`` is not representable as strict JSON
    (NaN/inf, a non-JSON type, keys that cannot be sorted, a reference cycle).
    """
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise GenomeSyntaxError(f"genome is not representable as JSON: {exc}") from exc


def genome_checksum(obj: Any) -> str:
    """SHA-256 of :func:`canonical_json` of ``obj`` (UTF-8), as 64 lowercase hex digits.

    This is :attr:`~.model.Genome.checksum` and the ``genome_checksum`` a saved connectome
    carries (:mod:`.connectome_file`); key order and whitespace of the file do not change it.
    Raises :class:`~.errors.GenomeSyntaxError` like :func:`canonical_json`.
    """
    return hashlib.sha256(canonical_json(obj).encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------- parsing


def parse_genome(obj: Any) -> Genome:
    """Validate a decoded genome object and return a :class:`~.model.Genome`.

    ``obj`` is the decoded JSON (v2 flat, v3 flat or hierarchical blueprint; see the module
    docstring). Areas come out sorted by cortical id; FEAGI's core morphologies are always
    present and replace same-named genome entries (feagi-core ``templates.rs
    add_core_morphologies``), and the older core ones (``all_to_all``, ``randomizer``, ...)
    are there when the genome does not define them. Unknown genes, ignored blueprint keys,
    replaced core morphologies, unknown legacy IO ids and an ignored ``modulators`` section are
    listed in ``Genome.notes``.

    Raises (each with the key path of the offending value):
    :class:`~.errors.GenomeSyntaxError` for a structure that is not a genome (not an object,
    non-string keys, a malformed flat key, a gene given twice, JSON that cannot be
    checksummed); :class:`~.errors.MissingGeneError` for no ``blueprint``, no version, or an
    absent value FEAGI has no default for (e.g. ``___bbx/y/z``, a rule's ``morphology_id``);
    :class:`~.errors.GeneTypeError` for a value of the wrong JSON type;
    :class:`~.errors.GeneValueError` for an unsupported version/schema, a malformed cortical
    id, or a value out of range (non-finite, dimension < 1, delay outside
    1..:data:`~.model.MAX_DELAY_BURSTS`, outside int32/uint16/float32 where FEAGI stores it so,
    unknown morphology type or pattern token).
    """
    if not isinstance(obj, Mapping):
        raise GenomeSyntaxError(f"a genome is a JSON object, got {_describe(obj)}")
    for key in obj:
        if not isinstance(key, str):
            raise GenomeSyntaxError(f"genome keys must be strings, got {key!r}")
    notes: list[str] = []
    schema, version = _schema_version(obj)
    blueprint = obj.get("blueprint")
    if blueprint is None:
        raise MissingGeneError("a genome needs a blueprint", "blueprint")
    if not isinstance(blueprint, Mapping):
        raise GenomeSyntaxError(f"must be an object, got {_describe(blueprint)}", "blueprint")

    raw_areas = _collect_areas(blueprint, schema, notes)
    areas = tuple(_parse_area(cid, genes, path, schema, notes)
                  for cid, (genes, path) in sorted(raw_areas.items()))
    morphologies = _parse_morphologies(obj.get("neuron_morphologies", {}), notes)
    if "modulators" in obj and obj["modulators"]:
        notes.append("modulators: neuromodulation (R-STDP) is not modelled; section ignored")
    # Last, so that a NaN inside a gene is reported with its key path by the gene
    # checks above rather than as "not representable as JSON" here.
    checksum = genome_checksum(obj)
    return Genome(
        schema_version=schema,
        version=version,
        genome_id=_opt_text(obj, "genome_id"),
        title=_opt_text(obj, "genome_title"),
        areas=areas,
        morphologies=morphologies,
        checksum=checksum,
        notes=tuple(notes),
    )


def _opt_text(obj: Mapping, key: str) -> str:
    value = obj.get(key, "")
    return value if isinstance(value, str) else str(value)


def _schema_version(obj: Mapping) -> tuple[int, str]:
    """Schema number and version string (feagi-core schema/detector.rs rules, 2.x accepted)."""
    version = obj.get("version")
    if version is not None and not isinstance(version, str):
        raise GeneTypeError(f"must be a string, got {_describe(version)}", "version")
    explicit = obj.get("genome_schema_version")
    if isinstance(explicit, int) and not isinstance(explicit, bool):
        if not 2 <= explicit <= MAX_SCHEMA_VERSION:
            raise GeneValueError(f"unsupported genome schema {explicit} (this importer reads "
                                 f"2..{MAX_SCHEMA_VERSION})", "genome_schema_version")
        return explicit, version or ""
    if version is None:
        raise MissingGeneError("a genome needs 'version' (\"2.x\" or \"3.0\") or an integer "
                               "'genome_schema_version'", "version")
    if version.startswith("2."):
        return 2, version
    if version == "3" or version.startswith("3."):
        return 3, version
    raise GeneValueError(f"unsupported genome version {version!r} (expected 2.x or 3.0)", "version")


def _check_id(cid: str, schema: int, path: str) -> str:
    """Validate a cortical id; return its human-readable (ASCII) form."""
    if _RE_LEGACY_ID.match(cid):
        return cid
    if schema >= 3:
        try:
            raw = base64.b64decode(cid, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 8:
            text = raw.decode("ascii", errors="replace")
            return text if text.isprintable() else cid
        raise GeneValueError(f"cortical id {cid!r} is neither 6/8 ASCII characters nor an "
                             "8-byte id in base64", path)
    raise GeneValueError(f"cortical id {cid!r} must be 6 (or 8) characters of [A-Za-z0-9_] "
                         "in a v2 genome", path)


def _collect_areas(blueprint: Mapping, schema: int,
                   notes: list[str]) -> dict[str, tuple[dict[str, tuple[Any, str]], str]]:
    """cortical id -> ({gene code: (value, key path)}, area path) for flat or hierarchical."""
    areas: dict[str, tuple[dict[str, tuple[Any, str]], str]] = {}
    unknown: list[tuple[str, str, dict[str, tuple[Any, str]]]] = []
    flat = any(isinstance(k, str) and _RE_FLAT_KEY.match(k) for k in blueprint)
    for key, value in blueprint.items():
        if not isinstance(key, str):
            raise GenomeSyntaxError(f"blueprint keys must be strings, got {key!r}", "blueprint")
        path = f"blueprint.{key}"
        if key.startswith("/"):  # FEAGI's JSON comment convention
            continue
        if flat and not key.startswith(FLAT_PREFIX):
            # Other gene classes (the "_____10b-" species keys of FEAGI's own default genomes)
            # and anything else: FEAGI reads only "_____10c-" cortical genes (feagi-core
            # converter_flat_full.rs parse_cortical_id) and ignores the rest.
            notes.append(f"{path}: not a '{FLAT_PREFIX}' cortical gene; ignored, as FEAGI does")
            continue
        if flat:
            parts = key.split("-")
            if not key.startswith(FLAT_PREFIX) or len(parts) != 5 or parts[2] not in ("cx", "nx"):
                raise GenomeSyntaxError("not a flat gene key of the form "
                                        "'_____10c-<cortical id>-<cx|nx>-<gene>-<type>'", path)
            cid, gene = parts[1], parts[3]
            _check_id(cid, schema, path)
            genes, _ = areas.setdefault(cid, ({}, f"blueprint.{FLAT_PREFIX}{cid}"))
            if gene in genes:
                raise GenomeSyntaxError(f"gene {gene!r} given twice for area {cid!r}", path)
            if gene in _GENES:
                genes[gene] = (value, path)
            elif gene not in _IGNORED_GENES:
                unknown.append((path, gene, genes))  # noted once all of the area is read
        else:
            _check_id(key, schema, path)
            if not isinstance(value, Mapping):
                raise GenomeSyntaxError(f"an area must be an object, got {_describe(value)}", path)
            areas[key] = (_hierarchical_genes(value, path, notes), path)
    for path, gene, genes in unknown:
        notes.append(f"{path}: unknown gene {gene!r} ignored" + _did_you_mean(gene, _GENES, genes))
    return areas


def _hierarchical_genes(area: Mapping, path: str, notes: list[str]) -> dict[str, tuple[Any, str]]:
    genes: dict[str, tuple[Any, str]] = {}
    for name, value in area.items():
        p = f"{path}.{name}"
        if name in _LONG_NAMES:
            genes[_LONG_NAMES[name]] = (value, p)
        elif name in _AXIS_GENES:
            if not isinstance(value, list) or len(value) != 3:
                raise GeneTypeError(f"must be a list of 3 integers, got {_describe(value)}", p)
            for i, code in enumerate(_AXIS_GENES[name]):
                genes[code] = (value[i], f"{p}[{i}]")
        elif name in _AXIS_DICTS:
            axis_names, codes = _AXIS_DICTS[name]
            if not isinstance(value, Mapping):
                raise GeneTypeError(f"must be an object, got {_describe(value)}", p)
            for axis_name, code in zip(axis_names, codes, strict=True):
                if axis_name in value and code not in genes:
                    genes[code] = (value[axis_name], f"{p}.{axis_name}")
        elif name not in _LONG_IGNORED:
            notes.append(f"{p}: unknown area property ignored"
                         + _did_you_mean(name, _LONG_NAMES, area))
    return genes


def _did_you_mean(name: str, known: Iterable[str], given: Container[str]) -> str:
    """`` (did you mean 'x'? ...)`` when ``name`` looks like a known key the area lacks (a typo
    leaves that gene at its default, silently otherwise), else ``""``."""
    close = difflib.get_close_matches(name, [k for k in known if k not in given], n=1,
                                      cutoff=0.75)
    return (f" (did you mean {close[0]!r}? it is not given, so its default is used)"
            if close else "")


def _feagi_identity(cid: str, ascii_id: str, group: str, memory: bool, path: str,
                    notes: list[str]) -> tuple[str, str, str]:
    """(FEAGI id in base64, legacy id or "", FEAGI type) of an area id (rules in :mod:`.ids`)."""
    raw = decode_id(cid) if not _RE_LEGACY_ID.match(cid) else None
    if raw is not None:
        return cid, legacy_alias(raw), feagi_type(raw, group, memory)
    raw, note = migrate_legacy_id(cid)
    legacy = cid if len(cid) == 6 else legacy_alias(raw)
    if note:
        notes.append(f"{path}: {note}")
        return encode_id(raw), legacy, "CUSTOM"
    return encode_id(raw), legacy, feagi_type(raw, group, memory)


def _parse_area(cid: str, genes: dict[str, tuple[Any, str]], path: str, schema: int,
                notes: list[str]) -> AreaGenes:
    ascii_id = _check_id(cid, schema, path)
    is_power = cid in POWER_IDS or ascii_id in POWER_IDS

    def get(code: str, **limits: Any) -> Any:
        kind, default = _GENES[code]
        if code == "pspuni" and is_power:
            default = True  # feagi-core converter_flat_full.rs apply_power_area_defaults
        if code not in genes or (genes[code][0] is None and code.startswith("rcord")):
            # feagi-core treats a null coordinate as "absent" (converter_flat_full.rs).
            if default is None and code != "__name":
                raise MissingGeneError(f"area {cid!r} has no gene {code!r} and FEAGI has no "
                                       "default for it", _missing_path(path, code))
            return default
        value, p = genes[code]
        return _typed(value, kind, p, **limits)

    dims = tuple(get(c, minimum=1) for c in ("___bbx", "___bby", "___bbz"))
    name = get("__name")
    name = cid if name is None else name
    rules = _parse_dstmap(cid, genes.get("dstmap"), schema)
    group, memory = get("_group"), get("memory")
    feagi_id, legacy_id, kind = _feagi_identity(cid, ascii_id, group, memory, path, notes)
    return AreaGenes(
        cortical_id=cid,
        ascii_id=ascii_id,
        feagi_id=feagi_id,
        legacy_id=legacy_id,
        feagi_type=kind,
        name=name,
        group=group,
        sub_group=get("subgrp"),
        dims=dims,  # type: ignore[arg-type]
        position=tuple(get(c, minimum=-INT32_MAX, maximum=INT32_MAX)  # type: ignore[arg-type]
                       for c in ("rcordx", "rcordy", "rcordz")),
        neurons_per_voxel=get("_n_cnt", minimum=1),
        synapse_attractivity=get("synatt", minimum=0.0),
        psp=get("pstcr_"),
        psp_uniform=get("pspuni"),
        fire_threshold=get("fire_t"),
        threshold_increment=tuple(get(c) for c in ("ftincx", "ftincy", "ftincz")),  # type: ignore
        threshold_limit=get("fthlim", minimum=0.0),
        refractory=get("refrac", minimum=0, maximum=UINT16_MAX),
        leak=get("leak_c", minimum=0.0),
        consecutive_fire_limit=get("c_fr_c", minimum=0, maximum=UINT16_MAX),
        excitability=get("excite", minimum=0.0),
        mp_acc=get("mp_acc"),
        mp_psp=get("mp_psp"),
        snooze=int(get("snooze", minimum=0.0, maximum=float(UINT16_MAX))),
        is_memory_flag=memory,
        memory_depth=get("tmpdpt", minimum=1, maximum=UINT16_MAX),
        memory_lifespan=get("mem_ls", minimum=1, maximum=INT32_MAX),
        memory_growth=int(get("mem_gr", minimum=0.0, maximum=float(INT32_MAX))),
        memory_longterm=get("mem__t", minimum=1, maximum=INT32_MAX),
        mappings=rules,
        path=path,
    )


def _missing_path(area_path: str, code: str) -> str:
    """Where an absent gene would be: the flat key, or the hierarchical property."""
    if area_path.startswith(f"blueprint.{FLAT_PREFIX}"):
        return f"{area_path}-cx-{code}-{_GENES[code][0][0]}"
    for long_name, codes in _AXIS_GENES.items():
        if code in codes:
            return f"{area_path}.{long_name}"
    long_names = [n for n, c in _LONG_NAMES.items() if c == code]
    return f"{area_path}.{long_names[0]}" if long_names else area_path


def _parse_dstmap(src: str, entry: tuple[Any, str] | None, schema: int) -> tuple[MappingRule, ...]:
    if entry is None:
        return ()
    dstmap, path = entry
    if dstmap is None:
        return ()
    if not isinstance(dstmap, Mapping):
        raise GeneTypeError(f"mapping gene must be an object {{destination: [rules]}}, got "
                            f"{_describe(dstmap)}", path)
    rules: list[MappingRule] = []
    for dst, rule_list in dstmap.items():
        if not isinstance(dst, str):
            raise GenomeSyntaxError(f"destination ids must be strings, got {dst!r}", path)
        if dst.startswith("/"):
            continue
        dst_path = f"{path}.{dst}"
        _check_id(dst, schema, dst_path)
        if not isinstance(rule_list, list):
            raise GeneTypeError(f"mapping rules must be a list, got {_describe(rule_list)}",
                                dst_path)
        for i, rule in enumerate(rule_list):
            rules.append(_parse_rule(src, dst, i, rule, f"{dst_path}[{i}]"))
    return tuple(rules)


def _parse_rule(src: str, dst: str, index: int, rule: Any, path: str) -> MappingRule:
    if isinstance(rule, list):
        if len(rule) < 4:
            raise GeneValueError("an array mapping rule needs at least [morphology_id, "
                                 "morphology_scalar, psc_multiplier, plasticity_flag]", path)
        fields = {
            "morphology_id": rule[0], "morphology_scalar": rule[1],
            "postSynapticCurrent_multiplier": rule[2], "plasticity_flag": rule[3],
        }
        names = ["plasticity_constant", "ltp_multiplier", "ltd_multiplier", "plasticity_window",
                 "synaptic_delay_bursts"]
        for offset, name in enumerate(names, start=4):
            if len(rule) > offset:
                fields[name] = rule[offset]
        paths = {name: f"{path}[{i}]" for i, name in enumerate(
            ["morphology_id", "morphology_scalar", "postSynapticCurrent_multiplier",
             "plasticity_flag", *names])}
    elif isinstance(rule, Mapping):
        fields = dict(rule)
        paths = {name: f"{path}.{name}" for name in fields}
        if "morphology_id" not in fields:
            raise MissingGeneError("mapping rule has no morphology_id", f"{path}.morphology_id")
    else:
        raise GeneTypeError(f"a mapping rule is an array or object, got {_describe(rule)}", path)

    def p(name: str) -> str:
        return paths.get(name, f"{path}.{name}")

    morphology_id = fields["morphology_id"]
    if not isinstance(morphology_id, str) or not morphology_id:
        raise GeneTypeError(f"morphology_id must be a non-empty string, got "
                            f"{_describe(morphology_id)}", p("morphology_id"))
    morphology_id = _RENAMED_MORPHOLOGIES.get(morphology_id, morphology_id)
    scalar = _scalar3(fields.get("morphology_scalar", [1, 1, 1]), p("morphology_scalar"))
    psc = _typed(fields.get("postSynapticCurrent_multiplier", 1.0), "float",
                 p("postSynapticCurrent_multiplier"))
    plastic = _typed(fields.get("plasticity_flag", False), "bool", p("plasticity_flag"))
    delay = _typed(fields.get("synaptic_delay_bursts", 1), "int", p("synaptic_delay_bursts"),
                   minimum=1)
    if delay > MAX_DELAY_BURSTS:
        raise GeneValueError(f"synaptic delay {delay} exceeds {MAX_DELAY_BURSTS} bursts",
                             p("synaptic_delay_bursts"))
    attract = fields.get("synapse_attractivity")
    if attract is not None:
        attract = _typed(attract, "float", p("synapse_attractivity"), minimum=0.0)
    extra: dict[str, Any] = {}
    for name in ("plasticity_constant", "ltp_multiplier", "ltd_multiplier"):
        value = fields.get(name, 0.0)
        extra[name] = 0.0 if value is None else _typed(value, "float", p(name))
    # None when absent: FEAGI refuses a plastic rule without a window (connectome_manager.rs
    # register_stdp_mapping_for_rule), which the builder reproduces.
    window = fields.get("plasticity_window")
    extra["plasticity_window"] = None if window is None else _typed(window, "float",
                                                                    p("plasticity_window"))
    return MappingRule(
        src=src, dst=dst, index=index, morphology_id=morphology_id, morphology_scalar=scalar,
        psc_multiplier=psc, plasticity=plastic, delay=delay, synapse_attractivity=attract,
        path=path, **extra,
    )


def _scalar3(value: Any, path: str) -> tuple[int, int, int]:
    """``morphology_scalar``: [x, y, z] integers, or one integer for all axes."""
    if isinstance(value, list):
        if len(value) != 3:
            raise GeneValueError(f"morphology_scalar must have 3 elements, got {len(value)}", path)
        return tuple(_typed(v, "int", f"{path}[{i}]") for i, v in enumerate(value))  # type: ignore
    v = _typed(value, "int", path)
    return (v, v, v)


def _parse_morphologies(section: Any, notes: list[str]) -> dict[str, Morphology]:
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        raise GenomeSyntaxError(f"must be an object, got {_describe(section)}",
                                "neuron_morphologies")
    out: dict[str, Morphology] = {}
    for mid in section:
        if not isinstance(mid, str):
            raise GenomeSyntaxError(f"morphology ids must be strings, got {mid!r}",
                                    "neuron_morphologies")
    section = {_RENAMED_MORPHOLOGIES.get(mid, mid): entry for mid, entry in section.items()
               if not (mid in _RENAMED_MORPHOLOGIES and _RENAMED_MORPHOLOGIES[mid] in section)}
    for mid, entry in section.items():
        if mid in _CORE_MORPHOLOGIES:
            continue  # replaced by FEAGI's core definition below
        out[mid] = _parse_morphology(mid, entry, f"neuron_morphologies.{mid}", "custom")
    for mid, entry in _FALLBACK_MORPHOLOGIES.items():
        if mid not in out:
            out[mid] = _parse_morphology(mid, entry, f"core morphology {mid}", "core")
    for mid, entry in _CORE_MORPHOLOGIES.items():
        core = _parse_morphology(mid, entry, f"core morphology {mid}", "core")
        if mid in section:
            try:
                given = _parse_morphology(mid, section[mid], f"neuron_morphologies.{mid}", "core")
                same = (given.type, given.vectors, given.patterns) == (core.type, core.vectors,
                                                                       core.patterns)
            except GenomeError:
                same = False
            if not same:
                notes.append(f"neuron_morphologies.{mid}: FEAGI core morphology; the genome's "
                             "definition is replaced by the core one, as FEAGI does")
        out[mid] = core
    return out


def _parse_morphology(mid: str, entry: Any, path: str, default_class: str) -> Morphology:
    if not isinstance(entry, Mapping):
        raise GeneTypeError(f"a morphology is an object, got {_describe(entry)}", path)
    mtype = entry.get("type")
    params = entry.get("parameters")
    if mtype is None:
        # Old genomes: {"vectors": [...]} without "type" (feagi/feagi
        # genome_processor.py morphology_convertor). An entry without any type (``{}``,
        # ``{"parameters": {}}``) is a placeholder: FEAGI accepts it while no mapping uses it.
        found = [t for t in MORPHOLOGY_TYPES if t in entry]
        if not found:
            mtype, params = "placeholder", {}
        else:
            mtype = found[0]
            params = {mtype: entry[mtype]}
    if not isinstance(mtype, str) or mtype not in MORPHOLOGY_TYPES:
        raise GeneValueError(f"unknown morphology type {mtype!r} (expected one of "
                             f"{', '.join(MORPHOLOGY_TYPES)})", f"{path}.type")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise GeneTypeError(f"must be an object, got {_describe(params)}", f"{path}.parameters")
    mclass = entry.get("class", default_class)
    mclass = mclass if isinstance(mclass, str) else default_class
    if mtype == "vectors":
        vectors = _parse_vectors(params.get("vectors"), f"{path}.parameters.vectors")
        return Morphology(mid, mtype, vectors=vectors, morphology_class=mclass, path=path)
    if mtype == "patterns":
        patterns = _parse_patterns(params.get("patterns"), f"{path}.parameters.patterns")
        return Morphology(mid, mtype, patterns=patterns, morphology_class=mclass, path=path)
    return Morphology(mid, mtype, parameters=dict(params), morphology_class=mclass, path=path)


def _parse_vectors(value: Any, path: str) -> tuple[tuple[int, int, int], ...]:
    if value is None:
        raise MissingGeneError("vectors morphology has no vector list", path)
    if not isinstance(value, list):
        raise GeneTypeError(f"must be a list of [x, y, z], got {_describe(value)}", path)
    out = []
    for i, vec in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(vec, list) or len(vec) != 3:
            raise GeneTypeError(f"a vector is [x, y, z], got {_describe(vec)}", p)
        out.append(tuple(_typed(c, "int", f"{p}[{j}]") for j, c in enumerate(vec)))
    return tuple(out)  # type: ignore[return-value]


def _parse_patterns(value: Any, path: str):
    if value is None:
        raise MissingGeneError("patterns morphology has no pattern list", path)
    if not isinstance(value, list):
        raise GeneTypeError(f"must be a list of [[src], [dst]] pairs, got {_describe(value)}",
                            path)
    # Old genomes give a single pair unwrapped: [[sx, sy, sz], [dx, dy, dz]]
    # (feagi/feagi genome_processor.py "Fix pattern nesting").
    if (len(value) == 2 and all(isinstance(v, list) and len(v) == 3 for v in value)
            and not any(isinstance(c, list) for v in value for c in v)):
        value = [value]
    out = []
    for i, pair in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise GeneTypeError(f"a pattern is [[src x, y, z], [dst x, y, z]], got "
                                f"{_describe(pair)}", p)
        sides = []
        for side, tokens in enumerate(pair):
            sp = f"{p}[{side}]"
            if not isinstance(tokens, list) or len(tokens) != 3:
                raise GeneTypeError(f"must be [x, y, z], got {_describe(tokens)}", sp)
            sides.append(tuple(parse_pattern_token(t, f"{sp}[{j}]") for j, t in enumerate(tokens)))
        out.append((sides[0], sides[1]))
    return tuple(out)


# ------------------------------------------------------------------------ value types


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _typed(value: Any, kind: str, path: str, minimum: float | None = None,
           maximum: float | None = None) -> Any:
    """Check one gene value against its kind; ints given as integral floats are accepted."""
    if kind == "text":
        if not isinstance(value, str):
            raise GeneTypeError(f"expected text, got {_describe(value)}", path)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise GeneTypeError(f"expected true/false, got {_describe(value)}", path)
        return value
    if kind == "map":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GeneTypeError(f"expected a number, got {_describe(value)}", path)
    if isinstance(value, float) and not math.isfinite(value):
        raise GeneValueError(f"must be finite, got {value!r}", path)
    if kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise GeneTypeError(f"expected an integer, got {value!r}", path)
            value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:  # an int too large for a float
            value = math.inf
        if not math.isfinite(value):
            raise GeneValueError(f"must be a finite number, got {_describe(value)}", path)
        if abs(value) > FLOAT32_MAX:
            raise GeneValueError(f"{value!r} is outside the float32 range the engine uses", path)
    if minimum is not None and value < minimum:
        raise GeneValueError(f"must be >= {minimum}, got {value!r}", path)
    if maximum is not None and value > maximum:
        raise GeneValueError(f"must be <= {maximum}, got {value!r}", path)
    return value
