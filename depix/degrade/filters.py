"""Mild sensor-like and optical degradations: Gaussian pre-blur and Gaussian noise."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from kornia.filters import gaussian_blur2d

from depix.degrade.ops import RandomOp, _range, _uniform
from depix.degrade.pipeline import Params, to_device


class Blur(RandomOp):
    """Gaussian blur with a per-sample ``sigma`` in the range (probability ``p``).

    Placed before ``Pixelate`` it models a soft source (a scaled or photographed screen)
    so the model does not assume razor-sharp glyphs. kornia's ``gaussian_blur2d`` takes a
    per-sample sigma, so the whole batch is one call.
    """

    def __init__(self, p: float = 0.2, sigma: Sequence[float] = (0.3, 1.0), name: str = "blur"):
        super().__init__(p, name)
        self.sigma = _range(sigma, "blur.sigma")
        if self.sigma[0] <= 0:
            raise ValueError(f"blur.sigma must be > 0, got {sigma}")
        self._kernel = 2 * math.ceil(3 * self.sigma[1]) + 1

    def draw(self, n: int, generator: torch.Generator) -> Params:
        return {"sigma": _uniform(*self.sigma, n, generator)}

    def transform(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        sigma = to_device(params["sigma"], x.device, x.dtype).view(-1, 1).expand(-1, 2)
        return gaussian_blur2d(x, (self._kernel, self._kernel), sigma, border_type="replicate")


class Noise(RandomOp):
    """Additive Gaussian noise with a per-sample ``sigma`` (probability ``p``).

    The noise is drawn on the batch's device from a generator seeded by the ``seed``
    parameter, so a seeded degradation stays reproducible on any device.
    """

    def __init__(
        self, p: float = 0.2, sigma: Sequence[float] = (0.002, 0.015), name: str = "noise"
    ):
        super().__init__(p, name)
        self.sigma = _range(sigma, "noise.sigma")

    def draw(self, n: int, generator: torch.Generator) -> Params:
        return {
            "sigma": _uniform(*self.sigma, n, generator),
            "seed": torch.randint(0, 2**62, (n,), generator=generator),
        }

    def transform(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        gen = torch.Generator(device=x.device).manual_seed(int(params["seed"][0]))
        noise = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        return x + noise * to_device(params["sigma"], x.device, x.dtype).view(-1, 1, 1, 1)
