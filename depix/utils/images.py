"""Tensor <-> picture helpers shared by the training callback, evaluation and restoration."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8, rounded."""
    array = image.detach().float().clamp(0, 1).mul(255).round().byte().cpu()
    return array.permute(1, 2, 0).numpy()


def comparison_grid(
    columns: Sequence[torch.Tensor], scale: int = 2, gap: int = 4, fill: int = 128
) -> Image.Image:
    """One row per sample, one column per tensor (B, 3, H, W), e.g. pixelated | restored | original."""
    rows = []
    n = columns[0].shape[0]
    sep_v = torch.full((3, columns[0].shape[2], gap), fill / 255.0)
    for i in range(n):
        panels = []
        for j, col in enumerate(columns):
            panels.append(col[i].detach().float().cpu())
            if j < len(columns) - 1:
                panels.append(sep_v)
        rows.append(torch.cat(panels, dim=2))
        if i < n - 1:
            rows.append(torch.full((3, gap, rows[-1].shape[2]), fill / 255.0))
    picture = Image.fromarray(to_uint8(torch.cat(rows, dim=1)))
    if scale != 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def save_png(picture: Image.Image, path: str | Path) -> Path:
    """Write atomically (temp file + rename) so a reader never sees half a picture."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    picture.save(tmp, format="PNG")
    tmp.replace(path)
    return path
