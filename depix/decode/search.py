"""Scoring and left-to-right beam search over characters (the decoder's search).

Cost of a hypothesis: a robust (Huber) sum of squared, noise-normalised differences between
predicted and observed cell means, channel by channel, in the averaging space (8-bit levels,
or linear light weighted by the slope of the sRGB curve so a linear-light difference costs
what it costs in levels). A prefix fully determines the cells left of where the next glyph can
first put ink; cells the rest of the line can still touch only cost for ink already beyond
the observed value (ink only accumulates), which makes the prefix cost a lower bound of every
completion's cost, so prefixes of different widths compare fairly in one beam.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from depix.decode.forward import LineModel, State, to_levels, to_space

COLOUR_SLACK = 0.15  # relative error of the predicted ink allowed for (other rasterizers)
PRIOR = 0.5  # weight of the first colour guess, in fully inked cells
MIN_SCALE = 0.25  # each channel of the profiled colour keeps this share of the guess's ink
HUBER = 3.0  # residuals beyond 3 sigma (other rasterizers' edge pixels, JPEG blocks) cost linearly


def huber(r: np.ndarray, k: float = HUBER) -> np.ndarray:
    """Huber's rho of noise-normalised residuals: r**2 inside +-k, 2k|r| - k**2 outside."""
    a = np.abs(r)
    return np.where(a <= k, r * r, 2 * k * a - k * k)


