"""Mosaic consistency: the restored pixels must pixelate back to the blocks we were given.

The input mosaic is the only hard evidence about the hidden text. Whatever the network
draws, re-pixelating it with the detected grid should give back the input cells; anything
else is a guess the input contradicts. The projection adds, per cell, the difference
between the input cell value and the output cell mean; clamping to [0, 1] can undo part of
that shift in cells near black or white, so it is repeated until the error is below
``tolerance`` (the pixels that are not clamped take up the rest).

"Pixelate back" depends on how the tool made each cell's colour. An sRGB mean (most
editors) and a mean in linear light (colour-managed tools, GIMP 2.10's default) give
different cell values for the same pixels: dark text on white averages ~20 levels brighter
in linear light. Tools that pixelate by nearest-neighbour down- and upscaling take one
pixel per cell instead (its centre or its top-left corner), so their cells say nothing
about the cell mean: projecting onto means would invent a constraint the input never had.
The projection therefore works in each of the four ways (``HYPOTHESES``): a mean in its
space, or, for sampled cells, setting the one sampled pixel to the cell's value.

``auto`` picks, per image, the hypothesis under which the network's raw output reproduces
the observed cells best (smallest mean absolute cell difference, ``averaging_gaps``). With
a faithful restoration that is the tool's averaging (measured on the benchmark's mosaics
with the true clean image: 100 % of each kind, ``python -m depix.restore.bench
--averaging``); the pick is only as good as the network's output, and the gaps of every
hypothesis are returned so callers can report how clear the choice was.
"""

from __future__ import annotations

import torch
from kornia.color import linear_rgb_to_rgb, rgb_to_linear_rgb

from depix.degrade.mosaic import block_index, cell_pick_index, mosaic

GridParams = tuple[int, int, int, int]  # block_h, block_w, offset_y, offset_x (crop coordinates)
HYPOTHESES = ("srgb", "linear", "center", "corner")  # in tie-break order: most tools first
AVERAGING = ("auto", *HYPOTHESES)
SAMPLED = ("center", "corner")


def _check(averaging: str) -> None:
    if averaging not in AVERAGING:
        raise ValueError(f"unknown consistency averaging {averaging!r}; choose from {AVERAGING}")


def block_means(x: torch.Tensor, grid: GridParams, averaging: str = "srgb") -> torch.Tensor:
    """What a tool pixelating with ``averaging`` makes of each cell of ``x`` (B, C, H, W).

    ``averaging``: 'srgb' (mean of the values), 'linear' (mean in linear light), 'center'
    or 'corner' (the one pixel nearest-neighbour downscaling samples, as
    ``depix.degrade.averaging``). Returned per pixel (every pixel holds its cell's value), in
    sRGB units in [0, 1], not rounded.
    """
    if averaging == "linear":
        return linear_rgb_to_rgb(mosaic(rgb_to_linear_rgb(x.clamp(0, 1)), *grid).clamp(0, 1))
    if averaging in SAMPLED:
        return mosaic(x, *grid, reduce=averaging)
    return mosaic(x, *grid)


def consistency_error(
    output: torch.Tensor, reference: torch.Tensor, grid: GridParams, averaging: str = "srgb"
) -> float:
    """Largest per-cell, per-channel difference between ``output`` pixelated with
    ``averaging`` and the cell means of ``reference`` (both (B, C, H, W), sRGB units)."""
    return float((block_means(output, grid, averaging) - mosaic(reference, *grid)).abs().max())


def averaging_gaps(output: torch.Tensor, reference: torch.Tensor, grid: GridParams) -> torch.Tensor:
    """(B, 4) mean absolute difference, per image, between ``output``'s cells made each way
    of ``HYPOTHESES`` and the observed cells of ``reference`` (their means), in [0, 1] units.

    The evidence ``pick_averaging`` decides on; a gap near 0 means that hypothesis explains
    the observed cells, the spread between the columns how clear the choice is.
    """
    target = mosaic(reference, *grid)
    return torch.stack(
        [(block_means(output, grid, h) - target).abs().flatten(1).mean(1) for h in HYPOTHESES],
        dim=1,
    )


