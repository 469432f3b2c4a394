"""Probe strings: rank fonts and sizes by how well a guessed string explains the mosaic.

The decoder's search costs a few seconds per (font, size); the library holds about a hundred
fonts. A *probe* is a string that is probably close to the hidden one (the reader's top
readings, or the decoder's own best guess in another font). Drawn in a font at a size and
pixelated with the line's grid, a probe explains the observed cells almost exactly in the
right font even when a character or two are wrong, and badly in fonts of other widths,
weights and shapes. So one render per (font, size, probe) and a closed-form fit of position
and colour order the whole library in a second or two, and the search then visits the fonts
in that order (``decode.decode_line``).

The fit: the probe's coverage ``c`` (0..1 per pixel) is drawn at every integer position that
puts its first ink in the observed first ink cell (and its top in the first ink row, a third
of a block of slack for faint rows), its cell means ``C`` (one per cell) come from an
integral image, and the ink colour ``v`` (3,) that minimises ``sum |O - bg - C v|^2`` over the
cells is closed-form (``O``: observed cell means in the averaging space: 8-bit levels for
sRGB means, linear light for linear-light means, where compositing is linear in ``c``). The
8 best positions are then costed with each cell's squared residual capped at a quarter of
the contrast, squared (a robust, Tukey-like loss: a wrong character of the probe spoils
only its own cells). The best position and averaging are kept for the search to start from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from depix.data.fonts import load_font
from depix.data.render import LineStyle, text_coverage
from depix.decode.forward import to_space


def _coverage(text: str, font: str, size: float) -> np.ndarray:
    """The probe's grey coverage, float64 (H, W) in [0, 1], its pen at (2, 2)."""
    f = load_font(font, size)
    ascent, descent = f.getmetrics()
    width = int(math.ceil(f.getlength(text))) + 8
    style = LineStyle(font, size, (0, 0, 0), (255, 255, 255), x=0, y_jitter=0)
    cov = text_coverage([text], style, [(2.0, 2.0)], ascent + descent + 6, width)
    return cov[..., 0].astype(np.float64)


class ProbeTarget:
    """One observed line as the probes see it: its cell means in each averaging space (ink
    only: the background subtracted), computed once per line.

    Args:
        observed: float64 (rows, cols, 3) cell means in 8-bit levels on the canvas grid
            (``forward.observed_cells``), NaN where no pixel was seen.
        background: (3,) levels. ``block``: cell size (px).
        ink_box: ``(r0, r1, c0, c1)`` canvas cell rows/cols holding ink (end exclusive).
        averagings: the averaging spaces tried (a probe's cost is its least over them).
    """

    def __init__(
        self,
        observed: np.ndarray,
        background: np.ndarray,
        block: int,
        ink_box: tuple[int, int, int, int],
        averagings: Sequence[str] = ("srgb", "linear"),
    ) -> None:
        self.block, self.ink_box = int(block), tuple(int(v) for v in ink_box)
        self.valid = ~np.isnan(observed[..., 0])
        self.shape = observed.shape[:2]
        self.ink = {}
        for averaging in averagings:
            scale = 255.0 if averaging == "linear" else 1.0  # linear light in 0..255 units
            o = to_space(np.nan_to_num(observed), averaging) * scale
            bg = to_space(np.asarray(background, dtype=np.float64), averaging) * scale
            self.ink[averaging] = np.where(self.valid[..., None], o - bg, 0.0)
        r0, r1, c0, c1 = self.ink_box
        # the observed ink's width (px) lies between these (its first and last ink cells)
        self.width_range = (max(1, (c1 - c0 - 2) * block + 1), (c1 - c0) * block)
        self._costs: dict[tuple, tuple[float, tuple[int, int, str] | None]] = {}

    def cost(self, font: str, size: float, text: str, cap: float | None = 0.25) -> float:
        """``probe_cost`` of this line, kept: a probe is drawn once per font and size."""
        key = (font, float(size), text, cap)
        if key not in self._costs:
            self._costs[key] = probe_cost(self, font, size, text, cap)
        return self._costs[key][0]

    def position(self, font: str, size: float) -> tuple[int, int, str] | None:
        """Where the cheapest probe drawn so far in ``font`` at ``size`` lies: the pen's
        (x, top) in canvas pixels and the averaging, or None when none was drawn there."""
        fits = [v for (f, s, _, _), v in self._costs.items() if f == font and s == float(size)]
        return min(fits, key=lambda v: v[0])[1] if fits else None

    def best_pairs(self, probes: Sequence[str]) -> list[tuple[float, str, float]]:
        """Every (font, size) some of ``probes`` were drawn at (``rank_fonts`` draws them),
        as ``(least cost, font, size)``, cheapest first."""
        wanted = set(probes)
        best: dict[tuple[str, float], float] = {}
        for (font, size, text, _), (cost, _) in self._costs.items():
            if text in wanted and cost < best.get((font, size), math.inf):
                best[(font, size)] = cost
        return sorted((c, f, s) for (f, s), c in best.items() if math.isfinite(c))

    def plausible_width(self, advance: float) -> bool:
        """Whether a probe this many px wide (pen advance) could be the observed ink: within
        a block and a fifth of the width (side bearings, a wrong character or two)."""
        lo, hi = self.width_range
        slack = self.block + 0.2 * hi
        return lo - slack <= advance <= hi + slack


