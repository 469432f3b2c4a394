"""Detection of mosaics seen through a rescale (display scaling, zoomed screenshots) and the
resampling onto an integer grid that restoration uses for them."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from depix.data.fonts import BUILTIN
from depix.restore.bench import detection_case, scaled
from depix.restore.detect import Pitch, estimate_grid, find_regions, grey_jumps, grid_in_box
from depix.restore.regrid import MAX_BLOCK, Regrid, beyond_range, normal_blocks
from depix.restore.rescaled import estimate_pitch
from depix.restore.synthetic import (
    MosaicBox,
    ink_box,
    line_error,
    pixelate_boxes,
    region_matches,
    text_canvas,
)

BOX = MosaicBox(150, 60, 360, 44, 6, 3, 5)


def assert_rescaled_found(region, box: MosaicBox, factor: float, image: np.ndarray) -> None:
    """The region is the box (its visible part, ``ink_box``) with its grid. A grid whose
    lines fall between pixels must be reported as a pitch; one on whole pixels (e.g. 200 %
    of block 6 at even lines) is an ordinary grid, restored without resampling."""
    lines = (box.block * factor, (box.y + box.offset_y) * factor, (box.x + box.offset_x) * factor)
    if not all(float(v).is_integer() for v in lines):
        assert region.pitch is not None, region
    scaled_box = tuple(round(v * factor) for v in (box.x, box.y, box.w, box.h))
    ink = ink_box(image, scaled_box, tolerance=24)  # bicubic overshoot leaks out
    assert region_matches(region, box, factor, ink), (region, box, factor, ink)


@pytest.mark.parametrize(
    "factor, resample",
    [(1.25, "bilinear"), (1.5, "bicubic"), (1.75, "bilinear"), (1.5, "nearest"), (2.0, "bicubic")],
)
def test_finds_rescaled_mosaic_with_its_fractional_grid(factor, resample):
    image = scaled(
        pixelate_boxes(text_canvas(640, 200, seed=8, font=BUILTIN), [BOX]), factor, resample
    )
    regions = find_regions(image)
    assert len(regions) == 1, regions
    assert_rescaled_found(regions[0], BOX, factor, image)


@pytest.mark.parametrize("seed", [3, 7])
def test_finds_the_whole_mosaic_across_word_gaps(seed):
    """Bicubic 150 %: ringing spoils the ramps of some cells, so a box reaches detection as
    several proposals, some too small for their own pitch; the region must still be the
    whole box on one grid (it grows along the grid of its largest part)."""
    canvas, box = detection_case(seed)
    image = scaled(pixelate_boxes(canvas, [box]), 1.5, "bicubic")
    regions = find_regions(image)
    assert len(regions) == 1, regions
    assert_rescaled_found(regions[0], box, 1.5, image)


def test_finds_rescaled_mosaic_after_jpeg():
    image = scaled(pixelate_boxes(text_canvas(640, 200, seed=5), [BOX]), 1.5, "bicubic")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=90)
    (region,) = find_regions(np.asarray(Image.open(buffer).convert("RGB")))
    assert_rescaled_found(region, BOX, 1.5, image)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "factor, resample", [(1.25, "bilinear"), (1.5, "bicubic"), (2.0, "bicubic")]
)
def test_rescaled_clean_text_has_no_region(seed, factor, resample):
    """Scaled-up text has soft, flat-sided stroke edges too: they must not pass for a grid."""
    image = scaled(text_canvas(640, 200, seed=seed, font_size=20 + 4 * seed), factor, resample)
    assert find_regions(image) == []


def test_exact_mosaic_keeps_its_integer_grid():
    """The rescaled path only adds to what the exact detector finds; it never replaces it."""
    (region,) = find_regions(pixelate_boxes(text_canvas(640, 200, seed=8), [BOX]))
    assert region.pitch is None and region.grid.block_h == BOX.block


def test_given_box_over_a_rescaled_mosaic_gets_its_pitch():
    image = scaled(
        pixelate_boxes(text_canvas(640, 200, seed=8, font=BUILTIN), [BOX]), 1.5, "bilinear"
    )
    box = (240, 96, 500, 56)  # inside the scaled mosaic
    region = grid_in_box(image, box)
    assert (region.x, region.y, region.w, region.h, region.source) == (*box, "given")
    assert region.pitch is not None and abs(region.pitch.size - 9.0) < 0.05
    assert region.grid.block_h == 9  # the rounding, for display


def test_pitch_is_the_cell_size_not_a_divisor():
    """Lines every 7.5 px: 3.75 px explains every ramp as well but leaves half its lines
    empty; the pitch must be 7.5."""
    pos = 2.3 + 7.5 * np.arange(40)
    profile = np.zeros(320)
    profile[np.round(pos).astype(int) - 1] = 50.0
    found = estimate_pitch(profile, profile[:80], 0, 0)
    assert found is not None
    pitch, share = found
    assert abs(pitch.size - 7.5) < 0.02 and share > 0.99


def cells_mosaic(seed: int, factor: float, block: int = 6):
    """Random colour cells of ``block`` px with lines at (2, 4), rescaled by ``factor``
    (bicubic): the cells, the image and its pitch. Cell (0, 0) starts one cell before them."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, (14, 24, 3), dtype=np.uint8)
    image = np.kron(cells, np.ones((block, block, 1), dtype=np.uint8))[block - 2 :, block - 4 :]
    return cells, scaled(image, factor, "bicubic"), Pitch(block * factor, 2 * factor, 4 * factor)


