"""The text decoder end to end: search, verdicts on bad input, lines, CLI, eval method."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from depix.data.fonts import discover_fonts
from depix.data.render import LineStyle, render_line, render_lines
from depix.decode.decode import DecodeOptions, decode_line
from depix.decode.forward import CellGrid
from depix.decode.search import PatternFilter
from depix.degrade.averaging import pixelate_mode
from depix.evaluate.conditions import Condition, Grid
from depix.restore.lines import split_lines


def _font(name: str) -> str:
    found = [f for f in discover_fonts("all") if name in f]
    if not found:
        pytest.skip(f"font {name} not installed")
    return found[0]


def _pixelate(image: Image.Image, block: int, oy: int, ox: int, mode: str = "srgb") -> np.ndarray:
    x = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)[None] / 255
    out = pixelate_mode(x, mode, block, block, oy, ox)[0].permute(1, 2, 0)
    return np.round(out.numpy() * 255).astype(np.uint8)


def _line(text: str, font: str, size: float, block: int, mode: str = "srgb", width: int = 96):
    style = LineStyle(font, size, (25, 25, 30), (248, 248, 245), x=4, y_jitter=0)
    image, shown = render_line(text, style, 24, width)
    assert shown == text
    return _pixelate(image, block, 1, 2, mode), CellGrid(24, width, block, 1, 2)


def test_decodes_digits_with_the_font_known() -> None:
    font = _font("DejaVuSansMono.ttf")
    observed, grid = _line("40718", font, 15, 3)
    reading = decode_line(observed, grid, DecodeOptions(fonts=[font], charset="digits", beam=6))
    assert reading.recovered, reading.reason
    assert reading.text == "40718"
    assert reading.confidence > 0.9
    assert reading.font == font and reading.size == 15
    assert reading.alternatives[0]["text"] == "40718"


def test_linear_light_averaging_is_read() -> None:
    font = _font("DejaVuSansMono.ttf")
    observed, grid = _line("9a3f", font, 15, 3, mode="linear", width=64)
    reading = decode_line(observed, grid, DecodeOptions(fonts=[font], charset="hex", beam=6))
    assert reading.text == "9a3f", reading.reason
    assert reading.averaging == "linear"


def test_pattern_restricts_the_strings() -> None:
    font = _font("DejaVuSansMono.ttf")
    observed, grid = _line("40718", font, 15, 3)
    options = DecodeOptions(fonts=[font], charset="digits", beam=6, pattern=r"[0-3]+")
    reading = decode_line(observed, grid, options)
    assert all(a["text"].strip("0123") == "" for a in reading.alternatives)
    assert not reading.recovered  # no string of 0-3 explains "40718"
    assert reading.confidence < 0.5
    assert PatternFilter(r"\d{3}-\d{2}").full_ok("123-45")
    assert not PatternFilter(r"\d{3}-\d{2}").full_ok("123-4")


def test_photo_mosaic_is_not_recovered() -> None:
    rng = np.random.default_rng(3)
    photo = Image.fromarray(rng.integers(0, 256, (24, 96, 3), dtype=np.uint8))
    observed = _pixelate(photo, 4, 0, 0)
    reading = decode_line(observed, CellGrid(24, 96, 4), DecodeOptions(charset="digits"))
    assert not reading.recovered and reading.text == ""
    assert reading.confidence == 0.0
    assert "photo" in reading.reason


def test_region_too_small_is_not_recovered() -> None:
    observed = np.full((4, 40, 3), 250, dtype=np.uint8)
    observed[:, 10:20] = 20
    reading = decode_line(observed, CellGrid(4, 40, 4), DecodeOptions(charset="digits"))
    assert not reading.recovered and "too small" in reading.reason


def test_split_lines_finds_two_lines() -> None:
    font = _font("DejaVuSans.ttf")
    style = LineStyle(font, 14, (0, 0, 0), (255, 255, 255), x=2, y_jitter=0, line_gap=8)
    image, shown = render_lines(["user: anna", "pass: Fjord!"], style, 56, 120)
    assert shown.count("\n") == 1
    observed = _pixelate(image, 4, 2, 1)
    rows = split_lines(observed, 4, 2, 1)
    assert len(rows) == 2
    assert rows[0][0] == 0 and rows[-1][1] == 56 and rows[0][1] == rows[1][0]
    assert (rows[0][1] - 2) % 4 == 0  # on a cell boundary
    single, _ = render_line("one line", style, 24, 120)
    assert split_lines(_pixelate(single, 4, 0, 0), 4) == [(0, 24)]


def test_eval_text_method_reads_a_batch() -> None:
    from depix.decode.evaluate import DecoderTextMethod

    font = _font("DejaVuSansMono.ttf")
    a, _ = _line("2718", font, 15, 3, width=64)
    b, _ = _line("3141", font, 15, 3, width=64)
    batch = torch.from_numpy(np.stack([a, b])).permute(0, 3, 1, 2).float() / 255
    grid = Grid(3, torch.tensor([1, 1]), torch.tensor([2, 2]))
    method = DecoderTextMethod(fonts=[font], charset="digits", beam=6)
    assert method(batch, grid, Condition(block=3)) == ["2718", "3141"]
    assert len(method.last_confidences) == 2 and min(method.last_confidences) > 0.9


@pytest.mark.slow
def test_cli_decode_prints_the_verdict_and_json(tmp_path, capsys) -> None:
    from depix.restore.cli import main

    font = _font("DejaVuSans.ttf")
    style = LineStyle(font, 20, (30, 30, 30), (250, 250, 250), x=4, y_jitter=0)
    image, _ = render_line("hunter42", style, 40, 180)
    pixels = np.array(image)
    pixels[6:34, 2:120] = _pixelate(image, 5, 0, 0)[6:34, 2:120]
    path = tmp_path / "shot.png"
    Image.fromarray(pixels).save(path)
    args = [str(path), "-o", str(tmp_path / "out.png"), "--decode", "--font", font]
    assert main([*args, "--box", "2,6,118,28", "--block", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    region = report["regions"][0]
    assert region["text"] == "hunter42"
    assert region["decoded"]["lines"][0]["confidence"] > 0.9
    assert region["drawn"] == "decoded"
    assert main([*args, "--box", "2,6,118,28", "--block", "5"]) == 0
    assert "recovered: 'hunter42'" in capsys.readouterr().out
    assert main([*args[:-1], str(tmp_path / "missing.ttf")]) == 1


def test_text_colour_is_profiled_out_in_closed_form() -> None:
    from depix.decode.charset import resolve_charset
    from depix.decode.forward import LineModel, glyph_set, observed_cells
    from depix.decode.search import Scorer, line_scale

    font = _font("DejaVuSansMono.ttf")
    truth, bg = (143, 66, 218), (252, 248, 238)
    style = LineStyle(font, 15, truth, bg, x=4, y_jitter=0)
    image, _ = render_line("anna42", style, 24, 96)
    grid = CellGrid(24, 96, 3, 1, 2)
    observed, _ = observed_cells(_pixelate(image, 3, 1, 2), grid)
    glyphs = glyph_set(font, 15, resolve_charset("alnum"))
    # Drawn in a first guess far from the truth (half the ink): the fit recovers the true
    # colour from the cells alone.
    guess = tuple(round(b + 0.5 * (t - b)) for t, b in zip(truth, bg))
    model = LineModel(glyphs, grid, guess, bg, "srgb")
    top = round(line_tops_of(style, 24))
    state = model.start(4.0, top)
    for char in "anna42":
        state = model.extend(state, char)
    colour = Scorer(model, observed, 1.0).colour(line_scale(Scorer(model, observed, 1.0), state))
    assert max(abs(a - b) for a, b in zip(colour, truth)) <= 2, colour


def line_tops_of(style: LineStyle, height: int) -> float:
    from depix.data.render import line_tops

    return line_tops(style, height)[0]


def test_coloured_text_is_read_from_a_poor_first_colour_guess() -> None:
    font = _font("DejaVuSansMono.ttf")
    style = LineStyle(font, 15, (143, 66, 218), (252, 248, 238), x=4, y_jitter=0)
    image, _ = render_line("7305", style, 24, 64)
    observed = _pixelate(image, 3, 1, 2)
    grid = CellGrid(24, 64, 3, 1, 2)
    reading = decode_line(observed, grid, DecodeOptions(fonts=[font], charset="digits", beam=6))
    assert reading.text == "7305", reading.reason
    fg = reading.hypothesis.foreground
    assert max(abs(a - b) for a, b in zip(fg, (143, 66, 218))) <= 3, fg


def _bench_line(index: int, seed: int) -> dict:
    from depix.decode.bench import make_line

    fonts = list(discover_fonts("test"))
    if len(fonts) < 13:
        pytest.skip("the benchmark's test fonts are not installed")
    return make_line(index, seed, fonts)


def test_starts_reach_into_a_faint_row_above_and_below() -> None:
    from depix.decode.decode import _starts
    from depix.decode.forward import LineModel, glyph_set

    font = _font("DejaVuSansMono.ttf")
    grid = CellGrid(36, 60, 6, 1, 2)
    model = LineModel(glyph_set(font, 18, "ab"), grid, (0, 0, 0), (255, 255, 255), "srgb")
    box = (2, 5, 1, 8)
    plain = _starts(model, box)
    up = _starts(model, box, (True, False))
    down = _starts(model, box, (False, True))
    top_min = min(t for _, t in plain)
    # a faint row above lets the top rise by up to a third of a block (2 px at block 6)
    assert min(t for _, t in up) == top_min - 2
    assert set(plain) <= set(up) and set(plain) <= set(down)
    # a faint row below lets the baseline fall into it
    assert max(t for _, t in down) >= max(t for _, t in plain)


def test_dark_text_whose_cap_tops_are_faint_in_linear_light_is_read() -> None:
    # Benchmark seed 13, line 13: Inconsolata 20 px, block 6, linear light, dark on light; the
    # caps' top pixel falls in a cell row whose ink stays under the ink threshold, so the true
    # top was outside the starts (read as 15 px garbage before).
    line = _bench_line(13, 13)
    reading = decode_line_of(line, charset="htps:/-iembrd.")
    assert reading.guess == line["text"]


@pytest.mark.slow
def test_size_screen_in_both_averagings_finds_light_text_in_linear_light() -> None:
    # Benchmark seed 13, line 12: light on dark, linear light, block 4; the sRGB screen ranked
    # the true 16 px outside its best 3 and the line was read at 18 px ('mer_l05''62').
    line = _bench_line(12, 13)
    reading = decode_line_of(line)
    assert reading.guess == line["text"]
    assert reading.size == line["size"] and reading.averaging == "linear"


def decode_line_of(line: dict, charset: str = "printable"):
    from depix.decode.region import decode_region

    options = DecodeOptions(fonts=[line["font"]], charset=charset)
    region = decode_region(line["rgb"], line["block"], *line["offset"], options)
    return region.lines[0]


def test_screen_narrows_to_the_best_averaging_after_the_first_sizes(monkeypatch) -> None:
    import depix.decode.decode as decode_module

    font = _font("DejaVuSansMono.ttf")
    observed, grid = _line("9a3f", font, 15, 3, mode="linear", width=64)
    real = decode_module.LineModel
    screens: list[str] = []

    def spy(glyphs, grid, fg, bg, averaging, phase_step=1):
        if phase_step > 1:  # the screen's approximate model
            screens.append(averaging)
        return real(glyphs, grid, fg, bg, averaging, phase_step)

    monkeypatch.setattr(decode_module, "LineModel", spy)
    counts = {}
    for sizes in (0, 1):
        screens.clear()
        options = DecodeOptions(fonts=[font], charset="hex", beam=6, screen_fit=-1.0,
                                averaging_sizes=sizes)  # fmt: skip
        reading = decode_line(observed, grid, options)
        assert reading.text == "9a3f" and reading.averaging == "linear"
        counts[sizes] = screens.count("srgb")
    # every size in both averagings, versus the first size only (then linear alone) and the
    # finalists' rescreen
    assert counts[1] < counts[0]
    assert screens[:2] == ["srgb", "linear"] and screens[2] == "linear"
