"""Perceptual loss: L1 distance between features of a frozen VGG-16.

Weights, in order of preference:
  * ``weights: <path>``: a VGG-16 state dict in torchvision's format (``vgg16-397923af.pth``
    or the full model's state dict; only ``features.*`` is used);
  * ``weights: imagenet``: that file from ``$TORCH_HOME``'s hub cache, downloaded when online;
    a clear error when it is neither cached nor downloadable;
  * ``weights: random`` (offline default): a seeded, randomly initialised VGG-style network.
    Random conv features still respond to edges and strokes at several scales, which is what
    text needs; see Liu et al., "Generic Perceptual Loss for Modeling Structured Output
    Dependencies", CVPR 2021. ``width`` < 1 thins it so it is cheap on a CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
# torchvision's vgg16 "features": conv widths, "M" = max-pool.
VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg16_layer_names() -> dict[str, int]:
    """Map BasicSR-style names (``conv1_1``, ``relu3_3``, ``pool2``) to ``features`` indices."""
    names, block, conv, index = {}, 1, 1, 0
    for item in VGG16_CFG:
        if item == "M":
            names[f"pool{block}"] = index
            block, conv, index = block + 1, 1, index + 1
        else:
            names[f"conv{block}_{conv}"], names[f"relu{block}_{conv}"] = index, index + 1
            conv, index = conv + 1, index + 2
    return names


def vgg16_features(width: float = 1.0, last: int | None = None) -> nn.Sequential:
    """torchvision-compatible ``features`` (same indices, so its state dict loads), cut after ``last``."""
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG16_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            out = max(4, int(round(item * width)))
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(inplace=False)]
            channels = out
    return nn.Sequential(*(layers[: last + 1] if last is not None else layers))


def resolve_vgg_weights(weights: str) -> dict[str, torch.Tensor]:
    """Load ImageNet VGG-16 weights from a path, or the hub cache / download for ``imagenet``."""
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"perceptual loss weights file {path} does not exist; pass a VGG-16 state dict "
                f"in torchvision's format, 'imagenet' to download it, or 'random' to work offline"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
    else:
        hub_dir = (
            Path(os.environ.get("TORCH_HOME", Path.home() / ".cache/torch")) / "hub/checkpoints"
        )
        cached = hub_dir / Path(VGG16_URL).name
        try:
            state = torch.hub.load_state_dict_from_url(
                VGG16_URL, map_location="cpu", progress=False
            )
        except Exception as error:  # offline, proxy, partial download...
            raise RuntimeError(
                f"could not load ImageNet VGG-16 weights: {cached} is not there and downloading "
                f"{VGG16_URL} failed ({error}). Download that file elsewhere and set "
                f"loss.terms.perceptual.weights=/path/to/vgg16-397923af.pth, or use weights=random."
            ) from error
    state = state.get("state_dict", state)
    return {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}


class PerceptualLoss(nn.Module):
    """Weighted sum over ``layer_weights`` of L1 distances of VGG-16 features."""

    def __init__(
        self,
        loss_weight: float = 0.1,
        layer_weights: dict[str, float] | None = None,
        weights: str = "random",
        width: float = 0.25,
        seed: int = 0,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.layer_weights = dict(layer_weights or {"relu1_2": 0.5, "relu2_2": 1.0, "relu3_3": 1.0})
        names = vgg16_layer_names()
        unknown = set(self.layer_weights) - set(names)
        if unknown:
            raise ValueError(f"unknown VGG-16 layers {sorted(unknown)}; known: {', '.join(names)}")
        self.indices = {names[k]: w for k, w in self.layer_weights.items()}
        pretrained = weights != "random"
        if pretrained and width != 1.0:
            raise ValueError("pretrained VGG-16 weights need width=1.0")
        self.features = vgg16_features(width, last=max(self.indices))
        if pretrained:
            state = resolve_vgg_weights(weights)
            self.features.load_state_dict(
                {k: v for k, v in state.items() if int(k.split(".")[0]) < len(self.features)}
            )
        else:
            generator = torch.Generator().manual_seed(seed)
            for module in self.features:
                if isinstance(module, nn.Conv2d):
                    fan_in = module.in_channels * 9
                    module.weight.data = (
                        torch.randn(module.weight.shape, generator=generator)
                        * (2.0 / fan_in) ** 0.5
                    )
                    module.bias.data.zero_()
        self.features.requires_grad_(False).eval()
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.features.eval()  # frozen backbone never leaves eval mode
        return self

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.normalize:
            x = (x - self.mean) / self.std
        out = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.indices:
                out.append(x)
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target_feats = self._features(target)
        pred_feats = self._features(pred)
        total = sum(
            w * F.l1_loss(p, t) for w, p, t in zip(self.indices.values(), pred_feats, target_feats)
        )
        return self.loss_weight * total
