"""Decode a whole pixelated region: split it into lines, decode each, draw the result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from depix.decode.decode import DecodeOptions, LineReading, decode_line, render_reading
from depix.decode.forward import CellGrid
from depix.restore.lines import split_lines


@dataclass
class RegionReading:
    """The lines of one region (top to bottom) and their pixel rows in the region."""

    lines: list[LineReading]
    rows: list[tuple[int, int]]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

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
    rgb: np.ndarray, block: int, offset_y: int, offset_x: int, options: DecodeOptions | None = None
) -> RegionReading:
    """Read every text line of a pixelated region.

    ``rgb``: uint8 (H, W, 3), the region; grid lines at ``offset + k * block`` (region
    coordinates). Lines come from ``depix.restore.lines.split_lines``.
    """
    start = time.perf_counter()
    rows = split_lines(rgb, block, offset_y, offset_x)
    lines = []
    for y0, y1 in rows:
        grid = CellGrid(y1 - y0, rgb.shape[1], block, (offset_y - y0) % block, offset_x % block)
        lines.append(decode_line(np.ascontiguousarray(rgb[y0:y1]), grid, options))
    return RegionReading(lines, rows, time.perf_counter() - start)


def render_region(reading: RegionReading, height: int, width: int) -> np.ndarray | None:
    """The decoded lines drawn into the region (uint8 (H, W, 3)), or None unless every line
    was recovered."""
    if not reading.lines or not all(line.recovered for line in reading.lines):
        return None
    out = np.zeros((height, width, 3), dtype=np.uint8)
    for (y0, y1), line in zip(reading.rows, reading.lines):
        drawn = render_reading(line, y1 - y0, width)
        if drawn is None:
            return None
        out[y0:y1] = drawn
    return out
