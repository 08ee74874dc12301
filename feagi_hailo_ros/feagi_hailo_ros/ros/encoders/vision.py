"""``sensor_msgs/Image`` -> a FEAGI vision area.

The image is area-averaged down to the area's ``dx x dy`` (as FEAGI's retina does with
OpenCV's INTER_AREA); ``x`` is the column, ``y = dy - 1 - row`` (FEAGI's y points up, image rows
go down), ``z`` the colour channel for a 3-deep area; the pixel intensity sets the potential.

Depth images (``16UC1`` in millimetres, ``32FC1`` in metres, REP 118) are coded like a
proximity area instead: each cell keeps its *nearest* valid depth and fires z by distance
(near -> z = 0, FEAGI's linear percentage), so nearer is stronger; 0 and NaN are "no return".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .common import (
    DEFAULT_POTENTIAL,
    Injection,
    SensorInputError,
    _dims,
    _injection,
    _potential,
    empty_injection,
    percentage_to_z,
)

#: Supported ``sensor_msgs/Image`` encodings (REP 104 / sensor_msgs ``image_encodings`` names)
#: and their channel counts.
IMAGE_ENCODINGS: dict[str, int] = {
    "mono8": 1, "8UC1": 1, "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono16": 1, "16UC1": 1,
    "32FC1": 1,
}

#: Channel type of each encoding (numpy kind and size; byte order comes from the message).
_CHANNEL_TYPE: dict[str, str] = {
    "mono8": "u1", "8UC1": "u1", "rgb8": "u1", "bgr8": "u1", "rgba8": "u1", "bgra8": "u1",
    "mono16": "u2", "16UC1": "u2", "32FC1": "f4",
}

#: Depth encodings and metres per unit (REP 118: 16UC1 in millimetres, 32FC1 in metres).
DEPTH_ENCODINGS: dict[str, float] = {"16UC1": 0.001, "32FC1": 1.0}

#: Colour encodings -> indices of R, G, B in their channels (alpha dropped).
_RGB_ORDER: dict[str, list[int]] = {"bgr8": [2, 1, 0], "rgba8": [0, 1, 2], "bgra8": [2, 1, 0]}


@dataclass(frozen=True)
class VisionSettings:
    """How an image becomes a vision area.

    Attributes:
        potential: Potential of a full-intensity (255) pixel; darker pixels get
            proportionally less (``potential * value / 255``). Depth images fire every
            coded cell with this potential.
        threshold: Pixel values (0-255, after downsampling) below this stay silent; FEAGI's
            retina uses 50 by default. Not used for depth images.
        depth_max: Depth images: the farthest depth (metres) that fires at all, coded as the
            deepest layer; 0 m is z = 0.

    Raises:
        ValueError: a non-finite potential, a threshold outside [0, 255], or a
            ``depth_max`` that is not finite and > 0.
    """

    potential: float = DEFAULT_POTENTIAL
    threshold: int = 50
    depth_max: float = 1.0

    def __post_init__(self) -> None:
        _potential(self.potential)
        if not 0 <= self.threshold <= 255:
            raise ValueError(f"threshold must be in [0, 255], got {self.threshold}")
        if not (math.isfinite(self.depth_max) and self.depth_max > 0):
            raise ValueError(f"depth_max must be finite and > 0, got {self.depth_max}")


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
        step: Bytes per row, ``>= width * channels * bytes per channel`` (longer rows are
            padding).
        encoding: One of :data:`IMAGE_ENCODINGS`.
        is_bigendian: Byte order of 16- and 32-bit channels (the message's field); 8-bit
            channels have none.

    Returns:
        A new array without the row padding, in native byte order: ``(height, width)`` for
        one channel, ``(height, width, c)`` for 3 or 4; uint8 for the 8-bit encodings,
        uint16 for mono16/16UC1, float32 for 32FC1.

    Raises:
        SensorInputError: unsupported encoding, non-positive size, a ``step`` shorter than a
            row, or a data length other than ``step * height``.
    """
    if encoding not in IMAGE_ENCODINGS:
        raise _unsupported(encoding)
    channels = IMAGE_ENCODINGS[encoding]
    kind = _CHANNEL_TYPE[encoding]
    dtype = np.dtype((">" if is_bigendian else "<") + kind)
    row_bytes = int(width) * channels * dtype.itemsize
    height, width, step = int(height), int(width), int(step)
    if height < 1 or width < 1:
        raise SensorInputError(f"image size must be positive, got {width}x{height}")
    if step < row_bytes:
        raise SensorInputError(
            f"step {step} is shorter than a row of {width} {encoding} pixels ({row_bytes} B)"
        )
    if isinstance(data, np.ndarray):
        buf = np.ascontiguousarray(data, dtype=np.uint8).ravel()
    else:
        buf = np.frombuffer(bytes(data), dtype=np.uint8)
    if buf.size != step * height:
        raise SensorInputError(
            f"image data has {buf.size} bytes, header says step*height = {step * height}"
        )
    rows = np.ascontiguousarray(buf.reshape(height, step)[:, :row_bytes])
    pixels = rows.view(dtype).astype(dtype.newbyteorder("="))
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape)


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
    def mean(img: np.ndarray, edges: np.ndarray, axis: int) -> np.ndarray:
        shape = [1] * img.ndim
        shape[axis] = edges.size - 1
        counts = np.diff(edges).astype(np.float64).reshape(shape)
        return np.add.reduceat(img, edges[:-1], axis=axis) / counts

    return _per_cell(np.asarray(image, dtype=np.float64), out_h, out_w, mean)


