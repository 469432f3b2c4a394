"""Find the TrueType/OpenType fonts the synthetic generator can use, offline.

Fonts come from the usual system folders (on Debian ``make install`` adds a set of
screenshot-typical families) and from ``DEPIX_FONT_DIRS``. Each font falls into one of three
disjoint splits by its *design family* (``family_of``), never by file: ``train`` (the training
generator), ``val`` (validation lines, which choose ``best.ckpt``) and ``test`` (only
``depix-eval``). So no bold, italic, condensed or derived sibling of a trained design (Hack is
DejaVu Sans Mono's descendant, Open Sans Condensed is Open Sans) counts as unseen, and the fonts
that pick the shipped checkpoint are not the ones that score it. Pillow's built-in scalable
font is the last resort, so the generator works on any machine.
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


SPLITS = ("train", "val", "test")
# Families of the fonts `make install` adds, placed by hand so that val and test each hold
# monospaced and proportional faces: test = Liberation (Arial/Times/Courier metrics, the most
# common screenshot faces) + Inconsolata; val = Fira Code + Cantarell; train = the rest.
# Families not listed (other machines' fonts) are placed by a stable hash of the family.
_FAMILY_SPLIT = {
    **dict.fromkeys(("liberation", "inconsolata"), "test"),
    **dict.fromkeys(("fira", "cantarell"), "val"),
    **dict.fromkeys(("dejavu", "free", "noto", "open", "roboto", "droid", "ubuntu"), "train"),
}
# Design lineages whose family names differ: a derived face is the same design.
_FAMILY_ALIASES = {
    "hack": "dejavu",
    "bitstream": "dejavu",
    "vera": "dejavu",
    "arimo": "liberation",
    "tinos": "liberation",
    "cousine": "liberation",
}


@lru_cache(maxsize=1024)
def family_of(path: str) -> str:
    """The design family of a font file, lower case: the first word of its family name
    (``DejaVu Sans Mono`` -> ``dejavu``, ``FreeSerif`` -> ``free``, ``Roboto Condensed`` ->
    ``roboto``), with known derived designs mapped to their origin (``Hack`` -> ``dejavu``).

    The family name is read from the font's ``name`` table (via FreeType); an unreadable file
    falls back to its file name's first letters.
    """
    if path == BUILTIN:
        return "builtin"
    try:
        family = load_font(path, 20).getname()[0] or Path(path).stem
    except OSError:
        family = Path(path).stem
    word = family.replace("-", " ").split()[0].lower()
    if word.startswith("free"):  # GNU FreeFont: FreeSans, FreeSerif, FreeMono
        word = "free"
    return _FAMILY_ALIASES.get(word, word)


def split_of(path: str) -> str:
    """The split (``train``, ``val`` or ``test``) of a font file, decided by its design family
    (see the module docstring); stable across machines."""
    family = family_of(path)
    if family == "builtin":
        return "train"
    if family in _FAMILY_SPLIT:
        return _FAMILY_SPLIT[family]
    digest = hashlib.sha1(family.encode()).digest()[0] % 10
    return "test" if digest == 0 else "val" if digest == 1 else "train"


@lru_cache(maxsize=8)
def discover_fonts(split: str = "all") -> tuple[str, ...]:
    """Sorted font paths of ``split`` (``all``, ``train``, ``val`` or ``test``).

    Falls back to Pillow's built-in font when no font file is found, so rendering never
    fails for lack of fonts (the set is then much less varied: ``make install`` fixes that).
    """
    if split not in ("all", *SPLITS):
        raise ValueError(f"font split must be one of all, {', '.join(SPLITS)}; got {split!r}")
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
