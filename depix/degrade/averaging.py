"""How real tools turn a grid cell into one colour: the averaging modes of ``Pixelate``.

Tools differ, and a model trained on one mode fails on another (the classic matcher
recovers nothing when the mode is wrong). All modes return 8-bit values, as a saved file
has: ``srgb`` rounds (half up) the mean of the 8-bit sRGB values (GIMP, most editors);
``srgb_trunc`` truncates it (integer division in C/C# tools such as Greenshot);
``linear`` averages in linear light (colour-managed pipelines, GPU mipmaps with sRGB
textures); ``center`` and ``corner`` take one pixel per cell instead of the mean (nearest-
neighbour down- then upscaling, e.g. CSS ``image-rendering: pixelated`` tricks).
"""

from __future__ import annotations

import torch
from kornia.color import linear_rgb_to_rgb, rgb_to_linear_rgb

from depix.degrade.mosaic import mosaic

MODES = ("srgb", "srgb_trunc", "linear", "center", "corner")


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels, as saving a PNG does."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def pixelate_mode(
    x: torch.Tensor,
    mode: str,
    block_h: torch.Tensor | int,
    block_w: torch.Tensor | int,
    offset_y: torch.Tensor | int,
    offset_x: torch.Tensor | int,
    box: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pixelate ``x`` (B, 3, H, W) in [0, 1] with one averaging ``mode`` for the whole batch."""
    grid = (block_h, block_w, offset_y, offset_x)
    if mode in ("srgb", "srgb_trunc"):
        # Tools average the 8-bit pixels. Sums of 8-bit integers are exact in float32 and
        # the division is correctly rounded, so floor() is exactly the integer division
        # (truncation) and floor(mean + 0.5) exactly round-half-up; a float mean of k/255
        # values would round ties either way by accident.
        levels = mosaic(torch.round(x.clamp(0, 1) * 255), *grid, box=box)
        return torch.floor(levels if mode == "srgb_trunc" else levels + 0.5) / 255
    if mode == "linear":
        # kornia's sRGB transfer functions: the standard piecewise curve, on the device.
        mean = mosaic(rgb_to_linear_rgb(x.clamp(0, 1)), *grid, box=box)
        return to_8bit(linear_rgb_to_rgb(mean.clamp(0, 1)))
    if mode in ("center", "corner"):
        return to_8bit(mosaic(x, *grid, box=box, reduce=mode))
    raise ValueError(f"unknown pixelate mode {mode!r}; choose from {MODES}")
