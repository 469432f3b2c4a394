"""``python -m depix.decode.bench``: the decoder's text benchmark, next to Tesseract on the mosaic.

Lines are drawn in ``test``-split fonts (families never trained or validated on) by the
project's renderer, pixelated with ``depix.evaluate.conditions`` (the evaluator's own
functions: random grid offsets, sRGB or linear-light averaging, Pillow JPEG q80-95), and
stratified over block/font bands up to 0.6. Half the lines come from a second rasterizer
(the renderer's ``unhinted`` 4x-supersampled or ``subpixel`` ClearType-like coverage, at a
fractional x), which the decoder does not model. The decoder is told the font (``--font``
case); ``--unknown N`` decodes the first N lines again searching the whole library. Every
table row gives the decoder's CER and exact-line rate beside Tesseract's on the same
pixelated lines, and the seconds per line.
"""

from __future__ import annotations

import argparse
import csv
import random
import string
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from depix.data.fonts import discover_fonts, load_font
from depix.data.render import LineStyle, composite, line_tops, random_colours, text_coverage
from depix.data.text import random_text
from depix.decode.decode import DecodeOptions
from depix.decode.region import decode_region
from depix.degrade.averaging import pixelate_mode
from depix.evaluate.conditions import Grid, jpeg_roundtrip, pixelate
from depix.evaluate.suites import line_height
from depix.metrics.ocr import cer, read_line, tesseract_available

BANDS = (
    (0.0, 0.25, "<= 1/4"),
    (0.25, 1 / 3, "1/4-1/3"),
    (1 / 3, 0.5, "1/3-1/2"),
    (0.5, 0.6, "1/2-0.6"),
)
SIZES = (16, 20, 24, 28)
PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")


def band_of(ratio: float) -> str:
    for lo, hi, name in BANDS:
        if lo < ratio <= hi + 1e-9:
            return name
    return "> 0.6"


