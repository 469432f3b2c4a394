"""JPEG re-compression at a per-sample quality, on the device.

Screenshots are re-saved as JPEG before redaction (a photo of the screen, a chat app) or
after it (upload, forwarding); either destroys the exact cell colours that matching
attacks rely on. The codec is ``depix.degrade.jpeg_codec.jpeg_round_trip``: batched, a
quality per image, on the device (a CPU round trip through libjpeg would stall a GPU
pipeline), any image size. kornia's ``jpeg_codec_differentiable`` was the first choice
but we need no gradients, and its differentiable rounding made it 2-3x slower (12 vs
4-6 ms CPU time per 16x3x48x192 batch) and further from libjpeg (PSNR to PIL's output
44-48 dB vs 46-51 dB on pixelated text at quality 50-95). tests/test_degrade_ops.py
states the tolerance to libjpeg.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from depix.degrade.jpeg_codec import jpeg_round_trip
from depix.degrade.ops import RandomOp, _randint, _range
from depix.degrade.pipeline import Params


class Jpeg(RandomOp):
    """JPEG encode/decode at an integer ``quality`` uniform in the range (probability ``p``).

    Output is 8-bit, as a decoder writes it. Use two instances (e.g. names
    ``jpeg_pre`` before ``Pixelate`` and ``jpeg`` after it) for compression on both sides.
    """

    def __init__(
        self, p: float = 0.5, quality: Sequence[int] = (40, 95), name: str = "jpeg"
    ) -> None:
        super().__init__(p, name)
        lo, hi = _range(quality, "jpeg.quality", low=1)
        if hi > 100:
            raise ValueError(f"jpeg.quality must lie in [1, 100], got {quality}")
        self.quality = (int(lo), int(hi))

    def draw(self, n: int, generator: torch.Generator) -> Params:
        return {"quality": _randint(*self.quality, n, generator)}

    def transform(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return jpeg_round_trip(x, params["quality"])
