"""Forward model of the text decoder: a text hypothesis rendered and pixelated, fast and exact.

A hypothesis (string, font, size, anti-aliasing, position, colours, averaging) is drawn by the
project's renderer (``depix.data.render``) and pixelated by the project's averaging
(``depix.degrade.averaging``); ``reference_cells`` does exactly that, slowly, for a whole line.
The search extends prefixes one character at a time, so ``LineModel`` keeps, per prefix, the
glyph coverage canvas and the per-cell sums of the pixel values in the averaging space, and
adding a character recomputes only the cells its glyph touches, for every candidate character
at once (numpy, vectorised over the charset).

Why it is exact (``tests/test_decode_forward.py`` checks it against ``reference_cells``):
Pillow draws a line glyph by glyph, each rendered at its pen position's fractional phase
(26.6 fixed point) and placed at the integer part, composited "over" the earlier glyphs with
8-bit rounding (``g + round(d * (255 - g) / 255)``); pen positions are the pair advances
(``getlength(ab) - getlength(b)``, i.e. advance plus kerning). The colour of a pixel is a
function of its coverage alone (``render.composite``), so a 256-entry table gives its value in
the averaging space. Not reproduced: ligatures and contextual shaping (``fi`` in DejaVu Sans
through HarfBuzz); the decoder rescores its final candidates with ``reference_cells``, which
draws them exactly. Only the one-pass coverage kinds (``grey``, ``none``) are modelled;
``unhinted`` and ``subpixel`` screenshots are decoded through the noise model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch
from kornia.color import linear_rgb_to_rgb, rgb_to_linear_rgb

from depix.data.render import LineStyle, composite, drawing_font, text_coverage
from depix.degrade.averaging import pixelate_mode
from depix.degrade.mosaic import mosaic

MODELLED_ANTIALIAS = ("grey", "none")
AVERAGING = ("srgb", "srgb_trunc", "linear")  # the mean-based modes of depix.degrade.averaging
Colour = tuple[int, int, int]


@dataclass(frozen=True)
class CellGrid:
    """The mosaic grid of a crop: ``height`` x ``width`` pixels, square cells of ``block`` px,
    grid lines at ``offset_* + k * block`` (crop coordinates, offsets taken modulo the block).

    The decoder works on a *canvas*: the crop padded at the top/left so that cells start at
    multiples of ``block`` (``pad_y``, ``pad_x``) and at the bottom/right to whole cells.
    """

    height: int
    width: int
    block: int
    offset_y: int = 0
    offset_x: int = 0

    def __post_init__(self) -> None:
        if self.block < 1 or self.height < 1 or self.width < 1:
            raise ValueError(f"bad cell grid {self}")

    @property
    def pad_y(self) -> int:
        return (self.block - self.offset_y % self.block) % self.block

    @property
    def pad_x(self) -> int:
        return (self.block - self.offset_x % self.block) % self.block

    @property
    def rows(self) -> int:
        return math.ceil((self.height + self.pad_y) / self.block)

    @property
    def cols(self) -> int:
        return math.ceil((self.width + self.pad_x) / self.block)

    def valid(self) -> np.ndarray:
        """(rows*block, cols*block) bool: canvas pixels that lie inside the crop."""
        mask = np.zeros((self.rows * self.block, self.cols * self.block), dtype=bool)
        mask[self.pad_y : self.pad_y + self.height, self.pad_x : self.pad_x + self.width] = True
        return mask

    def counts(self) -> np.ndarray:
        """(rows, cols) float64: crop pixels per cell (cells cut by the border hold fewer)."""
        b = self.block
        return self.valid().reshape(self.rows, b, self.cols, b).sum((1, 3)).astype(np.float64)

    def cell_values(self, per_pixel: np.ndarray) -> np.ndarray:
        """(rows, cols, C) cell values read off a per-pixel image (H, W, C) in which every
        pixel holds its cell's value (what ``mosaic`` returns); empty cells are NaN."""
        b = self.block
        ys = np.clip(np.arange(self.rows) * b - self.pad_y, 0, self.height - 1)
        xs = np.clip(np.arange(self.cols) * b - self.pad_x, 0, self.width - 1)
        out = per_pixel[ys][:, xs].astype(np.float64)
        out[self.counts() == 0] = np.nan
        return out

    def torch_grid(self) -> tuple[int, int, int, int]:
        """(block_h, block_w, offset_y, offset_x) as ``depix.degrade.mosaic`` takes them."""
        return self.block, self.block, self.offset_y % self.block, self.offset_x % self.block


