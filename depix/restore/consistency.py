"""Mosaic consistency: the restored pixels must pixelate back to the blocks we were given.

The input mosaic is the only hard evidence about the hidden text. Whatever the network
draws, re-pixelating it with the detected grid should give back the input cells; anything
else is a guess the input contradicts. The projection adds, per cell, the difference
between the input cell mean and the output cell mean; clamping to [0, 1] can undo part of
that shift in cells near black or white, so it is repeated until the error is below
``tolerance`` (the pixels that are not clamped take up the rest).
"""

from __future__ import annotations

import torch

from depix.degrade.mosaic import mosaic

GridParams = tuple[int, int, int, int]  # block_h, block_w, offset_y, offset_x (crop coordinates)


def consistency_error(output: torch.Tensor, reference: torch.Tensor, grid: GridParams) -> float:
    """Largest per-cell, per-channel difference of the cell means of two (B, C, H, W) images."""
    return float((mosaic(output, *grid) - mosaic(reference, *grid)).abs().max())


def enforce_consistency(
    output: torch.Tensor,
    reference: torch.Tensor,
    grid: GridParams,
    tolerance: float = 0.25 / 255,
    max_iterations: int = 50,
) -> torch.Tensor:
    """``output`` shifted per cell so that its cell means match ``reference``'s, in [0, 1].

    The default tolerance leaves room for rounding to 8 bits (at most 0.5/255 per cell mean)
    within the 1/255 the project promises.
    """
    target = mosaic(reference, *grid)
    out = output.clamp(0, 1)
    for _ in range(max_iterations):
        gap = target - mosaic(out, *grid)
        if float(gap.abs().max()) <= tolerance:
            break
        out = (out + gap).clamp(0, 1)
    return out
