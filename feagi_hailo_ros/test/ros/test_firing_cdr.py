"""~/firing serialized from a burst's arrays (``firing_cdr``): the middleware reads the bytes as
the very FiringEvents ``messages.firing_events`` builds, for any brain, any firing, any header."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402

from feagi_hailo_msgs.msg import FiringEvents  # noqa: E402
from feagi_hailo_ros.engine.core.connectome import AreaSpec, Connectome  # noqa: E402
from feagi_hailo_ros.engine.genome.brains import DEFAULT_BRAIN, load_brain  # noqa: E402
from feagi_hailo_ros.ros import firing_cdr, messages  # noqa: E402
from feagi_hailo_ros.ros.brain_runner import BrainRunner  # noqa: E402
from feagi_hailo_ros.ros.firing_cdr import FiringEncoder, matches_middleware  # noqa: E402


def _area(index: int, cid: str, name: str, dims, first: int, k: int) -> AreaSpec:
    return AreaSpec(index=index, cortical_id=cid, name=name, group="", dims=dims,
                    neurons_per_voxel=k, position=(0, 0, 0), first_neuron=first,
                    fire_threshold=1.0, threshold_increment=(0.0, 0.0, 0.0),
                    threshold_limit=np.inf, leak=0.0, refractory=0, consecutive_fire_limit=0,
                    excitability=1.0, mp_acc=False, mp_psp=False, psp=1, psp_uniform=True)


@st.composite
def brains_and_firing(draw):
    """1-4 areas with ids and names of every length mod 4 (padding), non-ASCII names too, and
    a random subset of each area's neurons fired (none, some, all)."""
    areas, first = [], 0
    for i in range(draw(st.integers(1, 4))):
        dims = (draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2)))
        k = draw(st.integers(1, 2))
        cid = f"a{i}" + "x" * draw(st.integers(0, 7))
        name = draw(st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                            max_size=9))
        areas.append(_area(i, cid, name, dims, first, k))
        first += areas[-1].neuron_count
    conn = Connectome(areas=areas, projections=[])
    fired = {}
    for a in areas:
        if draw(st.booleans()):
            n = a.neuron_count
            fired[a.cortical_id] = np.flatnonzero(
                np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool))
    return conn, fired


@settings(max_examples=150, deadline=None)
@given(case=brains_and_firing(), burst=st.integers(0, 2**64 - 1),
       sec=st.integers(-2**31, 2**31 - 1), nanosec=st.integers(0, 2**32 - 1),
       frame_id=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=11),
       coordinates=st.booleans())
def test_the_middleware_reads_the_bytes_as_the_built_message(case, burst, sec, nanosec,
                                                             frame_id, coordinates) -> None:
    conn, fired = case
    msg = messages.firing_events(conn, fired, burst, coordinates=coordinates)
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    ours = FiringEncoder(conn).encode(fired, burst, sec=sec, nanosec=nanosec, frame_id=frame_id,
                                      coordinates=coordinates)
    assert len(ours) == len(serialize_message(msg))
    assert deserialize_message(ours, FiringEvents) == msg


def test_a_bursts_own_split_is_encoded_from_its_compiled_columns() -> None:
    # The node's path: BrainRunner's FiredByArea of the default brain after real bursts.
    conn, _ = load_brain(DEFAULT_BRAIN)
    runner = BrainRunner(conn)
    encoder = FiringEncoder(conn)
    busy = 0
    for _ in range(40):
        for area in conn.areas:
            runner._engine.inject(area.index, potentials=5.0)
        result = runner.step()
        busy += sum(len(v) for v in result.fired.values()) > 0
        msg = messages.firing_events(result.connectome, result.fired, result.burst)
        msg.header.stamp.sec, msg.header.frame_id = 3, "feagi_brain"
        ours = encoder.encode(result.fired, result.burst, sec=3, nanosec=0,
                              frame_id="feagi_brain")
        assert deserialize_message(ours, FiringEvents) == msg
    assert busy > 0


def test_this_middleware_reads_the_encoding() -> None:
    conn, _ = load_brain(DEFAULT_BRAIN)
    assert matches_middleware(FiringEncoder(conn))


@pytest.mark.parametrize("damage", ["drop a byte", "change a byte", "append a byte"])
def test_an_encoding_the_middleware_reads_differently_is_refused(monkeypatch, damage) -> None:
    conn, _ = load_brain(DEFAULT_BRAIN)
    encoder = FiringEncoder(conn)
    right = encoder.encode

    def wrong(*args, **kw):
        data = right(*args, **kw)
        if damage == "drop a byte":
            return data[:-1]
        if damage == "append a byte":  # read back as the same message: only the length tells
            return data + b"\x00"
        return data[:20] + bytes([data[20] ^ 1]) + data[21:]  # inside the header's numbers
    monkeypatch.setattr(encoder, "encode", wrong)
    assert not matches_middleware(encoder)


def test_stamp_outside_its_types_is_an_error_not_wrapped_bytes() -> None:
    conn, _ = load_brain(DEFAULT_BRAIN)
    with pytest.raises(firing_cdr.struct.error):
        FiringEncoder(conn).encode({}, 0, sec=2**31, nanosec=0, frame_id="f")
