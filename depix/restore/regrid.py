"""Resample a mosaic onto an integer grid in the models' trained range, restore there, map back.

The network and the consistency projection both work on whole-pixel cells, and the network
only knows the scales it was trained on (blocks MIN_BLOCK-MAX_BLOCK px, fonts of 14-28 px). A region whose grid is not
on whole pixels (``Region.pitch``: cells of 7.5 or 8.2 x 10 px, lines at fractional
positions), or whose cells or text are larger than that range (48 px text under 8 px
blocks, 14 px blocks), is therefore resampled so that its cells become ``block_h`` x
``block_w`` px exactly with lines on pixel boundaries, restored like any mosaic, and
resampled back onto the screenshot's pixels. ``normal_blocks`` picks the target cells:
cells and text already in range stay as they are; otherwise the largest cells (closest
to the input) that bring the ink of the tallest text line down to TEXT_INK px and the
cells into [MIN_BLOCK, MAX_BLOCK]; cell shape is kept (non-square cells stay non-square up
to rounding), and nothing is ever enlarged. ``beyond_range`` says when no resampling can
help: cells as tall as the text (one row of cells per line) hide the glyphs themselves.

Onto the integer grid, each resampled pixel is the mean of the screenshot over its
footprint (area resampling): cells stay flat with their means, whatever the step; back
onto the screenshot, ``grid_sample`` (bicubic, border padding). Both maps are the same exact
affine map, so grid lines land where the pitch says to a fraction of a pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from depix.restore.detect import Pitch

MAX_BLOCK = 8  # largest block the shipped model was trained on (experiments/shipped_ft.yaml)
MIN_BLOCK = 3
# Ink height (px) a text line is brought down to: its band of ink cells less one cell of
# rounding. 16 px is the ink of a ~21 px font, the middle of the trained 14-28 px; on the
# issue-15 cases (48 px text under 8 px blocks, 14 px blocks) the top of the range (20)
# read worse than the middle (Tesseract on the restoration, note screens.md).
TEXT_INK = 16.0
TEXT_INK_MAX = 24.0  # ink of a ~28 px font, the top of the trained range: left alone below


def _sample(image: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``image`` (1, C, H, W) at pixel-centre coordinates ``rows`` x ``cols`` (bicubic)."""
    h, w = image.shape[-2:]
    gy = (2 * rows + 1) / h - 1  # align_corners=False: pixel p's centre is p + 0.5
    gx = (2 * cols + 1) / w - 1
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)[None]
    return F.grid_sample(
        image, grid.to(image), mode="bicubic", padding_mode="border", align_corners=False
    )


def _area_weights(n_out: int, origin: float, step: float, n_in: int) -> torch.Tensor:
    """(n_out, n_in) weights: resampled pixel u is the mean of input coordinates
    [origin + u * step, origin + (u + 1) * step), pixel p covering [p, p + 1); parts of the
    footprint beyond the input take its nearest border pixel (as border padding does)."""
    lo = origin + step * torch.arange(n_out, dtype=torch.float64)[:, None]
    hi = lo + step
    pixels = torch.arange(n_in, dtype=torch.float64)[None]
    weights = (torch.minimum(hi, pixels + 1) - torch.maximum(lo, pixels)).clamp(min=0)
    weights[:, :1] += (torch.minimum(hi, torch.zeros(())) - lo).clamp(min=0)  # before pixel 0
    weights[:, -1:] += (hi - torch.maximum(lo, torch.full((), float(n_in)))).clamp(min=0)
    return (weights / step).float()


def normal_blocks(cell_h: float, cell_w: float, text_h: float | None = None) -> tuple[int, int]:
    """Target cell size (block_h, block_w) in whole pixels for cells of ``cell_h`` x
    ``cell_w`` px over text lines whose band of ink cells is ``text_h`` px tall (None:
    unknown).

    One scale for both axes (the text keeps its shape). Cells up to MAX_BLOCK over ink
    (``text_h`` less one cell of rounding) up to TEXT_INK_MAX px are in range and keep
    their size; otherwise the target height is the largest in [MIN_BLOCK, min(MAX_BLOCK,
    round(cell_h))] that brings the ink to at most TEXT_INK px, the middle of the trained
    fonts (MIN_BLOCK when even that leaves it taller).
    Never larger than the input: small cells and text are left alone.
    """
    top = max(MIN_BLOCK, min(MAX_BLOCK, round(cell_h)))
    block_h = top
    ink = max(text_h - cell_h, cell_h) if text_h else None
    if ink is not None and (round(cell_h) > MAX_BLOCK or ink > TEXT_INK_MAX):
        fitting = [b for b in range(MIN_BLOCK, top + 1) if ink * b / cell_h <= TEXT_INK]
        block_h = max(fitting) if fitting else MIN_BLOCK
    block_h = min(block_h, max(2, round(cell_h)))
    block_w = max(2, round(cell_w * block_h / cell_h))
    return block_h, block_w


