"""Degradation ops. Each is small, draws its own per-sample parameters and works batched."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from depix.degrade.mosaic import mosaic
from depix.degrade.pipeline import Params


def _randint(lo: int, hi: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """n integers uniform in [lo, hi] (inclusive)."""
    return torch.randint(int(lo), int(hi) + 1, (n,), generator=generator)


class Op:
    """Base of the ops: a ``name`` (prefix of its parameters) and a readable ``repr``.

    Plain classes rather than dataclasses: Hydra would turn dataclass instances inside a
    list into OmegaConf structured configs.
    """

    name = "op"

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class Pixelate(Op):
    """Block mosaic with a random block size in ``block`` (inclusive) and a random grid offset.

    ``random_offset=False`` puts the grid at the image origin, which is what most synthetic
    datasets do and what real screenshots rarely do.
    """

    def __init__(
        self,
        block: Sequence[int] | int = (4, 8),
        random_offset: bool = True,
        name: str = "pixelate",
    ) -> None:
        lo, hi = (block, block) if isinstance(block, int) else tuple(block)
        if not 1 <= lo <= hi:
            raise ValueError(f"pixelate.block must be 1 <= min <= max, got {block}")
        self.block = (int(lo), int(hi))
        self.random_offset = random_offset
        self.name = name

    def sample(self, n: int, generator: torch.Generator) -> Params:
        block = _randint(*self.block, n, generator)
        if self.random_offset:
            offset_y = (torch.rand(n, generator=generator) * block).long()
            offset_x = (torch.rand(n, generator=generator) * block).long()
        else:
            offset_y = offset_x = torch.zeros(n, dtype=torch.long)
        return {
            "block_h": block,
            "block_w": block.clone(),
            "offset_y": offset_y,
            "offset_x": offset_x,
        }

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return mosaic(
            x, params["block_h"], params["block_w"], params["offset_y"], params["offset_x"]
        )


class Quantize(Op):
    """Round to ``bits`` per channel, as saving to an 8-bit image file does."""

    def __init__(self, bits: int = 8, name: str = "quantize") -> None:
        self.bits, self.name = int(bits), name

    def sample(self, n: int, generator: torch.Generator) -> Params:
        return {}

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        levels = 2**self.bits - 1
        return torch.round(x.clamp(0, 1) * levels) / levels