def observed_cells(rgb: np.ndarray, grid: CellGrid) -> tuple[np.ndarray, np.ndarray]:
    """Cell means and within-cell standard deviations of an observed crop.

    ``rgb``: uint8 (H, W, 3). Returns two float64 (rows, cols, 3) arrays in 8-bit levels
    (means not rounded; the spread is JPEG's ringing, zero for a clean mosaic), computed with
    the project's ``mosaic`` (one implementation of a cell mean).
    """
    x = torch.from_numpy(np.array(rgb, dtype=np.float64)).permute(2, 0, 1)[None]
    mean = mosaic(x, *grid.torch_grid())
    spread = (mosaic(x * x, *grid.torch_grid()) - mean * mean).clamp_min(0).sqrt()
    to_hwc = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731
    return grid.cell_values(to_hwc(mean)), grid.cell_values(to_hwc(spread))


@dataclass(frozen=True)
class Hypothesis:
    """Everything that decides what a line looks like once pixelated.

    ``x``, ``top``: where the line is drawn in crop coordinates (pen start; top of the font's
    ascent, as ``depix.data.render`` places lines); ``size`` in px (fractional allowed).
    """

    text: str
    font: str
    size: float
    x: float
    top: float
    foreground: Colour
    background: Colour
    antialias: str = "grey"
    averaging: str = "srgb"

    def style(self) -> LineStyle:
        return LineStyle(
            font=self.font,
            font_size=self.size,
            foreground=self.foreground,
            background=self.background,
            x=0,
            y_jitter=0,
            antialias=self.antialias,
        )


def render_hypothesis(h: Hypothesis, height: int, width: int) -> np.ndarray:
    """The hypothesis drawn by the project's renderer: uint8 (height, width, 3)."""
    cov = text_coverage([h.text], h.style(), [(h.x, h.top)], height, width)
    return np.asarray(composite(cov, h.foreground, h.background))


def pixelate_cells(rgb: np.ndarray, grid: CellGrid, averaging: str) -> np.ndarray:
    """What a tool averaging with ``averaging`` makes of ``rgb`` (uint8 (H, W, 3)): the
    8-bit cell values, float64 (rows, cols, 3), by ``depix.degrade.averaging.pixelate_mode``."""
    x = torch.from_numpy(np.array(rgb, dtype=np.float32)).permute(2, 0, 1)[None] / 255
    out = pixelate_mode(x, averaging, *grid.torch_grid())
    return grid.cell_values(np.round(out[0].permute(1, 2, 0).numpy() * 255))


def reference_cells(h: Hypothesis, grid: CellGrid) -> np.ndarray:
    """Slow reference of the forward model: render the whole line, pixelate it."""
    return pixelate_cells(render_hypothesis(h, grid.height, grid.width), grid, h.averaging)


def value_table(foreground: Colour, background: Colour, averaging: str) -> np.ndarray:
    """(256, 3) float64: the value in the averaging space of a pixel of coverage ``v``/255.

    sRGB modes: the pixel's 8-bit level (rounded exactly as ``render.composite`` rounds);
    ``linear``: that level in linear light (kornia's sRGB curve, as the averaging uses).
    """
    cov = (np.arange(256, dtype=np.float32) / 255.0)[:, None, None]
    levels = np.asarray(composite(cov, foreground, background), dtype=np.float64)[:, 0, :]
    return to_space(levels, averaging)


