"""``~/firing`` serialized straight from a burst's arrays (no message objects, no rclpy).

Why: building a ``FiringEvents`` as Python message objects and letting rclpy convert it costs
~60 µs for a quiet burst of the default brain and ~280 µs for a busy one (build 243 µs +
conversion 39 µs, measured on this project's machine), a tenth of a core at 1 kHz. rclpy's
``Publisher.publish`` also takes the serialized bytes of a message (it publishes them as they
are, ~5 µs), so the publishing thread writes those bytes itself from the burst's uint32
columns: a few ``bytes`` joins per area.

The encoding is the one ROS 2's DDS middlewares give a message (OMG CDR, little endian,
"plain CDR" encapsulation ``00 01 00 00``; every primitive aligned to its own size, counted
from the end of the 4-byte encapsulation header; a string is a uint32 byte count including
its terminating NUL, the UTF-8 bytes, the NUL; a sequence is a uint32 element count, then the
elements). A middleware may encode differently, so :func:`matches_middleware` has the running
middleware read these bytes back (``rclpy.serialization.deserialize_message``) on a sample at
configure, and the node uses them only when it reads the very message ``messages.firing_events``
builds, at the length ``serialize_message`` gives it (else the message path, as before).
Padding bytes are written as zeros; the middleware's own serializer leaves them unset, so
the two are compared as messages, not byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

from ..engine.core.connectome import Connectome
from .fired import firing_columns

_ENCAPSULATION = b"\x00\x01\x00\x00"  # plain CDR, little endian
_EMPTY_U32_SEQ = struct.pack("<I", 0)


def _string(text: str) -> bytes:
    """A CDR string that starts 4-aligned, padded so the next field is 4-aligned again."""
    raw = text.encode("utf-8") + b"\x00"
    return struct.pack("<I", len(raw)) + raw + b"\x00" * (-len(raw) % 4)


class FiringEncoder:
    """Writes the serialized ``FiringEvents`` of one brain's bursts.

    Args:
        connectome: The brain whose bursts are encoded (its areas in message order, as
            ``messages.firing_events``).
    """

    def __init__(self, connectome: Connectome) -> None:
        self.connectome = connectome
        # Each area's two strings never change: encoded once (every field of an AreaFiring
        # is 4-aligned, so the same bytes fit wherever the area lands in the message).
        self._prefix = {a.cortical_id: _string(a.cortical_id) + _string(a.name)
                        for a in connectome.areas}

    def encode(self, fired: Mapping[str, np.ndarray], burst: int, *, sec: int, nanosec: int,
               frame_id: str, coordinates: bool = True) -> bytes:
        """The serialized ``FiringEvents`` that ``messages.firing_events(connectome, fired,
        burst, coordinates=...)`` builds, with ``header.stamp = (sec, nanosec)`` and
        ``header.frame_id = frame_id`` (what ``serialize_message`` gives it, zeros in the
        padding).

        Args:
            fired: Cortical id -> area-local indices (int, ``(k,)``) of one burst; a
                :class:`~.fired.FiredByArea` of this connectome gives its columns directly
                (``fired.firing_columns``).
            burst: Burst number (uint64).
            sec, nanosec: The header stamp (int32 seconds, uint32 nanoseconds).
            frame_id: The header frame.
            coordinates: Also write each neuron's voxel x, y, z (else empty sequences).

        Raises:
            struct.error: ``burst``, ``sec`` or ``nanosec`` outside their integer types.
        """
        head = _string(frame_id)
        # stamp (8 bytes) + frame_id end 4-aligned; the uint64 burst needs 8.
        pad = b"\x00" * (-(8 + len(head)) % 8)
        parts: list[bytes] = []
        count = 0
        for area, columns in firing_columns(self.connectome, fired):
            k = columns.shape[1]
            count += 1
            size = struct.pack("<I", k)
            parts.append(self._prefix[area.cortical_id])
            parts.append(size)
            parts.append(np.ascontiguousarray(columns[0], dtype="<u4").tobytes())
            if coordinates:
                for row in (1, 2, 3):
                    parts.append(size)
                    parts.append(np.ascontiguousarray(columns[row], dtype="<u4").tobytes())
            else:
                parts.append(_EMPTY_U32_SEQ * 3)
        return b"".join([_ENCAPSULATION, struct.pack("<iI", sec, nanosec), head, pad,
                         struct.pack("<QI", burst, count), *parts])


def matches_middleware(encoder: FiringEncoder) -> bool:
    """Whether the running middleware reads :meth:`FiringEncoder.encode`'s bytes as the message
    ``messages.firing_events`` builds (same fields, same serialized length), checked on a
    sample of this brain: the first neuron of every area fired, with and without coordinates,
    a frame id whose length needs padding."""
    from rclpy.serialization import deserialize_message, serialize_message

    from feagi_hailo_msgs.msg import FiringEvents

    from . import messages

    fired = {a.cortical_id: np.zeros(1 if a.neuron_count else 0, np.int64)
             for a in encoder.connectome.areas}
    for coordinates in (True, False):
        msg = messages.firing_events(encoder.connectome, fired, 7, coordinates=coordinates)
        msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 345
        msg.header.frame_id = "frame"
        ours = encoder.encode(fired, 7, sec=12, nanosec=345, frame_id="frame",
                              coordinates=coordinates)
        if len(serialize_message(msg)) != len(ours):
            return False
        try:
            if deserialize_message(ours, FiringEvents) != msg:
                return False
        except Exception:  # noqa: BLE001 - any failure to read them back means: not these bytes
            return False
    return True
