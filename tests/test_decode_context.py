"""Reading a detected region with its surroundings, and probe strings that pick the fonts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from depix.data.fonts import discover_fonts
from depix.restore.lines import FLAT_SPREAD, line_windows, quiet_surroundings


def _font(stem: str) -> str:
    found = [f for f in discover_fonts("all") if Path(f).stem == stem]
    if not found:
        pytest.skip(f"font {stem} not installed")
    return found[0]


def test_line_windows_widen_by_whole_cells_and_stop_at_the_picture() -> None:
    bands = [(0, 12), (12, 30)]
    # region at y=20, x=3, 30 x 50 px in a 100 x 60 picture, block 6, two cells of margin
    windows = line_windows(bands, (20, 3, 30, 50), (100, 60, 3), 6)
    assert windows[0] == (-12, -3, 12, 57)  # above the first line; left clipped at x=0
    assert windows[1] == (12, -3, 42, 57)  # below the last line; right clipped at x=60
    # a region at the picture's corner gets no margin there
    assert line_windows([(0, 10)], (0, 0, 10, 20), (10, 20, 3), 5) == [(0, 0, 10, 20)]


def test_quiet_surroundings_blanks_busy_cells_outside_the_mosaic_only() -> None:
    crop = np.full((12, 24, 3), 240, dtype=np.uint8)
    crop[0:4, 0:4] = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) * 15  # busy, outside
    crop[4:8, 8:12] = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) * 15  # busy, inside
    crop[8:12, 20:24] = 30  # flat dark cell, outside: kept (could be the mosaic's own)
    out = quiet_surroundings(crop, (4, 4, 8, 20), 4, 0, 0)
    assert (out[0:4, 0:4] == 240).all()
    assert (out[4:8, 8:12] == crop[4:8, 8:12]).all()
    assert (out[8:12, 20:24] == 30).all()
    # nothing busy outside: the crop comes back unchanged
    assert (quiet_surroundings(out, (4, 4, 8, 20), 4, 0, 0) == out).all()
    assert FLAT_SPREAD > 0


@pytest.fixture(scope="module")
def fields(tmp_path_factory):
    """The decoder benchmark's several-field screenshot (JPEG q85) and its detected regions."""
    from PIL import Image

    from depix.decode.bench import SCREENSHOT_FIELDS, make_screenshot
    from depix.restore.detect import find_regions

    for _, _, name, _, _ in SCREENSHOT_FIELDS:
        _font(name)
    path = tmp_path_factory.mktemp("fields") / "fields.jpg"
    truth = make_screenshot(path)
    rgb = np.asarray(Image.open(path).convert("RGB"))
    regions = find_regions(rgb)
    assert len(regions) == len(truth)
    return rgb, regions, truth


def _decode(rgb, region, options, context: bool):
    from depix.decode.region import decode_region
    from depix.restore.api import _relative_grid

    block, _, oy, ox = _relative_grid(region)
    crop = np.ascontiguousarray(rgb[region.y : region.y + region.h, region.x : region.x + region.w])
    extra = {"image": rgb, "origin": (region.y, region.x)} if context else {}
    return decode_region(crop, block, oy, ox, options, **extra)


def test_a_detected_region_is_read_with_its_surroundings(fields) -> None:
    """The detector ends a region at its ink, so every cell of the token field's region
    holds ink: alone it has no background to read against ("no uniform background"); with
    two cells of its surroundings it reads exactly."""
    from depix.decode.decode import DecodeOptions

    rgb, regions, truth = fields
    options = DecodeOptions(fonts=[truth[2]["font"]], charset="hex")
    assert regions[2].h < truth[2]["box"][3]  # the detected region is tighter than the box
    bare = _decode(rgb, regions[2], options, context=False).lines[0]
    wide = _decode(rgb, regions[2], options, context=True).lines[0]
    assert not bare.recovered and "background" in bare.reason
    assert wide.text == "9f3a7c21" and wide.size == 30


def test_a_faint_ascender_row_under_jpeg_noise_lets_the_top_rise(fields) -> None:
    """Liberation Sans 24 px, block 5, JPEG q85: the 'b' ascender's top pixel row lies in the
    cell row above the ink rows, 12 levels from the background while sigma (JPEG plus the
    rasterizer share of the contrast) is 6.8. Judged against sigma it was no faint row, the
    true top was not among the starts and the line read 'arIoa-we!lieI' at 23 px; judged
    against the cell noise alone (rounding, JPEG) it is."""
    from depix.decode.decode import DecodeOptions

    rgb, regions, truth = fields
    options = DecodeOptions(fonts=[truth[0]["font"]], charset="anwebrlio.!-I")
    wide = _decode(rgb, regions[0], options, context=True).lines[0]
    assert wide.guess == "anna.weber" and wide.recovered and wide.size == 24


