"""Sum of named loss terms, each reported on its own."""

from __future__ import annotations

import torch
from torch import nn


class CompositeLoss(nn.Module):
    """``terms`` maps a name (used in logs: ``train/loss_<name>``) to a loss module."""

    def __init__(self, terms: dict[str, nn.Module]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("CompositeLoss needs at least one term")
        self.terms = nn.ModuleDict(terms)

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts = {name: term(pred, target) for name, term in self.terms.items()}
        return torch.stack(list(parts.values())).sum(), parts
