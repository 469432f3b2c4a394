"""Every config group option and every experiment composes, and its objects build."""

from pathlib import Path

import hydra
import pytest

from depix.train import CONFIG_DIR

from .conftest import compose_cfg

CONFIGS = Path(CONFIG_DIR)
GROUPS = [  # composed and built (the trained groups below also train)
    "data",
    "degradation",
    "model",
    "loss",
    "optimizer",
    "scheduler",
    "trainer",
    "logger",
    "callbacks",
    "paths",
    "debug",
]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def test_experiments_dir_is_the_experiment_group():
    assert (CONFIGS / "experiment").resolve() == (CONFIGS.parent / "experiments").resolve()
    assert options("experiment"), "experiments/ holds no recipe"


@pytest.mark.parametrize(
    "group,option", [(g, o) for g in GROUPS + ["experiment"] for o in options(g)]
)
def test_option_composes_and_builds(group, option, tmp_path):
    extra = ["data.root=" + str(tmp_path)] if (group, option) == ("data", "folder") else []
    cfg = compose_cfg([f"{group}={option}", *extra], tmp_path / "run")
    assert cfg.run_name
    hydra.utils.instantiate(cfg.model)
    hydra.utils.instantiate(cfg.degradation)
    if group in ("loss",) and "imagenet" in option:
        return  # needs the ImageNet weights file; covered by test_unet_losses
    hydra.utils.instantiate(cfg.loss)
    for node in (cfg.get("callbacks") or {}).values():
        if node is not None:
            hydra.utils.instantiate(node)


def test_unknown_key_is_a_clear_error(tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="modle"):
        compose_cfg(["modle.widths=[8]"], tmp_path / "run")
    with pytest.raises(ConfigCompositionException, match="no_such_recipe"):
        compose_cfg(["experiment=no_such_recipe"], tmp_path / "run")


# Every option of the groups the README documents for training trains a step (issue 16).
TRAINED_GROUPS = ["debug", "logger", "trainer", "degradation", "data", "experiment"]
SHORT = [
    "trainer.max_steps=2",
    "++trainer.limit_val_batches=1",
    "trainer.val_check_interval=1.0",  # recipes that validate every N steps: at epoch end
    "trainer.check_val_every_n_epoch=1",
    "data.train.length=8",
    "data.val.length=4",
]
NOT_HERE = {
    ("trainer", "ddp_cpu"): "2 processes under Hydra's launcher: test_sweep's DDP test trains it",
}


def image_folder(root: Path) -> Path:
    """A few screenshots-like PNGs in nested folders, large enough for a 48x192 crop."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.png", "sub/deeper/c.jpg"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (80, 260, 3), dtype=np.uint8)).save(path)
    return root


def exported_like(cfg, path: Path) -> Path:
    """An exported model with the composed config's network (for recipes with init_from)."""
    import torch
    from omegaconf import OmegaConf

    from depix.models.loading import EXPORT_FORMAT

    model = OmegaConf.to_container(cfg.model, resolve=True)
    net = hydra.utils.instantiate(cfg.model)
    torch.save(
        {"format": EXPORT_FORMAT, "config": {"model": model}, "state_dict": net.state_dict()}, path
    )
    return path


@pytest.mark.parametrize(
    "group,option", [(g, o) for g in TRAINED_GROUPS for o in options(g) if o != "default"]
)
def test_option_trains_a_step(group, option, tiny_cfg, tmp_path):
    import json

    from omegaconf import open_dict

    from depix.train import train

    if (group, option) in NOT_HERE:
        pytest.skip(NOT_HERE[(group, option)])
    if group == "trainer" and option in ("gpu", "ddp"):
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("needs a GPU")
    extra = []
    if (group, option) == ("data", "folder"):
        extra = [f"data.root={image_folder(tmp_path / 'images')}", "data.train.size=[48,192]"]
    overrides = [f"{group}={option}", *SHORT, *extra]
    if group == "trainer":  # TINY's trainer=cpu must not replace the option under test
        overrides = [o for o in overrides if o != "trainer=cpu"]
    if (group, option) == ("experiment", "reader"):  # the reader has no U-Net widths or VGG loss
        from tests.conftest import TINY, compose_cfg

        tiny = [o for o in TINY if not o.startswith(("model.widths", "loss.terms"))]
        cfg = compose_cfg(
            [*tiny, "model.widths=[8,8,8]", "model.hidden=8", *overrides], tmp_path / "run"
        )
    else:
        cfg = tiny_cfg(*overrides)
    if cfg.get("init_from"):  # fine-tuning recipes start from a run the test does not have
        with open_dict(cfg):
            cfg.init_from = str(exported_like(cfg, tmp_path / "init.pt"))
    value = train(cfg)
    run = Path(cfg.paths.run_dir)
    result = json.loads((run / "result.json").read_text())
    assert result["global_step"] >= 1, "no optimiser step"
    assert value is not None and result["value"] == value, "no validation"
    loggers = set((cfg.get("logger") or {}).keys())
    assert (run / "metrics.csv").is_file() == ("csv" in loggers and option != "fdr")
    if "tensorboard" in loggers:
        assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    if "wandb" in loggers:
        assert list((run / "wandb").glob("offline-run-*"))
