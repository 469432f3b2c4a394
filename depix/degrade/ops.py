"""Degradation ops. Each is small, draws its own per-sample parameters and works batched.

Parameter keys (prefixed ``"<op name>."`` by the pipeline) are a stable interface: the
evaluation re-pixelates outputs with ``pixelate.block_h/block_w/offset_y/offset_x/box``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from depix.degrade.averaging import MODES, pixelate_modes
from depix.degrade.mosaic import box_mask
from depix.degrade.pipeline import Params, to_device


def _randint(lo: int, hi: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """n integers uniform in [lo, hi] (inclusive)."""
    return torch.randint(int(lo), int(hi) + 1, (n,), generator=generator)


def _uniform(lo: float, hi: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """n floats uniform in [lo, hi)."""
    return lo + (hi - lo) * torch.rand(n, generator=generator)


def _range(value: Sequence[float] | float, what: str, low: float = 0.0) -> tuple[float, float]:
    """A ``[min, max]`` config value (or one number) checked for ``low <= min <= max``."""
    lo, hi = (value, value) if isinstance(value, (int, float)) else tuple(value)
    if not low <= lo <= hi:
        raise ValueError(f"{what} must be {low} <= min <= max, got {value}")
    return lo, hi


def _probability(p: float, what: str) -> float:
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{what}.p must be a probability in [0, 1], got {p}")
    return float(p)


class Op:
    """Base of the ops: a ``name`` (prefix of its parameters) and a readable ``repr``.

    Plain classes rather than dataclasses: Hydra would turn dataclass instances inside a
    list into OmegaConf structured configs.
    """

    name = "op"

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class RandomOp(Op):
    """An op applied to each sample with probability ``p``; subclasses define ``draw``/``transform``.

    ``sample`` returns ``applied`` (B,) bool plus the op's own parameters, drawn for every
    sample whether applied or not, so the random stream (and thus every later op) does not
    depend on which samples were hit. ``apply`` runs ``transform`` on the applied samples only.
    """

    def __init__(self, p: float, name: str) -> None:
        self.name = name
        self.p = _probability(p, name)

    def draw(self, n: int, generator: torch.Generator) -> Params:
        return {}

    def transform(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator) -> Params:
        applied = torch.rand(n, generator=generator) < self.p
        return {"applied": applied, **self.draw(n, generator)}

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        # Which samples to hit is decided on the CPU, where parameters are drawn: no device
        # sync; ``transform`` moves the parameters it computes with to ``x.device``.
        applied = params["applied"].cpu()
        if not bool(applied.any()):
            return x
        if bool(applied.all()):
            return self.transform(x, params)
        idx = applied.nonzero().squeeze(1)
        own = {k: v[to_device(idx, v.device)] for k, v in params.items() if k != "applied"}
        dev = to_device(idx, x.device)
        return x.index_copy(0, dev, self.transform(x.index_select(0, dev), own).to(x.dtype))


class Pixelate(Op):
    """Block mosaic as real tools make it, with per-sample block size, grid, mode and box.

    - ``block``: block size range (inclusive); ``non_square_p``: chance that the width is
      drawn independently of the height (non-square blocks).
    - ``random_offset``: grid offset uniform in ``[0, block)`` per axis; ``False`` puts the
      grid at the image origin (or at the box corner), what most synthetic datasets do and
      real screenshots rarely do.
    - ``modes``: weights of the averaging modes (see ``depix.degrade.averaging.MODES``):
      ``srgb`` mean rounded to 8 bit (GIMP, most tools), ``srgb_trunc`` truncated (integer
      division), ``linear`` mean in linear light, ``center``/``corner`` one sampled pixel per
      cell (nearest-neighbour down/up scaling). Default: ``srgb`` only.
    - ``box_p``: chance to pixelate only a random box (a redacted field in a screenshot);
      its height/width are ``box_h``/``box_w`` fractions of the image.

    Parameters: ``block_h``, ``block_w``, ``offset_y``, ``offset_x`` (grid lines at
    ``offset + k * block``, image coordinates), ``mode`` (index into ``MODES``) and
    ``box`` (B, 4) ``y0, x0, y1, x1`` end-exclusive, the whole image when not partial
    (present whenever the pipeline passes the image size, which it always does).
    """

    def __init__(
        self,
        block: Sequence[int] | int = (4, 8),
        random_offset: bool = True,
        modes: Mapping[str, float] | None = None,
        non_square_p: float = 0.0,
        box_p: float = 0.0,
        box_h: Sequence[float] = (0.5, 1.0),
        box_w: Sequence[float] = (0.25, 0.9),
        name: str = "pixelate",
    ) -> None:
        lo, hi = (block, block) if isinstance(block, int) else tuple(block)
        if not 1 <= lo <= hi:
            raise ValueError(f"pixelate.block must be 1 <= min <= max, got {block}")
        self.block = (int(lo), int(hi))
        self.random_offset = random_offset
        self.modes = {str(k): float(v) for k, v in (modes or {"srgb": 1.0}).items()}
        unknown = set(self.modes) - set(MODES)
        if (
            unknown
            or not self.modes
            or min(self.modes.values()) < 0
            or not any(self.modes.values())
        ):
            raise ValueError(
                f"pixelate.modes must map some of {MODES} to weights >= 0 (not all 0), "
                f"got {self.modes}"
            )
        self.non_square_p = _probability(non_square_p, "pixelate.non_square")
        self.box_p = _probability(box_p, "pixelate.box")
        self.box_h = _range(box_h, "pixelate.box_h")
        self.box_w = _range(box_w, "pixelate.box_w")
        if self.box_h[1] > 1 or self.box_w[1] > 1:
            raise ValueError("pixelate.box_h/box_w are fractions of the image, at most 1")
        self.name = name

    def _draw_box(self, n: int, generator: torch.Generator, size: tuple[int, int]) -> torch.Tensor:
        h, w = size
        partial = torch.rand(n, generator=generator) < self.box_p
        bh = (_uniform(*self.box_h, n, generator) * h).long().clamp(1, h)
        bw = (_uniform(*self.box_w, n, generator) * w).long().clamp(1, w)
        y0 = (torch.rand(n, generator=generator) * (h - bh + 1)).long()
        x0 = (torch.rand(n, generator=generator) * (w - bw + 1)).long()
        box = torch.stack([y0, x0, y0 + bh, x0 + bw], dim=1)
        full = torch.tensor([0, 0, h, w]).expand(n, 4)
        return torch.where(partial.unsqueeze(1), box, full)

    def sample(
        self, n: int, generator: torch.Generator, size: tuple[int, int] | None = None
    ) -> Params:
        # Draw order keeps the stream of the plain (square, sRGB, full-image) preset unchanged:
        # extra features draw only when they are switched on.
        block = _randint(*self.block, n, generator)
        block_w = block.clone()
        if self.non_square_p > 0:
            other = _randint(*self.block, n, generator)
            non_square = torch.rand(n, generator=generator) < self.non_square_p
            block_w = torch.where(non_square, other, block)
        if self.random_offset:
            offset_y = (torch.rand(n, generator=generator) * block).long()
            offset_x = (torch.rand(n, generator=generator) * block_w).long()
        else:
            offset_y = offset_x = torch.zeros(n, dtype=torch.long)
        params = {"block_h": block, "block_w": block_w, "offset_y": offset_y, "offset_x": offset_x}
        names = list(self.modes)
        if len(names) > 1:
            weights = torch.tensor([self.modes[m] for m in names])
            drawn = torch.multinomial(weights, n, replacement=True, generator=generator)
            params["mode"] = torch.tensor([MODES.index(m) for m in names])[drawn]
        else:
            params["mode"] = torch.full((n,), MODES.index(names[0]), dtype=torch.long)
        if size is None:
            if self.box_p > 0:
                raise ValueError("Pixelate with box_p > 0 needs the image size to draw boxes")
            return params
        box = (
            self._draw_box(n, generator, size)
            if self.box_p > 0
            else torch.tensor([0, 0, size[0], size[1]]).expand(n, 4).clone()
        )
        if not self.random_offset:  # the tool's grid starts at the selection's corner
            offset_y, offset_x = box[:, 0].clone(), box[:, 1].clone()
            params.update(offset_y=offset_y, offset_x=offset_x)
        params["box"] = box
        return params

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        grid = [params[k] for k in ("block_h", "block_w", "offset_y", "offset_x")]
        box = params.get("box")
        mode = params.get("mode")
        if mode is None:
            mode = torch.zeros(x.shape[0], dtype=torch.long)
        h, w = x.shape[-2:]
        if box is not None:
            full = torch.tensor([0, 0, h, w], device=box.device)
            partial = (box != full).any(1).cpu()
            if not bool(partial.any()):
                box = None  # every box is the whole image: no masking at all
        out = pixelate_modes(x, mode, *grid, box=box)
        if box is not None:  # rounding to 8 bit must not touch the clean surroundings
            box = to_device(box, x.device)
            inside = box_mask(h, w, box).view(x.shape[0], 1, h, w)
            out = torch.where(inside, out, x)
        return out


class Quantize(Op):
    """Round to ``bits`` per channel, as saving to an 8-bit image file does."""

    def __init__(self, bits: int = 8, name: str = "quantize") -> None:
        self.bits, self.name = int(bits), name

    def sample(self, n: int, generator: torch.Generator) -> Params:
        return {}

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        levels = 2**self.bits - 1
        return torch.round(x.clamp(0, 1) * levels) / levels
