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
    """A pixelated rectangle; ``offset_*`` place the grid relative to the box's top-left corner."""

    x: int
    y: int
    w: int
    h: int
    block: int
    offset_y: int = 0
    offset_x: int = 0

    def grid_offset(self) -> tuple[int, int]:
        """The grid offset in image coordinates (what detection reports), modulo the block."""
        return (self.y + self.offset_y) % self.block, (self.x + self.offset_x) % self.block


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
        pixelated = mosaic(crop, box.block, box.block, box.offset_y, box.offset_x)
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
    ``tolerance`` grey levels (any channel) from the box's most common colour. Border cells
    of pure background are indistinguishable from the clean picture around them. None
    when the whole box is one colour."""
    x, y, w, h = box
    crop = image[y : y + h, x : x + w, :3].astype(np.int16)
    colours, counts = np.unique(crop.reshape(-1, 3), axis=0, return_counts=True)
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
