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


def read_line(image: np.ndarray | Image.Image, upscale: int = 2) -> str:
    """OCR of one text line (uint8 RGB array or PIL image); Tesseract prefers larger glyphs."""
    import pytesseract

    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if upscale > 1:
        picture = picture.resize((picture.width * upscale, picture.height * upscale), Image.BICUBIC)
    return pytesseract.image_to_string(picture, config=TESSERACT_CONFIG).strip()


def cer(prediction: str, reference: str) -> float:
    """Character error rate of one line (0 = exact; can exceed 1 for long garbage)."""
    if not reference:
        return float(bool(prediction))
    return float(char_error_rate(prediction, reference))
