"""The run report PNG: written, of the requested size, and showing the path and rasters."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="matplotlib renders the run report")

from matplotlib.image import imread  # noqa: E402

from feagi_hailo_ros.ros.run_report import (  # noqa: E402
    BOTTOM_PX,
    MAX_FIGURE_PX,
    MAX_RASTER_ROWS,
    ROW_GAP_PX,
    ROW_PX,
    TOP_PX,
    raster_figure,
    raster_rows,
    render_raster_png,
    render_run_png,
    run_figure,
)
from feagi_hailo_ros.ros.sim_world import default_room  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def blue_pixels(path: Path) -> int:
    """Clearly blue pixels (the path line is tab:blue; antialiasing lightens its edges)."""
    rgb = imread(path)[:, :, :3]
    return int(np.sum(rgb[:, :, 2] > rgb[:, :, 0] + 0.2))


def example_rasters() -> dict[str, list[tuple[int, np.ndarray]]]:
    rng = np.random.default_rng(0)
    return {
        "i__pro": [(b, rng.integers(0, 90, size=5)) for b in range(50)],
        "o__mot": [(b, np.array([[b % 4, 0, b % 10]])) for b in range(0, 50, 2)],  # voxels
        "silent": [(b, np.zeros(0, np.int64)) for b in range(50)],
    }


def test_png_written_with_requested_size(tmp_path: Path) -> None:
    path = np.column_stack([np.linspace(0.8, 3.0, 100), 1.0 + 0.5 * np.sin(np.linspace(0, 6, 100))])
    out = render_run_png(path, default_room(), example_rasters(), tmp_path / "run" / "report.png")
    assert out == tmp_path / "run" / "report.png"
    assert out.stat().st_size > 10_000
    assert png_size(out) == (1400, 800)
    small = render_run_png(path, default_room(), {}, tmp_path / "small.png", size_px=(640, 480))
    assert png_size(small) == (640, 480)


def test_path_is_drawn(tmp_path: Path) -> None:
    path = np.column_stack([np.linspace(0.5, 5.5, 200), np.full(200, 0.5)])
    with_path = render_run_png(path, default_room(), {}, tmp_path / "a.png")
    without = render_run_png(np.zeros((0, 2)), default_room(), {}, tmp_path / "b.png")
    assert blue_pixels(with_path) > 500
    assert blue_pixels(without) == 0


def test_rasters_draw_spikes(tmp_path: Path) -> None:
    room = default_room()
    spikes = render_run_png([(1, 1)], room, example_rasters(), tmp_path / "s.png")
    quiet = render_run_png(
        [(1, 1)], room, {name: [] for name in example_rasters()}, tmp_path / "q.png"
    )
    dark = [int(np.sum(imread(p)[:, :, :3].mean(axis=-1) < 0.2)) for p in (spikes, quiet)]
    assert dark[0] > dark[1] + 200  # the raster marks are black


def test_many_areas_and_bad_size(tmp_path: Path) -> None:
    rasters = {f"area{i}": [(0, np.array([i]))] for i in range(MAX_RASTER_ROWS + 3)}
    out = render_run_png([], default_room(), rasters, tmp_path / "many.png", title="many")
    assert png_size(out) == (1400, 800)
    with pytest.raises(ValueError):
        render_run_png([], default_room(), {}, tmp_path / "tiny.png", size_px=(50, 50))


def row_labels(fig) -> list[str]:  # noqa: ANN001 - a matplotlib Figure
    """The area names of a figure's raster rows, top to bottom."""
    return [ax.get_ylabel().split("\n")[0] for ax in fig.axes if ax.get_xlabel() != "x [m]"]


def notes(fig) -> list[str]:  # noqa: ANN001
    """Texts of the figure other than its title."""
    return [t.get_text() for t in fig.texts if t.get_text() != fig.get_suptitle()]


def many_areas(n: int) -> dict[str, list[tuple[int, np.ndarray]]]:
    return {f"area{i}": [(b, np.array([i % 3])) for b in range(5)] for i in range(n)}


def test_raster_png_grows_to_draw_every_area(tmp_path: Path) -> None:
    rasters = many_areas(60)
    fig = raster_figure(rasters, title="60 areas")
    assert row_labels(fig) == list(rasters)
    assert not any("not drawn" in t for t in notes(fig))
    out = render_raster_png(rasters, tmp_path / "r.png")
    assert png_size(out) == (1000, TOP_PX + BOTTOM_PX + 60 * (ROW_PX + ROW_GAP_PX))
    # Few areas keep the requested size.
    assert png_size(render_raster_png(many_areas(3), tmp_path / "s.png")) == (1000, 800)


def test_run_png_names_the_areas_it_has_no_room_for() -> None:
    rasters = many_areas(MAX_RASTER_ROWS + 10)
    fig = run_figure([(1, 1)], default_room(), rasters)
    shown = row_labels(fig)
    assert shown == list(rasters)[: len(shown)] and len(shown) < len(rasters)
    (note,) = [t for t in notes(fig) if "not drawn" in t]
    left_out = list(rasters)[len(shown):]
    assert note.startswith(f"{len(left_out)} of {len(rasters)} areas not drawn")
    assert note.replace("\n", " ").endswith(", ".join(left_out))
    # As many as fit are drawn: the default 800 px fits MAX_RASTER_ROWS without a note.
    fits = run_figure([(1, 1)], default_room(), many_areas(MAX_RASTER_ROWS))
    assert len(row_labels(fits)) == MAX_RASTER_ROWS and notes(fits) == []


def test_fifteen_areas_are_all_drawn_in_both_pictures() -> None:
    # /work/shared/cases/13: 12 of 15 areas were drawn and nothing said so.
    rasters = many_areas(15)
    assert row_labels(raster_figure(rasters)) == list(rasters)
    assert row_labels(run_figure([(1, 1)], default_room(), rasters)) == list(rasters)


def test_too_many_areas_for_the_tallest_figure_are_counted_in_the_note() -> None:
    names = [f"a{i}" for i in range(5000)]
    rows = raster_rows(names, (1000, MAX_FIGURE_PX))
    assert 0 < len(rows.shown) < len(names) and rows.shown + rows.left_out == names
    assert rows.note.startswith(f"{len(rows.left_out)} of 5000 areas not drawn")
    assert "more" in rows.note and len(rows.note.splitlines()) <= 6
