"""Colour quantisation: fewer levels per channel, as GIF/PNG-8 exports and old tools store."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from depix.degrade.ops import RandomOp, _randint, _range
from depix.degrade.pipeline import Params, to_device


class ReduceColours(RandomOp):
    """Quantise each channel to ``levels`` evenly spaced values, per sample (probability ``p``).

    With 6-8 levels this is a web-safe-like palette; with 16-64 the banding of a reduced
    palette export. Parameter: ``levels`` (long).
    """

    def __init__(
        self, p: float = 0.1, levels: Sequence[int] = (6, 32), name: str = "colours"
    ) -> None:
        super().__init__(p, name)
        lo, hi = _range(levels, "colours.levels", low=2)
        self.levels = (int(lo), int(hi))

    def draw(self, n: int, generator: torch.Generator) -> Params:
        return {"levels": _randint(*self.levels, n, generator)}

    def transform(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        steps = to_device(params["levels"] - 1, x.device, x.dtype).view(-1, 1, 1, 1)
        return torch.round(x.clamp(0, 1) * steps) / steps
