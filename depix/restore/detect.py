"""Find pixelated rectangles in a screenshot and the grid (block size, offset) of each.

A mosaic is flat inside every cell and jumps only on the grid lines, so along a row the
pixel differences of a pixelated area are zero everywhere except at ``offset + k * block``.
Detection works on those differences (numpy only, a few hundred ms for a full-HD image):

1. **Proposal.** A jump whose two neighbours along the same axis are (nearly) flat is
   *isolated*: every jump of a mosaic is, while anti-aliased text and photos produce runs of
   jumps. 8x8 tiles holding isolated jumps and almost no other jumps are mosaic evidence;
   neighbouring evidence tiles form candidates.
2. **Grid.** In a candidate, the isolated jumps are summed into one profile per axis. For
   each block size ``b`` the lines carrying a jump are counted per residue modulo ``b``:
   every divisor of the true block also holds all lines, every multiple only part of them,
   so the answer is the *largest* block holding nearly as many as the best; the offset is
   the residue with the most jump mass. Blocks are assumed square (what redaction tools
   draw); both axes vote for one size. Candidates whose jump mass is not mostly on the
   grid (text, UI borders) are dropped.
3. **Extent.** On that grid, a cell is pixelated when it is flat (within JPEG noise) and
   differs from a flat neighbour; connected pixelated cells give the rectangle, extended
   over a cut border cell when the box edge is off the grid. Rectangles of one grid split
   by uniform cells (spaces) are joined when only flat pixels lie between them.

JPEG re-compression (q >= 80) adds ringing inside the cells: jumps below a noise floor
are ignored, flat means "spread below CELL_NOISE", and the grid share tolerates the rest.
Integer nearest-neighbour upscaling only multiplies the block. Screenshots scaled after
pixelation (blurred cell edges, fractional cell sizes) are found by ``rescaled.py``, whose
regions carry a ``Pitch`` and are reconciled with these in ``find_regions``. Not handled:
faint mosaics (neighbouring cells within ~10 grey levels, e.g. large blocks over thin
text); ``--box`` covers those.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

NOISE_FLOOR = 4.0  # grey levels: JPEG q80 ringing inside a flat cell stays around this
EDGE = 10.0  # grey levels: a jump that counts as an edge for the proposal
TILE = 8  # proposal tile (pixels)
MAX_BLOCK = 32  # largest block searched for
MIN_SHARE = 0.7  # share of the jump mass on the grid for a region to count as a mosaic
MIN_BLOCK = 3  # smallest block searched for; 2 px blocks hide little and mimic hinted text
MIN_CELLS = 6  # pixelated cells (flat, differing from a flat neighbour) for a region to count
ISOLATION = 2  # pixels of flatness around a mosaic edge (blocks >= 3 px)
CELL_NOISE = 9.0  # grey levels of spread allowed inside a flat cell (JPEG q80)
GROW_CELLS = 4  # cells around a region searched for more of its mosaic on its grid


@dataclass(frozen=True)
class Grid:
    """A mosaic grid in image coordinates: lines at ``offset + k * block`` on each axis."""

    block_h: int
    block_w: int
    offset_y: int
    offset_x: int


@dataclass(frozen=True)
class Pitch:
    """A mosaic grid in continuous coordinates (pixel p covers [p, p+1)): cells ``size`` px
    high and ``size_x`` px wide (None: square), neither an integer in general; grid lines at
    ``offset_y + k * size`` and ``offset_x + k * width``. Tools that fit N cells into the
    selection draw such grids (8.2 x 10 px), and so does display scaling."""

    size: float
    offset_y: float
    offset_x: float
    size_x: float | None = None

    @property
    def height(self) -> float:
        return self.size

    @property
    def width(self) -> float:
        return self.size if self.size_x is None else self.size_x


@dataclass(frozen=True)
class Region:
    """A pixelated rectangle (pixels ``x .. x+w-1``, ``y .. y+h-1``) and its grid.

    ``share`` is the fraction of the region's pixel jumps that lie on the grid (1 for an
    exact mosaic; 0 for a given box without any jump); ``source`` says whether it was
    detected or given by the user. ``pitch`` is set for a grid whose lines are not on whole
    pixels or whose cells are not square integers (a rescale, cells fitted to a selection):
    restoration then works on that exact grid and ``grid`` is only its rounding.

    The evidence (``evidence``): ``lines_seen`` is the share of the region's inner grid
    lines along which some pair of neighbouring cells differs, ``colours`` the number of
    distinct cell colours, ``flat`` the share of cells with flat insides; ``confidence``
    (0-1) combines them. ``text_rows`` are the bands of cell rows (pixel y0, y1) that
    differ from the region's background: its text lines, for line splitting and scale.
    """

    x: int
    y: int
    w: int
    h: int
    grid: Grid
    share: float = 1.0
    source: str = "detected"
    pitch: Pitch | None = None
    lines_seen: float | None = None
    colours: int | None = None
    flat: float | None = None
    confidence: float | None = None
    text_rows: tuple[tuple[int, int], ...] = ()

    @property
    def cell(self) -> tuple[float, float]:
        """Cell (width, height) in pixels, fractional for a pitch."""
        if self.pitch is not None:
            return self.pitch.width, self.pitch.height
        return float(self.grid.block_w), float(self.grid.block_h)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["cell"] = [round(v, 3) for v in self.cell]
        data["text_rows"] = [list(r) for r in self.text_rows]
        return data


def grey_jumps(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute neighbour differences (mean over channels, grey levels) along x and y.

    ``jx[y, i]`` is the jump between columns ``i`` and ``i + 1``; ``jy[i, x]`` between rows.
    """
    image = rgb.astype(np.float32)
    jx = np.abs(np.diff(image, axis=1)).mean(axis=2)
    jy = np.abs(np.diff(image, axis=0)).mean(axis=2)
    return jx, jy