@pytest.mark.parametrize("factor", [1.25, 1.5, 2.0])
def test_regrid_puts_cells_on_whole_pixels(factor):
    """After ``forward`` cell (i, j) of the mosaic is resampled cell (i, j) of ``block`` px on
    the integer grid (its centre has the cell's colour); ``backward`` returns the crop."""
    cells, image, pitch = cells_mosaic(0, factor)
    crop = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255
    regrid = Regrid.for_crop(pitch, 0, 0, image.shape[0], image.shape[1])
    assert regrid.block == min(MAX_BLOCK, round(pitch.size))
    grid_image = regrid.forward(crop) * 255
    b, mid = regrid.block, regrid.block // 2
    centres = grid_image[0, :, b + mid - 1 : 12 * b : b, b + mid - 1 : 22 * b : b]
    truth = torch.from_numpy(cells[1:12, 1:22].astype(np.float32)).permute(2, 0, 1)
    assert (centres - truth).abs().max() < 8, "a resampled cell is not the mosaic's cell"
    back = regrid.backward(regrid.forward(crop))
    assert back.shape == crop.shape
    assert (back - crop)[..., 12:-12, 12:-12].abs().mean() * 255 < 4


def test_regrid_window_grid_is_relative_to_the_window():
    pitch = Pitch(9.0, 4.5, 7.5)
    regrid = Regrid.for_crop(pitch, 80, 200, 120, 600)
    (rows, cols), (bh, bw, oy, ox) = regrid.window(15, 30, 60, 500)
    assert bh == bw == 8
    # A line of the window's grid maps back onto a line of the pitch, in image coordinates.
    line_y = 80 + regrid.origin_y + (rows.start + oy) * regrid.step
    line_x = 200 + regrid.origin_x + (cols.start + ox) * regrid.step
    assert line_error(pitch.offset_y, pitch.size, line_y) < 1e-6
    assert line_error(pitch.offset_x, pitch.size, line_x) < 1e-6
    # ... and the window starts where the rectangle does (within one resampled pixel).
    assert abs(regrid.origin_y + rows.start * regrid.step - 15) <= regrid.step
    assert abs(regrid.origin_x + cols.start * regrid.step - 30) <= regrid.step
    assert abs(regrid.origin_y + rows.stop * regrid.step - 75) <= regrid.step


