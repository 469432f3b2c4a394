"""An easy-to-hard curriculum over block size relative to font size (block/font ratio).

A line pixelated with blocks above about a third of its font size teaches a recogniser
little early on (the issue's prototype spent half its lines there). The curriculum caps
the ratio, raising the cap from ``start_ratio`` to ``end_ratio`` over the first ``ramp``
share of training; lines drawn above the cap get a new block size drawn uniformly from the
blocks the cap allows, and the run's own degradation is re-applied to them with every other
parameter unchanged (one implementation of pixelation: ``depix.degrade``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from depix.degrade.pipeline import Degradation, Params


class BlockCurriculum:
    """Caps ``block / font_size`` of the training lines; see the module docstring.

    ``block``: the smallest and largest block size (px) ever drawn; ``op``: the name of the
    pixelation op in the degradation (its ``block_h``/``block_w``/``offset_*`` parameters
    are redrawn). Raises ``ValueError`` for ratios outside (0, 1] or a decreasing schedule.
    """

    def __init__(
        self,
        start_ratio: float = 0.25,
        end_ratio: float = 0.5,
        ramp: float = 0.5,
        block: Sequence[int] = (3, 12),
        op: str = "pixelate",
    ) -> None:
        if not 0 < start_ratio <= end_ratio <= 1:
            raise ValueError(
                f"need 0 < start_ratio <= end_ratio <= 1, got {start_ratio}, {end_ratio}"
            )
        if not 0 <= ramp <= 1:
            raise ValueError(f"ramp is a share of training in [0, 1], got {ramp}")
        self.start_ratio, self.end_ratio, self.ramp = (
            float(start_ratio),
            float(end_ratio),
            float(ramp),
        )
        self.block = (int(block[0]), int(block[1]))
        if not 1 <= self.block[0] <= self.block[1]:
            raise ValueError(f"block must be 1 <= min <= max, got {block}")
        self.op = op

    def cap(self, progress: float) -> float:
        """The largest block/font ratio allowed at ``progress`` (share of training, 0..1)."""
        if self.ramp == 0:
            return self.end_ratio
        share = min(max(progress / self.ramp, 0.0), 1.0)
        return self.start_ratio + (self.end_ratio - self.start_ratio) * share

    def allowed_max(self, font_size: torch.Tensor, cap: float) -> torch.Tensor:
        """Largest block (px, long (B,)) per line under ``cap``; never below ``block[0]``."""
        top = torch.floor(font_size.float() * cap).long()
        return top.clamp(self.block[0], self.block[1])

    def apply(
        self,
        clean: torch.Tensor,
        degraded: torch.Tensor,
        params: Params,
        font_size: torch.Tensor,
        cap: float,
        degradation: Degradation,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, Params]:
        """Re-degrade the lines whose block exceeds ``cap * font_size``.

        ``clean``/``degraded``: (B, 3, H, W) in [0, 1]; ``params``: the degradation's
        per-sample parameters (``"<op>.block_h"`` ...); ``font_size``: (B,) px. Returns the
        new degraded batch and parameters (inputs are not modified).
        """
        key = f"{self.op}.block_h"
        if key not in params:
            raise ValueError(f"the degradation has no op named {self.op!r} with a block size")
        cpu_font = font_size.detach().cpu()
        top = self.allowed_max(cpu_font, cap)
        block_h, block_w = params[key].cpu(), params[f"{self.op}.block_w"].cpu()
        over = (block_h > top) | (block_w > top)
        if not over.any():
            return degraded, params
        idx = over.nonzero().squeeze(1)
        n, lo = len(idx), self.block[0]
        span = (top[idx] - lo + 1).float()
        new_h = lo + (torch.rand(n, generator=generator) * span).long()
        square = block_h[idx] == block_w[idx]
        new_w = torch.where(square, new_h, lo + (torch.rand(n, generator=generator) * span).long())
        new = {k: v.clone() for k, v in params.items()}
        updates = {
            "block_h": new_h,
            "block_w": new_w,
            "offset_y": (torch.rand(n, generator=generator) * new_h).long(),
            "offset_x": (torch.rand(n, generator=generator) * new_w).long(),
        }
        for name, value in updates.items():
            new[f"{self.op}.{name}"][idx.to(new[f"{self.op}.{name}"].device)] = value.to(
                new[f"{self.op}.{name}"].device
            )
        batch = clean.shape[0]
        own = {
            k: v[idx.to(v.device)] for k, v in new.items() if v.dim() > 0 and v.shape[0] == batch
        }
        out = degraded.clone()
        out[idx.to(out.device)] = degradation.apply(clean[idx.to(clean.device)], own).to(out.dtype)
        return out, new