def _kornia(fn, values: np.ndarray) -> np.ndarray:
    """Apply a kornia colour function to RGB values of any shape (..., 3)."""
    flat = torch.from_numpy(np.ascontiguousarray(values.reshape(-1, 3).T)).float()
    out = fn(flat.clamp(0, 1)[None, :, :, None])[0, :, :, 0]
    return out.T.double().numpy().reshape(values.shape)


def to_levels(space_means: np.ndarray, averaging: str) -> np.ndarray:
    """Cell means in the averaging space -> the 8-bit cell values the tool writes."""
    if averaging == "linear":
        return np.round(np.clip(_kornia(linear_rgb_to_rgb, space_means), 0, 1) * 255)
    if averaging == "srgb_trunc":
        return np.floor(space_means)
    return np.floor(space_means + 0.5)


def to_space(levels: np.ndarray, averaging: str) -> np.ndarray:
    """8-bit levels (any shape, last axis RGB) -> the averaging space (levels or linear light)."""
    if averaging != "linear":
        return levels.astype(np.float64)
    return _kornia(rgb_to_linear_rgb, levels / 255)


def over(glyph: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Pillow's glyph compositing: ``g + round(d * (255 - g) / 255)`` on uint8 coverage."""
    g = glyph.astype(np.int32)
    t = below.astype(np.int32) * (255 - g) + 128
    return (g + ((t + (t >> 8)) >> 8)).astype(np.uint8)


@dataclass(frozen=True)
class GlyphStack:
    """All charset glyphs at one pen phase: ``masks`` uint8 (C, h, w), glyph pixel (i, j) lands
    at (floor(top) + dy + i, floor(pen) + dx + j)."""

    masks: np.ndarray
    dy: int
    dx: int


class GlyphSet:
    """Glyph bitmaps and pair advances of one (font, size, anti-aliasing), cached.

    ``charset`` fixes the order of the rows of every ``GlyphStack``. Bitmaps are drawn with the
    project's renderer (``render.text_coverage``) one character at a time, per pen phase in
    1/64 px (FreeType's 26.6 positions); advances and kerning come from the font through
    Pillow's layout (``getlength``).
    """

    def __init__(self, font: str, size: float, charset: str, antialias: str = "grey") -> None:
        if antialias not in MODELLED_ANTIALIAS:
            raise ValueError(f"the forward model draws {MODELLED_ANTIALIAS}, not {antialias!r}")
        self.font_path, self.size, self.antialias = font, float(size), antialias
        self.charset = charset
        self.index = {c: i for i, c in enumerate(charset)}
        self.style = LineStyle(
            font=font, font_size=size, foreground=(255,) * 3, background=(0,) * 3, x=0,
            y_jitter=0, antialias=antialias,
        )  # fmt: skip
        self.font = drawing_font(self.style)
        self.ascent, self.descent = self.font.getmetrics()
        self._stacks: dict[tuple[int, int], GlyphStack] = {}
        self._pairs: dict[str, float] = {}
        self._rows: dict[str, np.ndarray] = {}
        self.advances = np.array([self.font.getlength(c) for c in charset])

    def stack(self, phase_x: int, phase_y: int = 0) -> GlyphStack:
        """Glyphs of the whole charset drawn at pen phase (``phase_x``/64, ``phase_y``/64) px."""
        key = (phase_x, phase_y)
        if key not in self._stacks:
            pad = int(self.size) + 4
            height = self.ascent + self.descent + 2 * pad
            width = int(self.advances.max()) + 2 * pad
            # One draw of the whole charset, each glyph in its own slot (one canvas, one call).
            origins = [(k * width + pad + phase_x / 64, pad + phase_y / 64)
                       for k in range(len(self.charset))]  # fmt: skip
            sheet = text_coverage(list(self.charset), self.style, origins, height,
                                  width * len(self.charset))[..., 0]  # fmt: skip
            masks = np.round(sheet * 255).astype(np.uint8)
            masks = masks.reshape(height, len(self.charset), width).transpose(1, 0, 2)
            ink = masks.any(0)
            rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
            if len(rows) == 0:  # a charset of spaces only
                rows = cols = np.array([pad])
            masks = masks[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            self._stacks[key] = GlyphStack(
                np.ascontiguousarray(masks), rows[0] - pad, cols[0] - pad
            )
        return self._stacks[key]

    def pair_row(self, first: str) -> np.ndarray:
        """Pen steps (C,) from ``first`` to every character of the charset (cached)."""
        row = self._rows.get(first)
        if row is None:
            row = np.array([self.pair_advance(first, c) for c in self.charset])
            self._rows[first] = row
        return row

    def pair_advance(self, first: str, second: str) -> float:
        """Pen step from ``first`` to ``second``: advance plus kerning, px (multiple of 1/64)."""
        key = first + second
        value = self._pairs.get(key)
        if value is None:
            index = self.index.get(second)
            alone = self.advances[index] if index is not None else self.font.getlength(second)
            value = self.font.getlength(key) - alone
            self._pairs[key] = value
        return value

    def ink_extent(self) -> tuple[int, int]:
        """(leftmost, rightmost + 1) ink column of any glyph relative to the pen, phase 0."""
        s = self.stack(0)
        return s.dx, s.dx + s.masks.shape[2]


@dataclass
class State:
    """A prefix drawn on the canvas: its text, next pen position, coverage and cell sums."""

    text: str
    pen: float  # where the last glyph was drawn (crop x), or the start x for an empty prefix
    top: int
    x: float  # where the line starts (crop x)
    canvas: np.ndarray  # uint8 (rows*block, cols*block) coverage
    sums: np.ndarray  # float64 (rows, cols, 3): per-cell sums of pixel values (averaging space)


def _phase(position: float, step: int = 1) -> tuple[int, int]:
    """Integer pixel and 1/64 phase of a position (Pillow: integer part + 26.6 fraction),
    the phase rounded to a multiple of ``step``/64 (1: exact)."""
    whole = math.floor(position)
    phase = round((position - whole) * 64 / step) * step
    if phase >= 64:
        whole, phase = whole + 1, 0
    return whole, phase


class LineModel:
    """Incremental forward model of one line for one (glyphs, grid, colours, averaging).

    ``start`` gives the empty prefix at (x, top); ``candidates`` the cell sums of every
    one-character extension at once; ``extend`` the state of one of them; ``levels`` the 8-bit
    cells a state pixelates to (equal to ``reference_cells`` of the same hypothesis).
    ``phase_step`` > 1 draws glyphs at pen phases rounded to ``phase_step``/64 px (fewer glyph
    sheets: a quick approximate model for screening; 1, the default, is exact).
    """

    def __init__(
        self,
        glyphs: GlyphSet,
        grid: CellGrid,
        foreground: Colour,
        background: Colour,
        averaging: str = "srgb",
        phase_step: int = 1,
    ) -> None:
        if averaging not in AVERAGING:
            raise ValueError(f"the decoder models averaging {AVERAGING}, not {averaging!r}")
        self.glyphs, self.grid, self.averaging = glyphs, grid, averaging
        self.phase_step = phase_step
        self.foreground, self.background = foreground, background
        self.table = value_table(foreground, background, averaging)
        self.valid = grid.valid()
        self.counts = grid.counts()
        self.empty = self.counts[..., None] * self.table[0]
        self._cells: dict[tuple[int, int, int], np.ndarray] = {}
        self._areas: dict[int, np.ndarray] = {}

    def start(self, x: float, top: int) -> State:
        canvas = np.zeros(self.valid.shape, dtype=np.uint8)
        return State("", float(x), int(top), float(x), canvas, self.empty.copy())

    def next_pen(self, state: State, char: str) -> float:
        """Pen position of ``char`` appended to ``state``."""
        if not state.text:
            return state.pen
        return state.pen + self.glyphs.pair_advance(state.text[-1], char)

    def _window(self, pen: float, top: int):
        """Canvas slices and stack slices where glyphs drawn at ``pen`` may land."""
        b = self.grid.block
        ix, fx = _phase(pen, self.phase_step)
        stack = self.glyphs.stack(fx)
        n, gh, gw = stack.masks.shape
        y0 = top + self.grid.pad_y + stack.dy
        x0 = ix + self.grid.pad_x + stack.dx
        cy0, cy1 = max(y0, 0), min(y0 + gh, self.valid.shape[0])
        cx0, cx1 = max(x0, 0), min(x0 + gw, self.valid.shape[1])
        if cy0 >= cy1 or cx0 >= cx1:
            return None
        rows = (cy0 // b, -(-cy1 // b))
        cols = (cx0 // b, -(-cx1 // b))
        sub = stack.masks[:, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        return (slice(cy0, cy1), slice(cx0, cx1)), sub, rows, cols

    def candidates(self, state: State, chars: np.ndarray):
        """Cell sums of ``state`` extended by each of ``chars`` (indices into the charset).

        Yields, per group of characters drawn at the same pen (kerning splits the charset
        into a few groups), ``(indices, pen, (row0, row1, col0, col1), sums)`` with ``sums``
        (len(indices), row1-row0, col1-col0, 3): the window of cells that changes. Groups whose
        glyphs fall outside the canvas are left out.
        """
        if state.text:
            pens = state.pen + self.glyphs.pair_row(state.text[-1])[chars]
        else:
            pens = np.full(len(chars), state.pen)
        for pen in np.unique(pens):
            group = chars[pens == pen]
            found = self._delta(state, float(pen), group)
            if found is not None:
                yield group, float(pen), *found

    def _glyph_cells(self, phase: int, ry: int, rx: int) -> np.ndarray:
        """Cell sums (C, R, K, 3) of every glyph alone (value minus background) when its
        stack window starts ``ry``, ``rx`` px into a cell, from a summed-area table of the
        glyph values cached per phase (any alignment is then four lookups per cell)."""
        key = (phase, ry, rx)
        cells = self._cells.get(key)
        if cells is None:
            area = self._areas.get(phase)
            if area is None:
                masks = self.glyphs.stack(phase).masks
                values = (self.table[masks] - self.table[0]).astype(np.float64)
                area = np.zeros((values.shape[0], values.shape[1] + 1, values.shape[2] + 1, 3))
                area[:, 1:, 1:] = values.cumsum(1).cumsum(2)
                self._areas[phase] = area
            b = self.grid.block
            gh, gw = area.shape[1] - 1, area.shape[2] - 1
            ys = np.clip(np.arange(0, ry + gh + b, b) - ry, 0, gh)
            xs = np.clip(np.arange(0, rx + gw + b, b) - rx, 0, gw)
            ys = ys[: -(-(ry + gh) // b) + 1]
            xs = xs[: -(-(rx + gw) // b) + 1]
            corner = area[:, ys][:, :, xs]
            cells = (
                corner[:, 1:, 1:] - corner[:, :-1, 1:] - corner[:, 1:, :-1] + corner[:, :-1, :-1]
            )
            self._cells[key] = cells
        return cells

    def _delta(self, state: State, pen: float, chars: np.ndarray):
        """Window and new cell sums of ``chars`` drawn at ``pen`` on ``state`` (see
        ``candidates``): precomputed glyph cells plus an exact correction where a glyph
        overlaps earlier ink; glyphs cut by the crop's border take the exact path."""
        b = self.grid.block
        ix, fx = _phase(pen, self.phase_step)
        stack = self.glyphs.stack(fx)
        _, gh, gw = stack.masks.shape
        y0 = state.top + self.grid.pad_y + stack.dy
        x0 = ix + self.grid.pad_x + stack.dx
        height, width = self.valid.shape
        inside = y0 >= 0 and x0 >= 0 and y0 + gh <= height and x0 + gw <= width
        if not inside or not self.valid[y0, x0] or not self.valid[y0 + gh - 1, x0 + gw - 1]:
            return self._delta_exact(state, pen, chars)
        ry, rx = y0 % b, x0 % b
        cells = self._glyph_cells(fx, ry, rx)[chars]
        r0, c0 = y0 // b, x0 // b
        r1, c1 = r0 + cells.shape[1], c0 + cells.shape[2]
        if r1 > self.grid.rows or c1 > self.grid.cols:
            return self._delta_exact(state, pen, chars)
        below = state.canvas[y0 : y0 + gh, x0 : x0 + gw]
        inked = np.flatnonzero(below.any(0))
        if len(inked):  # overlap with earlier glyphs: exact over-compositing on those columns
            a, e = inked[0], inked[-1] + 1
            g = stack.masks[chars][:, :, a:e]
            d = below[:, a:e]
            corr = self.table[over(g, d)] - self.table[d] - self.table[g] + self.table[0]
            box = np.zeros((len(chars), cells.shape[1] * b, cells.shape[2] * b, 3))
            box[:, ry : ry + gh, rx + a : rx + e] = corr
            cells = cells + box.reshape(len(chars), cells.shape[1], b, cells.shape[2], b, 3).sum(
                (2, 4)
            )
        return (r0, r1, c0, c1), state.sums[r0:r1, c0:c1] + cells

    def _delta_exact(self, state: State, pen: float, chars: np.ndarray):
        found = self._window(pen, state.top)
        if found is None:
            return None
        (ys, xs), sub, (r0, r1), (c0, c1) = found
        below = state.canvas[ys, xs]
        new = over(sub[chars], below) * self.valid[ys, xs]
        delta = self.table[new] - self.table[below]  # (C, h, w, 3)
        b = self.grid.block
        row_starts = np.arange(r0, r1) * b - ys.start
        col_starts = np.arange(c0, c1) * b - xs.start
        row_starts[0], col_starts[0] = 0, 0
        cells = np.add.reduceat(np.add.reduceat(delta, row_starts, axis=1), col_starts, axis=2)
        return (r0, r1, c0, c1), state.sums[r0:r1, c0:c1] + cells

    def extend(self, state: State, char: str) -> State:
        """``state`` with ``char`` appended (a space only moves the pen)."""
        pen = self.next_pen(state, char)
        out = replace(state, text=state.text + char, pen=pen)
        index = self.glyphs.index[char]
        found = self._window(pen, state.top)
        if found is None or char.isspace():
            return out
        (ys, xs), sub, _, _ = found
        window, sums = self._delta(state, pen, np.array([index]))
        r0, r1, c0, c1 = window
        out.canvas = state.canvas.copy()
        out.canvas[ys, xs] = over(sub[index], state.canvas[ys, xs]) * self.valid[ys, xs]
        out.sums = state.sums.copy()
        out.sums[r0:r1, c0:c1] = sums[0]
        return out

    def means(self, sums: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
        """Cell means in the averaging space (cells outside the crop: NaN)."""
        counts = self.counts if counts is None else counts
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums / counts[..., None]

    def levels(self, state: State) -> np.ndarray:
        """The 8-bit cells (rows, cols, 3) that ``state``'s line pixelates to."""
        out = to_levels(np.nan_to_num(self.means(state.sums)), self.averaging)
        out[self.counts == 0] = np.nan
        return out

    def hypothesis(self, state: State) -> Hypothesis:
        """The hypothesis a state stands for (its text drawn from its start pen)."""
        return Hypothesis(
            text=state.text,
            font=self.glyphs.font_path,
            size=self.glyphs.size,
            x=state.x,
            top=state.top,
            foreground=self.foreground,
            background=self.background,
            antialias=self.glyphs.antialias,
            averaging=self.averaging,
        )


@lru_cache(maxsize=256)
def glyph_set(font: str, size: float, charset: str, antialias: str = "grey") -> GlyphSet:
    """A process-wide cache of ``GlyphSet`` objects (glyph bitmaps are the costly part)."""
    return GlyphSet(font, size, charset, antialias)
