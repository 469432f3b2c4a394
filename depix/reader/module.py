"""``ReaderModule``: trains ``ReaderNet`` with CTC on the DataModule's pixelated lines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torchmetrics import MeanMetric
from torchmetrics.text import CharErrorRate

from depix.degrade.ops import Quantize
from depix.models.module import DepixModule
from depix.models.schedules import time_budget_progress
from depix.reader.charset import Charset
from depix.reader.ctc import CTCLoss
from depix.reader.curriculum import BlockCurriculum
from depix.reader.decoding import greedy_decode
from depix.reader.network import ReaderNet

log = logging.getLogger("depix.reader")

#: Block/font bands of the text benchmark: <= 1/4, <= 1/3, beyond.
BANDS = (("q", 1 / 4), ("t", 1 / 3), ("hard", float("inf")))


def band_of(block: float, font_size: float) -> str:
    """Name of the block/font band (``q`` <= 1/4, ``t`` <= 1/3, ``hard`` beyond)."""
    ratio = block / max(font_size, 1e-9)
    return next(name for name, top in BANDS if ratio <= top + 1e-9)


class _LineScores:
    """CER (torchmetrics) and exact-line match of one set of readings."""

    def __init__(self) -> None:
        self.cer, self.exact = CharErrorRate(), MeanMetric()

    def modules(self) -> list:
        return [self.cer, self.exact]


class ReaderModule(DepixModule):
    """CTC training of a line reader on the DataModule's degraded lines.

    Reuses ``DepixModule``'s optimiser/scheduler building and checkpoint contents (the run
    config travels with every checkpoint; weights-only loadable), so resume, EMA, W&B,
    sweeps and DDP work as for the U-Net. Each training batch: the DataModule's degraded
    lines (``batch["input"]``), lines above the curriculum's block/font cap re-degraded
    with a smaller block (``curriculum``), and a share ``clean_p`` of the lines replaced by
    their clean rendering (so it also reads restorations). Multi-line samples are skipped
    (a line reader's targets are one line).

    Validation logs ``val/cer`` (torchmetrics' CharErrorRate, greedy decoding) and
    ``val/exact`` (share of lines read exactly), per block/font band (``val/cer_q``,
    ``val/cer_t``, ``val/cer_hard``), and Tesseract's CER on the same pixelated lines
    (``val/cer_tesseract``, read once per run: validation lines are fixed) when
    ``tesseract`` is on and installed.
    """

    def __init__(
        self,
        net: ReaderNet,
        loss: CTCLoss,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "step",
        curriculum: BlockCurriculum | None = None,
        clean_p: float = 0.1,
        tesseract: bool = True,
    ) -> None:
        super().__init__(net, loss, optimizer, scheduler, scheduler_interval)
        # The U-Net's image metrics mean nothing for a reader.
        for name in ("val_restored", "val_input", "test_restored", "test_input"):
            delattr(self, name)
        if not 0.0 <= clean_p <= 1.0:
            raise ValueError(f"clean_p must be a probability in [0, 1], got {clean_p}")
        if loss.charset.chars != net.charset:
            raise ValueError("the CTC loss and the network must use the same charset")
        self.charset = Charset(net.charset)
        self.curriculum, self.clean_p, self.tesseract = curriculum, float(clean_p), tesseract
        self.quantize = Quantize(8)
        self.scores: dict[str, dict[str, _LineScores]] = {}
        for stage in ("val", "test"):
            self.scores[stage] = {key: _LineScores() for key in ("all", *(n for n, _ in BANDS))}
            for key, pair in self.scores[stage].items():  # registered: they follow the device
                for kind, metric in zip(("cer", "exact"), pair.modules()):
                    self.add_module(f"{stage}_{kind}_{key}", metric)
        self.tesseract_cer = CharErrorRate()
        self._tesseract_cache: dict[int, list[str]] = {}
        self._tesseract_done = False
        self._progress: Callable[[int], float] | None = None

    # --- data preparation (curriculum, clean lines) -------------------------------------

    def progress(self) -> float:
        """Share of training done (steps, else the wall-clock budget), 0 without a trainer."""
        trainer = self._trainer
        if trainer is None:
            return 0.0
        if trainer.max_steps and trainer.max_steps > 0:
            return trainer.global_step / trainer.max_steps
        if self._progress is None:
            self._progress = time_budget_progress(trainer) or (
                lambda step: step / max(1, trainer.estimated_stepping_batches)
            )
        return self._progress(trainer.global_step)

    def prepare(self, batch: dict, training: bool) -> tuple[torch.Tensor, list[str], torch.Tensor]:
        """Line images (B, 3, H, W), cleaned targets and a keep mask (single-line samples)."""
        images = batch["input"]
        params = batch.get("params") or {}
        generator = torch.Generator().manual_seed(int(batch["seed"][0]) + 1)
        degradation = getattr(getattr(self._trainer, "datamodule", None), "degradation", None)
        if self.curriculum is not None and degradation is not None and "font_size" in batch:
            cap = self.curriculum.cap(self.progress()) if training else self.curriculum.end_ratio
            images, params = self.curriculum.apply(
                batch["image"], images, params, batch["font_size"], cap, degradation, generator
            )
            batch["params"] = params
        if training and self.clean_p > 0:
            clean = torch.rand(images.shape[0], generator=generator) < self.clean_p
            if clean.any():
                images = images.clone()
                idx = clean.nonzero().squeeze(1).to(images.device)
                images[idx] = self.quantize.apply(batch["image"][idx], {})
        keep = torch.tensor(["\n" not in t for t in batch["text"]], dtype=torch.bool)
        texts = [self.charset.clean(t) for t in batch["text"]]
        return images, texts, keep

    # --- steps ---------------------------------------------------------------------------

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        images, texts, keep = self.prepare(batch, training=True)
        if not keep.all():
            idx = keep.nonzero().squeeze(1)
            images, texts = images[idx.to(images.device)], [texts[i] for i in idx.tolist()]
        log_probs = self.net(images)
        loss = self.loss(log_probs, texts) if texts else log_probs.sum() * 0.0
        self.log("train/loss", loss, prog_bar=True, batch_size=max(1, len(texts)))
        if self.curriculum is not None:
            self.log("train/block_font_cap", self.curriculum.cap(self.progress()), batch_size=1)
        return loss

    def read(self, images: torch.Tensor) -> list[str]:
        """Greedy readings of (B, 3, H, W) line images (decoded in float32)."""
        log_probs = self.net(images).float()
        return [greedy_decode(lp, self.charset)[0] for lp in log_probs]

    def _eval_step(self, batch: dict, stage: str, batch_idx: int) -> None:
        images, texts, keep = self.prepare(batch, training=False)
        with torch.autocast(device_type=images.device.type, enabled=False):
            readings = self.read(images.float())
        params = batch.get("params") or {}
        blocks = params.get("pixelate.block_h", torch.zeros(len(texts)))
        blocks_w = params.get("pixelate.block_w", blocks)
        fonts = batch.get("font_size", torch.ones(len(texts)))
        scores = self.scores[stage]
        for i, (pred, ref) in enumerate(zip(readings, texts)):
            if not keep[i]:
                continue
            block = max(float(blocks[i]), float(blocks_w[i]))
            for key in ("all", band_of(block, float(fonts[i]))):
                scores[key].cer.update(pred, ref)
                scores[key].exact.update(float(pred == ref))
        if stage == "val" and self.tesseract and not self._tesseract_done:
            self._tesseract_cache[batch_idx] = self._tesseract_read(images, keep)
        if stage == "val" and self._tesseract_cache.get(batch_idx):
            kept = [t for t, k in zip(texts, keep) if k]
            self.tesseract_cer.update(self._tesseract_cache[batch_idx], kept)

    @staticmethod
    def _tesseract_read(images: torch.Tensor, keep: torch.Tensor) -> list[str]:
        from depix.metrics.ocr import read_line, tesseract_available

        if not tesseract_available():
            return []
        arrays = (images.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1)
        return [read_line(a.cpu().numpy()) for a, k in zip(arrays, keep) if k]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val", batch_idx)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test", batch_idx)

    def _log_epoch(self, stage: str) -> None:
        values: dict[str, torch.Tensor] = {}
        for key, pair in self.scores[stage].items():
            suffix = "" if key == "all" else f"_{key}"
            # a band without lines logs nan (every rank logs the same keys under DDP)
            empty = float(pair.cer.total) == 0
            values[f"{stage}/cer{suffix}"] = (
                torch.tensor(float("nan")) if empty else pair.cer.compute()
            )
            values[f"{stage}/exact{suffix}"] = (
                torch.tensor(float("nan")) if empty else pair.exact.compute()
            )
            pair.cer.reset()
            pair.exact.reset()
        if stage == "val" and self._tesseract_cache:
            values["val/cer_tesseract"] = self.tesseract_cer.compute()
            self.tesseract_cer.reset()
        if stage == "val" and self.tesseract and not self.trainer.sanity_checking:
            self._tesseract_done = True
        self.log_dict(values, prog_bar=False, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
