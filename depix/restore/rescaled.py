"""Pixelated regions seen through a rescale: non-integer cell size, soft cell edges.

A redacted screenshot viewed at 125/150/175 % display scaling, or a zoomed viewer captured
again, no longer has whole-pixel cells with one-pixel jumps: cells are ``scale * block``
pixels apart (say 7.5) and, with bilinear or bicubic scaling, each cell edge is a ramp a
pixel or two wide. The exact detector (``detect.py``) rejects both by design; this module
finds such mosaics with the same three steps, each loosened where the rescale requires:

1. **Proposal.** An edge is a *ramp* of up to RAMP pixels whose change is monotonic and
   flat for REACH pixels on both sides. Every cell edge of a rescaled mosaic is one; text
   strokes go down and up again within a few pixels and mostly are not.
2. **Pitch.** The ramps of a candidate, summed into one profile per axis, are scored for
   pitches between SEARCH_FROM and MAX_PITCH (steps finer than a coherence peak) by their phase
   coherence (the modulus of the profile's Fourier coefficient at that period): 1 when
   every ramp lies on one grid. Every divisor of the pitch is as coherent, so the score is
   multiplied by the share of grid lines that carry a ramp (a divisor misses half of them).
   The phase of the winning coefficient gives the grid offset; a least-squares fit through
   the ramp centres of each line then refines pitch and offsets to a fraction of a pixel.
3. **Extent.** A cell (between two grid lines) counts when its inside, away from the soft
   edges, is flat, its border only blends into its neighbours, and it differs from a flat
   neighbour; connected cells give the rectangle, grown along the grid across word gaps.

Restoration resamples such a region onto an integer grid (``restore.regrid``).
"""

from __future__ import annotations

import math

import numpy as np

from depix.restore.detect import (
    CELL_NOISE,
    EDGE,
    MIN_CELLS,
    MIN_SHARE,
    NOISE_FLOOR,
    TILE,
    Grid,
    Pitch,
    Region,
    _tile_sums,
    classify_cells,
    components,
    pitch_of,
)

RAMP = 3  # widest cell edge (pixels): bilinear/bicubic display scaling up to 2x
REACH = 2  # flat pixels required on both sides of a ramp
SEARCH_FROM = 3.0  # smallest cell size searched (finds exact block 3-4 mosaics as such)
MIN_PITCH = 4.5  # smallest fractional cell size accepted (block 3 at 150 %, 4 at 125 %)
MAX_PITCH = 64.0
PITCH_STEP = 0.01
LINE_TOLERANCE = 1.5  # pixels between a ramp's centre and its grid line
OVERSHOOT = 0.1  # bicubic ringing beyond a step, as a share of the step
MIN_FLAT = 0.85  # share of flat cells in a region's rectangle (a mosaic's are all flat)
GROW = 16  # cells a region's search box grows by where a mosaic reaches its edge
INSET = 1.25
MAX_ASPECT = 1.6  # widest cell shape accepted from the per-axis search (selection-fitted cells)  # pixels of a cell next to its lines that the soft edge may still touch


