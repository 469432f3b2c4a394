"""Glyph atlas: each glyph of a (font, size, anti-aliasing) set rasterised once, lines composed.

Pillow's ``ImageDraw.text`` shapes the line (libraqm/HarfBuzz) and rasterises every glyph with
FreeType on every call, twice (once for the bounding box): most of the time a data-loader worker
spends per line. A glyph's bitmap does not depend on where it lands, since Pillow places FreeType's
hinted bitmaps at whole pixels, so a line is its glyphs' cached bitmaps placed at their pen
positions. ``GlyphAtlas`` reproduces Pillow's drawing (``tests/test_glyphs.py`` compares it with
``ImageDraw.text`` pixel for pixel):

- pen positions in FreeType's 26.6 fixed point: each character's advance plus the kerning of each
  pair, both measured once with ``FreeTypeFont.getlength`` (so HarfBuzz's GPOS kerning is in);
- a glyph drawn in a line started at ``x`` lands at ``int(x) + PIXEL(round(64 * frac(x)) + pen)``,
  ``PIXEL`` being FreeType's rounding of 26.6 values to whole pixels (likewise in y);
- overlapping glyphs of one line blend as Pillow's renderer blends them
  (``src + dst * (255 - src) / 255`` in its integer arithmetic), and a line drawn over earlier ink
  is pasted as ``ImageDraw`` pastes a text mask (``(dst * (255 - m) + 255 * m) / 255``).

Not reproduced: ligatures and other contextual shaping (a line is a sequence of characters with
pair kerning), which Latin screenshot text in the fonts used rarely shows.

Used by ``depix.data.render`` (training data) and reusable wherever text must be drawn many times
in the same few fonts (e.g. a render-and-compare decoder: ``GlyphAtlas.layout`` and
``GlyphAtlas.glyph`` give advances and per-glyph coverage maps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageFont

from depix.data.fonts import load_font

MODES = ("L", "1")
_REFERENCE = "H"  # a flat-topped capital: its bitmap and box tops agree after hinting  # Pillow's font modes: 8-bit anti-aliased, 1-bit aliased (0/255)


@dataclass(frozen=True)
class Glyph:
    """One character's coverage map as Pillow draws it alone at the origin.

    ``bitmap``: (h, w) uint8 in 0..255 (0/255 in mode ``"1"``); ``left``/``top``: where its
    column/row 0 lands, in pixels, relative to the drawing position ``(x, y)`` of
    ``ImageDraw.text`` (default anchor ``"la"``: left, ascender), when drawn alone.
    ``box_top``/``bitmap_top``: the tops of its FreeType control box and of its bitmap, in pixels
    above the baseline (at least 0); FreeType rounds the two differently, by up to a pixel.
    Pillow aligns a line by its highest box and its highest bitmap, so a glyph's row in a line
    depends on both (``GlyphAtlas.draw``).
    """

    bitmap: np.ndarray
    left: int
    top: int
    box_top: int = 0
    bitmap_top: int = 0


def _pixel(value: np.ndarray | int) -> np.ndarray | int:
    """FreeType's ``PIXEL``: 26.6 fixed point to the nearest whole pixel (ties up)."""
    return (value + 32) >> 6


