"""The degradations the benchmarks score against, one fully specified condition at a time.

Training draws random degradations; evaluation needs named, reproducible ones (block size,
averaging mode, JPEG, grid offset) so that a table row means the same thing in every run.
Each condition is built directly from ``depix.degrade.mosaic.mosaic`` plus kornia's sRGB
transfer functions and Pillow's JPEG codec (the real, non-differentiable one users meet),
so the benchmark does not depend on which ops the training configs happen to offer.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from kornia.color import linear_rgb_to_rgb, rgb_to_linear_rgb
from PIL import Image

from depix.degrade.mosaic import mosaic
from depix.utils.images import to_uint8

AVERAGING_MODES = ("srgb", "linear")
OFFSET_MODES = ("grid", "random")


@dataclass(frozen=True)
class Condition:
    """One benchmark cell: how the clean images are pixelated.

    ``offset="random"`` shifts each image's grid by a seeded random amount in
    ``[1, block - 1]`` on both axes (strictly off the image origin), as real screenshots are.
    """

    block: int
    averaging: str = "srgb"
    jpeg: bool = False
    jpeg_quality: int = 75
    offset: str = "grid"
    font_size: int | None = None

    def __post_init__(self) -> None:
        if self.block < 1:
            raise ValueError(f"block must be >= 1, got {self.block}")
        if self.averaging not in AVERAGING_MODES:
            raise ValueError(f"averaging must be one of {AVERAGING_MODES}, got {self.averaging!r}")
        if self.offset not in OFFSET_MODES:
            raise ValueError(f"offset must be one of {OFFSET_MODES}, got {self.offset!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")

    def fields(self) -> dict:
        """Columns of this condition in results.csv (quality only when JPEG is on)."""
        out = asdict(self)
        if not self.jpeg:
            out["jpeg_quality"] = None
        return out

    def label(self) -> str:
        parts = [f"block {self.block}"]
        if self.font_size is not None:
            parts.append(f"font {self.font_size}")
        parts += [self.averaging, f"jpeg q{self.jpeg_quality}" if self.jpeg else "png", self.offset]
        return ", ".join(parts)


def condition_grid(
    blocks: Sequence[int],
    averaging: Sequence[str],
    jpeg: Sequence[bool],
    offsets: Sequence[str],
    font_sizes: Sequence[int | None] = (None,),
    jpeg_quality: int = 75,
) -> list[Condition]:
    """The full factorial grid, font size outermost (lines are rendered once per font size)."""
    return [
        Condition(int(b), str(a), bool(j), int(jpeg_quality), str(o), f)
        for f, b, a, j, o in itertools.product(font_sizes, blocks, averaging, jpeg, offsets)
    ]


@dataclass(frozen=True)
class Grid:
    """Per-image mosaic grid (tensors of shape (B,)): what the consistency metric re-applies."""

    block: int
    offset_y: torch.Tensor
    offset_x: torch.Tensor


def sample_grid(condition: Condition, n: int, generator: torch.Generator) -> Grid:
    """The grid of ``n`` images under ``condition``; offsets drawn from ``generator`` (CPU)."""
    b = condition.block
    if condition.offset == "random" and b > 1:
        oy = torch.randint(1, b, (n,), generator=generator)
        ox = torch.randint(1, b, (n,), generator=generator)
    else:
        oy = ox = torch.zeros(n, dtype=torch.long)
    return Grid(b, oy, ox)


def pixelate(x: torch.Tensor, grid: Grid, averaging: str = "srgb") -> torch.Tensor:
    """Block means of ``x`` (B, 3, H, W) in sRGB values or in linear light, not quantised."""
    oy, ox = grid.offset_y.to(x.device), grid.offset_x.to(x.device)
    if averaging == "linear":
        linear = rgb_to_linear_rgb(x.clamp(0, 1))
        return linear_rgb_to_rgb(mosaic(linear, grid.block, grid.block, oy, ox)).clamp(0, 1)
    return mosaic(x, grid.block, grid.block, oy, ox)


def quantize8(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels, as saving a PNG does."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def jpeg_roundtrip(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode each image with Pillow's JPEG codec (on the CPU; result on x's device)."""
    out = []
    for image in x:
        buffer = io.BytesIO()
        Image.fromarray(to_uint8(image)).save(buffer, format="JPEG", quality=int(quality))
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        out.append(torch.from_numpy(decoded.copy()).permute(2, 0, 1))
    return torch.stack(out).to(x.device, torch.float32) / 255


def degrade(x: torch.Tensor, condition: Condition, grid: Grid) -> torch.Tensor:
    """The pixelated image a user would see: block means, 8-bit, then JPEG when on.

    Deterministic: degrading the clean original again reproduces the input exactly, which is
    what makes the mosaic-consistency error of a perfect restoration exactly zero.
    """
    y = quantize8(pixelate(x, grid, condition.averaging))
    return jpeg_roundtrip(y, condition.jpeg_quality) if condition.jpeg else y


def conditions_summary(conditions: Iterable[Condition]) -> str:
    """``5 blocks x 3 fonts x ...``: one line saying what a grid covers."""
    conditions = list(conditions)
    keys = ("block", "font_size", "averaging", "jpeg", "offset")
    counts = {k: len({getattr(c, k) for c in conditions}) for k in keys}
    return " x ".join(f"{v} {k}" for k, v in counts.items() if v > 1) or "1 condition"