class Scorer:
    """Per-cell costs of predicted cell means (averaging space) against the observation, with
    the text colour profiled out.

    ``observed``: float64 (rows, cols, 3) cell means in 8-bit levels (NaN outside the crop);
    ``sigma``: the noise level of one cell mean, in levels (see ``decode.noise_level``).

    Colour profile: for two-colour text a cell's value is ``bg + a * (fg - bg)`` in the
    averaging space (``a``: the cell's coverage share; exact in sRGB up to 8-bit rounding, to
    first order in linear light). The model draws with a first text colour ``fg0``, so a
    predicted cell's ink ``u = mean - bg`` is ``a * (fg0 - bg)``; any other colour scales it
    per channel by ``s = (fg - bg) / (fg0 - bg)``. ``fit_scale`` gives the weighted
    least-squares ``s`` of the observed ink ``v`` on ``u`` (closed form from the sums
    ``sum w u u`` and ``sum w u v``), pulled towards 1 by a weak prior and clamped so the text
    colour stays a valid 8-bit colour. The search profiles it per prefix on the cells the
    prefix determines and costs the prefix's children in that colour (a first glyph: each
    candidate its own). Profiling each candidate over the whole line as well (the outside
    cells moved by the least-squares change of their cost) was tried and dropped: it let
    wrong prefixes buy lower bounds with colour and lost true lines the per-prefix fit reads.
    """

    def __init__(self, model: LineModel, observed: np.ndarray, sigma: float) -> None:
        self.model = model
        valid = ~np.isnan(observed[..., 0])
        levels = np.nan_to_num(observed)
        self.target = to_space(levels, model.averaging)
        # d(space)/d(level) at the observed value: a residual in the averaging space over
        # this slope is a residual in levels.
        slope = to_space(levels + 0.5, model.averaging) - to_space(levels - 0.5, model.averaging)
        slope = np.maximum(np.abs(slope), 1e-6)
        self.sigma = sigma
        self.slope = np.where(valid[..., None], slope, np.inf)
        self.background = model.table[0]
        ink = model.table[255] - model.table[0]
        self.sign = np.sign(ink)
        # Colour profile: weights of the least-squares fit (1/noise^2 in the averaging space),
        # observed ink, prior strength (half a fully inked cell) and the bounds of the scale.
        # The weights use the cost's noise (sigma and the ink slack) at the observed ink, so
        # the least-squares change of the cost with the colour matches the costs' scale.
        self.observed_ink = np.where(valid[..., None], self.target - self.background, 0.0)
        spread = np.sqrt(sigma**2 + (COLOUR_SLACK * self.observed_ink / slope) ** 2)
        self.weight = np.where(valid[..., None], 1.0 / (slope * spread) ** 2, 0.0)
        bg = np.asarray(model.background, dtype=np.float64)[None]
        space = lambda v: to_space(v, model.averaging)[0]  # noqa: E731
        bg_slope = np.maximum(np.abs(space(bg + 0.5) - space(bg - 0.5)), 1e-6)
        ink_levels = ink / bg_slope
        self.prior = PRIOR * ink_levels**2 / (sigma**2 + (COLOUR_SLACK * ink_levels) ** 2) + 1e-9
        lo, hi = space(np.zeros((1, 3))), space(np.full((1, 3), 255.0))
        visible = np.abs(ink) > 1e-6 * max(1.0, float(np.abs(hi - lo).max()))
        safe = np.where(visible, ink, 1.0)
        edge = np.where(ink > 0, hi, lo)
        self.scale_hi = np.where(
            visible, np.maximum((edge - self.background) / safe, MIN_SCALE), 1.0
        )
        self.scale_lo = np.where(visible, MIN_SCALE, 1.0)

    def fit_scale(self, suu: np.ndarray, suv: np.ndarray, prior: bool = True) -> np.ndarray:
        """Per-channel ink scale (..., 3) from the fit sums ``sum w u^2``, ``sum w u v``
        (``prior``: pulled towards 1, for fits on a few cells)."""
        lam = self.prior if prior else 1e-9
        return np.clip((suv + lam) / (suu + lam), self.scale_lo, self.scale_hi)

    def column_stats(
        self, means: np.ndarray, rows: slice, cols: slice, robust: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit sums per cell column, (..., K, 3) each, of ``means`` (..., R, K, 3);
        ``robust`` (R, K, 3): Huber's reweighting of the cells (iteratively reweighted least
        squares), so cells the cost counts only linearly weigh less."""
        u = np.nan_to_num(means) - self.background
        w = self.weight[rows, cols]
        if robust is not None:
            w = w * robust
        wu = w * u
        return (wu * u).sum(-3), (wu * self.observed_ink[rows, cols]).sum(-3)

    def colour(self, scale: np.ndarray) -> tuple[int, int, int]:
        """The 8-bit text colour a scale stands for."""
        ink = self.model.table[255] - self.background
        fg = self.background + scale * ink
        if self.model.averaging == "linear":
            fg = to_levels(fg, "linear")
        return tuple(int(v) for v in np.clip(np.round(fg), 0, 255))

    def costs(
        self,
        means: np.ndarray,
        rows: slice,
        cols: slice,
        scale: np.ndarray | None = None,
        robust: bool = False,
    ) -> tuple[np.ndarray, ...]:
        """(full, excess) costs per cell of ``means`` (..., R, K, 3) at cells [rows, cols]:
        ``full`` for a cell that is final, ``excess`` for one later glyphs may still darken.
        ``scale`` (..., 3): the ink scale of the text colour (see the class), default 1. With
        ``robust``, also Huber's weights (..., R, K, 3) of the residuals (1 inside +-k)."""
        means = np.nan_to_num(means)
        if scale is not None:
            means = self.background + scale[..., None, None, :] * (means - self.background)
        slope = self.slope[rows, cols]
        # Noise: sigma, plus a share of the predicted ink (the text colour is only estimated:
        # a colour a little off must not make the search prefer other glyphs).
        ink_levels = (means - self.background) / slope
        spread = np.sqrt(self.sigma**2 + (COLOUR_SLACK * ink_levels) ** 2)
        r = (means - self.target[rows, cols]) / (slope * spread)
        full = huber(r).sum(-1)
        excess = huber(np.maximum(r * self.sign, 0)).sum(-1)
        if robust:
            return full, excess, np.minimum(1.0, HUBER / np.maximum(np.abs(r), 1e-9))
        return full, excess


@dataclass(order=True)
class Scored:
    """A prefix (or finished line) in the beam, ordered by cost."""

    cost: float
    state: State = field(compare=False)
    determined: int = field(compare=False, default=0)  # cell columns the prefix determines


