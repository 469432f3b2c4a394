"""The benchmark sets: fixed clean images (with their text, when they have one) per group.

A suite yields groups of clean images that share a shape; every condition of the suite is
applied to every group, so conditions differ only in how the same images were pixelated.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from depix.data.folder import IMAGE_SUFFIXES, load_rgb
from depix.data.render import render_lines
from depix.data.synthetic_text import SyntheticTextDataset, to_tensor
from depix.evaluate.conditions import Condition, condition_grid
from depix.evaluate.texts import eval_text


@dataclass
class ImageGroup:
    """Clean images of one shape (B, 3, H, W); ``texts`` for text lines, else ``None``.

    ``names`` identify the images across conditions (``font24_line7``): the paired comparison
    resamples whole lines (every condition a line was scored under) by them.
    """

    images: torch.Tensor
    names: list[str]
    texts: list[str] | None = None
    font_size: int | None = None

    def subset(self, indices: Sequence[int]) -> ImageGroup:
        """The images at ``indices`` (names and texts kept with them)."""
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return ImageGroup(
            self.images[index],
            [self.names[i] for i in indices],
            None if self.texts is None else [self.texts[i] for i in indices],
            self.font_size,
        )


DESIGNS = ("factorial", "rotate")


@dataclass
class Suite:
    """A named benchmark: its image groups and the conditions to run on them.

    ``design="factorial"``: every image of a group under every condition that applies to it.
    ``design="rotate"``: each image once per block size, under one combination of the other
    axes (averaging, scaling, JPEG, offset), the combination rotating with the image index and
    the block size: every condition gets an equal share of the lines, each block size sees
    every line, and many distinct lines cost no more readings than a few lines under every
    combination.
    """

    name: str
    groups: list[ImageGroup]
    conditions: list[Condition]
    notes: list[str] = field(default_factory=list)
    design: str = "factorial"

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, got {self.design!r}")

    def pairs(self) -> Iterator[tuple[ImageGroup, Condition]]:
        """(images, condition) for every condition that applies to a group: the whole group
        (``factorial``) or the group's share of lines for that condition (``rotate``; empty
        shares are skipped)."""
        for group in self.groups:
            applies = [c for c in self.conditions if c.font_size in (None, group.font_size)]
            if self.design == "factorial":
                for condition in applies:
                    yield group, condition
                continue
            n = group.images.shape[0]
            blocks = list(dict.fromkeys(c.block for c in applies))
            for k, block in enumerate(blocks):
                combos = [c for c in applies if c.block == block]
                for j, condition in enumerate(combos):
                    chosen = [i for i in range(n) if (i + k) % len(combos) == j]
                    if chosen:
                        yield group.subset(chosen), condition

    def __len__(self) -> int:
        return sum(1 for _ in self.pairs())

    def count(self) -> int:
        """Images scored in all (image x condition pairs): the unit of the progress bar."""
        return sum(group.images.shape[0] for group, _ in self.pairs())


def line_height(font_size: int, factor: float) -> int:
    """Canvas height for a font size: ``factor`` x size, rounded up to a multiple of 8."""
    return int(math.ceil(font_size * factor / 8) * 8)


def size_limit(configured: int, limit: int | None) -> int:
    """``limit`` caps a suite's own count (never raises it); ``None`` or 0 = no cap."""
    if limit is not None and int(limit) < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return min(int(configured), int(limit)) if limit else int(configured)


def render_eval_lines(
    count: int,
    font_size: int,
    height: int,
    width: int,
    seed: int,
    kinds: Sequence[str] | None = None,
) -> tuple[torch.Tensor, list[str]]:
    """``count`` single text lines of the evaluation text source in test-split fonts.

    Text from ``depix.evaluate.texts`` (not the training generator's lists); the look (font of
    the test split, colours, anti-aliasing, syntax colours, selection, spacing) drawn as the
    synthetic data draws it, by ``SyntheticTextDataset.random_style`` with one fixed size.
    Returns images (count, 3, height, width) in [0, 1] and the visible text of each.
    """
    looks = SyntheticTextDataset(
        length=count,
        size=(height, width),
        font_sizes=(font_size, font_size),
        font_split="test",
        seed=seed,
        multiline_p=0.0,
    )
    images, texts = [], []
    for i in range(count):
        rng = random.Random(seed * 1_000_003 + i)
        style = looks.random_style(rng)
        text = eval_text(random.Random(f"text|{seed}|{i}"), tuple(kinds) if kinds else None)
        image, shown = render_lines([text], style, height, width)
        images.append(to_tensor(image))
        texts.append(shown)
    return torch.stack(images), texts


def text_suite(cfg, limit: int | None = None) -> Suite:
    """Lines of the evaluation text source in test-split font families (never trained or
    validated on), one fixed set per font size (``benchmark.text``); ``limit`` caps the
    lines per font size."""
    lines = size_limit(cfg.lines, limit)
    height_factor, width = float(cfg.height_factor), int(cfg.width)
    groups = []
    for size in cfg.font_sizes:
        size = int(size)
        images, texts = render_eval_lines(
            lines,
            size,
            line_height(size, height_factor),
            width,
            int(cfg.seed) + size,
            cfg.get("kinds"),
        )
        groups.append(
            ImageGroup(images, [f"font{size}_line{i}" for i in range(lines)], texts, size)
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
    return Suite("text", groups, conditions, design=str(cfg.get("design", "rotate")))


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
    return named[: size_limit(len(named), limit)]


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
