"""Synthetic text screenshots: the default, embedded, offline training data."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from depix.data.fonts import discover_fonts
from depix.data.render import LineStyle, random_colours, render_line
from depix.data.text import random_text


def to_tensor(image) -> torch.Tensor:
    """PIL RGB image -> float tensor (3, H, W) in [0, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


class SyntheticTextDataset(Dataset):
    """Lines of random text in random fonts, sizes and colours, rendered on the fly.

    With ``seed=None`` (training) every access draws a new line from Python's ``random``
    state, which Lightning seeds per worker, so epochs never repeat. With a ``seed``
    (validation, test) sample ``i`` is always the same line, whatever the worker or batch,
    and the metrics of different runs compare.
    """

    def __init__(
        self,
        length: int = 10000,
        size: Sequence[int] = (48, 192),
        font_sizes: Sequence[int] = (14, 28),
        font_split: str = "train",
        text_kinds: dict[str, float] | None = None,
        seed: int | None = None,
    ) -> None:
        self.length = int(length)
        self.height, self.width = (int(s) for s in size)
        self.font_sizes = (int(font_sizes[0]), int(font_sizes[1]))
        self.fonts = discover_fonts(font_split)
        self.text_kinds = dict(text_kinds) if text_kinds else None
        self.seed = seed
        if self.font_sizes[0] < 4 or self.font_sizes[0] > self.font_sizes[1]:
            raise ValueError(f"font_sizes must be 4 <= min <= max, got {font_sizes}")
        if self.font_sizes[1] > self.height:
            raise ValueError(
                f"font size {self.font_sizes[1]} does not fit the line height {self.height}"
            )

    def __len__(self) -> int:
        return self.length

    def _rng(self, index: int) -> random.Random:
        if self.seed is None:
            return random.Random(random.getrandbits(64))
        return random.Random(self.seed * 1_000_003 + index)

    def random_style(self, rng: random.Random) -> LineStyle:
        size = rng.randint(*self.font_sizes)
        fg, bg = random_colours(rng)
        max_jitter = max(0, (self.height - size) // 3)
        return LineStyle(
            font=rng.choice(self.fonts),
            font_size=size,
            foreground=fg,
            background=bg,
            x=rng.randint(0, max(1, self.width // 12)),
            y_jitter=rng.randint(-max_jitter, max_jitter),
        )

    def __getitem__(self, index: int) -> dict:
        rng = self._rng(index)
        style = self.random_style(rng)
        image, shown = render_line(
            random_text(rng, self.text_kinds), style, self.height, self.width
        )
        return {
            "image": to_tensor(image),
            "text": shown,
            "font_size": style.font_size,
            "seed": rng.getrandbits(62),
        }
