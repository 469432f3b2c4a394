"""Multirun sweeps and DDP under Hydra, run as the README runs them (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from depix.loggers.wandb import ID_FILE
from depix.models.loading import load_model
from depix.sweep_summary import collect, main
from depix.utils.hydra_ddp import config_source_args

from .conftest import TINY

ROOT = Path(__file__).resolve().parent.parent
NOT_CPU = [o for o in TINY if not o.startswith("trainer=")]


def depix_train(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "depix.train", *args]
    # OMP_NUM_THREADS=1: twice on this 2-core CI machine a tiny conv's oneDNN backward spun
    # forever inside an OpenMP region of the child (seen with py-spy --native); one thread
    # per process is also what the test's tiny model needs.
    env = {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def check_jobs(sweep: Path, jobs: int) -> list[str]:
    """Each job: its own folder, a loadable checkpoint, its own (offline) W&B run."""
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [str(i) for i in range(jobs)]
    ids = []
    for job in sorted(p for p in sweep.iterdir() if p.is_dir()):
        loaded = load_model(job / "checkpoints" / "last.ckpt")
        assert loaded.config["paths"]["run_dir"] == str(job)
        run_id = (job / ID_FILE).read_text().strip()
        sessions = list((job / "wandb").glob("offline-run-*"))
        assert [s.name[-len(run_id) :] for s in sessions] == [run_id]
        ids.append(run_id)
    assert len(set(ids)) == jobs
    return ids


@pytest.mark.slow
def test_readme_sweep_runs_from_any_directory_and_is_summarised(tmp_path, capsys, monkeypatch):
    # The README's command as written (no paths.runs_dir), started in a folder outside the
    # checkout: the sweep folder is resolved before Hydra sets a job's runtime.
    depix_train(
        "-m",
        "experiment=quickstart",
        "run_name=lr_grid",
        "optimizer.lr=5e-4,1e-3",
        *TINY,
        "data.train.length=8",
        "logger=[csv,wandb]",
        cwd=tmp_path,
    )
    sweep = tmp_path / "runs" / "lr_grid" / "multirun"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    check_jobs(sweep, 2)
    results = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/result.json")}
    rows = collect(sweep)
    best_first = sorted(results, key=lambda job: -results[job]["best"])
    assert [r["run"] for r in rows] == best_first
    assert {r["overrides"] for r in rows} == {"optimizer.lr=0.0005", "optimizer.lr=0.001"}
    monkeypatch.chdir(tmp_path)
    assert main(["runs/lr_grid/multirun"]) == 0  # the README's summary command
    assert "optimizer.lr=0.001" in capsys.readouterr().out
    assert (sweep / "summary.csv").read_text().count("\n") == 3
    assert "| 1 |" in (sweep / "summary.md").read_text()


@pytest.mark.slow
def test_optuna_sweep_trains_and_is_summarised(tmp_path):
    # Optuna's sweeper composes and launches its trials itself: same folders as the grid.
    depix_train(
        "-m",
        "hparams_search=optuna",
        "experiment=quickstart",
        "run_name=optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.n_startup_trials=2",
        *TINY,
        "data.train.length=8",
        cwd=tmp_path,
    )
    sweep = tmp_path / "runs" / "optuna" / "multirun"
    results = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/result.json"))]
    assert len(results) == 2 and all(r["value"] is not None for r in results)
    assert all(any(o.startswith("optimizer.lr=") for o in r["overrides"]) for r in results)
    assert len(collect(sweep)) == 2


@pytest.mark.slow
def test_ddp_two_cpu_processes_per_multirun_job(tmp_path):
    # DDP over 2 gloo processes, inside a 2-job multirun: Lightning re-launches rank 1 with
    # the job's own overrides in the job's folder (depix.utils.hydra_ddp), one W&B run per job.
    proc = depix_train(
        "-m",
        "seed=1,2",
        *NOT_CPU,
        "trainer=ddp_cpu",
        "logger=[csv,wandb]",
        "run_name=ddp",
        cwd=tmp_path,
    )
    assert proc.stderr.count("Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    sweep = tmp_path / "runs" / "ddp" / "multirun"
    check_jobs(sweep, 2)
    for job in ("0", "1"):
        ckpt = torch.load(sweep / job / "checkpoints/last.ckpt", weights_only=True)
        # 16 samples / (2 ranks x batch 4) = 2 optimiser steps per epoch on each rank.
        assert ckpt["global_step"] == 2
        assert ckpt["depix_config"]["trainer"]["strategy"] == "ddp"


@pytest.mark.slow
def test_submitit_job_writes_into_the_sweep_folder(tmp_path):
    # hydra/launcher=slurm runs each job in a process submitit starts; its local executor
    # does the same on this machine, so the job's folder is resolved the way SLURM's is.
    depix_train(
        "-m",
        "hydra/launcher=submitit_local",
        "experiment=quickstart",
        "run_name=slurm_like",
        *TINY,
        "data.train.length=8",
        cwd=tmp_path,
    )
    sweep = tmp_path / "runs" / "slurm_like" / "multirun"
    assert json.loads((sweep / "0" / "result.json").read_text())["value"] is not None
    assert load_model(sweep / "0" / "checkpoints" / "last.ckpt").config["paths"]["run_dir"] == str(
        sweep / "0"
    )
    assert list((sweep / ".submitit").iterdir())  # submitit's own logs beside the jobs


def test_ddp_children_keep_only_config_source_flags():
    argv = ["-m", "-cn", "train", "--config-dir=/x", "optimizer.lr=1e-3,3e-3", "seed=1"]
    assert config_source_args(argv) == ["-cn", "train", "--config-dir=/x"]


def compose_with_hydra(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from depix.train import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


# The plugins are in the dev extra (CI installs it), so these never skip there.
def test_slurm_launcher_config_follows_the_trainer(tmp_path, monkeypatch):
    from depix.utils.config_dir import LAUNCH_DIR_ENV

    monkeypatch.setenv(LAUNCH_DIR_ENV, str(tmp_path))
    cfg = compose_with_hydra(
        ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"]
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    # Resolvable before any job runs (no ${hydra:runtime...}): the sweep's own folder.
    assert launcher.submitit_folder == f"{tmp_path}/runs/default/multirun/.submitit/%j"


def test_optuna_search_config():
    cfg = compose_with_hydra(["hparams_search=optuna"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert cfg.optimized_metric == "val/psnr" and "optimizer.lr" in sweeper.params
