"""``python -m depix.reader.bench``: the reader's CER per block and block/font band, beside Tesseract.

Lines are drawn in test-split fonts (families never trained or validated on) with the
synthetic generator's screenshot looks (``SyntheticTextDataset.random_style``: colours,
anti-aliasing, spacing), but their TEXT does not come from the generator's templates
(``depix/data/text.py``), so the reader's score is not its knowledge of those templates:

- ``random``: uniformly random strings (6-14 characters) over letters, digits and the
  punctuation people type in secrets (``RANDOM_ALPHABET``);
- ``zen``: 2-4 words drawn from the Zen of Python (Python's ``this`` module), capitalised
  at random, with a number in a third of the lines: a word mix no template writes.

Each line is pixelated on a random grid offset, mean of sRGB values (8 bit), for every block
size. Tesseract reads the same pixelated lines (``depix.metrics.ocr.read_line``).
Prints Rich tables (per block, per band) per text kind; ``--out`` also writes Markdown.
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import random
import re
import string
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import track
from rich.table import Table
from torchmetrics.functional.text import char_error_rate

from depix.data.render import render_line
from depix.data.synthetic_text import SyntheticTextDataset, to_tensor
from depix.degrade.averaging import pixelate_mode
from depix.evaluate.suites import line_height
from depix.reader.module import band_of
from depix.reader.read import Reader

RANDOM_ALPHABET = string.ascii_letters + string.digits + "!#$%&*+-./:=?@_"
BAND_NAMES = {"q": "<= 1/4", "t": "1/4 .. 1/3", "hard": "> 1/3"}


def zen_words() -> list[str]:
    """Distinct words of the Zen of Python (``this`` module; ROT13-decoded, no printing)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import this  # noqa: F401  (prints the poem on first import)
    text = codecs.decode(sys.modules["this"].s, "rot13")
    return sorted({w for w in re.findall(r"[A-Za-z']+", text) if len(w) > 1})


def random_line(rng: random.Random, kind: str, words: list[str]) -> str:
    """One benchmark text of ``kind`` (``random`` or ``zen``); see the module docstring."""
    if kind == "random":
        return "".join(rng.choice(RANDOM_ALPHABET) for _ in range(rng.randint(6, 14)))
    picked = [rng.choice(words) for _ in range(rng.randint(2, 4))]
    picked = [w.capitalize() if rng.random() < 0.3 else w for w in picked]
    if rng.random() < 0.33:
        picked.insert(rng.randrange(len(picked) + 1), str(rng.randint(0, 9999)))
    return " ".join(picked)


def make_lines(
    kind: str, font_size: int, n: int, width: int, seed: int
) -> tuple[torch.Tensor, list[str]]:
    """``n`` clean lines (n, 3, H, W) of ``kind`` text in test fonts, and the text shown."""
    height = line_height(font_size, 1.5)
    styles = SyntheticTextDataset(
        length=n,
        size=(height, width),
        font_sizes=(font_size, font_size),
        font_split="test",
        seed=seed,
    )
    rng, words = random.Random(seed), zen_words()
    images, texts = [], []
    for _ in range(n):
        # one text colour, no selection: a redacted field
        style = dataclasses.replace(styles.random_style(rng), token_colours=(), selection=None)
        image, shown = render_line(random_line(rng, kind, words), style, height, width)
        images.append(to_tensor(image))
        texts.append(shown.strip())
    return torch.stack(images), texts


def pixelate(images: torch.Tensor, block: int, seed: int) -> torch.Tensor:
    """Mean-of-sRGB mosaic (8 bit) with a random grid offset per line."""
    g = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    b = torch.full((n,), block)
    oy, ox = torch.randint(0, block, (n,), generator=g), torch.randint(0, block, (n,), generator=g)
    return pixelate_mode(images, "srgb", b, b, oy, ox)


def score(preds: list[str], refs: list[str]) -> tuple[float, float]:
    """(CER from torchmetrics over the lines, share of exact lines)."""
    return float(char_error_rate(preds, refs)), sum(p == r for p, r in zip(preds, refs)) / len(refs)


