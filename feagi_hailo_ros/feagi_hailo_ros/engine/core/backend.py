"""The backend contract: what every neuron backend implements, and the burst input it consumes.

A **Backend** mirrors FEAGI's accelerator interface: it owns the dynamic state of one brain and
runs whole bursts (``upload_neurons``, ``upload_synapses``, ``process_burst`` -> fired count,
``download_neurons``, ``reset``, plus ``name``, ``is_available()``,
``estimated_ops_per_second()``). The CPU (Numba) backend and the NumPy reference implement it;
the :class:`~feagi_hailo_ros.engine.core.engine.Engine` runs any of them behind one surface. A
backend lacking an optional capability leaves it out of ``features``; the engine then refuses
the configuration and the method raises ``NotImplementedError`` naming the backend and the
capability. Accelerators that hold no state plug in through the integrator contract
(integrator.py), whose counts reach the backend as :class:`ExternalInput`.

The definitions every backend shares (outdegree, PSP divisor, per-synapse contribution) are
stated once at the end of this module (DESIGN §4 rule 2).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .connectome import Connectome, Projection
from .state import EngineState, NeuronSnapshot

#: The potential FEAGI reports for a manually stimulated (forced) neuron, and the PSP a forced
#: ``mp_psp`` neuron sends (recording ``min_mpforce``).
FORCED_POTENTIAL = 100.0

#: Inhibition modes. ``"clamped"`` is FEAGI's: a net negative input sum counts
#: as 0 (the neuron is still processed, so it leaks). ``"subtractive"`` adds
#: the signed sum and floors V at the reset potential 0.
INHIBITION_MODES = ("clamped", "subtractive")

#: Optional capabilities a backend may lack.
FEATURE_PER_SYNAPSE_WEIGHTS = "per_synapse_weights"
FEATURE_SUBTRACTIVE = "subtractive_inhibition"
FEATURE_EXTERNAL_INPUT = "external_input"  # accepts integrator contributions
FEATURE_STATE_TRANSFER = "state_transfer"  # download_state / upload_state (checkpoints)
FEATURE_PLASTICITY = "plasticity"  # set_projection_weights between bursts (DESIGN §4.7)
FEATURE_RATE_DIVIDER = "rate_divider"  # set_rate_dividers: slowed areas (README: multi-rate)
ALL_FEATURES = frozenset(
    {
        FEATURE_RATE_DIVIDER,
        FEATURE_PER_SYNAPSE_WEIGHTS,
        FEATURE_PLASTICITY,
        FEATURE_SUBTRACTIVE,
        FEATURE_EXTERNAL_INPUT,
        FEATURE_STATE_TRANSFER,
    }
)


@dataclass(frozen=True)
class ExternalInput:
    """Synaptic event counts computed outside the backend (an integrator) for one projection.

    ``counts`` (int64, one per neuron ``offset .. offset + len(counts)``) says how many spikes,
    each contributing ``coef`` (float32), reached each neuron; a neuron with a count becomes a
    candidate. The backend adds them in the canonical order of DESIGN §4 rule 2 (one float32
    addition per event): within the pass of delay ``delay``, at the position of the source area
    that starts at neuron ``src_start``. Integrators only take projections whose every event to a
    neuron carries the same ``coef`` as every other event of that source area and delay to it
    (``integrator.integrability``), so ``n`` additions of ``coef`` at that position are exactly
    what the CPU would have added.
    """

    offset: int
    counts: np.ndarray
    coef: float
    src_start: int
    delay: int


@dataclass
class BurstInput:
    """Everything from outside the backend that one burst consumes.

    Indices are global neuron ids. ``inject_ranges`` are disjoint
    ``[start, stop)`` blocks that each receive ``inject_range_values`` (the
    fast path for driving a whole area); ``inject_index``/``inject_value``
    are individual injections (repeats add up). ``force_index`` is the forced
    set (DESIGN §4 rule 6), the power area included.
    """

    inject_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    inject_value: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    inject_ranges: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    inject_range_values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    force_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: PSP a forced spike of an ``mp_psp`` area carries, one per ``force_index`` entry (FEAGI:
    #: the manual stimulation's potential, recording ``min_mpforce``); empty: FORCED_POTENTIAL.
    force_psp: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    external: list[ExternalInput] = field(default_factory=list)
    #: Integrator contributions still being computed (an accelerator working while the CPU
    #: propagates its own synapses): a backend calls it once, when its propagation reaches the
    #: first position in ``late_positions``, and adds the result like ``external``.
    late_external: Callable[[], list[ExternalInput]] | None = None
    #: ``(delay, src_start)`` of every ExternalInput ``late_external`` will return.
    late_positions: list[tuple[int, int]] = field(default_factory=list)
    #: Ask for the time of each phase (input, propagate, dynamics) in ``last_timing``: a
    #: backend may then run the burst in steps instead of one compiled call. Engines with
    #: integrators ask, so their diagnostics show where the CPU's share of a burst goes.
    phase_timing: bool = False


def forced_psp(inp: BurstInput) -> np.ndarray:
    """``inp.force_psp`` as float32, or FORCED_POTENTIAL for every forced neuron when empty."""
    if len(inp.force_psp):
        return np.asarray(inp.force_psp, np.float32)
    if not len(inp.force_index):
        return _NO_FORCED_PSP
    return np.full(len(inp.force_index), FORCED_POTENTIAL, np.float32)


_NO_FORCED_PSP = np.zeros(0, np.float32)


def check_burst_input(inp: BurstInput, neuron_count: int) -> None:
    """Raise ``IndexError``/``ValueError`` for input that would address outside the brain.

    Kernels index without bounds checks, so a backend calls this first; the
    cost is a min/max over the (small) input arrays.
    """
    for name in ("inject_index", "force_index"):
        idx = np.asarray(getattr(inp, name))
        if idx.size and (idx.min() < 0 or idx.max() >= neuron_count):
            raise IndexError(f"{name} addresses a neuron outside 0..{neuron_count - 1}")
    if len(inp.force_psp) and len(inp.force_psp) != len(inp.force_index):
        raise ValueError("force_psp and force_index differ in length")
    if len(inp.inject_index) != len(inp.inject_value):
        raise ValueError("inject_index and inject_value differ in length")
    ranges = np.asarray(inp.inject_ranges).reshape(-1, 2)
    if len(ranges) != len(inp.inject_range_values):
        raise ValueError("inject_ranges and inject_range_values differ in length")
    if ranges.size and (ranges.min() < 0 or ranges.max() > neuron_count
                        or np.any(ranges[:, 0] > ranges[:, 1])):  # fmt: skip
        raise IndexError(f"inject_ranges must be [start, stop) blocks within 0..{neuron_count}")
    check_external(inp.external, neuron_count)


def check_external(external: Sequence[ExternalInput], neuron_count: int) -> None:
    """``check_burst_input`` for integrator contributions (also used for late ones)."""
    for ext in external:
        if ext.offset < 0 or ext.offset + len(ext.counts) > neuron_count:
            raise IndexError("external input addresses neurons outside the brain")
        if not 0 <= ext.src_start < max(neuron_count, 1) or ext.delay < 1:
            raise ValueError("external input has no valid source position")
        if len(ext.counts) and int(np.min(ext.counts)) < 0:
            raise ValueError("external input has negative counts")


def external_order(external: Sequence[ExternalInput]) -> list[ExternalInput]:
    """Externals in the order a backend applies them: by delay, then source position."""
    return sorted(external, key=lambda e: (e.delay, e.src_start))


class Backend(abc.ABC):
    """A burst engine that owns the dynamic state of one brain.

    Life cycle: construct with the semantic options (inhibition mode, seed),
    ``upload_neurons(connectome)``, ``upload_synapses(connectome, exclude)``,
    then ``process_burst`` once per burst. ``exclude`` names projections some
    integrator computes; the backend then only receives their effect through
    ``BurstInput.external`` (but still counts their synapses in each source
    neuron's outdegree, which the PSP division uses).
    """

    name: str = "abstract"
    features: frozenset[str] = frozenset()

    def __init__(self, *, inhibition: str = "clamped", seed: int = 0) -> None:
        if inhibition not in INHIBITION_MODES:
            raise ValueError(f"inhibition must be one of {INHIBITION_MODES}, got {inhibition!r}")
        if inhibition == "subtractive":
            self.require(FEATURE_SUBTRACTIVE)
        self.inhibition = inhibition
        self.seed = int(seed)
        #: Seconds spent in the phases of the last burst (backend-specific keys).
        self.last_timing: dict[str, float] = {}

    # -- capability checks ---------------------------------------------------

    def require(self, feature: str) -> None:
        """Raise ``NotImplementedError`` unless this backend has ``feature``."""
        if feature not in self.features:
            raise NotImplementedError(f"the {self.name!r} backend does not support {feature}")

    # -- FEAGI accelerator interface -----------------------------------------

    @classmethod
    def is_available(cls) -> bool:
        """Whether this backend can run on this machine."""
        return True

    @abc.abstractmethod
    def estimated_ops_per_second(self) -> float:
        """Rough synaptic events per second this backend sustains (for planning)."""

    @abc.abstractmethod
    def upload_neurons(self, connectome: Connectome) -> None:
        """Load per-neuron parameters and reset the dynamic state."""

    @abc.abstractmethod
    def upload_synapses(self, connectome: Connectome, exclude: Collection[int] = ()) -> None:
        """Load the synapses of every projection not in ``exclude``."""

    @abc.abstractmethod
    def process_burst(self, inp: BurstInput) -> int:
        """Run one burst; return how many neurons fired."""

    @abc.abstractmethod
    def download_neurons(self) -> NeuronSnapshot:
        """Per-neuron canonical state (see ``state.py``)."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Back to rest: zero potentials, countdowns, counts, history; burst 0."""

    # -- what the engine needs beyond FEAGI's interface -----------------------

    @property
    @abc.abstractmethod
    def burst(self) -> int:
        """Index of the next burst (= bursts run since reset)."""

    @property
    @abc.abstractmethod
    def history_length(self) -> int:
        """How many past fired sets are kept (the longest delay)."""

    @abc.abstractmethod
    def last_fired(self) -> np.ndarray:
        """Global ids (int32, unordered) of the neurons that fired in the last burst."""

    @abc.abstractmethod
    def fired_history(self, delay: int) -> tuple[np.ndarray, np.ndarray]:
        """Fired set of burst ``self.burst - delay`` as (global ids, psp per spike)."""

    def download_state(self) -> EngineState:
        """Full canonical state, for checkpoints."""
        raise NotImplementedError(f"the {self.name!r} backend does not support state transfer")

    def upload_state(self, state: EngineState) -> None:
        """Replace the dynamic state (inverse of ``download_state``)."""
        raise NotImplementedError(f"the {self.name!r} backend does not support state transfer")

    def set_projection_weights(self, projection: int, signed_weights: np.ndarray) -> None:
        """Replace the weights of one uploaded projection between bursts (plasticity).

        ``signed_weights`` is float32, one per synapse in the projection's ``pre``/``post``
        order, as :func:`spike_contribution` uses them; the synapses themselves do not change.
        Backends with ``FEATURE_PLASTICITY`` implement it for projections whose ``plasticity``
        is set. Raises ``KeyError`` for a projection uploaded without a rule, ``ValueError``
        for a wrong length.
        """
        raise NotImplementedError(f"the {self.name!r} backend does not support {FEATURE_PLASTICITY}")

    def set_rate_dividers(self, dividers: Mapping[int, int]) -> None:
        """Run area ``a`` (an index) only every ``dividers[a]``-th burst (multi-rate areas).

        Between its updates a slowed area's input is carried and its neurons are not processed;
        at its update (bursts ``t`` with ``t % k == k - 1``) the input of the ``k`` bursts
        arrives summed; refractory periods and snoozes count its updates (``r * k`` bursts).
        Areas not named keep divider 1. Replaces earlier dividers; call between bursts, before
        any carried input exists (after upload or reset). Backends with
        ``FEATURE_RATE_DIVIDER`` implement it.
        """
        raise NotImplementedError(f"the {self.name!r} backend does not support {FEATURE_RATE_DIVIDER}")

    def replace_synapses(self, connectome: Connectome, exclude: Collection[int] = ()) -> None:
        """Upload ``connectome``'s synapses (grown by plasticity) keeping the dynamic state.

        The neurons must be those uploaded already. The default moves the state through
        ``download_state``/``upload_state``; the fired history keeps its length when no delay
        grew (plasticity grows delay-1 synapses only).
        """
        state = self.download_state()
        self.upload_synapses(connectome, exclude)
        self.upload_state(state)


# -----------------------------------------------------------------------------
# Definitions every backend shares (kept here so they are stated once)
# -----------------------------------------------------------------------------


def outdegree(connectome: Connectome) -> np.ndarray:
    """Synapse count of every neuron as a source, over all projections (int64, global)."""
    deg = np.zeros(connectome.neuron_count, dtype=np.int64)
    for proj in connectome.projections:
        first = connectome.areas[proj.src_area].first_neuron
        n_src = connectome.areas[proj.src_area].neuron_count
        deg[first : first + n_src] += np.bincount(
            np.asarray(proj.pre, dtype=np.int64), minlength=n_src
        )
    return deg


def csr_slots(pre: np.ndarray) -> np.ndarray:
    """Where each synapse lands when synapses listed in this order are sorted stably by source.

    ``pre`` (int, one source id per synapse, as concatenated for one delay) -> int64 slot per
    synapse: ``sorted[slots[k]]`` is synapse ``k``. Both backends sort this way (a stable
    sort by source keeps connectome order within a source, DESIGN §4 rule 2), so plasticity
    can write a projection's weights in place.
    """
    order = np.argsort(np.asarray(pre), kind="stable")
    slots = np.empty(order.size, np.int64)
    slots[order] = np.arange(order.size, dtype=np.int64)
    return slots


def psp_divisor(connectome: Connectome) -> np.ndarray:
    """Per-neuron PSP divisor (float64): outdegree for non-uniform areas, else 1.

    A neuron with no synapses keeps divisor 1; it never sends anything.
    """
    deg = outdegree(connectome)
    div = np.ones(connectome.neuron_count, dtype=np.float64)
    for area in connectome.areas:
        if not area.psp_uniform:
            sl = area.neuron_slice
            div[sl] = np.maximum(deg[sl], 1)
    return div


def projection_signed_weight(proj: Projection) -> float:
    """The projection's signed weight as the float32 value every backend uses."""
    return float(np.float32(proj.weight))


def spike_contribution(signed_weight: np.ndarray, psp: np.ndarray, div: np.ndarray) -> np.ndarray:
    """Per-synapse contribution ``float32(w * p / div)``, computed in float64 and rounded once.

    Arrays broadcast together; returns float32. Every backend adds these one at a time in
    float32 in the canonical order of DESIGN §4 rule 2 (``kernels.py``), so they agree bit for bit.
    """
    return (
        np.asarray(signed_weight, np.float64) * np.asarray(psp, np.float64) / np.asarray(div)
    ).astype(np.float32)
