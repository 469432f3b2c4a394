"""Exact, batched block mosaic with a per-sample block size and grid offset.

Real redaction tools average each grid cell; cells cut by the image border are averaged
over the pixels they really contain. Block sizes and offsets differ per sample, so instead
of pooling (one kernel size per call) every pixel gets the id of its cell and the cell
means are computed with one ``scatter_add`` over the whole batch: no Python loop over
pixels or samples, and it runs on whatever device the tensors are on.
"""

from __future__ import annotations

import torch


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


def cell_means(x: torch.Tensor, ids: torch.Tensor, max_cells: int) -> torch.Tensor:
    """Mean of ``x`` (B, C, H, W) over each cell; returns (B, C, max_cells)."""
    b, c = x.shape[:2]
    flat = x.reshape(b, c, -1)
    index = ids.unsqueeze(1).expand(-1, c, -1)
    sums = flat.new_zeros(b, c, max_cells).scatter_add_(2, index, flat)
    counts = flat.new_zeros(b, 1, max_cells).scatter_add_(
        2, ids.unsqueeze(1), torch.ones_like(flat[:, :1])
    )
    return sums / counts.clamp_min(1)


REDUCTIONS = ("mean", "center", "corner")


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
    params = [
        torch.as_tensor(p, device=x.device).long().expand(b).contiguous()
        for p in (block_h, block_w, offset_y, offset_x)
    ]
    if (params[0] < 1).any() or (params[1] < 1).any():
        raise ValueError("block sizes must be >= 1")
    ids, max_cells = block_index(h, w, *params)
    inside = None
    if box is not None:
        box = torch.as_tensor(box, device=x.device).long().reshape(-1, 4).expand(b, 4)
        inside = box_mask(h, w, box)
        ids = torch.where(inside, ids, max_cells)  # the outside is one extra, ignored cell
        max_cells += 1
    if reduce == "mean":
        out = cell_means(x, ids, max_cells).gather(2, ids.unsqueeze(1).expand(-1, c, -1))
    else:
        pick = cell_pick_index(ids, max_cells, w, reduce)
        out = x.reshape(b, c, -1).gather(2, pick.unsqueeze(1).expand(-1, c, -1))
    out = out.view_as(x)
    if inside is not None:
        out = torch.where(inside.view(b, 1, h, w), out, x)
    return out
