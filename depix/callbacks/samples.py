"""Writes ``samples.png`` (pixelated | restored | original) and logs it to image-capable loggers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch

from depix.utils.images import comparison_grid, save_png

log = logging.getLogger(__name__)


class SampleGrid(pl.Callback):
    """After every validation, restores the first ``num_samples`` validation lines.

    The validation set and its degradation are fixed by seed, so the grids of successive
    epochs (and of different runs) show the same lines and can be compared by eye.
    """

    def __init__(self, dirpath: str, num_samples: int = 8, filename: str = "samples.png") -> None:
        self.path = Path(dirpath) / filename
        self.num_samples = num_samples
        self._batch: dict | None = None

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        if batch_idx == 0 and dataloader_idx == 0:
            n = self.num_samples
            self._batch = {
                "input": batch["input"][:n].detach(),
                "image": batch["image"][:n].detach(),
            }

    @torch.no_grad()
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._batch is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        restored = pl_module(self._batch["input"]).clamp(0, 1)
        picture = comparison_grid([self._batch["input"], restored, self._batch["image"]])
        save_png(picture, self.path)
        for logger in trainer.loggers:
            self._log_image(logger, picture, trainer.global_step)

    @staticmethod
    def _log_image(logger, picture, step: int) -> None:
        import numpy as np

        experiment = getattr(logger, "experiment", None)
        if hasattr(logger, "log_image"):  # W&B
            logger.log_image(
                key="samples",
                images=[picture],
                step=step,
                caption=["pixelated | restored | original"],
            )
        elif hasattr(experiment, "add_image"):  # TensorBoard
            experiment.add_image("samples", np.asarray(picture), step, dataformats="HWC")
