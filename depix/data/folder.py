"""Random crops from any folder of real images (screenshots, photos, documents)."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


class ImageReadError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


def open_image(path: str | Path, max_pixels: int | None = None) -> tuple[Image.Image, int]:
    """Decode the first frame of any image Pillow reads; returns it and the frame count.

    Every failure (missing, not an image, truncated, empty, larger than ``max_pixels``)
    becomes an ``ImageReadError`` that names the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"cannot read image {path}: no such file")
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width == 0 or height == 0:
                raise ImageReadError(f"cannot read image {path}: it is empty ({width}x{height})")
            if max_pixels and width * height > max_pixels:
                raise ImageReadError(
                    f"image {path} is {width}x{height} = {width * height / 1e6:.0f} MP, above "
                    f"the limit of {max_pixels / 1e6:.0f} MP; crop it first"
                )
            frames = getattr(image, "n_frames", 1)
            image.seek(0)  # first frame of animations
            image.load()
            return image.copy(), frames
    except ImageReadError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as error:
        raise ImageReadError(f"cannot read image {path}: {error}") from error


def load_rgb(path: str | Path, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Any image Pillow reads -> uint8 RGB array (H, W, 3).

    Handles every mode a user may hand us: 16-bit greyscale is scaled to 8 bits (not
    clipped), palette and alpha images are composited on ``background``, CMYK is converted.
    """
    image, _ = open_image(path)
    return pil_to_rgb(image, background)


HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I", "F")


def grey_peak(image: Image.Image) -> float:
    """White level of a high-depth greyscale image: 65535 for 16-bit data, else 255."""
    if image.mode.startswith("I;16"):
        return 65535.0
    return 65535.0 if float(np.asarray(image).max(initial=0)) > 255 else 255.0


def pil_to_rgb(
    image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)
) -> np.ndarray:
    """Convert a PIL image of any mode to a uint8 RGB array."""
    if image.mode in HIGH_DEPTH_MODES:
        array = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.round(array / grey_peak(image) * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        image = Image.alpha_composite(canvas, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def list_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive, sorted); clear errors for a bad folder."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist or is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(
            f"image folder {root} holds no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return files


class ImageFolderDataset(Dataset):
    """Random (training) or fixed (``seed`` set) crops of ``size`` from the images of a folder.

    At start-up every file's header is read once: unreadable files are skipped and counted
    (``self.skipped``), and images smaller than the crop raise an error that lists them,
    so a bad file never crashes an epoch half-way.
    """

    def __init__(
        self,
        root: str,
        size: Sequence[int] = (64, 256),
        length: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.height, self.width = (int(s) for s in size)
        self.seed = seed
        self.files: list[Path] = []
        self.skipped: list[str] = []
        too_small: list[str] = []
        for path in list_images(root):
            try:
                with Image.open(path) as image:
                    w, h = image.size
            except (UnidentifiedImageError, OSError) as error:
                self.skipped.append(f"{path}: {error}")
                continue
            if w < self.width or h < self.height:
                too_small.append(f"{path} ({w}x{h})")
            else:
                self.files.append(path)
        if self.skipped:
            log.warning(
                "skipped %d unreadable image(s) in %s, e.g. %s",
                len(self.skipped),
                root,
                self.skipped[0],
            )
        if too_small:
            raise ValueError(
                f"{len(too_small)} image(s) in {root} are smaller than the crop "
                f"{self.width}x{self.height} (WxH): {', '.join(too_small[:5])}"
                + (" ..." if len(too_small) > 5 else "")
            )
        if not self.files:
            raise ValueError(f"no readable image in {root} ({len(self.skipped)} unreadable)")
        self.length = int(length) if length else len(self.files)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = (
            random.Random(self.seed * 1_000_003 + index)
            if self.seed is not None
            else random.Random(random.getrandbits(64))
        )
        for _ in range(10):
            path = (
                self.files[index % len(self.files)]
                if self.seed is not None
                else rng.choice(self.files)
            )
            try:
                array = load_rgb(path)
                break
            except ImageReadError as error:  # header fine, pixels broken: count and move on
                self.skipped.append(str(error))
                log.warning("%s (skipped)", error)
                index += 1
        else:
            raise ImageReadError(f"10 images in a row failed to decode in {path.parent}")
        h, w = array.shape[:2]
        top, left = rng.randint(0, h - self.height), rng.randint(0, w - self.width)
        crop = array[top : top + self.height, left : left + self.width]
        image = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(255.0)
        return {"image": image, "text": "", "font_size": 0, "seed": rng.getrandbits(62)}
