"""Resume continues exactly; checkpoints survive a kill mid-save and load weights-only."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from depix.callbacks.checkpoint_io import AtomicCheckpointIO, CheckpointLoadError
from depix.callbacks.ema import EMA_KEY
from depix.loggers.wandb import ID_FILE
from depix.models.loading import load_model
from depix.train import train


class StopAfterEpochs(pl.Callback):
    """Simulates an interrupted run: stops after ``epochs`` epochs (last.ckpt is written)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


# Two epochs of two optimiser steps each; EMA on; deterministic CPU; CSV + W&B (offline).
RESUME_RUN = (
    "trainer.max_epochs=2",
    "trainer.deterministic=true",
    "data.train.length=8",
    "ema.enabled=true",
    "ema.decay=0.9",
    "logger=[csv,wandb]",
    "scheduler.warmup_steps=1",
)


def val_psnr_rows(run: Path) -> list[tuple[int, float]]:
    with open(run / "metrics.csv") as handle:
        return [
            (int(r["step"]), float(r["val/psnr"])) for r in csv.DictReader(handle) if r["val/psnr"]
        ]


@pytest.mark.slow
def test_interrupted_and_resumed_run_matches_uninterrupted(tiny_cfg, tmp_path):
    full = tmp_path / "full"
    train(tiny_cfg(*RESUME_RUN, run_dir=full))

    split = tmp_path / "split"
    train(
        tiny_cfg(
            *RESUME_RUN,
            "+callbacks.stop._target_=tests.test_resume.StopAfterEpochs",
            "+callbacks.stop.epochs=1",
            run_dir=split,
        )
    )
    first_id = (split / ID_FILE).read_text().strip()
    assert torch.load(split / "checkpoints/last.ckpt", weights_only=True)["global_step"] == 2
    train(tiny_cfg(*RESUME_RUN, "resume=true", run_dir=split))

    a = torch.load(full / "checkpoints/last.ckpt", weights_only=True)
    b = torch.load(split / "checkpoints/last.ckpt", weights_only=True)  # weights-only loading
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"]) == (1, 4)
    # Same seed, deterministic kernels, one process: the runs are bit-identical. The stated
    # tolerance (1e-6 absolute) only leaves room for a future non-bitwise CPU kernel.
    for key in a["state_dict"]:
        torch.testing.assert_close(b["state_dict"][key], a["state_dict"][key], atol=1e-6, rtol=0)
    for key in a[EMA_KEY]:
        torch.testing.assert_close(b[EMA_KEY][key], a[EMA_KEY][key], atol=1e-6, rtol=0)
    state_a, state_b = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    for index in state_a:
        torch.testing.assert_close(
            state_b[index]["exp_avg"], state_a[index]["exp_avg"], atol=1e-6, rtol=0
        )
    assert a["lr_schedulers"][0]["last_epoch"] == b["lr_schedulers"][0]["last_epoch"] == 4
    # EMA: the net's own keys, no "net." prefix, and not the raw weights.
    net_keys = {k[len("net.") :] for k in a["state_dict"] if k.startswith("net.")}
    assert set(a[EMA_KEY]) == net_keys
    assert any(not torch.equal(a[EMA_KEY][k], a["state_dict"]["net." + k]) for k in net_keys)
    # metrics.csv of the resumed run kept epoch 0's rows and appended epoch 1's.
    rows_full, rows_split = val_psnr_rows(full), val_psnr_rows(split)
    assert [step for step, _ in rows_split] == [step for step, _ in rows_full] and len(
        rows_full
    ) == 2
    assert [v for _, v in rows_split] == pytest.approx([v for _, v in rows_full], abs=1e-5)
    # The same W&B run continues: same id in the run folder, the checkpoint and both sessions.
    assert (split / ID_FILE).read_text().strip() == first_id == b["wandb_id"]
    sessions = sorted((split / "wandb").glob("offline-run-*"))
    # W&B names a session folder offline-run-<time>-<id>, adding "-1" when two start within
    # the same second (a fast machine): both must carry the run id.
    assert len(sessions) == 2 and all(f"-{first_id}" in s.name for s in sessions)
    assert (full / ID_FILE).read_text().strip() != first_id
    # Evaluation loads the EMA weights (depix.models.loading prefers ema_state_dict).
    loaded = load_model(split / "checkpoints/last.ckpt")
    for key, value in loaded.net.state_dict().items():
        torch.testing.assert_close(value, b[EMA_KEY][key])


