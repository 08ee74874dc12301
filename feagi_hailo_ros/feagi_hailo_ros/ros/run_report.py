"""One-figure report of a closed-loop run: robot path in the room plus a spike raster per area.

No rclpy. Uses matplotlib's object API with the Agg canvas directly (no pyplot), so it works
headless, from any thread, and never touches global figure state.

Every area gets a raster row of at least :data:`ROW_PX` pixels. ``render_raster_png`` makes its
figure as tall as that needs (up to :data:`MAX_FIGURE_PX`); ``render_run_png`` keeps its exact
size. Areas that still do not fit are named in the picture, under the rasters.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .sim_world import Room

__all__ = ["RasterRows", "raster_figure", "raster_rows", "render_raster_png", "render_run_png",
           "run_figure"]

#: Height of one raster row and of the gap under it, in pixels: the smallest that still shows
#: the two-line label (area name, id kind) at 7 pt.
ROW_PX = 28
ROW_GAP_PX = 8
#: Pixels above the rasters (figure title) and below them (burst ticks and label).
TOP_PX = 50
BOTTOM_PX = 45
#: Lines of the "not drawn" note and their height; names beyond them are counted.
NOTE_LINES = 6
NOTE_LINE_PX = 12
#: Tallest figure ``render_raster_png`` grows to (Agg's limit is 65,536); about 440 rows.
MAX_FIGURE_PX = 16_000
#: Rows that fit a ``render_run_png`` figure of the default 800 px; kept for callers that
#: sized their rasters by it (no longer a limit: see :func:`raster_rows`).
MAX_RASTER_ROWS = (800 - TOP_PX - BOTTOM_PX + ROW_GAP_PX) // (ROW_PX + ROW_GAP_PX)
#: Longer area names are cut to this many characters in the row labels (the note and the
#: record keep them whole).
LABEL_CHARS = 30
# Approximate width of a 7 pt character at 100 dpi, to wrap the note.
_NOTE_CHAR_PX = 5.0


@dataclass(frozen=True)
class RasterRows:
    """Which areas a raster figure draws and which it names as left out.

    Attributes:
        shown: Area names drawn, in order.
        left_out: Area names not drawn, in order.
        note: The text written under the rasters ("" when nothing is left out).
        note_px: Pixels reserved for the note.
    """

    shown: list[str]
    left_out: list[str]
    note: str = ""
    note_px: int = 0


def _rows_that_fit(height_px: int, reserve_px: int) -> int:
    avail = height_px - TOP_PX - BOTTOM_PX - reserve_px
    return max(0, (avail + ROW_GAP_PX) // (ROW_PX + ROW_GAP_PX))


def _note(left_out: Sequence[str], total: int, width_px: int) -> str:
    """``k of n areas not drawn (no room): a, b, ...`` wrapped to ``width_px``; names that do
    not fit in :data:`NOTE_LINES` lines are counted instead."""
    head = f"{len(left_out)} of {total} areas not drawn (no room): "
    width = max(20, int(width_px * 0.96 / _NOTE_CHAR_PX))
    names = list(left_out)
    while True:
        rest = len(left_out) - len(names)
        text = head + ", ".join(names) + (f" … and {rest} more" if rest else "")
        lines = textwrap.wrap(text, width)
        if len(lines) <= NOTE_LINES or not names:
            return "\n".join(lines)
        names = names[: max(0, len(names) - max(1, len(names) // 8))]


def raster_rows(names: Sequence[str], size_px: tuple[int, int]) -> RasterRows:
    """Split area names into the rows a figure of ``size_px`` draws and the ones it names.

    Args:
        names: Area names, in drawing order.
        size_px: Width and height of the figure in pixels.

    Returns:
        :class:`RasterRows`: as many rows of :data:`ROW_PX` as fit, in order; the rest
        listed in a note under them.
    """
    names = list(names)
    width, height = (int(v) for v in size_px)
    if len(names) <= _rows_that_fit(height, 0):
        return RasterRows(names, [])
    reserve = NOTE_LINES * NOTE_LINE_PX + 10
    fit = _rows_that_fit(height, reserve)
    shown, left_out = names[:fit], names[fit:]
    note = _note(left_out, len(names), width)
    return RasterRows(shown, left_out, note, reserve)


def _draw_note(fig, rows: RasterRows, height_px: int) -> None:  # noqa: ANN001 - matplotlib
    if rows.note:
        fig.text(0.01, (rows.note_px - 4) / height_px, rows.note, ha="left", va="top",
                 fontsize=7, color="tab:red")


def _raster_ids(events: Sequence[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, str]:
    """Flatten ``[(burst, ids), ...]`` to scatter coordinates.

    ``ids`` may be 1-D neuron indices or ``(n, 3)`` voxels; voxels become a linear index,
    x-major with z innermost (the connectome's order), over the bounding box seen in the run.
    """
    arrays = [np.asarray(ids) for _, ids in events]
    voxel_mode = any(a.ndim == 2 and a.shape[-1] == 3 for a in arrays if a.size)
    if voxel_mode:
        stacked = np.vstack([a.reshape(-1, 3) for a in arrays if a.size] or [np.zeros((0, 3))])
        dy = int(stacked[:, 1].max()) + 1 if stacked.size else 1
        dz = int(stacked[:, 2].max()) + 1 if stacked.size else 1
    bursts, ids = [], []
    for (burst, _), a in zip(events, arrays, strict=True):
        if a.size == 0:
            continue
        if voxel_mode:
            v = a.reshape(-1, 3).astype(np.int64)
            flat = (v[:, 0] * dy + v[:, 1]) * dz + v[:, 2]
        else:
            flat = a.reshape(-1).astype(np.int64)
        bursts.append(np.full(flat.size, int(burst)))
        ids.append(flat)
    if not ids:
        return np.zeros(0), np.zeros(0), "voxel" if voxel_mode else "neuron"
    return np.concatenate(bursts), np.concatenate(ids), "voxel" if voxel_mode else "neuron"


def _draw_room(ax, room: Room, path: np.ndarray) -> None:  # noqa: ANN001 - matplotlib Axes
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((0, 0), room.width, room.height, fill=False, lw=2.0, ec="black"))
    for box in room.obstacles:
        ax.add_patch(
            Rectangle(
                (box.xmin, box.ymin),
                box.xmax - box.xmin,
                box.ymax - box.ymin,
                fc="0.55",
                ec="0.2",
            )
        )
    if path.shape[0]:
        ax.plot(path[:, 0], path[:, 1], "-", lw=1.6, color="tab:blue", label="path")
        ax.plot(*path[0], "o", color="tab:green", ms=7, label="start")
        ax.plot(*path[-1], "X", color="tab:red", ms=8, label="end")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=7,
                  frameon=False)
    margin = 0.1
    ax.set_xlim(-margin, room.width + margin)
    ax.set_ylim(-margin, room.height + margin)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title("robot path")


def _draw_rasters(fig, cells: Sequence, names: Sequence[str],  # noqa: ANN001 - matplotlib
                  rasters: Mapping[str, Sequence[tuple[int, np.ndarray]]]) -> None:
    """One spike raster per area name, stacked in ``cells`` with a shared burst axis."""
    first = None
    for row, name in enumerate(names):
        ax = fig.add_subplot(cells[row], sharex=first)
        first = first or ax
        bursts, ids, kind = _raster_ids(rasters[name])
        if bursts.size:
            ax.scatter(bursts, ids, s=12, marker="|", linewidths=0.8, color="black")
        # Horizontal labels: a row is too short for a vertical name.
        label = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
        # The spike count under the name: drawn inside the axes it lay on the spikes it counts.
        ax.set_ylabel(f"{label}\n{kind}\n{ids.size} spikes", fontsize=7, rotation=0, ha="right",
                      va="center")
        ax.tick_params(labelsize=6)
        if row < len(names) - 1:
            ax.tick_params(labelbottom=False)
    fig.axes[-1].set_xlabel("burst")


def _raster_grid(fig, n: int, height_px: int, rows: RasterRows, **kw):  # noqa: ANN001, ANN202
    """A gridspec of ``n`` raster rows between the title and the burst axis (and the note)."""
    return fig.add_gridspec(n, kw.pop("ncols", 1), top=1 - TOP_PX / height_px,
                            bottom=(BOTTOM_PX + rows.note_px) / height_px,
                            hspace=ROW_GAP_PX / ROW_PX, **kw)


def raster_figure(
    rasters: Mapping[str, Sequence[tuple[int, np.ndarray]]],
    *,
    title: str | None = None,
    size_px: tuple[int, int] = (1000, 800),
    dpi: int = 100,
):  # noqa: ANN201 - a matplotlib Figure (imported lazily)
    """The figure :func:`render_raster_png` writes: one raster row per area.

    Args:
        rasters: Area name -> ``[(burst, fired), ...]``, ``fired`` being neuron indices
            ``(k,)`` or voxel coordinates ``(k, 3)`` of that burst. May be empty.
        title: Figure title (default "spike raster").
        size_px: Width and the *least* height in pixels; the figure grows taller so every
            area gets a row of :data:`ROW_PX`, up to :data:`MAX_FIGURE_PX` (areas beyond that
            are named in the figure).
        dpi: Resolution used to lay the figure out.

    Returns:
        A ``matplotlib.figure.Figure`` with an Agg canvas.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(rasters)
    width = int(size_px[0])
    needed = TOP_PX + BOTTOM_PX + len(names) * (ROW_PX + ROW_GAP_PX)
    height = min(max(int(size_px[1]), needed), MAX_FIGURE_PX)
    rows = raster_rows(names, (width, height))
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    fig.suptitle(title or "spike raster", y=1 - 10 / height, va="top")
    if rows.shown:
        grid = _raster_grid(fig, len(rows.shown), height, rows, left=0.2, right=0.98)
        _draw_rasters(fig, [grid[row, 0] for row in range(len(rows.shown))], rows.shown, rasters)
    _draw_note(fig, rows, height)
    return fig


def render_raster_png(
    rasters: Mapping[str, Sequence[tuple[int, np.ndarray]]],
    out: str | Path,
    *,
    title: str | None = None,
    size_px: tuple[int, int] = (1000, 800),
    dpi: int = 100,
) -> Path:
    """A spike raster per area as a PNG (:func:`raster_figure`); return its path.

    Every area is drawn: the figure is at least ``size_px`` and grows taller as needed (up to
    :data:`MAX_FIGURE_PX`; areas beyond that are named in the picture).

    Args:
        rasters: Area name -> ``[(burst, fired), ...]``, ``fired`` being neuron indices
            ``(k,)`` or voxel coordinates ``(k, 3)`` of that burst. May be empty.
        out: PNG file to write (parent directories are created).
        title: Figure title (default "spike raster").
        size_px: Width, least height in pixels.
        dpi: Resolution used to lay the figure out.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raster_figure(rasters, title=title, size_px=size_px, dpi=dpi).savefig(out, dpi=dpi, format="png")
    return out


def run_figure(
    path_xy: ArrayLike,
    room: Room,
    rasters: Mapping[str, Sequence[tuple[int, np.ndarray]]],
    *,
    title: str | None = None,
    size_px: tuple[int, int] = (1400, 800),
    dpi: int = 100,
):  # noqa: ANN201 - a matplotlib Figure (imported lazily)
    """The figure :func:`render_run_png` writes, of exactly ``size_px``.

    The rasters get as many rows of :data:`ROW_PX` as the height allows; the areas left out
    are named under them (:func:`raster_rows`).

    Args and Raises: as :func:`render_run_png`.

    Returns:
        A ``matplotlib.figure.Figure`` with an Agg canvas.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = (int(s) for s in size_px)
    if width < 200 or height < 150 or dpi < 10:
        raise ValueError(f"figure of {size_px} px at {dpi} dpi is too small to draw")
    path = np.asarray(path_xy, dtype=np.float64).reshape(-1, 2)
    # The rasters take the right part of the figure, so the note wraps to that width.
    rows = raster_rows(list(rasters), (width, height))
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    fig.suptitle(title or "closed-loop run", y=1 - 10 / height, va="top")
    if not rows.shown:
        _draw_room(fig.add_subplot(1, 1, 1), room, path)
    else:
        grid = _raster_grid(fig, len(rows.shown), height, rows, ncols=2, width_ratios=(1.0, 1.3),
                            wspace=0.35, left=0.06, right=0.98)
        _draw_room(fig.add_subplot(grid[:, 0]), room, path)
        _draw_rasters(fig, [grid[row, 1] for row in range(len(rows.shown))], rows.shown, rasters)
    _draw_note(fig, rows, height)
    return fig


def render_run_png(
    path_xy: ArrayLike,
    room: Room,
    rasters: Mapping[str, Sequence[tuple[int, np.ndarray]]],
    out: str | Path,
    *,
    title: str | None = None,
    size_px: tuple[int, int] = (1400, 800),
    dpi: int = 100,
) -> Path:
    """Draw the run and write a PNG of exactly ``size_px`` pixels; return its path.

    Args:
        path_xy: ``(n, 2)`` robot positions in room coordinates (metres), in time order.
        room: The room the robot drove in.
        rasters: Area name -> ``[(burst, fired), ...]``, ``fired`` being neuron indices
            ``(k,)`` or voxel coordinates ``(k, 3)`` of that burst. May be empty. Areas that
            do not fit (rows of :data:`ROW_PX`) are named in the picture.
        out: PNG file to write (parent directories are created).
        title: Figure title.
        size_px: Width, height in pixels.
        dpi: Resolution used to lay the figure out.

    Raises:
        ValueError: a figure smaller than 200 x 150 px or below 10 dpi.
    """
    fig = run_figure(path_xy, room, rasters, title=title, size_px=size_px, dpi=dpi)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, format="png")
    return out
