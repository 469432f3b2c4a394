"""Decode a whole pixelated region: split it into lines, decode each, draw the result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from depix.decode.charset import resolve_charset
from depix.decode.decode import DecodeOptions, LineReading, decode_line, render_reading
from depix.decode.forward import CellGrid
from depix.restore.lines import MARGIN_CELLS, line_crops, quiet_surroundings, split_lines


@dataclass
class RegionReading:
    """The lines of one region (top to bottom) and their pixel rows in the region."""

    lines: list[LineReading]
    rows: list[tuple[int, int]]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    # Each line's decoded crop (y0, x0, y1, x1) in region pixels: its rows, widened by the
    # margin of surroundings it was read with (may reach outside the region).
    crops: list[tuple[int, int, int, int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Recovered lines joined by newlines (an unrecovered line is empty)."""
        return "\n".join(line.text for line in self.lines)

    @property
    def guess(self) -> str:
        """Best strings joined by newlines, recovered or not (what a benchmark scores)."""
        return "\n".join(line.guess for line in self.lines)

    @property
    def confidence(self) -> float:
        """The least confident line's confidence (0 without lines)."""
        return min((line.confidence for line in self.lines), default=0.0)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "seconds": round(self.seconds, 3),
            "lines": [
                {"rows": list(rows), **line.to_dict()} for rows, line in zip(self.rows, self.lines)
            ],
            "notes": self.notes,
        }


def decode_region(
    rgb: np.ndarray,
    block: int,
    offset_y: int,
    offset_x: int,
    options: DecodeOptions | None = None,
    *,
    image: np.ndarray | None = None,
    origin: tuple[int, int] = (0, 0),
    margin: int = MARGIN_CELLS,
) -> RegionReading:
    """Read every text line of a pixelated region.

    Args:
        rgb: uint8 (H, W, 3), the region; grid lines at ``offset + k * block`` (region
            coordinates). Lines come from ``depix.restore.lines.split_lines``.
        block, offset_y, offset_x: the region's square cells (px) and grid offsets.
        options: the decoder's knobs (``DecodeOptions``).
        image: the whole picture the region was cut from (uint8 (H', W', 3)), the region's
            top-left at ``origin`` (y, x): each line is then read with ``margin`` cells of
            its surroundings (``depix.restore.lines.line_windows``; unpixelated content there
            is not scored). ``None``: the region alone.

    Returns a ``RegionReading`` (lines top to bottom, each with its window).
    """
    start = time.perf_counter()
    rows = split_lines(rgb, block, offset_y, offset_x)
    source, origin = (rgb, (0, 0)) if image is None else (image, origin)
    region = (*origin, *rgb.shape[:2])
    crops = line_crops(source, region, rows, block, offset_y, offset_x,
                       margin if image is not None else 0)  # fmt: skip
    options = options or DecodeOptions()
    charset = resolve_charset(options.charset)
    jobs = []  # (crop, grid, mosaic box, probes) per line
    for c in crops:
        grid = CellGrid(*c.pixels.shape[:2], block, c.offset_y, c.offset_x)
        probes = (
            reader_probes(c.pixels, c.inside, grid, charset=charset) if options.use_reader else []
        )
        jobs.append((c.pixels, grid, c.inside, probes))
    lines = [decode_line(c, g, options, mosaic_box=m, probes=p) for c, g, m, p in jobs]
    # The lines of one box are mostly in one font: a line not recovered is read again in
    # the font another line was recovered in (the case file two_lines_one_box.png: its
    # second line's probes ranked that font too low).
    found = [line.font for line in lines if line.recovered and line.font]
    if found and len(lines) > 1:
        for k, line in enumerate(lines):
            if line.recovered or line.font == found[0]:
                continue
            crop, grid, inside, probes = jobs[k]
            again = decode_line(crop, grid, replace(options, fonts=[found[0]]),
                                mosaic_box=inside, probes=probes)  # fmt: skip
            if again.recovered or again.confidence > line.confidence:
                again.seconds += line.seconds
                lines[k] = again
    return RegionReading(lines, rows, time.perf_counter() - start, crops=[c.window for c in crops])


PROBES = 3  # the reader's readings of a line that order the fonts (depix.decode.probe)


def reader_probes(
    crop: np.ndarray,
    inside: tuple[int, int, int, int],
    grid: CellGrid,
    count: int = PROBES,
    charset: str | None = None,
) -> list[str]:
    """The shipped reader's ``count`` best readings of one line's crop (uint8 (H, W, 3);
    ``inside``: the mosaic's box in it, unpixelated content outside blanked first), restricted
    to ``charset`` (characters; None: any), or ``[]`` when the package holds no reader."""
    from depix.reader.read import read_crops, shipped_reader_available

    if not shipped_reader_available():
        return []
    calm = quiet_surroundings(crop, inside, grid.block, grid.offset_y, grid.offset_x)
    found = read_crops([calm], top_k=count, charset=charset)[0][:count]
    return [text for text, _ in found if text.strip()]


def render_region(reading: RegionReading, height: int, width: int) -> np.ndarray | None:
    """The decoded lines drawn into the region (uint8 (H, W, 3)), or None unless every line
    was recovered."""
    if not reading.lines or not all(line.recovered for line in reading.lines):
        return None
    out = np.zeros((height, width, 3), dtype=np.uint8)
    crops = reading.crops or [(y0, 0, y1, width) for y0, y1 in reading.rows]
    for (y0, y1), (top, left, bottom, right), line in zip(reading.rows, crops, reading.lines):
        drawn = render_reading(line, bottom - top, right - left)
        if drawn is None:
            return None
        out[y0:y1] = drawn[y0 - top : y1 - top, -left : width - left]
    return out
