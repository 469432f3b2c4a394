"""EMA, torch.compile and the checkpoint's weights-only contents."""

from __future__ import annotations

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


def test_ema_follows_the_weights_with_warmup_and_decay():
    module, trainer = _Module(), _Trainer()
    ema = EMA(decay=0.5, warmup=False)
    ema.on_fit_start(trainer, module)
    with torch.no_grad():
        module.net.weight.fill_(1.0)
    start = ema.ema["weight"].clone()
    trainer.global_step = 1
    ema.on_train_batch_end(trainer, module, None, None, 0)
    torch.testing.assert_close(ema.ema["weight"], 0.5 * start + 0.5)
    ema.on_train_batch_end(trainer, module, None, None, 1)  # same step (accumulation): no update
    torch.testing.assert_close(ema.ema["weight"], 0.5 * start + 0.5)
    assert EMA(decay=0.999).current_decay() == pytest.approx(0.1)  # warm-up: (1+0)/(10+0)
    with pytest.raises(ValueError, match="decay"):
        EMA(decay=1.0)


@pytest.mark.slow
def test_checkpoint_holds_ema_next_to_the_raw_weights(tiny_cfg):
    cfg = tiny_cfg("debug=limit", "trainer.max_epochs=1", "ema.enabled=true", "ema.decay=0.5")
    train(cfg)
    ckpt = torch.load(Path(cfg.paths.run_dir) / "checkpoints/last.ckpt", weights_only=True)
    raw = {k[4:]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    assert set(ckpt[EMA_KEY]) == set(raw)
    assert any(not torch.equal(ckpt[EMA_KEY][k], raw[k]) for k in raw)


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
