"""The LightningModule: network, loss and metrics; the data (and its degradation) lives elsewhere."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from depix.losses.composite import CompositeLoss
from depix.metrics.precision import compute_float32, update_float32
from depix.models.schedules import time_budget_progress


def image_metrics(prefix: str) -> MetricCollection:
    """PSNR and SSIM on RGB in [0, 1], as torchmetrics compute them (no border crop)."""
    return MetricCollection(
        {
            "psnr": PeakSignalNoiseRatio(data_range=1.0),
            "ssim": StructuralSimilarityIndexMeasure(data_range=1.0),
        },
        prefix=prefix,
    )


class DepixModule(pl.LightningModule):
    """Trains ``net`` to map a pixelated batch (``batch["input"]``) to the clean one.

    Every validation logs the restored image's PSNR/SSIM (``val/psnr``) next to the same
    metrics of the pixelated input itself (``val/psnr_input``), so the gain is always visible.
    Metrics are updated in float32 outside autocast (``update_float32``), so they are the
    same under ``bf16-mixed`` as under ``32-true`` for the same predictions.

    ``run_config`` (the composed Hydra config, set by the training script) is stored in
    every checkpoint, so evaluation and restoration rebuild the exact network of the run.
    Checkpoints hold only tensors, numbers, strings and containers of them, so they load
    with ``torch.load(weights_only=True)`` (no arbitrary unpickling).
    """

    def __init__(
        self,
        net: nn.Module,
        loss: CompositeLoss,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "step",
    ) -> None:
        super().__init__()
        self.net, self.loss = net, loss
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.scheduler_interval = scheduler_interval
        self.val_restored = image_metrics("val/")
        self.val_input = image_metrics("val/")
        self.test_restored = image_metrics("test/")
        self.test_input = image_metrics("test/")
        self.run_config: dict | None = None
        # Extra top-level checkpoint entries (the W&B run id), set by the training script.
        self.checkpoint_extras: dict[str, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        pred = self.net(batch["input"])
        total, parts = self.loss(pred, batch["image"])
        bs = pred.shape[0]
        self.log("train/loss", total, prog_bar=True, batch_size=bs)
        for name, value in parts.items():
            self.log(f"train/loss_{name}", value, batch_size=bs)
        return total

    def _eval_step(
        self, batch: dict, restored: MetricCollection, inputs: MetricCollection
    ) -> torch.Tensor:
        pred = self.net(batch["input"]).clamp(0, 1)
        # In float32 outside autocast: bf16 SSIM/PSNR are wrong (depix.metrics.precision).
        update_float32(restored, pred, batch["image"])
        update_float32(inputs, batch["input"], batch["image"])
        return pred

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, self.val_restored, self.val_input)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, self.test_restored, self.test_input)

    def _log_epoch(self, restored: MetricCollection, inputs: MetricCollection) -> None:
        device_type = self.device.type
        values = compute_float32(restored, device_type)
        values.update({f"{k}_input": v for k, v in compute_float32(inputs, device_type).items()})
        self.log_dict(values, prog_bar=False, sync_dist=True)
        restored.reset()
        inputs.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch(self.val_restored, self.val_input)

    def on_test_epoch_end(self) -> None:
        self._log_epoch(self.test_restored, self.test_input)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(
            params=[p for p in self.net.parameters() if p.requires_grad]
        )
        if self.scheduler_factory is None:
            return optimizer
        kwargs: dict[str, Any] = {"optimizer": optimizer}
        parameters = inspect.signature(self.scheduler_factory).parameters
        if "total_steps" in parameters:
            kwargs["total_steps"] = self.trainer.estimated_stepping_batches
        if "time_progress" in parameters:
            kwargs["time_progress"] = time_budget_progress(self.trainer)
        scheduler = self.scheduler_factory(**kwargs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.run_config is not None:
            checkpoint["depix_config"] = self.run_config
        checkpoint.update(self.checkpoint_extras)
