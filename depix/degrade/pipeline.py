"""A degradation = a list of ops, each drawing per-sample parameters and applying them batched.

Parameters are drawn on the CPU from an explicit ``torch.Generator`` (so validation is
reproducible and the training stream can be checkpointed) and moved to the batch's device;
the pixel work then runs on that device in one batched call per op.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Protocol

import torch

Params = dict[str, torch.Tensor]


def to_device(t: torch.Tensor, device: torch.device, dtype: torch.dtype | None = None):
    """``t`` (a small CPU parameter tensor) on ``device``, without a host sync on a GPU: the
    copy goes from pinned memory and is queued on the stream (``non_blocking``)."""
    if t.device == device or device.type != "cuda":
        return t.to(device, dtype)
    return t.pin_memory().to(device, dtype, non_blocking=True)


class DegradationOp(Protocol):
    """One step of a degradation: ``sample`` draws per-sample parameters, ``apply`` uses them.

    ``sample`` may also take a keyword ``size`` (the image's ``(H, W)``) when its
    parameters are in pixels (e.g. the box of a partial pixelation).
    """

    name: str

    def sample(self, n: int, generator: torch.Generator) -> Params: ...

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """Degrade ``x`` with ``params`` (which may live on the CPU while ``x`` is on a GPU)."""
        ...


class Degradation:
    """Runs its ops in order; returns the degraded batch and every op's parameters.

    The returned parameters are keyed ``"<op name>.<param>"`` (e.g. ``"pixelate.block_h"``)
    so metrics such as mosaic consistency can reuse the exact grid of each sample.
    """

    def __init__(self, ops: Sequence[DegradationOp]) -> None:
        names = [op.name for op in ops]
        if len(set(names)) != len(names):
            raise ValueError(f"degradation op names must be unique, got {names}")
        self.ops = list(ops)

    def sample(
        self, n: int, generator: torch.Generator, size: tuple[int, int] | None = None
    ) -> Params:
        """Draw every op's parameters for ``n`` images of ``size`` (H, W), in op order."""
        params: Params = {}
        for op in self.ops:
            wants_size = "size" in inspect.signature(op.sample).parameters
            drawn = op.sample(n, generator, size=size) if wants_size else op.sample(n, generator)
            for key, value in drawn.items():
                params[f"{op.name}.{key}"] = value
        return params

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        # Parameters stay where they were drawn (the CPU): ops decide which samples to hit and
        # how to group them there without waiting for the device, and move only the values
        # they compute with to ``x.device``.
        for op in self.ops:
            prefix = f"{op.name}."
            own = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
            x = op.apply(x, own)
        return x.clamp(0.0, 1.0)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, Params]:
        params = self.sample(x.shape[0], generator, size=(x.shape[-2], x.shape[-1]))
        return self.apply(x, params), params

    def __repr__(self) -> str:
        return f"Degradation({', '.join(repr(op) for op in self.ops)})"
