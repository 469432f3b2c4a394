"""The degradation presets do what their names promise (composition: tests/test_configs.py)."""

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from depix.degrade.averaging import MODES
from depix.train import CONFIG_DIR


def preset(name: str):
    return hydra.utils.instantiate(OmegaConf.load(f"{CONFIG_DIR}/degradation/{name}.yaml"))


@pytest.mark.parametrize(
    "name,mode",
    [
        ("plain", "srgb"),
        ("srgb_mean", "srgb"),
        ("srgb_trunc", "srgb_trunc"),
        ("linear_mean", "linear"),
        ("center_sample", "center"),
        ("corner_sample", "corner"),
    ],
)
def test_per_mode_presets_use_only_their_mode(name, mode):
    params = preset(name).sample(64, torch.Generator().manual_seed(0), size=(48, 192))
    assert set(params["pixelate.mode"].tolist()) == {MODES.index(mode)}
    assert (params["pixelate.offset_y"] > 0).any()  # off-grid


def test_eval_suite_covers_every_mode_offsets_rescaling_and_jpeg():
    params = preset("eval_suite").sample(256, torch.Generator().manual_seed(0), size=(48, 192))
    assert set(params["pixelate.mode"].tolist()) == set(range(len(MODES)))
    assert (params["pixelate.offset_x"] > 0).float().mean() > 0.5
    for op in ("rescale", "jpeg"):
        share = params[f"{op}.applied"].float().mean()
        assert 0.2 < share < 0.5
    assert (params["pixelate.box"] == torch.tensor([0, 0, 48, 192])).all()  # whole image


@pytest.mark.parametrize("name", ["jpeg", "rescale"])
def test_condition_presets_always_apply_their_op(name):
    params = preset(name).sample(32, torch.Generator().manual_seed(0), size=(48, 192))
    assert params[f"{name}.applied"].all()


def test_mixed_common_is_the_training_default_and_mean_based():
    """Issue 3's evidence (experiments/plain_vs_mixed.md): without centre/corner sampling
    the mix reads better on every text axis, so it is what depix-train uses by default."""
    cfg = OmegaConf.load(f"{CONFIG_DIR}/train.yaml")
    assert {"degradation": "mixed_common"} in cfg.defaults
    params = preset("mixed_common").sample(512, torch.Generator().manual_seed(0), size=(48, 192))
    partial = (params["pixelate.box"] != torch.tensor([0, 0, 48, 192])).any(1)
    assert 0.05 < partial.float().mean() < 0.2
    modes = {MODES[i] for i in params["pixelate.mode"].tolist()}
    assert modes == {"srgb", "srgb_trunc", "linear"}


def test_mixed_draws_every_averaging_mode():
    params = preset("mixed").sample(512, torch.Generator().manual_seed(0), size=(48, 192))
    partial = (params["pixelate.box"] != torch.tensor([0, 0, 48, 192])).any(1)
    assert 0.2 < partial.float().mean() < 0.4
    assert set(params["pixelate.mode"].tolist()) == set(range(len(MODES)))
