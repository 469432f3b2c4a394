"""Run a fully convolutional network on an image of any size, tile by tile.

Memory grows with the tile, not the image: overlapping tiles are blended with linear
ramps so no seam shows where two tiles meet.
"""

from __future__ import annotations

import torch
from torch import nn


def _starts(size: int, tile: int, step: int) -> list[int]:
    """Tile origins covering [0, size): regular steps, the last one flush with the end."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def _ramp(length: int, overlap: int, device: torch.device) -> torch.Tensor:
    """Weights rising over ``overlap`` pixels at both ends, 1 in the middle (never 0)."""
    i = torch.arange(length, device=device, dtype=torch.float32)
    rise = (i + 1) / (overlap + 1)
    return torch.minimum(torch.ones_like(i), torch.minimum(rise, rise.flip(0)))


@torch.inference_mode()
def run_tiled(net: nn.Module, x: torch.Tensor, tile: int = 512, overlap: int = 32) -> torch.Tensor:
    """``net(x)`` for ``x`` (1, C, H, W), computed on overlapping ``tile`` x ``tile`` tiles."""
    _, _, h, w = x.shape
    if h <= tile and w <= tile:
        return net(x)
    th, tw = min(tile, h), min(tile, w)
    out = torch.zeros_like(x)
    weight = torch.zeros_like(x[:, :1])
    wy, wx = _ramp(th, overlap, x.device), _ramp(tw, overlap, x.device)
    mask = (wy[:, None] * wx[None, :])[None, None]
    for top in _starts(h, th, th - overlap):
        for left in _starts(w, tw, tw - overlap):
            piece = net(x[:, :, top : top + th, left : left + tw])
            out[:, :, top : top + th, left : left + tw] += piece * mask
            weight[:, :, top : top + th, left : left + tw] += mask
    return out / weight
