"""The real ``train()`` on shrunk configs: files it leaves, learning, resume and bad paths."""

import csv
import json
import math
import re
import sys
from pathlib import Path

import pytest
import torch

from depix.callbacks.checkpoint_io import CheckpointLoadError, load_checkpoint_file
from depix.train import UsageError, train

from .conftest import TINY


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


def test_fast_dev_run_trains_and_validates_one_batch(tiny_cfg):
    cfg = tiny_cfg("debug=fdr")
    value = train(cfg)  # one train + one val batch through every component
    assert value is not None and math.isfinite(value)  # validation ran and logged val/psnr
    result = json.loads((Path(cfg.paths.run_dir) / "result.json").read_text())
    assert result["global_step"] == 1 and result["value"] == value


def test_test_true_returns_the_validation_metric_and_records_test_metrics(tiny_cfg):
    cfg = tiny_cfg("test=true", "trainer.max_steps=2", "data.train.length=8")
    value = train(cfg)
    result = json.loads((Path(cfg.paths.run_dir) / "result.json").read_text())
    assert value is not None and result["value"] == pytest.approx(value)
    assert result["best"] == pytest.approx(value)  # one validation: best = last
    assert {"test/psnr", "test/ssim", "test/psnr_input"} <= set(result["test"])
    # data.test unset: the test set is the validation set, scored with best.ckpt
    assert result["test"]["test/psnr"] == pytest.approx(result["best"], abs=1e-4)


def test_reusing_a_run_name_is_refused_and_keeps_the_old_run(tiny_cfg, tmp_path):
    cfg = tiny_cfg("trainer.max_steps=2", "data.train.length=8")
    train(cfg)
    run = Path(cfg.paths.run_dir)
    files = ("checkpoints/last.ckpt", "checkpoints/best.ckpt", "metrics.csv", "result.json")
    before = {name: (run / name).read_bytes() for name in files}
    with pytest.raises(UsageError, match=r"resume=true.*run_name=") as error:
        train(tiny_cfg("trainer.max_steps=2", "data.train.length=8", "seed=5"))
    assert "\n" not in str(error.value)
    assert {name: (run / name).read_bytes() for name in files} == before
    # resume=true continues it (here: already at its budget, so it only validates again)
    train(tiny_cfg("trainer.max_steps=2", "data.train.length=8", "resume=true"))


def test_report_says_what_the_run_reached_against_its_input(tiny_cfg, caplog):
    cfg = tiny_cfg("trainer.max_steps=2", "data.train.length=8")
    with caplog.at_level("INFO", logger="depix.train"):
        train(cfg)
    text = caplog.text
    assert "trained 2 of 2 optimiser steps" in text
    assert re.search(r"validation PSNR [\d.]+ dB vs [\d.]+ dB for the pixelated input", text)
    assert str(Path(cfg.paths.run_dir) / "samples.png") in text
    assert "wall-clock cap" not in text


@pytest.mark.slow
def test_time_capped_run_is_reported_and_resume_trains_on(tiny_cfg, caplog):
    # A 1-second wall-clock cap far below the step budget: every invocation trains at least
    # one step and stops at the cap; resume=true gets a fresh second, never stops at once.
    capped = (
        "trainer.max_time=00:00:00:01",
        "trainer.max_epochs=-1",
        "trainer.max_steps=100000",
        "callbacks.last_checkpoint.every_n_train_steps=1",
    )
    cfg = tiny_cfg(*capped)
    with caplog.at_level("INFO", logger="depix.train"):
        train(cfg)
    assert "stopped by the wall-clock cap trainer.max_time=00:00:00:01" in caplog.text
    assert "resume=true" in caplog.text
    last = Path(cfg.paths.run_dir) / "checkpoints/last.ckpt"
    first = torch.load(last, weights_only=True)["global_step"]
    assert first >= 1
    train(tiny_cfg(*capped, "resume=true"))
    assert torch.load(last, weights_only=True)["global_step"] > first


def run_cli(argv: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str]:
    """``depix-train ARGV`` in this process, started in ``cwd``: (exit status, stderr)."""
    from hydra.core.global_hydra import GlobalHydra

    from depix.train import main
    from depix.utils.config_dir import LAUNCH_DIR_ENV

    GlobalHydra.instance().clear()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv(LAUNCH_DIR_ENV, str(cwd))  # restored afterwards; main() sets it
    monkeypatch.setattr(sys, "argv", ["depix-train", *argv])
    capsys.readouterr()
    try:
        main()
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    finally:
        GlobalHydra.instance().clear()
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["ckpt_path=/nope/x.ckpt"], "ckpt_path=/nope/x.ckpt: no such checkpoint file"),
        (["ckpt_path=last"], "ckpt_path=last but"),
        (["init_from=/nope/run"], "/nope/run"),
        (["data=folder"], "data=folder needs the image folder: add data.root="),
        (["data=folder", "data.root=/nope/images"], "image folder /nope/images does not exist"),
    ],
)
def test_ordinary_mistakes_are_one_line_errors(argv, message, tmp_path, monkeypatch, capsys):
    status, err = run_cli([*argv, *TINY, "trainer.max_steps=1"], tmp_path, monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and len(lines) == 1, err
    assert lines[0].startswith("depix-train: error: ") and message in lines[0], err
    assert "Traceback" not in err
    assert not list((tmp_path / "runs").rglob("*.ckpt"))


@pytest.mark.slow
def test_console_script_error_is_one_line_on_stderr(tmp_path):
    import os
    import subprocess

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "depix.train", "init_from=/nope/run", *TINY],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("depix-train: error: "), proc.stderr
    assert "/nope/run" in lines[0]


def test_debug_presets_write_under_runs_debug_and_replace_their_last_debug_run(tiny_cfg, tmp_path):
    from tests.test_sweep import compose_with_hydra

    for preset in ("fdr", "limit", "overfit", "profiler"):
        cfg = compose_with_hydra([f"debug={preset}", "experiment=quickstart"])
        assert cfg.hydra.run.dir.endswith("/runs/debug/quickstart") and cfg.overwrite
    short = ("debug=limit", "trainer.max_epochs=1", "data.train.length=8")
    train(tiny_cfg(*short))
    last = Path(tiny_cfg(*short).paths.run_dir) / "checkpoints" / "last.ckpt"
    first = last.read_bytes()
    train(tiny_cfg(*short, "seed=3"))  # overwrite=true: the earlier debug run is replaced
    assert last.read_bytes() != first


def test_resume_without_a_last_checkpoint_in_a_used_folder_is_refused(tiny_cfg, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "result.json").write_text("{}")
    with pytest.raises(UsageError, match=r"resume=true, but .* has no checkpoints/last.ckpt"):
        train(tiny_cfg("resume=true", run_dir=run))
    assert (run / "result.json").read_text() == "{}"
