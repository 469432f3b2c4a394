"""Learning-rate schedules that size themselves from the trainer's step budget."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int = 100,
    final_ratio: float = 0.05,
) -> LambdaLR:
    """Linear warm-up, then cosine decay to ``final_ratio`` of the base LR at ``total_steps``."""
    total_steps = max(1, int(total_steps))
    warmup_steps = min(int(warmup_steps), total_steps // 2)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)
