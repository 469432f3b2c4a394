"""Resample a rescaled mosaic onto an integer grid, restore there, and map back.

The network and the consistency projection both work on whole-pixel cells. A region found
through a rescale (``Region.pitch``: cells of 7.5 or 10.5 px, lines at fractional
positions) is therefore resampled so that its cells become ``block`` px exactly with lines
on pixel boundaries, restored like any mosaic, and resampled back onto the screenshot's
pixels. ``block`` is the pitch rounded, capped at MAX_BLOCK (the largest block the models
are trained on): a mosaic of 12 px cells from 6 px blocks at 200 % comes back to 8 px cells
and text at 4/3 of its original size, which is inside what the model has seen.

Resampling is ``grid_sample`` (bicubic, border padding) with an exact affine map, so grid
lines land where the pitch says to a fraction of a pixel. There is no antialiasing when
cells shrink: the cells are flat, so only the context margin around the region can alias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from depix.restore.detect import Pitch

MAX_BLOCK = 8


def _sample(image: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``image`` (1, C, H, W) at pixel-centre coordinates ``rows`` x ``cols`` (bicubic)."""
    h, w = image.shape[-2:]
    gy = (2 * rows + 1) / h - 1  # align_corners=False: pixel p's centre is p + 0.5
    gx = (2 * cols + 1) / w - 1
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)[None]
    return F.grid_sample(
        image, grid.to(image), mode="bicubic", padding_mode="border", align_corners=False
    )


@dataclass(frozen=True)
class Regrid:
    """Map between a crop (``height`` x ``width`` px) and its copy with integer cells.

    Resampled pixel ``u`` covers crop coordinates ``[origin + u * step, origin + (u+1) * step)``
    on each axis; ``origin_*`` is a grid line, so resampled grid lines are at multiples of
    ``block``.
    """

    block: int
    step: float
    origin_y: float
    origin_x: float
    height: int
    width: int

    @classmethod
    def for_crop(cls, pitch: Pitch, top: int, left: int, height: int, width: int) -> Regrid:
        """The map for the crop at (``top``, ``left``) of an image whose mosaic has ``pitch``."""
        block = max(2, min(MAX_BLOCK, round(pitch.size)))
        # The last grid line at or before the crop's first pixel (so the crop is covered).
        origin_y = (pitch.offset_y - top) % pitch.size - pitch.size
        origin_x = (pitch.offset_x - left) % pitch.size - pitch.size
        return cls(block, pitch.size / block, origin_y, origin_x, height, width)

    @property
    def size(self) -> tuple[int, int]:
        """(rows, columns) of the resampled copy: enough to cover the whole crop."""
        return (
            math.ceil((self.height - self.origin_y) / self.step),
            math.ceil((self.width - self.origin_x) / self.step),
        )

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        """The crop (1, C, H, W) resampled onto the integer grid."""
        rows, cols = (torch.arange(n, dtype=torch.float64) for n in self.size)
        ys = self.origin_y + (rows + 0.5) * self.step - 0.5
        xs = self.origin_x + (cols + 0.5) * self.step - 0.5
        return _sample(crop, ys, xs)

    def backward(self, resampled: torch.Tensor) -> torch.Tensor:
        """A resampled copy (1, C, *size) mapped back onto the crop's pixels."""
        rows = torch.arange(self.height, dtype=torch.float64)
        cols = torch.arange(self.width, dtype=torch.float64)
        us = (rows + 0.5 - self.origin_y) / self.step - 0.5
        vs = (cols + 0.5 - self.origin_x) / self.step - 0.5
        return _sample(resampled, us, vs)

    def window(
        self, y: int, x: int, h: int, w: int
    ) -> tuple[tuple[slice, slice], tuple[int, int, int, int]]:
        """The resampled pixels of crop rectangle (y, x, h, w) and their grid relative to it
        (block_h, block_w, offset_y, offset_x), as ``consistency`` takes it."""
        r0 = round((y - self.origin_y) / self.step)
        r1 = round((y + h - self.origin_y) / self.step)
        c0 = round((x - self.origin_x) / self.step)
        c1 = round((x + w - self.origin_x) / self.step)
        r1, c1 = max(r1, r0 + 1), max(c1, c0 + 1)  # never empty (a thin region)
        b = self.block
        return (slice(r0, r1), slice(c0, c1)), (b, b, (-r0) % b, (-c0) % b)
