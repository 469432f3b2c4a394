"""Read any image for restoration and write the result back in the input's own mode.

The model works on RGB; the user's file may be 1-bit, greyscale, palette, 16-bit, CMYK or
carry alpha. Only the restored rectangles are converted back to the input's mode and
pasted into the original, so every other pixel, the alpha channel and the palette are
exactly what was read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from depix.data.folder import HIGH_DEPTH_MODES, grey_peak

ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
LOSSY_SUFFIXES = {".jpg", ".jpeg", ".webp"}


def rgb_patch_to_mode(rgb: np.ndarray, original: Image.Image, box: tuple[int, int, int, int]):
    """The uint8 RGB patch ``rgb`` for ``box`` (x, y, w, h) of ``original``, in its mode.

    Alpha is taken unchanged from ``original``; palette images keep their palette.
    """
    x, y, w, h = box
    patch = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    mode = original.mode
    if mode in HIGH_DEPTH_MODES:
        grey = np.asarray(patch.convert("L"), dtype=np.float64) / 255.0 * grey_peak(original)
        dtype = np.asarray(original.crop((0, 0, 1, 1))).dtype
        out = Image.fromarray(np.round(grey).astype(dtype))
        return out if out.mode == mode else out.convert(mode)
    if mode == "P":
        return patch.quantize(palette=original, dither=Image.Dither.NONE)
    if mode == "1":
        return patch.convert("L").convert("1", dither=Image.Dither.NONE)
    if mode in ALPHA_MODES:
        alpha = original.crop((x, y, x + w, y + h)).getchannel("A")
        colour = patch.convert("L" if mode in ("LA", "La") else "RGB")
        return Image.merge(mode[:-1] + "A" if mode != "PA" else "RGBA", [*colour.split(), alpha])
    return patch.convert(mode)


def paste_regions(
    original: Image.Image, restored_rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]
) -> Image.Image:
    """A copy of ``original`` with the ``boxes`` taken from ``restored_rgb`` (H, W, 3)."""
    out = original.copy()
    if out.mode == "PA":  # no direct paste of RGBA into PA: work in RGBA for this rare mode
        out = out.convert("RGBA")
    for x, y, w, h in boxes:
        patch = rgb_patch_to_mode(restored_rgb[y : y + h, x : x + w], original, (x, y, w, h))
        if patch.mode != out.mode:
            patch = patch.convert(out.mode)
        out.paste(patch, (x, y))
    return out


def default_output_path(input_path: Path, mode: str) -> Path:
    """``<name>-restored`` next to the input; lossy inputs get a lossless PNG (TIFF for CMYK)."""
    suffix = input_path.suffix.lower()
    if suffix in LOSSY_SUFFIXES or not suffix:
        suffix = ".tif" if mode == "CMYK" else ".png"
    return input_path.with_name(f"{input_path.stem}-restored{suffix}")


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Write atomically in the format the suffix names; a clear error when it cannot hold
    the image's mode (e.g. CMYK as PNG)."""
    path = Path(path)
    extensions = Image.registered_extensions()
    fmt = extensions.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the image format from the output name {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        image.save(tmp, format=fmt)
    except (OSError, ValueError, KeyError) as error:
        tmp.unlink(missing_ok=True)
        raise ValueError(
            f"cannot write a {image.mode} image as {fmt} ({error}); choose another -o suffix"
        ) from error
    tmp.replace(path)
    return path
