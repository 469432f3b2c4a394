"""A batched, non-differentiable baseline JPEG round trip (libjpeg's defaults) in torch.

What libjpeg does when an image is saved with ``quality=q`` and read back: JFIF YCbCr with
integer rounding, 4:2:0 chroma (2x2 mean), 8x8 DCT, the ITU-T T.81 Annex K tables scaled
by quality as libjpeg scales them, rounding to integers, and on decoding "fancy"
(triangular) chroma upsampling, which is bilinear interpolation with half-pixel centres.
Everything is a tensor op over the whole batch with a quality per image, on the batch's
device. Borders are padded by edge replication to whole 16 px MCUs, as libjpeg does.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from depix.degrade.pipeline import to_device

_LUMA = [
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
]
_CHROMA = [
    [17, 18, 24, 47, 99, 99, 99, 99],
    [18, 21, 26, 66, 99, 99, 99, 99],
    [24, 26, 56, 99, 99, 99, 99, 99],
    [47, 66, 99, 99, 99, 99, 99, 99],
] + [[99] * 8] * 4


def quality_tables(quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Luma and chroma tables (B, 8, 8) for integer qualities 1..100, scaled like libjpeg."""
    q = quality.to(torch.float64).clamp(1, 100)
    scale = torch.where(q < 50, torch.floor(5000 / q), 200 - 2 * q).view(-1, 1, 1)
    tables = []
    for base in (_LUMA, _CHROMA):
        t = torch.tensor(base, dtype=torch.float64, device=quality.device)
        tables.append(torch.floor((t * scale + 50) / 100).clamp(1, 255).float())
    return tables[0], tables[1]


@lru_cache(maxsize=8)
def _dct_matrix(device: torch.device) -> torch.Tensor:
    """The 2-D 8x8 DCT-II as one (64, 64) matrix on row-major blocks: kron(D, D).

    One GEMM over all blocks of the batch instead of two tiny batched 8x8 products.
    """
    k = torch.arange(8, dtype=torch.float64)
    basis = torch.cos((2 * k.view(1, -1) + 1) * k.view(-1, 1) * math.pi / 16)
    basis[0] *= 1 / math.sqrt(2)
    basis *= 0.5  # orthonormal
    return torch.kron(basis, basis).float().to(device)


def _blocks(x: torch.Tensor) -> torch.Tensor:
    b, h, w = x.shape
    return x.view(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)


def _unblocks(x: torch.Tensor) -> torch.Tensor:
    b, nh, nw = x.shape[:3]
    return x.permute(0, 1, 3, 2, 4).reshape(b, nh * 8, nw * 8)


def _code_plane(plane: torch.Tensor, table: torch.Tensor, dct: torch.Tensor) -> torch.Tensor:
    """Encode and decode one plane (B, H, W) of 0..255 samples with per-sample tables."""
    blocks = _blocks(plane - 128)
    shape = blocks.shape
    coef = blocks.reshape(shape[0], -1, 64) @ dct.T
    q = table.reshape(-1, 1, 64)
    coef = torch.round(coef / q) * q
    out = _unblocks((coef @ dct).view(shape)) + 128
    return torch.round(out).clamp(0, 255)


def jpeg_round_trip(x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """``x`` (B, 3, H, W) RGB in [0, 1] saved as baseline 4:2:0 JPEG at ``quality`` (B,)."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"jpeg expects (B, 3, H, W) RGB, got shape {tuple(x.shape)}")
    b, _, h, w = x.shape
    rgb = torch.round(x.float().clamp(0, 1) * 255)
    pad_h, pad_w = (-h) % 16, (-w) % 16
    if pad_h or pad_w:
        rgb = F.pad(rgb, (0, pad_w, 0, pad_h), mode="replicate")
    r, g, bl = rgb.unbind(1)
    y = torch.round(0.299 * r + 0.587 * g + 0.114 * bl)
    cb = torch.round(-0.168736 * r - 0.331264 * g + 0.5 * bl + 128)
    cr = torch.round(0.5 * r - 0.418688 * g - 0.081312 * bl + 128)
    chroma = torch.round(F.avg_pool2d(torch.stack([cb, cr], 1), 2)).clamp(0, 255)
    pad_c = [(-s) % 8 for s in chroma.shape[-2:]]
    if any(pad_c):
        chroma = F.pad(chroma, (0, pad_c[1], 0, pad_c[0]), mode="replicate")
    luma_t, chroma_t = (to_device(t, x.device) for t in quality_tables(quality.cpu()))
    dct = _dct_matrix(x.device)
    y = _code_plane(y, luma_t, dct)
    c = chroma.shape
    coded = _code_plane(chroma.reshape(b * 2, c[2], c[3]), chroma_t.repeat_interleave(2, 0), dct)
    coded = coded.view(b, 2, c[2], c[3])[..., : rgb.shape[-2] // 2, : rgb.shape[-1] // 2]
    up = F.interpolate(coded, scale_factor=2, mode="bilinear", align_corners=False) - 128
    cb, cr = up.unbind(1)
    out = torch.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], dim=1)
    return (torch.round(out).clamp(0, 255) / 255)[..., :h, :w].to(x.dtype)