def _muldiv255(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pillow's ``MULDIV255``: ``a * b / 255`` rounded, in integers."""
    tmp = a * b + 128
    return ((tmp >> 8) + tmp) >> 8


class GlyphAtlas:
    """Cached glyph bitmaps, advances and pair kerning of one font object and mode.

    ``font``: a Pillow ``FreeTypeFont`` (its size is the drawing size); ``mode``: ``"L"``
    (anti-aliased) or ``"1"`` (aliased, as ``ImageDraw.fontmode = "1"``). Glyphs, advances and
    kerning pairs are measured lazily, the first time they are needed, then reused.
    """

    def __init__(self, font: ImageFont.FreeTypeFont, mode: str = "L") -> None:
        if mode not in MODES:
            raise ValueError(f"glyph atlas mode must be one of {MODES}, got {mode!r}")
        self.font, self.mode = font, mode
        self._glyphs: dict[str, Glyph] = {}
        self._advance: dict[str, int] = {}
        self._kern: dict[tuple[str, str], int] = {}
        self.ascent = int(font.getmetrics()[0])

    def _length(self, text: str) -> int:
        """``getlength`` in 26.6 units (Pillow returns the integer sum / 64, so this is exact)."""
        return round(self.font.getlength(text, mode=self.mode) * 64)

    def advance(self, char: str) -> int:
        """Advance width of ``char`` in 26.6 units (1/64 px)."""
        value = self._advance.get(char)
        if value is None:
            value = self._advance[char] = self._length(char)
        return value

    def kerning(self, a: str, b: str) -> int:
        """Pair adjustment of ``a`` followed by ``b`` in 26.6 units (usually 0 or negative)."""
        value = self._kern.get((a, b))
        if value is None:
            value = self._length(a + b) - self.advance(a) - self.advance(b)
            self._kern[(a, b)] = value
        return value

    def layout(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Pen positions of ``text``'s characters, two int64 arrays of ``len(text) + 1`` (26.6).

        ``pen[i]``: where glyph ``i`` starts when the whole line is drawn (kerning with the
        previous character applied), ``pen[-1]`` the line's advance width. ``prefix[i]``: the
        advance width of ``text[:i]`` alone (``getlength(text[:i]) * 64``; it lacks the kerning
        between characters ``i - 1`` and ``i``).
        """
        n = len(text)
        pen = np.zeros(n + 1, dtype=np.int64)
        prefix = np.zeros(n + 1, dtype=np.int64)
        total = 0
        for i, char in enumerate(text):
            if i:
                total += self.kerning(text[i - 1], char)
            pen[i] = total
            total += self.advance(char)
            prefix[i + 1] = total
        pen[n] = total
        return pen, prefix

    def _mask(self, text: str) -> tuple[np.ndarray, int, int]:
        core, (left, top) = self.font.getmask2(text, self.mode)
        return np.asarray(Image.Image()._new(core), dtype=np.uint8), int(left), int(top)

    def glyph(self, char: str) -> Glyph:
        """The cached coverage map of ``char`` (rendered by Pillow/FreeType on first use)."""
        found = self._glyphs.get(char)
        if found is None:
            bitmap, left, top = self._mask(char)
            ink = np.nonzero(bitmap.any(axis=1))[0]
            box_top = max(self.ascent - top, 0)
            if not len(ink):  # a space: nothing to place
                found = Glyph(bitmap[:0, :0], left, top, box_top, box_top)
            elif char == _REFERENCE:
                found = Glyph(bitmap, left, top, box_top, box_top)
            else:
                found = Glyph(bitmap, left, top, box_top, self._bitmap_top(char, top, ink[0]))
            self._glyphs[char] = found
        return found

    def _bitmap_top(self, char: str, top: int, first_ink: int) -> int:
        """Top of ``char``'s bitmap above the baseline, measured against the reference glyph.

        Within one line Pillow keeps FreeType's relative bitmap rows, so drawn after the
        reference (and a space, so their ink cannot touch) the glyph's ink sits
        ``T_ref - T`` rows below where the reference's would (T: bitmap tops); the
        reference's bitmap top is taken as its box top.
        """
        ref = self.glyph(_REFERENCE)
        pair, _, _ = self._mask(_REFERENCE + " " + char)
        start = self.advance(_REFERENCE) + self.advance(" ")
        start += self.kerning(_REFERENCE, " ") + self.kerning(" ", char)
        col = min(max(_pixel(start) - self.glyph(_REFERENCE).left, 0), pair.shape[1])
        mine = np.nonzero(pair[:, col:].any(axis=1))[0]
        theirs = np.nonzero(pair[:, :col].any(axis=1))[0]
        ref_ink = np.nonzero(ref.bitmap.any(axis=1))[0]
        if not len(mine) or not len(theirs) or not len(ref_ink):
            return self.ascent - top
        below = (int(mine[0]) - first_ink) - (int(theirs[0]) - int(ref_ink[0]))
        return ref.bitmap_top - below

    def compose(self, text: str, x: float, y: float, height: int, width: int) -> np.ndarray:
        """``text`` drawn at ``(x, y)`` on a blank (``height``, ``width``) uint8 coverage map.

        The same pixels as ``ImageDraw.Draw(Image.new("L", (width, height))).text((x, y), text,
        fill=255, font=font)`` (with ``fontmode = "1"`` in mode ``"1"``), clipped to the canvas.
        """
        canvas = np.zeros((height, width), dtype=np.uint8)
        self.draw(canvas, text, x, y)
        return canvas

    def draw(self, canvas: np.ndarray, text: str, x: float, y: float) -> None:
        """Draw ``text`` at ``(x, y)`` into ``canvas`` ((H, W) uint8, modified in place) as
        ``ImageDraw.text(..., fill=255)`` draws on an ``"L"`` image, blending with its ink."""
        glyphs = [self.glyph(char) for char in text]
        if not glyphs:
            return
        pen, _ = self.layout(text)
        x0, y0 = int(x), int(y)  # as ImageDraw: truncation, and the signed fraction
        cols = x0 + _pixel(round(math.modf(x)[0] * 64) + pen[:-1])
        # Pillow aligns a line by its highest bitmap and its highest box (see Glyph)
        row0 = y0 - _pixel(-round(math.modf(y)[0] * 64))
        row0 += max(g.bitmap_top for g in glyphs) - max(g.box_top for g in glyphs)
        height, width = canvas.shape
        placed = []
        for glyph, col in zip(glyphs, cols.tolist()):
            h, w = glyph.bitmap.shape
            top, left = row0 + glyph.top + glyph.box_top - glyph.bitmap_top, col + glyph.left
            r0, c0, r1, c1 = max(top, 0), max(left, 0), min(top + h, height), min(left + w, width)
            if h and r0 < r1 and c0 < c1:
                placed.append((glyph.bitmap[r0 - top : r1 - top, c0 - left : c1 - left], r0, c0))
        if not placed:
            return
        rows = min(p[1] for p in placed), max(p[1] + p[0].shape[0] for p in placed)
        span = min(p[2] for p in placed), max(p[2] + p[0].shape[1] for p in placed)
        region = canvas[rows[0] : rows[1], span[0] : span[1]]
        fresh = not region.any()
        target = region if fresh else np.zeros_like(region)
        for src, r0, c0 in placed:
            r0, c0 = r0 - rows[0], c0 - span[0]
            dst = target[r0 : r0 + src.shape[0], c0 : c0 + src.shape[1]]
            both = (src > 0) & (dst > 0)
            if both.any():  # overlapping ink: Pillow's "over" blend within one line
                s, d = src.astype(np.int32), dst.astype(np.int32)
                over = np.minimum(s + _muldiv255(d, 255 - s), 255)
                dst[...] = np.where(both, over, d + s).astype(np.uint8)
            else:
                dst += src  # one of the two is 0 at every pixel
        if not fresh:  # ImageDraw pastes the line's mask with ink 255 over what is there
            m = target.astype(np.int32)
            tmp = region.astype(np.int32) * (255 - m) + 255 * m + 128
            region[...] = (((tmp >> 8) + tmp) >> 8).astype(np.uint8)


@lru_cache(maxsize=1024)
def atlas(path: str, size: float, mode: str = "L") -> GlyphAtlas:
    """The process-wide atlas of a font file at ``size`` (pixels) and ``mode``; built once."""
    return GlyphAtlas(load_font(path, size), mode)