@dataclass(frozen=True)
class Finished:
    """A complete line: its cost over every cell, its state (text, position, canvas) and its
    profiled text colour (8-bit)."""

    cost: float
    state: State
    foreground: tuple[int, int, int] | None = None


class PatternFilter:
    """``--pattern``: prefixes that can still become a full match, and full matches.

    Prefix pruning uses the ``regex`` module's partial matching when it is installed; with
    ``re`` alone, only finished lines are filtered.
    """

    def __init__(self, pattern: str | None) -> None:
        self.pattern = pattern
        self._full = re.compile(pattern) if pattern else None
        self._partial = None
        if pattern:
            try:
                import regex

                self._partial = regex.compile(pattern)
            except ImportError:
                pass

    def prefix_ok(self, text: str) -> bool:
        if self._partial is None:
            return True
        return self._partial.fullmatch(text, partial=True) is not None

    def full_ok(self, text: str) -> bool:
        return self._full is None or self._full.fullmatch(text) is not None


def line_scale(scorer: Scorer, state: State) -> np.ndarray:
    """The ink scale (3,) that best fits a finished line (every cell, no prior)."""
    suu, suv = scorer.column_stats(scorer.model.means(state.sums), slice(None), slice(None))
    return scorer.fit_scale(suu.sum(0), suv.sum(0), prior=False)