def test_unpixelated_content_beside_the_mosaic_is_not_scored() -> None:
    """A clear label two cells left of the mosaic: its cells are left out of the cost."""
    from depix.data.render import LineStyle, render_line
    from depix.decode.decode import DecodeOptions, decode_line
    from depix.decode.forward import CellGrid
    from tests.test_decode import _pixelate

    font = _font("DejaVuSansMono")
    style = LineStyle(font, 15, (25, 25, 30), (248, 248, 245), x=14, y_jitter=0)
    image, _ = render_line("40718", style, 24, 80)
    pixels = _pixelate(image, 3, 0, 0)
    label = np.array(render_line("Ab", LineStyle(font, 9, (0, 0, 0), (248, 248, 245), x=0,
                                                 y_jitter=0), 12, 9)[0])  # fmt: skip
    pixels[6:18, 0:9] = label  # unpixelated text in the margin (x < 12)
    options = DecodeOptions(fonts=[font], charset="digits", beam=6)
    reading = decode_line(pixels, CellGrid(24, 80, 3), options, mosaic_box=(0, 12, 24, 80))
    assert reading.text == "40718", reading.reason


def test_probe_strings_rank_the_true_font_first_even_with_wrong_characters(fields) -> None:
    from depix.decode.decode import background_colour
    from depix.decode.forward import CellGrid, observed_cells
    from depix.decode.probe import ProbeTarget, rank_fonts
    from depix.restore.api import _relative_grid

    rgb, regions, truth = fields
    r = regions[3]  # '4921 7734 0082', Liberation Serif 32 px, block 10
    block, _, oy, ox = _relative_grid(r)
    top, left = r.y - 2 * block, r.x - 2 * block
    window = rgb[top : r.y + r.h + 2 * block, left : r.x + r.w + 2 * block]
    grid = CellGrid(window.shape[0], window.shape[1], block, (r.y + oy - top) % block,
                    (r.x + ox - left) % block)  # fmt: skip
    observed, _ = observed_cells(window, grid)
    bg, _ = background_colour(observed)
    distance = np.abs(np.nan_to_num(observed) - bg).max(-1)
    ink = distance > max(8.0, 0.15 * distance.max())  # decode_line's ink threshold
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    target = ProbeTarget(observed, bg, block, (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1))
    stems = ["LiberationSerif-Regular", "LiberationSerif-Bold", "DejaVuSerif", "FreeSerif",
             "LiberationSans-Regular", "DejaVuSans", "LiberationMono-Regular"]  # fmt: skip
    sizes = {_font(s): [float(v) for v in range(28, 37)] for s in stems}
    for probe in ("4921 7734 0082", "4923 7738 902"):  # the truth; the reader's reading
        ranked = rank_fonts(target, [probe], sizes)
        assert Path(ranked[0][1]).stem == "LiberationSerif-Regular", (
            probe,
            [(round(c), Path(f).stem, o[:3]) for c, f, o in ranked],
        )
        assert 32.0 in ranked[0][2][:3]
    # plain least squares: the reader's wrong characters cost the true font its rank (the
    # capped cost is what makes a wrong probe useful)
    plain = rank_fonts(target, ["4923 7738 902"], sizes, cap=None)
    assert Path(plain[0][1]).stem != "LiberationSerif-Regular"
    assert rank_fonts(target, [], sizes)[0][0] == float("inf")  # no probe ranks nothing


def test_fonts_are_searched_in_the_probes_order_and_stop_when_recovered(monkeypatch) -> None:
    import depix.decode.decode as decode_module
    from depix.decode.decode import DecodeOptions, decode_line
    from tests.test_decode import _line

    stems = ["DejaVuSans", "DejaVuSerif", "LiberationSans-Regular", "LiberationSerif-Regular",
             "LiberationMono-Regular", "FreeSans", "FreeMono", "DejaVuSansMono"]  # fmt: skip
    fonts = [_font(s) for s in stems]
    observed, grid = _line("40718", fonts[-1], 15, 3)
    seen: list[str] = []
    real = decode_module.glyph_set

    def spy(font, size, charset, antialias="grey"):
        seen.append(font)
        return real(font, size, charset, antialias)

    monkeypatch.setattr(decode_module, "glyph_set", spy)
    options = DecodeOptions(fonts=fonts, charset="digits", beam=6)
    reading = decode_line(observed, grid, options, probes=["40718"])
    assert reading.text == "40718" and reading.font == fonts[-1] and reading.size == 15
    # the probe ranks the true font and size first: one search, no screen of the others
    assert set(seen) == {fonts[-1]}


