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

``auto`` decides in two steps. First the family, from the observed cells alone
(``sampled_evidence``): a sampled cell is one pixel of the original, so over text most
cells that differ from the background hold the full ink colour, as strong as the
strongest cell next to them; a mean cell over text holds a partial coverage, weaker than
its neighbours where the stroke lies. Then, inside the family, the most common tool (sRGB
means, centre sampling) unless the network's raw output reproduces the observed cells
clearly better under the other (``averaging_gaps``); an output that explains one family
far better than the other also overrules the cells. With a faithful restoration that
names the tool's averaging; with the shipped network it names the family but not the
space (it draws the same image whatever way the cells were made), and centre vs corner
sampling cannot be told from the cells at all when the text's position in the grid is
unknown (shifting the text by half a cell swaps them). Figures: ``python -m
depix.restore.bench --averaging``; the gaps of every hypothesis are returned so callers
can report how clear the choice was.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
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


# ``looks_sampled`` thresholds, chosen on the benchmark's own mosaics (configs/benchmark/
# text + realism, 1,600 images; so the figures of ``bench --averaging`` are in-sample): the
# pair that keeps the mistakes of every kind lowest (from the cells alone: 2-3 % of mean
# mosaics called sampled, 4-5 % of sampled ones called mean).
PEAK_SHARE = 0.40  # share of ink cells as strong as their strongest neighbour
PEAK_CONTRAST = 0.36  # strongest cell's distance from the background, [0, 1] units
# The network's output decides the family when one family's best gap is below this share
# of the other's: the true image gives a median of 0.05 (99th percentile 0.41-0.52, then the
# cells decide) on the benchmark's mosaics; the shipped network 0.22-0.66 on mean mosaics
# (right) but 0.4-2.5 on sampled ones (it explains neither family well; 0.37 lets it overrule
# no sampled mosaic of the benchmark's, a shade in-sample).
CLEAR_GAP_RATIO = 0.37
# sRGB vs linear light: the true image's ratio is 0.06 in median but up to 0.74 under JPEG
# q75 (noise in the observed cells), the shipped network's 0.5-2.0 on either kind; linear
# light must explain the cells 20 % better than sRGB to overrule the common tool.
LINEAR_GAP_RATIO = 0.8
_INK = 0.06  # a cell this far from the background (and 15 % of the strongest) is ink


def full_cells(x: torch.Tensor, grid: GridParams) -> list[torch.Tensor]:
    """The means of the whole cells of each image of ``x`` (B, C, H, W): a list of B tensors
    (C, rows, cols). Cells cut by the image border are left out (they hold fewer pixels)."""
    out = []
    for i in range(x.shape[0]):
        bh, bw, oy, ox = (int(g[i]) if isinstance(g, torch.Tensor) else int(g) for g in grid)
        crop = x[i : i + 1, :, oy % bh :, ox % bw :]
        rows, cols = crop.shape[2] // bh, crop.shape[3] // bw
        out.append(F.avg_pool2d(crop[..., : rows * bh, : cols * bw], (bh, bw))[0])
    return out


def _background(cells: torch.Tensor) -> torch.Tensor:
    """(C, 1, 1) the most common cell colour (16 levels per channel, then the median of the
    cells of that bin): the background of a text line."""
    c = cells.shape[0]
    flat = cells.reshape(c, -1)
    q = (flat.clamp(0, 1) * 15).round().long()
    keys = sum(q[k] * 16**k for k in range(c))
    values, counts = keys.unique(return_counts=True)
    return flat[:, keys == values[counts.argmax()]].median(1).values.view(c, 1, 1)


