"""Mosaic consistency: the restored pixels must pixelate back to the blocks we were given.

The input mosaic is the only hard evidence about the hidden text. Whatever the network
draws, re-pixelating it with the detected grid should give back the input cells; anything
else is a guess the input contradicts. The projection adds, per cell, the difference
between the input cell value and the output cell mean; clamping to [0, 1] can undo part of
that shift in cells near black or white, so it is repeated until the error is below
``tolerance`` (the pixels that are not clamped take up the rest).

"Pixelate back" depends on how the tool averaged. An sRGB mean (most editors) and a mean in
linear light (colour-managed tools, GIMP 2.10's default) give different cell values for the
same pixels: dark text on white averages ~20 levels brighter in linear light. Projecting a
good restoration of a linear-light mosaic onto sRGB means would lighten the text again, so
the projection works in either space, and ``auto`` lets the network's raw output choose,
per image: whichever averaging its cell means agree with better (a network that has seen
both modes draws the right darkness; one that has seen only sRGB means picks ``srgb``).
"""

from __future__ import annotations

import torch
from kornia.color import linear_rgb_to_rgb, rgb_to_linear_rgb

from depix.degrade.mosaic import mosaic

GridParams = tuple[int, int, int, int]  # block_h, block_w, offset_y, offset_x (crop coordinates)
AVERAGING = ("auto", "srgb", "linear")


def _check(averaging: str) -> None:
    if averaging not in AVERAGING:
        raise ValueError(f"unknown consistency averaging {averaging!r}; choose from {AVERAGING}")


def block_means(x: torch.Tensor, grid: GridParams, averaging: str = "srgb") -> torch.Tensor:
    """What a tool averaging in ``averaging`` ('srgb' or 'linear') makes of each cell of ``x``.

    Returned per pixel (every pixel holds its cell's value), in sRGB units, not rounded.
    """
    if averaging == "linear":
        return linear_rgb_to_rgb(mosaic(rgb_to_linear_rgb(x.clamp(0, 1)), *grid).clamp(0, 1))
    return mosaic(x, *grid)


def consistency_error(
    output: torch.Tensor, reference: torch.Tensor, grid: GridParams, averaging: str = "srgb"
) -> float:
    """Largest per-cell, per-channel difference between ``output`` pixelated with
    ``averaging`` and the cell means of ``reference`` (both (B, C, H, W), sRGB units)."""
    return float((block_means(output, grid, averaging) - mosaic(reference, *grid)).abs().max())


def pick_averaging(output: torch.Tensor, reference: torch.Tensor, grid: GridParams) -> list[str]:
    """Per image of the batch, the averaging ('srgb' or 'linear') that ``output``'s cell
    values agree with better (mean absolute difference to ``reference``'s cells; ties: srgb)."""
    target = mosaic(reference, *grid)

    def gap(averaging: str) -> torch.Tensor:
        return (block_means(output, grid, averaging) - target).abs().flatten(1).mean(1)

    linear_closer = gap("linear") < gap("srgb")
    return ["linear" if closer else "srgb" for closer in linear_closer.tolist()]


def _select(grid: GridParams, index: torch.Tensor) -> GridParams:
    """The grid of some images of the batch (grid values may be ints or per-image tensors)."""
    return tuple(g[index.to(g.device)] if isinstance(g, torch.Tensor) else g for g in grid)


def _linear_slope(x: torch.Tensor) -> torch.Tensor:
    """d(linear)/d(sRGB) of the standard sRGB curve (what kornia's rgb_to_linear_rgb applies)."""
    return torch.where(
        x > 0.04045, (2.4 / 1.055) * ((x + 0.055) / 1.055) ** 1.4, torch.full_like(x, 1 / 12.92)
    )


def _project(
    output: torch.Tensor,
    reference: torch.Tensor,
    grid: GridParams,
    linear: bool,
    tolerance: float,
    max_iterations: int,
) -> torch.Tensor:
    target = mosaic(reference, *grid)
    to_space = rgb_to_linear_rgb if linear else (lambda t: t)
    target_space = to_space(target.clamp(0, 1))
    out = output.clamp(0, 1)
    from_space = linear_rgb_to_rgb if linear else (lambda t: t)
    for _ in range(max_iterations):
        made = mosaic(to_space(out), *grid)  # cell means in the averaging space
        if float((from_space(made.clamp(0, 1)) - target).abs().max()) <= tolerance:
            break
        # The smallest change of the sRGB values that moves each cell's mean (in its space)
        # by the gap, to first order (Gauss-Newton): pixels move in proportion to the slope
        # of the averaging space, so in linear light dark ink (small slope) stays dark and
        # the bright pixels carry the change; pixels stuck at 0 or 1 do not take part.
        gap = target_space - made
        slope = _linear_slope(out) if linear else torch.ones_like(out)
        stuck = ((out <= 0) & (gap < 0)) | ((out >= 1) & (gap > 0))
        slope = slope.masked_fill(stuck, 0)
        out = (out + slope * gap / mosaic(slope * slope, *grid).clamp_min(1e-12)).clamp(0, 1)
    return out


def enforce_consistency(
    output: torch.Tensor,
    reference: torch.Tensor,
    grid: GridParams,
    averaging: str = "auto",
    tolerance: float = 0.25 / 255,
    max_iterations: int = 50,
) -> tuple[torch.Tensor, list[str]]:
    """``output`` shifted per cell so that pixelating it gives ``reference``'s cells.

    ``averaging`` is how the input was pixelated: 'srgb', 'linear', or 'auto' (per image,
    see ``pick_averaging``). Returns the projected batch in [0, 1] and the averaging used
    for each image. The default tolerance leaves room for rounding to 8 bits (at most
    0.5/255 per cell mean) within the 1/255 the project promises.
    """
    _check(averaging)
    n = output.shape[0]
    chosen = pick_averaging(output, reference, grid) if averaging == "auto" else [averaging] * n
    out = output.clamp(0, 1).clone()
    for space in set(chosen):
        index = torch.tensor([i for i, c in enumerate(chosen) if c == space])
        out[index] = _project(
            output[index],
            reference[index],
            _select(grid, index),
            space == "linear",
            tolerance,
            max_iterations,
        )
    return out, chosen
