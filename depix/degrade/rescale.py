"""Display scaling and zoomed screenshots: resample by a non-integer factor and back.

A redacted image seen at 125/150/175 % display scaling, or a screenshot of a zoomed
viewer, has blurred or ringing cell edges and cells that are no longer whole pixels. The
op resizes by ``factor`` (or by ``1 / factor`` when ``down``, a zoomed-out copy enlarged
again) and then back to the original size, so the result stays pixel-aligned with the
clean target; the shrinking step is antialiased, as the capture of a scaled display
averages. Both steps are ``torch.nn.functional.interpolate`` on the device, one call per
distinct factor/mode/direction (a handful per batch). Not kornia's ``resize``: its
antialiasing is a Gaussian pre-blur that cost ~15x torch's native antialiased kernel on
CPU (240 vs 16 ms per 16x3x84x336 batch), and the native one matches PIL's resize.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from depix.degrade.ops import RandomOp
from depix.degrade.pipeline import Params, to_device

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


def _resize(x: torch.Tensor, size: tuple[int, int], mode: str, shrink: bool) -> torch.Tensor:
    """``interpolate`` with antialiasing when shrinking (nearest has none, as in tools)."""
    if mode == "nearest":
        return F.interpolate(x, size, mode="nearest")
    return F.interpolate(x, size, mode=mode, align_corners=False, antialias=shrink)


def rescale_and_back(x: torch.Tensor, factor: float, mode: str, down: bool = False) -> torch.Tensor:
    """``x`` (B, C, H, W) seen at ``factor`` (> 1) display scaling, resampled back to H x W.

    ``down`` shrinks by ``1 / factor`` first (a zoomed-out copy enlarged again). The one
    definition of the op, shared by training (``Rescale``) and the benchmarks.
    """
    if mode not in INTERPOLATIONS:
        raise ValueError(f"rescale mode must be one of {INTERPOLATIONS}, got {mode!r}")
    h, w = x.shape[-2:]
    scale = 1 / factor if down else factor
    mid = (max(1, round(h * scale)), max(1, round(w * scale)))
    return _resize(_resize(x, mid, mode, shrink=down), (h, w), mode, not down)


class Rescale(RandomOp):
    """Resample by one of ``factors`` with one of ``modes`` and back (probability ``p``).

    Parameters: ``factor`` (float, > 1), ``mode`` (index into ``INTERPOLATIONS``) and
    ``down`` (bool: shrink by ``1 / factor`` first instead of enlarging).
    """

    def __init__(
        self,
        p: float = 0.5,
        factors: Sequence[float] = (1.25, 1.5, 1.75, 2.0),
        modes: Sequence[str] = INTERPOLATIONS,
        down_p: float = 0.25,
        name: str = "rescale",
    ) -> None:
        super().__init__(p, name)
        self.factors = tuple(float(f) for f in factors)
        self.modes = tuple(str(m) for m in modes)
        if not self.factors or min(self.factors) <= 1.0:
            raise ValueError(f"rescale.factors must be > 1 (e.g. 1.25), got {list(factors)}")
        bad = set(self.modes) - set(INTERPOLATIONS)
        if bad or not self.modes:
            raise ValueError(f"rescale.modes must be some of {INTERPOLATIONS}, got {list(modes)}")
        self.down_p = float(down_p)

    def draw(self, n: int, generator: torch.Generator) -> Params:
        factor = torch.tensor(self.factors)[
            torch.randint(len(self.factors), (n,), generator=generator)
        ]
        mode_ids = torch.tensor([INTERPOLATIONS.index(m) for m in self.modes])
        mode = mode_ids[torch.randint(len(self.modes), (n,), generator=generator)]
        down = torch.rand(n, generator=generator) < self.down_p
        return {"factor": factor, "mode": mode, "down": down}

    def transform(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        out = torch.empty_like(x)
        factor = params["factor"].cpu()  # the grouping is decided on the CPU: no device sync
        keys = torch.stack(
            [factor * 100, params["mode"].cpu().to(factor), params["down"].cpu().float()], 1
        )
        distinct = keys.unique(dim=0).tolist()
        if len(distinct) == 1:
            key = distinct[0]
            return rescale_and_back(x, key[0] / 100, INTERPOLATIONS[int(key[1])], bool(key[2]))
        for key in distinct:  # a loop over a few distinct settings
            idx = (keys == torch.tensor(key)).all(1).nonzero().squeeze(1)
            idx = to_device(idx, x.device)
            factor_, mode, down = key[0] / 100, INTERPOLATIONS[int(key[1])], bool(key[2])
            out[idx] = rescale_and_back(x[idx], factor_, mode, down)
        return out
