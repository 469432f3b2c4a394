"""Non-learned baselines a model has to beat: bicubic upsampling of the block grid.

Bilinear/bicubic "unpixelation" is what a reader of a redaction does by squinting: each
block's colour is a sample of the image at the block's centre, and smooth interpolation
between those samples is the best guess without any prior. It is only fair if the sample
positions are the real block centres, so the grid offset must be honoured.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from depix.evaluate.conditions import Grid


def grid_cell_means(x: torch.Tensor, block: int, offset_y: int, offset_x: int) -> torch.Tensor:
    """Mean of every grid cell of ``x`` (B, C, H, W) as a low-resolution image.

    The image is padded (replicate) at the top/left so the first grid line falls on a
    multiple of ``block`` and at the bottom/right to whole cells. Replicated border pixels
    belong to the cut cell they copy, so for a pixelated input every cell (cut or whole)
    averages to exactly its block colour; for a JPEG'd input it averages out the noise.
    Returns the cells and the top/left padding.
    """
    b = int(block)
    _, _, h, w = x.shape
    top, left = (b - int(offset_y) % b) % b, (b - int(offset_x) % b) % b
    bottom, right = (-(h + top)) % b, (-(w + left)) % b
    padded = F.pad(x, (left, right, top, bottom), mode="replicate")
    return F.avg_pool2d(padded, b, stride=b), (top, left)


def bicubic_from_grid(x: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Bicubic interpolation between block centres, per image (grids differ per image).

    With ``align_corners=False`` an upscale by ``block`` maps low-res sample ``i`` to output
    pixel ``i * block + (block - 1) / 2``: exactly the centre of cell ``i`` in the padded
    frame, which is cropped back to the input's size.
    """
    _, _, h, w = x.shape
    out = torch.empty_like(x)
    b = grid.block
    for i in range(x.shape[0]):
        cells, (top, left) = grid_cell_means(
            x[i : i + 1], b, int(grid.offset_y[i]), int(grid.offset_x[i])
        )
        up = F.interpolate(cells, scale_factor=b, mode="bicubic", align_corners=False)
        out[i] = up[0, :, top : top + h, left : left + w]
    return out.clamp(0, 1)
