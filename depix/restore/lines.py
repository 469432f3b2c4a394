"""Split a pixelated region into text lines from its row structure (rows of cells).

A mosaic keeps one colour per cell, so a text line shows up as a run of cell rows holding
ink (cells away from the background colour) and the space between lines as rows of
background cells. Each line gets the rows from the middle of the gap above it to the middle
of the gap below, so the lines tile the region. Lines whose gap is hidden (blocks as tall as
the line spacing) cannot be told apart and stay one line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from depix.degrade.mosaic import mosaic

INK_LEVELS = 12.0  # a cell this far (max over channels, 8-bit levels) from the background holds ink


def common_colour(values: np.ndarray) -> np.ndarray:
    """The most common colour of ``values`` (N, 3) in 8-bit levels, to 4 levels (a mosaic's
    background: most of its cells)."""
    keys, counts = np.unique(np.round(values / 4).astype(int), axis=0, return_counts=True)
    return keys[np.argmax(counts)] * 4


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
    background = common_colour(flat)
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


# Within-cell spread (8-bit levels, max over channels) above which a cell outside a detected
# mosaic is unpixelated content (a label, a border) rather than plain background.
FLAT_SPREAD = 12.0
MARGIN_CELLS = 2  # cells of surroundings a line is read with


def line_windows(
    bands: list[tuple[int, int]],
    region: tuple[int, int, int, int],
    image_shape: tuple[int, ...],
    block: int,
    margin: int = MARGIN_CELLS,
) -> list[tuple[int, int, int, int]]:
    """Each line's window ``(top, left, bottom, right)`` in region pixels (end exclusive; may
    be negative): its band widened by ``margin`` cells left and right, above the first line
    and below the last, clipped to the picture.

    A detector cannot tell a mosaic's plain background cells from the unpixelated background
    around it, so regions end at their ink; the cells around carry the background colour and
    the rows a cap or descender only grazes (below the ink threshold), which readers need.

    Args:
        bands: ``split_lines``'s row ranges (region pixels), top to bottom.
        region: ``(y, x, h, w)``, the region in picture pixels.
        image_shape: the picture's shape ``(H, W, ...)``.
        block: cell size (px); ``margin``: cells of surroundings (>= 0).
    """
    y, x, h, w = region
    room = max(0, margin) * block
    windows = []
    for k, (y0, y1) in enumerate(bands):
        top = max(y0 - (room if k == 0 else 0), -y)
        bottom = min(y1 + (room if k == len(bands) - 1 else 0), image_shape[0] - y)
        windows.append((top, max(-room, -x), bottom, min(w + room, image_shape[1] - x)))
    return windows


def quiet_surroundings(
    crop: np.ndarray,
    inside: tuple[int, int, int, int],
    block: int,
    offset_y: int,
    offset_x: int,
    limit: float = FLAT_SPREAD,
) -> np.ndarray:
    """A copy of ``crop`` (uint8 (H, W, 3)) in which every cell (grid lines at
    ``offset + k * block``) lying wholly outside ``inside`` = ``(y0, x0, y1, x1)`` (crop
    pixels, end exclusive) whose within-cell spread exceeds ``limit`` levels is filled with
    the crop's most common cell colour: unpixelated content next to a mosaic (a label) is not
    part of the line a reader should read."""
    x = torch.from_numpy(np.array(crop, dtype=np.float64)).permute(2, 0, 1)[None]
    oy, ox = offset_y % block, offset_x % block
    means = mosaic(x, block, block, oy, ox)
    spread = (mosaic(x * x, block, block, oy, ox) - means * means).clamp_min(0).sqrt()
    busy = spread[0].amax(0).numpy() > limit  # (H, W), constant over each cell
    ys, xs = np.arange(crop.shape[0]), np.arange(crop.shape[1])
    # a pixel's cell spans [start, start + block) with start on the grid
    cy, cx = ys - (ys - oy) % block, xs - (xs - ox) % block
    outside = ~(((cy + block > inside[0]) & (cy < inside[2]))[:, None]
                & ((cx + block > inside[1]) & (cx < inside[3]))[None, :])  # fmt: skip
    out = np.array(crop, copy=True)
    mask = busy & outside
    if mask.any():
        cells = means[0].permute(1, 2, 0).numpy()[~mask]
        out[mask] = np.clip(common_colour(cells), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class LineCrop:
    """One line of a region cut from the picture with its surroundings (``line_windows``).

    ``pixels``: uint8 (H, W, 3); ``window``: (top, left, bottom, right) in region pixels;
    ``inside``: (y0, x0, y1, x1), the line's part of the mosaic in crop pixels;
    ``block``, ``offset_y``, ``offset_x``: the grid in crop coordinates.
    """

    pixels: np.ndarray
    window: tuple[int, int, int, int]
    inside: tuple[int, int, int, int]
    block: int
    offset_y: int
    offset_x: int

    def quiet(self) -> np.ndarray:
        """The pixels with unpixelated content outside the mosaic blanked
        (``quiet_surroundings``): what a reader should read."""
        return quiet_surroundings(self.pixels, self.inside, self.block, self.offset_y,
                                  self.offset_x)  # fmt: skip


def line_crops(
    image: np.ndarray,
    region: tuple[int, int, int, int],
    bands: list[tuple[int, int]],
    block: int,
    offset_y: int,
    offset_x: int,
    margin: int = MARGIN_CELLS,
) -> list[LineCrop]:
    """Each band of a region cut from ``image`` (uint8 (H, W, 3)) with ``margin`` cells of
    its surroundings (``line_windows``). ``region``: (y, x, h, w) picture pixels; ``bands``:
    ``split_lines``'s rows; ``offset_y``/``offset_x``: grid lines at ``offset + k * block``
    in region coordinates."""
    y, x, h, w = region
    crops = []
    for (y0, y1), (top, left, bottom, right) in zip(
        bands, line_windows(bands, region, image.shape, block, margin)
    ):
        pixels = np.ascontiguousarray(image[y + top : y + bottom, x + left : x + right])
        crops.append(LineCrop(pixels, (top, left, bottom, right), (y0 - top, -left, y1 - top, w - left),
                              block, (offset_y - top) % block, (offset_x - left) % block))  # fmt: skip
    return crops
