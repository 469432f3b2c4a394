"""Screenshot realism of the synthetic text: anti-aliasing kinds, fonts, lines, colours."""

import numpy as np
import pytest
import torch

from depix.data.fonts import BUILTIN, discover_fonts, fonts_by_kind
from depix.data.render import ANTIALIAS, LineStyle, render_line, render_lines
from depix.data.synthetic_text import SyntheticTextDataset
from depix.data.text import GENERATORS, random_text

FONT = next((p for p in discover_fonts("all") if "DejaVuSans.ttf" in p), discover_fonts("all")[0])
BLACK, WHITE = (0, 0, 0), (255, 255, 255)


def draw(text="Hello world 42", height=32, width=160, **kw) -> np.ndarray:
    style = LineStyle(FONT, kw.pop("font_size", 16), BLACK, WHITE, 4, 0, **kw)
    image, shown = render_line(text, style, height, width)
    return np.asarray(image, dtype=np.int16), shown


def chroma(image: np.ndarray) -> np.ndarray:
    return image.max(axis=2) - image.min(axis=2)


def test_grey_antialiasing_keeps_grey_text_grey_with_intermediate_levels():
    image, _ = draw(antialias="grey")
    assert chroma(image).max() == 0
    assert len(np.unique(image)) > 10  # anti-aliased edges, not just black and white


def test_subpixel_antialiasing_gives_colour_fringes_on_grey_text():
    image, _ = draw(antialias="subpixel")
    fringe = chroma(image)
    assert fringe.max() > 60 and (fringe > 20).sum() > 50
    # RGB order: at the left edge of a black stem the rightmost sub-pixel (blue) is
    # covered first, so that pixel is reddish (R > B); BGR order mirrors it.
    for bgr, sign in ((False, 1), (True, -1)):
        image, _ = draw("l", antialias="subpixel", subpixel_bgr=bgr, font_size=24)
        row = image[image.shape[0] // 2]
        first = int(np.nonzero(row.min(axis=1) < 250)[0][0])  # first touched pixel
        assert sign * (row[first, 0] - row[first, 2]) > 20


def test_aliased_text_has_only_the_two_colours():
    image, _ = draw(antialias="none")
    assert set(np.unique(image)) == {0, 255}


def test_antialias_kinds_differ_and_bad_kind_is_a_clear_error():
    images = [draw(antialias=kind)[0] for kind in ANTIALIAS]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j])
    with pytest.raises(ValueError, match="antialias"):
        LineStyle(FONT, 16, BLACK, WHITE, 0, 0, antialias="cleartype")


def test_shown_text_is_what_fits_also_with_letter_spacing():
    text = "a fairly long line of text that cannot possibly fit"
    for spacing in (0.0, 2.0):
        image, shown = draw(text, letter_spacing=spacing)
        assert text.startswith(shown) and len(shown) < len(text)
        ink_cols = np.nonzero((image < 128).any(axis=(0, 2)))[0]
        assert ink_cols.max() < image.shape[1] - 1
    tight, _ = draw("iiiiiiii")
    wide, _ = draw("iiiiiiii", letter_spacing=2.0)
    span = [np.ptp(np.nonzero((im < 128).any(axis=(0, 2)))[0]) for im in (tight, wide)]
    assert span[1] >= span[0] + 12  # 7 gaps of 2 px


def test_multiline_text_is_joined_and_drawn_on_separate_rows():
    style = LineStyle(FONT, 12, BLACK, WHITE, 2, 0)
    image, shown = render_lines(["first line", "second", "third"], style, 48, 160)
    lines = shown.split("\n")
    assert lines == ["first line", "second", "third"]
    ink_rows = np.nonzero((np.asarray(image) < 128).any(axis=(1, 2)))[0]
    assert np.diff(ink_rows).max() > 1  # blank gaps between the lines
    _, one = render_lines(["a", "b", "c"], LineStyle(FONT, 20, BLACK, WHITE, 2, 0), 32, 160)
    assert one == "a"  # only what fits vertically is drawn and returned


def test_syntax_colours_and_selection_are_drawn():
    red, green = (200, 0, 0), (0, 150, 0)
    style = LineStyle(FONT, 16, BLACK, WHITE, 2, 0, token_colours=(red, green), colour_seed=1)
    image, _ = render_line('key = "value"; x', style, 32, 200)
    pixels = {tuple(p) for p in np.asarray(image).reshape(-1, 3)}
    assert red in pixels or green in pixels
    sel = (51, 153, 255)
    style = LineStyle(FONT, 16, BLACK, WHITE, 2, 0, selection=(0, 0.2, 0.6), selection_colour=sel)
    image = np.asarray(render_line("selected words here", style, 32, 200)[0])
    mask = (image == sel).all(axis=2)
    cols = np.nonzero(mask.any(axis=0))[0]
    assert mask.sum() > 100 and cols.min() > 2 and cols.max() < 199


@pytest.mark.skipif(discover_fonts("all") == (BUILTIN,), reason="no system fonts installed")
def test_fonts_are_classified_and_both_kinds_exist():
    kinds = fonts_by_kind("all")
    assert kinds.get("mono") and kinds.get("proportional")
    assert any("Mono" in p for p in kinds["mono"])
    assert not any("Mono" in p for p in kinds["proportional"])
    assert all("bold" in p.lower() or "black" in p.lower() for p in kinds.get("mono_bold", ()))


def test_dataset_realism_knobs_and_determinism():
    settings = dict(
        length=32,
        size=(48, 192),
        font_sizes=(10, 14),
        seed=3,
        multiline_p=1.0,
        antialias={"subpixel": 1},
    )
    ds = SyntheticTextDataset(**settings)
    texts = [ds[i]["text"] for i in range(8)]
    assert all("\n" in t for t in texts)
    again = SyntheticTextDataset(**settings)
    assert all(torch.equal(ds[i]["image"], again[i]["image"]) for i in range(8))
    image = ds[0]["image"]
    assert (image.max(0).values - image.min(0).values).max() > 0.1  # colour fringes
    with pytest.raises(ValueError, match="antialias"):
        SyntheticTextDataset(antialias={"cleartype": 1})
    with pytest.raises(ValueError, match="mono_p"):
        SyntheticTextDataset(mono_p=2.0)


def test_new_text_kinds():
    import random

    rng = random.Random(0)
    assert {"uuid", "code"} <= set(GENERATORS)
    uuid = random_text(rng, {"uuid": 1})
    assert [len(part) for part in uuid.split("-")] == [8, 4, 4, 4, 12]
    assert any(k in random_text(rng, {"code": 1}) for k in ("=", ":"))