def test_truncated_last_checkpoint_on_resume_names_the_file(tiny_cfg, tmp_path):
    run = tmp_path / "run"
    last = run / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    torch.save({"state_dict": {"w": torch.zeros(10000)}}, last)
    last.write_bytes(last.read_bytes()[:300])
    with pytest.raises(CheckpointLoadError, match=r"last\.ckpt.*truncated"):
        train(tiny_cfg("resume=true", run_dir=run))


def test_crash_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"global_step": 1, "w": torch.ones(3)}, path)

    def crash(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path)["global_step"] == 1


SAVER = textwrap.dedent(
    """
    import sys, torch
    from depix.callbacks.checkpoint_io import AtomicCheckpointIO
    io, path = AtomicCheckpointIO(), sys.argv[1]
    io.save_checkpoint({"version": 0, "w": torch.zeros(10)}, path)
    big = torch.randn(32 * 2**20 // 4)  # 32 MB: each save takes a while
    print("ready", flush=True)
    for version in range(1, 1000):
        io.save_checkpoint({"version": version, "w": big}, path)
    """
)


@pytest.mark.slow
def test_sigkill_during_save_leaves_a_loadable_last_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    tmp = tmp_path / ".last.ckpt.tmp"
    proc = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not (tmp.exists() and tmp.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert tmp.exists(), "the saver never started a write"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    checkpoint = AtomicCheckpointIO().load_checkpoint(path)  # whole, weights-only
    assert checkpoint["version"] >= 0 and checkpoint["w"].numel() in (10, 32 * 2**20 // 4)


def test_last_checkpoint_is_refreshed_when_the_metric_does_not_improve(tiny_cfg, tmp_path):
    # lr=0: val/psnr never improves after epoch 0, yet last.ckpt must follow every epoch.
    cfg = tiny_cfg("trainer.max_epochs=2", "data.train.length=8", "optimizer.lr=0.0")
    train(cfg)
    last = torch.load(Path(cfg.paths.run_dir) / "checkpoints/last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, 4)


class StopAfterSteps(pl.Callback):
    """Simulates a run killed mid-epoch, right after the checkpoint of step ``steps``."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.steps:
            trainer.should_stop = True  # last.ckpt of this step is already written


MID_EPOCH_RUN = (
    "trainer.max_epochs=1",
    "trainer.deterministic=true",
    "callbacks.last_checkpoint.every_n_train_steps=1",
    "scheduler=none",
)


@pytest.mark.slow
def test_mid_epoch_resume_continues_the_epoch_stream(tiny_cfg, tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    train(tiny_cfg(*MID_EPOCH_RUN, run_dir=full))
    stop = ("+callbacks.stop._target_=tests.test_resume.StopAfterSteps", "+callbacks.stop.steps=2")
    train(tiny_cfg(*MID_EPOCH_RUN, *stop, run_dir=split))
    assert torch.load(split / "checkpoints/last.ckpt", weights_only=True)["global_step"] == 2
    train(tiny_cfg(*MID_EPOCH_RUN, "resume=true", run_dir=split))
    a = torch.load(full / "checkpoints/last.ckpt", weights_only=True)
    b = torch.load(split / "checkpoints/last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 4
    for key in a["state_dict"]:
        torch.testing.assert_close(b["state_dict"][key], a["state_dict"][key], atol=1e-6, rtol=0)


def test_training_samples_depend_on_seed_and_position_not_on_workers():
    from torch.utils.data import DataLoader

    from depix.data.resumable import ResumableSampler, SeededSamples
    from depix.data.synthetic_text import SyntheticTextDataset

    dataset = SyntheticTextDataset(length=6, size=(24, 64), font_sizes=(12, 16))  # seed=None

    def images(workers: int, epoch: int) -> torch.Tensor:
        sampler = ResumableSampler(dataset, seed=7)
        sampler.set_epoch(epoch)
        loader = DataLoader(
            SeededSamples(dataset), batch_size=3, sampler=sampler, num_workers=workers
        )
        return torch.cat([batch["image"] for batch in loader])

    torch.testing.assert_close(images(0, 0), images(2, 0), atol=0, rtol=0)
    assert not torch.equal(images(0, 0), images(0, 1))  # a new epoch draws new lines
