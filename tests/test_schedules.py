"""Learning-rate schedules follow the step budget or the time budget, whichever ends first."""

import csv
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from depix.models.schedules import time_budget_progress, warmup_cosine
from depix.train import train


def lr_factors(total_steps: float, steps: int, **kwargs) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = warmup_cosine(optimizer, total_steps, **kwargs)
    factors = []
    for _ in range(steps):
        factors.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return factors


def test_cosine_over_the_step_budget():
    f = lr_factors(100, 101, warmup_steps=10, final_ratio=0.1)
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[55] == pytest.approx(0.55, abs=0.02)  # half-way through the decay
    assert f[100] == pytest.approx(0.1)


def test_time_budget_ends_the_decay_before_the_step_budget():
    # A max_time run sized from max_epochs: 100,000 steps by count, but time runs out at 50.
    f = lr_factors(100_000, 51, warmup_steps=10, final_ratio=0.1, time_progress=lambda s: s / 50)
    assert f[30] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.6)))
    assert f[50] == pytest.approx(0.1)


def test_only_time_bounds_the_run():
    f = lr_factors(float("inf"), 21, warmup_steps=2, time_progress=lambda s: s / 20)
    assert f[1] == pytest.approx(1.0) and f[20] == pytest.approx(0.05)
    assert lr_factors(float("inf"), 30, warmup_steps=2)[-1] == 1.0  # no budget: no decay


def test_time_progress_reads_lightnings_timer(monkeypatch):
    trainer = pl.Trainer(max_time="00:00:01:00", logger=False, enable_checkpointing=False)
    timer = next(c for c in trainer.callbacks if isinstance(c, pl.callbacks.Timer))
    monkeypatch.setattr(timer, "time_elapsed", lambda stage="train": 15.0)
    progress = time_budget_progress(trainer)
    assert progress(0) == pytest.approx(0.25)
    monkeypatch.setattr(timer, "time_elapsed", lambda stage="train": 45.0)
    assert progress(1) == pytest.approx(0.75)  # one process: re-read every step
    assert time_budget_progress(pl.Trainer(max_epochs=1, logger=False)) is None


@pytest.mark.slow
def test_a_max_time_run_ends_with_a_decayed_learning_rate(tiny_cfg):
    cfg = tiny_cfg(
        "trainer.max_epochs=-1",
        "trainer.max_time=00:00:00:15",  # long enough for >= 3 steps on a loaded 2-core CPU
        "trainer.log_every_n_steps=1",
        "trainer.val_check_interval=1000",
        "trainer.check_val_every_n_epoch=null",
        "data.train.length=100000",
        "optimizer.lr=1e-3",
        "scheduler.warmup_steps=1",
        "scheduler.final_ratio=0.01",
    )
    train(cfg)
    with open(Path(cfg.paths.run_dir) / "metrics.csv") as handle:
        lrs = [float(r["lr-AdamW"]) for r in csv.DictReader(handle) if r.get("lr-AdamW")]
    assert len(lrs) >= 3 and max(lrs) > 5e-4  # it did train near the peak rate
    assert lrs[-1] < 0.35 * max(lrs)  # and annealed as time ran out (max_epochs alone: flat)
