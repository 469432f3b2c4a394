"""``depix-restore INPUT [-o OUTPUT] [--ckpt PATH] [--box x,y,w,h ...] [--block N] ...``

INPUT is a screenshot, or a folder: every image directly in it is restored into
``-o`` (default ``FOLDER/restored/``), one model load for all.

Exit codes: 0 restored, 1 bad input / model / output (the message says which), 2 bad
command line (options, output path), 3 no pixelated region found. Errors are one line on
stderr, never a traceback, and the command line and output path are checked before any
work; ``--json`` keeps stdout machine-readable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.table import Table

EXIT_ERROR, EXIT_USAGE, EXIT_NO_REGION = 1, 2, 3
BATCH_FOLDER = "restored"  # default output folder inside an input folder


class UsageError(ValueError):
    """A command-line mistake found before any work (exit 2); the message says which."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (argparse prints the whole usage first)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _box(text: str) -> tuple[int, int, int, int]:
    from depix.restore.api import RestoreError, parse_box

    try:
        return parse_box(text)
    except RestoreError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _block(text: str) -> float | tuple[float, float]:
    from depix.restore.api import RestoreError, parse_block

    try:
        return parse_block(text)
    except RestoreError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    from depix.restore.consistency import AVERAGING

    parser = _Parser(
        prog="depix-restore",
        description="Find the pixelated regions of a screenshot and restore them with a "
        "depix model (the shipped one unless --ckpt is given).",
    )
    parser.add_argument(
        "input",
        type=Path,
        help="screenshot (any format and mode Pillow reads), or a folder: every image "
        f"directly in it is restored into -o (default: FOLDER/{BATCH_FOLDER}/)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="restored image (default: INPUT-restored.<ext>, lossless); a folder when INPUT "
        "is one. Its extension picks the format: .png/.tif/.webp keep every pixel outside "
        "the regions, .jpg re-encodes the whole picture (a warning says so)",
    )
    parser.add_argument(
        "--force", action="store_true", help="allow -o to overwrite the input screenshot"
    )
    parser.add_argument("--ckpt", help="run folder, checkpoint or exported model to use")
    parser.add_argument(
        "--box", type=_box, nargs="+", metavar="x,y,w,h", help="restore these boxes, no detection"
    )
    parser.add_argument(
        "--block",
        type=_block,
        metavar="W[xH]",
        help="cell size in pixels, e.g. 8 or 8.2x10 (width x height; else estimated)",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        metavar="C",
        help="ignore detected regions whose detection confidence (0-1, in --json) is below C "
        "(default 0.5)",
    )
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
        help="recover each region's text: decode it (render candidate strings in the font "
        "library, pixelate, compare with the mosaic; the shipped reader's readings pick the "
        "fonts to try) and print a verdict with a confidence; the reader's and Tesseract's "
        "readings sit beside it. Tens of seconds per line; give --font when you know it",
    )
    parser.add_argument(
        "--no-decode",
        dest="decode_text",
        action="store_false",
        help="with --read: only the shipped reader and Tesseract read (seconds, no verdict)",
    )
    parser.add_argument(
        "--decode",
        action="store_true",
        help="decode each region's text (what --read does, without the reader's and "
        "Tesseract's readings beside it)",
    )
    parser.add_argument(
        "--font",
        nargs="+",
        metavar="PATH",
        help="with --read/--decode: the font file(s) the text is in (default: the whole library)",
    )
    parser.add_argument(
        "--charset",
        default="printable",
        help="with --read/--decode: characters to search: digits, hex, hex_lower, alpha, "
        "alnum, lower, upper, printable (default) or the characters themselves",
    )
    parser.add_argument(
        "--pattern",
        metavar="REGEX",
        help="with --read/--decode: a regex each decoded line must match",
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
        size = f"{p.size:.2f}" if p.size_x is None else f"{p.width:.2f}x{p.height:.2f}"
        return f"{size}*", f"{p.offset_y:.1f},{p.offset_x:.1f}"
    g = region.grid
    block = f"{g.block_h}" if g.block_h == g.block_w else f"{g.block_w}x{g.block_h}"
    return block, f"{g.offset_y},{g.offset_x}"


def print_human(console: Console, result, output: Path) -> None:
    table = Table(title=f"{len(result.regions)} pixelated region(s) restored")
    read = any(item.text is not None for item in result.regions)
    reader = any(item.reader_text is not None for item in result.regions)
    columns = ["box x,y,w,h", "block", "offset y,x", "source", "averaging", "consistency /255"]
    for column in columns + (["text"] if read else []) + (["reader"] if reader else []):
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
        table.add_row(
            *cells,
            *([item.text or ""] if read else []),
            *([item.reader_text or ""] if reader else []),
        )
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
        console.print("* cells off whole pixels (rescaled or fitted to a selection): WxH px")
    times = ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in result.timings.items())
    console.print(f"wrote [bold]{output}[/] ({times})")


