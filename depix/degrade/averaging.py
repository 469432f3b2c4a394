"""How real tools turn a grid cell into one colour: the averaging modes of ``Pixelate``.

Tools differ, and a model trained on one mode fails on another (the classic matcher
recovers nothing when the mode is wrong). All modes return 8-bit values, as a saved file
has: ``srgb`` rounds (half up) the mean of the 8-bit sRGB values (GIMP, most editors);
``srgb_trunc`` truncates it (integer division in C/C# tools such as Greenshot);
``linear`` averages in linear light (colour-managed pipelines, GPU mipmaps with sRGB
textures); ``center`` and ``corner`` take one pixel per cell instead of the mean (nearest-
neighbour down- then upscaling, e.g. CSS ``image-rendering: pixelated`` tricks).
"""

from __future__ import annotations

import torch
from kornia.color import linear_rgb_to_rgb, rgb_to_linear_rgb

from depix.degrade.mosaic import mosaic
from depix.degrade.pipeline import to_device

MODES = ("srgb", "srgb_trunc", "linear", "center", "corner")


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels, as saving a PNG does."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def pixelate_mode(
    x: torch.Tensor,
    mode: str,
    block_h: torch.Tensor | int,
    block_w: torch.Tensor | int,
    offset_y: torch.Tensor | int,
    offset_x: torch.Tensor | int,
    box: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pixelate ``x`` (B, 3, H, W) in [0, 1] with one averaging ``mode`` for the whole batch."""
    if mode not in MODES:
        raise ValueError(f"unknown pixelate mode {mode!r}; choose from {MODES}")
    modes = torch.full((x.shape[0],), MODES.index(mode), dtype=torch.long)
    return pixelate_modes(x, modes, block_h, block_w, offset_y, offset_x, box=box)


_MEAN_MODES = (MODES.index("srgb"), MODES.index("srgb_trunc"), MODES.index("linear"))


def _per_sample(value: torch.Tensor | int, n: int) -> torch.Tensor:
    return torch.as_tensor(value).long().reshape(-1).expand(n)


def pixelate_modes(
    x: torch.Tensor,
    modes: torch.Tensor,
    block_h: torch.Tensor | int,
    block_w: torch.Tensor | int,
    offset_y: torch.Tensor | int,
    offset_x: torch.Tensor | int,
    box: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pixelate ``x`` (B, 3, H, W) in [0, 1], sample ``b`` with mode ``MODES[modes[b]]``.

    ``modes``: (B,) long indices into ``MODES`` (on the CPU: it decides the grouping, so no
    device sync). The mean-based modes share one ``mosaic`` call (sRGB levels and linear-light
    values are averaged by the same cell sums), ``center``/``corner`` one call each; the
    values are exactly those of ``pixelate_mode`` per mode. Grid and box as in ``mosaic``.
    """
    n = x.shape[0]
    modes = modes.cpu().long().reshape(-1).expand(n)
    grid = [
        _per_sample(g, n) if not torch.is_tensor(g) else g.reshape(-1).expand(n)
        for g in (block_h, block_w, offset_y, offset_x)
    ]
    boxes = None if box is None else torch.as_tensor(box).long().reshape(-1, 4).expand(n, 4)
    if n == 0:
        return x.clone()
    present = set(modes.unique().tolist())
    unknown = present - set(range(len(MODES)))
    if unknown:
        raise ValueError(f"unknown pixelate mode indices {sorted(unknown)}; MODES has {len(MODES)}")
    out = torch.empty_like(x)

    def rows(mask: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """None = the whole batch (no indexing), else the (CPU) indices of ``mask``."""
        return (None, mask) if bool(mask.all()) else (mask.nonzero().squeeze(1), mask)

    def pick(t: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        return t if idx is None else t[to_device(idx, t.device)]

    mean = torch.zeros(n, dtype=torch.bool)
    for m in _MEAN_MODES:
        mean |= modes == m
    if bool(mean.any()):
        idx, _ = rows(mean)
        sub, sub_modes = pick(x, idx).clamp(0, 1), pick(modes, idx)
        linear = sub_modes == MODES.index("linear")
        # Tools average 8-bit pixels. Sums of 8-bit integers are exact in float32 and the
        # division is correctly rounded, so floor() is exactly the integer division
        # (truncation) and floor(mean + 0.5) exactly round-half-up; a float mean of k/255
        # values would round ties either way by accident.
        values = torch.round(sub * 255)
        lin_idx, _ = (
            rows(linear) if bool(linear.any()) else (torch.empty(0, dtype=torch.long), linear)
        )
        if lin_idx is None:
            values = rgb_to_linear_rgb(sub)  # kornia's sRGB transfer functions
        elif len(lin_idx):
            dev = to_device(lin_idx, x.device)
            values[dev] = rgb_to_linear_rgb(sub[dev])
        means = mosaic(
            values,
            *(pick(g, idx) for g in grid),
            box=None if boxes is None else pick(boxes, idx),
        )
        half = (sub_modes == MODES.index("srgb")).to(x.dtype) * 0.5
        result = torch.floor(means + to_device(half, x.device).view(-1, 1, 1, 1)) / 255
        if lin_idx is None:
            result = to_8bit(linear_rgb_to_rgb(means.clamp(0, 1)))
        elif len(lin_idx):
            dev = to_device(lin_idx, x.device)
            result[dev] = to_8bit(linear_rgb_to_rgb(means[dev].clamp(0, 1)))
        if idx is None:
            out = result
        else:
            out[to_device(idx, x.device)] = result
    for name in ("center", "corner"):
        m = MODES.index(name)
        if m not in present:
            continue
        idx, _ = rows(modes == m)
        result = to_8bit(
            mosaic(
                pick(x, idx),
                *(pick(g, idx) for g in grid),
                box=None if boxes is None else pick(boxes, idx),
                reduce=name,
            )
        )
        if idx is None:
            out = result
        else:
            out[to_device(idx, x.device)] = result
    return out
