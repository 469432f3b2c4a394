"""The degradations the benchmarks score against, one fully specified condition at a time.

Training draws random degradations; evaluation needs named, reproducible ones (block size,
averaging mode, grid offset, display scaling, JPEG) so that a table row means the same
thing in every run. The mosaic and the rescaling are the training ops' own functions
(``depix.degrade.averaging``, ``depix.degrade.rescale``: one definition of each), but JPEG
is Pillow's codec, the real one users meet, not the training's batched torch codec: a
model must not be scored on the approximation it was trained with.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

from depix.degrade.averaging import MODES as AVERAGING_MODES
from depix.degrade.averaging import pixelate_mode, to_8bit
from depix.degrade.rescale import rescale_and_back
from depix.utils.images import to_uint8

OFFSET_MODES = ("grid", "random")
RESCALE_MODE = "bicubic"  # display scaling in browsers and image viewers


@dataclass(frozen=True)
class Condition:
    """One benchmark cell: how the clean images are pixelated.

    ``offset="random"`` shifts each image's grid by a seeded random amount in
    ``[1, block - 1]`` on both axes (strictly off the image origin), as real screenshots are.
    ``rescale`` > 1 is the mosaic seen at that display scaling (bicubic up, then back to the
    original size so the clean image still lines up), before any JPEG.
    """

    block: int
    averaging: str = "srgb"
    jpeg: bool = False
    jpeg_quality: int = 75
    offset: str = "grid"
    font_size: int | None = None
    rescale: float = 1.0

    def __post_init__(self) -> None:
        if self.block < 1:
            raise ValueError(f"block must be >= 1, got {self.block}")
        if self.averaging not in AVERAGING_MODES:
            raise ValueError(f"averaging must be one of {AVERAGING_MODES}, got {self.averaging!r}")
        if self.offset not in OFFSET_MODES:
            raise ValueError(f"offset must be one of {OFFSET_MODES}, got {self.offset!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        if self.rescale < 1:
            raise ValueError(f"rescale must be >= 1 (1 = none), got {self.rescale}")

    def fields(self) -> dict:
        """Columns of this condition in results.csv (quality only when JPEG is on)."""
        out = asdict(self)
        if not self.jpeg:
            out["jpeg_quality"] = None
        return out

    @classmethod
    def from_fields(cls, row: dict[str, str]) -> Condition:
        """The condition of a results.csv row (``fields()`` written as text); older files
        without a ``rescale`` column read as unscaled."""
        return cls(
            block=int(row["block"]),
            averaging=row["averaging"],
            jpeg=row["jpeg"] == "True",
            jpeg_quality=int(row["jpeg_quality"] or 75),
            offset=row["offset"],
            font_size=int(row["font_size"]) if row.get("font_size") else None,
            rescale=float(row.get("rescale") or 1.0),
        )

    def label(self) -> str:
        parts = [f"block {self.block}"]
        if self.font_size is not None:
            parts.append(f"font {self.font_size}")
        parts.append(self.averaging)
        if self.rescale != 1:
            parts.append(f"scaled {self.rescale:g}x")
        parts += [f"jpeg q{self.jpeg_quality}" if self.jpeg else "png", self.offset]
        return ", ".join(parts)


def condition_grid(
    blocks: Sequence[int],
    averaging: Sequence[str],
    jpeg: Sequence[bool],
    offsets: Sequence[str],
    font_sizes: Sequence[int | None] = (None,),
    jpeg_quality: int = 75,
    rescale: Sequence[float] = (1.0,),
) -> list[Condition]:
    """The full factorial grid, font size outermost (lines are rendered once per font size)."""
    return [
        Condition(int(b), str(a), bool(j), int(jpeg_quality), str(o), f, float(r))
        for f, b, a, r, j, o in itertools.product(
            font_sizes, blocks, averaging, rescale, jpeg, offsets
        )
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
    """``x`` (B, 3, H, W) pixelated with one of the tools' averaging modes, 8-bit values."""
    oy, ox = grid.offset_y.to(x.device), grid.offset_x.to(x.device)
    return pixelate_mode(x, averaging, grid.block, grid.block, oy, ox)


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
    """The pixelated image a user would see: the mosaic (8-bit), display scaling, then JPEG.

    Deterministic: degrading the clean original again reproduces the input exactly, which is
    what makes the mosaic-consistency error of a perfect restoration exactly zero.
    """
    y = pixelate(x, grid, condition.averaging)
    if condition.rescale != 1:
        y = to_8bit(rescale_and_back(y, condition.rescale, RESCALE_MODE))
    return jpeg_roundtrip(y, condition.jpeg_quality) if condition.jpeg else y


def conditions_summary(conditions: Iterable[Condition]) -> str:
    """``5 blocks x 3 fonts x ...``: one line saying what a grid covers."""
    conditions = list(conditions)
    keys = ("block", "font_size", "averaging", "rescale", "jpeg", "offset")
    counts = {k: len({getattr(c, k) for c in conditions}) for k in keys}
    return " x ".join(f"{v} {k}" for k, v in counts.items() if v > 1) or "1 condition"
