"""Text-aware perceptual loss: compare restored and clean lines through a frozen reader.

A random or ImageNet network's textures do not care whether a letter is an ``e`` or a
``c``; a recogniser trained on our own lines does. Text super-resolution work trains
restorers against a recogniser for this reason (e.g. Wang et al., "Scene Text Image
Super-Resolution in the Wild", TSRN, ECCV 2020; Chen et al., "Scene Text Telescope",
CVPR 2021, a text-focused loss from a frozen recogniser). Two terms, both zero when the
restoration equals the clean line:

- ``feature_weight``: L1 distance between the reader's per-column BiLSTM features
  (``ReaderNet.features_of``) of the restored and of the clean line;
- ``posterior_weight``: per-frame KL divergence from the reader's character posteriors on
  the clean line (the teacher, no gradient) to those on the restoration: "read the same
  thing", a soft CTC target that needs no ground-truth string.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class TextAwareLoss(nn.Module):
    """``loss_weight * (feature_weight * L1(features) + posterior_weight * KL(posteriors))``.

    ``pred``/``target``: (B, 3, H, W) RGB in [0, 1] text lines (any size: resized to the
    reader's line height, aspect kept). ``reader``: an exported reader, checkpoint or run
    folder (default: the shipped ``depix/weights/reader-small.pt``); loaded weights-only
    and frozen (eval mode always, no gradient to its weights). Computed in float32 outside
    autocast. Returns a scalar tensor. Raises ``CheckpointLoadError`` when there is no reader.
    """

    def __init__(
        self,
        reader: str | Path | None = None,
        loss_weight: float = 0.1,
        feature_weight: float = 1.0,
        posterior_weight: float = 1.0,
    ) -> None:
        super().__init__()
        from depix.reader.loading import load_reader

        self.reader = load_reader(reader).requires_grad_(False).eval()
        self.loss_weight = float(loss_weight)
        self.feature_weight, self.posterior_weight = float(feature_weight), float(posterior_weight)

    def train(self, mode: bool = True) -> TextAwareLoss:
        super().train(mode)
        self.reader.eval()  # frozen: batch-norm statistics and dropout never change
        return self

    def _resized(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        height = self.reader.height
        if h == height:
            return x
        size = (height, max(4, round(w * height / h)))
        return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)

    def _read(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.reader.features_of(self._resized(x))
        return features, self.reader.classify(features).float().log_softmax(-1)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        with torch.autocast(device_type=pred.device.type, enabled=False):
            with torch.no_grad():
                t_features, t_log_probs = self._read(target.float().clamp(0, 1))
            p_features, p_log_probs = self._read(pred.float().clamp(0, 1))
            loss = pred.new_zeros((), dtype=torch.float32)
            if self.feature_weight:
                loss = loss + self.feature_weight * (p_features - t_features).abs().mean()
            if self.posterior_weight:
                kl = F.kl_div(p_log_probs, t_log_probs, log_target=True, reduction="none")
                loss = loss + self.posterior_weight * kl.sum(-1).mean()
        return loss * self.loss_weight
