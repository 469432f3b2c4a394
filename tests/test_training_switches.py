"""EMA, torch.compile and the checkpoint's weights-only contents."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from depix.callbacks.ema import EMA, EMA_KEY
from depix.train import train


class _Module:
    def __init__(self) -> None:
        self.net = nn.Linear(2, 1, bias=False)


class _Trainer:
    global_step = 0


def _step(ema: EMA, trainer: _Trainer, module: _Module, weight: list[float]) -> None:
    """One optimiser step that leaves the weights at ``weight``, then the EMA hook."""
    with torch.no_grad():
        module.net.weight.copy_(torch.tensor([weight]))
    trainer.global_step += 1
    ema.on_train_batch_end(trainer, module, None, None, trainer.global_step)


def test_ema_equals_its_closed_form_without_warmup():
    """ema_N = d^N e_0 + sum_k (1 - d) d^(N-k) w_k for the weights w_1..w_N after each step."""
    module, trainer, decay = _Module(), _Trainer(), 0.7
    ema = EMA(decay=decay, warmup=False)
    ema.on_fit_start(trainer, module)
    start = ema.ema["weight"].clone()
    weights = [[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0], [2.0, 2.0]]
    for weight in weights:
        _step(ema, trainer, module, weight)
    ema.on_train_batch_end(trainer, module, None, None, 99)  # same step (accumulation): no update
    n = len(weights)
    expected = decay**n * start + sum(
        (1 - decay) * decay ** (n - k) * torch.tensor([w]) for k, w in enumerate(weights, 1)
    )
    torch.testing.assert_close(ema.ema["weight"], expected)
    assert ema.updates == n
    with pytest.raises(ValueError, match="decay"):
        EMA(decay=1.0)


def test_ema_warmup_equals_its_closed_form():
    """With warm-up the n-th update (n = 0, 1, ...) uses decay (1 + n) / (10 + n); for
    constant weights w: ema_N = w + (e_0 - w) * prod_n (1 + n) / (10 + n) = 9! N! / (N + 9)!."""
    module, trainer = _Module(), _Trainer()
    ema = EMA(decay=0.999, warmup=True)
    ema.on_fit_start(trainer, module)
    start = ema.ema["weight"].clone()
    w, n = torch.tensor([[2.0, -3.0]]), 6
    for _ in range(n):
        _step(ema, trainer, module, w[0].tolist())
    shrink = math.factorial(9) * math.factorial(n) / math.factorial(n + 9)
    torch.testing.assert_close(ema.ema["weight"], w + (start - w) * shrink)
    assert EMA(decay=0.05).current_decay() == pytest.approx(0.05)  # capped by decay


@pytest.mark.slow
def test_checkpoint_holds_ema_next_to_the_raw_weights(tiny_cfg, monkeypatch):
    """A real run: the saved EMA equals the closed form over the weights after each
    optimiser step (recorded as the run goes), not the initial or the raw weights."""
    import depix.train

    seen: list[dict[str, torch.Tensor]] = []

    class RecordingEMA(EMA):
        def on_fit_start(self, trainer, pl_module) -> None:
            super().on_fit_start(trainer, pl_module)
            seen.append({k: v.clone() for k, v in self.ema.items()})

        def on_train_batch_end(self, trainer, pl_module, *args) -> None:
            updates = self.updates
            super().on_train_batch_end(trainer, pl_module, *args)
            if self.updates > updates:
                state = pl_module.net.state_dict()
                seen.append({k: v.detach().clone() for k, v in state.items()})

    monkeypatch.setattr(depix.train, "EMA", RecordingEMA)
    cfg = tiny_cfg("debug=limit", "ema.enabled=true", "ema.decay=0.5", "ema.warmup=false")
    train(cfg)
    ckpt = torch.load(Path(cfg.paths.run_dir) / "checkpoints/last.ckpt", weights_only=True)
    raw = {k[4:]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    start, steps = seen[0], seen[1:]
    assert len(steps) >= 2 and set(ckpt[EMA_KEY]) == set(raw)
    n = len(steps)
    for key, value in ckpt[EMA_KEY].items():
        if value.is_floating_point():
            expected = 0.5**n * start[key] + sum(
                0.5 * 0.5 ** (n - k) * w[key] for k, w in enumerate(steps, 1)
            )
            torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(ckpt[EMA_KEY][k], raw[k]) for k in raw)
    assert any(not torch.equal(ckpt[EMA_KEY][k], start[k]) for k in raw)


@pytest.mark.slow
def test_compile_switch_keeps_weight_names(tiny_cfg, caplog):
    cfg = tiny_cfg("debug=limit", "trainer.max_epochs=1", "compile={backend: eager}")
    with caplog.at_level("INFO", logger="depix.train"):
        train(cfg)
    assert "torch.compile(net, {'backend': 'eager'})" in caplog.text
    ckpt = torch.load(Path(cfg.paths.run_dir) / "checkpoints/last.ckpt", weights_only=True)
    assert all("_orig_mod" not in k for k in ckpt["state_dict"])
    assert ckpt["depix_config"]["compile"] == {"backend": "eager"}


def _exported(tmp_path: Path, widths: list[int]) -> tuple[Path, nn.Module]:
    from depix.models.loading import EXPORT_FORMAT
    from depix.models.unet import UNet

    net = UNet(widths=widths)
    config = {"model": {"_target_": "depix.models.unet.UNet", "widths": widths}}
    path = tmp_path / f"model{len(widths)}.pt"
    torch.save({"format": EXPORT_FORMAT, "config": config, "state_dict": net.state_dict()}, path)
    return path, net


def test_init_from_copies_weights_and_rejects_another_shape(tmp_path):
    from depix.callbacks.checkpoint_io import CheckpointLoadError
    from depix.models.loading import init_weights
    from depix.models.unet import UNet

    path, source = _exported(tmp_path, [8, 16])
    target = UNet(widths=[8, 16])
    assert init_weights(target, path) == path
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    with pytest.raises(CheckpointLoadError, match="init_from=.*does not fit"):
        init_weights(UNet(widths=[8, 16, 32]), path)


@pytest.mark.slow
def test_training_starts_from_init_from_weights(tiny_cfg, tmp_path):
    path, source = _exported(tmp_path, [8, 16])
    # lr 0: the run must end exactly where it started, i.e. at the source's weights.
    cfg = tiny_cfg("debug=limit", f"init_from={path}", "optimizer.lr=0.0")
    train(cfg)
    ckpt = torch.load(Path(cfg.paths.run_dir) / "checkpoints/last.ckpt", weights_only=True)
    for key, value in source.state_dict().items():
        assert torch.equal(ckpt["state_dict"][f"net.{key}"], value), key
