"""Detection of pixelated regions and their grids on generated screenshots."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from depix.data.fonts import BUILTIN
from depix.restore.detect import estimate_grid, find_regions, grey_jumps, grid_in_box
from depix.restore.synthetic import MosaicBox, ink_box, pixelate_boxes, text_canvas


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def assert_found(region, box: MosaicBox, image: np.ndarray) -> None:
    """Right grid; the region covers >= 80 % of the visible part of the box (``ink_box``:
    border cells of pure background cannot be told from the clean picture) and stays
    within two blocks of it."""
    assert (region.grid.block_h, region.grid.block_w) == (box.block, box.cell[0])
    assert (region.grid.offset_y, region.grid.offset_x) == box.grid_offset()
    tx, ty, tw, th = ink_box(image, (box.x, box.y, box.w, box.h), tolerance=12)  # JPEG noise
    ix = min(region.x + region.w, tx + tw) - max(region.x, tx)
    iy = min(region.y + region.h, ty + th) - max(region.y, ty)
    assert ix > 0 and iy > 0 and ix * iy >= 0.8 * tw * th, (region, box)
    slack_x, slack_y = 2 * box.cell[0], 2 * box.block
    assert box.x - slack_x <= region.x and region.x + region.w <= box.x + box.w + slack_x
    assert box.y - slack_y <= region.y and region.y + region.h <= box.y + box.h + slack_y


@pytest.mark.parametrize(
    "block, offset_y, offset_x, quality",
    [
        (8, 3, 5, None),
        (5, 1, 2, None),
        (10, 7, 0, None),
        (4, 0, 3, 95),
        (6, 2, 4, 90),
        (8, 6, 1, 80),
    ],
)
def test_finds_box_block_and_offset(block, offset_y, offset_x, quality):
    box = MosaicBox(150, 60, 360, 44, block, offset_y, offset_x)
    image = pixelate_boxes(text_canvas(640, 200, seed=block), [box])
    if quality:
        image = jpeg(image, quality)
    regions = find_regions(image)
    assert len(regions) == 1, regions
    assert_found(regions[0], box, image)


@pytest.mark.parametrize(
    "seed, font_size, box",
    [
        # 10 x 8 cells, text lines above and below caught in the proposal
        (0, 28, MosaicBox(127, 25, 266, 46, 8, 0, 4, block_x=10)),
        # 5 x 6 cells, the box's bottom edge 3 px past a grid line (not a 3 px grid)
        (3, 26, MosaicBox(171, 89, 233, 41, 6, 2, 4, block_x=5)),
        # 10 x 9 cells, top and bottom cells cut by the box edges, clean text beyond
        (5, 28, MosaicBox(85, 65, 376, 56, 9, 5, 8, block_x=10)),
    ],
)
def test_finds_non_square_whole_pixel_cells(seed, font_size, box):
    """Cell width and height estimated separately, extent up to the box edges (issue 15)."""
    image = pixelate_boxes(text_canvas(640, 200, seed=seed, font_size=font_size), [box])
    regions = find_regions(image)
    assert len(regions) == 1, regions
    assert regions[0].cell == (box.cell[0], box.block)
    assert_found(regions[0], box, image)
    # Within one cell of the box (a cut border cell is kept only up to the box edge).
    region = regions[0]
    assert box.x - box.cell[0] <= region.x and region.x + region.w <= box.x + box.w + box.cell[0]
    assert box.y - box.block <= region.y and region.y + region.h <= box.y + box.h + box.block
    # Top and bottom follow the visible mosaic over the cells cut by the box edges.
    _, ty, _, th = ink_box(image, (box.x, box.y, box.w, box.h), tolerance=12)
    assert abs(region.y - ty) <= 2 and abs(region.y + region.h - ty - th) <= 2, (region, ty, th)


@pytest.mark.parametrize(
    "seed, font_size, box",
    [
        # 18 px blocks over 58 px text: pieces of it read on divisors / 18 x 12 cells
        (0, 58, MosaicBox(20, 43, 561, 81, 18, 12, 9)),
        # 14 px blocks over 36 px text: the middle read on 7 px cells
        (1, 36, MosaicBox(75, 25, 553, 58, 14, 7, 10)),
        # 15 px blocks over 40 px text: the right end read on 3 px cells by its own proposal
        (3, 40, MosaicBox(104, 70, 597, 50, 15, 9, 0)),
    ],
)
def test_finds_large_blocks_over_large_text(seed, font_size, box):
    """One region on the block (not a divisor) over the whole box (issue 15)."""
    canvas = text_canvas(800, 320, seed=seed, font_size=font_size, line_height=font_size + 16)
    image = pixelate_boxes(canvas, [box])
    regions = find_regions(image)
    assert len(regions) == 1, regions
    assert_found(regions[0], box, image)


def test_cut_border_cells_kept_after_jpeg():
    """21 px blocks over 48 px text, JPEG q90: the cells cut by the box's top and bottom
    edges belong to the region (JPEG ringing beside the lines is no soft edge)."""
    box = MosaicBox(101, 77, 314, 85, 21, 7, 20)
    canvas = text_canvas(800, 320, seed=5, font_size=48, line_height=64)
    image = jpeg(pixelate_boxes(canvas, [box]), 90)
    (region,) = find_regions(image)
    assert_found(region, box, image)
    assert abs(region.y - box.y) <= 2 and abs(region.y + region.h - box.y - box.h) <= 2, region


def test_finds_several_boxes_with_their_own_grids():
    boxes = [MosaicBox(40, 30, 300, 40, 6, 1, 4), MosaicBox(380, 150, 220, 50, 9, 5, 2)]
    image = pixelate_boxes(text_canvas(640, 240, seed=3), boxes)
    regions = find_regions(image)
    assert len(regions) == 2, regions
    for region, box in zip(regions, boxes):
        assert_found(region, box, image)


@pytest.mark.parametrize("quality", [None, 85])
def test_clean_screenshot_has_no_region(quality):
    image = text_canvas(640, 240, seed=7)
    assert find_regions(jpeg(image, quality) if quality else image) == []


def test_grid_is_the_block_not_a_divisor_or_multiple():
    """Every divisor of the block explains all jumps too: the largest must win."""
    rng = np.random.default_rng(0)
    cells = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    image = np.kron(cells, np.ones((6, 6, 1), dtype=np.uint8))[2:, 5:]  # grid at y=4, x=1
    jx, jy = grey_jumps(image)
    grid, share = estimate_grid(jx, jy, 0, 0)
    assert (grid.block_h, grid.offset_y, grid.offset_x) == (6, 4, 1)
    assert share > 0.99


def test_given_box_keeps_its_extent_and_block_can_be_forced():
    box = MosaicBox(100, 50, 300, 40, 7, 2, 3)
    image = pixelate_boxes(text_canvas(480, 160, seed=2), [box])
    region = grid_in_box(image, (box.x, box.y, box.w, box.h))
    assert (region.x, region.y, region.w, region.h, region.source) == (100, 50, 300, 40, "given")
    assert (region.grid.block_h, region.grid.offset_y, region.grid.offset_x) == (
        7,
        *box.grid_offset(),
    )
    forced = find_regions(image, block=7)
    assert len(forced) == 1 and forced[0].grid == region.grid


def test_finds_box_after_2x_nearest_upscale():
    """A screenshot scaled up 2x (HiDPI copy) has 16 px blocks and 2 px-wide text edges."""
    box = MosaicBox(150, 60, 360, 44, 8, 3, 5)
    # A fixed font: with bold faces, 2x-upscaled strokes form flat 4 px cells that can pass
    # for a small block-4 mosaic (a known limit, README "Restore a screenshot").
    canvas = text_canvas(640, 200, seed=8, font=BUILTIN)
    image = Image.fromarray(pixelate_boxes(canvas, [box]))
    image = np.asarray(image.resize((1280, 400), Image.NEAREST))
    (region,) = find_regions(image)
    scaled = MosaicBox(300, 120, 720, 88, 16, 6, 10)
    assert_found(region, scaled, image)


def test_stacked_redactions_with_their_own_grids_are_found_separately():
    """Form fields redacted one by one: boxes a line apart, same block, different grid phase.

    Their evidence merges into one proposal that fits no single grid; detection must split
    it and find each box with its own offset.
    """
    boxes = [
        MosaicBox(180, 18, 170, 34, 5, 0, 0),
        MosaicBox(180, 76, 130, 34, 5, 3, 2),
        MosaicBox(180, 134, 150, 34, 5, 1, 4),
    ]
    image = pixelate_boxes(
        text_canvas(560, 200, seed=4, line_height=58, font_size=26, font=BUILTIN), boxes
    )
    regions = find_regions(image)
    assert len(regions) == 3
    for region, box in zip(regions, boxes, strict=True):
        assert_found(region, box, image)


def test_mosaic_touching_the_right_and_bottom_border_is_found_to_the_border():
    """A redaction flush with the image's edge (a cropped screenshot): no crash, and the
    region reaches the last pixel."""
    rng = np.random.default_rng(0)
    cells = rng.integers(0, 256, (11, 31, 3), dtype=np.uint8)
    image = np.full((80, 200, 3), 255, dtype=np.uint8)
    image[38:, 78:] = np.kron(cells, np.ones((4, 4, 1), dtype=np.uint8))[: 80 - 38, : 200 - 78]
    (region,) = find_regions(image)
    assert (region.x + region.w, region.y + region.h) == (200, 80), region
    assert (region.grid.block_h, region.grid.offset_y, region.grid.offset_x) == (4, 2, 2)


def test_dithered_mosaic_region_ends_at_the_box():
    """A block-5 mosaic exported with a dithered 32-colour palette: clean dithered text next
    to the box is not a cut border cell (no region edge one clean pixel row further, which
    would keep clean columns beside the box in the region)."""
    from depix.restore.bench import detection_case
    from depix.restore.synthetic import palette_dithered

    canvas, box = detection_case(4)
    image = palette_dithered(pixelate_boxes(canvas, [box]), 32)
    (region,) = find_regions(image)
    assert_found(region, box, image)
    assert box.x - box.block <= region.x and region.x + region.w <= box.x + box.w + box.block
    assert box.y - box.block <= region.y and region.y + region.h <= box.y + box.h + box.block
