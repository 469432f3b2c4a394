"""Find the TrueType/OpenType fonts the synthetic generator can use, offline.

Fonts come from the usual system folders (on Debian ``make install`` adds a set of
screenshot-typical families) and from ``DEPIX_FONT_DIRS``. Each font falls
deterministically into the ``train`` or ``holdout`` split by a hash of its file name, so
the evaluation can measure generalisation to fonts the model never saw. Pillow's built-in
scalable font is the last resort, so the generator works on any machine.
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

BUILTIN = "<pillow-builtin>"
_FONT_SUFFIXES = {".ttf", ".otf", ".ttc"}
# Faces that do not draw Latin text (symbols, emoji) or draw it as decoration.
_SKIP_WORDS = ("emoji", "symbol", "dingbat", "wingding", "webdings", "math", "braille", "fallback")


def font_dirs() -> list[Path]:
    """Folders searched for fonts, ``DEPIX_FONT_DIRS`` (os.pathsep-separated) first."""
    dirs = [Path(p) for p in os.environ.get("DEPIX_FONT_DIRS", "").split(os.pathsep) if p]
    home = Path.home()
    dirs += [
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        home / ".fonts",
        home / ".local/share/fonts",
    ]
    if sys.platform == "darwin":
        dirs += [Path("/System/Library/Fonts"), Path("/Library/Fonts"), home / "Library/Fonts"]
    if sys.platform == "win32":
        dirs.append(Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts")
    return dirs


def split_of(path: str) -> str:
    """``holdout`` for about one font in five (stable across machines), else ``train``."""
    if path == BUILTIN:
        return "train"
    digest = hashlib.sha1(Path(path).name.lower().encode()).digest()
    return "holdout" if digest[0] % 5 == 0 else "train"


@lru_cache(maxsize=8)
def discover_fonts(split: str = "all") -> tuple[str, ...]:
    """Sorted font paths of ``split`` (``all``, ``train`` or ``holdout``).

    Falls back to Pillow's built-in font when no font file is found, so rendering never
    fails for lack of fonts (the set is then much less varied: ``make install`` fixes that).
    """
    if split not in ("all", "train", "holdout"):
        raise ValueError(f"font split must be 'all', 'train' or 'holdout', got {split!r}")
    found: set[str] = set()
    for folder in font_dirs():
        if folder.is_dir():
            for path in folder.rglob("*"):
                name = path.name.lower()
                if path.suffix.lower() in _FONT_SUFFIXES and not any(
                    w in name for w in _SKIP_WORDS
                ):
                    found.add(str(path))
    fonts = sorted(p for p in found if split == "all" or split_of(p) == split)
    return tuple(fonts) if fonts else (BUILTIN,)


@lru_cache(maxsize=4096)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached font object; font files are parsed once per process and size."""
    if path == BUILTIN:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)


_BOLD_WORDS = ("bold", "black", "heavy", "semibold")


def is_monospaced(path: str) -> bool:
    """True when ``i`` and ``M`` advance equally: code-editor and terminal fonts."""
    font = load_font(path, 20)
    narrow, wide = font.getlength("i" * 10), font.getlength("M" * 10)
    return abs(narrow - wide) < 0.01 * wide


def is_bold(path: str) -> bool:
    """Bold (or heavier) by the file name, the only portable source offline."""
    name = Path(path).name.lower()
    return any(word in name for word in _BOLD_WORDS)


@lru_cache(maxsize=8)
def fonts_by_kind(split: str = "all") -> dict[str, tuple[str, ...]]:
    """The fonts of ``split`` classified as ``mono``/``proportional`` x ``regular``/``bold``.

    Keys ``"mono"``, ``"mono_bold"``, ``"proportional"``, ``"proportional_bold"``; an empty
    class is left out, so callers fall back to what exists (e.g. the built-in font only).
    """
    classes: dict[str, list[str]] = {}
    for path in discover_fonts(split):
        kind = "mono" if is_monospaced(path) else "proportional"
        if is_bold(path):
            kind += "_bold"
        classes.setdefault(kind, []).append(path)
    return {kind: tuple(paths) for kind, paths in classes.items()}