def beyond_range(cell_h: float, text_h: float | None) -> bool:
    """Whether no rescale can bring this region into the trained range: its text lines are
    a single row of cells (blocks as tall as the text: each cell averages whole glyphs)."""
    return text_h is not None and text_h < 1.5 * cell_h


@dataclass(frozen=True)
class Regrid:
    """Map between a crop (``height`` x ``width`` px) and its copy with integer cells.

    Resampled pixel ``u`` covers crop coordinates ``[origin + u * step, origin + (u+1) * step)``
    on each axis (``step_y``, ``step_x``); ``origin_*`` is a grid line, so resampled grid
    lines are at multiples of ``block_h`` / ``block_w``.
    """

    block_h: int
    block_w: int
    step_y: float
    step_x: float
    origin_y: float
    origin_x: float
    height: int
    width: int

    @property
    def block(self) -> int:
        """The resampled cell height (= width for square cells)."""
        return self.block_h

    @property
    def step(self) -> float:
        """Crop pixels per resampled pixel along y (= x for square cells)."""
        return self.step_y

    @classmethod
    def for_crop(
        cls,
        pitch: Pitch,
        top: int,
        left: int,
        height: int,
        width: int,
        blocks: tuple[int, int] | None = None,
    ) -> Regrid:
        """The map for the crop at (``top``, ``left``) of an image whose mosaic has ``pitch``;
        target cells ``blocks`` (block_h, block_w), by default ``normal_blocks`` of the
        pitch alone (its size rounded, capped at MAX_BLOCK)."""
        block_h, block_w = blocks or normal_blocks(pitch.height, pitch.width)
        # The last grid line at or before the crop's first pixel (so the crop is covered).
        origin_y = (pitch.offset_y - top) % pitch.height - pitch.height
        origin_x = (pitch.offset_x - left) % pitch.width - pitch.width
        return cls(
            block_h,
            block_w,
            pitch.height / block_h,
            pitch.width / block_w,
            origin_y,
            origin_x,
            height,
            width,
        )

    @property
    def size(self) -> tuple[int, int]:
        """(rows, columns) of the resampled copy: enough to cover the whole crop."""
        return (
            math.ceil((self.height - self.origin_y) / self.step_y),
            math.ceil((self.width - self.origin_x) / self.step_x),
        )

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        """The crop (1, C, H, W) resampled onto the integer grid: each resampled pixel is
        the mean of the crop over its footprint (area resampling), so a flat cell stays
        flat with its mean whatever the step; no filter tap reaches into a neighbour cell."""
        rows, cols = self.size
        wy = _area_weights(rows, self.origin_y, self.step_y, self.height).to(crop)
        wx = _area_weights(cols, self.origin_x, self.step_x, self.width).to(crop)
        return torch.einsum("uh,bchw,vw->bcuv", wy, crop, wx)

    def backward(self, resampled: torch.Tensor) -> torch.Tensor:
        """A resampled copy (1, C, *size) mapped back onto the crop's pixels."""
        rows = torch.arange(self.height, dtype=torch.float64)
        cols = torch.arange(self.width, dtype=torch.float64)
        us = (rows + 0.5 - self.origin_y) / self.step_y - 0.5
        vs = (cols + 0.5 - self.origin_x) / self.step_x - 0.5
        return _sample(resampled, us, vs)

    def window(
        self, y: int, x: int, h: int, w: int
    ) -> tuple[tuple[slice, slice], tuple[int, int, int, int]]:
        """The resampled pixels of crop rectangle (y, x, h, w) and their grid relative to it
        (block_h, block_w, offset_y, offset_x), as ``consistency`` takes it."""
        r0 = round((y - self.origin_y) / self.step_y)
        r1 = round((y + h - self.origin_y) / self.step_y)
        c0 = round((x - self.origin_x) / self.step_x)
        c1 = round((x + w - self.origin_x) / self.step_x)
        r1, c1 = max(r1, r0 + 1), max(c1, c0 + 1)  # never empty (a thin region)
        bh, bw = self.block_h, self.block_w
        return (slice(r0, r1), slice(c0, c1)), (bh, bw, (-r0) % bh, (-c0) % bw)
