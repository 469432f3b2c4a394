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

from depix.decode.forward import LineModel, State, to_space

COLOUR_SLACK = 0.15  # relative error of the predicted ink allowed for (text colour fit)
HUBER = 3.0  # residuals beyond 3 sigma (other rasterizers' edge pixels, JPEG blocks) cost linearly


def huber(r: np.ndarray, k: float = HUBER) -> np.ndarray:
    """Huber's rho of noise-normalised residuals: r**2 inside +-k, 2k|r| - k**2 outside."""
    a = np.abs(r)
    return np.where(a <= k, r * r, 2 * k * a - k * k)


class Scorer:
    """Per-cell costs of predicted cell means (averaging space) against the observation.

    ``observed``: float64 (rows, cols, 3) cell means in 8-bit levels (NaN outside the crop);
    ``sigma``: the noise level of one cell mean, in levels (see ``decode.noise_level``).
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

    def costs(self, means: np.ndarray, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        """(full, excess) costs per cell of ``means`` (..., R, K, 3) at cells [rows, cols]:
        ``full`` for a cell that is final, ``excess`` for one later glyphs may still darken."""
        means = np.nan_to_num(means)
        slope = self.slope[rows, cols]
        # Noise: sigma, plus a share of the predicted ink (the text colour is only estimated:
        # a colour a little off must not make the search prefer other glyphs).
        ink_levels = (means - self.background) / slope
        spread = np.sqrt(self.sigma**2 + (COLOUR_SLACK * ink_levels) ** 2)
        r = (means - self.target[rows, cols]) / (slope * spread)
        full = huber(r).sum(-1)
        excess = huber(np.maximum(r * self.sign, 0)).sum(-1)
        return full, excess


@dataclass(order=True)
class Scored:
    """A prefix (or finished line) in the beam, ordered by cost."""

    cost: float
    state: State = field(compare=False)
    full: np.ndarray = field(compare=False, repr=False)  # (rows, cols) costs if final
    excess: np.ndarray = field(compare=False, repr=False)  # (rows, cols) lower-bound costs


@dataclass(frozen=True)
class Finished:
    """A complete line: its cost over every cell, its state (text, position, canvas)."""

    cost: float
    state: State


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


def _initial(model: LineModel, scorer: Scorer, x: float, top: int) -> Scored:
    state = model.start(x, top)
    full, excess = scorer.costs(model.means(state.sums), slice(None), slice(None))
    return Scored(0.0, state, full, excess)


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

    def expand(item: Scored) -> None:
        nonlocal counter
        state = item.state
        allowed = chars
        if not state.text or state.text[-1].isspace():
            allowed = chars[~is_space[chars]]
        if ink_right is not None and state.text and state.pen + pad_x > ink_right + b:
            return
        col_full = item.full.sum(0)
        col_excess = item.excess.sum(0)
        cum_f = np.concatenate([[0.0], np.cumsum(col_full)])
        cum_e = np.concatenate([[0.0], np.cumsum(col_excess)])
        for group, pen, (r0, r1, c0, c1), sums in model.candidates(state, allowed):
            means = model.means(sums, model.counts[r0:r1, c0:c1])
            full, excess = scorer.costs(means, slice(r0, r1), slice(c0, c1))
            # A character none of whose ink falls inside the crop cannot be seen: no evidence.
            seen = np.abs(sums - state.sums[r0:r1, c0:c1]).reshape(len(group), -1).max(1) > 0
            seen |= is_space[group]
            # Column costs change only in the window [c0, c1): the parent's cumulative sums
            # plus the window's changes give every candidate's lower bound and full cost.
            d_full = full.sum(1) - item.full[r0:r1, c0:c1].sum(0)  # (C, K)
            d_excess = excess.sum(1) - item.excess[r0:r1, c0:c1].sum(0)
            nxt = pen + g.advances[group] + pad_x + ink_left
            determined = np.clip(np.floor(nxt / b).astype(int), 0, cols)
            before = np.arange(c0, c1)[None, :] < determined[:, None]
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
                child = (item, index, (r0, r1, c0, c1), full[k], excess[k])
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
        parent, index, (r0, r1, c0, c1), full, excess = child
        f = parent.full.copy()
        e = parent.excess.copy()
        f[r0:r1, c0:c1] = full
        e[r0:r1, c0:c1] = excess
        state = model.extend(parent.state, charset[index])
        return Scored(0.0, state, f, e)

    for x, top in starts:
        expand(_initial(model, scorer, x, top))
    while buckets:
        column = min(buckets)
        if stop_column is not None and column >= stop_column:
            lb, _, child = min(buckets[column], key=lambda t: t[0])
            return [Finished(lb, materialise(child).state)]
        done_here = 0
        while buckets.get(column) and done_here < beam:
            lb, _, child = heapq.heappop(buckets[column])
            if lb >= worst_kept():
                break
            expand(materialise(child))
            done_here += 1
        buckets.pop(column, None)
    return [
        Finished(-cost, model.extend(child[0].state, charset[child[1]]))
        for cost, _, child in sorted(finished, key=lambda t: -t[0])
    ]
