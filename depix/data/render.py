"""Render one line of text the way it looks in a screenshot (PIL, CPU, in data-loader workers)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from depix.data.fonts import load_font


@dataclass(frozen=True)
class LineStyle:
    """Everything that decides how a line looks; drawn at random by ``random_style``."""

    font: str
    font_size: int
    foreground: tuple[int, int, int]
    background: tuple[int, int, int]
    x: int
    y_jitter: int


def _luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = (c / 255.0 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def random_colours(rng: random.Random, min_contrast: float = 0.35) -> tuple[tuple, tuple]:
    """A foreground/background pair: light or dark theme, sometimes coloured, always legible."""
    for _ in range(100):
        dark = rng.random() < 0.35
        base = rng.randint(0, 60) if dark else rng.randint(200, 255)
        bg = tuple(int(np.clip(base + rng.randint(-15, 15), 0, 255)) for _ in range(3))
        if rng.random() < 0.2:  # coloured panel or highlight
            bg = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.6:
            fg = (255 - base,) * 3 if dark else (rng.randint(0, 60),) * 3
        else:  # coloured text (links, syntax highlighting, labels)
            fg = tuple(rng.randint(0, 255) for _ in range(3))
        if abs(_luminance(fg) - _luminance(bg)) >= min_contrast:
            return fg, bg
    return (0, 0, 0), (255, 255, 255)


def fit_text(text: str, font, max_width: int) -> str:
    """Cut ``text`` at the end so it fits ``max_width`` pixels (at least one character)."""
    while len(text) > 1 and font.getlength(text) > max_width:
        text = (
            text[: max(1, int(len(text) * max_width / font.getlength(text)) - 1)].rstrip()
            or text[:1]
        )
    return text


def render_line(text: str, style: LineStyle, height: int, width: int) -> tuple[Image.Image, str]:
    """Draw ``text`` on a ``height`` x ``width`` canvas; returns the RGB image and the text shown.

    The text is cut to what fits, so the returned string is exactly what is visible (the
    OCR metric compares against it).
    """
    font = load_font(style.font, style.font_size)
    shown = fit_text(text, font, width - style.x - 1)
    image = Image.new("RGB", (width, height), style.background)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), shown, font=font)
    y = (height - (bottom - top)) // 2 - top + style.y_jitter
    draw.text((style.x, y), shown, fill=style.foreground, font=font)
    return image, shown