@dataclass
class Job:
    """One image to restore and where its result goes."""

    input: Path
    output: Path
    error: str | None = None  # the input cannot be read: reported, the others go on


def _input_mode(path: Path) -> str:
    """The image mode from the file's header (cheap: no pixel is decoded)."""
    from depix.data.folder import ImageReadError, open_image

    if not path.is_file():
        open_image(path)  # raises the one-line "no such file" every depix tool gives
    try:
        with Image.open(path) as image:
            return image.mode
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageReadError(f"cannot read image {path}: {error}") from error


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))


def plan_single(args: argparse.Namespace, warn: Callable[[str], None]) -> Job:
    """The one job for a file INPUT; output path checked before any work.

    Raises ``ImageReadError`` (input), ``UsageError`` / ``OutputPathError`` (output).
    """
    from depix.restore.image_io import check_output_path, default_output_path

    mode = _input_mode(args.input)
    output = args.output or default_output_path(args.input, mode)
    if args.output is not None and _same_file(output, args.input) and not args.force:
        raise UsageError(
            f"-o {output} is the input screenshot: refusing to overwrite it (add --force to "
            f"replace it, or leave out -o for {default_output_path(args.input, mode).name})"
        )
    message = check_output_path(output, mode)
    if message:
        warn(message)
    return Job(args.input, output)


