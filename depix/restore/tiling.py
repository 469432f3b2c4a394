"""Run a fully convolutional network on an image of any size, tile by tile, without seams.

Memory grows with the tile, not the image. Each tile is the network's input for one core
rectangle of the output plus ``context`` pixels of the image around it; only the core is
kept (the overlap-tile strategy of Ronneberger et al., "U-Net", MICCAI 2015). Three things
make the tiled output match a single pass over the whole image:

* tiles start on the network's downsampling lattice (``net.multiple``: stem x 2^levels),
  so every strided convolution sees the same pixel phases as in the single pass;
* a network that normalises its input per image (``UNet.normalize_input``) gets the
  whole image's statistics (``net.input_stats``), not each tile's own;
* ``context`` covers the network's effective receptive field, so the zero padding at a
  tile's inner edges has faded before the kept core. For the shipped model
  (``depix/weights/depix-small.pt``, 4 levels behind a 2x stem: lattice 16 px) the largest
  difference to a single pass on pixelated text was 53 / 9.5 / 0.08 / 0.003 8-bit levels
  (before rounding) with 48 / 64 / 80 / 96 px of context, so the default 96 px leaves
  only 8-bit rounding: tiled and untiled agree within one level (``tests/test_tiling.py``).
"""

from __future__ import annotations

import torch
from torch import nn

CONTEXT = 96  # px of image around each kept core (rounded up to the network's lattice)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _windows(size: int, core: int, context: int) -> list[tuple[int, int, int, int]]:
    """(input start, input end, core start, core end) along one axis, cores tiling [0, size)."""
    out = []
    for start in range(0, size, core):
        end = min(start + core, size)
        out.append((max(start - context, 0), min(end + context, size), start, end))
    return out


@torch.inference_mode()
def run_tiled(
    net: nn.Module, x: torch.Tensor, tile: int = 512, context: int = CONTEXT
) -> torch.Tensor:
    """``net(x)`` for ``x`` (B, C, H, W), computed tile by tile when H or W exceeds ``tile``.

    Args:
        net: a fully convolutional network mapping (B, C, H, W) to the same shape. Optional
            attributes it may have: ``multiple`` (its downsampling factor, tiles are aligned
            to it) and ``input_stats(x)`` with ``forward(x, stats=...)`` (per-image input
            normalisation, computed once on the whole ``x``).
        x: float images, any device.
        tile: the largest input side the network sees at once (a memory bound).
        context: pixels of surrounding image each tile carries beyond the part it keeps.

    Returns:
        The output, shape of ``x``; equal to ``net(x)`` up to the network's sensitivity to
        pixels further than ``context`` away (see the module docstring for the bound).

    Raises:
        ValueError: ``tile`` leaves no room for a core after ``context`` on both sides.
    """
    _, _, h, w = x.shape
    multiple = int(getattr(net, "multiple", 1))
    stats = net.input_stats(x) if hasattr(net, "input_stats") else None

    def call(piece: torch.Tensor) -> torch.Tensor:
        return net(piece) if stats is None else net(piece, stats=stats)

    if h <= tile and w <= tile:
        return call(x)
    context = _round_up(context, multiple)
    core = (tile - 2 * context) // multiple * multiple
    if core < multiple:
        raise ValueError(
            f"tile {tile} px is too small for {context} px of context on each side "
            f"(needs at least {2 * context + multiple})"
        )
    rows = _windows(h, core, context) if h > tile else [(0, h, 0, h)]
    cols = _windows(w, core, context) if w > tile else [(0, w, 0, w)]
    out = None
    for y0, y1, cy0, cy1 in rows:
        for x0, x1, cx0, cx1 in cols:
            piece = call(x[:, :, y0:y1, x0:x1])
            if out is None:
                out = piece.new_empty(*piece.shape[:2], h, w)
            out[:, :, cy0:cy1, cx0:cx1] = piece[:, :, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    return out
