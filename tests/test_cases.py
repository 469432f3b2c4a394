"""The real-world cases of issue 15 (``/work/shared/cases``, README there), each with its
right value: the mosaic found with its cell size and no other region, no pixel changed
outside it, and large cells or text read at least as well as the same region shrunk into
the trained range by hand. Plus generated UI screenshots that hold no mosaic at all."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from depix.restore import api
from depix.restore.detect import find_regions
from depix.restore.synthetic import (
    THEMES,
    UI_KINDS,
    MosaicBox,
    ink_box,
    pixelate_boxes,
    qr_like,
    ui_screenshot,
)

CASES_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "cases"
if not CASES_DIR.is_dir():  # a worktree under /work/wt: the shared folder is /work/shared
    CASES_DIR = Path("/work/shared/cases")
# file: (box x, y, w, h, cell width, cell height, hidden text lines)
CASES = {
    "header_bar_false_region.png": ((126, 63, 205, 30), 5, 5, ["ak_live_9Hq2Xr7T"]),
    "block14_dark.png": ((150, 36, 280, 56), 14, 14, ["sk7fQ2mZ"]),
    "large_text_block8.png": ((8, 8, 400, 72), 8, 8, ["4071 5523 8816"]),
    "nonsquare_fractional_cells.png": ((276, 30, 246, 30), 8.2, 10, ["wJa9XUtnFEMK7"]),
    "two_lines_one_box.png": (
        (10, 45, 240, 55),
        5,
        5,
        ["user: m.kowalski", "pass: Fjord!Lamp-62"],
    ),
}
needs_cases = pytest.mark.skipif(not CASES_DIR.is_dir(), reason="shared/cases not present")


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(CASES_DIR / name).convert("RGB"))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def outside(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    keep = np.ones(image.shape[:2], dtype=bool)
    keep[y : y + h, x : x + w] = False
    return image[keep]


@needs_cases
@pytest.mark.parametrize("name", sorted(CASES))
def test_case_mosaic_found_with_its_cell_and_nothing_else(name):
    """One region; its cells the case's (fractional, non-square included); inside the box
    (its border may stop short where the mosaic is pure background, never beyond: a
    pitch's line may fall within a pixel of the box edge) and over all of the box that
    differs from background."""
    (x, y, w, h), cell_w, cell_h, _ = CASES[name]
    image = load(name)
    regions = find_regions(image)
    assert len(regions) == 1, regions
    (region,) = regions
    assert abs(region.cell[0] - cell_w) < 0.05 and abs(region.cell[1] - cell_h) < 0.05, region
    assert x - 1 <= region.x and region.x + region.w <= x + w + 1, region
    assert y - 1 <= region.y and region.y + region.h <= y + h + 1, region
    ix, iy, iw, ih = ink_box(image, (x, y, w, h))
    assert region.x <= ix + 1 and ix + iw <= region.x + region.w + 1, (region, (ix, iw))
    assert region.y <= iy + 1 and iy + ih <= region.y + region.h + 1, (region, (iy, ih))
    assert region.confidence >= 0.9 and region.lines_seen > 0.8 and region.colours > 5


@needs_cases
def test_case_rows_give_the_text_lines():
    """The row structure of the two-line box: two text lines, each in one band of cells."""
    (region,) = find_regions(load("two_lines_one_box.png"))
    assert len(region.text_rows) == 2
    (a0, a1), (b0, b1) = region.text_rows
    assert 45 <= a0 < a1 < b0 < b1 <= 100


@needs_cases
@pytest.mark.parametrize("name", sorted(CASES))
def test_case_restore_changes_nothing_outside_the_mosaic(name, tmp_path):
    """Restored with an untrained network (any output): pixels outside the box identical."""
    box = CASES[name][0]
    image = load(name)
    result = api.restore(CASES_DIR / name, model=_tiny(tmp_path))
    out = np.asarray(result.image.convert("RGB"))
    np.testing.assert_array_equal(outside(out, box), outside(image, box))
    assert not np.array_equal(out, image)


def _tiny(tmp_path: Path) -> Path:
    """An untrained, tiny exported model (the real file format): any output will do, the
    tests here are about where pixels change."""
    import torch

    from depix.models.loading import EXPORT_FORMAT
    from depix.models.unet import UNet

    torch.manual_seed(0)
    net = UNet(widths=[8, 16], stem=2)
    torch.nn.init.normal_(net.head[0].weight, std=0.05)  # output far from the input
    config = {"model": {"_target_": "depix.models.unet.UNet", "widths": [8, 16], "stem": 2}}
    path = tmp_path / "tiny.pt"
    torch.save({"format": EXPORT_FORMAT, "config": config, "state_dict": net.state_dict()}, path)
    return path


@pytest.mark.parametrize("kind", UI_KINDS)
@pytest.mark.parametrize("theme", sorted(THEMES))
@pytest.mark.parametrize("quality", [None, 75])
def test_clean_ui_screenshot_has_no_region(kind, theme, quality):
    """Flat bars, borders, buttons, icons and gradients are not mosaics (PNG and JPEG)."""
    image = ui_screenshot(kind, theme, seed=1)
    image = jpeg(image, quality) if quality else image
    assert find_regions(image) == []


def test_qr_like_grid_is_not_a_mosaic():
    """A crisp two-colour grid (QR code, pixel art): regular cells, but no averaging."""
    canvas = np.full((200, 300, 3), 255, dtype=np.uint8)
    code = qr_like(seed=0, module=4)
    canvas[20 : 20 + code.shape[0], 40 : 40 + code.shape[1]] = code
    assert find_regions(canvas) == []


def test_dialog_without_mosaic_changes_no_pixel(tmp_path):
    """A whole sign-in dialog, saved as JPEG q75: nothing is restored, nothing changes."""
    path = tmp_path / "dialog.jpg"
    Image.fromarray(ui_screenshot("dialog", "light", seed=0, width=860, height=620)).save(
        path, quality=75
    )
    with pytest.raises(api.NoRegionError):
        api.restore(path, model=_tiny(tmp_path))


def test_dialog_with_one_redaction_changes_only_that_field(tmp_path):
    """A dialog whose first text field is pixelated (dark theme, crisp UI text, bars and
    borders around it): the field's mosaic is found on its own grid, and only pixels of
    the mosaic change."""
    shot_box = MosaicBox(146, 80, 210, 20, 5, 2, 1)
    shot = pixelate_boxes(ui_screenshot("dialog", "dark", seed=2), [shot_box])
    box = (shot_box.x, shot_box.y, shot_box.w, shot_box.h)
    result = api.restore(Image.fromarray(shot), model=_tiny(tmp_path))
    (item,) = result.regions
    assert (item.region.grid.block_h, item.region.grid.block_w) == (5, 5)
    out = np.asarray(result.image)
    np.testing.assert_array_equal(outside(out, box), outside(shot, box))
    assert not np.array_equal(out, shot)


def test_given_box_without_grid_evidence_says_so(tmp_path):
    """A --box over clean UI: its real (low) share, zero confidence and a note, never a
    made-up share of 1; over a flat area the share is 0."""
    image = ui_screenshot("dialog", "light", seed=0)
    result = api.restore(Image.fromarray(image), model=_tiny(tmp_path), boxes=[(300, 200, 60, 40)])
    (item,) = result.regions
    assert item.region.share < 0.9 and item.region.confidence == 0.0
    assert any("no mosaic grid evidence" in note for note in result.notes)
    flat = np.full((60, 80, 3), 200, dtype=np.uint8)
    result = api.restore(Image.fromarray(flat), model=_tiny(tmp_path), boxes=[(10, 10, 40, 30)])
    assert result.regions[0].region.share == 0.0


@needs_cases
def test_fractional_block_override_fits_the_grid():
    """``--block 8.2x10`` on the non-square case gives that grid, lines where the mosaic's are."""
    image = load("nonsquare_fractional_cells.png")
    (region,) = find_regions(image, block=(10.0, 8.2))
    assert region.pitch is not None and region.cell == (8.2, 10.0)
    assert (
        abs((region.pitch.offset_x - 276) / 8.2 - round((region.pitch.offset_x - 276) / 8.2)) < 0.1
    )
    assert abs(region.pitch.offset_y % 10 - 0) < 0.5 or abs(region.pitch.offset_y % 10 - 10) < 0.5


def _cer_of_rows(image: np.ndarray, box, rows, truth: list[str]) -> float:
    """Mean CER of Tesseract on each text line (``rows``: pixel bands, or the whole box)."""
    from depix.metrics.ocr import cer, read_line

    x, y, w, h = box
    bands = rows if len(truth) > 1 else [(y, y + h)]
    texts = [read_line(image[y0:y1, x : x + w]) for y0, y1 in bands]
    return float(np.mean([cer(t, ref) for t, ref in zip(texts, truth)]))


@pytest.mark.slow
@needs_cases
@pytest.mark.parametrize(
    "name, shrink",
    [("large_text_block8.png", 0.5), ("block14_dark.png", 0.5), ("two_lines_one_box.png", 1.0)],
)
def test_case_reads_at_least_as_well_as_shrunk_by_hand(name, shrink):
    """Scale normalisation: the shipped model on the case as it is reads (Tesseract) at least
    as well as on the same picture shrunk by hand into the trained range and restored at
    that scale (``normalise=False``)."""
    from depix.metrics.ocr import tesseract_available

    if not tesseract_available() or not api.default_model_path().is_file():
        pytest.skip("needs Tesseract and the shipped model")
    box, _, _, truth = CASES[name]
    picture = Image.open(CASES_DIR / name).convert("RGB")
    ours = api.restore(picture, normalise=True)
    (item,) = ours.regions
    small = picture.resize(
        (round(picture.width * shrink), round(picture.height * shrink)), Image.BOX
    )
    by_hand = api.restore(small, normalise=False)
    small_box = tuple(round(v * shrink) for v in box)
    small_rows = [(round(a * shrink), round(b * shrink)) for a, b in item.region.text_rows]
    cer_ours = _cer_of_rows(np.asarray(ours.image), box, item.region.text_rows, truth)
    cer_hand = _cer_of_rows(np.asarray(by_hand.image), small_box, small_rows, truth)
    assert cer_ours <= cer_hand + 1e-9, (cer_ours, cer_hand)
