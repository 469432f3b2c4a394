"""The reader network: a small CRNN (CNN that downsamples early, then a BiLSTM over the width).

Shi, Bai and Yao, "An End-to-End Trainable Neural Network for Image-based Sequence
Recognition" (CRNN, arXiv:1507.05717) in miniature: the mosaic keeps one mean per cell, so
the network can work at half resolution from its first layer on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from depix.reader.charset import NAMED_CHARSETS, PRINTABLE


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ConvContext(nn.Module):
    """Residual dilated 1-D convolutions over the frames (dilations 1, 2, 4, 8, 1, ...).

    A recurrence-free context: it learns CTC alignments in far fewer steps than a BiLSTM
    (the gradient path to every frame is short) and is width-agnostic by construction.
    Receptive field with 4 layers: 31 frames (124 px at the line height).
    """

    def __init__(self, channels: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(channels, channels, 3, padding=d, dilation=d, bias=False),
                nn.BatchNorm1d(channels),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
            )
            for d in (2 ** (i % 4) for i in range(layers))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)  # (B, C, T)
        for block in self.blocks:
            x = x + block(x)
        return x.transpose(1, 2)


class ReaderNet(nn.Module):
    """Line image -> per-column log-probabilities over ``len(charset) + 1`` classes.

    Input: (B, 3, H, W) float RGB in [0, 1]; any H >= 8 and W >= 4 (``height`` is the
    line height it was trained at: ``depix.reader.read`` resizes lines to it). Each image
    is standardised by its own mean and spread (dark-on-light and light-on-dark look
    alike). Output: (B, W // 4, C) float32 log-probabilities (log-softmax over classes;
    class 0 = CTC blank, class i = ``charset[i - 1]``). The width is only convolved and
    run through the BiLSTM, so lines of any width are read at once.

    ``context``: ``"lstm"`` (a BiLSTM of ``layers`` layers, CRNN's choice) or ``"conv"``
    (``layers`` residual dilated 1-D convolutions, ``ConvContext``: faster to train).
    ``charset``: the characters, or a name of ``NAMED_CHARSETS`` (``"printable"``).
    Keyword arguments are plain ints/strings/lists (safe to rebuild from a file).
    """

    def __init__(
        self,
        charset: str = PRINTABLE,
        height: int = 48,
        widths: Sequence[int] = (32, 64, 96),
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.1,
        context: str = "lstm",
    ) -> None:
        super().__init__()
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"widths must be three positive channel counts, got {widths}")
        charset = NAMED_CHARSETS.get(charset, charset)
        if len(set(charset)) != len(charset) or not charset:
            raise ValueError("charset must be a non-empty string of distinct characters")
        self.charset, self.height = str(charset), int(height)
        w1, w2, w3 = (int(w) for w in widths)
        self.features = nn.Sequential(
            # Half resolution from the start: a cell's information is its mean, and cells of
            # >= 3 px stay >= 1.5 px. This keeps a CPU training run affordable.
            nn.AvgPool2d(2),
            _conv(3, w1),
            nn.MaxPool2d(2),  # H/4, W/4: the output frame rate
            _conv(w1, w2),
            _conv(w2, w2),
            nn.MaxPool2d((2, 1)),
            _conv(w2, w3),
            nn.AdaptiveAvgPool2d((3, None)),  # any height -> 3 rows
        )
        self.project = nn.Sequential(nn.Linear(3 * w3, 2 * hidden), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(float(dropout))
        if context == "lstm":
            self.rnn: nn.Module = nn.LSTM(
                2 * hidden,
                hidden,
                num_layers=int(layers),
                bidirectional=True,
                batch_first=True,
                dropout=float(dropout) if layers > 1 else 0.0,
            )
        elif context == "conv":
            self.rnn = ConvContext(2 * hidden, int(layers), float(dropout))
        else:
            raise ValueError(f"context must be 'lstm' or 'conv', got {context!r}")
        self.context = context
        self.classify = nn.Linear(2 * hidden, len(self.charset) + 1)

    @staticmethod
    def standardise(x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        spread = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(0.02)
        return (x - mean) / spread

    def features_of(self, x: torch.Tensor) -> torch.Tensor:
        """Per-column features (B, W // 4, 2 * hidden), the context layers' output (for losses)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"reader input must be (B, 3, H, W), got shape {tuple(x.shape)}")
        if x.shape[-2] < 8 or x.shape[-1] < 4:
            raise ValueError(
                f"reader input too small: {tuple(x.shape[-2:])} (needs H >= 8, W >= 4)"
            )
        f = self.features(self.standardise(x))  # (B, w3, 3, W/4)
        b, c, h, w = f.shape
        f = self.project(f.permute(0, 3, 1, 2).reshape(b, w, c * h))
        out = self.rnn(self.drop(f))
        return out[0] if isinstance(out, tuple) else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features_of(x)).float().log_softmax(-1)
