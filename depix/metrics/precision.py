"""Metric updates in float32, outside autocast, whatever precision the model runs in.

Under ``precision="bf16-mixed"`` Lightning runs ``validation_step`` inside autocast, so a
torchmetrics update called there computes in bfloat16 (8 bits of mantissa). SSIM's local
variances are differences of nearly equal means (E[x²] - E[x]²): on flat text backgrounds
they cancel completely in bfloat16, and a line whose SSIM is ~0.75 in float32 scored ~0.01
(issue 14). PSNR's squared errors lose digits the same way. Every metric update in depix
goes through ``update_float32``; the reader's CER (strings) uses it too, for one rule.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric, MetricCollection


def _float32(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.float()
    return value


def _device_type(values: tuple[Any, ...]) -> str:
    for value in values:
        if isinstance(value, torch.Tensor):
            return value.device.type
    return "cpu"


def update_float32(metric: Metric | MetricCollection, *args: Any, **kwargs: Any) -> None:
    """``metric.update(*args, **kwargs)`` with autocast off and floating tensors as float32.

    Non-tensor arguments (strings for CER) and integer tensors pass unchanged. Autocast is
    disabled for the device type of the first tensor argument (CPU when there is none),
    which is the autocast Lightning enabled for the step.
    """
    device_type = _device_type(args + tuple(kwargs.values()))
    with torch.autocast(device_type=device_type, enabled=False):
        metric.update(*(_float32(a) for a in args), **{k: _float32(v) for k, v in kwargs.items()})


def compute_float32(metric: Metric | MetricCollection, device_type: str = "cpu") -> Any:
    """``metric.compute()`` with autocast off for ``device_type`` (epoch-end hooks are not
    normally inside autocast; this keeps it so if a caller is)."""
    with torch.autocast(device_type=device_type, enabled=False):
        return metric.compute()
