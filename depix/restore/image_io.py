"""Read any image for restoration and write the result back in the input's own mode.

The model works on RGB; the user's file may be 1-bit, greyscale, palette, 16-bit, CMYK or
carry alpha. Only the restored rectangles are converted back to the input's mode and
pasted into the original, so every other pixel, the alpha channel and the palette are
exactly what was read.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image

from depix.data.folder import HIGH_DEPTH_MODES, grey_peak

ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


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


# The formats depix-restore writes (Pillow's names), lossless ones first. Any other
# extension is refused before the restore runs: formats such as ICO (resized), PDF or EPS
# (need other programs to read back) do not hold a screenshot.
OUTPUT_FORMATS = (
    "PNG", "TIFF", "WEBP", "BMP", "PPM", "TGA", "QOI", "JPEG2000", "GIF", "JPEG", "AVIF",
)  # fmt: skip
# Pillow's WebP and JPEG 2000 writers are lossless with these options; JPEG and AVIF never
# are, so they get their highest practical quality (and no chroma subsampling for JPEG).
SAVE_OPTIONS = {
    "WEBP": {"lossless": True, "quality": 100, "exact": True},
    "JPEG": {"quality": 95, "subsampling": 0},
    "AVIF": {"quality": 95},
}
LOSSY_FORMATS = ("JPEG", "AVIF")
SUGGESTED = ".png, .tif, .webp, .bmp (lossless) or .jpg (lossy)"


class OutputPathError(ValueError):
    """An output path depix-restore cannot write the picture to; the message says why."""


def output_format(path: str | Path) -> str:
    """The Pillow format the suffix of ``path`` names (``"PNG"`` for ``out.png``).

    Raises ``OutputPathError`` for a missing or unknown suffix, or a format depix-restore
    does not write (see ``OUTPUT_FORMATS``).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not suffix:
        raise OutputPathError(
            f"output {path} has no extension: add one that names the format ({SUGGESTED})"
        )
    fmt = Image.registered_extensions().get(suffix)
    if fmt not in OUTPUT_FORMATS or fmt not in Image.SAVE:
        kind = "an unknown image extension" if fmt is None else f"{fmt}, not written by depix"
        raise OutputPathError(f"output {path}: {suffix!r} is {kind}; use {SUGGESTED}")
    return fmt


def saved_mode(mode: str) -> str:
    """The mode ``paste_regions`` returns for an input of ``mode`` (PA becomes RGBA)."""
    return "RGBA" if mode == "PA" else mode


def _sample(mode: str) -> Image.Image | None:
    """A 32x32 image of ``mode`` with varied values: more than 256 colours, alpha, levels
    above 8 bits (so palette quantisation and bit-depth loss show)."""
    rng = np.random.default_rng(0)
    if mode.startswith("I;16"):
        return Image.fromarray(rng.integers(0, 65536, (32, 32), dtype=np.uint16))
    if mode == "I":
        return Image.fromarray(rng.integers(0, 1 << 20, (32, 32), dtype=np.int32))
    if mode == "F":
        return Image.fromarray(rng.random((32, 32), dtype=np.float32) * 1000)
    rgba = Image.fromarray(rng.integers(0, 256, (32, 32, 4), dtype=np.uint8), "RGBA")
    try:
        return rgba.convert(mode)
    except ValueError:
        return None


def _same_pixels(sample: Image.Image, back: Image.Image) -> bool:
    """Whether ``back`` holds ``sample``'s values (palette images: the same colours)."""
    if sample.mode in HIGH_DEPTH_MODES or back.mode in HIGH_DEPTH_MODES:
        a, b = np.asarray(sample, dtype=np.float64), np.asarray(back, dtype=np.float64)
    elif sample.mode == "P":
        a, b = np.asarray(sample.convert("RGBA")), np.asarray(back.convert("RGBA"))
    else:
        a, b = np.asarray(sample), np.asarray(back.convert(sample.mode))
    return a.shape == b.shape and bool(np.array_equal(a, b))


@functools.lru_cache(maxsize=64)
def keeps_pixels(mode: str, fmt: str) -> bool:
    """Whether a ``mode`` picture written as ``fmt`` (with ``SAVE_OPTIONS``) reads back
    bit-identical, found by writing and reading a small sample of that mode.

    Raises ``OutputPathError`` when ``fmt`` cannot hold ``mode`` at all (CMYK as PNG, alpha
    as JPEG). JPEG and AVIF always count as lossy. Modes without a sample (rare ones Pillow
    cannot convert to) count as kept.
    """
    Image.init()
    if fmt not in Image.SAVE:
        raise OutputPathError(f"this Pillow cannot write {fmt}; use {SUGGESTED}")
    sample = _sample(saved_mode(mode))
    if sample is None:
        return True
    buffer = io.BytesIO()
    try:
        sample.save(buffer, format=fmt, **SAVE_OPTIONS.get(fmt, {}))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OutputPathError(
            f"cannot write a {mode} image as {fmt} ({error}); use "
            f"{'.tif' if mode == 'CMYK' else '.png or .tif'}"
        ) from error
    if fmt in LOSSY_FORMATS:
        return False
    buffer.seek(0)
    try:
        with Image.open(buffer) as back:
            back.load()
            return _same_pixels(sample, back)
    except (OSError, ValueError):
        return False


def check_output_path(path: str | Path, mode: str) -> str | None:
    """Check, before any work is done, that ``path`` can hold a picture of ``mode``.

    Returns None, or a one-line warning when the format changes pixels (JPEG re-encodes
    the whole picture; GIF quantises colours; 16-bit written as 8-bit). Raises
    ``OutputPathError`` (no or unknown extension, a format that cannot hold the mode).
    """
    path = Path(path)
    fmt = output_format(path)
    if keeps_pixels(mode, fmt):
        return None
    better = default_output_path(Path("x.png"), mode).suffix
    return (
        f"{path} is written as {fmt}, which does not keep a {mode} picture exactly: the whole "
        f"picture is re-encoded, pixels outside the restored regions change too (use "
        f"{better} to keep them bit-identical)"
    )


def default_output_path(input_path: Path, mode: str) -> Path:
    """``<name>-restored.<ext>`` next to the input, in the input's format when that keeps
    every pixel of a ``mode`` picture, else PNG (TIFF for modes PNG cannot hold: CMYK,
    32-bit)."""
    suffix = input_path.suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if not _keeps(mode, fmt):
        suffix = ".png" if _keeps(mode, "PNG") else ".tif"
    return input_path.with_name(f"{input_path.stem}-restored{suffix}")


def _keeps(mode: str, fmt: str | None) -> bool:
    if fmt not in OUTPUT_FORMATS:
        return False
    try:
        return keeps_pixels(mode, fmt)
    except OutputPathError:
        return False


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Write atomically in the format the suffix names (``OUTPUT_FORMATS``, with
    ``SAVE_OPTIONS``); ``OutputPathError`` when the suffix names no such format or the
    format cannot hold the image's mode (e.g. CMYK as PNG)."""
    path = Path(path)
    fmt = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        image.save(tmp, format=fmt, **SAVE_OPTIONS.get(fmt, {}))
    except (OSError, ValueError, KeyError) as error:
        tmp.unlink(missing_ok=True)
        raise OutputPathError(
            f"cannot write a {image.mode} image as {fmt} ({error}); choose another -o suffix"
        ) from error
    tmp.replace(path)
    return path