def _isolated(j: np.ndarray, axis: int, reach: int = ISOLATION) -> tuple[np.ndarray, np.ndarray]:
    """Edges along ``axis`` split into isolated ones (flat for ``reach`` pixels on both
    sides) and the others. Blocks of ``reach + 1`` px or more have only isolated edges;
    anti-aliased text, even upscaled 2x, has edges 1-2 px apart."""
    edge = j > EDGE
    pad = [(0, 0), (0, 0)]
    pad[axis] = (reach, reach)
    padded = np.pad(j, pad)
    n = j.shape[axis]
    near = np.zeros_like(j)
    for shift in range(2 * reach + 1):
        if shift != reach:
            near = np.maximum(near, np.take(padded, np.arange(shift, shift + n), axis=axis))
    quiet = near < np.maximum(j * 0.25, NOISE_FLOOR)
    return edge & quiet, edge & ~quiet


def _tile_sums(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Counts of ``mask`` per TILE x TILE tile, on a tile grid of ``shape``."""
    th, tw = shape
    full = np.zeros((th * TILE, tw * TILE), dtype=np.int32)
    h, w = min(mask.shape[0], th * TILE), min(mask.shape[1], tw * TILE)
    full[:h, :w] = mask[:h, :w]
    return full.reshape(th, TILE, tw, TILE).sum(axis=(1, 3))


def evidence(jx: np.ndarray, jy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tile map of mosaic evidence and the isolated jumps themselves (x, y).

    Evidence tiles hold isolated jumps and almost no other jumps. The isolated jumps inside
    them are what votes for the grid: a mosaic's jumps are all isolated, while the edge of
    the box against text (off the grid when the box edge cuts a cell) mostly is not.
    """
    shape = (-(-(jy.shape[0] + 1) // TILE), -(-(jx.shape[1] + 1) // TILE))
    iso_x, other_x = _isolated(jx, axis=1)
    iso_y, other_y = _isolated(jy, axis=0)
    iso = _tile_sums(iso_x, shape) + _tile_sums(iso_y, shape)
    other = _tile_sums(other_x, shape) + _tile_sums(other_y, shape)
    tiles = (iso >= 3) & (other * 8 <= iso)
    keep = np.kron(tiles, np.ones((TILE, TILE), dtype=bool))
    vote_x = np.where(iso_x & keep[: jx.shape[0], : jx.shape[1]], jx, 0)
    vote_y = np.where(iso_y & keep[: jy.shape[0], : jy.shape[1]], jy, 0)
    return tiles, vote_x, vote_y


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def components(
    mask: np.ndarray, radius: int = 2, min_cells: int = 3
) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (top, left, bottom, right; inclusive, tile units) of the groups of
    ``mask`` cells that touch once dilated by ``radius`` (large blocks leave flat tiles
    inside a mosaic; dilation bridges them). Boxes are measured on ``mask`` itself."""
    joined = _dilate(mask, radius)
    seen = np.zeros_like(joined)
    boxes = []
    h, w = joined.shape
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        stack, members = [start], []
        seen[start] = True
        while stack:
            y, x = stack.pop()
            members.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and joined[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        own = [(y, x) for y, x in members if mask[y, x]]
        if len(own) >= min_cells:
            ys, xs = zip(*own)
            boxes.append((min(ys), min(xs), max(ys), max(xs)))
    return boxes


def residue_mass(profile: np.ndarray, block: int) -> np.ndarray:
    """Sum of ``profile`` over the indices of each residue modulo ``block``."""
    n = -(-len(profile) // block) * block
    return np.pad(profile, (0, n - len(profile))).reshape(-1, block).sum(axis=0)


def _to_offset(residue: int, start: int, block: int) -> int:
    """Jump index ``i`` of a crop starting at ``start`` is the line at ``start + i + 1``."""
    return (start + residue + 1) % block


def estimate_grid(
    jx: np.ndarray,
    jy: np.ndarray,
    top: int,
    left: int,
    block: int | tuple[int, int] | None = None,
    min_block: int = 2,
    max_block: int = MAX_BLOCK,
) -> tuple[Grid, float] | None:
    """Grid of the crop whose jumps are ``jx``/``jy`` (crop starts at ``top``, ``left``).

    Returns the grid and the share of the jump mass on it; ``None`` when the crop has no
    jumps at all. ``block`` fixes the size (an int, or (height, width) for non-square
    cells), else it is searched in [min_block, max_block]: one square size for both axes,
    unless each axis alone clearly keeps to a different size (non-square cells, e.g. a
    6 x 8 mosaic from GIMP's Pixelize with unchained width and height).
    """
    px = np.maximum(jx - NOISE_FLOOR, 0).sum(axis=0)
    py = np.maximum(jy - NOISE_FLOOR, 0).sum(axis=1)
    total = float(px.sum() + py.sum())
    if total <= 0:
        return None
    # Lines that carry a jump, per axis. Counting lines (not mass) decides between a block
    # and its multiples: a multiple misses half the lines however weak they are (JPEG
    # ringing can weaken every other line of a grid that sits across its 16 px blocks).
    lines = [
        p > 0.05 * p.max() if p.size and p.max() > 0 else np.zeros(p.shape, bool) for p in (px, py)
    ]
    for carried in lines:
        # The outermost lines may be the box's own edges, off the grid where the box cuts a
        # cell: with few lines one of them is enough to tip a block towards its divisor.
        at = np.nonzero(carried)[0]
        if len(at) >= 5:
            carried[at[[0, -1]]] = False
    limit = min(max_block, max(len(px), len(py)) // 2)
    if isinstance(block, tuple):
        sizes = sorted(set(block))
    else:
        sizes = [block] if block else list(range(min_block, max(limit, min_block) + 1))
    axis_share: dict[int, list[float | None]] = {}
    missed: dict[int, list[int]] = {}  # carried lines off the best residue, per axis
    residues: dict[int, tuple[int, int, float, float]] = {}
    for b in sizes:
        mx, my = residue_mass(px, b), residue_mass(py, b)
        counts = [residue_mass(m.astype(np.float32), b) for m in lines]
        axis_share[b] = [float(c.max() / c.sum()) if c.sum() > 0 else None for c in counts]
        missed[b] = [int(c.sum() - c.max()) for c in counts]
        residues[b] = (int(mx.argmax()), int(my.argmax()), float(mx.max()), float(my.max()))
    carried = [int(m.sum()) for m in lines]

    def largest_near_best(axis: int | None) -> int:
        def score(b: int) -> float:
            if axis is not None:  # 0: lines along x, 1: along y
                return axis_share[b][axis] or 0.0
            values = [v for v in axis_share[b] if v is not None]
            return float(np.mean(values)) if values else 0.0

        best = max(score(b) for b in sizes)
        return max(b for b in sizes if score(b) >= 0.9 * best)

    def mass(bh: int, bw: int) -> float:
        return (residues[bw][2] + residues[bh][3]) / total

    if isinstance(block, tuple):
        bh, bw = block
    else:
        bh = bw = largest_near_best(None)
        if block is None and sum(carried):
            # Averaging the two axes' shares lets a handful of lines along y (a short mosaic
            # of large blocks, with a box edge or text line among them) pull the size down
            # to a divisor. Pooled line by line, a multiple that explains nearly as many of
            # all the lines is the block.
            def pooled(b: int) -> float:
                return 1.0 - sum(missed[b]) / sum(carried)

            multiples = [b for b in sizes if b > bh and b % bh == 0]
            better = [b for b in multiples if pooled(b) >= 0.9 * pooled(bh)]
            if better:
                bh = bw = max(better)
        if block is None and all(v is not None for v in axis_share[bh]):
            by, bx = largest_near_best(1), largest_near_best(0)
            # Each axis on its own fits a size, and the square one is only their common
            # divisor (3 for 6 x 9 cells) or misses lines of an axis (at least two: one can
            # be a box edge) that the axis's own size explains.
            own = min(axis_share[by][1], axis_share[bx][0])
            divisor = bh < min(bx, by) and bx % bh == 0 and by % bh == 0
            fixed = max(missed[bh][0] - missed[bx][0], missed[bh][1] - missed[by][1])
            # The per-axis sizes must fit on their own, or put clearly more of the jump mass
            # on the grid: line counts alone are swayed by a few text edges caught in the
            # crop (each weak text line counts as much as a mosaic line), the mass is not.
            # Not towards a divisor of the square size: stray lines land on its residues.
            towards_divisor = any(b != bh and bh % b == 0 for b in (by, bx))
            gain = mass(by, bx) - mass(bh, bw) >= 0.1 and not towards_divisor
            if bx != by and (own >= 0.9 and (divisor or fixed >= 2) or fixed >= 0 and gain):
                bh, bw = by, bx
    rx, ry = residues[bw][0], residues[bh][1]
    share = mass(bh, bw)
    return Grid(bh, bw, int(_to_offset(ry, top, bh)), int(_to_offset(rx, left, bw))), float(share)


def mosaic_cells(rgb: np.ndarray, grid: Grid, box: tuple[int, int, int, int]):
    """Which whole grid cells inside ``box`` (y0, x0, y1, x1) look pixelated.

    A cell is flat (every channel's spread within JPEG noise) and differs from at least one
    flat neighbour: a mosaic's cells all are; text and UI rarely have two flat cells of
    different colours meeting exactly on a grid line. Returns the map and the pixel
    position of its first cell.
    """
    y0, x0, y1, x1 = box
    bh, bw = grid.block_h, grid.block_w
    top = y0 + (grid.offset_y - y0) % bh
    left = x0 + (grid.offset_x - x0) % bw
    ny, nx = (y1 - top) // bh, (x1 - left) // bw
    if ny < 1 or nx < 1:
        return np.zeros((0, 0), dtype=bool), top, left
    cells = rgb[top : top + ny * bh, left : left + nx * bw].astype(np.float32)
    cells = cells.reshape(ny, bh, nx, bw, 3)
    flat = cells.std(axis=(1, 3)).max(axis=-1) <= CELL_NOISE
    return classify_cells(flat, cells.mean(axis=(1, 3))), top, left


def classify_cells(flat: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Which cells of a grid look pixelated, from which are ``flat`` and their ``mean``:
    flat and differing by more than EDGE from a flat neighbour."""
    differs = np.zeros_like(flat)
    for axis in (0, 1):
        step = np.abs(np.diff(mean, axis=axis)).max(axis=-1) > EDGE
        both = step & np.take(flat, range(1, flat.shape[axis]), axis=axis)
        both &= np.take(flat, range(0, flat.shape[axis] - 1), axis=axis)
        lo = [slice(None), slice(None)]
        hi = [slice(None), slice(None)]
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        differs[tuple(lo)] |= both
        differs[tuple(hi)] |= both
    return flat & differs


def _grow_edge(flat: np.ndarray, start: int, end: int, block: int) -> tuple[int, int]:
    """Extend pixels [start, end) over a cut border cell: a mosaic box whose edge is off the
    grid ends with a partial cell, flat from the region up to the jump at the box edge.

    ``flat[i]`` says there is no jump between pixels ``i`` and ``i + 1`` (so there are
    ``len(flat) + 1`` pixels). A side grows only when that jump (or the image border) comes
    within ``block - 1`` pixels; a longer flat run is background and is left alone.
    """
    if start > 0:
        lo = start - 1  # the pixel just before the region: first of a partial cell?
        while lo > 0 and start - lo < block - 1 and flat[lo - 1]:
            lo -= 1
        if lo == 0 or not flat[lo - 1]:
            start = lo
    if end <= len(flat):
        hi = end  # the pixel just after the region
        while hi < len(flat) and hi - end < block - 1 and flat[hi]:
            hi += 1
        if hi == len(flat) or not flat[hi]:
            end = hi + 1
    return start, end


def cell_size(block: float | tuple[float, float] | None) -> tuple[float, float] | None:
    """A user's cell size as (height, width) px: a number is a square cell."""
    if block is None:
        return None
    if isinstance(block, tuple):
        return float(block[0]), float(block[1])
    return float(block), float(block)


def _whole(size: tuple[float, float]) -> tuple[int, int] | None:
    """(height, width) as integers when both are whole numbers, else None."""
    if all(float(v).is_integer() for v in size):
        return int(size[0]), int(size[1])
    return None


def grid_in_box(
    rgb: np.ndarray,
    box: tuple[int, int, int, int],
    block: float | tuple[float, float] | None = None,
) -> Region:
    """The grid of a user-given box (x, y, w, h) and its evidence; the box is kept as given.

    ``block`` fixes the cell size: a number (square) or (height, width), fractional sizes
    allowed (then the grid is a ``Pitch``). A box without any jump has no grid evidence:
    share and confidence 0 (any grid reproduces it; the origin's is used).
    """
    from depix.restore.evidence import assess

    x, y, w, h = box
    size = cell_size(block)
    if size is not None and _whole(size) is None:  # fractional cells: a pitch of that size
        from depix.restore.rescaled import pitch_with_size, region_of

        fitted = pitch_with_size(rgb, box, *size)
        if fitted is not None:
            return assess(rgb, region_of(fitted[0], x, y, x + w, y + h, fitted[1], "given"), False)
    whole = _whole(size) if size is not None else None
    jx, jy = grey_jumps(rgb[y : y + h, x : x + w])
    found = estimate_grid(jx, jy, y, x, block=whole)
    if size is None and (found is None or found[1] < MIN_SHARE):
        from depix.restore.rescaled import pitch_in_box  # a mosaic seen through a rescale?

        rescaled = pitch_in_box(rgb, box)
        if rescaled is not None:
            return assess(rgb, rescaled, trim=False)
    if found is None:  # a flat box: any grid reproduces it; use the origin
        bh, bw = whole or (8, 8)
        grid = Grid(bh, bw, y % bh, x % bw)
        return Region(x, y, w, h, grid, 0.0, "given", lines_seen=0.0, colours=1, confidence=0.0)
    grid, share = found
    return assess(rgb, Region(x, y, w, h, grid, round(share, 3), "given"), trim=False)


def find_regions(
    rgb: np.ndarray,
    block: float | tuple[float, float] | None = None,
    min_confidence: float | None = None,
) -> list[Region]:
    """Every pixelated rectangle of ``rgb`` (H, W, 3 uint8), top to bottom, left to right.

    ``block`` fixes the cell size (a number, or (height, width); fractional sizes are
    fitted to each region found without them); regions whose evidence
    (``evidence.assess``) gives a confidence below ``min_confidence`` (default
    ``evidence.MIN_CONFIDENCE``) are dropped.
    """
    if rgb.shape[0] < 4 or rgb.shape[1] < 4:
        return []
    size = cell_size(block)
    block = _whole(size) if size is not None else None
    fractional = size if size is not None and block is None else None
    rgb = np.ascontiguousarray(rgb[..., :3])
    jx, jy = grey_jumps(rgb)
    height, width = rgb.shape[:2]
    tiles, jx_ev, jy_ev = evidence(jx, jy)
    from depix.restore.evidence import MIN_CONFIDENCE, assess

    threshold = MIN_CONFIDENCE if min_confidence is None else min_confidence
    regions = []
    proposals = list(components(tiles))
    refined: set[tuple[int, int, int, int]] = set()
    while proposals:
        ty0, tx0, ty1, tx1 = proposal = proposals.pop(0)
        y0, x0 = ty0 * TILE, tx0 * TILE
        y1, x1 = min((ty1 + 1) * TILE, height), min((tx1 + 1) * TILE, width)
        # Nearby redactions with different grids (each box has its own phase), or a mosaic
        # near crisp UI text and bars, merge into one proposal whose grid fits none of them
        # well: its undilated parts are tried alone.
        inner = np.zeros_like(tiles)
        inner[ty0 : ty1 + 1, tx0 : tx1 + 1] = tiles[ty0 : ty1 + 1, tx0 : tx1 + 1]
        parts = [c for c in components(inner, radius=0) if c != (ty0, tx0, ty1, tx1)]
        found = estimate_grid(
            jx_ev[y0:y1, x0 : x1 - 1], jy_ev[y0 : y1 - 1, x0:x1], y0, x0, block, MIN_BLOCK
        )
        if found is None or found[1] < MIN_SHARE:
            if len(parts) > 1:
                proposals.extend(parts)
            continue
        grid = found[0]
        pad = 2 * TILE + grid.block_h
        box = (max(y0 - pad, 0), max(x0 - pad, 0), min(y1 + pad, height), min(x1 + pad, width))
        own = _regions_on_grid(rgb, jx, jy, grid, box, round(found[1], 3))
        if len(parts) > 1 and not any((assess(rgb, r).confidence or 0.0) >= threshold for r in own):
            proposals.extend(parts)
            continue
        for r in own:
            # A region much smaller than its proposal got the proposal's grid, which other
            # content there (UI text, bars) may have pulled: its own box proposes again.
            if proposal not in refined and (y1 - y0) * (x1 - x0) > 4 * r.w * r.h:
                again = (
                    max(r.y // TILE - 1, 0),
                    max(r.x // TILE - 1, 0),
                    min((r.y + r.h) // TILE + 1, tiles.shape[0] - 1),
                    min((r.x + r.w) // TILE + 1, tiles.shape[1] - 1),
                )
                if again not in refined:
                    refined.add(again)
                    proposals.append(again)
                    continue
            regions.append(r)
    # A mosaic continues on its grid: parts of it that a proposal of their own read on a
    # divisor of the block (large blocks beside large text) are found on the grid of the
    # region next to them; ``_merge`` joins what only flat pixels separate.
    for r in list(regions):
        if min(r.grid.block_h, r.grid.block_w) < 2 * MIN_BLOCK:
            continue  # no divisor of the block passes for a grid
        ry, rx = GROW_CELLS * r.grid.block_h, GROW_CELLS * r.grid.block_w
        box = (
            max(r.y - ry, 0),
            max(r.x - rx, 0),
            min(r.y + r.h + ry, height),
            min(r.x + r.w + rx, width),
        )
        regions.extend(_regions_on_grid(rgb, jx, jy, r.grid, box, r.share))
    if block is None:  # mosaics seen through a rescale (soft edges, fractional cells)
        from depix.restore.rescaled import combine, find_rescaled_regions

        regions = combine(regions, find_rescaled_regions(rgb), rgb)
    assessed = [assess(rgb, r) for r in _merge(regions, jx, jy)]
    if fractional is not None:  # the user's cell size: refit each region's grid with it
        assessed = [_with_size(rgb, r, fractional) for r in assessed]
    kept = _one_grid_per_mosaic([r for r in assessed if (r.confidence or 0.0) >= threshold])
    return sorted(kept, key=lambda r: (r.y, r.x))


def _one_grid_per_mosaic(regions: list[Region]) -> list[Region]:
    """Regions without those lying mostly (over half their area) inside a larger one: one
    mosaic read again on another grid (a piece of it whose own proposal gave a divisor or
    a non-square cell) is not a second redaction."""
    kept: list[Region] = []
    for r in sorted(regions, key=lambda r: r.w * r.h, reverse=True):
        inside = 0
        for k in kept:
            ix = min(r.x + r.w, k.x + k.w) - max(r.x, k.x)
            iy = min(r.y + r.h, k.y + k.h) - max(r.y, k.y)
            inside = max(inside, max(ix, 0) * max(iy, 0))
        if 2 * inside <= r.w * r.h:
            kept.append(r)
    return kept


def _regions_on_grid(
    rgb: np.ndarray,
    jx: np.ndarray,
    jy: np.ndarray,
    grid: Grid,
    box: tuple[int, int, int, int],
    share: float,
) -> list[Region]:
    """The rectangles of pixelated cells (``mosaic_cells``) of ``grid`` inside ``box``
    (y0, x0, y1, x1), each grown over a cut border cell (``_grow_edge``)."""
    cells, top, left = mosaic_cells(rgb, grid, box)
    found = []
    for cy0, cx0, cy1, cx1 in components(cells, radius=1, min_cells=MIN_CELLS):
        ry0, ry1 = top + cy0 * grid.block_h, top + (cy1 + 1) * grid.block_h
        rx0, rx1 = left + cx0 * grid.block_w, left + (cx1 + 1) * grid.block_w
        flat_x = ~(jx[ry0:ry1] > EDGE).any(axis=0)
        flat_y = ~(jy[:, rx0:rx1] > EDGE).any(axis=1)
        rx0, rx1 = _grow_edge(flat_x, rx0, rx1, grid.block_w)
        ry0, ry1 = _grow_edge(flat_y, ry0, ry1, grid.block_h)
        found.append(Region(int(rx0), int(ry0), int(rx1 - rx0), int(ry1 - ry0), grid, share))
    return found


def _with_size(rgb: np.ndarray, region: Region, size: tuple[float, float]) -> Region:
    """``region`` on a grid of the user's fractional cell size (height, width)."""
    from depix.restore.evidence import assess
    from depix.restore.rescaled import pitch_with_size, region_of

    fitted = pitch_with_size(rgb, (region.x, region.y, region.w, region.h), *size)
    if fitted is None:
        return region
    x1, y1 = region.x + region.w, region.y + region.h
    return assess(
        rgb, region_of(fitted[0], region.x, region.y, x1, y1, fitted[1], "detected"), False
    )


def _union(a: Region, b: Region) -> Region:
    x, y = min(a.x, b.x), min(a.y, b.y)
    w, h = max(a.x + a.w, b.x + b.w) - x, max(a.y + a.h, b.y + b.h) - y
    big = a if a.w * a.h >= b.w * b.h else b  # its grid describes more of the mosaic
    return Region(x, y, w, h, big.grid, max(a.share, b.share), a.source, big.pitch)


def _only_flat_between(a: Region, b: Region, jx: np.ndarray, jy: np.ndarray) -> bool:
    """True when ``a`` and ``b`` overlap or the strip between them holds no edge: one
    mosaic split in two by a run of uniform cells (a space), not two redactions with text
    between them."""
    rows = (max(a.y, b.y), min(a.y + a.h, b.y + b.h))
    cols = (max(a.x, b.x), min(a.x + a.w, b.x + b.w))
    if rows[0] < rows[1] and cols[0] < cols[1]:
        return True
    soft = 2 if (a.pitch or b.pitch) else 0  # a rescaled mosaic's edge ramps reach into the gap
    if rows[0] < rows[1]:  # side by side: the gap columns, on the shared rows
        gap = jx[rows[0] : rows[1], cols[1] + soft : cols[0] - 1 - soft]
        return not (gap > EDGE).any()
    if cols[0] < cols[1]:  # one above the other
        gap = jy[rows[1] + soft : rows[0] - 1 - soft, cols[0] : cols[1]]
        return not (gap > EDGE).any()
    return False


def pitch_of(region: Region) -> Pitch:
    """The region's grid as a pitch (its own pitch when it was seen through a rescale)."""
    g = region.grid
    if region.pitch is not None:
        return region.pitch
    size_x = float(g.block_w) if g.block_w != g.block_h else None  # non-square cells
    return Pitch(float(g.block_h), float(g.offset_y), float(g.offset_x), size_x)


def _same_grid(a: Region, b: Region) -> bool:
    """Same whole-pixel grid; or, when either was seen through a rescale, cell sizes within
    0.05 px and lines within 0.5 px of each other where the regions are."""
    if a.pitch is None and b.pitch is None:
        return a.grid == b.grid
    if a.grid.block_h != a.grid.block_w or b.grid.block_h != b.grid.block_w:
        return False
    p, q = pitch_of(a), pitch_of(b)
    if abs(p.size - q.size) >= 0.05:
        return False
    for o, r, ats in ((p.offset_y, q.offset_y, (a.y, b.y)), (p.offset_x, q.offset_x, (a.x, b.x))):
        for at in ats:  # near both regions: a small pitch difference drifts with distance
            line = o + round((at - o) / p.size) * p.size
            if abs(line - (r + round((line - r) / q.size) * q.size)) >= 0.5:
                return False
    return True


def _merge(regions: list[Region], jx: np.ndarray, jy: np.ndarray) -> list[Region]:
    """Join regions of the same grid that overlap or are separated by flat pixels only."""
    merged = list(regions)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                if _same_grid(a, b) and _only_flat_between(a, b, jx, jy):
                    merged[i] = _union(a, b)
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged
