"""``sensor_msgs/Image`` -> a FEAGI vision area.

The image is area-averaged down to the area's ``dx x dy`` (as FEAGI's retina does with
OpenCV's INTER_AREA); ``x`` is the column, ``y = dy - 1 - row`` (FEAGI's y points up, image rows
go down), ``z`` the colour channel for a 3-deep area; the pixel intensity sets the potential.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .common import DEFAULT_POTENTIAL, Injection, SensorInputError, _dims, _injection, _potential

#: Supported ``sensor_msgs/Image`` encodings (REP 104 names) and their channel counts.
IMAGE_ENCODINGS: dict[str, int] = {"mono8": 1, "rgb8": 3, "bgr8": 3}


@dataclass(frozen=True)
class VisionSettings:
    """How an image becomes a vision area.

    Attributes:
        potential: Potential of a full-intensity (255) pixel; darker pixels get
            proportionally less (``potential * value / 255``).
        threshold: Pixel values (0-255, after downsampling) below this stay silent; FEAGI's
            retina uses 50 by default.

    Raises:
        ValueError: a non-finite potential or a threshold outside [0, 255].
    """

    potential: float = DEFAULT_POTENTIAL
    threshold: int = 50

    def __post_init__(self) -> None:
        _potential(self.potential)
        if not 0 <= self.threshold <= 255:
            raise ValueError(f"threshold must be in [0, 255], got {self.threshold}")


def _unsupported(encoding: str) -> SensorInputError:
    supported = ", ".join(sorted(IMAGE_ENCODINGS))
    return SensorInputError(f"unsupported image encoding {encoding!r} (supported: {supported})")


def image_from_buffer(
    data: bytes | bytearray | memoryview | Sequence[int] | np.ndarray,
    height: int,
    width: int,
    step: int,
    encoding: str,
    is_bigendian: int = 0,
) -> np.ndarray:
    """Rebuild the pixel array of a ``sensor_msgs/Image`` from its fields.

    Args:
        data: ``step * height`` bytes, row after row (a uint8 array is accepted too).
        height, width: Image size in pixels.
        step: Bytes per row, ``>= width * channels`` (longer rows are padding).
        encoding: One of :data:`IMAGE_ENCODINGS`.
        is_bigendian: Accepted for symmetry with the message; 8-bit channels have no byte
            order.

    Returns:
        A new uint8 array, ``(height, width)`` for mono8 and ``(height, width, 3)`` for
        rgb8/bgr8, without the row padding.

    Raises:
        SensorInputError: unsupported encoding, non-positive size, a ``step`` shorter than a
            row, or a data length other than ``step * height``.
    """
    del is_bigendian  # 8-bit channels have no byte order
    if encoding not in IMAGE_ENCODINGS:
        raise _unsupported(encoding)
    channels = IMAGE_ENCODINGS[encoding]
    height, width, step = int(height), int(width), int(step)
    if height < 1 or width < 1:
        raise SensorInputError(f"image size must be positive, got {width}x{height}")
    if step < width * channels:
        raise SensorInputError(
            f"step {step} is shorter than a row of {width} {encoding} pixels ({width * channels} B)"
        )
    if isinstance(data, np.ndarray):
        buf = np.ascontiguousarray(data, dtype=np.uint8).ravel()
    else:
        buf = np.frombuffer(bytes(data), dtype=np.uint8)
    if buf.size != step * height:
        raise SensorInputError(
            f"image data has {buf.size} bytes, header says step*height = {step * height}"
        )
    rows = buf.reshape(height, step)[:, : width * channels]
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rows.reshape(shape).copy()


def downsample_area(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize the first two axes to ``(out_h, out_w)`` by area averaging.

    Args:
        image: ``(h, w)`` or ``(h, w, c)``, any numeric dtype.
        out_h, out_w: Output size (>= 1).

    Returns:
        float64 ``(out_h, out_w)`` or ``(out_h, out_w, c)``. Shrinking averages each output
        cell's block of source pixels (as OpenCV's INTER_AREA, which FEAGI's retina uses);
        growing repeats the nearest pixel.
    """
    img = np.asarray(image, dtype=np.float64)
    for axis, out in ((0, out_h), (1, out_w)):
        n = img.shape[axis]
        if out == n:
            continue
        edges = (np.arange(out + 1, dtype=np.int64) * n) // out
        if out < n:
            sums = np.add.reduceat(img, edges[:-1], axis=axis)
            counts = np.diff(edges).astype(np.float64)
            shape = [1] * img.ndim
            shape[axis] = out
            img = sums / counts.reshape(shape)
        else:
            img = np.take(img, edges[:-1], axis=axis)
    return img


def _luma(rgb: np.ndarray) -> np.ndarray:
    # ITU-R BT.601 weights, what cv2.COLOR_RGB2GRAY uses.
    return rgb @ np.array([0.299, 0.587, 0.114])


def encode_image(
    image: ArrayLike,
    encoding: str,
    dims: Sequence[int],
    settings: VisionSettings = VisionSettings(),
) -> Injection:
    """An 8-bit image -> vision area.

    The image is area-averaged to ``dx`` columns x ``dy`` rows. For an area at least 3 voxels
    deep and a colour image, z is the channel in RGB order (bgr8 is reordered); otherwise the
    grey level (BT.601 luma) fires z = 0. Pixels below ``settings.threshold`` (and black ones)
    stay silent; the others fire with ``settings.potential * value / 255``.

    Args:
        image: ``(h, w)`` (or ``(h, w, 1)``) uint8 for mono8, ``(h, w, 3)`` uint8 for rgb8/bgr8,
            as :func:`image_from_buffer` returns.
        encoding: One of :data:`IMAGE_ENCODINGS`.
        dims: ``(dx, dy, dz)`` of the vision area.
        settings: Potential and threshold.

    Returns:
        An injection, at most one voxel per cell and channel.

    Raises:
        SensorInputError: unsupported encoding, a dtype other than uint8, an empty image, or
            an array shape that does not match the encoding.
        ValueError: ``dims`` are not three positive integers.
    """
    dx, dy, dz = _dims(dims)
    if encoding not in IMAGE_ENCODINGS:
        raise _unsupported(encoding)
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise SensorInputError(f"{encoding} image must be uint8, got {img.dtype}")
    channels = IMAGE_ENCODINGS[encoding]
    if channels == 1 and img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    expected = "HxW" if channels == 1 else "HxWx3"
    if (channels == 1 and img.ndim != 2) or (
        channels == 3 and (img.ndim != 3 or img.shape[2] != 3)
    ):
        raise SensorInputError(f"{encoding} image must be {expected}, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise SensorInputError(f"image is empty: shape {img.shape}")
    if encoding == "bgr8":
        img = img[:, :, ::-1]
    small = downsample_area(img, dy, dx)  # (dy, dx) or (dy, dx, 3), rows top-down

    if small.ndim == 3 and dz >= 3:
        values = small  # (dy, dx, 3): z = channel
    else:
        grey = _luma(small) if small.ndim == 3 else small
        values = grey[:, :, None]
    values = np.rint(values)
    rows, cols, chans = np.nonzero(values >= max(settings.threshold, 1))
    v = values[rows, cols, chans]
    return _injection(cols, dy - 1 - rows, chans, settings.potential * v / 255.0)
