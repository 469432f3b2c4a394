"""Synthetic text screenshots: the default, embedded, offline training data."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from depix.data.fonts import fonts_by_kind
from depix.data.render import (
    ANTIALIAS,
    ENGINES,
    LineStyle,
    legible_colours,
    luminance,
    random_colours,
    render_lines_array,
)
from depix.data.text import random_text

# Screenshot looks and how often each appears (see SyntheticTextDataset).
DEFAULT_ANTIALIAS = {"grey": 0.4, "subpixel": 0.3, "unhinted": 0.2, "none": 0.1}
SELECTION_HUES = ((0, 120, 215), (51, 153, 255), (38, 79, 120), (255, 214, 0), (120, 120, 120))


def to_tensor(image) -> torch.Tensor:
    """PIL RGB image or (H, W, 3) uint8 array -> float tensor (3, H, W) in [0, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array).permute(2, 0, 1).float().div_(255.0)


class SyntheticTextDataset(Dataset):
    """Screenshot-like text in random fonts, sizes and colours, rendered on the fly.

    Realism knobs (probabilities per sample): ``antialias`` weights of the coverage kinds
    (grey, ClearType-like sub-pixel, unhinted, aliased; see ``depix.data.render``);
    ``mono_p`` code-editor (monospaced) rather than UI (proportional) font; ``bold_p`` a
    bold face; ``multiline_p`` 2-3 lines when they fit the crop height; ``syntax_p``
    syntax-highlight colours per token (code-editor fonts); ``selection_p`` a selection
    highlight behind part of a line; ``spacing_p`` letter spacing; ``fractional_p`` a
    fractional font size (different hinting). The returned ``text`` is what is visible,
    lines joined by ``"\\n"``. ``engine``: how glyphs are drawn (``depix.data.render.ENGINES``:
    the glyph atlas, or ``"pillow"``, its slow reference).

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
        antialias: dict[str, float] | None = None,
        mono_p: float = 0.4,
        bold_p: float = 0.2,
        multiline_p: float = 0.2,
        syntax_p: float = 0.5,
        selection_p: float = 0.1,
        spacing_p: float = 0.1,
        fractional_p: float = 0.3,
        engine: str = "pillow",
    ) -> None:
        self.length = int(length)
        self.height, self.width = (int(s) for s in size)
        self.font_sizes = (int(font_sizes[0]), int(font_sizes[1]))
        self.fonts = fonts_by_kind(font_split)
        self.antialias = {str(k): float(v) for k, v in (antialias or DEFAULT_ANTIALIAS).items()}
        if set(self.antialias) - set(ANTIALIAS) or not any(self.antialias.values()):
            raise ValueError(f"antialias must weight some of {ANTIALIAS}, got {self.antialias}")
        self.p = {
            "mono": mono_p,
            "bold": bold_p,
            "multiline": multiline_p,
            "syntax": syntax_p,
            "selection": selection_p,
            "spacing": spacing_p,
            "fractional": fractional_p,
        }
        for what, value in self.p.items():
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{what}_p must be a probability in [0, 1], got {value}")
        self.text_kinds = dict(text_kinds) if text_kinds else None
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self.engine = engine
        self.seed = seed
        if self.font_sizes[0] < 4 or self.font_sizes[0] > self.font_sizes[1]:
            raise ValueError(f"font_sizes must be 4 <= min <= max, got {font_sizes}")
        if self.font_sizes[1] > self.height:
            raise ValueError(
                f"font size {self.font_sizes[1]} does not fit the line height {self.height}"
            )

    def __len__(self) -> int:
        return self.length

    def _key(self, index: int) -> int:
        """The seed of sample ``index``'s own stream (training: drawn from ``random``)."""
        if self.seed is None:
            return random.getrandbits(64)
        return self.seed * 1_000_003 + index

    def _rng(self, index: int) -> random.Random:
        return random.Random(self._key(index))

    def _pick_font(self, rng: random.Random) -> tuple[str, bool]:
        """A font path and whether it is monospaced; falls back to any class that exists."""
        mono = rng.random() < self.p["mono"]
        bold = rng.random() < self.p["bold"]
        kind = ("mono" if mono else "proportional") + ("_bold" if bold else "")
        order = [kind, kind.replace("_bold", ""), *sorted(self.fonts)]
        kind = next(k for k in order if k in self.fonts)
        return rng.choice(self.fonts[kind]), kind.startswith("mono")

    def random_style(self, rng: random.Random) -> LineStyle:
        size: float = rng.randint(*self.font_sizes)
        if rng.random() < self.p["fractional"] and size < self.font_sizes[1]:
            size += rng.choice((0.25, 0.5, 0.75))
        font, mono = self._pick_font(rng)
        fg, bg = random_colours(rng)
        max_jitter = max(0, int(self.height - size) // 3)
        names = list(self.antialias)
        antialias = rng.choices(names, weights=[self.antialias[n] for n in names])[0]
        syntax = mono and rng.random() < self.p["syntax"]
        selection = None
        selection_colour = (173, 214, 255)
        if rng.random() < self.p["selection"]:
            hue, alpha = rng.choice(SELECTION_HUES), rng.uniform(0.3, 0.7)
            selection_colour = tuple(round(b + (h - b) * alpha) for b, h in zip(bg, hue))
            if abs(luminance(selection_colour) - luminance(fg)) >= 0.25:
                start = rng.uniform(0.0, 0.7)
                selection = (rng.randrange(3), start, rng.uniform(start + 0.1, 1.0))
        return LineStyle(
            font=font,
            font_size=size,
            foreground=fg,
            background=bg,
            x=rng.randint(0, max(1, self.width // 12)),
            y_jitter=rng.randint(-max_jitter, max_jitter),
            antialias=antialias,
            subpixel_bgr=rng.random() < 0.1,
            letter_spacing=rng.choice((-0.5, 0.5, 1.0, 1.5, 2.0))
            if rng.random() < self.p["spacing"]
            else 0.0,
            line_gap=rng.randint(0, 4),
            token_colours=legible_colours(rng, bg, rng.randint(2, 5)) if syntax else (),
            colour_seed=rng.getrandbits(32),
            selection=selection,
            selection_colour=selection_colour,
        )

    def __getitem__(self, index: int) -> dict:
        rng = self._rng(index)
        style = self.random_style(rng)
        lines = 1
        if rng.random() < self.p["multiline"]:
            lines = rng.randint(2, 3)
        texts = [random_text(rng, self.text_kinds) for _ in range(lines)]
        image, shown = render_lines_array(texts, style, self.height, self.width, self.engine)
        sample = {
            "image": to_tensor(image),
            "text": shown,
            "font_size": round(style.font_size),
            "seed": rng.getrandbits(62),
        }
        return sample
