"""``depix-restore INPUT [-o OUTPUT] [--ckpt PATH] [--box x,y,w,h ...] [--block N] ...``

Exit codes: 0 restored, 1 bad input / model / output (the message says which), 2 bad
command line (argparse), 3 no pixelated region found. Errors are one line on stderr,
never a traceback; ``--json`` keeps stdout machine-readable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

EXIT_ERROR, EXIT_NO_REGION = 1, 3


def _box(text: str) -> tuple[int, int, int, int]:
    from depix.restore.api import RestoreError, parse_box

    try:
        return parse_box(text)
    except RestoreError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    from depix.restore.consistency import AVERAGING

    parser = argparse.ArgumentParser(
        prog="depix-restore",
        description="Find the pixelated regions of a screenshot and restore them with a "
        "depix model (the shipped one unless --ckpt is given).",
    )
    parser.add_argument("input", type=Path, help="screenshot (any format and mode Pillow reads)")
    parser.add_argument(
        "-o", "--output", type=Path, help="restored image (default: INPUT-restored.<ext>)"
    )
    parser.add_argument("--ckpt", help="run folder, checkpoint or exported model to use")
    parser.add_argument(
        "--box", type=_box, nargs="+", metavar="x,y,w,h", help="restore these boxes, no detection"
    )
    parser.add_argument("--block", type=int, help="block size in pixels (else estimated)")
    parser.add_argument(
        "--no-consistency",
        dest="consistency",
        action="store_false",
        help="do not force the output to pixelate back to the input blocks",
    )
    parser.add_argument(
        "--averaging",
        choices=AVERAGING,
        default="auto",
        help="how the mosaic was averaged, for consistency: srgb (most editors), linear "
        "(linear light), auto (per region, whichever the restoration agrees with; default)",
    )
    parser.add_argument(
        "--read",
        action="store_true",
        help="decode the hidden text of each region (render candidate strings in the font "
        "library, pixelate, compare with the mosaic) and print it with a confidence",
    )
    parser.add_argument(
        "--font",
        nargs="+",
        metavar="PATH",
        help="with --read: the font file(s) the text is in (default: the whole library)",
    )
    parser.add_argument(
        "--charset",
        default="printable",
        help="with --read: characters to search: digits, hex, alnum, printable (default) "
        "or the characters themselves",
    )
    parser.add_argument(
        "--pattern", metavar="REGEX", help="with --read: a regex each decoded line must match"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def report(result, output: Path) -> dict:
    """The JSON report: image, model, regions (box, grid, consistency, text), timings."""
    return {
        "output": str(output),
        "size": list(result.image.size),
        "mode": result.image.mode,
        "model": result.model,
        "regions": [r.to_dict() for r in result.regions],
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
        "notes": result.notes,
    }


def _grid_cells(region) -> tuple[str, str]:
    """Block and offset as shown: the exact pitch (``7.50*``) for a rescaled mosaic."""
    if region.pitch is not None:
        p = region.pitch
        return f"{p.size:.2f}*", f"{p.offset_y:.1f},{p.offset_x:.1f}"
    g = region.grid
    block = f"{g.block_h}" if g.block_h == g.block_w else f"{g.block_h}x{g.block_w}"
    return block, f"{g.offset_y},{g.offset_x}"


def print_human(console: Console, result, output: Path) -> None:
    table = Table(title=f"{len(result.regions)} pixelated region(s) restored")
    read = any(item.text is not None for item in result.regions)
    columns = ["box x,y,w,h", "block", "offset y,x", "source", "averaging", "consistency /255"]
    for column in columns + (["text"] if read else []):
        table.add_column(column)
    for item in result.regions:
        r = item.region
        cells = [
            f"{r.x},{r.y},{r.w},{r.h}",
            *_grid_cells(r),
            r.source,
            item.averaging or "-",
            f"{item.consistency_error * 255:.2f}",
        ]
        table.add_row(*cells, *([item.text or ""] if read else []))
    console.print(table)
    for index, item in enumerate(result.regions):
        if item.reading is None:
            continue
        lines = item.reading.lines
        for k, line in enumerate(lines):
            where = f"region {index + 1}" + (f" line {k + 1}" if len(lines) > 1 else "")
            console.print(f"{where}: {line.verdict()}", markup=False)
        if item.drawn == "decoded":
            console.print(f"region {index + 1}: drawn from the decoded text", markup=False)
    if any(item.region.pitch is not None for item in result.regions):
        console.print("* seen through a rescale: cell size in pixels, restored on that grid")
    times = ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in result.timings.items())
    console.print(f"wrote [bold]{output}[/] ({times})")


def _decode_options(args):
    """The decoder's options from --font/--charset/--pattern; RestoreError when bad."""
    import re

    from depix.decode.charset import resolve_charset
    from depix.decode.decode import DecodeOptions
    from depix.restore.api import RestoreError

    fonts = None
    if args.font:
        from PIL import ImageFont

        for path in args.font:
            try:
                ImageFont.truetype(path, 12)
            except OSError:
                raise RestoreError(f"--font {path}: not a font file Pillow can read") from None
        fonts = list(args.font)
    try:
        resolve_charset(args.charset)
        if args.pattern:
            re.compile(args.pattern)
    except (ValueError, re.error) as error:
        raise RestoreError(f"--charset/--pattern: {error}") from None
    return DecodeOptions(fonts=fonts, charset=args.charset, pattern=args.pattern)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False)
    from depix.callbacks.checkpoint_io import CheckpointLoadError
    from depix.data.folder import ImageReadError
    from depix.restore.api import NoRegionError, RestoreError, restore
    from depix.restore.image_io import default_output_path, save_image

    start = time.perf_counter()
    try:
        decode = _decode_options(args) if args.read else None
        result = restore(
            args.input,
            model=args.ckpt,
            boxes=args.box,
            block=args.block,
            consistency=args.consistency,
            read=args.read,
            averaging=args.averaging,
            decode=decode,
        )
        output = args.output or default_output_path(args.input, result.image.mode)
        save_image(result.image, output)
    except NoRegionError as error:
        err.print(f"depix-restore: {args.input}: {error}", markup=False)
        return EXIT_NO_REGION
    except (ImageReadError, CheckpointLoadError, RestoreError, OSError) as error:
        err.print(f"depix-restore: {error}", markup=False)
        return EXIT_ERROR
    result.timings["total_s"] = time.perf_counter() - start
    for note in result.notes:
        err.print(f"note: {note}", markup=False)
    if args.json:
        print(json.dumps(report(result, output), indent=2))
    else:
        print_human(out, result, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