def _per_cell(img: np.ndarray, out_h: int, out_w: int,
              shrink: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> np.ndarray:
    """Resize the first two axes of ``img`` to ``(out_h, out_w)``: a shrinking axis is split into
    cells of equal integer edges (``(arange(out + 1) * n) // out``) reduced by ``shrink(img,
    edges, axis)``; a growing axis repeats the nearest pixel."""
    for axis, out in ((0, out_h), (1, out_w)):
        n = img.shape[axis]
        if out == n:
            continue
        edges = (np.arange(out + 1, dtype=np.int64) * n) // out
        img = shrink(img, edges, axis) if out < n else np.take(img, edges[:-1], axis=axis)
    return img


def _luma(rgb: np.ndarray) -> np.ndarray:
    # ITU-R BT.601 weights, what cv2.COLOR_RGB2GRAY uses.
    return rgb @ np.array([0.299, 0.587, 0.114])


def _block_min(values: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize ``(h, w)`` to ``(out_h, out_w)`` keeping each cell's minimum (growing repeats
    the nearest pixel), with the cell edges :func:`downsample_area` uses."""
    return _per_cell(values, out_h, out_w,
                     lambda img, edges, axis: np.minimum.reduceat(img, edges[:-1], axis=axis))


def _encode_depth(img: np.ndarray, encoding: str, dims: tuple[int, int, int],
                  settings: VisionSettings) -> Injection:
    """A depth image (checked ``(h, w)``) -> proximity-coded vision area; see :func:`encode_image`."""
    dx, dy, dz = dims
    d = img.astype(np.float64) * DEPTH_ENCODINGS[encoding]
    too_close = np.isneginf(d)  # REP 117: -inf = too close to measure -> nearest
    with np.errstate(invalid="ignore"):
        no_return = ~np.isfinite(d) | (d <= 0.0)  # 0 / NaN / +inf (and negatives): nothing
    d = np.where(too_close, 0.0, np.where(no_return, np.inf, d))
    nearest = _block_min(d, dy, dx)  # (dy, dx), rows top-down
    rows, cols = np.nonzero(nearest <= settings.depth_max)
    if rows.size == 0:
        return empty_injection()
    z = percentage_to_z(1.0 - nearest[rows, cols] / settings.depth_max, dz)
    return _injection(cols, dy - 1 - rows, z, settings.potential)


def encode_image(
    image: ArrayLike,
    encoding: str,
    dims: Sequence[int],
    settings: VisionSettings = VisionSettings(),
) -> Injection:
    """An image -> vision area.

    Colour and grey images: the image is area-averaged to ``dx`` columns x ``dy`` rows. For
    an area at least 3 voxels deep and a colour image, z is the channel in RGB order (bgr8,
    bgra8 are reordered, alpha is dropped); otherwise the grey level (BT.601 luma) fires
    z = 0. mono16 is scaled to 0-255 (``value / 257``) first. Pixels below
    ``settings.threshold`` (and black ones) stay silent; the others fire with
    ``settings.potential * value / 255``.

    Depth images (:data:`DEPTH_ENCODINGS`: 16UC1 millimetres, 32FC1 metres, REP 118): each
    of the ``dx x dy`` cells keeps its nearest valid depth ``d``; a cell with ``d <=
    settings.depth_max`` fires one voxel at ``z = percentage_to_z(1 - d / depth_max)`` (near
    -> z = 0, like a proximity area) with ``settings.potential``. 0, NaN and +inf are "no
    return" and never an obstacle; -inf (REP 117: too close) is the nearest depth.

    Args:
        image: As :func:`image_from_buffer` returns: ``(h, w)`` (or ``(h, w, 1)``) for
            one-channel encodings, ``(h, w, 3)`` for rgb8/bgr8, ``(h, w, 4)`` for
            rgba8/bgra8; uint8 for 8-bit encodings, uint16 for mono16/16UC1, float32 or
            float64 for 32FC1.
        encoding: One of :data:`IMAGE_ENCODINGS`.
        dims: ``(dx, dy, dz)`` of the vision area.
        settings: Potential, threshold and depth range.

    Returns:
        An injection, at most one voxel per cell and channel.

    Raises:
        SensorInputError: unsupported encoding, a dtype that does not match the encoding, an
            empty image, or an array shape that does not match the encoding.
        ValueError: ``dims`` are not three positive integers.
    """
    dx, dy, dz = _dims(dims)
    if encoding not in IMAGE_ENCODINGS:
        raise _unsupported(encoding)
    img = np.asarray(image)
    kind = _CHANNEL_TYPE[encoding]
    allowed = (np.float32, np.float64) if kind == "f4" else (np.dtype(kind).newbyteorder("="),)
    if img.dtype not in [np.dtype(a) for a in allowed]:
        names = " or ".join(np.dtype(a).name for a in allowed)
        raise SensorInputError(f"{encoding} image must be {names}, got {img.dtype}")
    channels = IMAGE_ENCODINGS[encoding]
    if channels == 1 and img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    expected = "HxW" if channels == 1 else f"HxWx{channels}"
    if (channels == 1 and img.ndim != 2) or (
        channels > 1 and (img.ndim != 3 or img.shape[2] != channels)
    ):
        raise SensorInputError(f"{encoding} image must be {expected}, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise SensorInputError(f"image is empty: shape {img.shape}")
    if encoding in DEPTH_ENCODINGS:
        return _encode_depth(img, encoding, (dx, dy, dz), settings)
    if encoding in _RGB_ORDER:
        img = img[:, :, _RGB_ORDER[encoding]]
    elif encoding == "mono16":
        img = img / 257.0  # 65535 -> 255: the 8-bit scale of the threshold and potential
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