def ramp_mask(grey: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps along ``axis`` of ``grey`` (H, W float) that belong to an isolated ramp.

    Returns ``(on_ramp, other)`` over the neighbour differences (``np.diff`` shape):
    differences inside a monotonic change of more than EDGE over at most RAMP pixels with
    REACH flat differences on both sides, and the strong differences (> EDGE) that are not.
    """
    j = np.diff(grey, axis=axis)
    j = j if axis == 1 else j.T
    n = j.shape[1]
    pad = REACH + RAMP
    s = np.pad(j, ((0, 0), (pad, pad)))
    a = np.abs(s)
    quiet = a[:, : a.shape[1] - REACH + 1]  # quiet[i]: largest step of a[i : i + REACH]
    for k in range(1, REACH):
        quiet = np.maximum(quiet, a[:, k : k + quiet.shape[1]])
    quiet = quiet < NOISE_FLOOR
    left = quiet[:, pad - REACH : pad - REACH + n]
    net = np.zeros(j.shape, dtype=np.float32)
    total = np.zeros(j.shape, dtype=np.float32)
    on_ramp = np.zeros(j.shape, dtype=bool)
    for width in range(1, RAMP + 1):  # window of ``width`` steps starting at each index
        net += s[:, pad + width - 1 : pad + width - 1 + n]
        total += a[:, pad + width - 1 : pad + width - 1 + n]
        ok = left & quiet[:, pad + width : pad + width + n]
        ok &= (np.abs(net) > EDGE) & (np.abs(net) >= 0.8 * total)
        for k in range(width):
            on_ramp[:, k:] |= ok[:, : n - k]
    strong = np.abs(j) > EDGE
    other = strong & ~on_ramp
    if axis == 0:
        return on_ramp.T, other.T
    return on_ramp, other


def _coefficients(pos: np.ndarray, weight: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Fourier coefficients ``sum(weight * exp(2 pi i pos / P))`` for every period P."""
    out = np.empty(len(periods), dtype=np.complex128)
    for start in range(0, len(periods), 512):  # bounded memory for long profiles
        phase = np.outer(2 * np.pi / periods[start : start + 512], pos)
        out[start : start + 512] = (np.cos(phase) + 1j * np.sin(phase)) @ weight
    return out


def _periods(limit: float, extent: float) -> np.ndarray:
    """Periods to score, from SEARCH_FROM to ``limit``: a coherence peak is about
    ``P**2 / extent`` wide, so the step grows with P (a tenth of that width, at least
    PITCH_STEP); ``_fit_lines`` refines the winner."""
    out, period = [], SEARCH_FROM
    while period < limit:
        out.append(period)
        period += max(PITCH_STEP, 0.1 * period * period / extent)
    return np.asarray(out)


def _near_line(pos: np.ndarray, offset: float, pitch: float) -> tuple[np.ndarray, np.ndarray]:
    """For ramp positions: the index of the nearest grid line and whether it is within
    LINE_TOLERANCE."""
    k = np.round((pos - offset) / pitch)
    return k, np.abs(pos - offset - k * pitch) <= LINE_TOLERANCE


def _lines(
    pos: np.ndarray, weight: np.ndarray, pitch: float, offset: float, lo: float, hi: float
) -> tuple[float, float]:
    """(share of the grid lines strictly inside (lo, hi) that carry a ramp, share of the
    ramp mass within LINE_TOLERANCE of a line)."""
    k, near = _near_line(pos, offset, pitch)
    first, last = math.ceil((lo + 1 - offset) / pitch), math.floor((hi - 1 - offset) / pitch)
    if last < first or weight.sum() <= 0:
        return 0.0, 0.0
    mass = np.zeros(last - first + 1)
    inside = near & (k >= first) & (k <= last)
    np.add.at(mass, (k[inside] - first).astype(int), weight[inside])
    carried = float((mass > 0.05 * mass.max()).mean()) if mass.max() > 0 else 0.0
    return carried, float(weight[near].sum() / weight.sum())


def _fit_lines(axes, pitch: float, offsets: list[float]) -> tuple[float, float, float]:
    """Least-squares grid through the ramp centres near each line: (pitch, offset per axis).

    The coherence peak is only as sharp as the region is wide, and a box border or a stray
    stroke pulls its phase; the centre of the ramps of each line (their mass-weighted mean
    position) is not pulled by anything off the grid, and a line fit through them gives the
    pitch and both offsets to a small fraction of a pixel.
    """
    rows, targets = [], []
    for axis, ((pos, w, _, _), offset) in enumerate(zip(axes, offsets)):
        k, near = _near_line(pos, offset, pitch)
        for line in np.unique(k[near]):
            sel = near & (k == line)
            rows.append([line, axis == 0, axis == 1])
            targets.append(float((pos[sel] * w[sel]).sum() / w[sel].sum()))
    design = np.asarray(rows, dtype=np.float64)
    if len(rows) < 3 or np.linalg.matrix_rank(design) < 3:
        return pitch, offsets[0], offsets[1]
    (fitted, origin_x, origin_y), *_ = np.linalg.lstsq(design, np.asarray(targets), rcond=None)
    return float(fitted), float(origin_x % fitted), float(origin_y % fitted)


def _positions(profile: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """A ramp profile of a crop starting at ``start`` as (line positions, masses): entry i
    lies between pixels i and i + 1, i.e. at image coordinate ``start + i + 1``."""
    nz = np.nonzero(profile)[0]
    return start + nz + 1.0, profile[nz].astype(np.float64)


def _ramp_profiles(rgb: np.ndarray, x: int, y: int, w: int, h: int):
    """Ramp mass per column step and per row step of the rectangle, or None if degenerate."""
    grey = rgb[y : y + h, x : x + w, :3].astype(np.float32).mean(axis=2)
    if min(grey.shape) < 2:
        return None
    profiles = []
    for axis in (1, 0):
        on, _ = ramp_mask(grey, axis)
        profiles.append(np.where(on, np.abs(np.diff(grey, axis=axis)), 0).sum(axis=1 - axis))
    return profiles


def estimate_pitch(
    px: np.ndarray, py: np.ndarray, top: int, left: int
) -> tuple[Pitch, float] | None:
    """Square grid of a crop from its ramp profiles along x (``px``) and y (``py``).

    ``px[i]`` is the ramp mass between columns ``i`` and ``i + 1`` of a crop starting at
    (``top``, ``left``). Returns the pitch (grid lines in image coordinates) and the share of
    the ramp mass on it, or ``None`` when there are no ramps or the crop is too small.
    """
    axes = [
        (*_positions(profile, start), start, start + len(profile) + 1)
        for profile, start in ((px, left), (py, top))
    ]
    total = sum(w.sum() for _, w, _, _ in axes)
    limit = min(MAX_PITCH, max(hi - lo for _, _, lo, hi in axes) / 2)
    if total <= 0 or limit <= SEARCH_FROM:
        return None
    periods = _periods(limit, max(hi - lo for _, _, lo, hi in axes))
    coeffs = [_coefficients(pos, w, periods) for pos, w, _, _ in axes]
    coherence = (np.abs(coeffs[0]) + np.abs(coeffs[1])) / total
    peaks = np.nonzero(
        (coherence >= np.roll(coherence, 1))
        & (coherence >= np.roll(coherence, -1))
        & (coherence >= 0.5 * coherence.max())
    )[0]
    best = None
    for i in peaks[np.argsort(coherence[peaks])[::-1][:24]]:
        pitch = float(periods[i])
        offsets = [float(np.angle(c[i]) / (2 * np.pi) * pitch % pitch) for c in coeffs]
        stats = [_lines(pos, w, pitch, off, lo, hi) for (pos, w, lo, hi), off in zip(axes, offsets)]
        carried = np.mean([s[0] for s in stats if s[0] > 0] or [0.0])
        score = coherence[i] * carried
        if best is None or score > best[0]:
            share = sum(s[1] * w.sum() for s, (_, w, _, _) in zip(stats, axes)) / total
            best = (score, pitch, offsets, share)
    if best is None:
        return None
    _, pitch, offsets, share = best
    pitch, offset_x, offset_y = _fit_lines(axes, pitch, offsets)
    square = Pitch(round(pitch, 3), round(offset_y, 3), round(offset_x, 3))
    own = [_axis_pitch(pos, w, lo, hi, periods) for pos, w, lo, hi in axes]
    if all(own):  # non-square cells: each axis on its own explains clearly more of its ramps
        (size_x, off_x, share_x), (size_y, off_y, share_y) = own
        shares = [
            _lines(pos, w, size, off, lo, hi)[1]
            for (pos, w, lo, hi), size, off in zip(axes, (pitch, pitch), (offset_x, offset_y))
        ]
        both = (share_x * axes[0][1].sum() + share_y * axes[1][1].sum()) / total
        aspect = max(size_x, size_y) / min(size_x, size_y)
        # Nearly square cells (9.4 x 9.5 px, fitted to a selection) put the ramps near the
        # square lines too, but the line centres drift off them: each axis's own line fit
        # then leaves clearly less residual than the common one.
        drift = _residual(axes[0], pitch, offset_x) + _residual(axes[1], pitch, offset_y)
        own_fit = _residual(axes[0], size_x, off_x) + _residual(axes[1], size_y, off_y)
        closer = drift > 0.3 and own_fit < 0.5 * drift
        if aspect <= MAX_ASPECT and (
            aspect > 1.02 and min(shares) < 0.9 and both > share + 0.05 or closer
        ):
            pitch_xy = Pitch(round(size_y, 3), round(off_y, 3), round(off_x, 3), round(size_x, 3))
            return pitch_xy, float(both)
    return square, float(share)


def _residual(axis, pitch: float, offset: float) -> float:
    """Mean distance (px) of the ramp centre of each line of ``axis`` (positions, masses,
    ...) from the line ``offset + k * pitch`` it belongs to."""
    pos, weight = axis[0], axis[1]
    k, near = _near_line(pos, offset, pitch)
    lines = np.unique(k[near])
    if len(lines) == 0:
        return 0.0
    centres = np.array(
        [
            (pos[near & (k == n)] * weight[near & (k == n)]).sum() / weight[near & (k == n)].sum()
            for n in lines
        ]
    )
    return float(np.abs(centres - offset - lines * pitch).mean())


def _axis_pitch(
    pos: np.ndarray, weight: np.ndarray, lo: float, hi: float, periods: np.ndarray
) -> tuple[float, float, float] | None:
    """The pitch of one axis alone (cells of another width than height): the period whose
    coherence times share of carried lines is best, refined by a line fit through the ramp
    centres. Returns (pitch, offset, share of the ramp mass near its lines), or None when
    the axis has fewer than three lines of ramps."""
    total = weight.sum()
    periods = periods[periods <= (hi - lo) / 2]
    if total <= 0 or len(periods) == 0:
        return None
    coeff = _coefficients(pos, weight, periods)
    coherence = np.abs(coeff) / total
    best = None
    for i in np.argsort(coherence)[::-1][:48]:
        if coherence[i] < 0.5 * coherence.max():
            break
        size = float(periods[i])
        offset = float(np.angle(coeff[i]) / (2 * np.pi) * size % size)
        carried, share = _lines(pos, weight, size, offset, lo, hi)
        if best is None or coherence[i] * carried > best[0]:
            best = (coherence[i] * carried, size, offset)
    if best is None:
        return None
    _, size, offset = best
    k, near = _near_line(pos, offset, size)
    lines = np.unique(k[near])
    if len(lines) < 3:
        return None
    centres = [
        (pos[near & (k == n)] * weight[near & (k == n)]).sum() / weight[near & (k == n)].sum()
        for n in lines
    ]
    size, origin = np.polyfit(lines, centres, 1)
    offset = float(origin % size)
    return float(size), offset, _lines(pos, weight, float(size), offset, lo, hi)[1]


def _cell_lines(offset: float, pitch: float, lo: int, hi: int) -> np.ndarray:
    """Grid line positions from the first at or after ``lo`` to the last at or before ``hi``."""
    first = math.ceil((lo - offset) / pitch)
    last = math.floor((hi - offset) / pitch)
    return offset + pitch * np.arange(first, last + 1)


def cell_means(
    rgb: np.ndarray, pitch: Pitch, box: tuple[int, int, int, int], inset: float = INSET
) -> tuple[np.ndarray, ...]:
    """Flatness and mean colour of the whole cells of ``pitch`` inside ``box`` (y0, x0, y1, x1).

    A cell is judged on its inside: the pixels whose centre is ``inset`` px or more from
    its lines (0.5 takes every pixel of a whole-pixel cell; INSET keeps clear of a soft
    edge). Returns ``flat`` (ny, nx) bool (spread within CELL_NOISE), ``mean`` (ny, nx, 3)
    float32 grey levels, the border range ``low``/``high`` (ny, nx, 3) of the whole cell,
    and the line positions along y (ny + 1) and x (nx + 1).
    """
    y0, x0, y1, x1 = box
    ys = _cell_lines(pitch.offset_y, pitch.height, y0, y1)
    xs = _cell_lines(pitch.offset_x, pitch.width, x0, x1)
    ny, nx = max(len(ys) - 1, 0), max(len(xs) - 1, 0)
    flat = np.zeros((ny, nx), dtype=bool)
    mean = np.zeros((ny, nx, 3), dtype=np.float32)
    low = np.zeros((ny, nx, 3), dtype=np.float32)
    high = np.zeros((ny, nx, 3), dtype=np.float32)
    if ny < 1 or nx < 1:
        return flat, mean, low, high, ys, xs
    height, width = rgb.shape[:2]
    # Pixel p covers [p, p + 1): the inside of a cell is the pixels whose centre is ``inset``
    # or more from both of its lines.
    r0 = np.clip(np.ceil(ys[:-1] + inset - 0.5), 0, height).astype(int)
    r1 = np.clip(np.floor(ys[1:] - inset - 0.5) + 1, 0, height).astype(int)
    c0 = np.clip(np.ceil(xs[:-1] + inset - 0.5), 0, width).astype(int)
    c1 = np.clip(np.floor(xs[1:] - inset - 0.5) + 1, 0, width).astype(int)
    r1, c1 = np.maximum(r1, r0), np.maximum(c1, c0)
    # Sums over each cell's inside from integral images of the covered crop (vectorised).
    top, bottom, left, right = int(r0.min()), int(r1.max()), int(c0.min()), int(c1.max())
    crop = rgb[top:bottom, left:right, :3].astype(np.float64)
    sums = np.zeros((bottom - top + 1, right - left + 1, 3))
    squares = np.zeros_like(sums)
    sums[1:, 1:] = crop.cumsum(axis=0).cumsum(axis=1)
    squares[1:, 1:] = (crop * crop).cumsum(axis=0).cumsum(axis=1)
    a0, a1, b0, b1 = r0 - top, r1 - top, c0 - left, c1 - left

    def rect(table: np.ndarray) -> np.ndarray:
        return table[a1][:, b1] - table[a0][:, b1] - table[a1][:, b0] + table[a0][:, b0]

    count = ((r1 - r0)[:, None] * (c1 - c0)[None, :]).astype(np.float64)[..., None]
    total, total_sq = rect(sums), rect(squares)
    safe = np.maximum(count, 1)
    mean[:] = total / safe
    spread = np.sqrt(np.maximum(total_sq / safe - (total / safe) ** 2, 0))
    flat[:] = (count[..., 0] > 0) & (spread.max(axis=-1) <= CELL_NOISE)
    # Range of each whole cell (border included): consecutive intervals, so reduceat.
    wr = np.clip(np.ceil(ys - 0.5), 0, height).astype(int)
    wc = np.clip(np.ceil(xs - 0.5), 0, width).astype(int)
    if (np.diff(wr) > 0).all() and (np.diff(wc) > 0).all():
        whole = rgb[wr[0] : wr[-1], wc[0] : wc[-1], :3].astype(np.float32)
        for reduce, out in ((np.minimum, low), (np.maximum, high)):
            rows = reduce.reduceat(whole, wr[:-1] - wr[0], axis=0)
            out[:] = reduce.reduceat(rows, wc[:-1] - wc[0], axis=1)
    else:  # lines closer than a pixel: no cell has an inside, nothing is flat
        flat[:] = False
    return flat, mean, low, high, ys, xs


def pitch_cells(
    rgb: np.ndarray, pitch: Pitch, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, ...]:
    """Which whole cells of ``pitch`` inside ``box`` (y0, x0, y1, x1) look pixelated.

    As ``detect.mosaic_cells``, on the inside of each cell (INSET px from its lines, where a
    soft edge no longer reaches; a cell whose border leaves the range of its neighbours'
    colours is not flat either). Returns the pixelated map (``detect.classify_cells``), the
    flat map and the line positions along y and x.
    """
    flat, mean, low, high, ys, xs = cell_means(rgb, pitch, box)
    if flat.size == 0:
        empty = np.zeros((0, 0), dtype=bool)
        return empty, empty, ys, xs
    ny, nx = flat.shape
    # Near its lines a cell only blends into its neighbours: no pixel of it leaves the
    # range of the neighbourhood's colours (up to bicubic overshoot and JPEG noise). A
    # stroke of text crossing the soft border band does.
    padded = np.pad(mean, ((1, 1), (1, 1), (0, 0)), mode="edge")
    shifts = [padded[dy : dy + ny, dx : dx + nx] for dy in range(3) for dx in range(3)]
    lo, hi = np.min(shifts, axis=0), np.max(shifts, axis=0)
    slack = CELL_NOISE + OVERSHOOT * (hi - lo)
    flat &= ((low >= lo - slack) & (high <= hi + slack)).all(axis=-1)
    return classify_cells(flat, mean), flat, ys, xs


def is_whole(pitch: Pitch) -> bool:
    """Whether the grid is on whole pixels (an integer cell size, lines on pixel edges)."""
    return all(abs(v - round(v)) < 0.02 for v in (pitch.height, pitch.width)) and all(
        abs(o - round(o)) < 0.15 for o in (pitch.offset_y, pitch.offset_x)
    )


def region_of(
    pitch: Pitch, x0: int, y0: int, x1: int, y1: int, share: float, source: str
) -> Region:
    """The region for a detected pitch. Whole-pixel grids (a mosaic with softened edges but
    no rescale) become ordinary regions; otherwise ``grid`` is the pitch rounded, for
    display, and restoration uses ``pitch``."""
    bh, bw = max(2, round(pitch.height)), max(2, round(pitch.width))
    grid = Grid(bh, bw, int(round(pitch.offset_y)) % bh, int(round(pitch.offset_x)) % bw)
    return Region(
        x0, y0, x1 - x0, y1 - y0, grid, round(share, 3), source, None if is_whole(pitch) else pitch
    )


def pitch_in_box(rgb: np.ndarray, box: tuple[int, int, int, int]) -> Region | None:
    """A user-given box (x, y, w, h) as a rescaled mosaic, or None when its ramps fit no grid."""
    x, y, w, h = box
    profiles = _ramp_profiles(rgb, x, y, w, h)
    found = None if profiles is None else estimate_pitch(*profiles, y, x)
    if found is None or found[1] < MIN_SHARE:
        return None
    if min(found[0].height, found[0].width) < MIN_PITCH and not is_whole(found[0]):
        return None
    return region_of(found[0], x, y, x + w, y + h, found[1], "given")


def pitch_with_size(
    rgb: np.ndarray, box: tuple[int, int, int, int], height: float, width: float
) -> tuple[Pitch, float] | None:
    """The grid of cells ``height`` x ``width`` px (given by the user, fractional allowed)
    inside ``box`` (x, y, w, h): offsets from the phase of the ramps at that period (as in
    ``estimate_pitch``). Returns the pitch and the share of the ramp mass on its lines, or
    None when the box holds no ramps."""
    x, y, w, h = box
    profiles = _ramp_profiles(rgb, x, y, w, h)
    if profiles is None:
        return None
    offsets, on, total = [], 0.0, 0.0
    for profile, start, size, extent in ((profiles[0], x, width, w), (profiles[1], y, height, h)):
        pos, weight = _positions(profile, start)
        if weight.sum() <= 0:
            offsets.append(float(start % size))
            continue
        coeff = _coefficients(pos, weight, np.asarray([size]))[0]
        offset = float(np.angle(coeff) / (2 * np.pi) * size % size)
        offsets.append(offset)
        on += _lines(pos, weight, size, offset, start, start + extent)[1] * weight.sum()
        total += weight.sum()
    if total <= 0:
        return None
    size_x = None if abs(width - height) < 1e-6 else float(width)
    offset_y, offset_x = (
        round(o % s, 3) % s for o, s in ((offsets[1], height), (offsets[0], width))
    )
    return Pitch(float(height), offset_y, offset_x, size_x), on / total


def find_rescaled_regions(rgb: np.ndarray) -> list[Region]:
    """Mosaics of ``rgb`` (H, W, 3 uint8) found from their ramps, exact ones included (as
    regions without ``pitch`` when the grid is whole pixels); ``combine`` reconciles them
    with the exact detector's."""
    height, width = rgb.shape[:2]
    grey = rgb[..., :3].astype(np.float32).mean(axis=2)
    jx, jy = np.diff(grey, axis=1), np.diff(grey, axis=0)
    on_x, other_x = ramp_mask(grey, axis=1)
    on_y, other_y = ramp_mask(grey, axis=0)
    shape = (-(-height // TILE), -(-width // TILE))
    ramps = _tile_sums(on_x & (np.abs(jx) > EDGE / 2), shape)
    ramps += _tile_sums(on_y & (np.abs(jy) > EDGE / 2), shape)
    other = _tile_sums(other_x, shape) + _tile_sums(other_y, shape)
    tiles = (ramps >= 3) & (other * 8 <= ramps)
    keep = np.kron(tiles, np.ones((TILE, TILE), dtype=bool))
    on_x &= keep[:height, : width - 1]
    on_y &= keep[: height - 1, :width]
    regions: list[Region] = []
    # Largest proposals first: most evidence for the pitch, and their regions, grown along
    # the grid, absorb the smaller proposals of the same mosaic.
    proposals = sorted(components(tiles), key=lambda b: (b[2] - b[0] + 1) * (b[3] - b[1] + 1))
    for ty0, tx0, ty1, tx1 in reversed(proposals):
        y0, x0 = ty0 * TILE, tx0 * TILE
        y1, x1 = min((ty1 + 1) * TILE, height), min((tx1 + 1) * TILE, width)
        proposal = Region(x0, y0, x1 - x0, y1 - y0, Grid(1, 1, 0, 0))
        if any(_inside(proposal, r, 0.5) for r in regions):
            continue
        px = np.where(on_x[y0:y1, x0 : x1 - 1], np.abs(jx[y0:y1, x0 : x1 - 1]), 0).sum(axis=0)
        py = np.where(on_y[y0 : y1 - 1, x0:x1], np.abs(jy[y0 : y1 - 1, x0:x1]), 0).sum(axis=1)
        found = estimate_pitch(px, py, y0, x0)
        if found is None or found[1] < MIN_SHARE:
            continue
        pitch, share = found
        if min(pitch.height, pitch.width) < MIN_PITCH and not is_whole(pitch):
            continue  # too small for a ramp between flat insides: not measurable
        # Look a few cells beyond the proposal: a word gap (uniform cells) can separate it
        # from parts of the same mosaic that were not proposed.
        pad_y = 2 * TILE + math.ceil(2 * pitch.height)
        pad_x = 2 * TILE + math.ceil(GROW / 2 * pitch.width)
        box = (
            max(y0 - pad_y, 0),
            max(x0 - pad_x, 0),
            min(y1 + pad_y, height),
            min(x1 + pad_x, width),
        )
        for ry0, rx0, ry1, rx1 in _extent(rgb, pitch, box):
            regions.append(region_of(pitch, rx0, ry0, rx1, ry1, share, "detected"))
    return regions


def _extent(rgb: np.ndarray, pitch: Pitch, box: tuple[int, int, int, int]):
    """Rectangles (y0, x0, y1, x1) of the mosaics on ``pitch`` around ``box``.

    The box grows by GROW cells on every side a mosaic touches (up to 8 times): a proposal
    can hold only part of a mosaic whose other parts had too few clean ramps to be proposed.
    """
    height, width = rgb.shape[:2]
    grow_y, grow_x = GROW * pitch.height, GROW * pitch.width
    for _ in range(8):
        cells, flat, ys, xs = pitch_cells(rgb, pitch, box)
        found = []
        for component in components(cells, radius=1, min_cells=MIN_CELLS):
            cy0, cx0, cy1, cx1 = _trim(flat, *component)
            # Inside a mosaic every cell is flat; text that happens to fit a grid is not.
            if (
                cy1 - cy0 < 2
                or cx1 - cx0 < 4
                or flat[cy0 : cy1 + 1, cx0 : cx1 + 1].mean() < MIN_FLAT
            ):
                continue  # need >= 3 x 5 cells: a few flat glyph cells can fit some grid
            found.append((cy0, cx0, cy1, cx1))
        y0, x0, y1, x1 = box
        ny, nx = cells.shape
        bigger = (
            max(0, y0 - grow_y) if any(c[0] == 0 for c in found) else y0,
            max(0, x0 - grow_x) if any(c[1] == 0 for c in found) else x0,
            min(height, y1 + grow_y) if any(c[2] == ny - 1 for c in found) else y1,
            min(width, x1 + grow_x) if any(c[3] == nx - 1 for c in found) else x1,
        )
        bigger = tuple(int(v) for v in bigger)
        if bigger == box:
            break
        box = bigger
    return [
        (
            max(0, math.floor(ys[cy0])),
            max(0, math.floor(xs[cx0])),
            min(height, math.ceil(ys[cy1 + 1])),
            min(width, math.ceil(xs[cx1 + 1])),
        )
        for cy0, cx0, cy1, cx1 in found
    ]


def _trim(flat: np.ndarray, y0: int, x0: int, y1: int, x1: int):
    """Drop border rows/columns of cells that are mostly not flat: a line of text above or
    below can join a mosaic through a row of background cells, but it is not mosaic."""

    def outside(rows: slice, cols: slice) -> bool:
        return bool(flat[rows, cols].mean() < 0.5)

    while y0 <= y1 and x0 <= x1:
        if outside(slice(y0, y0 + 1), slice(x0, x1 + 1)):
            y0 += 1
        elif outside(slice(y1, y1 + 1), slice(x0, x1 + 1)):
            y1 -= 1
        elif outside(slice(y0, y1 + 1), slice(x0, x0 + 1)):
            x0 += 1
        elif outside(slice(y0, y1 + 1), slice(x1, x1 + 1)):
            x1 -= 1
        else:
            break
    return y0, x0, y1, x1


def _inside(inner: Region, outer: Region, share: float = 0.7) -> bool:
    """Whether at least ``share`` of ``inner``'s area lies inside ``outer``."""
    ix = min(inner.x + inner.w, outer.x + outer.w) - max(inner.x, outer.x)
    iy = min(inner.y + inner.h, outer.y + outer.h) - max(inner.y, outer.y)
    return ix > 0 and iy > 0 and ix * iy >= share * inner.w * inner.h  # share 0: they overlap


def _ramp_positions(rgb: np.ndarray, region: Region) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ramps inside ``region`` as (positions, masses) along x and along y."""
    profiles = _ramp_profiles(rgb, region.x, region.y, region.w, region.h)
    if profiles is None:
        return []
    return [_positions(p, start) for p, start in zip(profiles, (region.x, region.y))]


def grid_share(axes: list[tuple[np.ndarray, np.ndarray]], pitch: Pitch) -> float:
    """Share of the ramp mass (``_ramp_positions``) that lies on the lines of ``pitch``."""
    on_grid = total = 0.0
    for (pos, weight), offset, size in zip(
        axes, (pitch.offset_x, pitch.offset_y), (pitch.width, pitch.height)
    ):
        on_grid += weight[_near_line(pos, offset, size)[1]].sum()
        total += weight.sum()
    return on_grid / total if total > 0 else 0.0


def combine(exact: list[Region], rescaled: list[Region], rgb: np.ndarray) -> list[Region]:
    """The exact detector's regions and this module's, one per mosaic (before ``_merge``).

    A soft-edged mosaic leaves the exact detector a few cells with sharp edges: pieces on a
    wrong grid. Where a fractional-pitch region covers exact ones, both grids are scored on
    the same evidence (the ramps inside the fractional region) and the better one stays.
    The loser goes. Whole-pixel regions from here and exact ones on the same grid are the
    same mosaic found twice (or in pieces): ``_merge`` joins them afterwards.
    """
    kept_rescaled = []
    for r in rescaled:
        if r.pitch is None:  # on whole pixels: ``_merge`` joins it with exact pieces
            kept_rescaled.append(r)
            continue
        covered = [e for e in exact if _inside(e, r, 0.5)]
        within = [e for e in exact if _inside(r, e, 0.5)]  # r a piece of an exact mosaic?
        if covered or within:
            axes = _ramp_positions(rgb, r)
            own = grid_share(axes, r.pitch)
            if any(grid_share(axes, pitch_of(e)) > own + 0.02 for e in covered) or any(
                grid_share(axes, pitch_of(e)) > own - 0.05 for e in within
            ):
                continue  # an exact grid explains this region's edges (about) as well
        exact = [e for e in exact if e not in covered and e not in within]
        kept_rescaled.append(r)
    return exact + kept_rescaled
