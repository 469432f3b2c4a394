"""Generated screenshots with known pixelated boxes: the ground truth for tests and the benchmark.

A screenshot here is a large light canvas with lines of random text (an editor or a form),
in which chosen boxes are pixelated with the project's exact mosaic at a known block size
and grid offset. Everything is seeded, so a test or a timing sees the same picture on every
machine that has the same fonts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from depix.data.fonts import discover_fonts
from depix.data.render import LineStyle, render_line
from depix.data.text import random_text
from depix.degrade.mosaic import mosaic


@dataclass(frozen=True)
class MosaicBox:
    """A pixelated rectangle; ``offset_*`` place the grid relative to the box's top-left
    corner. Cells are ``block`` px high and ``block_x`` px wide (None: square)."""

    x: int
    y: int
    w: int
    h: int
    block: int
    offset_y: int = 0
    offset_x: int = 0
    block_x: int | None = None

    @property
    def cell(self) -> tuple[int, int]:
        """Cell (width, height) in pixels."""
        return (self.block if self.block_x is None else self.block_x), self.block

    def grid_offset(self) -> tuple[int, int]:
        """The grid offset in image coordinates (what detection reports), modulo the cell."""
        return (self.y + self.offset_y) % self.block, (self.x + self.offset_x) % self.cell[0]


def text_canvas(
    width: int,
    height: int,
    seed: int = 0,
    line_height: int = 28,
    font_size: int = 18,
    font: str | None = None,
) -> np.ndarray:
    """A uint8 RGB canvas filled with lines of random dark text on white, one font.

    ``font`` None draws one of the installed fonts by ``seed`` (so the set depends on the
    machine); pass a path, or ``depix.data.fonts.BUILTIN``, for a machine-independent canvas.
    """
    rng = random.Random(seed)
    fonts = discover_fonts("all")
    chosen = fonts[rng.randrange(len(fonts))]
    font = font or chosen
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    for top in range(4, height - line_height + 1, line_height):
        style = LineStyle(font, font_size, (20, 20, 20), (255, 255, 255), 8, 0)
        text = "  ".join(random_text(rng) for _ in range(max(1, width // 120)))
        line, _ = render_line(text, style, line_height, width)
        canvas.paste(line, (0, top))
    return np.asarray(canvas, dtype=np.uint8).copy()


def pixelate_boxes(image: np.ndarray, boxes: list[MosaicBox]) -> np.ndarray:
    """A copy of ``image`` (H, W, 3 uint8) with each box replaced by its exact mosaic."""
    out = image.copy()
    for box in boxes:
        crop = torch.from_numpy(out[box.y : box.y + box.h, box.x : box.x + box.w].copy())
        crop = crop.permute(2, 0, 1).unsqueeze(0).float()
        pixelated = mosaic(crop, box.block, box.cell[0], box.offset_y, box.offset_x)
        out[box.y : box.y + box.h, box.x : box.x + box.w] = (
            pixelated[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
        )
    return out


def screenshot(width: int, height: int, boxes: list[MosaicBox], seed: int = 0) -> np.ndarray:
    """A text screenshot of ``width`` x ``height`` with ``boxes`` pixelated (uint8 RGB)."""
    return pixelate_boxes(text_canvas(width, height, seed), boxes)


def line_error(offset: float, pitch: float, truth: float) -> float:
    """Distance from a true grid line to the nearest line of a detected grid."""
    return abs(offset + round((truth - offset) / pitch) * pitch - truth)


def ink_box(
    image: np.ndarray, box: tuple[int, int, int, int], tolerance: float = 4.0
) -> tuple[int, int, int, int] | None:
    """The part of a pixelated ``box`` (x, y, w, h) of ``image`` (H, W, 3 uint8) that any
    detector can see: the bounding box (x, y, w, h) of its pixels that differ by more than
    ``tolerance`` grey levels (any channel) from the background: the most common colour of
    the pixels just around the box (of the box itself at the image's border). Border cells
    of pure background are indistinguishable from the clean picture around them. None
    when the whole box is background."""
    x, y, w, h = box
    crop = image[y : y + h, x : x + w, :3].astype(np.int16)
    y0, x0 = max(y - 1, 0), max(x - 1, 0)
    ring = image[y0 : y + h + 1, x0 : x + w + 1, :3].astype(np.int16).copy()
    inside = np.zeros(ring.shape[:2], dtype=bool)
    inside[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = True
    around = ring[~inside] if (~inside).any() else crop.reshape(-1, 3)
    colours, counts = np.unique(around.reshape(-1, 3), axis=0, return_counts=True)
    background = colours[counts.argmax()]
    ys, xs = np.nonzero((np.abs(crop - background) > tolerance).any(axis=-1))
    if len(ys) == 0:
        return None
    return (
        x + int(xs.min()),
        y + int(ys.min()),
        int(xs.max() - xs.min() + 1),
        int(ys.max() - ys.min() + 1),
    )


def region_matches(
    region, box: MosaicBox, factor: float = 1.0, ink: tuple[int, int, int, int] | None = None
) -> bool:
    """Whether a detected ``region`` is ``box`` of a screenshot scaled by ``factor`` after
    pixelation: cell size within 0.05 px, a grid line at the box's centre within 0.75 px,
    >= 80 % of the scaled box (or, given ``ink`` = ``ink_box`` of the scaled image, of that
    visible part) covered and nothing more than two cells beyond it."""
    if region.pitch is not None:
        size_y, size_x = region.pitch.height, region.pitch.width
        offset_y, offset_x = region.pitch.offset_y, region.pitch.offset_x
    else:
        size_y, size_x = region.grid.block_h, region.grid.block_w
        offset_y, offset_x = region.grid.offset_y, region.grid.offset_x
    cell = box.block * factor
    centre_y = (box.y + box.offset_y + box.block * (box.h // box.block // 2)) * factor
    centre_x = (box.x + box.offset_x + box.block * (box.w // box.block // 2)) * factor
    bx, by, bw, bh = (v * factor for v in (box.x, box.y, box.w, box.h))
    tx, ty, tw, th = ink if ink is not None else (bx, by, bw, bh)
    ix = min(region.x + region.w, tx + tw) - max(region.x, tx)
    iy = min(region.y + region.h, ty + th) - max(region.y, ty)
    return (
        abs(size_y - cell) < 0.05
        and abs(size_x - cell) < 0.05
        and line_error(offset_y, size_y, centre_y) <= 0.75
        and line_error(offset_x, size_x, centre_x) <= 0.75
        and ix > 0
        and iy > 0
        and ix * iy >= 0.8 * tw * th
        and bx - 2 * cell <= region.x
        and region.x + region.w <= bx + bw + 2 * cell
        and by - 2 * cell <= region.y
        and region.y + region.h <= by + bh + 2 * cell
    )


UI_KINDS = ("dialog", "web", "editor")
THEMES = {  # background, panel, text, muted text, accent, border
    "light": (
        (255, 255, 255),
        (243, 244, 246),
        (28, 28, 30),
        (110, 110, 118),
        (37, 99, 235),
        (200, 203, 210),
    ),
    "dark": (
        (30, 30, 30),
        (45, 45, 48),
        (220, 220, 220),
        (140, 140, 150),
        (86, 156, 214),
        (70, 70, 76),
    ),
}


def ui_screenshot(
    kind: str = "dialog", theme: str = "light", seed: int = 0, width: int = 640, height: int = 400
) -> np.ndarray:
    """A generated UI screenshot without any mosaic (uint8 RGB, ``height`` x ``width``).

    ``kind``: ``dialog`` (title bar, blue header bar, labelled text fields with borders,
    buttons, checkboxes), ``web`` (navigation bar, headings, paragraphs, cards, a gradient
    banner, underlined links, a table) or ``editor`` (tabs, a file tree, a line-number
    gutter, syntax-coloured code, a status bar); ``theme``: ``light`` or ``dark``. Flat
    bars, borders, buttons and crisp icons are what a detector must not take for a mosaic:
    the false-positive benchmark and tests (issue 15) use these.
    """
    from PIL import ImageDraw

    from depix.data.fonts import load_font

    rng = random.Random(seed)
    bg, panel, fg, muted, accent, border = THEMES[theme]
    fonts = discover_fonts("all")
    face = fonts[rng.randrange(len(fonts))]
    size = rng.randint(13, 18)
    font, small = load_font(face, size), load_font(face, max(10, size - 3))
    canvas = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(canvas)

    def words(n: int) -> str:
        return " ".join(random_text(rng).split(" ")[0][:10] or "text" for _ in range(n))

    if kind == "dialog":
        draw.rectangle((0, 0, width, 28), fill=panel)
        for i, colour in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
            draw.ellipse((10 + 20 * i, 8, 22 + 20 * i, 20), fill=colour)
        draw.text((90, 6), words(2), fill=fg, font=font)
        draw.rectangle((0, 29, width, 29 + 2 * size), fill=accent)
        draw.text((14, 33), words(3), fill=(255, 255, 255), font=font)
        y = 50 + 2 * size
        while y < height - 80:
            draw.text((20, y + 6), words(1) + ":", fill=muted, font=small)
            field = (140, y, width - 30, y + size + 14)
            draw.rounded_rectangle(field, radius=4, fill=panel, outline=border)
            draw.text((150, y + 6), words(rng.randint(1, 3)), fill=fg, font=font)
            y += size + 30
        draw.rectangle((20, y, 34, y + 14), outline=border)
        draw.line((23, y + 7, 27, y + 11, 31, y + 3), fill=accent, width=2)
        draw.text((42, y), words(3), fill=fg, font=small)
        for i, (fill, text) in enumerate(((accent, (255, 255, 255)), (panel, fg))):
            x0 = width - 120 - 110 * i
            draw.rounded_rectangle((x0, height - 50, x0 + 96, height - 18), 6, fill=fill)
            draw.text((x0 + 16, height - 42), words(1), fill=text, font=small)
    elif kind == "web":
        draw.rectangle((0, 0, width, 44), fill=panel)
        draw.line((0, 44, width, 44), fill=border)
        for i in range(4):
            draw.text((20 + 110 * i, 14), words(1), fill=accent if i == 0 else fg, font=font)
        for x in range(width):  # banner: a smooth gradient, no cells
            t = x / width
            draw.line((x, 56, x, 120), fill=tuple(int(a + (b - a) * t) for a, b in zip(accent, bg)))
        draw.text((24, 76), words(3), fill=(255, 255, 255), font=load_font(face, size + 8))
        y = 134
        for _ in range(3):
            draw.text((24, y), words(8), fill=fg, font=font)
            link = words(2)
            x_link = 24 + int(draw.textlength(words(3), font=font))
            draw.text((x_link, y + size + 6), link, fill=accent, font=font)
            lw = int(draw.textlength(link, font=font))
            draw.line((x_link, y + 2 * size + 8, x_link + lw, y + 2 * size + 8), fill=accent)
            y += 2 * size + 20
        for i in range(3):  # cards with a flat header strip
            x0 = 24 + i * (width - 48) // 3
            card = (x0, y, x0 + (width - 48) // 3 - 12, min(height - 10, y + 90))
            draw.rounded_rectangle(card, 8, fill=panel, outline=border)
            draw.rectangle((card[0] + 1, card[1] + 1, card[2] - 1, card[1] + 16), fill=accent)
            draw.text((x0 + 10, y + 26), words(2), fill=fg, font=small)
        for r in range(4):  # a table: rows of flat cells with borders
            ty = min(height - 12, y + 100 + r * 18)
            draw.line((24, ty, width - 24, ty), fill=border)
    else:  # editor
        draw.rectangle((0, 0, width, 26), fill=panel)
        for i in range(3):
            tab = (150 + 120 * i, 0, 268 + 120 * i, 26)
            draw.rectangle(tab, fill=bg if i == 0 else panel, outline=border)
            draw.text((tab[0] + 8, 6), words(1) + ".py", fill=fg if i == 0 else muted, font=small)
        draw.rectangle((0, 27, 140, height - 22), fill=panel)
        for i, y in enumerate(range(34, height - 40, size + 6)):
            draw.rectangle((10 + 10 * (i % 3), y + 3, 20 + 10 * (i % 3), y + 11), fill=accent)
            draw.text((26 + 10 * (i % 3), y), words(1), fill=muted, font=small)
        palette = [fg, accent, (206, 145, 120), (106, 153, 85), (197, 134, 192)]
        for i, y in enumerate(range(34, height - 40, size + 6)):
            draw.text((148, y), f"{i + 1:>3}", fill=muted, font=small)
            x = 190 + 16 * rng.randint(0, 3)
            for _ in range(rng.randint(1, 5)):
                token = words(1)
                draw.text((x, y), token, fill=palette[rng.randrange(len(palette))], font=font)
                x += int(draw.textlength(token + " ", font=font))
        draw.rectangle((0, height - 22, width, height), fill=accent)
        draw.text((8, height - 19), words(3), fill=(255, 255, 255), font=small)
    return np.asarray(canvas, dtype=np.uint8).copy()


def qr_like(seed: int = 0, modules: int = 25, module: int = 4) -> np.ndarray:
    """A QR-code-like two-colour grid (uint8 RGB): random black/white modules of ``module``
    px with the three finder squares and a quiet zone; crisp single-pixel steps on a
    regular grid, but no averaging. Pixel art and QR codes must not be taken for mosaics."""
    rng = np.random.default_rng(seed)
    cells = rng.random((modules, modules)) < 0.5
    for y, x in ((0, 0), (0, modules - 7), (modules - 7, 0)):
        cells[y : y + 7, x : x + 7] = False
        cells[y : y + 7, x] = cells[y : y + 7, x + 6] = True
        cells[y, x : x + 7] = cells[y + 6, x : x + 7] = True
        cells[y + 2 : y + 5, x + 2 : x + 5] = True
    cells = np.pad(cells, 2)
    grey = np.where(cells, 0, 255).astype(np.uint8)
    image = np.kron(grey, np.ones((module, module), dtype=np.uint8))
    return np.repeat(image[..., None], 3, axis=2)


def pixelate_fitted(
    image: np.ndarray, box: tuple[int, int, int, int], cells_x: int, cells_y: int
) -> np.ndarray:
    """A copy of ``image`` (H, W, 3 uint8) with ``box`` (x, y, w, h) pixelated into
    ``cells_x`` x ``cells_y`` cells fitted to the box (as tools that size cells to the
    selection do): cells of w / cells_x by h / cells_y px, fractional and non-square in
    general; pixel p belongs to cell floor(p * cells / size), the cell's colour is the
    rounded mean of its pixels (sRGB)."""
    x, y, w, h = box
    out = image.copy()
    crop = image[y : y + h, x : x + w].astype(np.float64)
    rows = np.minimum((np.arange(h) * cells_y) // h, cells_y - 1)
    cols = np.minimum((np.arange(w) * cells_x) // w, cells_x - 1)
    sums = np.zeros((cells_y, cells_x, 3))
    np.add.at(sums, (rows[:, None], cols[None, :]), crop)
    counts = np.zeros((cells_y, cells_x))
    np.add.at(counts, (rows[:, None], cols[None, :]), 1)
    means = np.round(sums / counts[..., None]).astype(np.uint8)
    out[y : y + h, x : x + w] = means[rows[:, None], cols[None, :]]
    return out


def palette_dithered(image: np.ndarray, colours: int = 32) -> np.ndarray:
    """``image`` (uint8 RGB) as a palette export: an adaptive palette of ``colours`` and
    Floyd-Steinberg dithering (a GIF or 8-bit PNG of a redacted screenshot), back to RGB."""
    picture = Image.fromarray(image).quantize(colours, dither=Image.Dither.FLOYDSTEINBERG)
    return np.asarray(picture.convert("RGB"))


def found_right(
    regions, image: np.ndarray, box: tuple[int, int, int, int], cell: tuple[float, float]
) -> bool:
    """Whether detection found exactly ``box`` (x, y, w, h) with cells ``cell`` (w, h px):
    one region, cell sizes within 0.05 px, inside the box (one cell of slack) and over
    >= 80 % of the part of it that differs from background (``ink_box``)."""
    if len(regions) != 1:
        return False
    region = regions[0]
    x, y, w, h = box
    cw, ch = cell
    if abs(region.cell[0] - cw) >= 0.05 or abs(region.cell[1] - ch) >= 0.05:
        return False
    if not (
        x - cw <= region.x
        and region.x + region.w <= x + w + cw
        and y - ch <= region.y
        and region.y + region.h <= y + h + ch
    ):
        return False
    ink = ink_box(image, box, tolerance=12)
    if ink is None:
        return True
    tx, ty, tw, th = ink
    ix = min(region.x + region.w, tx + tw) - max(region.x, tx)
    iy = min(region.y + region.h, ty + th) - max(region.y, ty)
    return ix > 0 and iy > 0 and ix * iy >= 0.8 * tw * th
