"""Errors raised while importing a FEAGI genome or loading a built connectome.

Every error derives from :class:`GenomeError` (itself a ``ValueError``), so a
caller that validates an uploaded brain needs one ``except`` clause. Each error
carries the *key path* of the offending value (``path``), e.g.
``blueprint._____10c-i__pro-cx-___bbx-i`` or
``blueprint._____10c-i__pro-cx-dstmap-d.o__mot[0].morphology_id``; the path is
also the first thing in the message, so a log line is enough to find the gene.
"""

from __future__ import annotations


class GenomeError(ValueError):
    """Base class: the genome (or a saved connectome) cannot be turned into a brain.

    ``GenomeError(message, path="")``: ``str(err)`` is ``"<path>: <message>"`` (just the message
    when ``path`` is empty); both parts stay available as ``err.message`` and ``err.path``.
    """

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        #: The message without the key path prefix.
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class GenomeFileError(GenomeError):
    """The genome file cannot be read (missing, unreadable, not UTF-8)."""


class GenomeSyntaxError(GenomeError):
    """Not JSON, or JSON whose structure is not a FEAGI genome (wrong section types,
    malformed blueprint keys, duplicate keys, NaN/Infinity literals)."""


class MissingGeneError(GenomeError):
    """A gene that FEAGI gives no default for is absent (e.g. an area's dimensions)."""


class GeneTypeError(GenomeError):
    """A gene has the wrong JSON type (string where a number is expected, 1.5 for an int)."""


class GeneValueError(GenomeError):
    """A gene has the right type but an unusable value (NaN, inf, non-positive dimension,
    negative delay, unknown pattern token, ...)."""


class UnknownAreaError(GenomeError):
    """A mapping names a destination cortical area that the blueprint does not define."""


class UnknownMorphologyError(GenomeError):
    """A mapping names a morphology that is neither in the genome nor a FEAGI core one."""


class UnsupportedFeatureError(GenomeError):
    """The genome uses a FEAGI feature this importer does not build (a mapping that uses an
    untyped placeholder morphology, a FEAGI rule this importer lacks).
    ``build_connectome(strict=False)`` skips such parts and lists them in ``Connectome.notes``
    instead of raising. Memory areas and plastic rules are never refused (notes only)."""


class UnsupportedMorphologyError(UnsupportedFeatureError):
    """A mapping uses a morphology this importer cannot build (untyped, or a FEAGI function
    whose rule is not available here). Morphologies FEAGI itself builds nothing for are not
    errors: they build 0 synapses, with a note."""


class EmptyBrainError(GenomeError):
    """The genome builds no area, or areas without a single neuron: nothing to run."""


class BrainTooLargeError(GenomeError):
    """The connectome would need more memory than allowed; raised before allocating.

    ``estimate_bytes`` is :func:`~.builder.estimate_memory`'s bound, ``limit_bytes`` the
    ``memory_limit_bytes`` it was compared with (both ints, bytes).
    """

    def __init__(self, message: str, estimate_bytes: int, limit_bytes: int, path: str = "") -> None:
        self.estimate_bytes = estimate_bytes
        self.limit_bytes = limit_bytes
        super().__init__(message, path)


class ConnectomeFileError(GenomeError):
    """A saved connectome file is corrupted, truncated, of another format version, or
    was built from a different genome than expected."""
