"""The glyph atlas against Pillow's own text drawing, and repeated clean samples."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from depix.data.fonts import BUILTIN, discover_fonts, fonts_by_kind, load_font
from depix.data.glyphs import GlyphAtlas, atlas
from depix.data.render import LineStyle, render_lines
from depix.data.resumable import ResumableSampler, SeededSamples
from depix.data.synthetic_text import SyntheticTextDataset
from depix.data.text import random_text

FONT = next((p for p in discover_fonts("all") if "DejaVuSans.ttf" in p), discover_fonts("all")[0])


def pillow(text: str, font, x: float, y: float, size=(40, 300), mode="L") -> np.ndarray:
    image = Image.new("L", size[::-1])
    draw = ImageDraw.Draw(image)
    draw.fontmode = mode
    draw.text((x, y), text, fill=255, font=font)
    return np.asarray(image)


@pytest.mark.parametrize("x, y", [(0, 0), (3.3, 2.7), (10.6, -1.4)])
def test_atlas_draws_like_pillow_at_fractional_positions(x, y):
    font = load_font(FONT, 17.5)
    text = "Hello, World! AV To 42"
    assert np.array_equal(atlas(FONT, 17.5).compose(text, x, y, 40, 300), pillow(text, font, x, y))


def test_atlas_layout_is_pillows_advance_with_kerning():
    glyphs = atlas(FONT, 20)
    text = "AVATAR To"
    pen, prefix = glyphs.layout(text)
    assert pen[-1] == prefix[-1] == round(load_font(FONT, 20).getlength(text) * 64)
    assert all(prefix[i] == round(load_font(FONT, 20).getlength(text[:i]) * 64) for i in range(9))
    assert glyphs.kerning("A", "V") < 0  # DejaVu kerns AV
    with pytest.raises(ValueError, match="mode"):
        GlyphAtlas(load_font(FONT, 20), mode="RGB")


def test_overlapping_draws_blend_like_pillow():
    font = load_font(FONT, 24)
    canvas = atlas(FONT, 24).compose("WWW", 2, 2, 40, 300)
    atlas(FONT, 24).draw(canvas, "iii", 5.5, 4.2)  # a second line over the first one's ink
    image = Image.new("L", (300, 40))
    draw = ImageDraw.Draw(image)
    draw.text((2, 2), "WWW", fill=255, font=font)
    draw.text((5.5, 4.2), "iii", fill=255, font=font)
    assert np.array_equal(canvas, np.asarray(image))


@pytest.mark.skipif(discover_fonts("train") == (BUILTIN,), reason="no system fonts installed")
def test_atlas_renderer_matches_pillow_on_random_training_lines():
    """Same text shown, and nearly every pixel the same (ligatures and rare one-pixel
    differences in Pillow's line alignment are not reproduced)."""
    ds = SyntheticTextDataset(length=64, seed=5, multiline_p=0.3, spacing_p=0.3, selection_p=0.3)
    identical, differing = 0, []
    for i in range(40):
        rng = ds._rng(i)
        style = ds.random_style(rng)
        texts = [random_text(rng) for _ in range(rng.randint(1, 2))]
        a, shown_a = render_lines(texts, style, 48, 192, engine="atlas")
        b, shown_b = render_lines(texts, style, 48, 192, engine="pillow")
        assert shown_a == shown_b
        a, b = np.asarray(a), np.asarray(b)
        identical += np.array_equal(a, b)
        differing.append((a != b).any(axis=2).mean())
    assert identical >= 30
    assert np.mean(differing) < 0.005
    with pytest.raises(ValueError, match="engine"):
        render_lines(["x"], LineStyle(FONT, 12, (0, 0, 0), (255,) * 3, 0, 0), 20, 40, "cairo")


def test_repeat_gives_runs_of_one_clean_sample_rendered_once(monkeypatch):
    ds = SyntheticTextDataset(length=64, size=(32, 96), font_sizes=(10, 14))
    plain = list(ResumableSampler(ds, seed=1))
    runs = list(ResumableSampler(ds, seed=1, repeat=4))
    assert runs[::4] == plain[::4] and all(runs[i] == runs[i - i % 4] for i in range(64))
    assert len({seed for _, seed in runs}) == 16
    calls = []
    real = SyntheticTextDataset.random_style
    monkeypatch.setattr(
        SyntheticTextDataset, "random_style", lambda self, rng: calls.append(1) or real(self, rng)
    )
    samples = SeededSamples(ds)
    out = [samples[key] for key in runs[:8]]
    assert len(calls) == 2  # two clean lines rendered for eight samples
    assert torch.equal(out[0]["image"], out[3]["image"]) and out[0]["text"] == out[3]["text"]
    assert out[4]["text"] != out[0]["text"] or not torch.equal(out[4]["image"], out[0]["image"])
    # two ranks: each rank's runs are its own consecutive samples
    rank1 = list(ResumableSampler(ds, seed=1, num_replicas=2, rank=1, repeat=2))
    assert all(rank1[i] == rank1[i - i % 2] for i in range(len(rank1)))
    assert set(rank1[::2]).isdisjoint(list(ResumableSampler(ds, seed=1, num_replicas=2, repeat=2)))
    with pytest.raises(ValueError, match="repeat"):
        ResumableSampler(ds, seed=1, repeat=0)


@pytest.mark.skipif(discover_fonts("train") == (BUILTIN,), reason="no system fonts installed")
def test_atlas_dataset_is_reproducible_and_its_glyphs_are_cached():
    settings = dict(length=16, size=(48, 192), seed=2, engine="atlas")
    a, b = SyntheticTextDataset(**settings), SyntheticTextDataset(**settings)
    assert all(torch.equal(a[i]["image"], b[i]["image"]) for i in range(6))
    glyphs = atlas(fonts_by_kind("train")[next(iter(fonts_by_kind("train")))][0], 15)
    glyphs.layout("cached")
    assert glyphs.glyph("c") is glyphs.glyph("c")
