"""Decode one pixelated text line: fit colours, font, size and position, search, verify.

``decode_line`` takes the observed crop of one line and its mosaic grid and returns a
``LineReading``: the best string, alternatives with their costs, the font and size that
explain the mosaic, and a confidence. Steps:

1. **Observation.** Cell means and within-cell spread (``forward.observed_cells``). The
   background is the most common cell colour; cells away from it hold ink. The noise level of
   a cell mean is 8-bit rounding plus half the median JPEG spread plus a share of the contrast
   (other rasterizers: hinting, fractional positions).
2. **Geometry.** The rows holding ink bound the font size (its cap height and its full ink
   height must fit them) and the top; the first ink column bounds the start x.
3. **Fit.** Each candidate font and size is searched with a narrow beam; the text colour is
   refitted by least squares on the best line's coverage; the best few (font, size) are
   searched again with the full beam in each averaging (sRGB mean, linear light).
4. **Verify.** The best distinct strings are drawn again by the project's renderer and
   pixelated by the project's averaging (``forward.reference_cells``) and costed on every cell;
   the confidence is the best's share of ``exp(-cost / 2T)`` among them times a fit term that
   falls when even the best leaves residuals well above the noise level (wrong font, not text).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from depix.data.fonts import discover_fonts, load_font
from depix.decode.charset import resolve_charset
from depix.decode.forward import (
    CellGrid,
    Hypothesis,
    LineModel,
    glyph_set,
    observed_cells,
    reference_cells,
    render_hypothesis,
)
from depix.decode.probe import ProbeTarget, rank_fonts
from depix.decode.search import HUBER, PatternFilter, Scorer, beam_search, huber, line_scale
from depix.restore.lines import FLAT_SPREAD

MIN_CONTRAST = 24.0  # levels between text and background below which nothing is read
TEMPERATURE = 2.5  # cost units per e-fold of the confidence (cell errors are correlated)
# Normalised residual rms up to which a line matches within the noise, and the width of the
# fall beyond it. Set on the benchmark's seed-12 lines (right strings: rms <= 0.56; wrong
# strings from other rasterizers at large blocks: 0.84-1.59), checked on seed 13.
FIT_RMS = 0.65
FIT_WIDTH = 0.25
# Residual rms (sigma) of a line as clean as the right font's: the several-field screenshot's
# fields in their own fonts 0.04-0.08 under JPEG q85; the same strings in near fonts 0.7.
CLEAN_RMS = 0.35
RECOVERED = 0.85  # confidence from which a line counts as recovered (a wrong string reached 0.81)
# First text colour guess: this far along background -> most inked cell (thin strokes rarely
# fill a cell); the search profiles the colour out per candidate from there (search.Scorer).
FG_REACH = (1.3,)


@dataclass
class DecodeOptions:
    """Knobs of ``decode_line``. ``fonts``: font files to try (default: the whole library,
    ``discover_fonts("all")``); ``charset``: preset or characters; ``pattern``: regex the
    whole string must match; ``beam``: final beam width; ``screen_beam``: beam for the font
    and size screen; ``finalists``: (font, size) pairs searched with the full beam."""

    fonts: Sequence[str] | None = None
    charset: str = "printable"
    pattern: str | None = None
    beam: int = 16
    screen_beam: int = 8
    screen_px: int = 64  # width of ink (px) on which fonts and sizes are screened
    foreground: tuple[int, int, int] | None = None  # the text colour, when known
    rescreen: int = 0  # best screened (font, size) pairs screened again from their colour
    screen_phase_step: int = 8  # the screen draws glyphs at pen phases of 8/64 px (quick)
    good_fit: float = 1.0  # residual rms (sigma) of a final line that ends the search early
    screen_fit: float = 0.5  # residual rms (sigma, ink cells) of a screen that ends the sizes
    size_step: int = 1  # px between the sizes of the first screening pass (then +-1 of the best)
    screen_all_averagings: bool = True  # screen each size in every averaging (else the first)
    # With it, sizes screened in each averaging before the font's best one goes on alone
    # (0: every size in every averaging; 3 lost seed-12 line 1 and let a wrong string reach
    # 0.98 on seed-13 line 3, for ~25 % less CPU).
    averaging_sizes: int = 0
    font_shortlist: int = 6  # with more fonts than this, a quicker screen picks this many first
    # With probe strings (the reader's readings): each round searches the ``font_batch``
    # (font, size) pairs the probes draw best (one size per font) with the full beam, for up
    # to ``font_rounds`` rounds; each round's best guess joins the probes before the next.
    font_batch: int = 4
    font_rounds: int = 3
    use_reader: bool = True  # decode_region: the shipped reader's readings are the probes
    finalists: int = 3
    averaging: Sequence[str] = ("srgb", "linear")
    antialias: str = "grey"
    alternatives: int = 5


@dataclass
class LineReading:
    """What the decoder makes of one line. ``text`` is ``""`` when not recovered."""

    text: str
    confidence: float
    recovered: bool
    reason: str = ""
    font: str | None = None
    size: float | None = None
    averaging: str | None = None
    alternatives: list[dict] = field(default_factory=list)
    hypothesis: Hypothesis | None = None
    residual: float | None = None  # rms of the best's normalised cell residuals
    seconds: float = 0.0
    guess: str = ""  # the best string even when not recovered (what a benchmark scores)

    @property
    def font_name(self) -> str | None:
        if self.font is None:
            return None
        try:
            family, style = load_font(self.font, 20).getname()
            return family if style in ("Regular", "Book", "Roman") else f"{family} {style}"
        except OSError:
            return Path(self.font).stem

    def verdict(self) -> str:
        """One plain line for auditors."""
        if not self.recovered:
            return f"not recovered: {self.reason}"
        return (
            f"recovered: {self.text!r} (confidence {self.confidence:.2f}, "
            f"{self.font_name} {self.size:g} px)"
        )

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "recovered": self.recovered,
            "confidence": round(self.confidence, 4),
            "reason": self.reason or None,
            "font": self.font,
            "font_name": self.font_name,
            "size": self.size,
            "averaging": self.averaging,
            "residual": None if self.residual is None else round(self.residual, 3),
            "best_guess": self.guess,
            "alternatives": self.alternatives,
            "seconds": round(self.seconds, 3),
        }


def _not_recovered(reason: str, start: float) -> LineReading:
    return LineReading("", 0.0, False, reason, seconds=time.perf_counter() - start)


def background_colour(cells: np.ndarray) -> tuple[np.ndarray, float]:
    """The most common cell colour (levels, (3,)) and the share of cells within 6 levels of it."""
    flat = cells[~np.isnan(cells[..., 0])]
    keys = np.round(flat / 4).astype(int)
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    mode = uniq[np.argmax(counts)] * 4
    near = np.abs(flat - mode).max(1) <= 8
    bg = flat[near].mean(0)
    share = float((np.abs(flat - bg).max(1) <= 6).mean())
    return bg, share


def noise_level(spread: np.ndarray, contrast: float) -> float:
    """Noise of one cell mean in levels: rounding, JPEG ringing (half the median within-cell
    spread of the cells that show any), and 3 % of the contrast for rasterizer differences."""
    s = spread[~np.isnan(spread[..., 0])].max(-1)
    jpeg = float(np.median(s[s > 0.5])) if (s > 0.5).any() else 0.0
    return math.sqrt(0.6**2 + (0.5 * jpeg) ** 2 + (0.03 * contrast) ** 2)


@functools.lru_cache(maxsize=256)
def _font_ratios(font: str) -> tuple[float, float, float]:
    """(cap height, full ink height, mean advance) per px of size, from the font at 100 px
    (cached: asked for every font of every line, twice per size range)."""
    f = load_font(font, 100)
    cap = f.getbbox("H0")
    full = f.getbbox("Hgjy|")
    adv = f.getlength("etaoinsrhdlu0123456789") / 22
    return (cap[3] - cap[1]) / 100, (full[3] - full[1]) / 100, adv / 100


def _sizes(font: str, ink_rows: int, block: int) -> list[float]:
    """Whole-pixel font sizes whose cap height and full ink height fit ``ink_rows`` rows."""
    cap, full, _ = _font_ratios(font)
    lo_span, hi_span = max(1, (ink_rows - 2) * block + 1), ink_rows * block
    lo = max(6.0, (lo_span - 1) / full)
    hi = min(200.0, (hi_span + 1) / cap)
    return [float(s) for s in range(math.ceil(lo), math.floor(hi) + 1)]


def _plausible_sizes(font: str, ink_rows: int, block: int, step: int = 1) -> list[float]:
    """Every ``step``-th row-bounded size of ``_sizes``, most plausible first: nearest the size
    whose mean of cap and full ink height spans the ink rows less half a block."""
    cap, full, _ = _font_ratios(font)
    centre = (ink_rows - 0.5) * block / ((cap + full) / 2)
    return sorted(_sizes(font, ink_rows, block)[::step], key=lambda v: abs(v - centre))


def _starts(
    model: LineModel, ink_box: tuple[int, int, int, int], faint: tuple[bool, bool] = (False, False)
) -> list[tuple[float, int]]:
    """(x, top) positions, crop coordinates, that put the line's first ink in the first ink
    cell column and its ink between the first and last ink cell rows. ``faint``: whether the
    cell row above / below the ink rows shows ink under the ink threshold but above the noise
    (a pixel or two of a cap or descender, faint in linear light): the top may then rise / the
    baseline fall by a third of a block into that row."""
    g, grid = model.glyphs, model.grid
    b = grid.block
    r0, r1, c0, _ = ink_box  # canvas cell rows/cols holding ink (end exclusive)
    stack = g.stack(0)
    masks = stack.masks
    has = masks.any((1, 2))
    lefts = np.array([np.flatnonzero(m.any(0))[0] if h else 0 for m, h in zip(masks, has)])
    lefts = lefts[has] + stack.dx
    rows_ink = masks.any((0, 2))
    top_ink = stack.dy + int(np.flatnonzero(rows_ink)[0])
    cap_top = (
        stack.dy
        + min(int(np.flatnonzero(masks[g.index[c]].any(1))[0]) for c in "H0" if c in g.index)
        if any(c in g.index for c in "H0")
        else top_ink
    )
    base = g.ascent  # baseline below the top
    # top: the tallest ink lands in the first ink row, the baseline in the last ink row
    # (or above it, when descenders fill the last row)
    up, down = (math.ceil(b / 3) if f else 0 for f in faint)
    tops = range(r0 * b - grid.pad_y - cap_top - up, (r0 + 1) * b - grid.pad_y - top_ink)
    bottom_lo = (r1 - 2) * b - grid.pad_y
    bottom_hi = r1 * b - grid.pad_y + 1 + down
    tops = [t for t in tops if bottom_lo <= t + base <= bottom_hi] or list(tops)
    xs = range(c0 * b - grid.pad_x - int(lefts.max()), (c0 + 1) * b - grid.pad_x - int(lefts.min()))
    return [(float(x), int(t)) for t in tops for x in xs]


def refine_colour(
    glyphs,
    grid: CellGrid,
    text: str,
    x: float,
    top: int,
    foreground: tuple,
    background: tuple,
    averaging: str,
    observed: np.ndarray,
    sigma: float,
    rounds: int = 2,
) -> tuple[int, int, int]:
    """The text colour (8 bits) that best explains a finished line: the closed-form profile
    (``Scorer.fit_scale`` on every cell) repeated with the line drawn in the colour found
    (linear light is only affine in the colour to first order, so a second round converges)."""
    fg = tuple(int(v) for v in foreground)
    for _ in range(rounds):
        model = LineModel(glyphs, grid, fg, background, averaging)
        state = model.start(x, top)
        for char in text:
            state = model.extend(state, char)
        scorer = Scorer(model, observed, sigma)
        new = scorer.colour(line_scale(scorer, state))
        if new == fg:
            break
        fg = new
    return fg


def _shortlist(fonts, screen, ink_rows: int, block: int, fg: tuple, keep: int) -> list[str]:
    """The ``keep`` fonts whose best of every third size screens cheapest (font unknown)."""
    best: dict[str, float] = {}
    for font in fonts:
        for size in _sizes(font, ink_rows, block)[1::3]:
            found = screen(font, size, fg)
            if found is not None:
                best[font] = min(best.get(font, math.inf), found[0])
    return sorted(best, key=best.get)[:keep]


def _cells_inside(grid: CellGrid, box: tuple[int, int, int, int]) -> np.ndarray:
    """(rows, cols) bool: canvas cells that overlap the crop-pixel box (y0, x0, y1, x1)."""
    b = grid.block
    y = np.arange(grid.rows) * b - grid.pad_y  # each cell's first crop row (may be negative)
    x = np.arange(grid.cols) * b - grid.pad_x
    rows = (y + b > box[0]) & (y < box[2])
    cols = (x + b > box[1]) & (x < box[3])
    return rows[:, None] & cols[None, :]


def _exact_cost(h: Hypothesis, grid: CellGrid, observed: np.ndarray, sigma: float) -> float:
    """Cost of a finished line drawn and pixelated by the slow reference (every cell)."""
    pred = reference_cells(h, grid)
    valid = ~np.isnan(observed[..., 0])
    r = (pred[valid] - observed[valid]) / sigma
    return float(huber(r, HUBER).sum())


def decode_line(
    rgb: np.ndarray,
    grid: CellGrid,
    options: DecodeOptions | None = None,
    mosaic_box: tuple[int, int, int, int] | None = None,
    probes: Sequence[str] = (),
) -> LineReading:
    """Read the text of one pixelated line.

    Args:
        rgb: uint8 (H, W, 3), the observed crop: the line's mosaic, optionally with a margin
            of its surroundings on the same grid (see ``mosaic_box``).
        grid: the crop's mosaic grid (``CellGrid`` with the crop's height and width).
        options: fonts, charset, pattern, beam widths.
        mosaic_box: ``(y0, x0, y1, x1)`` crop pixels (end exclusive) of the detected mosaic
            when the crop reaches beyond it. A detector cannot tell the mosaic's plain
            background cells from the unpixelated background around it, so it ends regions
            at their ink: the margin gives the decoder those cells back (the background
            colour, the rows a cap or descender only grazes). Cells wholly outside the box
            with a within-cell spread above ``FLAT_SPREAD`` levels (unpixelated labels,
            borders) are not scored. ``None``: the whole crop is the mosaic.
        probes: strings probably close to the hidden one (the reader's readings). They
            rank the (font, size) pairs (``depix.decode.probe``); each round searches the
            best ``font_batch`` of them, one size per font, with the full beam from the
            probes' position, the round's best guess joining the probes, until a line is
            recovered (with many fonts: as cleanly as the right font reads) or
            ``font_rounds`` rounds are done. With few fonts (``font_shortlist`` or fewer) and
            nothing recovered, every size is then screened. Without probes a quick screen
            of every font picks ``font_shortlist`` fonts first.

    Returns a ``LineReading``; never raises for unreadable input (the reason says why).
    Raises ``ValueError`` when the crop's size does not match ``grid``.
    """
    start = time.perf_counter()
    options = options or DecodeOptions()
    charset = resolve_charset(options.charset)
    pattern = PatternFilter(options.pattern)
    if rgb.shape[:2] != (grid.height, grid.width):
        raise ValueError(f"crop {rgb.shape[:2]} does not match the grid {grid}")
    observed, spread = observed_cells(rgb, grid)
    if mosaic_box is not None:
        outside = ~_cells_inside(grid, mosaic_box)
        busy = outside & (np.nan_to_num(spread).max(-1) > FLAT_SPREAD)
        observed[busy], spread[busy] = np.nan, np.nan
    valid = ~np.isnan(observed[..., 0])
    if valid.sum() < 6 or grid.rows < 2:
        return _not_recovered("region too small to hold text (fewer than 2 rows of cells)", start)
    bg, bg_share = background_colour(observed)
    distance = np.abs(np.nan_to_num(observed) - bg).max(-1)
    far = float(distance.max())
    if far < MIN_CONTRAST:
        return _not_recovered("no text: the cells barely differ from the background", start)
    if bg_share < 0.15:
        return _not_recovered("no uniform background: a photo or pattern, not a text line", start)
    ink = (distance > max(8.0, 0.15 * far)) & valid
    ink_rows, ink_cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    r0, r1, c0, c1 = ink_rows[0], ink_rows[-1] + 1, ink_cols[0], ink_cols[-1] + 1
    if r1 - r0 < 2 and grid.block >= 6:
        return _not_recovered("the text spans one row of cells: blocks too large to read", start)
    peak = np.nan_to_num(observed)[np.unravel_index(np.argmax(distance), distance.shape)]
    # Guesses of the text colour along the background -> most inked cell direction; each
    # screened (font, size) refits it below.
    guesses = [
        tuple(int(v) for v in np.clip(np.round(bg + (peak - bg) * reach), 0, 255))
        for reach in FG_REACH
    ]
    if options.foreground is not None:
        guesses = [tuple(int(v) for v in options.foreground)]
    fg0 = guesses[0]
    sigma = noise_level(spread, far)

    fonts = list(options.fonts) if options.fonts else list(discover_fonts("all"))
    chars = np.arange(len(charset))
    box = (int(r0), int(r1), int(c0), int(c1))
    # Rows next to the ink rows with ink below the threshold but well above the noise.
    row_peak = np.where(valid, distance, 0.0).max(1)
    # Measured against the cell noise alone (rounding, JPEG): the rasterizer share of sigma
    # scales with the contrast, but a cell a glyph only grazes differs little between
    # rasterizers (a 24 px 'b' ascender's top pixel row: 12 levels under JPEG q85, sigma 6.8).
    faint_level = max(4.0, 3.0 * noise_level(spread, 0.0))
    faint = (
        bool(r0 > 0 and row_peak[r0 - 1] > faint_level),
        bool(r1 < grid.rows and row_peak[r1] > faint_level),
    )
    ink_right = int(c1) * grid.block

    # Screen: every (font, size) with a narrow beam over the first few cell columns of ink
    # (the same cells for all), in sRGB averaging.
    stop = int(c0) + max(3, math.ceil(options.screen_px / grid.block))
    stop = min(stop, int(c1) + 1)
    bg_t = tuple(int(v) for v in np.round(bg))

    def screen(font: str, size: float, fg: tuple = fg0, averaging: str = "srgb"):
        glyphs = glyph_set(font, size, charset, options.antialias)
        model = LineModel(glyphs, grid, fg, bg_t, averaging, options.screen_phase_step)
        scorer = Scorer(model, observed, sigma)
        found = beam_search(model, scorer, _starts(model, box, faint), chars,
                            beam=options.screen_beam, ink_right=ink_right, keep=1,
                            stop_column=stop)  # fmt: skip
        if not found:
            return None
        return (found[0].cost, font, size, found[0], found[0].foreground, averaging)

    # Sizes first (every ``size_step`` px) in sRGB averaging, then the neighbours of the best
    # few; the best few again in the other averagings (light text on dark averaged in linear
    # light looks bolder: sRGB alone can pick the wrong size); optionally the best are
    # screened again starting from the colour they profiled.
    first = options.averaging[0] if options.averaging else "srgb"
    # The most plausible sizes in every averaging: light text on dark looks bolder in linear
    # light and dark text thinner, so a screen in one averaging alone ranks the true size low
    # (seed-13 lines 12 and 13). Every size in every averaging by default (~1.4x the CPU of
    # one); with ``averaging_sizes`` the font's best averaging goes on alone after that many.
    screen_averagings = list(options.averaging) if options.screen_all_averagings else [first]
    screen_cells = 3 * max(1, int(ink[:, :stop].sum()))
    cells = 3 * int(valid.sum())
    n_rows = int(r1 - r0)

    def search(size_order: dict[str, list[float]]) -> list[tuple[Hypothesis, float]]:
        """Screen each font at its sizes (in order), then search the best few with the full
        beam: the finished lines with their search costs."""
        screened = []
        # Most plausible sizes first; a size whose screen explains its ink cells well within
        # the noise ends the font's pass.
        for font, sizes in size_order.items():
            averagings = screen_averagings
            for k, size in enumerate(sizes):
                if options.averaging_sizes and k == options.averaging_sizes and len(averagings) > 1:
                    # the averaging of this font's best screen so far goes on alone
                    mine = [f for f in screened if f is not None and f[1] == font]
                    averagings = [min(mine, key=lambda t: t[0])[5]] if mine else averagings
                found = [screen(font, size, fg, averaging) for fg in dict.fromkeys(guesses)
                         for averaging in averagings]  # fmt: skip
                screened += found
                fits = [f[0] for f in found if f is not None]
                if fits and math.sqrt(max(min(fits), 0.0) / screen_cells) <= options.screen_fit:
                    break
        screened = [item for item in screened if item is not None]
        tried = {(f, s, a) for _, f, s, _, _, a in screened}
        leaders = sorted(screened, key=lambda t: t[0])[: 2 * options.finalists]
        for _, font, size, _, fg, av in leaders:
            for near in (size - 1, size + 1):
                for other in [av] if options.averaging_sizes else screen_averagings:
                    if (font, near, other) not in tried and near >= 6:
                        tried.add((font, near, other))
                        screened.append(screen(font, near, fg, other))
        screened = [item for item in screened if item is not None]
        ranked = sorted(screened, key=lambda t: t[0])[: options.finalists]
        for _, font, size, _, fg, _ in ranked:
            for averaging in options.averaging:
                if (font, size, averaging) not in tried:
                    tried.add((font, size, averaging))
                    screened.append(screen(font, size, fg, averaging))
        screened = [item for item in screened if item is not None]
        if options.rescreen:
            rescreened, seen = [], set()
            for _, font, size, _, fg, averaging in sorted(screened, key=lambda t: t[0]):
                if (font, size, averaging) in seen:
                    continue
                seen.add((font, size, averaging))
                rescreened.append(screen(font, size, fg, averaging))
                if len(seen) >= options.rescreen:
                    break
            screened = [item for item in rescreened if item is not None] or screened
        screened.sort(key=lambda t: t[0])

        # Final: the best (font, size, averaging) triples, full beam, each from the text
        # colour and the place (one px either way) its screen found; the search profiles the
        # colour again. A line that explains the mosaic within the noise ends it early.
        finals: list[tuple[Hypothesis, float]] = []
        for _, font, size, best, fg_screen, averaging in screened[: options.finalists]:
            found = full_beam(font, size, fg_screen, averaging, (best.state.x, best.state.top), 1)
            finals += found
            if found and math.sqrt(max(found[0][1], 0.0) / cells) <= options.good_fit:
                break
        return finals

    def plausible(font: str) -> list[float]:
        return _plausible_sizes(font, n_rows, grid.block, options.size_step)

    def full_beam(
        font: str, size: float, fg: tuple, averaging: str, near: tuple[float, int], slack: int
    ) -> list[tuple[Hypothesis, float]]:
        """The full beam from the starts within ``slack`` px across (one down) of ``near``
        (x, top; all starts when none is), each line's text colour refitted; its finished
        lines with their search costs, best first."""
        glyphs = glyph_set(font, size, charset, options.antialias)
        model = LineModel(glyphs, grid, fg, bg_t, averaging)
        scorer = Scorer(model, observed, sigma)
        all_starts = _starts(model, box, faint)
        starts = [p for p in all_starts
                  if abs(p[0] - near[0]) <= slack and abs(p[1] - near[1]) <= 1]  # fmt: skip
        found = beam_search(model, scorer, starts or all_starts, chars, beam=options.beam,
                            ink_right=ink_right, pattern=pattern, keep=4)  # fmt: skip
        out = []
        for f in found:
            colour = refine_colour(glyphs, grid, f.state.text, f.state.x, f.state.top,
                                   f.foreground, bg_t, averaging, observed, sigma)  # fmt: skip
            out.append((replace(model.hypothesis(f.state), foreground=colour), f.cost))
        return out

    probes = [p for p in probes if p.strip()]
    finals: list[tuple[Hypothesis, float]] = []
    exact: dict[Hypothesis, float] = {}  # reference costs, kept across the rounds' verifications
    if probes:
        # Probe-guided: the (font, size) pairs the probes draw best, a few per round, each
        # searched with the full beam from the probes' position; each round's best guess (a
        # near miss in a similar font) joins the probes, which then rank what is left.
        target = ProbeTarget(observed, bg, grid.block, box, options.averaging)
        left = {font: plausible(font) for font in fonts}
        few_fonts = len(fonts) <= options.font_shortlist
        tried: set[tuple[str, float]] = set()
        reading = None
        for _ in range(max(1, options.font_rounds)):
            rank_fonts(target, probes, left)
            if not target.best_pairs(probes):
                # no probe is as wide as the ink at any size (the reader dropped characters):
                # their shapes still rank the fonts
                rank_fonts(target, probes, left, strict=False)
            pairs = [p for p in target.best_pairs(probes) if p[1:] not in tried]
            if not pairs:
                break
            batch: dict[str, float] = {}  # one size per font and round
            for _, font, size in pairs:
                if len(batch) < max(1, options.font_batch):
                    batch.setdefault(font, size)
            for font, size in batch.items():
                tried.add((font, size))
                x, top, averaging = target.position(font, size)
                # where the probes put the line (2 px of slack across: a wrong first character)
                near = (x - grid.pad_x, top - grid.pad_y)
                finals += full_beam(font, size, fg0, averaging, near, 2)
                reading = _verify(finals, grid, observed, sigma, options, start, exact)
                if _settled(reading, few_fonts):
                    break
            if reading is not None and _settled(reading, few_fonts):
                break
            if reading.guess and reading.guess not in probes:
                probes.append(reading.guess)
        if reading is not None and (reading.recovered or not few_fonts):
            return reading
    if len(fonts) <= options.font_shortlist:
        # few fonts (given with --font): every size, screened
        finals += search({font: plausible(font) for font in fonts})
    else:
        shortlist = _shortlist(fonts, screen, n_rows, grid.block, fg0, options.font_shortlist)
        finals += search({font: plausible(font) for font in shortlist})
    if not finals:
        return _not_recovered("no font of the library fits the rows of the text", start)
    return _verify(finals, grid, observed, sigma, options, start, exact)


def _settled(reading: LineReading, few_fonts: bool = False) -> bool:
    """Whether the probe rounds can stop: a recovered line, and unless the fonts were given
    (``few_fonts``), one whose residual is as small as the right font's (a near font can read
    the right string under JPEG, '9f3a7c21' in Noto Mono 25 px at 0.73 sigma for Inconsolata
    30 px at 0.04: the next round, probed with that string, finds the font)."""
    return reading.recovered and (few_fonts or (reading.residual or 0.0) <= CLEAN_RMS)


def _verify(
    finals: list[tuple[Hypothesis, float]],
    grid: CellGrid,
    observed: np.ndarray,
    sigma: float,
    options: DecodeOptions,
    start: float,
    exact: dict[Hypothesis, float] | None = None,
) -> LineReading:
    """Rescore the finalists exactly, keep the best per string, and set the confidence.
    ``exact``: reference costs already computed (read and filled; the probe rounds verify
    after each search, mostly the same finalists again)."""
    exact = {} if exact is None else exact
    best_per_text: dict[str, tuple[float, Hypothesis]] = {}
    for h, _ in sorted(finals, key=lambda t: t[1])[: 4 * options.alternatives]:
        if h not in exact:
            exact[h] = _exact_cost(h, grid, observed, sigma)
        cost = exact[h]
        if h.text not in best_per_text or cost < best_per_text[h.text][0]:
            best_per_text[h.text] = (cost, h)
    if not best_per_text:
        return _not_recovered("no string of the charset/pattern explains the mosaic", start)
    ranked = []
    # A string that only adds characters to a cheaper-or-equal one (glyphs at the crop's edge
    # whose ink changes no 8-bit cell) adds no evidence: keep the shorter one.
    for cost, h in sorted(best_per_text.values(), key=lambda t: (t[0], len(t[1].text))):
        if any(h.text.startswith(k.text) and cost > c - 1.0 for c, k in ranked):
            continue
        ranked.append((cost, h))
    best_cost, best = ranked[0]
    valid = ~np.isnan(observed[..., 0])
    rms = math.sqrt(best_cost / (3 * valid.sum()))
    weights = [math.exp(-(c - best_cost) / (2 * TEMPERATURE)) for c, _ in ranked]
    share = weights[0] / sum(weights)
    fit = math.exp(-(max(0.0, rms - FIT_RMS) ** 2) / FIT_WIDTH)
    confidence = share * fit
    alternatives = [
        {
            "text": h.text,
            "cost": round(c, 2),
            "probability": round(w / sum(weights) * fit, 4),
            "font": h.font,
            "size": h.size,
        }
        for (c, h), w in list(zip(ranked, weights))[: options.alternatives]
    ]
    recovered = confidence >= RECOVERED
    reason = ""
    if not recovered:
        reason = (
            f"no string explains the mosaic within the noise (best {best.text!r}, "
            f"residual {rms:.1f} sigma): unknown font or not text"
            if fit < 0.5
            else f"several strings explain the mosaic equally well (best {best.text!r}, "
            f"runner-up {ranked[1][1].text!r})"
        )
    return LineReading(
        text=best.text if recovered else "",
        confidence=confidence,
        recovered=recovered,
        reason=reason,
        font=best.font,
        size=best.size,
        averaging=best.averaging,
        alternatives=alternatives,
        hypothesis=best,
        residual=rms,
        seconds=time.perf_counter() - start,
        guess=best.text,
    )


def render_reading(reading: LineReading, height: int, width: int) -> np.ndarray | None:
    """The decoded line drawn into the crop (uint8 (H, W, 3)); None when nothing was read."""
    if reading.hypothesis is None:
        return None
    return render_hypothesis(reading.hypothesis, height, width)
