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
        (np.zeros((4, 4, 3), np.uint8), "yuv422", "unsupported"),
        (np.zeros((4, 4, 3), np.uint8), "rgba8", "HxWx4"),
        (np.zeros((4, 4), np.uint8), "mono16", "uint16"),
        (np.zeros((4, 4), np.uint16), "32FC1", "float32 or float64"),
        (np.zeros((4, 4), np.float32), "16UC1", "uint16"),
    ],
)
def test_image_wrong_encoding_raises(image, encoding, reason) -> None:
    with pytest.raises(SensorInputError, match=reason):
        encode_image(image, encoding, (2, 2, 3))


def test_alpha_encodings_code_exactly_as_their_colour_encodings() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (12, 18, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (12, 18, 1), dtype=np.uint8)  # alpha must not matter
    for dims in ((3, 2, 3), (3, 2, 1)):
        want = encode_image(rgb, "rgb8", dims)
        for enc, img in (("rgba8", np.concatenate([rgb, alpha], axis=2)),
                         ("bgra8", np.concatenate([rgb[:, :, ::-1], alpha], axis=2))):
            got = encode_image(img, enc, dims)
            assert got[0].tolist() == want[0].tolist(), (enc, dims)
            np.testing.assert_array_equal(got[1], want[1])


def test_alpha_encodings_from_buffer() -> None:
    # One row of two BGRA pixels and 2 bytes of padding.
    img = image_from_buffer(bytes([1, 2, 3, 4, 5, 6, 7, 8, 0, 0]), 1, 2, 10, "bgra8")
    assert img.shape == (1, 2, 4) and img.dtype == np.uint8
    assert img[0, 1].tolist() == [5, 6, 7, 8]
    with pytest.raises(SensorInputError, match="shorter than a row"):
        image_from_buffer(bytes(6), 1, 2, 6, "rgba8")


def test_mono16_is_mono8_scaled_by_257() -> None:
    rng = np.random.default_rng(5)
    mono8 = rng.integers(0, 256, (9, 14), dtype=np.uint8)
    got = encode_image(mono8.astype(np.uint16) * 257, "mono16", (5, 3, 1))
    want = encode_image(mono8, "mono8", (5, 3, 1))
    assert got[0].tolist() == want[0].tolist()
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    full = encode_image(np.full((2, 2), 65535, np.uint16), "mono16", (1, 1, 1))
    assert full[1].tolist() == [pytest.approx(100.0)]


@pytest.mark.parametrize(("encoding", "dtype", "scale"),
                         [("mono16", "u2", 1), ("16UC1", "u2", 1), ("32FC1", "f4", 1)])
def test_wide_channels_from_buffer_honour_byte_order_and_padding(encoding, dtype, scale) -> None:
    values = np.array([[1, 300, 65000], [7, 0, 2]], dtype=dtype) * scale
    for big in (0, 1):
        raw = values.astype(np.dtype((">" if big else "<") + dtype))
        item = raw.dtype.itemsize
        step = 3 * item + 3  # odd padding: rows do not start on an item boundary
        data = b"".join(row.tobytes() + b"\xee" * 3 for row in raw)
        img = image_from_buffer(data, 2, 3, step, encoding, is_bigendian=big)
        assert img.dtype == np.dtype(dtype) and img.dtype.isnative
        np.testing.assert_array_equal(img, values)
    with pytest.raises(SensorInputError, match="shorter than a row"):
        image_from_buffer(bytes(10), 2, 3, 5, encoding)


def test_depth_nearer_is_stronger_like_proximity() -> None:
    # 16UC1 in millimetres, 4x4 pooled to 2x2 cells; depth_max 2 m over 10 levels.
    mm = np.array([[500, 1500, 0, 0],
                   [900, 800, 0, 0],
                   [0, 0, 2500, 3000],
                   [0, 0, 2000, 0]], np.uint16)
    s = VisionSettings(potential=9.0, depth_max=2.0)
    inj = encode_image(mm, "16UC1", (2, 2, 10), s)
    # Top-left cell: nearest 0.5 m -> z = floor(10 * 0.5 / 2) = 2 at y = 1. Top-right: all 0
    # (no return) -> silent, never z = 0. Bottom-right: nearest 2.0 m = depth_max -> z = 9.
    assert as_set(inj) == {(0, 1, 2), (1, 0, 9)}
    assert inj[1].tolist() == [9.0, 9.0]
    metres = encode_image(mm.astype(np.float32) / 1000.0, "32FC1", (2, 2, 10), s)
    assert as_set(metres) == as_set(inj)


def test_depth_invalid_values_are_no_return() -> None:
    s = VisionSettings(depth_max=1.0)
    nan_zero_inf = np.array([[np.nan, 0.0, np.inf, -0.5]], np.float32)
    assert len(encode_image(nan_zero_inf, "32FC1", (1, 1, 4), s)[0]) == 0
    assert len(encode_image(np.zeros((3, 3), np.uint16), "16UC1", (3, 3, 4), s)[0]) == 0
    # -inf (REP 117: too close to measure) is the nearest depth.
    assert as_set(encode_image(np.array([[np.nan, -np.inf]], np.float32), "32FC1",
                               (1, 1, 4), s)) == {(0, 0, 0)}
    # A cell mixing a return and no-returns keeps the return, not an average with 0.
    assert as_set(encode_image(np.array([[0.0, 0.6]], np.float64), "32FC1", (1, 1, 10),
                               s)) == {(0, 0, 6)}
    # Beyond depth_max: silent; growing repeats pixels.
    assert len(encode_image(np.array([[1.01]], np.float32), "32FC1", (2, 2, 4), s)[0]) == 0
    assert len(encode_image(np.array([[0.2]], np.float32), "32FC1", (2, 2, 4), s)[0]) == 4
    with pytest.raises(ValueError, match="depth_max"):
        VisionSettings(depth_max=0.0)


def test_unsupported_encoding_names_the_supported_ones() -> None:
    with pytest.raises(SensorInputError, match=r"'yuv422'.*16UC1, 32FC1, 8UC1, bgr8, bgra8, mono16, mono8"):
        encode_image(np.zeros((2, 2), np.uint8), "yuv422", (1, 1, 1))


def test_8uc1_codes_exactly_as_mono8() -> None:
    # OpenCV's 8UC1 (IR and mono cameras) is one unsigned byte per pixel, like mono8.
    img = np.random.default_rng(5).integers(0, 256, (10, 16), dtype=np.uint8)
    want = encode_image(img, "mono8", (4, 3, 1))
    got = encode_image(img, "8UC1", (4, 3, 1))
    assert got[0].tolist() == want[0].tolist()
    np.testing.assert_array_equal(got[1], want[1])
    raw = image_from_buffer(img.tobytes(), 10, 16, 16, "8UC1", False)
    np.testing.assert_array_equal(raw, img)
