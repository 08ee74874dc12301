"""Example FEAGI genomes shipped with the package (data, and how to find it).

Must not import: engine, hailo, ros, cli
"""

from __future__ import annotations

import pathlib

_HERE = pathlib.Path(__file__).resolve().parent


def available_genomes() -> list[str]:
    """Names of the shipped example genomes (without ``.json``), sorted."""
    return sorted(p.stem for p in _HERE.glob("*.json"))


def example_genome_path(name: str) -> pathlib.Path:
    """Path of a shipped example genome, by name with or without ``.json``.

    ``obstacle_avoidance`` (v2 format), ``obstacle_avoidance_v3`` (the same brain
    in the v3 format) and ``vision``. Raises ``FileNotFoundError`` listing the
    available names for anything else.
    """
    stem = name[:-5] if name.endswith(".json") else name
    # Membership, not a file lookup: no path tricks out of the package, no OS error on odd names.
    if stem not in available_genomes():
        raise FileNotFoundError(
            f"no example genome {name!r}; available: {', '.join(available_genomes())}")
    return _HERE / f"{stem}.json"
