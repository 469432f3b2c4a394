"""Shared fixtures: compose the real Hydra configs in-process, shrunk for a CPU test run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from depix.train import CONFIG_DIR

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(2)

# Overrides that make any config a seconds-long CPU run without background workers.
TINY = [
    "trainer=cpu",
    "data.num_workers=0",
    "data.batch_size=4",
    "data.train.length=16",
    "data.val.length=8",
    "model.widths=[8,16]",
    "loss.terms.perceptual.width=0.0625",
    "trainer.max_epochs=1",
    "trainer.enable_model_summary=false",
    "callbacks.progress=null",
]


def compose_cfg(overrides: list[str], run_dir: Path, config_name: str = "train") -> DictConfig:
    """Compose ``configs/<config_name>.yaml`` with ``overrides``; the run folder is ``run_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.root_dir = str(run_dir.parent)
        cfg.paths.runs_dir = str(run_dir.parent)
        cfg.paths.run_dir = str(run_dir)
        del cfg.hydra
    run_dir.mkdir(parents=True, exist_ok=True)
    return cfg


@pytest.fixture
def tiny_cfg(tmp_path):
    """A factory: ``tiny_cfg(*overrides)`` -> a shrunk training config writing into tmp_path/run."""

    def make(*overrides: str, run_dir: Path | None = None) -> DictConfig:
        return compose_cfg(TINY + list(overrides), run_dir or tmp_path / "run")

    return make
