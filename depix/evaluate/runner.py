"""Run every row (input, bicubic, model, text methods, clean) over every benchmark condition.

All rows are measured in the same run on the same pixelated images and scored the same way,
so a table compares like with like: every image row is 8-bit (as a saved PNG is), the model
and bicubic rows get the same mosaic-consistency projection (or, with ``consistency=False``,
neither does), and every row's text is read by the same Tesseract call. Text methods (the
decoder, the reader: ``configs/text_method/``) return strings instead of images; they are
scored with the same CER and exact-line match against the truth. Per-image records are kept;
report.py groups them.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from depix.degrade.averaging import to_8bit
from depix.evaluate.baselines import bicubic_from_grid
from depix.evaluate.conditions import Condition, Grid, degrade, sample_grid
from depix.evaluate.scores import (
    consistency_error,
    ocr_scores,
    psnr_per_image,
    ssim_per_image,
    text_scores,
)
from depix.evaluate.suites import ImageGroup, Suite, seed_for
from depix.metrics.ocr import tesseract_available
from depix.restore.consistency import enforce_consistency

# The image rows, in table order; text methods' rows go between the model and the original.
METHODS = ("input", "bicubic", "model", "clean")
# A text method: (observed (B, 3, H, W) in [0, 1], grid, condition) -> one string per image.
TextMethod = Callable[[torch.Tensor, Grid, Condition], list[str]]


def method_order(methods) -> list[str]:
    """``methods`` in table order: input, bicubic, model, the text methods (first seen
    first), clean."""
    methods = list(dict.fromkeys(methods))
    extra = [m for m in methods if m not in METHODS]
    order = [*METHODS[:3], *extra, METHODS[3]]
    return [m for m in order if m in methods]


@dataclass
class Record:
    """Scores of one image under one condition for one row (``method``).

    Image rows have PSNR/SSIM/consistency; text-method rows have ``None`` there. OCR fields
    are ``None`` without Tesseract (never 0). ``seconds``: wall time per line of the model
    (network + projection) or of a text method; ``text``/``reading``: the truth and the row's
    reading; ``confidence``: a text method's own confidence when it gives one.
    """

    suite: str
    condition: Condition
    name: str
    method: str
    psnr: float | None
    ssim: float | None
    consistency: float | None
    cer: float | None = None
    exact: float | None = None
    seconds: float | None = None
    text: str | None = None
    reading: str | None = None
    confidence: float | None = None


@dataclass
class MethodScores:
    """Per-image lists of one image row's scores under one condition."""

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
        text_methods: Mapping[str, TextMethod] | None = None,
    ) -> None:
        self.net = net
        self.batch_size = batch_size
        # Project the model's output onto the observed blocks, as depix-restore does by default
        # (with the detected grid; here the known one), so the "model" row is what users get;
        # bicubic gets the same projection, so both image rows are treated alike.
        self.consistency = consistency
        self.text_methods = dict(text_methods or {})
        clash = set(self.text_methods) & set(METHODS)
        if clash:
            raise ValueError(f"text method names {sorted(clash)} clash with the rows {METHODS}")
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
        # Tesseract on each clean line, once per line name (the same under every condition).
        self._clean_ocr: dict[str, tuple[str | None, float | None, float | None]] = {}

    def _ocr(self, images: torch.Tensor, texts: list[str] | None):
        if texts is None or not self.ocr:
            n = images.shape[0]
            return [None] * n, [None] * n, [None] * n
        return ocr_scores(images, texts, workers=self.ocr_workers)

    def _clean_reading(self, group: ImageGroup):
        # The clean lines are the same under every condition: read each once.
        todo = [i for i, name in enumerate(group.names) if name not in self._clean_ocr]
        if todo:
            texts = None if group.texts is None else [group.texts[i] for i in todo]
            found = self._ocr(group.images[todo], texts)
            for j, i in enumerate(todo):
                self._clean_ocr[group.names[i]] = tuple(column[j] for column in found)
        rows = [self._clean_ocr[name] for name in group.names]
        return tuple(list(column) for column in zip(*rows))

    def _project(
        self,
        output: torch.Tensor,
        observed: torch.Tensor,
        grid: Grid,
        averaging: list[str] | None = None,
    ) -> tuple[torch.Tensor, list[str]]:
        """``output`` projected onto the observed cells: with ``self.averaging``, or per image
        with the given ``averaging`` (bicubic takes the model's picks, so under ``auto`` both
        image rows are projected the same way; bicubic's smooth cells would otherwise always
        look centre-sampled to ``pick_averaging``)."""
        if averaging is None:
            cells = (grid.block, grid.block, grid.offset_y, grid.offset_x)
            return enforce_consistency(output, observed, cells, self.averaging)
        out = output.clone()
        for mode in sorted(set(averaging)):
            idx = torch.tensor([i for i, a in enumerate(averaging) if a == mode])
            cells = (grid.block, grid.block, grid.offset_y[idx], grid.offset_x[idx])
            out[idx], _ = enforce_consistency(output[idx], observed[idx], cells, mode)
        return out, list(averaging)

    def _read_with(self, name: str, method: TextMethod, observed, grid, condition, texts):
        """Run one text method on the batch; (strings, CERs, exact, s/line, confidences)."""
        n = observed.shape[0]
        start = time.perf_counter()
        strings = method(observed.clone(), grid, condition)
        seconds = (time.perf_counter() - start) / max(n, 1)
        if not isinstance(strings, (list, tuple)) or len(strings) != n:
            raise ValueError(
                f"text method {name!r} must return a list of {n} strings, got {type(strings).__name__}"
                + (f" of length {len(strings)}" if isinstance(strings, (list, tuple)) else "")
            )
        if not all(isinstance(t, str) for t in strings):
            raise ValueError(f"text method {name!r} returned a non-string reading")
        cers, exact = text_scores(list(strings), texts)
        confidences = getattr(method, "last_confidences", None)
        if not isinstance(confidences, (list, tuple)) or len(confidences) != n:
            confidences = [None] * n
        return (
            list(strings),
            cers,
            exact,
            seconds,
            [None if c is None or not math.isfinite(float(c)) else float(c) for c in confidences],
        )

    @staticmethod
    def _label(name: str, condition: Condition, group: ImageGroup, reading, i: int) -> str:
        label = f"{name}, {condition.label()}"
        if group.texts is not None and reading is not None:
            label += f": model reads {reading!r}, truth {group.texts[i]!r}"
        return label

    def score(self, suite: Suite, group: ImageGroup, condition: Condition, seed: int) -> None:
        """Pixelate ``group`` under ``condition`` and score every row on it."""
        clean = group.images
        n = clean.shape[0]
        grid = sample_grid(condition, n, torch.Generator().manual_seed(seed))
        observed = degrade(clean, condition, grid)
        start = time.perf_counter()
        restored = run_model(self.net, observed, self.batch_size)
        used: list[str] | None = None
        if self.consistency:
            restored, used = self._project(restored, observed, grid)
            self.projections.update((condition.averaging, u) for u in used)
        model_seconds = (time.perf_counter() - start) / n
        bicubic = bicubic_from_grid(observed, grid)
        if self.consistency:
            bicubic, _ = self._project(bicubic, observed, grid, used)
        # 8-bit, as a saved restoration is and as the input and the original are.
        outputs = {
            "input": observed,
            "bicubic": to_8bit(bicubic),
            "model": to_8bit(restored),
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
        read = {
            name: self._read_with(name, method, observed, grid, condition, group.texts)
            for name, method in self.text_methods.items()
            if group.texts is not None
        }
        for i, name in enumerate(group.names):
            truth = None if group.texts is None else group.texts[i]
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
                        model_seconds if method == "model" else None,
                        truth,
                        m.readings[i],
                    )
                )
            for method, (strings, cers, exact, seconds, confidences) in read.items():
                self.records.append(
                    Record(
                        suite.name,
                        condition,
                        name,
                        method,
                        None,
                        None,
                        None,
                        cers[i],
                        exact[i],
                        seconds,
                        truth,
                        strings[i],
                        confidences[i],
                    )
                )
            model = scores["model"]
            rank = (model.cer[i] if model.cer[i] is not None else 0.0, -model.psnr[i])
            label = self._label(name, condition, group, model.readings[i], i)
            for method, (strings, *_) in read.items():
                label += f"; {method} reads {strings[i]!r}"
            self.examples.setdefault(suite.name, Examples(self.samples_per_side)).add(
                Example(rank, label, [outputs[m][i].detach().cpu() for m in METHODS])
            )

    def run(
        self, suites: list[Suite], advance: Callable[[str, int], None] | None = None
    ) -> list[Record]:
        """Score every suite; ``advance(label, images)`` is called after each (images,
        condition) pair with the number of images it scored (progress bar)."""
        for suite in suites:
            for group, condition in suite.pairs():
                self.score(suite, group, condition, seed_for(suite.name, condition, group.names))
                if advance is not None:
                    advance(f"{suite.name}: {condition.label()}", group.images.shape[0])
        return self.records
