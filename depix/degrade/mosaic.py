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


def mosaic(
    x: torch.Tensor,
    block_h: torch.Tensor | int,
    block_w: torch.Tensor | int | None = None,
    offset_y: torch.Tensor | int = 0,
    offset_x: torch.Tensor | int = 0,
) -> torch.Tensor:
    """Replace every grid cell of ``x`` (B, C, H, W) by its mean, per-sample grid.

    Scalars apply to the whole batch; tensors of shape (B,) give one value per sample.
    """
    if x.dim() != 4:
        raise ValueError(f"mosaic expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    b, _, h, w = x.shape
    block_w = block_h if block_w is None else block_w
    params = [
        torch.as_tensor(p, device=x.device).long().expand(b).contiguous()
        for p in (block_h, block_w, offset_y, offset_x)
    ]
    if (params[0] < 1).any() or (params[1] < 1).any():
        raise ValueError("block sizes must be >= 1")
    ids, max_cells = block_index(h, w, *params)
    means = cell_means(x, ids, max_cells)
    out = means.gather(2, ids.unsqueeze(1).expand(-1, x.shape[1], -1))
    return out.view_as(x)
