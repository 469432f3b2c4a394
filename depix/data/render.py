"""Render text the way it looks in a screenshot (PIL + numpy, CPU, in data-loader workers).

A line is drawn once as a glyph *coverage* mask and composited over a background image:
``out = background + (foreground - background) * coverage``. Foreground and background
are per-pixel images, so syntax-highlight colours (one colour per token span) and selection
highlights (a rectangle behind a character span) cost a few array slices, not extra text
draws. Coverage comes in four kinds, as screenshots show them:

- ``grey``: FreeType's hinted grey-scale anti-aliasing (Linux, most apps);
- ``none``: 1-bit, aliased glyphs (old Windows, terminals without smoothing);
- ``unhinted``: drawn 4x larger and box-reduced (macOS-like, no hinting, fractional positions);
- ``subpixel``: ClearType-like RGB anti-aliasing: drawn at 3x horizontal resolution (3x size,
  reduced 3x vertically only), filtered with the FIR ``[1, 2, 3, 2, 1] / 9`` and split into
  R, G, B sub-pixels (or B, G, R), which gives grey text its colour fringes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from depix.data.fonts import load_font
from depix.data.glyphs import GlyphAtlas, atlas

ANTIALIAS = ("grey", "none", "unhinted", "subpixel")
# How glyphs are drawn: "pillow" draws every line with ImageDraw.text (the default and the
# reference); "atlas" composes cached glyph bitmaps (depix.data.glyphs): faster once a worker's
# glyph sets are built, slower until then (each (font, size) set is built on first use).
ENGINES = ("atlas", "pillow")
# (horizontal, vertical) drawing scale of each anti-aliasing kind.
_SCALE = {"grey": (1, 1), "none": (1, 1), "unhinted": (4, 4), "subpixel": (3, 3)}
_SUBPIXEL_FIR = np.array([1, 2, 3, 2, 1], dtype=np.float32) / 9
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]+")

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class LineStyle:
    """Everything that decides how text looks; drawn at random by the dataset's ``random_style``.

    ``font_size`` may be fractional (different hinting of the same face);
    ``token_colours`` (syntax highlighting) colours each word/punctuation run with one of
    them, chosen by ``colour_seed``; ``selection`` = ``(line, start, end)`` as fractions of
    that line's characters, drawn in ``selection_colour`` behind the glyphs.
    """

    font: str
    font_size: float
    foreground: Colour
    background: Colour
    x: int
    y_jitter: int
    antialias: str = "grey"
    subpixel_bgr: bool = False
    letter_spacing: float = 0.0
    line_gap: int = 0
    token_colours: tuple[Colour, ...] = ()
    colour_seed: int = 0
    selection: tuple[int, float, float] | None = None
    selection_colour: Colour = (173, 214, 255)

    def __post_init__(self) -> None:
        if self.antialias not in ANTIALIAS:
            raise ValueError(f"antialias must be one of {ANTIALIAS}, got {self.antialias!r}")


def luminance(rgb: Sequence[int]) -> float:
    """Relative luminance-like weight of an sRGB colour in [0, 1] (Rec. 709 weights)."""
    r, g, b = (c / 255.0 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def random_colours(rng: random.Random, min_contrast: float = 0.35) -> tuple[Colour, Colour]:
    """A foreground/background pair: light or dark theme, sometimes coloured, always legible."""
    for _ in range(100):
        dark = rng.random() < 0.35
        base = rng.randint(0, 60) if dark else rng.randint(200, 255)
        bg = tuple(min(max(base + rng.randint(-15, 15), 0), 255) for _ in range(3))
        if rng.random() < 0.2:  # coloured panel or highlight
            bg = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.6:
            fg = (255 - base,) * 3 if dark else (rng.randint(0, 60),) * 3
        else:  # coloured text (links, syntax highlighting, labels)
            fg = tuple(rng.randint(0, 255) for _ in range(3))
        if abs(luminance(fg) - luminance(bg)) >= min_contrast:
            return fg, bg
    return (0, 0, 0), (255, 255, 255)


def legible_colours(
    rng: random.Random, background: Colour, count: int, min_contrast: float = 0.3
) -> tuple[Colour, ...]:
    """Up to ``count`` random colours that read on ``background`` (a syntax theme)."""
    found: list[Colour] = []
    for _ in range(20 * count):
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if abs(luminance(colour) - luminance(background)) >= min_contrast:
            found.append(colour)
            if len(found) == count:
                break
    return tuple(found)


def text_width(text: str, font, letter_spacing: float = 0.0) -> float:
    """Advance width of ``text`` in pixels, with ``letter_spacing`` after every character."""
    return font.getlength(text) + letter_spacing * len(text)


def fit_text(text: str, font, max_width: int, letter_spacing: float = 0.0) -> str:
    """Cut ``text`` at the end so it fits ``max_width`` pixels (at least one character)."""
    while len(text) > 1 and text_width(text, font, letter_spacing) > max_width:
        ratio = max_width / text_width(text, font, letter_spacing)
        text = text[: max(1, int(len(text) * ratio) - 1)].rstrip() or text[:1]
    return text


def _fit_prefix(text: str, glyphs: GlyphAtlas, max_width: int, letter_spacing: float) -> str:
    """``fit_text`` with the atlas's cached advances (the same cut, without re-measuring)."""
    _, prefix = glyphs.layout(text)
    k = len(text)

    def width(n: int) -> float:
        return prefix[n] / 64 + letter_spacing * n

    while k > 1 and width(k) > max_width:
        ratio = max_width / width(k)
        cut = text[: max(1, int(k * ratio) - 1)].rstrip() or text[:1]
        k = len(cut)
    return text[:k]


