"""Pixel losses."""

from __future__ import annotations

import torch
from torch import nn


class L1Loss(nn.Module):
    """Mean absolute error, times ``loss_weight``."""

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * (pred - target).abs().mean()


class CharbonnierLoss(nn.Module):
    """sqrt((x - y)^2 + eps^2): L1 that stays smooth near zero, so small residuals still
    get a gradient (plain L1 tends to park a residual model at a zero correction)."""

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-3) -> None:
        super().__init__()
        self.loss_weight, self.eps = loss_weight, eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * torch.sqrt((pred - target) ** 2 + self.eps**2).mean()