def make_line(index: int, seed: int, fonts: list[str]) -> dict:
    """One benchmark line: clean render, pixelated observation and its condition."""
    rng = random.Random(seed * 1_000_003 + index)
    font = fonts[index % len(fonts)]
    size = SIZES[(index // len(fonts)) % len(SIZES)]
    lo, hi, band = BANDS[index % len(BANDS)]
    blocks = [b for b in range(3, 17) if lo < b / size <= hi + 1e-9] or [max(3, round(hi * size))]
    block = rng.choice(blocks)
    averaging = ("srgb", "linear")[(index // 4) % 2]
    jpeg = rng.choice((80, 85, 90, 95)) if index % 3 == 2 else None
    # every (band, averaging, rasterizer) once per 16 lines (it was ``(index // 2) % 2``,
    # which put every second-rasterizer line beyond 1/3: bands and rasterizers confounded)
    raster = ("grey", "second", "second", "grey")[(index // 4) % 4]
    antialias = rng.choice(("unhinted", "subpixel")) if raster == "second" else "grey"
    text = ""
    while not 8 <= len(text) <= 24:
        text = "".join(c for c in random_text(rng) if c in PRINTABLE).strip()[:24]
    fg, bg = random_colours(rng)
    style = LineStyle(font, size, fg, bg, x=0, y_jitter=0, antialias=antialias)
    height = line_height(size, 1.5)
    x = rng.randint(2, 10) + (rng.choice((0.25, 0.5, 0.75)) if raster == "second" else 0.0)
    width = int(load_font(font, size).getlength(text)) + 24 + block
    top = line_tops(style, height)[0]
    if raster == "grey":
        top = round(top)
    cov = text_coverage([text], style, [(x, top)], height, width)
    clean = np.asarray(composite(cov, fg, bg))
    tensor = torch.from_numpy(clean.copy()).permute(2, 0, 1)[None].float() / 255
    gen = torch.Generator().manual_seed(seed + index)
    oy, ox = (torch.randint(0, block, (1,), generator=gen) for _ in range(2))
    grid = Grid(block, oy, ox)
    observed = pixelate(tensor, grid, averaging)
    if jpeg:
        observed = jpeg_roundtrip(observed, jpeg)
    rgb = np.round(observed[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    return {
        "index": index,
        "text": text,
        "font": font,
        "size": size,
        "block": block,
        "band": band_of(block / size),
        "averaging": averaging,
        "jpeg": jpeg or "png",
        "raster": antialias if raster == "second" else "grey (same as decoder)",
        "rgb": rgb,
        "offset": (int(oy), int(ox)),
        "colours": (fg, bg),
        "origin": (x, top),
    }


def run_decoder(line: dict, fonts: list[str] | None) -> tuple[str, float, float, float]:
    """(best string, confidence, wall seconds, CPU seconds) of the decoder on one line."""
    start, cpu = time.perf_counter(), time.process_time()
    options = DecodeOptions(fonts=fonts)
    oy, ox = line["offset"]
    reading = decode_region(line["rgb"], line["block"], oy, ox, options)
    return reading.guess, reading.confidence, time.perf_counter() - start, time.process_time() - cpu


def summary(rows: list[dict], key: Callable[[dict], str], title: str, console: Console) -> str:
    """A Rich table (and its markdown) of CER / exact per group, decoder beside Tesseract."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(str(key(row)), []).append(row)
    table = Table(title=title)
    head = [
        "group",
        "lines",
        "decoder CER",
        "decoder exact",
        "Tesseract CER",
        "Tesseract exact",
        "s/line",
        "CPU s/line",
    ]
    for h in head:
        table.add_column(h)
    md = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in sorted(groups):
        g = groups[name]
        cells = [
            name,
            str(len(g)),
            f"{np.mean([r['cer'] for r in g]):.3f}",
            f"{np.mean([r['exact'] for r in g]):.2f}",
            f"{np.mean([r['tess_cer'] for r in g]):.3f}" if g[0]["tess_cer"] is not None else "-",
            f"{np.mean([r['tess_exact'] for r in g]):.2f}" if g[0]["tess_cer"] is not None else "-",
            f"{np.mean([r['seconds'] for r in g]):.1f}",
            f"{np.mean([r['cpu_seconds'] for r in g]):.1f}",
        ]
        table.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
    console.print(table)
    return "\n".join(md) + "\n"


SCREENSHOT_FIELDS = (  # label, hidden value, font file name, size px, block px
    ("User:", "anna.weber", "LiberationSans-Regular", 24, 5),
    ("Password:", "hunter42", "LiberationMono-Regular", 26, 6),
    ("Token:", "9f3a7c21", "Inconsolata", 30, 8),
    ("Card:", "4921 7734 0082", "LiberationSerif-Regular", 32, 10),
)


def make_screenshot(path: Path, quality: int = 85) -> list[dict]:
    """A sign-in-like screenshot: labels in clear, values pixelated (blocks 5-10, each field its
    own ``test``-split font and grid), saved once as JPEG ``quality``. Returns the truth per
    field (text, box x,y,w,h, block, font, size)."""
    fonts = discover_fonts("all")
    width, height = 860, 90 + 80 * len(SCREENSHOT_FIELDS)
    canvas = np.full((height, width, 3), 250, dtype=np.uint8)
    label_font = next((f for f in fonts if f.endswith("DejaVuSans.ttf")), fonts[0])
    truth = []
    for k, (label, value, name, size, block) in enumerate(SCREENSHOT_FIELDS):
        y = 40 + 80 * k
        font = next(f for f in fonts if Path(f).stem == name)
        for text, face, x, px in ((label, label_font, 30, 24), (value, font, 220, size)):
            style = LineStyle(face, px, (30, 30, 30), (250, 250, 250), x=0, y_jitter=0)
            w = int(load_font(face, px).getlength(text)) + 8
            cov = text_coverage([text], style, [(2.0, 2.0)], px * 3 // 2, w)
            canvas[y : y + px * 3 // 2, x : x + w] = np.asarray(
                composite(cov, style.foreground, style.background)
            )
        box_w = int(load_font(font, size).getlength(value)) + 12
        box = (216, y - 2, box_w, size * 3 // 2 + 6)  # x, y, w, h as a redaction tool selects
        tensor = torch.from_numpy(canvas.copy()).permute(2, 0, 1)[None].float() / 255
        bx, by, bw, bh = box
        out = pixelate_mode(tensor, "srgb", block, block, by % block, bx % block,
                            box=torch.tensor([by, bx, by + bh, bx + bw]))  # fmt: skip
        canvas = np.round(out[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        truth.append({"text": value, "box": box, "block": block, "font": font, "size": size})
    Image.fromarray(canvas).save(path, quality=quality)
    return truth


CSV_FIELDS = ["index", "fonts", "text", "guess", "confidence", "cer", "exact", "tess", "tess_cer",
              "font", "size", "block", "band", "averaging", "jpeg", "raster", "seconds", "cpu_seconds"]  # fmt: skip


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m depix.decode.bench", description=__doc__)
    parser.add_argument("--lines", type=int, default=32, help="lines, font known")
    parser.add_argument("--unknown", type=int, default=2, help="first N lines again, font unknown")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--out", type=Path, help="write the tables (markdown) and per-line CSV here"
    )
    parser.add_argument(
        "--screenshot", type=Path, help="only write the several-field test screenshot (JPEG q85)"
    )
    parser.add_argument(
        "--tables-from", type=Path, help="print (and --out) the tables of a per-line CSV only"
    )
    args = parser.parse_args(argv)
    console = Console()
    if args.tables_from:
        with open(args.tables_from) as handle:
            rows = [
                {**r, **{k: float(r[k]) for k in ("cer", "exact", "confidence", "seconds", "cpu_seconds")},
                 "tess_cer": float(r["tess_cer"]) if r["tess_cer"] else None,
                 "tess_exact": float(r["tess"] == r["text"]) if r["tess_cer"] else None,
                 "block": int(r["block"])}
                for r in csv.DictReader(handle)
            ]  # fmt: skip
        md = _tables(rows, [], console)
        if args.out:
            args.out.write_text("\n".join(md))
        return 0
    if args.screenshot:
        truth = make_screenshot(args.screenshot)
        for field in truth:
            console.print(field, markup=False)
        return 0
    fonts = list(discover_fonts("test"))
    tess = tesseract_available()
    rows = []
    with Progress(console=console) as progress:
        task = progress.add_task("decoding (font known)", total=args.lines + args.unknown)
        for i in range(args.lines):
            line = make_line(i, args.seed, fonts)
            guess, confidence, seconds, cpu = run_decoder(line, [line["font"]])
            tess_text = read_line(Image.fromarray(line["rgb"])) if tess else None
            rows.append({
                **{k: v for k, v in line.items() if k not in ("rgb",)},
                "font": Path(line["font"]).stem,
                "guess": guess,
                "confidence": confidence,
                "cer": cer(guess, line["text"]),
                "exact": float(guess == line["text"]),
                "tess": tess_text,
                "tess_cer": cer(tess_text, line["text"]) if tess else None,
                "tess_exact": float(tess_text == line["text"]) if tess else None,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "fonts": "known",
            })  # fmt: skip
            progress.advance(task)
            if args.out:  # per-line progress on disk: a long run interrupted keeps its lines
                _write_csv(args.out.with_suffix(".partial.csv"), rows)
        unknown = []
        for i in range(args.unknown):
            line = make_line(i, args.seed, fonts)
            guess, confidence, seconds, cpu = run_decoder(line, None)
            unknown.append({**rows[i], "guess": guess, "confidence": confidence,
                            "cer": cer(guess, line["text"]), "exact": float(guess == line["text"]),
                            "seconds": seconds, "cpu_seconds": cpu, "fonts": "unknown (library)"})  # fmt: skip
            progress.advance(task)
    md = _tables(rows, unknown, console)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(md))
        _write_csv(args.out.with_suffix(".csv"), rows + unknown)
        args.out.with_suffix(".partial.csv").unlink(missing_ok=True)
        console.print(f"wrote {args.out} and {args.out.with_suffix('.csv')}")
    return 0


def _tables(rows: list[dict], unknown: list[dict], console: Console) -> list[str]:
    md = []
    md.append(summary(rows, lambda r: r["band"], "per block/font band (font known)", console))
    md.append(summary(rows, lambda r: f"{r['block']:02d}", "per block (font known)", console))
    md.append(summary(rows, lambda r: r["averaging"], "per averaging (font known)", console))
    md.append(summary(rows, lambda r: r["jpeg"], "per JPEG quality (font known)", console))
    md.append(summary(rows, lambda r: r["raster"], "per rasterizer (font known)", console))
    md.append(summary(rows, lambda r: r["font"], "per font (font known)", console))
    md.append(summary(rows, lambda r: "confidence >= 0.9" if r["confidence"] >= 0.9 else "confidence < 0.9",
                      "calibration: exact-line rate by confidence (font known)", console))  # fmt: skip
    if unknown:
        md.append(summary(unknown + rows[: len(unknown)], lambda r: r["fonts"],
                          "font known vs unknown (same lines)", console))  # fmt: skip
    return md


if __name__ == "__main__":
    raise SystemExit(main())
