"""Builders of small FEAGI genomes (v2 and v3 layouts) for the importer's tests."""

from __future__ import annotations

import base64
from typing import Any

# gene -> (scope, type letter), as FEAGI writes the flat keys.
GENE_KEYS = {
    "__name": ("cx", "t"), "_group": ("cx", "t"), "subgrp": ("cx", "t"),
    "___bbx": ("cx", "i"), "___bby": ("cx", "i"), "___bbz": ("cx", "i"),
    "rcordx": ("cx", "i"), "rcordy": ("cx", "i"), "rcordz": ("cx", "i"),
    "_n_cnt": ("cx", "i"), "dstmap": ("cx", "d"), "synatt": ("cx", "f"), "pspuni": ("cx", "b"),
    "memory": ("cx", "b"), "de_gen": ("cx", "f"), "gd_vis": ("cx", "b"),
    "pstcr_": ("nx", "f"), "pstcrm": ("nx", "f"), "fire_t": ("nx", "f"), "ftincx": ("nx", "f"),
    "ftincy": ("nx", "f"), "ftincz": ("nx", "f"), "fthlim": ("nx", "f"), "refrac": ("nx", "i"),
    "leak_c": ("nx", "f"), "leak_v": ("nx", "f"), "c_fr_c": ("nx", "i"), "snooze": ("nx", "i"),
    "excite": ("nx", "f"), "mp_acc": ("nx", "b"), "mp_psp": ("nx", "b"),
}


def key(cid: str, gene: str) -> str:
    scope, kind = GENE_KEYS.get(gene, ("cx", "f"))
    return f"_____10c-{cid}-{scope}-{gene}-{kind}"


def flat_area(cid: str, dims: tuple[int, int, int] = (1, 1, 1), **genes: Any) -> dict[str, Any]:
    """Flat blueprint keys of one area; ``genes`` by FEAGI gene code (``fire_t=2.0``)."""
    out = {key(cid, "___bbx"): dims[0], key(cid, "___bby"): dims[1], key(cid, "___bbz"): dims[2]}
    for gene, value in genes.items():
        out[key(cid, gene)] = value
    return out


def genome_v2(*areas: dict[str, Any], morphologies: dict[str, Any] | None = None,
              version: str = "2.1") -> dict[str, Any]:
    blueprint: dict[str, Any] = {}
    for a in areas:
        blueprint.update(a)
    return {"version": version, "blueprint": blueprint,
            "neuron_morphologies": morphologies or {}}


def v3_id(ascii8: str) -> str:
    """FEAGI v3 cortical id: 8 bytes written in base64."""
    assert len(ascii8) == 8
    return base64.b64encode(ascii8.encode()).decode()


def genome_v3(*areas: dict[str, Any], morphologies: dict[str, Any] | None = None,
              schema: int = 3) -> dict[str, Any]:
    g = genome_v2(*areas, morphologies=morphologies)
    g["version"] = "3.0"
    g["genome_schema_version"] = schema
    return g


def rule(morphology: str, psc: float = 1, *, scalar: Any = (1, 1, 1), plastic: bool = False,
         delay: int | None = None) -> list[Any]:
    """A v2 array rule (7 or 9 elements)."""
    r: list[Any] = [morphology, list(scalar) if isinstance(scalar, tuple) else scalar, psc,
                    plastic, 1, 1, 1]
    if delay is not None:
        r += [0, delay]
    return r