def _char_edges(line: str, font, x: float, spacing: float, glyphs: GlyphAtlas | None = None):
    """x of each character boundary (len(line) + 1 values), in the drawing font's pixels."""
    if glyphs is not None:
        _, prefix = glyphs.layout(line)
        return x + prefix / 64 + spacing * np.arange(len(line) + 1)
    return np.array([x + font.getlength(line[:i]) + spacing * i for i in range(len(line) + 1)])


def _edge_lookup(line: str, font, x: float, spacing: float, sx: int, glyphs: GlyphAtlas | None):
    """``i -> x of character boundary i`` in output pixels, measured only where asked (token
    and selection ends need a few of the ``len(line) + 1`` prefix widths, each a layout)."""
    if glyphs is not None:
        return (_char_edges(line, font, x, spacing, glyphs) / sx).__getitem__
    cache: dict[int, float] = {}

    def edge(i: int) -> float:
        if i not in cache:
            cache[i] = (x + font.getlength(line[:i]) + spacing * i) / sx
        return cache[i]

    return edge


def _coverage(
    lines: Sequence[str],
    style: LineStyle,
    font,
    origins: Sequence[tuple[float, float]],
    height: int,
    width: int,
    engine: str = "pillow",
) -> np.ndarray:
    """Glyph coverage in [0, 1], (H, W, 1) or (H, W, 3) for sub-pixel anti-aliasing."""
    sx, sy = _SCALE[style.antialias]
    spacing = style.letter_spacing * sx
    if engine == "atlas":
        glyphs = atlas(style.font, font.size, "1" if style.antialias == "none" else "L")
        edges_font = atlas(style.font, font.size) if spacing else None
        canvas = np.zeros((height * sy, width * sx), dtype=np.uint8)
        for line, (x, y) in zip(lines, origins):
            if spacing:
                edges = _char_edges(line, font, x * sx, spacing, edges_font)
                for char, left in zip(line, edges.tolist()):
                    if not char.isspace():
                        glyphs.draw(canvas, char, left, y * sy)
            else:
                glyphs.draw(canvas, line, x * sx, y * sy)
        mask = Image.fromarray(canvas, "L")
    else:
        mask = Image.new("L", (width * sx, height * sy), 0)
        draw = ImageDraw.Draw(mask)
        if style.antialias == "none":
            draw.fontmode = "1"
        for line, (x, y) in zip(lines, origins):
            if spacing:
                edges = _char_edges(line, font, x * sx, spacing)
                for char, left in zip(line, edges):
                    if not char.isspace():  # PIL cannot draw a lone space (empty mask)
                        draw.text((left, y * sy), char, fill=255, font=font)
            else:
                draw.text((x * sx, y * sy), line, fill=255, font=font)
    if style.antialias == "subpixel":
        sub = np.asarray(mask.reduce((1, sy)), dtype=np.float32)  # (H, 3W): sub-pixel columns
        # FIR [1, 2, 3, 2, 1] / 9 over sub-pixel columns, zero beyond the edges
        padded = np.zeros((sub.shape[0], sub.shape[1] + 4), dtype=np.float32)
        padded[:, 2:-2] = sub
        n = sub.shape[1]
        sub = sum(w * padded[:, i : i + n] for i, w in enumerate(_SUBPIXEL_FIR.tolist()))
        cov = sub.reshape(height, width, 3)
        return (cov[..., ::-1] if style.subpixel_bgr else cov) / 255.0
    if sx > 1:
        mask = mask.reduce((sx, sy))
    return np.asarray(mask, dtype=np.float32)[..., None] / 255.0


def drawing_font(style: LineStyle):
    """The font object a style draws with (scaled up for the ``unhinted``/``subpixel`` kinds)."""
    sy = _SCALE[style.antialias][1]
    return load_font(style.font, style.font_size * sy if sy > 1 else style.font_size)


def text_coverage(
    lines: Sequence[str],
    style: LineStyle,
    origins: Sequence[tuple[float, float]],
    height: int,
    width: int,
) -> np.ndarray:
    """Glyph coverage of ``lines`` drawn at ``origins`` (x, y of each line's top-left: the
    top of the font's ascent), exactly as ``render_lines`` draws them.

    Returns float32 (H, W, 1) in [0, 1] (multiples of 1/255 for ``grey``/``none``), or
    (H, W, 3) for sub-pixel anti-aliasing. Used by the text decoder (``depix.decode``),
    which must render hypotheses with the same rasterizer as the training data.
    """
    return _coverage(lines, style, drawing_font(style), origins, height, width)