def probe_cost(
    target: ProbeTarget, font: str, size: float, text: str, cap: float | None = 0.25
) -> tuple[float, tuple[int, int, str] | None]:
    """Least cost of ``text`` drawn in ``font`` at ``size`` px over positions, ink colours and
    averagings (sum of squared cell residuals in 8-bit levels squared; linear light in 0..255
    units), and where it is least: the pen's (x, top) in canvas pixels (the grid's canvas,
    ``forward.CellGrid``; the top of the font's ascent, as the renderer places lines) and the
    averaging.

    ``cap``: each cell's squared residual is capped at ``(cap * contrast)^2`` (a wrong
    character of the probe spoils only its own cells), on the 8 best positions by least
    squares; ``None``: plain least squares. Returns ``(inf, None)`` when the text has no ink.
    """
    cov = _coverage(text, font, size)
    rows, cols = np.flatnonzero(cov.any(1)), np.flatnonzero(cov.any(0))
    if rows.size == 0:
        return math.inf, None
    h, w = cov.shape
    block = target.block
    integral = np.zeros((h + 1, w + 1))
    integral[1:, 1:] = cov.cumsum(0).cumsum(1)
    r0, _, c0, _ = target.ink_box
    slack = math.ceil(block / 3)
    # canvas position of the coverage's (0, 0): first ink in cell column c0 (2 px of slack
    # for a faint first column), top ink in cell row r0 or up to a third of a block above
    xs0 = np.arange(c0 * block - int(cols[0]) - 2, (c0 + 1) * block - int(cols[0]))
    ys0 = np.arange(r0 * block - int(rows[0]) - slack, (r0 + 1) * block - int(rows[0]))
    n_rows, n_cols = target.shape
    ey = np.clip(np.arange(n_rows + 1)[None, :] * block - ys0[:, None], 0, h)  # (nY, R+1)
    ex = np.clip(np.arange(n_cols + 1)[None, :] * block - xs0[:, None], 0, w)  # (nX, K+1)
    s = integral[ey[:, None, :, None], ex[None, :, None, :]]  # (nY, nX, R+1, K+1)
    cells = (s[:, :, 1:, 1:] - s[:, :, :-1, 1:] - s[:, :, 1:, :-1] + s[:, :, :-1, :-1]) / (
        block * block
    )
    cells = np.where(target.valid, cells, 0.0)
    cc = np.maximum((cells * cells).sum((2, 3)), 1e-9)  # (nY, nX)
    best, where = math.inf, None
    for averaging, o in target.ink.items():
        co = np.einsum("abrk,rkc->abc", cells, o)  # (nY, nX, 3)
        residual = (o * o).sum() - (co * co).sum(-1) / cc
        top = np.argsort(residual, axis=None)[: 1 if cap is None else 8]
        ia, ib = np.unravel_index(top, residual.shape)
        if cap is None:
            costs = residual[ia, ib]
        else:
            v = co[ia, ib] / cc[ia, ib][:, None]  # (P, 3): the ink colour, closed form
            r = o[None] - cells[ia, ib][..., None] * v[:, None, None, :]  # (P, R, K, 3)
            limit = (cap * np.abs(o).max()) ** 2
            costs = np.minimum((r * r).sum(-1), limit).sum((1, 2))
        k = int(np.argmin(costs))
        if costs[k] < best:
            # the coverage's pen was drawn at (2, 2)
            best, where = float(costs[k]), (int(xs0[ib[k]]) + 2, int(ys0[ia[k]]) + 2, averaging)
    return best, where


def rank_fonts(
    target: ProbeTarget,
    probes: Sequence[str],
    sizes: dict[str, Sequence[float]],
    cap: float | None = 0.25,
    strict: bool = True,
) -> list[tuple[float, str, list[float]]]:
    """Fonts ordered by their best probe cost: ``(cost, font, sizes best first)`` per font.

    ``sizes``: each font's candidate sizes (px). A probe is drawn only at the sizes where its
    width could be the observed ink's (``ProbeTarget.plausible_width``): every second one,
    then the neighbours of the best two (a probe's cost changes smoothly with the size).
    A font's cost is its least over sizes and probes; its sizes come back ordered by their
    least cost (sizes no probe was drawn at last, in the order given). Costs are kept on
    ``target``, so ranking again with one more probe draws only the new one. Probes without
    visible characters are skipped; with none left every cost is ``inf`` (the fonts in the
    order given). ``cap``: as ``probe_cost``'s. ``strict=False`` draws a probe at every
    size whatever its width (a reader that dropped half the characters).
    """
    probes = [p for p in dict.fromkeys(probes) if p.strip()]
    ranked = []
    for font, candidates in sizes.items():
        unit = load_font(font, 100)
        best: dict[float, float] = {}
        for probe in probes:
            width = unit.getlength(probe) / 100
            fits = [
                s for s in sorted(candidates) if not strict or target.plausible_width(width * s)
            ]
            costs = {s: target.cost(font, s, probe, cap) for s in fits[::2]}
            for k in sorted(range(0, len(fits), 2), key=lambda k: costs[fits[k]])[:2]:
                for near in fits[max(0, k - 1) : k + 2]:
                    if near not in costs:
                        costs[near] = target.cost(font, near, probe, cap)
            for size, cost in costs.items():
                best[size] = min(best.get(size, math.inf), cost)
        order = sorted(candidates, key=lambda s: best.get(s, math.inf))
        ranked.append((min(best.values(), default=math.inf), font, order))
    return sorted(ranked, key=lambda t: t[0])
