"""Does a candidate region earn its place? Evidence of averaging on a grid, and its extent.

Detection proposes rectangles from local clues (isolated jumps, soft ramps); flat UI can
produce the same clues: the lower edge of a header bar is one long jump between two rows of
"flat cells", a QR code or pixel art is a crisp two-colour grid. A mosaic is different in
three ways that are measured here on the region's own grid (``assess``):

- **flat cells**: every cell's inside is flat (share ``flat``);
- **a grid that continues across the content**: along most inner grid lines some pair of
  neighbouring cells differs (``lines_seen``; a single edge gives one line of dozens);
- **averaging**: cell means take many values, mixtures of ink and background
  (``colours``; a two-colour grid has two).

``confidence`` is their product, each mapped onto [0, 1]; detection keeps regions at or
above MIN_CONFIDENCE. Before measuring, the region's border rows and columns of cells that
are just background (uniform and the colour of what lies outside) are trimmed: the mosaic
there is indistinguishable from the clean picture, and leaving it out means no clean pixel
beyond the mosaic is ever redrawn. The same cell table gives the rows that hold text
(``text_rows``): the row structure that line splitting and scale normalisation use.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from depix.restore.detect import Pitch, Region, pitch_of

MIN_CONFIDENCE = 0.5
LINE_STEP = 3.0  # grey levels between two cell means for the line between them to count as seen
SAME = 4.0  # grey levels within which two cell colours (or a cell and background) are one colour
MIN_LINES = 0.55  # share of inner grid lines seen for full confidence (text leaves some unseen)
SHARP = 0.6  # share of a step between cells that must happen within 1.5 px of their line
MIN_FLAT = 0.6  # share of flat cells below which confidence is 0 (full at 0.9)


def _count_colours(means: np.ndarray, tolerance: float = SAME) -> tuple[int, np.ndarray]:
    """Number of distinct colours among ``means`` (N, 3): greedy clusters of radius
    ``tolerance`` (max over channels), counted up to 64; and the most common colour."""
    means = means.reshape(-1, 3)
    if len(means) == 0:
        return 0, np.zeros(3, np.float32)
    keys, counts = np.unique(
        np.round(means / tolerance).astype(np.int32), axis=0, return_counts=True
    )
    order = np.argsort(counts)[::-1]
    centres: list[np.ndarray] = []
    for key in keys[order]:  # most common first, so the background is a centre
        colour = key.astype(np.float32) * tolerance
        if not any(np.abs(colour - c).max() <= tolerance for c in centres):
            centres.append(colour)
            if len(centres) >= 64:  # plenty: the exact number no longer matters
                break
    background = means[np.abs(means - centres[0]).max(axis=1) <= tolerance].mean(axis=0)
    return len(centres), background


def _snap(rgb: np.ndarray, region: Region) -> Region:
    """A pitch within 0.05 px of whole-pixel cells whose whole-pixel rounding is as flat is
    an exact mosaic (the line fit was pulled by text at the region's border)."""
    from depix.restore.rescaled import cell_means

    p = region.pitch
    if p is None or any(abs(v - round(v)) > 0.05 for v in (p.height, p.width)):
        return region
    whole = Pitch(float(round(p.height)), float(round(p.offset_y)), float(round(p.offset_x)))
    if round(p.width) != round(p.height):
        whole = replace(whole, size_x=float(round(p.width)))
    box = (region.y, region.x, region.y + region.h, region.x + region.w)
    flat_whole = cell_means(rgb, whole, box, inset=0.5)[0]
    flat_pitch = cell_means(rgb, p, box)[0]
    if flat_whole.size and flat_whole.mean() >= flat_pitch.mean() - 0.02:
        bh, bw = round(p.height), round(p.width)
        grid = replace(region.grid, block_h=bh, block_w=bw)
        grid = replace(grid, offset_y=round(p.offset_y) % bh, offset_x=round(p.offset_x) % bw)
        return replace(region, grid=grid, pitch=None)
    return region


def _outside(rgb: np.ndarray, side: str, y0: int, x0: int, y1: int, x1: int) -> np.ndarray | None:
    """The strip of pixels just beyond a side of the rectangle (None at the image border)."""
    height, width = rgb.shape[:2]
    if side == "top":
        return rgb[y0 - 1, x0:x1] if y0 > 0 else None
    if side == "bottom":
        return rgb[y1, x0:x1] if y1 < height else None
    if side == "left":
        return rgb[y0:y1, x0 - 1] if x0 > 0 else None
    return rgb[y0:y1, x1] if x1 < width else None


def _is_background(cells: np.ndarray, strip: np.ndarray | None, background: np.ndarray) -> bool:
    """A border row/column of cell means (N, 3) that is one colour, and that colour is the
    region's background (its most common cell colour) or all that lies beyond it."""
    if len(cells) == 0:
        return True
    if np.abs(cells - cells.mean(axis=0)).max() > SAME / 2:
        return False
    colour = cells.mean(axis=0)
    if np.abs(colour - background).max() <= SAME:
        return True
    if strip is None:
        return False
    outside = strip.astype(np.float32)
    return bool(np.abs(outside - colour).max() <= SAME)


def assess(rgb: np.ndarray, region: Region, trim: bool = True) -> Region:
    """``region`` with its evidence filled in (and, when ``trim``, its border background
    cells removed and a near-whole pitch snapped to whole pixels).

    ``rgb`` is the (H, W, 3) uint8 screenshot. The grid is the region's (``pitch`` when
    set). A region without a whole cell gets zero confidence.
    """
    from depix.restore.rescaled import INSET, cell_means

    if trim:
        region = _snap(rgb, region)
    pitch = pitch_of(region)
    inset = 0.5 if region.pitch is None else INSET
    y0, x0, y1, x1 = region.y, region.x, region.y + region.h, region.x + region.w
    flat, mean, _, _, ys, xs = cell_means(rgb, pitch, (y0, x0, y1, x1), inset)
    if flat.size == 0:
        return replace(region, lines_seen=0.0, colours=0, flat=0.0, confidence=0.0)
    _, background = _count_colours(mean.reshape(-1, 3))
    r0, c0, r1, c1 = 0, 0, flat.shape[0], flat.shape[1]  # cell rows/columns kept
    if trim:
        image = rgb[..., :3].astype(np.float32)
        # Judged on the inner cells: the border ones may hold clean text beyond a box edge.
        hard = (
            region.pitch is None
            and min(flat.shape) >= 3
            # JPEG q80-95 ringing beside the lines stays under 0.35 of the steps on them;
            # a 2x bicubic upscale's ramps do not.
            and _hard_edges(
                image, region.grid, *(int(v) for v in (ys[1], ys[-2], xs[1], xs[-2])), 0.35
            )
        )
        cut: dict[str, int] = {}  # side -> pixels of a cut border cell kept beyond its line
        sides = {"top": True, "bottom": True, "left": True, "right": True}
        while r1 - r0 > 1 and c1 - c0 > 1 and any(sides.values()):
            py0, py1 = _pixel(ys[r0], y0), _pixel(ys[r1], y1)
            px0, px1 = _pixel(xs[c0], x0), _pixel(xs[c1], x1)
            for side in list(sides):
                if not sides[side]:
                    continue
                index = {
                    "top": (r0, slice(c0, c1)),
                    "bottom": (r1 - 1, slice(c0, c1)),
                    "left": (slice(r0, r1), c0),
                    "right": (slice(r0, r1), c1 - 1),
                }[side]
                strip = _outside(rgb[..., :3], side, py0, px0, py1, px1)
                # Mostly not flat: text or UI next to the mosaic, not mosaic; or a border
                # cell cut by the box edge, flat from its inner line up to that edge, with
                # clean text beyond it (kept up to the edge, left out of the evidence).
                run = 0
                if hard and flat[index].mean() < MIN_FLAT:
                    run = _cut_run(image, region.grid, side, ys[r0 : r1 + 1], xs[c0 : c1 + 1])
                if run:
                    cut[side] = run
                    sides[side] = False
                if (
                    run
                    or flat[index].mean() < MIN_FLAT
                    or _is_background(mean[index], strip, background)
                ):
                    r0 += side == "top"
                    r1 -= side == "bottom"
                    c0 += side == "left"
                    c1 -= side == "right"
                    break
                sides[side] = False
        # Keep a cut border cell (the box edge off the grid) only on untrimmed sides.
        ny0, ny1 = _edge(y0, ys[r0], r0 == 0), _edge(y1, ys[r1], r1 == flat.shape[0])
        nx0, nx1 = _edge(x0, xs[c0], c0 == 0), _edge(x1, xs[c1], c1 == flat.shape[1])
        ny0, ny1 = ny0 - cut.get("top", 0), ny1 + cut.get("bottom", 0)
        nx0, nx1 = nx0 - cut.get("left", 0), nx1 + cut.get("right", 0)
        if hard:
            # An untrimmed side reaches over its cut border cell up to the box edge: as far
            # as the cells stay flat, when something within a cell breaks them (else the
            # edge is not seen). Proposals stop short of it when clean content beside the
            # box has a jump on the same row.
            def reach(side: str, line: float, span: tuple[float, float], size: int) -> int:
                limit = size - 1
                run = _run_beyond(
                    image, region.grid, side, int(line), (int(span[0]), int(span[1])), limit
                )
                return run if run < limit else 0

            bh, bw = region.grid.block_h, region.grid.block_w
            span_x, span_y = (xs[c0], xs[c1]), (ys[r0], ys[r1])
            # Only from a border row/column of cells that are all flat (mosaic, not clean
            # content that happened to pass as mostly flat).
            if r0 == 0 and "top" not in cut and flat[r0, c0:c1].all():
                ny0 = min(ny0, int(ys[r0]) - reach("top", ys[r0], span_x, bh))
            if r1 == flat.shape[0] and "bottom" not in cut and flat[r1 - 1, c0:c1].all():
                ny1 = max(ny1, int(ys[r1]) + reach("bottom", ys[r1], span_x, bh))
            if c0 == 0 and "left" not in cut and flat[r0:r1, c0].all():
                nx0 = min(nx0, int(xs[c0]) - reach("left", xs[c0], span_y, bw))
            if c1 == flat.shape[1] and "right" not in cut and flat[r0:r1, c1 - 1].all():
                nx1 = max(nx1, int(xs[c1]) + reach("right", xs[c1], span_y, bw))
        # A cut border cell kept on an untrimmed side must hold more than background.
        ly0, ly1 = _pixel(ys[r0], y0), _pixel(ys[r1], y1)
        lx0, lx1 = _pixel(xs[c0], x0), _pixel(xs[c1], x1)
        if ny0 < ly0 and _plain(image[ny0:ly0, nx0:nx1], background):
            ny0 = ly0
        if ny1 > ly1 and _plain(image[ly1:ny1, nx0:nx1], background):
            ny1 = ly1
        if nx0 < lx0 and _plain(image[ny0:ny1, nx0:lx0], background):
            nx0 = lx0
        if nx1 > lx1 and _plain(image[ny0:ny1, lx1:nx1], background):
            nx1 = lx1
        if region.pitch is None and _hard_edges(image, region.grid, ny0, ny1, nx0, nx1):
            # A box edge inside the border cells: stop where the mosaic does.
            ny0, ny1, nx0, nx1 = _cut_cells(image, region.grid, ny0, ny1, nx0, nx1)
        region = replace(region, x=nx0, y=ny0, w=nx1 - nx0, h=ny1 - ny0)
        flat, mean = flat[r0:r1, c0:c1], mean[r0:r1, c0:c1]
        ys, xs = ys[r0 : r1 + 1], xs[c0 : c1 + 1]
    seen = inner = 0
    sharp = _sharp_steps(rgb, mean, ys, xs)
    for axis in (0, 1):
        if flat.shape[axis] < 2:
            continue
        both = np.take(flat, range(1, flat.shape[axis]), axis=axis)
        both = both & np.take(flat, range(0, flat.shape[axis] - 1), axis=axis)
        step = np.abs(np.diff(mean, axis=axis)).max(axis=-1) > LINE_STEP
        seen += int((step & both & sharp[axis]).any(axis=1 - axis).sum())
        inner += flat.shape[axis] - 1
    lines_seen = seen / inner if inner else 0.0
    colours, _ = _count_colours(mean[flat])
    flat_share = float(flat.mean())
    confidence = (
        min(1.0, lines_seen / MIN_LINES)
        * float(np.clip((colours - 2) / 3, 0, 1))
        * float(np.clip((flat_share - MIN_FLAT) / (0.9 - MIN_FLAT), 0, 1))
    )
    return replace(
        region,
        lines_seen=round(lines_seen, 3),
        colours=int(colours),
        flat=round(flat_share, 3),
        confidence=round(confidence, 3),
        text_rows=_text_rows(mean, background, ys),
    )


def _sharp_steps(
    rgb: np.ndarray, mean: np.ndarray, ys: np.ndarray, xs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whether the change between neighbouring cells happens at their grid line: the grey
    difference between the pixels 1.5 px either side of the line (averaged along the
    cell's side) is at least SHARP of the difference of the cells' means. A mosaic's is
    all there (a rescale's ramp too); a gradient, which also gives flat-looking cells of
    different means, changes evenly across the cell. Returns the maps for steps along y
    (ny - 1, nx) and along x (ny, nx - 1)."""
    grey = rgb[..., :3].astype(np.float32).mean(axis=2)
    height, width = grey.shape
    cell_grey = mean.mean(axis=-1)

    def bands(lines: np.ndarray, limit: int) -> list[slice]:
        return [
            slice(max(0, math.ceil(a)), min(limit, max(math.ceil(a) + 1, math.floor(b))))
            for a, b in zip(lines, lines[1:])
        ]

    def sides(lines: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        inner = lines[1:-1]
        before = np.clip(np.floor(inner - 1.5), 0, limit - 1).astype(int)
        after = np.clip(np.floor(inner + 1.5), 0, limit - 1).astype(int)
        return before, after

    row_bands = np.stack([grey[band].mean(axis=0) for band in bands(ys, height)])  # (ny, W)
    col_bands = np.stack([grey[:, band].mean(axis=1) for band in bands(xs, width)], axis=1)
    bx, ax = sides(xs, width)
    by, ay = sides(ys, height)
    along_x = row_bands[:, ax] - row_bands[:, bx]  # (ny, nx - 1)
    along_y = col_bands[ay, :] - col_bands[by, :]  # (ny - 1, nx)
    steps_x = np.diff(cell_grey, axis=1)
    steps_y = np.diff(cell_grey, axis=0)
    sharp_x = along_x * np.sign(steps_x) >= SHARP * np.abs(steps_x)
    sharp_y = along_y * np.sign(steps_y) >= SHARP * np.abs(steps_y)
    return sharp_y, sharp_x


def _pixel(line: float, fallback: int) -> int:
    """A grid line position as a pixel boundary (lines of a pitch fall between pixels)."""
    return int(math.floor(line + 0.5)) if math.isfinite(line) else fallback


def _cell_breaks(band: np.ndarray, block: int, offset: int) -> list[int]:
    """Along axis 0 of ``band`` (n, W, 3), per inner cell of a grid along axis 1 (``block``,
    first line at ``offset``), how many leading pixel lines agree (every pixel within 2
    CELL_NOISE grey levels, JPEG ringing) with the first (n when all do)."""
    from depix.restore.detect import CELL_NOISE

    grey = band.mean(axis=-1)
    edges = [e for e in range(offset, grey.shape[1], block) if e > 0]
    cells = list(zip([0, *edges], [*edges, grey.shape[1]]))
    breaks = []
    # The end cells may be cut by the perpendicular sides' box edges: not evidence here.
    for c0, c1 in cells[1:-1] if len(cells) >= 3 else cells:
        if c1 - c0 < 1:
            continue
        cell = grey[:, c0:c1]
        # Per pixel: a mosaic cell is one colour; clean text beside it is not, even where
        # its mean along the line happens to match the cell's.
        off = np.nonzero(np.abs(cell - cell[:1]).max(axis=1) > 2 * CELL_NOISE)[0]
        breaks.append(int(off[0]) if len(off) else grey.shape[0])
    return breaks


def _flat_run(band: np.ndarray, block: int, offset: int) -> int:
    """How many leading pixel lines of ``band`` agree with the first in every inner cell
    (``_cell_breaks``): a mosaic cell cut by the box edge is flat only up to it."""
    return min(_cell_breaks(band, block, offset), default=band.shape[0])


def _run_beyond(image: np.ndarray, grid, side: str, line: int, span: tuple[int, int], limit: int):
    """Pixel lines beyond grid ``line`` on ``side`` (outward, at most ``limit``) over which
    every inner cell of the grid along the line, within ``span`` (pixels along the line),
    stays one colour (``_cell_breaks``): how far a mosaic cell goes past that line, up to a
    straight edge (0 when the cells stop at different lines: not a box edge)."""
    a, b = span
    height, width = image.shape[:2]
    if side == "top":
        band = image[max(line - limit, 0) : line, a:b][::-1]
    elif side == "bottom":
        band = image[line : min(line + limit, height), a:b]
    elif side == "left":
        band = image[a:b, max(line - limit, 0) : line][:, ::-1].transpose(1, 0, 2)
    else:
        band = image[a:b, line : min(line + limit, width)].transpose(1, 0, 2)
    if band.shape[0] == 0 or band.shape[1] == 0:
        return 0
    block, offset = (
        (grid.block_w, (grid.offset_x - a) % grid.block_w)
        if side in ("top", "bottom")
        else (grid.block_h, (grid.offset_y - a) % grid.block_h)
    )
    breaks = _cell_breaks(band, block, offset)
    run = min(breaks, default=band.shape[0])
    broken = [b for b in breaks if b < band.shape[0]]
    # A box edge is straight: the cells that differ from what lies beyond it all stop on
    # the same pixel line (those that match it stop a little later). Clean content breaks
    # them here and there.
    if broken and (broken.count(run) < 2 or 4 * broken.count(run) < len(broken)):
        return 0
    # One pixel line is no evidence: clean rows next to each other often agree that far.
    return run if run >= 2 else 0


def _cut_run(image: np.ndarray, grid, side: str, ys: np.ndarray, xs: np.ndarray) -> int:
    """Pixels of the border cell row/column on ``side`` of the cells between lines ``ys`` /
    ``xs`` (whole pixels) that agree with the cell next to its inner line, counted from that
    line outward (``_run_beyond``), when the mosaic stops inside it (a box edge off the
    grid); 0 when it does not (the whole cell agrees, or nothing does)."""
    if len(ys) < 3 or len(xs) < 3:
        return 0
    if side in ("top", "bottom"):
        line, size = (
            (int(ys[1]), int(ys[1] - ys[0]))
            if side == "top"
            else (int(ys[-2]), int(ys[-1] - ys[-2]))
        )
        run = _run_beyond(image, grid, side, line, (int(xs[0]), int(xs[-1])), size)
    else:
        line, size = (
            (int(xs[1]), int(xs[1] - xs[0]))
            if side == "left"
            else (int(xs[-2]), int(xs[-1] - xs[-2]))
        )
        run = _run_beyond(image, grid, side, line, (int(ys[0]), int(ys[-1])), size)
    return run if 0 < run < size else 0


def _hard_edges(
    image: np.ndarray, grid, y0: int, y1: int, x0: int, x1: int, beside: float = 0.1
) -> bool:
    """Whether the mosaic's cell edges are single-pixel steps (pixelated, not rescaled
    since): the steps next to the grid lines carry under ``beside`` (a tenth by default)
    of those on them. Only then can a cut border cell be told from a soft edge."""
    grey = image[y0:y1, x0:x1].mean(axis=-1)
    if min(grey.shape) < 2:
        return False
    jx = np.abs(np.diff(grey, axis=1)).sum(axis=0)
    on = np.zeros(jx.shape, dtype=bool)
    on[(grid.offset_x - x0 - 1) % grid.block_w :: grid.block_w] = True
    near = np.roll(on, 1) | np.roll(on, -1)
    return bool(jx[near & ~on].sum() < beside * jx[on].sum())


def _cut_cells(image: np.ndarray, grid, y0: int, y1: int, x0: int, x1: int):
    """The rectangle with each side moved in to where the mosaic stops inside its border
    cells (a box edge off the grid, clean text continuing beyond it)."""
    bh, bw = grid.block_h, grid.block_w
    oy, ox = (grid.offset_y - y0) % bh, (grid.offset_x - x0) % bw
    first_y = y0 + (oy if oy else bh)  # the first grid line inside, past the top cell
    last_y = y0 + oy + ((y1 - y0 - oy - 1) // bh) * bh  # the last line before the bottom
    first_x = x0 + (ox if ox else bw)
    last_x = x0 + ox + ((x1 - x0 - ox - 1) // bw) * bw
    if last_y > y0 and y1 - last_y > 0:
        run = _flat_run(image[last_y:y1, x0:x1], bw, ox)
        y1 = last_y + max(run, 1) if run < y1 - last_y else y1
    if first_y < y1 and first_y - y0 > 0:
        run = _flat_run(image[y0:first_y, x0:x1][::-1], bw, ox)
        y0 = first_y - max(run, 1) if run < first_y - y0 else y0
    if last_x > x0 and x1 - last_x > 0:
        band = image[y0:y1, last_x:x1].transpose(1, 0, 2)
        run = _flat_run(band, bh, (grid.offset_y - y0) % bh)
        x1 = last_x + max(run, 1) if run < x1 - last_x else x1
    if first_x < x1 and first_x - x0 > 0:
        band = image[y0:y1, x0:first_x].transpose(1, 0, 2)[::-1]
        run = _flat_run(band, bh, (grid.offset_y - y0) % bh)
        x0 = first_x - max(run, 1) if run < first_x - x0 else x0
    return y0, y1, x0, x1


def _plain(strip: np.ndarray, background: np.ndarray) -> bool:
    """Whether a strip of pixels (h, w, 3) is all the background colour."""
    return strip.size == 0 or bool(np.abs(strip - background).max() <= SAME)


def _edge(edge: int, line: float, untrimmed: bool) -> int:
    """A side of the region: its grid line, or on an untrimmed side the detected edge when
    it lies over a pixel beyond the line (a cut border cell: the box edge off the grid)."""
    at = _pixel(line, edge)
    return edge if untrimmed and abs(edge - at) > 1 else at


def _text_rows(mean: np.ndarray, background: np.ndarray, ys: np.ndarray):
    """Bands of consecutive cell rows holding a cell that differs from the background:
    pixel (y0, y1) of each text line in the region, top to bottom."""
    ink = (np.abs(mean - background).max(axis=-1) > SAME).any(axis=1)
    bands, start = [], None
    for i, on in enumerate([*ink, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            bands.append((_pixel(ys[start], 0), _pixel(ys[i], 0)))
            start = None
    return tuple(bands)


def text_height(region: Region) -> float | None:
    """Height in pixels of the tallest text line of ``region`` (its ``text_rows``), or None."""
    if not region.text_rows:
        return None
    return float(max(y1 - y0 for y0, y1 in region.text_rows))
