"""Exact, batched block mosaic with a per-sample block size and grid offset.

Real redaction tools average each grid cell; cells cut by the image border are averaged
over the pixels they really contain. Block sizes and offsets differ per sample, so instead
of pooling (one kernel size per call) every pixel gets the id of its cell and the cell
means are computed with one ``scatter_add`` over the whole batch: no Python loop over
pixels or samples, and it runs on whatever device the tensors are on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from depix.degrade.pipeline import to_device


def block_index(
    height: int,
    width: int,
    block_h: torch.Tensor,
    block_w: torch.Tensor,
    offset_y: torch.Tensor,
    offset_x: torch.Tensor,
) -> tuple[torch.Tensor, int]:
    """Cell id of every pixel, shape (B, H*W), and the largest cell count of the batch.

    The grid of sample ``b`` has lines at ``y = offset_y[b] + k * block_h[b]`` (likewise
    for x), so pixels above the first line form a partial top row of cells.
    """
    device = block_h.device
    ys = torch.arange(height, device=device)
    xs = torch.arange(width, device=device)
    bh, bw = block_h.view(-1, 1), block_w.view(-1, 1)
    oy, ox = offset_y.view(-1, 1) % bh, offset_x.view(-1, 1) % bw
    row = torch.div(ys.view(1, -1) - oy + bh, bh, rounding_mode="floor")  # (B, H)
    col = torch.div(xs.view(1, -1) - ox + bw, bw, rounding_mode="floor")  # (B, W)
    n_cols = col[:, -1:] + 1  # (B, 1)
    n_rows = row[:, -1:] + 1
    ids = row.unsqueeze(2) * n_cols.unsqueeze(2) + col.unsqueeze(1)  # (B, H, W)
    max_cells = int((n_rows * n_cols).max())
    return ids.reshape(ids.shape[0], -1), max_cells


REDUCTIONS = ("mean", "center", "corner")


@contextmanager
def _exact_matmul(device: torch.device) -> Iterator[None]:
    """Full float32 matrix products (no TF32, no autocast) for the cell sums below."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        with torch.autocast(device.type, enabled=False):
            yield
    finally:
        torch.set_float32_matmul_precision(previous)


def _axis_cells(
    length: int, block: torch.Tensor, offset: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, int]:
    """Cell index along one axis for every position, (B, length) on ``device``, and the most
    cells. Computed where ``block``/``offset`` live (the CPU in training: no device sync)."""
    pos = torch.arange(length, device=block.device).view(1, -1)
    b = block.view(-1, 1)
    ids = torch.div(pos - offset.view(-1, 1) % b + b, b, rounding_mode="floor")
    return to_device(ids, device), int(ids[:, -1].max()) + 1


def separable_cell_means(
    x: torch.Tensor,
    block_h: torch.Tensor,
    block_w: torch.Tensor,
    offset_y: torch.Tensor,
    offset_x: torch.Tensor,
    inside: torch.Tensor | None = None,
) -> torch.Tensor:
    """Every pixel of ``x`` (B, C, H, W) replaced by its grid cell's mean; (B, C, H, W).

    Cells are products of a row band and a column band, so the cell sums are two batched
    matrix products with one-hot band matrices (``R^T X C``) and the expansion back
    a gather per axis: a handful of kernels for the whole batch, whatever the block sizes,
    instead of a scatter over every pixel. Sums of 8-bit levels are integers below 2^24, so
    they are exact in float32 in any order. ``inside``
    (B, 1, H, W) bool restricts each cell to its pixels inside (a box); the rest is
    averaged as well but ignored by the caller.
    """
    b, c, h, w = x.shape
    rows, n_rows = _axis_cells(h, block_h, offset_y, x.device)
    cols, n_cols = _axis_cells(w, block_w, offset_x, x.device)
    with _exact_matmul(x.device):
        r = F.one_hot(rows, n_rows).to(x.dtype)  # (B, H, nr)
        k = F.one_hot(cols, n_cols).to(x.dtype)  # (B, W, nc)
        if inside is None:
            counts = r.sum(1).view(b, 1, n_rows, 1) * k.sum(1).view(b, 1, 1, n_cols)
        else:
            m = inside.to(x.dtype).view(b, h, w)
            counts = (r.transpose(1, 2) @ torch.bmm(m, k)).unsqueeze(1)
            x = x * m.unsqueeze(1)
        across = torch.bmm(x.reshape(b, c * h, w), k).view(b, c, h, n_cols)
        sums = r.transpose(1, 2).unsqueeze(1) @ across  # (B, C, nr, nc)
        means = sums / counts.clamp_min(1)
    # back to pixels: pick each pixel's row band, then its column band
    means = means.gather(2, rows.view(b, 1, h, 1).expand(b, c, h, n_cols))
    return means.gather(3, cols.view(b, 1, 1, w).expand(b, c, h, w))


