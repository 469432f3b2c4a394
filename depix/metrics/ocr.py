"""Readability of restored text: Tesseract OCR and character error rate.

Tesseract is an OCR engine we did not train, so it cannot be fooled by our own model's
habits. It is optional: without the binary every OCR figure is reported as missing, never
as zero. CER is torchmetrics' (edit distance / reference length).
"""

from __future__ import annotations

import shutil
from functools import lru_cache

import numpy as np
from PIL import Image
from torchmetrics.functional.text import char_error_rate

# One text line, whitelist-free: passwords and hex tokens contain anything.
TESSERACT_CONFIG = "--psm 7 --oem 1"


@lru_cache(maxsize=1)
def tesseract_available() -> bool:
    """True when the ``tesseract`` binary and the ``pytesseract`` wrapper are both present."""
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return True


def read_line(image: np.ndarray | Image.Image, upscale: int = 2, margin: int = 0) -> str:
    """OCR of one text line (uint8 RGB array (H, W, 3) or PIL image).

    ``upscale``: Tesseract prefers larger glyphs. ``margin``: px of the crop's own border colour
    (median of its edge pixels) added on every side first; Tesseract misreads text that touches
    the image edge (its documentation, "Improving the quality of the output": add a border), as
    a crop cut to a mosaic's cells does.
    """
    import pytesseract

    if margin > 0:
        array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
        edges = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
        padded = np.empty((array.shape[0] + 2 * margin, array.shape[1] + 2 * margin, 3), np.uint8)
        padded[:] = np.median(edges, axis=0).astype(np.uint8)
        padded[margin:-margin, margin:-margin] = array
        image = padded
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if upscale > 1:
        picture = picture.resize((picture.width * upscale, picture.height * upscale), Image.BICUBIC)
    return pytesseract.image_to_string(picture, config=TESSERACT_CONFIG).strip()


def cer(prediction: str, reference: str) -> float:
    """Character error rate of one line (0 = exact; can exceed 1 for long garbage)."""
    if not reference:
        return float(bool(prediction))
    return float(char_error_rate(prediction, reference))
