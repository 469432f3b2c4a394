"""Exponential moving average (EMA) of the network's weights.

EMA weights are smoother than the last optimiser step and usually restore better; they
are what validation measures (and so what picks ``best.ckpt``) and what
``depix.models.loading`` loads (``checkpoint["ema_state_dict"]``, the net's state dict
without the ``net.`` prefix). The raw weights stay the ones trained and checkpointed in
``state_dict``, so resuming continues the optimisation exactly.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch

from depix.callbacks.checkpoint_io import load_checkpoint_file

EMA_KEY = "ema_state_dict"


class EMA(pl.Callback):
    """Keeps ``ema = decay * ema + (1 - decay) * weights`` after every optimiser step.

    With ``warmup`` the decay grows as ``(1 + n) / (10 + n)`` up to ``decay`` (n = updates),
    so short runs are not dominated by the random initialisation. Integer buffers (e.g.
    BatchNorm's counters) are copied. The EMA lives on the weights' device and dtype.
    """

    def __init__(self, decay: float = 0.999, warmup: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema decay must be in [0, 1), got {decay}")
        self.decay, self.warmup = float(decay), warmup
        self.updates = 0
        self._last_step = -1
        self.ema: dict[str, torch.Tensor] | None = None
        self._raw: dict[str, torch.Tensor] | None = None

    @staticmethod
    def _net(pl_module: pl.LightningModule) -> torch.nn.Module:
        return pl_module.net

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_step = trainer.global_step
        current = self._net(pl_module).state_dict()
        if self.ema is None:  # not restored from a checkpoint
            self.ema = {k: v.detach().clone() for k, v in current.items()}
        else:
            self.ema = {k: v.to(device=current[k].device) for k, v in self.ema.items()}

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # One update per optimiser step (global_step counts them), not per accumulated batch.
        if self.ema is None or trainer.global_step == self._last_step:
            return
        self._last_step = trainer.global_step
        decay = self.current_decay()
        for key, value in self._net(pl_module).state_dict().items():
            target = self.ema[key]
            if target.is_floating_point():
                target.lerp_(value.detach().to(target.dtype), 1.0 - decay)
            else:
                target.copy_(value)
        self.updates += 1

    def _swap_in(self, pl_module: pl.LightningModule) -> None:
        if self.ema is None or self._raw is not None:
            return
        net = self._net(pl_module)
        self._raw = {k: v.detach().clone() for k, v in net.state_dict().items()}
        net.load_state_dict(self.ema)

    def _swap_out(self, pl_module: pl.LightningModule) -> None:
        if self._raw is not None:
            self._net(pl_module).load_state_dict(self._raw)
            self._raw = None

    # Validation (incl. the sample grid) sees the EMA weights; ModelCheckpoint runs after
    # on_validation_end (Lightning orders checkpoint callbacks last), so the raw weights
    # are back in place when the checkpoint is written.
    def on_validation_start(self, trainer, pl_module) -> None:
        self._swap_in(pl_module)

    def on_validation_end(self, trainer, pl_module) -> None:
        self._swap_out(pl_module)

    def on_test_start(self, trainer, pl_module) -> None:
        if trainer.ckpt_path:  # test(ckpt_path="best"): that checkpoint's own EMA
            checkpoint = load_checkpoint_file(trainer.ckpt_path, mmap=True)
            if EMA_KEY in checkpoint:
                self.ema = dict(checkpoint[EMA_KEY])
        self._swap_in(pl_module)

    def on_test_end(self, trainer, pl_module) -> None:
        self._swap_out(pl_module)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        if self.ema is not None:
            checkpoint[EMA_KEY] = {k: v.detach().clone() for k, v in self.ema.items()}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        if EMA_KEY in checkpoint:
            self.ema = {k: v.clone() for k, v in checkpoint[EMA_KEY].items()}

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.updates = int(state_dict.get("updates", 0))