def box_mask(height: int, width: int, box: torch.Tensor) -> torch.Tensor:
    """(B, H*W) bool: True inside each sample's box ``(y0, x0, y1, x1)`` (end exclusive)."""
    ys = torch.arange(height, device=box.device).view(1, -1, 1)
    xs = torch.arange(width, device=box.device).view(1, 1, -1)
    y0, x0, y1, x1 = (box[:, i].view(-1, 1, 1) for i in range(4))
    inside = (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
    return inside.reshape(box.shape[0], -1)


def cell_pick_index(ids: torch.Tensor, max_cells: int, width: int, where: str) -> torch.Tensor:
    """Flat pixel index, per pixel, of the one pixel its cell is sampled at; (B, H*W).

    ``corner`` is the cell's top-left pixel; ``center`` the pixel at ``first + size // 2``
    in both axes, which is where nearest-neighbour downscaling samples (PIL, browsers).
    Cells cut by the border or a box use the pixels they really contain.
    """
    b, n = ids.shape
    flat = torch.arange(n, device=ids.device).expand(b, -1)
    ys, xs = torch.div(flat, width, rounding_mode="floor"), flat % width
    big = torch.full((b, max_cells), n, device=ids.device, dtype=torch.long)
    y_min = big.scatter_reduce(1, ids, ys, "amin")
    x_min = big.scatter_reduce(1, ids, xs, "amin")
    if where == "corner":
        y, x = y_min, x_min
    else:
        neg = torch.full_like(big, -1)
        y_max = neg.scatter_reduce(1, ids, ys, "amax")
        x_max = neg.scatter_reduce(1, ids, xs, "amax")
        y = y_min + torch.div(y_max - y_min + 1, 2, rounding_mode="floor")
        x = x_min + torch.div(x_max - x_min + 1, 2, rounding_mode="floor")
    return (y * width + x).gather(1, ids)


def mosaic(
    x: torch.Tensor,
    block_h: torch.Tensor | int,
    block_w: torch.Tensor | int | None = None,
    offset_y: torch.Tensor | int = 0,
    offset_x: torch.Tensor | int = 0,
    *,
    box: torch.Tensor | None = None,
    reduce: str = "mean",
) -> torch.Tensor:
    """Replace every grid cell of ``x`` (B, C, H, W) by its mean, per-sample grid.

    Scalars apply to the whole batch; tensors of shape (B,) give one value per sample.
    ``reduce="center"``/``"corner"`` take one pixel of the cell instead of the mean, as
    tools that pixelate by nearest-neighbour down- and upscaling do. ``box`` (B, 4) or (4,)
    as ``y0, x0, y1, x1`` (end exclusive) pixelates only inside the box: cells cut by the
    box are reduced over their pixels inside it and the outside is returned unchanged.
    """
    if x.dim() != 4:
        raise ValueError(f"mosaic expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"mosaic reduce must be one of {REDUCTIONS}, got {reduce!r}")
    b, c, h, w = x.shape
    block_w = block_h if block_w is None else block_w
    # Grid parameters are checked and turned into cell indices on the CPU (where training
    # draws them), so a GPU batch never waits for a device-to-host copy here.
    params = [
        torch.as_tensor(p).cpu().long().expand(b).contiguous()
        for p in (block_h, block_w, offset_y, offset_x)
    ]
    if (params[0] < 1).any() or (params[1] < 1).any():
        raise ValueError("block sizes must be >= 1")
    inside = None
    if box is not None:
        box = to_device(torch.as_tensor(box).long(), x.device).reshape(-1, 4).expand(b, 4)
        inside = box_mask(h, w, box)
    if reduce == "mean":
        out = separable_cell_means(
            x, *params, inside=None if inside is None else inside.view(b, 1, h, w)
        ).reshape(b, c, -1)
    else:
        ids, max_cells = block_index(h, w, *(to_device(p, x.device) for p in params))
        if inside is not None:  # the outside is one extra, ignored cell
            ids = torch.where(inside, ids, max_cells)
            max_cells += 1
        pick = cell_pick_index(ids, max_cells, w, reduce)
        out = x.reshape(b, c, -1).gather(2, pick.unsqueeze(1).expand(-1, c, -1))
    out = out.view_as(x)
    if inside is not None:
        out = torch.where(inside.view(b, 1, h, w), out, x)
    return out
