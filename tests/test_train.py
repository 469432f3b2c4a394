"""The real ``train()`` on shrunk configs: files it leaves, learning, resume and bad paths."""

import csv
from pathlib import Path

import pytest
import torch

from depix.callbacks.checkpoint_io import CheckpointLoadError, load_checkpoint_file
from depix.train import train


def test_fast_dev_run_default_config(tiny_cfg):
    cfg = tiny_cfg("debug=fdr")
    train(cfg)  # one train + one val batch through every component


@pytest.mark.slow
def test_tiny_run_writes_outputs_and_beats_the_input(tiny_cfg):
    # Overfit-able task: the training lines are the validation lines.
    cfg = tiny_cfg(
        "data.train.seed=1234",
        "data.train.font_split=val",
        "data.train.length=8",
        "data.val.length=8",
        "data.batch_size=8",
        "degradation=plain",  # a fixed, simple task: this tests training, not realism
        "degradation.ops.0.block=[4,4]",
        "model.widths=[16,32,64]",
        "optimizer.lr=2e-3",
        "scheduler=none",
        "trainer.max_epochs=150",
        "trainer.check_val_every_n_epoch=150",
    )
    score = train(cfg)
    run = Path(cfg.paths.run_dir)
    for name in (
        "config.yaml",
        "metrics.csv",
        "samples.png",
        "checkpoints/last.ckpt",
        "checkpoints/best.ckpt",
    ):
        assert (run / name).is_file(), name
    with open(run / "metrics.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("val/psnr")]
    last = rows[-1]
    assert score == pytest.approx(float(last["val/psnr"]), abs=1e-4)
    assert float(last["val/psnr"]) > float(last["val/psnr_input"]) + 1.0
    ckpt = load_checkpoint_file(run / "checkpoints/last.ckpt")  # weights-only loading works
    assert ckpt["depix_config"]["model"]["widths"] == [16, 32, 64]
    assert any(k.startswith("net.") for k in ckpt["state_dict"])


def test_missing_checkpoint_is_a_clear_error(tiny_cfg, tmp_path):
    cfg = tiny_cfg(f"ckpt_path={tmp_path}/nope.ckpt")
    with pytest.raises(CheckpointLoadError, match="nope.ckpt"):
        train(cfg)
    cfg = tiny_cfg("ckpt_path=last")
    with pytest.raises(CheckpointLoadError, match="last.ckpt"):
        train(cfg)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointLoadError, match="truncated"):
        load_checkpoint_file(path)