def test_a_field_is_recovered_with_the_font_unknown(fields, monkeypatch) -> None:
    """The whole font library (dozens of fonts), the shipped reader's readings as probes:
    the token field of the several-field screenshot (Inconsolata 30 px, block 8, JPEG q85)
    comes back exactly, in its own font. The reader's readings ('0F1a7c20'...) rank wider
    monospaced fonts first; the first round's best guess, read in one of them, joins the
    probes and brings Inconsolata up."""
    import depix.decode.decode as decode_module
    from depix.decode.decode import DecodeOptions
    from depix.reader.read import shipped_reader_available

    if not shipped_reader_available():
        pytest.skip("the package holds no reader")
    rgb, regions, truth = fields
    assert len(discover_fonts("all")) > DecodeOptions().font_shortlist
    probed: list[list[str]] = []
    real = decode_module.rank_fonts

    def spy(target, probes, sizes, *args, **kwargs):
        probed.append(list(probes))
        return real(target, probes, sizes, *args, **kwargs)

    monkeypatch.setattr(decode_module, "rank_fonts", spy)
    reading = _decode(rgb, regions[2], DecodeOptions(), context=True).lines[0]
    assert reading.text == "9f3a7c21" and reading.confidence > 0.9
    assert reading.font == truth[2]["font"] and reading.size == 30
    assert len(probed) >= 2 and len(probed[-1]) > len(probed[0])  # a guess joined the probes


def test_the_reader_reads_regions_with_their_surroundings(fields) -> None:
    """``--read``'s reader sees each line with two cells of its surroundings: on the four
    fields it reads far better than from the bare regions (measured: mean CER 0.95 -> 0.39)."""
    from depix.metrics.ocr import cer
    from depix.reader.read import read_crops, shipped_reader_available
    from depix.restore.api import _reader_crops, _relative_grid
    from depix.restore.lines import split_lines

    if not shipped_reader_available():
        pytest.skip("the package holds no reader")
    rgb, regions, truth = fields
    bare, wide = [], []
    for r, t in zip(regions, truth):
        block, _, oy, ox = _relative_grid(r)
        crop = rgb[r.y : r.y + r.h, r.x : r.x + r.w]
        bands = split_lines(crop, block, oy, ox)
        crops = _reader_crops(rgb, r, bands)
        assert crops[0].shape[:2] == (r.h + 4 * block, r.w + 4 * block)
        wide.append(cer(read_crops(crops)[0][0][0], t["text"]))
        bare.append(cer(read_crops([crop])[0][0][0], t["text"]))
    assert np.mean(wide) < 0.5 * np.mean(bare), (bare, wide)


def test_a_line_not_recovered_is_read_again_in_the_font_of_its_neighbour(monkeypatch) -> None:
    """The lines of one box share a font: when one line is recovered and another is not,
    the other is decoded again with that font alone (the case file two_lines_one_box.png:
    its second line was read in a wrong font, 3.5 sigma, and in the first line's font reads
    exactly)."""
    import depix.decode.region as region_module
    from depix.data.render import LineStyle, render_lines
    from depix.decode.decode import DecodeOptions, LineReading
    from tests.test_decode import _pixelate

    font = _font("DejaVuSansMono")
    style = LineStyle(font, 14, (0, 0, 0), (255, 255, 255), x=2, y_jitter=0, line_gap=8)
    image, _ = render_lines(["user: anna", "pass: 1234"], style, 56, 120)
    observed = _pixelate(image, 4, 2, 1)
    calls: list[tuple[int, object]] = []

    def fake(crop, grid, options, mosaic_box=None, probes=()):
        line = sum(1 for k, _ in calls if k == 0) if options.fonts is None else 1
        calls.append((0 if options.fonts is None else 1, options.fonts))
        if line == 0 or options.fonts == [font]:
            return LineReading("ok", 1.0, True, font=font, size=14.0, residual=0.1)
        return LineReading("", 0.2, False, "wrong font", font="other.ttf", residual=3.5)

    monkeypatch.setattr(region_module, "decode_line", fake)
    reading = region_module.decode_region(observed, 4, 2, 1, DecodeOptions(use_reader=False))
    assert len(reading.lines) == 2
    assert all(line.recovered for line in reading.lines)
    assert calls[-1] == (1, [font])  # the second line again, in the first line's font


def test_reader_probes_keep_to_the_charset(fields) -> None:
    """``--charset digits``: the reader's readings that rank the fonts hold digits only."""
    from depix.decode.forward import CellGrid
    from depix.decode.region import reader_probes
    from depix.reader.read import shipped_reader_available
    from depix.restore.api import _relative_grid

    if not shipped_reader_available():
        pytest.skip("the package holds no reader")
    rgb, regions, _ = fields
    r = regions[3]  # '4921 7734 0082'
    block, _, oy, ox = _relative_grid(r)
    crop = np.ascontiguousarray(rgb[r.y : r.y + r.h, r.x : r.x + r.w])
    grid = CellGrid(r.h, r.w, block, oy, ox)
    free = reader_probes(crop, (0, 0, r.h, r.w), grid)
    allowed = set("0123456789 ")
    digits = reader_probes(crop, (0, 0, r.h, r.w), grid, charset="0123456789 ")
    assert digits and all(set(p) <= allowed for p in digits)
    assert any(set(p) - allowed for p in free)  # unrestricted, the bare crop reads '_', 'A'...