def test_normal_blocks_bring_cells_and_text_into_the_trained_range():
    """Scale normalisation: cells and text already in range stay; 48 px text under 8 px
    blocks and 14 px blocks are shrunk until the text ink is ~16 px; cell shape is kept;
    cells as tall as the text are beyond any rescale."""
    assert normal_blocks(5, 5, 25) == (5, 5)  # in range: left alone
    assert normal_blocks(8, 8, 40) == (4, 4)  # ink 32 px -> 16
    assert normal_blocks(14, 14, 56) == (5, 5)  # cells above MAX_BLOCK
    assert normal_blocks(10, 8.2, 30) == (8, 7)  # non-square kept (to rounding)
    assert normal_blocks(3, 3, 12) == (3, 3)  # never enlarged
    assert beyond_range(14, 14) and not beyond_range(14, 56)


def test_regrid_maps_fractional_non_square_cells_onto_whole_pixels():
    """Cells of 8.2 x 10 px (fitted to a box) resampled to 7 x 8 whole-pixel cells: each
    resampled cell is flat with the mosaic cell's colour (area resampling), and the map
    back returns the picture."""
    rng = np.random.default_rng(1)
    colours = rng.integers(0, 256, (6, 30, 3)).astype(np.uint8)
    cols = np.minimum((np.arange(246) * 30) // 246, 29)  # as ``pixelate_fitted`` draws them
    image = colours[(np.arange(60) // 10)[:, None], cols[None, :]]
    crop = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float()
    regrid = Regrid.for_crop(Pitch(10.0, 0.0, 0.0, 8.2), 0, 0, 60, 246, (8, 7))
    grid_image = regrid.forward(crop)
    cells = grid_image[0, :, 8:56, 7:210].reshape(3, 6, 8, 29, 7)
    # The map starts one cell before the crop: resampled cell (i + 1, k + 1) is cell (i, k).
    truth = torch.from_numpy(colours[:6, :29].astype(np.float32)).permute(2, 0, 1)
    # Whole-pixel cells hit fractional lines only to within a pixel: the inside is exact.
    inside = cells[:, :, 2:-2, :, 2:-2]
    assert (inside - truth[:, :, None, :, None]).abs().max() < 30
    assert (inside.mean(dim=(2, 4)) - truth).abs().median() < 6
    back = regrid.backward(grid_image)
    assert (back - crop)[..., 12:-12, 12:-12].abs().mean() < 12


def test_integer_non_square_grid_is_found():
    """Whole-pixel cells of 6 x 9 px (width x height): each axis keeps its own size."""
    rng = np.random.default_rng(2)
    cells = rng.integers(0, 256, (8, 30, 3), dtype=np.uint8)
    image = np.kron(cells, np.ones((9, 6, 1), dtype=np.uint8))[4:, 1:]
    jx, jy = grey_jumps(image)
    grid, share = estimate_grid(jx, jy, 0, 0)
    assert (grid.block_h, grid.block_w, grid.offset_y, grid.offset_x) == (9, 6, 5, 5)
    assert share > 0.99


def test_block_option_takes_width_by_height():
    from depix.restore.api import RestoreError, parse_block

    assert parse_block("8") == 8.0
    assert parse_block("8.2x10") == (10.0, 8.2)
    for bad in ("0", "8x", "axb", "1x300"):
        with pytest.raises(RestoreError):
            parse_block(bad)


def test_nearly_square_fitted_cells_get_their_own_width_and_height():
    """43 x 6 cells fitted to a 376 x 56 box: 8.74 x 9.33 px. Nearly square, so the ramps
    sit near square lines too; the lines' drift off them gives each axis its own pitch."""
    from depix.restore.synthetic import pixelate_fitted

    box = (85, 65, 376, 56)
    image = pixelate_fitted(text_canvas(640, 200, seed=5, font_size=28), box, 43, 6)
    (region,) = find_regions(image)
    width, height = region.cell
    assert abs(width - 376 / 43) < 0.05 and abs(height - 56 / 6) < 0.05, region.cell
