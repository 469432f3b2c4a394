"""The decoder's fast forward model against full rendering + the project's pixelation."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from depix.data.fonts import discover_fonts
from depix.data.render import LineStyle, line_tops, render_line
from depix.decode.forward import (
    CellGrid,
    Hypothesis,
    LineModel,
    glyph_set,
    observed_cells,
    pixelate_cells,
    reference_cells,
    render_hypothesis,
)
from depix.degrade.averaging import pixelate_mode

CHARSET = "".join(chr(c) for c in range(32, 127))


def _fonts() -> list[str]:
    fonts = discover_fonts("all")
    wanted = (
        "LiberationSans-Regular",
        "LiberationSerif-Italic",
        "DejaVuSansMono.",
        "Roboto-Regular",
    )
    picked = [f for f in fonts if any(w in f for w in wanted)]
    return picked or list(fonts[:2])


def _incremental(model: LineModel, text: str, x: float, top: int):
    state = model.start(x, top)
    for char in text:
        state = model.extend(state, char)
    return state


@pytest.mark.parametrize("averaging", ["srgb", "srgb_trunc", "linear"])
def test_fast_path_equals_render_and_pixelate(averaging: str) -> None:
    rng = random.Random(7)
    # Ligatures (ff, fi, fl) are drawn as one glyph by HarfBuzz: the reference rescoring
    # covers them, the incremental model does not claim to.
    alphabet = CHARSET.replace("f", "")
    for font in _fonts():
        for _ in range(3):
            size = rng.choice([13, 16, 17.5, 22])
            block = rng.choice([3, 5, 8])
            grid = CellGrid(38, 260, block, rng.randrange(block), rng.randrange(block))
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 14)))
            fg = tuple(rng.randrange(256) for _ in range(3))
            bg = tuple(rng.randrange(256) for _ in range(3))
            x, top = rng.choice([0.0, 2.0, 5.5, 7.25]), rng.randrange(0, 8)
            model = LineModel(glyph_set(font, size, CHARSET), grid, fg, bg, averaging)
            state = _incremental(model, text, x, top)
            hyp = model.hypothesis(state)
            assert hyp == Hypothesis(text, font, size, x, top, fg, bg, "grey", averaging)
            np.testing.assert_array_equal(model.levels(state), reference_cells(hyp, grid))


def test_candidates_match_extend() -> None:
    font = _fonts()[0]
    grid = CellGrid(30, 200, 6, 2, 4)
    model = LineModel(glyph_set(font, 18, CHARSET), grid, (20, 20, 20), (250, 250, 240), "linear")
    state = _incremental(model, "Wa7", 3.0, 4)
    chars = np.arange(len(CHARSET))
    seen = 0
    for group, pen, (r0, r1, c0, c1), sums in model.candidates(state, chars):
        for k, index in enumerate(group):
            one = model.extend(state, CHARSET[index])
            assert one.pen == pen
            np.testing.assert_allclose(sums[k], one.sums[r0:r1, c0:c1])
            rest = np.ones(one.sums.shape[:2], bool)
            rest[r0:r1, c0:c1] = False
            np.testing.assert_array_equal(one.sums[rest], state.sums[rest])
            seen += 1
    assert seen == len(CHARSET)


def test_reference_is_the_datasets_renderer() -> None:
    """A hypothesis at the renderer's own origin draws exactly what render_line draws."""
    font = _fonts()[0]
    style = LineStyle(font, 17, (30, 40, 50), (240, 235, 220), x=4, y_jitter=1)
    image, text = render_line("hunter42 Qx", style, 32, 160)
    top = line_tops(style, 32)[0]
    hyp = Hypothesis(text, font, 17, 4.0, top, style.foreground, style.background)
    np.testing.assert_array_equal(render_hypothesis(hyp, 32, 160), np.asarray(image))


def test_cells_agree_with_pixelate_mode() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (23, 41, 3), dtype=np.uint8)
    grid = CellGrid(23, 41, 5, 3, 1)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    out = np.round(pixelate_mode(x, "srgb", 5, 5, 3, 1)[0].permute(1, 2, 0).numpy() * 255)
    cells = pixelate_cells(rgb, grid, "srgb")
    # every pixel holds its cell's value
    b = grid.block
    for y in range(23):
        for xx in range(41):
            np.testing.assert_array_equal(
                cells[(y + grid.pad_y) // b, (xx + grid.pad_x) // b], out[y, xx]
            )
    means, spread = observed_cells(np.round(out).astype(np.uint8), grid)
    np.testing.assert_allclose(means, cells)
    assert np.nanmax(spread) == 0
