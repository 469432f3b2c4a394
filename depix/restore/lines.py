"""Split a pixelated region into text lines from its row structure (rows of cells).

A mosaic keeps one colour per cell, so a text line shows up as a run of cell rows holding
ink (cells away from the background colour) and the space between lines as rows of
background cells. Each line gets the rows from the middle of the gap above it to the middle
of the gap below, so the lines tile the region. Lines whose gap is hidden (blocks as tall as
the line spacing) cannot be told apart and stay one line.
"""

from __future__ import annotations

import numpy as np
import torch

from depix.degrade.mosaic import mosaic

INK_LEVELS = 12.0  # a cell this far (max over channels, 8-bit levels) from the background holds ink


def split_lines(
    rgb: np.ndarray, block: int, offset_y: int = 0, offset_x: int = 0
) -> list[tuple[int, int]]:
    """Pixel row ranges ``(y0, y1)`` (end exclusive, region coordinates) of the text lines of
    a pixelated region, top to bottom, covering all its rows.

    Args:
        rgb: uint8 (H, W, 3), the region (only the mosaic).
        block: cell size in px; ``offset_y``/``offset_x``: grid lines at ``offset + k*block``.

    Returns ``[(0, H)]`` when there is one line (or no ink at all). Boundaries between lines
    lie on cell boundaries. Raises ``ValueError`` for an empty region or a block < 1.
    """
    height, width = rgb.shape[:2]
    if height == 0 or width == 0 or block < 1:
        raise ValueError(f"cannot split a {width}x{height} region with block {block}")
    x = torch.from_numpy(np.array(rgb, dtype=np.float64)).permute(2, 0, 1)[None]
    means = mosaic(x, block, block, offset_y % block, offset_x % block)[0].permute(1, 2, 0)
    cells = means.numpy()
    flat = cells.reshape(-1, 3)
    keys, counts = np.unique(np.round(flat / 4).astype(int), axis=0, return_counts=True)
    background = keys[np.argmax(counts)] * 4
    ink_rows = np.abs(cells - background).max(-1).max(-1) > INK_LEVELS  # (H,)
    # One value per cell row: pixel rows of a cell row share their cell means.
    first = offset_y % block
    starts = sorted({0, *range(first, height, block)} - {height})
    row_ink = [bool(ink_rows[s]) for s in starts]
    runs: list[tuple[int, int]] = []  # (first cell row index, last + 1) of ink runs
    for i, inked in enumerate(row_ink):
        if inked and (not runs or runs[-1][1] != i):
            runs.append((i, i + 1))
        elif inked:
            runs[-1] = (runs[-1][0], i + 1)
    if len(runs) <= 1:
        return [(0, height)]
    edges = starts + [height]
    bounds = [0]
    for (_, end), (nxt, _) in zip(runs, runs[1:]):
        bounds.append(edges[(end + nxt) // 2 + ((end + nxt) % 2)] if nxt > end else edges[end])
    bounds.append(height)
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