def sampled_evidence(reference: torch.Tensor, grid: GridParams) -> torch.Tensor:
    """(B, 2) per image: the share of ink cells at least 0.85 x as far from the background
    as the farthest cell of their 3x3 neighbourhood, and the farthest cell's distance
    (largest channel difference, [0, 1] units).

    Model-free evidence for sampled cells: sampling keeps the original's pixels, so over
    text most ink cells hold the full ink colour (the first value is high, the second the
    full contrast of the text); means mix ink and background in proportion to coverage,
    so strokes spread over cells of mixed strength (a low first value) and big cells are
    faint (a low second). The share is measured in sRGB values and in linear light and
    the smaller kept: a mean in linear light crowds light ink's partial cells near the ink
    colour in sRGB values, not in its own space. Images without ink give (0, 0).
    """
    rows = []
    for cells in full_cells(reference, grid):
        background = _background(cells)
        distance = (cells - background).abs().amax(0)
        strongest = float(distance.max()) if distance.numel() else 0.0
        ink = distance > max(_INK, 0.15 * strongest)
        if not bool(ink.any()):
            rows.append((0.0, 0.0))
            continue
        linear = (rgb_to_linear_rgb(cells.clamp(0, 1)) - rgb_to_linear_rgb(background)).abs()
        shares = []
        for space in (distance, linear.amax(0)):
            local = F.max_pool2d(space[None, None], 3, 1, 1)[0, 0]
            shares.append(float((space[ink] >= 0.85 * local[ink]).float().mean()))
        rows.append((min(shares), strongest))
    return torch.tensor(rows, dtype=torch.float32).view(-1, 2)


def looks_sampled(reference: torch.Tensor, grid: GridParams) -> list[bool]:
    """Per image: were the cells sampled (centre/corner) rather than averaged?
    ``sampled_evidence`` above both thresholds (``PEAK_SHARE``, ``PEAK_CONTRAST``)."""
    evidence = sampled_evidence(reference, grid)
    return ((evidence[:, 0] > PEAK_SHARE) & (evidence[:, 1] > PEAK_CONTRAST)).tolist()


def pick_averaging(output: torch.Tensor, reference: torch.Tensor, grid: GridParams) -> list[str]:
    """Per image of the batch, the averaging of ``HYPOTHESES`` the tool most likely used.

    Each choice has a default that ``output`` overrules only when its cells explain the
    other side clearly better (smallest gap below ``CLEAR_GAP_RATIO`` x the other side's,
    ``averaging_gaps``), as a faithful restoration does:

    - sampled or mean: by default the observed cells decide (``looks_sampled``);
    - inside the means: sRGB (most tools) unless linear light is clearly better;
    - inside the sampled: centre (nearest-neighbour downscaling in PIL and browsers) unless
      the corner is clearly better.

    An output that explains neither side (the shipped network draws the same image whatever
    the tool did) thus leaves the choice to the cells and to the most common tool.
    """
    gaps = averaging_gaps(output, reference, grid)
    srgb, linear, center, corner = (gaps[:, HYPOTHESES.index(h)] for h in HYPOTHESES)
    mean_gap, sampled_gap = torch.minimum(srgb, linear), torch.minimum(center, corner)
    is_sampled = torch.where(
        _clearly_below(sampled_gap, mean_gap, CLEAR_GAP_RATIO),
        True,
        torch.where(
            _clearly_below(mean_gap, sampled_gap, CLEAR_GAP_RATIO),
            False,
            torch.tensor(looks_sampled(reference, grid), dtype=torch.bool),
        ),
    )
    corner_wins = _clearly_below(corner, center, CLEAR_GAP_RATIO).tolist()
    linear_wins = _clearly_below(linear, srgb, LINEAR_GAP_RATIO).tolist()
    return [
        ("corner" if corner_wins[i] else "center")
        if sampled
        else ("linear" if linear_wins[i] else "srgb")
        for i, sampled in enumerate(is_sampled.tolist())
    ]


def _clearly_below(gap: torch.Tensor, other: torch.Tensor, ratio: float) -> torch.Tensor:
    """``gap`` below ``ratio`` x ``other`` and by more than a quarter level (differences of
    float rounding, e.g. between hypotheses that all explain flat cells, decide nothing)."""
    return (gap < ratio * other) & (other - gap > 0.25 / 255)


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
