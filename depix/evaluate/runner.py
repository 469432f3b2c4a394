"""Run the four methods (input, bicubic, model, clean) over every benchmark condition.

All four rows are measured in the same run on the same pixelated images, so a table
compares like with like. Per-image records are kept; report.py groups them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from depix.evaluate.baselines import bicubic_from_grid
from depix.evaluate.conditions import Condition, degrade, sample_grid
from depix.evaluate.scores import consistency_error, ocr_scores, psnr_per_image, ssim_per_image
from depix.evaluate.suites import ImageGroup, Suite, seed_for
from depix.metrics.ocr import tesseract_available
from depix.restore.consistency import enforce_consistency

METHODS = ("input", "bicubic", "model", "clean")


@dataclass
class Record:
    """Scores of one image under one condition for one method (OCR fields None without OCR)."""

    suite: str
    condition: Condition
    name: str
    method: str
    psnr: float
    ssim: float
    consistency: float
    cer: float | None = None
    exact: float | None = None


@dataclass
class MethodScores:
    """Per-image lists of one method's scores under one condition."""

    psnr: list[float]
    ssim: list[float]
    consistency: list[float]
    readings: list[str | None]
    cer: list[float | None]
    exact: list[float | None]


@dataclass
class Example:
    """One line/image under one condition, all four methods, kept for samples.png."""

    score: tuple[float, float]
    label: str
    panels: list[torch.Tensor]  # (3, H, W) per method, CPU


@dataclass
class Examples:
    """The ``k`` best and ``k`` worst examples seen so far (lower score = better)."""

    k: int
    items: list[Example] = field(default_factory=list)

    def add(self, example: Example) -> None:
        self.items.append(example)
        if len(self.items) > 2 * self.k:
            self.items.sort(key=lambda e: e.score)
            del self.items[self.k : len(self.items) - self.k]

    def best_and_worst(self) -> tuple[list[Example], list[Example]]:
        ranked = sorted(self.items, key=lambda e: e.score)
        k = min(self.k, max(1, len(ranked) // 2))
        return ranked[:k], ranked[len(ranked) - k :][::-1]


@torch.no_grad()
def run_model(net: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The network's restoration of ``x`` in batches, on the network's device, clamped."""
    device = next(net.parameters()).device
    out = [net(chunk.to(device)).clamp(0, 1).to(x.device) for chunk in x.split(batch_size)]
    return torch.cat(out)


class Evaluator:
    """Scores every (group, condition) of the suites; ``ocr=False`` skips Tesseract."""

    def __init__(
        self,
        net: nn.Module,
        batch_size: int = 64,
        samples_per_side: int = 4,
        ocr_workers: int = 2,
        consistency: bool = True,
        averaging: str = "auto",
    ) -> None:
        self.net = net
        self.batch_size = batch_size
        # Project the model's output onto the observed blocks, as depix-restore does by default
        # (with the detected grid; here the known one), so the "model" row is what users get.
        self.consistency = consistency
        self.averaging = averaging
        # (condition's averaging, projection's averaging) -> images: how auto chose.
        self.projections: Counter[tuple[str, str]] = Counter()
        self.ocr = tesseract_available()
        self.ocr_workers = ocr_workers
        if ocr_workers > 1:
            # Parallel single-threaded Tesseract processes beat one multi-threaded one on a line.
            os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.records: list[Record] = []
        self.examples: dict[str, Examples] = {}
        self.samples_per_side = samples_per_side
        self._clean_ocr: dict[int, tuple[list[str], list[float], list[float]]] = {}

    def _ocr(self, images: torch.Tensor, texts: list[str] | None):
        if texts is None or not self.ocr:
            n = images.shape[0]
            return [None] * n, [None] * n, [None] * n
        return ocr_scores(images, texts, workers=self.ocr_workers)

    def _clean_reading(self, group: ImageGroup):
        # The clean lines are the same under every condition: read them once.
        key = id(group)
        if key not in self._clean_ocr:
            self._clean_ocr[key] = self._ocr(group.images, group.texts)
        return self._clean_ocr[key]

    @staticmethod
    def _label(name: str, condition: Condition, group: ImageGroup, reading, i: int) -> str:
        label = f"{name}, {condition.label()}"
        if group.texts is not None and reading is not None:
            label += f": model reads {reading!r}, truth {group.texts[i]!r}"
        return label

    def score(self, suite: Suite, group: ImageGroup, condition: Condition, seed: int) -> None:
        """Pixelate ``group`` under ``condition`` and score the four methods on it."""
        clean = group.images
        grid = sample_grid(condition, clean.shape[0], torch.Generator().manual_seed(seed))
        observed = degrade(clean, condition, grid)
        restored = run_model(self.net, observed, self.batch_size)
        if self.consistency:
            cells = (grid.block, grid.block, grid.offset_y, grid.offset_x)
            restored, used = enforce_consistency(restored, observed, cells, self.averaging)
            self.projections.update((condition.averaging, u) for u in used)
        outputs = {
            "input": observed,
            "bicubic": bicubic_from_grid(observed, grid),
            "model": restored,
            "clean": clean,
        }
        scores = {
            method: MethodScores(
                psnr_per_image(out, clean),
                ssim_per_image(out, clean),
                consistency_error(out, observed, condition, grid),
                *(self._clean_reading(group) if method == "clean" else self._ocr(out, group.texts)),
            )
            for method, out in outputs.items()
        }
        for i, name in enumerate(group.names):
            for method, m in scores.items():
                self.records.append(
                    Record(
                        suite.name,
                        condition,
                        name,
                        method,
                        m.psnr[i],
                        m.ssim[i],
                        m.consistency[i],
                        m.cer[i],
                        m.exact[i],
                    )
                )
            model = scores["model"]
            rank = (model.cer[i] if model.cer[i] is not None else 0.0, -model.psnr[i])
            self.examples.setdefault(suite.name, Examples(self.samples_per_side)).add(
                Example(
                    rank,
                    self._label(name, condition, group, model.readings[i], i),
                    [outputs[m][i].detach().cpu() for m in METHODS],
                )
            )

    def run(
        self, suites: list[Suite], advance: Callable[[str], None] | None = None
    ) -> list[Record]:
        """Score every suite; ``advance(label)`` is called after each condition (progress bar)."""
        for suite in suites:
            for group, condition in suite.pairs():
                self.score(suite, group, condition, seed_for(suite.name, condition, group.names))
                if advance is not None:
                    advance(f"{suite.name}: {condition.label()}")
        return self.records
