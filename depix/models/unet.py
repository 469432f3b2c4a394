"""A configurable U-Net that predicts a residual correction of the pixelated image.

Why this shape: a pixelated image carries at most one colour per block, so computing at
full resolution wastes most of the CPU. A ``PixelUnshuffle`` stem folds ``stem x stem``
pixels into channels (lossless), the U-Net works at 1/stem resolution with wide receptive
fields (a block of 8-12 px on a 16 px font needs context of several characters), and a
``PixelShuffle`` head unfolds the correction back to full resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    raise ValueError(f"unknown norm {kind!r}: use 'none', 'batch' or 'group'")


class ResBlock(nn.Module):
    """conv-norm-act-conv-norm + identity: the unit of every U-Net level."""

    def __init__(self, channels: int, norm: str = "none") -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            make_norm(norm, channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            make_norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UNet(nn.Module):
    """U-Net with a space-to-depth stem; ``forward`` accepts any H, W (pads internally).

    Args:
        widths: channels per level; ``len(widths)`` levels, each halving the resolution.
        blocks: residual blocks per level (encoder and decoder each).
        stem: PixelUnshuffle factor (1 = full resolution).
        residual: predict a correction added to the input (True) or the image itself.
        normalize_input: standardise each sample's channels (mean/std over the image) before
            the network and scale the correction back after it. Text comes in every colour
            and contrast; this makes them one problem, which the network learns much faster.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        widths: Sequence[int] = (48, 96, 192),
        blocks: int = 1,
        stem: int = 2,
        norm: str = "none",
        residual: bool = True,
        normalize_input: bool = True,
    ) -> None:
        super().__init__()
        if not widths:
            raise ValueError("UNet needs at least one width")
        if residual and in_channels < out_channels:
            raise ValueError("a residual UNet needs in_channels == out_channels")
        self.stem_factor, self.residual, self.normalize_input = stem, residual, normalize_input
        self.multiple = stem * 2 ** (len(widths) - 1)
        self.stem = nn.Sequential(
            nn.PixelUnshuffle(stem), nn.Conv2d(in_channels * stem * stem, widths[0], 3, padding=1)
        )
        self.encoders = nn.ModuleList(
            nn.Sequential(*[ResBlock(w, norm) for _ in range(blocks)]) for w in widths
        )
        self.downs = nn.ModuleList(
            nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(widths[:-1], widths[1:])
        )
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Conv2d(b, a * 4, 1), nn.PixelShuffle(2))
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.fuses = nn.ModuleList(nn.Conv2d(2 * a, a, 1) for a in widths[:-1])
        self.decoders = nn.ModuleList(
            nn.Sequential(*[ResBlock(a, norm) for _ in range(blocks)]) for a in widths[:-1]
        )
        # Linear head (no activation in front): a saturated activation here can silence the
        # whole correction, and a residual model then sits at "output = input" for good.
        self.head = nn.Sequential(
            nn.Conv2d(widths[0], out_channels * stem * stem, 3, padding=1), nn.PixelShuffle(stem)
        )
        nn.init.normal_(self.head[0].weight, std=1e-3)  # start close to the identity map
        nn.init.zeros_(self.head[0].bias)

    def input_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per-sample, per-channel (mean, scale) of ``x`` (B, C, H, W) that ``forward``
        normalises with, each (B, C, 1, 1); None when ``normalize_input`` is off.

        A tiled run computes them once on the whole image and passes them to every tile
        (``forward(tile, stats=...)``), so all tiles see the normalisation the whole image
        would get (``depix.restore.tiling``).
        """
        if not self.normalize_input:
            return None
        mean = x.mean(dim=(2, 3), keepdim=True)
        return mean, x.std(dim=(2, 3), keepdim=True).clamp_min(0.02)

    def forward(
        self, x: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """The restored batch, same shape as ``x`` (B, C, H, W), any H and W.

        ``stats``: the (mean, scale) of ``input_stats`` to normalise with instead of ``x``'s
        own (tiling); ignored when ``normalize_input`` is off.
        """
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        scale = 1.0
        if self.normalize_input:
            mean, scale = stats if stats is not None else self.input_stats(x)
            x_in = (x - mean) / scale
        else:
            x_in = x
        padded = F.pad(x_in, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x_in
        feat = self.stem(padded)
        skips = []
        for i, encoder in enumerate(self.encoders):
            feat = encoder(feat)
            if i < len(self.downs):
                skips.append(feat)
                feat = self.downs[i](feat)
        for i in reversed(range(len(self.ups))):
            feat = self.fuses[i](torch.cat([self.ups[i](feat), skips[i]], dim=1))
            feat = self.decoders[i](feat)
        out = self.head(feat)[..., :h, :w]
        if self.normalize_input:
            out = out * scale[:, : out.shape[1]] if self.residual else out * scale + mean
        return x[:, : out.shape[1]] + out if self.residual else out