def run(args: argparse.Namespace) -> dict:
    reader = Reader.load(args.reader, beam=args.beam)
    from depix.metrics.ocr import read_line, tesseract_available

    ocr = tesseract_available() and not args.no_tesseract
    rows: dict[tuple[str, str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    jobs = [(k, f, b) for k in args.kinds for f in args.font_sizes for b in args.blocks]
    reader_time, reader_lines = 0.0, 0
    for kind, font, block in track(jobs, description="reading"):
        seed = args.seed + 1000 * font + (0 if kind == "random" else 7)
        clean, texts = make_lines(kind, font, args.lines, args.width, seed)
        observed = pixelate(clean, block, seed + block)
        start = time.perf_counter()
        reads = reader.read(observed)
        reader_time += time.perf_counter() - start
        reader_lines += len(texts)
        pixels = (observed * 255).round().byte().permute(0, 2, 3, 1).numpy()
        tess = [read_line(p) for p in pixels] if ocr else None
        band = band_of(block, font)
        for key in ((kind, "block", str(block)), (kind, "band", band), (kind, "all", "all")):
            rows[key]["ref"] += texts
            rows[key]["reader"] += reads
            if tess is not None:
                rows[key]["tesseract"] += tess
    return {"rows": rows, "ocr": ocr, "ms_per_line": 1000 * reader_time / max(1, reader_lines)}


def tables(result: dict, kinds: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    out = []
    for kind in kinds:
        for axis in ("block", "band"):
            keys = sorted(
                (k for k in result["rows"] if k[0] == kind and k[1] == axis),
                key=lambda k: int(k[2]) if axis == "block" else list(BAND_NAMES).index(k[2]),
            )
            keys.append((kind, "all", "all"))
            header = [
                axis if axis == "block" else "block/font",
                "lines",
                "reader CER",
                "reader exact",
            ]
            if result["ocr"]:
                header += ["Tesseract CER", "Tesseract exact"]
            body = []
            for key in keys:
                r = result["rows"][key]
                cer, exact = score(r["reader"], r["ref"])
                label = BAND_NAMES.get(key[2], key[2])
                row = [label, str(len(r["ref"])), f"{cer:.3f}", f"{exact:.2f}"]
                if result["ocr"]:
                    tc, te = score(r["tesseract"], r["ref"])
                    row += [f"{tc:.3f}", f"{te:.2f}"]
                body.append(row)
            out.append((f"{kind} text, per {axis}", header, body))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m depix.reader.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--reader", default=None, help="reader file/checkpoint/run (default: shipped)"
    )
    parser.add_argument("--lines", type=int, default=12, help="lines per kind, font size and block")
    parser.add_argument("--blocks", type=int, nargs="+", default=[4, 6, 8, 10, 12])
    parser.add_argument("--font-sizes", type=int, nargs="+", default=[16, 24, 32])
    parser.add_argument("--kinds", nargs="+", default=["random", "zen"], choices=["random", "zen"])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--beam", type=int, default=16, help="CTC beam width (1: greedy)")
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables as Markdown")
    args = parser.parse_args(argv)
    console = Console()
    start = time.perf_counter()
    result = run(args)
    markdown = []
    for title, header, body in tables(result, args.kinds):
        table = Table(title=title)
        for column in header:
            table.add_column(column)
        for row in body:
            table.add_row(*row)
        console.print(table)
        markdown += [
            f"**{title}**",
            "",
            "| " + " | ".join(header) + " |",
            "|" + " --- |" * len(header),
        ]
        markdown += ["| " + " | ".join(row) + " |" for row in body] + [""]
    note = (
        f"reader: {result['ms_per_line']:.1f} ms per line (beam {args.beam}); "
        f"whole benchmark {time.perf_counter() - start:.0f} s"
    )
    console.print(note)
    if args.out:
        args.out.write_text("\n".join(markdown + [note, ""]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
