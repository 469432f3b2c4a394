"""The decoder as a text method of ``depix-eval`` (``configs/text_method/decoder.yaml``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from depix.data.fonts import discover_fonts
from depix.decode.decode import DecodeOptions
from depix.decode.region import decode_region


class DecoderTextMethod:
    """``method(observed, grid, condition) -> list[str]``: the decoder's best string per line.

    Uses the observed pixels and the grid only (never the condition's font, size, averaging
    or JPEG: unknown in real use); the shipped reader's readings pick the fonts to try, as in
    depix-restore (``decode.region.reader_probes``). ``fonts``: ``"all"`` (the whole library,
    as depix-restore searches it) or a list of font files. After each call, ``last_confidences`` holds one
    confidence per image and ``last_fonts`` the font that matched.
    """

    def __init__(
        self,
        fonts: str | Sequence[str] = "all",
        charset: str = "printable",
        beam: int = 16,
        screen_beam: int = 8,
        finalists: int = 3,
    ) -> None:
        font_list = discover_fonts("all") if fonts == "all" else tuple(fonts)
        self.options = DecodeOptions(
            fonts=list(font_list),
            charset=charset,
            beam=int(beam),
            screen_beam=int(screen_beam),
            finalists=int(finalists),
        )
        self.last_confidences: list[float] = []
        self.last_fonts: list[str | None] = []

    def __call__(self, observed: torch.Tensor, grid, condition=None) -> list[str]:
        """``observed``: (B, 3, H, W) float in [0, 1] (8-bit values); ``grid``:
        ``depix.evaluate.conditions.Grid``. Returns the best reading per image."""
        images = torch.round(observed.detach().cpu().clamp(0, 1) * 255).to(torch.uint8)
        texts, self.last_confidences, self.last_fonts = [], [], []
        for i, image in enumerate(images):
            rgb = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
            oy, ox = int(grid.offset_y[i]) % grid.block, int(grid.offset_x[i]) % grid.block
            reading = decode_region(rgb, int(grid.block), oy, ox, self.options)
            texts.append(reading.guess)
            self.last_confidences.append(reading.confidence)
            self.last_fonts.append(reading.lines[0].font if reading.lines else None)
        return texts
