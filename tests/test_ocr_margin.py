import numpy as np
import pytest

pytesseract = pytest.importorskip("pytesseract")

from depix.metrics.ocr import read_line  # noqa: E402


def test_margin_pads_the_line_with_its_own_background(monkeypatch):
    seen = []
    monkeypatch.setattr(
        pytesseract, "image_to_string", lambda picture, config: seen.append(picture) or "x"
    )
    line = np.full((10, 30, 3), 240, np.uint8)
    line[2:8, 0:5] = 20  # ink touching the left edge, as a crop cut to a mosaic's cells
    read_line(line, upscale=1, margin=4)
    padded = np.asarray(seen[-1])
    assert padded.shape == (18, 38, 3)
    assert (padded[:4] == 240).all() and (padded[:, :4] == 240).all()  # background, not ink
    assert np.array_equal(padded[4:-4, 4:-4], line)
    read_line(line, upscale=1)
    assert np.asarray(seen[-1]).shape == (10, 30, 3)  # no margin unless asked
