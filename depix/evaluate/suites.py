"""The benchmark sets: fixed clean images (with their text, when they have one) per group.

A suite yields groups of clean images that share a shape; every condition of the suite is
applied to every group, so conditions differ only in how the same images were pixelated.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from depix.data.folder import IMAGE_SUFFIXES, load_rgb
from depix.data.synthetic_text import SyntheticTextDataset
from depix.evaluate.conditions import Condition, condition_grid


@dataclass
class ImageGroup:
    """Clean images of one shape (B, 3, H, W); ``texts`` for text lines, else ``None``."""

    images: torch.Tensor
    names: list[str]
    texts: list[str] | None = None
    font_size: int | None = None


@dataclass
class Suite:
    """A named benchmark: its image groups and, for each group, the conditions to run."""

    name: str
    groups: list[ImageGroup]
    conditions: list[Condition]
    notes: list[str] = field(default_factory=list)

    def pairs(self) -> Iterator[tuple[ImageGroup, Condition]]:
        """(group, condition) for every condition that applies to the group."""
        for group in self.groups:
            for condition in self.conditions:
                if condition.font_size in (None, group.font_size):
                    yield group, condition

    def __len__(self) -> int:
        return sum(1 for _ in self.pairs())


def line_height(font_size: int, factor: float) -> int:
    """Canvas height for a font size: ``factor`` x size, rounded up to a multiple of 8."""
    return int(math.ceil(font_size * factor / 8) * 8)


def text_suite(cfg, limit: int | None = None) -> Suite:
    """Synthetic lines in test-split fonts (families never trained or validated on), one fixed set per font size (``benchmark.text``)."""
    lines = int(limit or cfg.lines)
    groups = []
    for size in cfg.font_sizes:
        dataset = SyntheticTextDataset(
            length=lines,
            size=(line_height(int(size), float(cfg.height_factor)), int(cfg.width)),
            font_sizes=(int(size), int(size)),
            font_split="test",
            seed=int(cfg.seed) + int(size),
        )
        items = [dataset[i] for i in range(lines)]
        groups.append(
            ImageGroup(
                images=torch.stack([item["image"] for item in items]),
                names=[f"font{size}_line{i}" for i in range(lines)],
                texts=[item["text"] for item in items],
                font_size=int(size),
            )
        )
    conditions = condition_grid(
        cfg.blocks,
        cfg.averaging,
        cfg.jpeg,
        cfg.offsets,
        cfg.font_sizes,
        cfg.jpeg_quality,
        cfg.get("rescale", (1.0,)),
    )
    return Suite("text", groups, conditions)


def _skimage_sample(name: str) -> np.ndarray:
    try:
        import skimage.data
    except ImportError as error:
        raise RuntimeError(
            "the images benchmark uses scikit-image's bundled photos: pip install 'depix[eval]' "
            "(or set benchmark.images.folder=/path/to/images)"
        ) from error
    loader = getattr(skimage.data, name, None)
    if loader is None:
        raise ValueError(f"scikit-image has no sample image {name!r}")
    array = np.asarray(loader())
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.ascontiguousarray(array[..., :3])


def _centre_crop(array: np.ndarray, crop: int | None) -> np.ndarray:
    if not crop:
        return array
    h, w = array.shape[:2]
    if h < crop or w < crop:
        raise ValueError(f"image of {w}x{h} px is smaller than benchmark.images.crop={crop}")
    top, left = (h - crop) // 2, (w - crop) // 2
    return array[top : top + crop, left : left + crop]


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def load_images(cfg, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 RGB) of the folder's images, else of the named scikit-image samples."""
    if cfg.folder:
        folder = Path(cfg.folder).expanduser()
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"benchmark.images.folder={folder} holds no images")
        named = [(p.name, load_rgb(p)) for p in files]
    else:
        named = [(str(n), _skimage_sample(str(n))) for n in cfg.samples]
    return named[: int(limit)] if limit else named


def images_suite(cfg, limit: int | None = None) -> Suite:
    """Natural photos, PSNR/SSIM only; images of equal shape share one group (one batch)."""
    by_shape: dict[tuple, list[tuple[str, np.ndarray]]] = {}
    for name, array in load_images(cfg, limit):
        array = _centre_crop(array, cfg.crop)
        by_shape.setdefault(array.shape, []).append((name, array))
    groups = [
        ImageGroup(torch.stack([_as_tensor(a) for _, a in items]), [n for n, _ in items])
        for items in by_shape.values()
    ]
    conditions = condition_grid(
        cfg.blocks,
        cfg.averaging,
        cfg.jpeg,
        cfg.offsets,
        (None,),
        cfg.jpeg_quality,
        cfg.get("rescale", (1.0,)),
    )
    return Suite("images", groups, conditions)


def build_suites(benchmark_cfg, limit: int | None = None) -> list[Suite]:
    """The suites named in the composed ``benchmark`` config group, in a fixed order."""
    builders = {"text": text_suite, "images": images_suite}
    unknown = set(benchmark_cfg) - set(builders)
    if unknown:
        raise ValueError(f"unknown benchmark(s) {sorted(unknown)}: use text, images or all")
    return [
        builders[name](benchmark_cfg[name], limit) for name in builders if name in benchmark_cfg
    ]


def seed_for(suite: str, condition: Condition, names: Sequence[str]) -> int:
    """A stable seed per (suite, condition, group) for the grid offsets: no Python hash()."""
    return zlib.crc32(f"{suite}|{condition.label()}|{names[0]}".encode())
