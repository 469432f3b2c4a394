"""Learning-rate schedules that size themselves from the trainer's budget: steps or time.

Runs on a CPU budget are bounded by ``trainer.max_time``; their step count is unknown in
advance, and sizing a decay from ``max_epochs`` alone would leave the learning rate at its
peak when time stops the run (the annealing phase, worth a good share of the final quality,
never happens). So a schedule also follows the share of ``max_time`` spent, whichever
budget runs out first.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Timer
from torch.optim.lr_scheduler import LambdaLR

# Ranks must agree on the learning rate: in multi-process runs the time share is taken from
# rank 0 every this many steps (a collective per step would cost more than it is worth).
TIME_SYNC_STEPS = 20


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    total_steps: float,
    warmup_steps: int = 100,
    final_ratio: float = 0.05,
    time_progress: Callable[[int], float] | None = None,
) -> LambdaLR:
    """Linear warm-up, then cosine decay to ``final_ratio`` of the base LR at the end of the
    budget: ``total_steps`` (infinite when only time bounds the run), or earlier if
    ``time_progress(step)`` (share of the wall-clock budget spent, see
    ``time_budget_progress``) reaches 1 first."""
    bounded = math.isfinite(total_steps)
    total_steps = max(1, int(total_steps)) if bounded else 0
    warmup_steps = min(int(warmup_steps), total_steps // 2) if bounded else int(warmup_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps) if bounded else 0.0
        if time_progress is not None:
            progress = max(progress, time_progress(step))
        progress = min(1.0, progress)
        return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def time_budget_progress(trainer: pl.Trainer) -> Callable[[int], float] | None:
    """``step -> share of trainer.max_time spent`` (None without a time budget).

    Read from Lightning's ``Timer`` (which carries the time of earlier runs over a resume)
    at every step in a single process; with several processes, refreshed every
    ``TIME_SYNC_STEPS`` steps and broadcast from rank 0, so every rank uses the same value
    at the same step.
    """
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is None or timer.time_remaining() is None:
        return None
    every = TIME_SYNC_STEPS if trainer.world_size > 1 else 1
    cached: dict[str, float | None] = {"step": None, "value": 0.0}

    def progress(step: int) -> float:
        if cached["step"] is None or step - cached["step"] >= every:
            elapsed, remaining = timer.time_elapsed(), timer.time_remaining()
            value = elapsed / max(elapsed + remaining, 1e-9)
            cached["value"] = float(trainer.strategy.broadcast(value, src=0))
            cached["step"] = step
        return cached["value"]

    return progress
