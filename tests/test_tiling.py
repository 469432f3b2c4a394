"""Tiled restoration equals a single pass of the shipped network (no seams), within 1 level."""

from __future__ import annotations

import pytest
import torch

from depix.models.loading import load_model
from depix.restore.api import DEFAULT_MODEL
from depix.restore.synthetic import MosaicBox, pixelate_boxes, text_canvas
from depix.restore.tiling import CONTEXT, run_tiled


@pytest.fixture(scope="module")
def shipped():
    if not DEFAULT_MODEL.is_file():
        pytest.skip("no shipped model (make ship)")
    return load_model(DEFAULT_MODEL).net


def pixelated_text(h: int, w: int, seed: int) -> torch.Tensor:
    picture = pixelate_boxes(
        text_canvas(w, h, seed=seed), [MosaicBox(8, 8, w - 16, h - 16, 6, 2, 3)]
    )
    return torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 255


def test_tiled_shipped_model_matches_a_single_pass(shipped):
    """3 x 3 tiles of at most 320 px (the default 96 px of context around 128 px cores) over
    a 336 x 336 text mosaic: every pixel within 0.1 level of the untiled output before
    rounding (measured 0.003), so at most 1 level apart in the saved 8-bit image."""
    assert CONTEXT == 96
    x = pixelated_text(336, 336, seed=2)
    with torch.inference_mode():
        whole = shipped(x)
    tiled = run_tiled(shipped, x, tile=320)
    assert tiled.shape == whole.shape
    assert float((tiled - whole).abs().max()) * 255 <= 0.1
    levels = [(t.clamp(0, 1) * 255).round() for t in (tiled, whole)]
    assert float((levels[0] - levels[1]).abs().max()) <= 1


def test_tiles_that_do_not_fit_context_are_refused(shipped):
    x = torch.rand(1, 3, 300, 300)
    with pytest.raises(ValueError, match="too small for 96 px of context"):
        run_tiled(shipped, x, tile=200, context=96)
