"""Per-image scores of one method's output: PSNR, SSIM, OCR, mosaic consistency.

Everything is computed per image so results can be grouped any way afterwards (per block
size, font size, ...). OCR figures are ``None`` (never 0) when Tesseract is missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from depix.evaluate.conditions import Condition, Grid, degrade
from depix.metrics.ocr import cer, read_line
from depix.utils.images import to_uint8


def psnr_per_image(pred: torch.Tensor, target: torch.Tensor) -> list[float]:
    """PSNR (dB, data range 1) of each image; ``inf`` for an exact match."""
    values = peak_signal_noise_ratio(pred, target, data_range=1.0, reduction="none", dim=(1, 2, 3))
    return [float(v) for v in values.view(-1)]


def ssim_per_image(pred: torch.Tensor, target: torch.Tensor) -> list[float]:
    """SSIM (Gaussian window, torchmetrics' defaults) of each image.

    float32, as everywhere in depix: on flat text backgrounds its variances cancel, so an
    image scores ~0.9997 against itself (float64 would fix that but its CPU convolutions
    make the whole evaluation several times slower).
    """
    values = structural_similarity_index_measure(pred, target, data_range=1.0, reduction="none")
    return [float(v) for v in values.view(-1)]


def consistency_error(
    output: torch.Tensor, observed: torch.Tensor, condition: Condition, grid: Grid
) -> list[float]:
    """Mosaic-consistency error per image, in 8-bit levels (mean absolute difference).

    Degrades ``output`` again with the known grid (same averaging, 8-bit, JPEG) and compares
    with the ``observed`` pixelated input. Needs no ground truth; exactly 0 for the true
    original and for the input itself, and a restoration that invents content the blocks
    rule out scores > 0. Compared on 8-bit integers so float rounding cannot leak in.
    """
    again = torch.round(degrade(output.clamp(0, 1), condition, grid) * 255)
    seen = torch.round(observed.clamp(0, 1) * 255)
    return [float(v) for v in (again - seen).abs().mean(dim=(1, 2, 3))]


def ocr_scores(
    images: torch.Tensor, texts: Sequence[str], reader: Callable = read_line, workers: int = 1
) -> tuple[list[str], list[float], list[float]]:
    """Tesseract's reading, CER and exact-line match (1.0/0.0) of each image.

    Each reading is a separate ``tesseract`` process, so ``workers`` threads keep that
    many processes busy (the evaluator caps each at one OpenMP thread).
    """
    pictures = [to_uint8(image) for image in images]
    if workers > 1 and len(pictures) > 1:
        with ThreadPoolExecutor(workers) as pool:
            readings = list(pool.map(reader, pictures))
    else:
        readings = [reader(picture) for picture in pictures]
    cers, exact = text_scores(readings, texts)
    return readings, cers, exact


def text_scores(readings: Sequence[str], texts: Sequence[str]) -> tuple[list[float], list[float]]:
    """CER (torchmetrics' ``CharErrorRate``: edit distance / truth length; 0 = exact, can
    exceed 1) and exact-line match (1.0/0.0) of each reading against its truth. Every row,
    Tesseract-read or a text method's, is scored by this one function."""
    if len(readings) != len(texts):
        raise ValueError(f"{len(readings)} readings for {len(texts)} lines")
    cers = [cer(pred, ref) for pred, ref in zip(readings, texts)]
    exact = [float(pred == ref) for pred, ref in zip(readings, texts)]
    return cers, exact


def gap_closed(
    cer_input: float | None, cer_method: float | None, cer_clean: float | None
) -> float | None:
    """Share of the input-to-original CER gap a method closes (1 = reads like the original).

    ``None`` when undefined: OCR missing, or the original reads no better than the input.
    """
    if None in (cer_input, cer_method, cer_clean):
        return None
    gap = cer_input - cer_clean
    if gap <= 1e-12 or math.isnan(gap):
        return None
    return (cer_input - cer_method) / gap
