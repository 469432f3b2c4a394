"""A small line chart drawn with Pillow: enough for curves.png without a plotting library.

matplotlib would add ~40 MB of dependencies for one chart with straight lines, ticks and a
legend; Pillow is already required.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont

# Colour-blind-safe palette (Okabe-Ito).
PALETTE = [
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
]


def nice_ticks(lo: float, hi: float, count: int = 8) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 x 10^k) covering [lo, hi] with ~count ticks."""
    span = hi - lo if hi > lo else 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    title: str,
    xlabel: str,
    ylabel: str,
    size: tuple[int, int] = (760, 460),
) -> Image.Image:
    """One polyline with markers per series; axes span the data (y from 0)."""
    width, height = size
    left, right, top, bottom = 70, 170, 40, 60
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    points = [p for values in series.values() for p in values]
    if not points:
        draw.text((left, top), "no data", fill="black", font=font)
        return image
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_hi = max(max(p[1] for p in points), 1e-6) * 1.05
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5

    def to_px(x: float, y: float) -> tuple[float, float]:
        px = left + (x - x_lo) / (x_hi - x_lo) * (width - left - right)
        py = height - bottom - y / y_hi * (height - top - bottom)
        return px, py

    for y in nice_ticks(0.0, y_hi):
        _, py = to_px(x_lo, y)
        draw.line([(left, py), (width - right, py)], fill=(225, 225, 225))
        draw.text((left - 8, py), f"{y:g}", fill="black", font=font, anchor="rm")
    for x in nice_ticks(x_lo, x_hi):
        px, _ = to_px(x, 0.0)
        draw.line([(px, height - bottom), (px, height - bottom + 4)], fill="black")
        draw.text((px, height - bottom + 8), f"{x:g}", fill="black", font=font, anchor="mt")
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    draw.text((width / 2, 12), title, fill="black", font=font, anchor="mt")
    draw.text(
        ((left + width - right) / 2, height - 22), xlabel, fill="black", font=font, anchor="mt"
    )
    draw.text((8, top - 24), ylabel, fill="black", font=font)
    for i, (name, values) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        pixels = [to_px(x, y) for x, y in sorted(values)]
        if len(pixels) > 1:
            draw.line(pixels, fill=colour, width=2)
        for px, py in pixels:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        ly = top + 10 + 20 * i
        draw.line([(width - right + 12, ly), (width - right + 36, ly)], fill=colour, width=3)
        draw.text((width - right + 42, ly), name, fill="black", font=font, anchor="lm")
    return image