def pick_averaging(output: torch.Tensor, reference: torch.Tensor, grid: GridParams) -> list[str]:
    """Per image of the batch, the hypothesis of ``HYPOTHESES`` that ``output``'s cells agree
    with best (smallest ``averaging_gaps``; ties go to the earlier one, sRGB first)."""
    return [HYPOTHESES[i] for i in averaging_gaps(output, reference, grid).argmin(1).tolist()]


def _select(grid: GridParams, index: torch.Tensor) -> GridParams:
    """The grid of some images of the batch (grid values may be ints or per-image tensors)."""
    return tuple(g[index.to(g.device)] if isinstance(g, torch.Tensor) else g for g in grid)


def _linear_slope(x: torch.Tensor) -> torch.Tensor:
    """d(linear)/d(sRGB) of the standard sRGB curve (what kornia's rgb_to_linear_rgb applies)."""
    return torch.where(
        x > 0.04045, (2.4 / 1.055) * ((x + 0.055) / 1.055) ** 1.4, torch.full_like(x, 1 / 12.92)
    )


def sample_mask(shape: torch.Size, grid: GridParams, where: str, device=None) -> torch.Tensor:
    """(B, 1, H, W) bool, True at the one pixel per cell that 'center' or 'corner' sampling
    takes (the same pixel as ``depix.degrade.mosaic``'s ``reduce``)."""
    b, _, h, w = shape
    params = [torch.as_tensor(p, device=device).long().expand(b).contiguous() for p in grid]
    ids, cells = block_index(h, w, *params)
    pick = cell_pick_index(ids, cells, w, where)
    return (pick == torch.arange(h * w, device=pick.device)).view(b, 1, h, w)


def _project_sampled(
    output: torch.Tensor, reference: torch.Tensor, grid: GridParams, where: str
) -> torch.Tensor:
    """The sampled pixel of each cell set to the observed cell value; the rest untouched
    (the smallest change after which sampling gives the observed cells back)."""
    mask = sample_mask(output.shape, grid, where, output.device)
    return torch.where(mask, mosaic(reference, *grid).clamp(0, 1), output.clamp(0, 1))


def _project(
    output: torch.Tensor,
    reference: torch.Tensor,
    grid: GridParams,
    linear: bool,
    tolerance: float,
    max_iterations: int,
) -> torch.Tensor:
    """Mean-based projection (sRGB or, ``linear``, linear light), iterated against clamping."""
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

    Args:
        output: the network's restoration (B, C, H, W), sRGB units (clamped to [0, 1]).
        reference: the observed pixelated image, same shape; its cell means are the target.
        grid: block_h, block_w, offset_y, offset_x (ints or (B,) tensors).
        averaging: how the input was pixelated: 'srgb', 'linear', 'center', 'corner', or
            'auto' (per image, ``pick_averaging`` on ``output``).

    Returns:
        The projected batch in [0, 1] and the averaging used for each image. Mean-based
        averaging shifts each cell's pixels (``tolerance``: room for 8-bit rounding, at most
        0.5/255 per cell mean, within the 1/255 the project promises); sampled averaging
        sets only the sampled pixel of each cell.

    Raises:
        ValueError: unknown ``averaging``.
    """
    _check(averaging)
    n = output.shape[0]
    chosen = pick_averaging(output, reference, grid) if averaging == "auto" else [averaging] * n
    out = output.clamp(0, 1).clone()
    for space in set(chosen):
        index = torch.tensor([i for i, c in enumerate(chosen) if c == space])
        cells = _select(grid, index)
        if space in SAMPLED:
            out[index] = _project_sampled(output[index], reference[index], cells, space)
        else:
            out[index] = _project(
                output[index],
                reference[index],
                cells,
                space == "linear",
                tolerance,
                max_iterations,
            )
    return out, chosen
