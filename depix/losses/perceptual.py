"""Perceptual loss: L1 distance between features of a frozen VGG-16.

Weights, in order of preference:
  * ``weights: <path>``: a VGG-16 state dict in torchvision's format (``vgg16-397923af.pth``
    or the full model's state dict; only ``features.*`` is used);
  * ``weights: imagenet``: that file from ``$TORCH_HOME``'s hub cache, downloaded when online;
    a clear error when it is neither cached nor downloadable, and the file (new or cached)
    must match the SHA-256 prefix torchvision publishes in its name (``397923af``);
  * ``weights: random`` (offline default): a seeded, randomly initialised VGG-style network.
    Random conv features still respond to edges and strokes at several scales, which is what
    text needs; see Liu et al., "Generic Perceptual Loss for Modeling Structured Output
    Dependencies", CVPR 2021. ``width`` < 1 thins it so it is cheap on a CPU.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
# torchvision names its files <name>-<first 8 hex digits of the file's SHA-256>.pth.
VGG16_SHA256_PREFIX = "397923af"
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


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hub_cache_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``), where torch.hub keeps files."""
    return Path(os.environ.get("TORCH_HOME", Path.home() / ".cache/torch")) / "hub/checkpoints"


def imagenet_vgg16_file() -> Path:
    """The ImageNet VGG-16 file, from the hub cache or downloaded once, hash-checked.

    The download goes to a temporary file and is only moved into the cache when its SHA-256
    starts with ``VGG16_SHA256_PREFIX`` (``torch.hub.download_url_to_file``); a file already
    in the cache is checked the same way, since anyone could have put it there.

    Raises:
        RuntimeError: the file is neither cached nor downloadable (offline), or its hash
            does not match (one line naming the file, telling to delete it).
    """
    cached = hub_cache_dir() / Path(VGG16_URL).name
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(
                VGG16_URL, str(cached), hash_prefix=VGG16_SHA256_PREFIX, progress=False
            )
        except Exception as error:  # offline, proxy, partial download, wrong hash...
            raise RuntimeError(
                f"could not load ImageNet VGG-16 weights: {cached} is not there and downloading "
                f"{VGG16_URL} failed ({type(error).__name__}: {str(error).splitlines()[0]}). "
                f"Download that file elsewhere and set "
                f"loss.terms.perceptual.weights=/path/to/vgg16-397923af.pth, or use weights=random."
            ) from error
    digest = sha256_of(cached)
    if not digest.startswith(VGG16_SHA256_PREFIX):
        raise RuntimeError(
            f"{cached} is not torchvision's VGG-16 file: its SHA-256 starts {digest[:8]}, "
            f"expected {VGG16_SHA256_PREFIX}; delete it (it will be downloaded again) or pass "
            f"a file you trust with loss.terms.perceptual.weights=/path"
        )
    return cached


def resolve_vgg_weights(weights: str) -> dict[str, torch.Tensor]:
    """VGG-16 ``features`` weights (state dict without the ``features.`` prefix).

    ``weights`` is a path to a VGG-16 state dict in torchvision's format, or ``imagenet``
    (``imagenet_vgg16_file``). Both are read with weights-only unpickling. Raises
    ``FileNotFoundError`` for a missing path and ``RuntimeError`` as ``imagenet_vgg16_file``.
    """
    if weights == "imagenet":
        path = imagenet_vgg16_file()
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"perceptual loss weights file {path} does not exist; pass a VGG-16 state dict "
                f"in torchvision's format, 'imagenet' to download it, or 'random' to work offline"
            )
    state = torch.load(path, map_location="cpu", weights_only=True)
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