def plan_folder(args: argparse.Namespace, warn: Callable[[str], None]) -> list[Job]:
    """One job per image directly in the folder INPUT, writing into ``-o`` (a folder,
    default ``INPUT/restored/``) under the image's own name (lossless: a JPEG input gets
    a PNG). Unreadable images become jobs with an error, reported with the others."""
    from depix.data.folder import IMAGE_SUFFIXES, ImageReadError
    from depix.restore.image_io import check_output_path, default_output_path

    out_dir = args.output or args.input / BATCH_FOLDER
    image_name = out_dir.suffix.lower() in Image.registered_extensions()
    if out_dir.is_file() or (image_name and not out_dir.is_dir()):
        raise UsageError(f"{args.input} is a folder, so -o must name a folder, not {out_dir}")
    files = sorted(
        p for p in args.input.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise ImageReadError(
            f"folder {args.input} holds no images (looked for "
            f"{', '.join(sorted(IMAGE_SUFFIXES))}; sub-folders are not searched)"
        )
    planned: list[tuple[Path, str | None, str]] = []  # path, mode, output suffix
    for path in files:
        try:
            mode = _input_mode(path)
        except ImageReadError as error:
            planned.append((path, None, str(error)))
            continue
        planned.append((path, mode, default_output_path(path, mode).suffix))
    # Names: the input's own, with a lossless suffix. When two inputs would share one (a.jpg
    # and a.png both give a.png), the one that keeps its suffix keeps its name.
    outputs: dict[Path, Path] = {}
    order = sorted(planned, key=lambda item: item[1] is None or item[2] != item[0].suffix.lower())
    for path, mode, suffix in order:
        if mode is None:
            continue
        output = out_dir / f"{path.stem}{suffix}"
        if output in outputs.values():
            output = out_dir / f"{path.stem}-{path.suffix[1:].lower()}{suffix}"
        outputs[path] = output
    jobs: list[Job] = []
    for path, mode, suffix_or_error in planned:
        if mode is None:
            jobs.append(Job(path, out_dir / path.name, suffix_or_error))
            continue
        output = outputs[path]
        if _same_file(output, path) and not args.force:
            raise UsageError(
                f"-o {out_dir} would overwrite the screenshots in it ({path.name}): choose "
                f"another folder, or add --force"
            )
        message = check_output_path(output, mode)
        if message:
            warn(message)
        jobs.append(Job(path, output))
    return jobs


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
    with warnings.catch_warnings():
        if not sys.warnoptions:  # library warnings (PyTorch, Lightning) are noise here;
            warnings.simplefilter("ignore")  # `python -W default -m depix.restore` shows them
        return _run(args, err, out)


def _run(args: argparse.Namespace, err: Console, out: Console) -> int:
    from depix.callbacks.checkpoint_io import CheckpointLoadError
    from depix.data.folder import ImageReadError
    from depix.restore.image_io import OutputPathError

    def warn(message: str) -> None:
        err.print(f"warning: {message}", markup=False)

    try:
        folder = args.input.is_dir()
        jobs = plan_folder(args, warn) if folder else [plan_single(args, warn)]
        if args.ckpt is not None and not Path(args.ckpt).expanduser().exists():
            raise CheckpointLoadError(f"checkpoint {args.ckpt} does not exist")
    except (UsageError, OutputPathError) as error:
        err.print(f"depix-restore: {error}", markup=False)
        return EXIT_USAGE
    except (ImageReadError, CheckpointLoadError, OSError) as error:
        err.print(f"depix-restore: {error}", markup=False)
        return EXIT_ERROR
    if folder:
        return _restore_folder(args, jobs, err, out)
    return _restore_one(args, jobs[0], args.ckpt, err, out)


def _restore_one(
    args: argparse.Namespace,
    job: Job,
    model,
    err: Console,
    out: Console,
    batch: list[dict] | None = None,
) -> int:
    """Restore ``job``; print (or, in a batch, collect) its report. Returns the exit code."""
    from depix.callbacks.checkpoint_io import CheckpointLoadError
    from depix.data.folder import ImageReadError
    from depix.restore.api import NoRegionError, RestoreError, restore
    from depix.restore.image_io import OutputPathError, save_image

    start = time.perf_counter()
    try:
        if job.error:
            raise ImageReadError(job.error)
        decoding = args.decode or (args.read and args.decode_text)
        decode = _decode_options(args) if decoding else None
        result = restore(
            job.input,
            model=model,
            boxes=args.box,
            block=args.block,
            consistency=args.consistency,
            read=args.read,
            averaging=args.averaging,
            min_confidence=args.min_confidence,
            decode=decode,
        )
        save_image(result.image, job.output)
    except NoRegionError as error:
        err.print(f"depix-restore: {job.input}: {error}", markup=False)
        if batch is not None:
            batch.append({"input": str(job.input), "error": str(error), "exit": EXIT_NO_REGION})
        return EXIT_NO_REGION
    except (ImageReadError, CheckpointLoadError, RestoreError, OutputPathError, OSError) as error:
        err.print(f"depix-restore: {error}", markup=False)
        if batch is not None:
            batch.append({"input": str(job.input), "error": str(error), "exit": EXIT_ERROR})
        return EXIT_ERROR
    result.timings["total_s"] = time.perf_counter() - start
    for note in result.notes:
        err.print(f"note: {note}", markup=False)
    if batch is not None:
        batch.append({"input": str(job.input), **report(result, job.output)})
        if not args.json:
            print_human(out, result, job.output)
    elif args.json:
        print(json.dumps(report(result, job.output), indent=2))
    else:
        print_human(out, result, job.output)
    return 0


def _restore_folder(args: argparse.Namespace, jobs: list[Job], err: Console, out: Console) -> int:
    """Restore every job with one model; exit 1 if any failed, else 3 if no image had a
    region (images without one are reported, not written), else 0. ``--json`` prints one object: input, output folder, one report each."""
    from depix.callbacks.checkpoint_io import CheckpointLoadError
    from depix.restore.api import load_restore_model

    try:
        model = load_restore_model(args.ckpt)
    except CheckpointLoadError as error:
        err.print(f"depix-restore: {error}", markup=False)
        return EXIT_ERROR
    reports: list[dict] = []
    codes = []
    for number, job in enumerate(jobs, 1):
        if not args.json:
            out.rule(f"{number}/{len(jobs)} {job.input.name}", style="dim")
        codes.append(_restore_one(args, job, model, err, out, reports))
    restored = codes.count(0)
    summary = (
        f"restored {restored} of {len(jobs)} images into {jobs[0].output.parent} "
        f"({codes.count(EXIT_NO_REGION)} without a pixelated region, "
        f"{codes.count(EXIT_ERROR)} failed)"
    )
    if args.json:
        folder = {"input": str(args.input), "output": str(jobs[0].output.parent)}
        print(json.dumps({**folder, "images": reports}, indent=2))
        err.print(summary, markup=False)
    else:
        out.print(summary, soft_wrap=True)
    if EXIT_ERROR in codes:
        return EXIT_ERROR
    return 0 if restored else EXIT_NO_REGION


if __name__ == "__main__":
    sys.exit(main())
