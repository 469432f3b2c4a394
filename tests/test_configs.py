"""Every config group option and every experiment composes, and its objects build."""

from pathlib import Path

import hydra
import pytest

from depix.train import CONFIG_DIR

from .conftest import compose_cfg

CONFIGS = Path(CONFIG_DIR)
GROUPS = [
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