def beam_search(
    model: LineModel,
    scorer: Scorer,
    starts: Sequence[tuple[float, int]],
    chars: np.ndarray,
    beam: int = 16,
    ink_right: int | None = None,
    pattern: PatternFilter | None = None,
    keep: int = 8,
    stop_column: int | None = None,
) -> list[Finished]:
    """Column-synchronous beam search, left to right; returns the ``keep`` best finished
    lines, best first.

    Prefixes are grouped by how many cell columns they determine (cells left of where the
    next glyph can first put ink); within a group all prefixes are costed over the same cells,
    so their lower bounds compare fairly whatever their character count (a plain per-length
    beam prefers narrow, faint characters such as ``.``). Groups are expanded in column order,
    at most ``beam`` prefixes each. ``starts``: (x, top) positions to try (crop coordinates);
    ``chars``: charset indices allowed; ``ink_right``: canvas column past which no glyph
    needs to start (the observed ink's right edge). With ``stop_column`` the search stops at
    the first group determining at least that many cell columns and returns its best prefix,
    costed by its lower bound (a screen: equal cells for every font and size compared).
    """
    g = model.glyphs
    b = model.grid.block
    pad_x = model.grid.pad_x
    ink_left = g.ink_extent()[0] - 1  # a next glyph may reach left of its pen (kerning: -1)
    charset = g.charset
    is_space = np.array([c.isspace() for c in charset])
    cols = model.grid.cols
    pattern = pattern or PatternFilter(None)
    finished: list[tuple[float, int, tuple]] = []  # heap by -cost (worst first) of children
    buckets: dict[int, list] = {}
    counter = 0

    def worst_kept() -> float:
        return -finished[0][0] if len(finished) >= keep else math.inf

    every = (slice(None), slice(None))

    def expand(item: Scored) -> None:
        nonlocal counter
        state = item.state
        allowed = chars
        if not state.text or state.text[-1].isspace():
            allowed = chars[~is_space[chars]]
        if ink_right is not None and state.text and state.pen + pad_x > ink_right + b:
            return
        # The prefix's text colour, profiled in closed form on the cells it determines (one
        # Huber reweighting), and its costs with it; its children are costed in that colour.
        means_p = model.means(state.sums)
        det = item.determined
        scale_p = scorer.fit_scale(*(t.sum(0) for t in scorer.column_stats(
            means_p[:, :det], slice(None), slice(0, det))))  # fmt: skip
        if det:
            _, _, robust = scorer.costs(means_p[:, :det], slice(None), slice(0, det), scale_p,
                                        robust=True)  # fmt: skip
            scale_p = scorer.fit_scale(*(t.sum(0) for t in scorer.column_stats(
                means_p[:, :det], slice(None), slice(0, det), robust)))  # fmt: skip
        full_p, excess_p = scorer.costs(means_p, *every, scale_p)
        cum_f = np.concatenate([[0.0], np.cumsum(full_p.sum(0))])
        cum_e = np.concatenate([[0.0], np.cumsum(excess_p.sum(0))])
        for group, pen, (r0, r1, c0, c1), sums in model.candidates(state, allowed):
            window = (slice(r0, r1), slice(c0, c1))
            means = model.means(sums, model.counts[r0:r1, c0:c1])
            # A character none of whose ink falls inside the crop cannot be seen: no evidence.
            seen = np.abs(sums - state.sums[r0:r1, c0:c1]).reshape(len(group), -1).max(1) > 0
            seen |= is_space[group]
            nxt = pen + g.advances[group] + pad_x + ink_left
            determined = np.clip(np.floor(nxt / b).astype(int), 0, cols)
            before = np.arange(c0, c1)[None, :] < determined[:, None]  # (C, K)
            scale = scale_p
            if not state.text:
                # A first glyph: no prefix to profile the colour on, so each candidate gets
                # its own, in closed form, on its window's cells (the empty line around it does
                # not depend on the colour).
                uu, uv = scorer.column_stats(means, *window)  # (C, K, 3)
                scale = scorer.fit_scale(uu.sum(1), uv.sum(1))
            full, excess = scorer.costs(means, *window, scale)
            # Column costs change only in the window [c0, c1): the parent's cumulative sums
            # plus the window's changes give every candidate's lower bound and full cost.
            d_full = full.sum(1) - full_p[window].sum(0)  # (C, K)
            d_excess = excess.sum(1) - excess_p[window].sum(0)
            lb = (
                cum_f[determined]
                + cum_e[-1]
                - cum_e[determined]
                + np.where(before, d_full, d_excess).sum(1)
            )
            complete = cum_f[-1] + d_full.sum(1)
            # Only the best few children of one parent can survive in their buckets, and only
            # the best few complete lines can enter the finished list.
            best = np.argsort(lb)[: 2 * beam]
            ends = np.argsort(complete)[: keep + 1]
            for k in np.union1d(best, ends):
                if not seen[k]:
                    continue
                index = int(group[k])
                text = state.text + charset[index]
                if not pattern.prefix_ok(text):
                    continue
                child = (item, index, int(determined[k]))
                if not is_space[index] and complete[k] < worst_kept() and pattern.full_ok(text):
                    entry = (-float(complete[k]), counter, child)
                    if len(finished) >= keep:
                        heapq.heapreplace(finished, entry)
                    else:
                        heapq.heappush(finished, entry)
                counter += 1
                if k not in best or lb[k] >= worst_kept():
                    continue
                heap = buckets.setdefault(int(determined[k]), [])
                heapq.heappush(heap, (float(lb[k]), counter, child))
                if len(heap) > 8 * beam:  # keep the bucket small: its best 2*beam
                    buckets[int(determined[k])] = heapq.nsmallest(2 * beam, heap)

    def materialise(child) -> Scored:
        parent, index, determined = child
        return Scored(0.0, model.extend(parent.state, charset[index]), determined)

    def finish(cost: float, state: State) -> Finished:
        return Finished(cost, state, scorer.colour(line_scale(scorer, state)))

    for x, top in starts:
        expand(Scored(0.0, model.start(x, top), 0))
    while buckets:
        column = min(buckets)
        if stop_column is not None and column >= stop_column:
            # Every prefix left is past the stop (all earlier columns are expanded): the best
            # of them all, not of the first bucket only (paths from different starts step
            # through different columns, e.g. a monospaced font's 3.2-cell advance).
            lb, _, child = min((t for heap in buckets.values() for t in heap), key=lambda t: t[0])
            return [finish(lb, materialise(child).state)]
        done_here = 0
        while buckets.get(column) and done_here < beam:
            lb, _, child = heapq.heappop(buckets[column])
            if lb >= worst_kept():
                break
            expand(materialise(child))
            done_here += 1
        buckets.pop(column, None)
    return [
        finish(-cost, model.extend(child[0].state, charset[child[1]]))
        for cost, _, child in sorted(finished, key=lambda t: -t[0])
    ]
