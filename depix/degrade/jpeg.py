"""JPEG re-compression at a per-sample quality, on the device.

Screenshots are re-saved as JPEG before redaction (a photo of the screen, a chat app) or
after it (upload, forwarding); either destroys the exact cell colours that matching
attacks rely on. kornia's ``jpeg_codec_differentiable`` runs the whole codec (colour
conversion, 4:2:0 chroma subsampling, DCT, quality-scaled standard tables) batched with a
quality per image and pads to whole 16 px blocks itself, so no image size constraint
leaks out; a CPU round trip through libjpeg would stall a GPU pipeline. It matches
libjpeg closely but not bit for bit (tests/test_degrade_ops.py states the tolerance).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from kornia.enhance import jpeg_codec_differentiable

from depix.degrade.ops import RandomOp, _randint, _range
from depix.degrade.pipeline import Params


class Jpeg(RandomOp):
    """JPEG encode/decode at an integer ``quality`` uniform in the range (probability ``p``).

    Output is rounded to 8 bit, as a decoder writes it. Use two instances (e.g. names
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
        quality = params["quality"].to(device=x.device, dtype=torch.float32)
        out = jpeg_codec_differentiable(x.clamp(0, 1).float(), quality)
        return torch.round(out.clamp(0, 1) * 255) / 255
