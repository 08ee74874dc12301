"""One-figure report of a closed-loop run: robot path in the room plus a spike raster per area.

No rclpy. Uses matplotlib's object API with the Agg canvas directly (no pyplot), so it works
headless, from any thread, and never touches global figure state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .sim_world import Room

__all__ = ["render_raster_png", "render_run_png"]

#: More areas than this are summarised in the title rather than drawn unreadably thin.
MAX_RASTER_ROWS = 12


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
        ax.set_ylabel(f"{name}\n{kind}", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.text(0.995, 0.95, f"{ids.size} spikes", transform=ax.transAxes,
                ha="right", va="top", fontsize=6)
        if row < len(names) - 1:
            ax.tick_params(labelbottom=False)
    fig.axes[-1].set_xlabel("burst")


def render_raster_png(
    rasters: Mapping[str, Sequence[tuple[int, np.ndarray]]],
    out: str | Path,
    *,
    title: str | None = None,
    size_px: tuple[int, int] = (1000, 800),
    dpi: int = 100,
) -> Path:
    """A spike raster per area (the first MAX_RASTER_ROWS areas) as a PNG; return its path.

    Args:
        rasters: Area name -> ``[(burst, fired), ...]``, ``fired`` being neuron indices
            ``(k,)`` or voxel coordinates ``(k, 3)`` of that burst. May be empty.
        out: PNG file to write (parent directories are created).
        title: Figure title (default "spike raster").
        size_px: Width, height in pixels.
        dpi: Resolution used to lay the figure out.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = list(rasters)[:MAX_RASTER_ROWS]
    fig = Figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    fig.suptitle(title or "spike raster")
    if names:
        grid = fig.add_gridspec(len(names), 1, hspace=0.35)
        _draw_rasters(fig, [grid[row, 0] for row in range(len(names))], names, rasters)
    fig.savefig(out, dpi=dpi, format="png")
    return out


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
            ``(k,)`` or voxel coordinates ``(k, 3)`` of that burst. May be empty.
        out: PNG file to write (parent directories are created).
        title: Figure title.
        size_px: Width, height in pixels.
        dpi: Resolution used to lay the figure out.

    Raises:
        ValueError: a figure smaller than 200 x 150 px or below 10 dpi.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = (int(s) for s in size_px)
    if width < 200 or height < 150 or dpi < 10:
        raise ValueError(f"figure of {size_px} px at {dpi} dpi is too small to draw")
    path = np.asarray(path_xy, dtype=np.float64).reshape(-1, 2)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    names = list(rasters)
    shown = names[:MAX_RASTER_ROWS]
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    suptitle = title or "closed-loop run"
    if len(names) > len(shown):
        suptitle += f" ({len(names) - len(shown)} more areas not drawn)"
    fig.suptitle(suptitle)

    if not shown:
        _draw_room(fig.add_subplot(1, 1, 1), room, path)
    else:
        grid = fig.add_gridspec(len(shown), 2, width_ratios=(1.0, 1.3), wspace=0.25, hspace=0.35)
        _draw_room(fig.add_subplot(grid[:, 0]), room, path)
        _draw_rasters(fig, [grid[row, 1] for row in range(len(shown))], shown, rasters)
    fig.savefig(out, dpi=dpi, format="png")
    return out
