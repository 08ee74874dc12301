"""Image -> vision area (encoders/vision.py)."""

from __future__ import annotations

import numpy as np
import pytest
from injection_checks import as_set

from feagi_hailo_ros.ros.encoders import (
    SensorInputError,
    VisionSettings,
    downsample_area,
    encode_image,
    image_from_buffer,
)


def test_image_from_buffer_drops_row_padding() -> None:
    h, w = 2, 3
    rows = [bytes(range(10 * r, 10 * r + 9)) + b"\xff\xff" for r in range(h)]  # step 11
    img = image_from_buffer(b"".join(rows), h, w, 11, "rgb8")
    assert img.shape == (2, 3, 3) and img.dtype == np.uint8
    assert img[1, 2].tolist() == [16, 17, 18]
    mono = image_from_buffer(bytearray(range(6)), 2, 3, 3, "mono8")
    assert mono.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((bytes(12), 2, 2, 6, "yuv422"), "unsupported image encoding"),
        ((bytes(12), 2, 2, 5, "rgb8"), "shorter than a row"),
        ((bytes(11), 2, 2, 6, "rgb8"), "11 bytes"),
        ((bytes(0), 0, 2, 6, "rgb8"), "positive"),
    ],
)
def test_image_from_buffer_rejects_malformed(args, reason) -> None:
    with pytest.raises(SensorInputError, match=reason):
        image_from_buffer(*args)


def test_downsample_area_averages_blocks_and_repeats_when_growing() -> None:
    img = np.arange(16, dtype=np.float64).reshape(4, 4)
    np.testing.assert_allclose(downsample_area(img, 2, 2), [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(downsample_area(img[:2, :2], 4, 4)[::2, ::2], img[:2, :2])
    assert downsample_area(np.ones((5, 7, 3)), 2, 3).shape == (2, 3, 3)


def test_image_orientation_colour_channels_and_potential() -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    img[:20, :30] = (255, 0, 0)  # red block, top-left quadrant
    img[20:, 30:] = (0, 0, 128)  # dim blue block, bottom-right quadrant
    inj = encode_image(img, "rgb8", (2, 2, 3), VisionSettings(potential=10.0))
    got = dict(zip(map(tuple, inj[0].tolist()), inj[1].tolist(), strict=True))
    # top-left image -> x=0, y=dy-1 (FEAGI y points up); red -> z=0, blue -> z=2.
    assert got == {(0, 1, 0): pytest.approx(10.0), (1, 0, 2): pytest.approx(10.0 * 128 / 255)}
    bgr = encode_image(img[:, :, ::-1].copy(), "bgr8", (2, 2, 3), VisionSettings(potential=10.0))
    assert as_set(bgr) == as_set(inj)


def test_image_threshold_and_grey() -> None:
    img = np.array([[0, 40], [60, 255]], np.uint8)
    assert as_set(encode_image(img, "mono8", (2, 2, 1))) == {(0, 0, 0), (1, 0, 0)}  # >= 50
    colour = np.full((2, 2, 3), 200, np.uint8)
    assert as_set(encode_image(colour, "rgb8", (2, 2, 1))) == {
        (x, y, 0) for x in range(2) for y in range(2)
    }


@pytest.mark.parametrize(
    ("image", "encoding", "reason"),
    [
        (np.zeros((4, 4, 3), np.uint8), "mono8", "HxW"),
        (np.zeros((4, 4), np.uint8), "rgb8", "HxWx3"),
        (np.zeros((4, 4, 3), np.float32), "rgb8", "uint8"),
        (np.zeros((4, 4, 3), np.uint8), "rgba8", "unsupported"),
    ],
)
def test_image_wrong_encoding_raises(image, encoding, reason) -> None:
    with pytest.raises(SensorInputError, match=reason):
        encode_image(image, encoding, (2, 2, 3))