def composite(coverage: np.ndarray, foreground: Colour, background: Colour) -> Image.Image:
    """``background + (foreground - background) * coverage`` as an 8-bit RGB image (the
    compositing ``render_lines`` uses for one-colour text; ``coverage`` from ``text_coverage``)."""
    fg = np.asarray(foreground, dtype=np.float32)
    bg = np.asarray(background, dtype=np.float32)
    return Image.fromarray(_to_uint8(bg + (fg - bg) * coverage))


def line_tops(style: LineStyle, height: int, count: int = 1) -> list[float]:
    """The y of each line's top (ascent) as ``render_lines`` places ``count`` lines."""
    sy = _SCALE[style.antialias][1]
    ascent, descent = drawing_font(style).getmetrics()
    line_h = (ascent + descent) / sy + style.line_gap
    block = count * line_h - style.line_gap
    y0 = (height - block) / 2 + style.y_jitter
    if block <= height:
        y0 = min(max(y0, 0.0), height - block)
    return [y0 + k * line_h for k in range(count)]


def render_lines(
    lines: Sequence[str], style: LineStyle, height: int, width: int, engine: str = "pillow"
) -> tuple[Image.Image, str]:
    """Draw ``lines`` on a ``height`` x ``width`` canvas; returns the RGB image and the text shown.

    See ``render_lines_array``, which this wraps in a PIL image.
    """
    rgb, shown = render_lines_array(lines, style, height, width, engine)
    return Image.fromarray(rgb, "RGB"), shown


def render_lines_array(
    lines: Sequence[str], style: LineStyle, height: int, width: int, engine: str = "pillow"
) -> tuple[np.ndarray, str]:
    """Draw ``lines``; returns the image as an (H, W, 3) uint8 sRGB array and the text shown.

    Lines that do not fit vertically are dropped and each line is cut to what fits
    horizontally, so the returned string (lines joined by ``"\\n"``) is exactly what is
    visible (the OCR metric compares against it). At least one line is always drawn.
    ``engine`` (see ``ENGINES``): ``"pillow"`` (``ImageDraw.text`` per line, the reference) or
    ``"atlas"`` (cached glyphs, ``depix.data.glyphs``; pixel-identical for most lines).
    """
    if not lines:
        raise ValueError("render_lines needs at least one line of text")
    if engine not in ENGINES:
        raise ValueError(f"render engine must be one of {ENGINES}, got {engine!r}")
    sx, sy = _SCALE[style.antialias]
    font = drawing_font(style)
    ascent, descent = font.getmetrics()
    line_h = (ascent + descent) / sy + style.line_gap
    count = max(1, min(len(lines), int((height + style.line_gap) // line_h)))
    scaled_spacing = style.letter_spacing * sx
    max_width = (width - style.x - 1) * sx
    fitting = atlas(style.font, font.size) if engine == "atlas" else None
    shown = [
        fit_text(line, font, max_width, scaled_spacing)
        if fitting is None
        else _fit_prefix(line, fitting, max_width, scaled_spacing)
        for line in lines[:count]
    ]
    # Centre the block of line boxes (ascender to descender): no ink bounding box, which
    # would lay the text out a second time.
    tops = line_tops(style, height, count)
    origins = [(float(style.x), top) for top in tops]
    cov = _coverage(shown, style, font, origins, height, width, engine)

    plain = not style.token_colours and style.selection is None
    if plain:  # one colour each: broadcast, no per-pixel colour images
        fg = np.asarray(style.foreground, dtype=np.float32)
        bg = np.asarray(style.background, dtype=np.float32)
        return _to_uint8(bg + (fg - bg) * cov), "\n".join(shown)
    fg = np.empty((height, width, 3), dtype=np.float32)
    fg[:] = style.foreground
    bg = np.empty_like(fg)
    bg[:] = style.background
    colour_rng = random.Random(style.colour_seed)
    for k, (line, (x, _)) in enumerate(zip(shown, origins)):
        rows = slice(max(0, int(tops[k])), max(0, int(np.ceil(tops[k] + line_h))))
        if not style.token_colours and (style.selection is None or style.selection[0] != k):
            continue
        edges = _edge_lookup(line, font, x * sx, scaled_spacing, sx, fitting)
        if style.token_colours:
            for match in _TOKEN.finditer(line):
                if match.group().isspace():
                    continue
                colour = colour_rng.choice(style.token_colours + (style.foreground,))
                a, b = int(edges(match.start())), int(np.ceil(edges(match.end())))
                fg[rows, a:b] = colour
        if style.selection is not None and style.selection[0] == k:
            _, start, end = style.selection
            i, j = int(start * len(line)), max(int(start * len(line)) + 1, int(end * len(line)))
            bg[rows, int(edges(i)) : int(np.ceil(edges(min(j, len(line)))))] = (
                style.selection_colour
            )
    return _to_uint8(bg + (fg - bg) * cov), "\n".join(shown)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def render_line(
    text: str, style: LineStyle, height: int, width: int, engine: str = "pillow"
) -> tuple[Image.Image, str]:
    """Draw one line of ``text``; see ``render_lines``."""
    return render_lines([text], style, height, width, engine)
