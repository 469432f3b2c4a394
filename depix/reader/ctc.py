"""The reader's training loss: CTC over the network's per-column log-probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from depix.reader.charset import NAMED_CHARSETS, PRINTABLE, Charset


class CTCLoss(nn.Module):
    """Connectionist temporal classification loss (Graves et al., ICML 2006) of text lines.

    ``forward(log_probs, texts)``: ``log_probs`` (B, T, C) log-softmax output of
    ``ReaderNet``; ``texts`` B strings in ``charset`` (``Charset.clean`` them first).
    Computed in float32 outside autocast (CTC's log-sum-exp recursions are not half-safe).
    Returns the mean over lines of the loss divided by the target length
    (``torch.nn.functional.ctc_loss``'s ``"mean"``) times ``loss_weight``; lines that cannot
    be aligned (more characters than frames allow) count zero instead of infinity.
    """

    def __init__(self, charset: str = PRINTABLE, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.charset = Charset(NAMED_CHARSETS.get(charset, charset))
        self.loss_weight = float(loss_weight)

    def forward(self, log_probs: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        if log_probs.shape[0] != len(texts):
            raise ValueError(f"{log_probs.shape[0]} line predictions for {len(texts)} texts")
        targets, lengths = self.charset.encode(texts)
        b, t, _ = log_probs.shape
        frames = torch.full((b,), t, dtype=torch.long)
        with torch.autocast(device_type=log_probs.device.type, enabled=False):
            loss = F.ctc_loss(
                log_probs.float().transpose(0, 1),
                targets.to(log_probs.device),
                frames,
                lengths,
                blank=Charset.blank,
                reduction="mean",
                zero_infinity=True,
            )
        return loss * self.loss_weight
