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


class ImageFolderError(ValueError):
    """A training image folder that is missing or holds no usable image; one-line message."""


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
    """All image files under ``root`` (nested folders included, sorted by path).

    Raises ``ImageFolderError`` when ``root`` is not a folder or holds no image file.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ImageFolderError(f"image folder {root} does not exist or is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ImageFolderError(
            f"image folder {root} holds no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return files


class ImageFolderDataset(Dataset):
    """Random (training) or fixed (``seed`` set) crops of ``size`` from the images of a folder.

    ``root`` is searched recursively; any mode Pillow reads is converted to RGB
    (``load_rgb``). At start-up every file's header is read once: unreadable files and
    images smaller than the crop are skipped and counted (``self.skipped``, one reason per
    file, logged as a summary), so one bad or tiny file never stops a training. A file whose
    header reads but whose pixels do not is skipped when it is drawn (and counted too).
    Only a folder without any usable image is an error (``ImageFolderError``).
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
        unreadable = too_small = 0
        for path in list_images(root):
            try:
                with Image.open(path) as image:
                    w, h = image.size
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
                self.skipped.append(f"{path}: unreadable ({error})")
                unreadable += 1
                continue
            if w < self.width or h < self.height:
                self.skipped.append(f"{path}: {w}x{h}, smaller than the crop")
                too_small += 1
            else:
                self.files.append(path)
        crop = f"{self.width}x{self.height} (WxH)"
        if self.skipped:
            log.warning(
                "%s: skipped %d of %d image(s): %d unreadable, %d smaller than the crop %s; "
                "e.g. %s",
                root,
                len(self.skipped),
                len(self.skipped) + len(self.files),
                unreadable,
                too_small,
                crop,
                self.skipped[0],
            )
        if not self.files:
            raise ImageFolderError(
                f"no usable image in {root}: {unreadable} unreadable, {too_small} smaller than "
                f"the crop {crop} (set data.train.size=[height,width] smaller)"
            )
        self.length = int(length) if length else len(self.files)
        self._usable = list(self.files)  # less the files whose pixels failed to decode

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = (
            random.Random(self.seed * 1_000_003 + index)
            if self.seed is not None
            else random.Random(random.getrandbits(64))
        )
        array = None
        while self._usable and array is None:
            usable = self._usable
            path = usable[index % len(usable)] if self.seed is not None else rng.choice(usable)
            try:
                array = load_rgb(path)
            except ImageReadError as error:  # header fine, pixels broken: count and move on
                self._usable = [f for f in usable if f != path]
                self.skipped.append(f"{path}: unreadable ({error})")
                log.warning("%s (skipped)", error)
        if array is None:
            raise ImageFolderError(f"none of the {len(self.files)} images could be decoded")
        h, w = array.shape[:2]
        top, left = rng.randint(0, h - self.height), rng.randint(0, w - self.width)
        crop = array[top : top + self.height, left : left + self.width]
        image = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(255.0)
        return {"image": image, "text": "", "font_size": 0, "seed": rng.getrandbits(62)}
