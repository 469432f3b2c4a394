"""Speed of ``depix-restore`` on the issue's reference case, on this machine's CPU.

A 1920x1080 generated screenshot with one 400x40 box pixelated (block 8), restored end to
end through ``restore()``; detection and restoration are timed separately (median and minimum
of ``--repeats`` runs after one warm-up). ``bench_restore()`` is what ``make bench`` calls.

    python -m depix.restore.bench [--ckpt PATH] [--repeats 5] [--threads 2]
    python -m depix.restore.bench --detection [--seeds 8]
    python -m depix.restore.bench --averaging [--benchmark text,realism] [--limit N] [--no-model]

``--detection`` instead measures how often detection gets the box and its grid right on
generated screenshots (random block 4-8, offsets and box), as pixelated and after display
scaling by 125-200 % with each resampling filter, with and without JPEG q90; and how often
it reports a region on the same screenshots without a mosaic. Further rows (issue 15):
blocks up to 24 px over text up to 64 px, cells fitted to the box (fractional, non-square),
non-square whole-pixel cells, dithered palette exports; and screenshots that hold no mosaic
at all (generated dialogs, web pages, editors in light and dark themes as PNG and JPEG
q70-95, QR-like two-colour grids), where any region is a false positive.

``--averaging`` measures how often ``--averaging auto`` (``consistency.pick_averaging``)
names the tool's averaging on the benchmark's own mosaics (``configs/benchmark/``: the same
lines, conditions and seeds as depix-eval), per kind of mosaic, for three restorations
side by side: the true clean image (a perfect network), the clean image plus 2.5 levels of
Gaussian noise, and the model's raw output. sRGB-truncated means count as sRGB. For the
model it also counts how often the family (sampled or mean cells) was right: centre and
corner sampling cannot be told apart from the cells, so that is the most a sampled mosaic
can get right without a faithful restoration.

Without the shipped model and without ``--ckpt`` it times an untrained network of the
default architecture (configs/model/unet.yaml): the speed is the same, the output is not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from depix.restore.synthetic import MosaicBox, screenshot

REFERENCE_BOX = MosaicBox(x=760, y=520, w=400, h=40, block=8, offset_y=3, offset_x=5)


def _default_architecture():
    """The default UNet, untrained, wrapped as a ``LoadedModel`` (timing only)."""
    from omegaconf import OmegaConf

    from depix.models.loading import LoadedModel
    from depix.models.registry import build_network
    from depix.train import CONFIG_DIR

    config = OmegaConf.to_container(OmegaConf.load(Path(CONFIG_DIR) / "model" / "unet.yaml"))
    net = build_network(config).eval()
    return LoadedModel(net=net, config={"model": config}, path=Path("<untrained unet.yaml>"))


def bench_restore(ckpt: str | None = None, repeats: int = 5, threads: int | None = 2) -> dict:
    """Median seconds of each stage of ``restore()`` on the reference screenshot."""
    from depix.restore.api import default_model_path, load_restore_model, restore

    if threads:
        torch.set_num_threads(threads)
    if ckpt or default_model_path().is_file():
        model = load_restore_model(ckpt, device=torch.device("cpu"))
    else:
        model = _default_architecture()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "screenshot.png"
        Image.fromarray(screenshot(1920, 1080, [REFERENCE_BOX], seed=0)).save(path)
        runs = []
        for _ in range(repeats + 1):  # the first run warms up torch's kernels
            start = time.perf_counter()
            result = restore(path, model=model)
            timings = dict(result.timings)
            timings["total_s"] = time.perf_counter() - start
            runs.append(timings)
    runs = runs[1:]
    median = {k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]}
    # On a shared machine the minimum is the best estimate of the uncontended cost.
    best = {k: round(min(r[k] for r in runs), 4) for k in runs[0]}
    regions = [r.to_dict() for r in result.regions]
    return {
        "case": "1920x1080 PNG, one 400x40 box, block 8",
        "model": str(model.path),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "median": median,
        "min": best,
        "regions": regions,
    }


SCALINGS = [
    (1.0, "none"),
    (1.25, "bilinear"),
    (1.5, "bicubic"),
    (1.5, "nearest"),
    (1.75, "bilinear"),
    (2.0, "bicubic"),
    (2.0, "nearest"),
]
FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def detection_case(seed: int):
    """A 640x200 text screenshot (font, size by ``seed``) and a random box to pixelate."""
    import random

    from depix.restore.synthetic import text_canvas

    rng = random.Random(seed)
    block = rng.randint(4, 8)
    box = MosaicBox(
        rng.randrange(20, 200),
        rng.randrange(20, 100),
        rng.randrange(200, 400),
        rng.randrange(30, 60),
        block,
        rng.randrange(block),
        rng.randrange(block),
    )
    return text_canvas(640, 200, seed=seed, font_size=rng.randint(16, 28)), box


def scaled(image, factor: float, resample: str, quality: int | None = None):
    """``image`` (uint8 RGB) resized by ``factor`` with ``resample``, then JPEG'd at ``quality``."""
    import io

    import numpy as np

    picture = Image.fromarray(image)
    if factor != 1.0:
        size = (round(picture.width * factor), round(picture.height * factor))
        picture = picture.resize(size, FILTERS[resample])
    if quality:
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        picture = Image.open(buffer).convert("RGB")
    return np.asarray(picture)


def bench_detection(seeds: int = 8) -> list[dict]:
    """Detection rate, false-positive rate and time per scaling x JPEG case."""
    from depix.restore.detect import find_regions
    from depix.restore.synthetic import ink_box, pixelate_boxes, region_matches

    rows = []
    for factor, resample in SCALINGS:
        for quality in (None, 90):
            found = false = 0
            seconds = 0.0
            for seed in range(seeds):
                canvas, box = detection_case(seed)
                shot = scaled(pixelate_boxes(canvas, [box]), factor, resample, quality)
                start = time.perf_counter()
                regions = find_regions(shot)
                seconds += time.perf_counter() - start
                # Scored on the visible part of the box: border cells of plain background
                # cannot be told from the clean picture (detection leaves them out).
                visible = tuple(round(v * factor) for v in (box.x, box.y, box.w, box.h))
                ink = ink_box(shot, visible, tolerance=24)
                found += len(regions) == 1 and region_matches(regions[0], box, factor, ink)
                false += bool(find_regions(scaled(canvas, factor, resample, quality)))
            rows.append(
                {
                    "scaling": "as pixelated" if factor == 1.0 else f"{factor:.0%} {resample}",
                    "jpeg": quality or "-",
                    "found": f"{found}/{seeds}",
                    "false_regions": f"{false}/{seeds}",
                    "detect_s": round(seconds / seeds, 3),
                }
            )
    return rows


def _jpeg(image, quality: int | None):
    return scaled(image, 1.0, "none", quality) if quality else image


def _timed_regions(image) -> tuple[list, float]:
    from depix.restore.detect import find_regions

    start = time.perf_counter()
    regions = find_regions(image)
    return regions, time.perf_counter() - start


def _mosaic_case(seed: int, kind: str):
    """A screenshot with one mosaic of ``kind`` and its truth (box x, y, w, h; cell w, h).

    ``large``: blocks 12-24 over text of 32-64 px; ``fitted``: cells fitted to the box
    (fractional, non-square); ``nonsquare``: whole-pixel cells of different width and
    height; ``dither16`` / ``dither32``: a block 4-8 mosaic exported with a dithered
    palette of 16 / 32 colours."""
    import random

    from depix.restore.synthetic import (
        palette_dithered,
        pixelate_boxes,
        pixelate_fitted,
        text_canvas,
    )

    rng = random.Random(seed)
    if kind == "large":
        block, font = rng.randint(12, 24), rng.randint(32, 64)
        canvas = text_canvas(800, 320, seed=seed, font_size=font, line_height=font + 16)
        box = MosaicBox(
            rng.randrange(10, 150),
            rng.randrange(10, 80),
            rng.randrange(300, 600),
            rng.randrange(font + 8, font + 2 * block),
            block,
            rng.randrange(block),
            rng.randrange(block),
        )
        shot = pixelate_boxes(canvas, [box])
        return shot, (box.x, box.y, box.w, box.h), (block, block)
    canvas, mbox = detection_case(seed)
    box = (mbox.x, mbox.y, mbox.w, mbox.h)
    if kind == "fitted":
        nx, ny = rng.randint(24, 48), rng.randint(4, 7)
        return pixelate_fitted(canvas, box, nx, ny), box, (mbox.w / nx, mbox.h / ny)
    if kind == "nonsquare":
        bh = rng.randint(5, 9)
        bw = bh + rng.choice((-2, -1, 1, 2))
        oy, ox = rng.randrange(bh), rng.randrange(bw)
        cells = MosaicBox(*box, bh, oy, ox, block_x=bw)
        return pixelate_boxes(canvas, [cells]), box, (bw, bh)
    colours = 16 if kind == "dither16" else 32
    shot = palette_dithered(pixelate_boxes(canvas, [mbox]), colours)
    return shot, box, (mbox.block, mbox.block)


MOSAIC_ROWS = [
    ("blocks 12-24, text 32-64 px", "large", None),
    ("blocks 12-24, text 32-64 px", "large", 90),
    ("cells fitted to the box (fractional, non-square)", "fitted", None),
    ("non-square whole-pixel cells", "nonsquare", None),
    ("dithered palette, 32 colours", "dither32", None),
    ("dithered palette, 16 colours", "dither16", None),
]
UI_QUALITIES = (None, 70, 80, 95)


def bench_detection_kinds(seeds: int = 8) -> list[dict]:
    """Rows for whole screenshots (issue 15): mosaics of large, fitted, non-square and
    palette cells (found right: ``synthetic.found_right``), and screenshots without any
    mosaic (generated dialogs, web pages and editors in light and dark themes, PNG and
    JPEG q70-95; QR-like two-colour grids) that must give no region at all."""
    import numpy as np

    from depix.restore.synthetic import THEMES, UI_KINDS, found_right, qr_like, ui_screenshot

    rows = []
    for label, kind, quality in MOSAIC_ROWS:
        found, seconds = 0, 0.0
        for seed in range(seeds):
            shot, box, cell = _mosaic_case(seed, kind)
            shot = _jpeg(shot, quality)
            regions, took = _timed_regions(shot)
            seconds += took
            found += found_right(regions, shot, box, cell)
        rows.append(_row(label, quality, f"{found}/{seeds}", "-", seconds / seeds))
    for kind in UI_KINDS:
        for quality in UI_QUALITIES:
            false, total, seconds = 0, 0, 0.0
            for theme in sorted(THEMES):
                for seed in range(max(1, seeds // 2)):
                    shot = _jpeg(ui_screenshot(kind, theme, seed, 860, 620), quality)
                    regions, took = _timed_regions(shot)
                    seconds += took
                    false += bool(regions)
                    total += 1
            rows.append(
                _row(f"UI {kind}, light+dark", quality, "-", f"{false}/{total}", seconds / total)
            )
    for quality in (None, 90):
        false, seconds = 0, 0.0
        for seed in range(seeds):
            code = qr_like(seed, modules=21 + 4 * (seed % 3), module=3 + seed % 6)
            canvas = np.full((code.shape[0] + 60, code.shape[1] + 200, 3), 255, dtype=np.uint8)
            canvas[30 : 30 + code.shape[0], 40 : 40 + code.shape[1]] = code
            regions, took = _timed_regions(_jpeg(canvas, quality))
            seconds += took
            false += bool(regions)
        rows.append(
            _row("QR-like grid, modules 3-8 px", quality, "-", f"{false}/{seeds}", seconds / seeds)
        )
    return rows


def _row(case: str, quality, found: str, false: str, seconds: float) -> dict:
    return {
        "scaling": case,
        "jpeg": quality or "-",
        "found": found,
        "false_regions": false,
        "detect_s": round(seconds, 3),
    }


def print_detection(rows: list[dict], seeds: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"detection, {seeds} generated screenshots per mosaic row (640x200 unless said; "
        f"UI rows: {2 * max(1, seeds // 2)} of 860x620)"
    )
    for column in (
        "case",
        "JPEG q",
        "box and grid found",
        "clean shot with a region",
        "s / image",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)


AVERAGING_TRUTH = {
    "srgb": "srgb",
    "srgb_trunc": "srgb",
    "linear": "linear",
    "center": "center",
    "corner": "corner",
}


def bench_averaging(
    benchmarks: list[str], limit: int | None = None, ckpt: str | None = None, model: bool = True
) -> list[dict]:
    """Share of right ``pick_averaging`` choices per kind of mosaic (see the module docstring)."""
    from omegaconf import OmegaConf
    from rich.progress import Progress

    from depix.evaluate.conditions import degrade, sample_grid
    from depix.evaluate.runner import run_model
    from depix.evaluate.suites import seed_for, text_suite
    from depix.restore.api import default_model_path, load_restore_model
    from depix.restore.consistency import SAMPLED, pick_averaging
    from depix.train import CONFIG_DIR

    net = None
    if model and (ckpt or default_model_path().is_file()):
        net = load_restore_model(ckpt, device=torch.device("cpu")).net
    sources = ["clean", "clean + noise"] + (["model"] if net is not None else [])
    counts: dict[str, dict[str, list[int]]] = {}
    picks: dict[str, dict[str, int]] = {}
    family: dict[str, list[int]] = {}  # model: sampled vs mean right, of images
    suites = []
    for name in benchmarks:
        cfg = OmegaConf.load(Path(CONFIG_DIR) / "benchmark" / f"{name}.yaml").text
        suites.append(text_suite(cfg, limit))
    with Progress(transient=True) as progress:
        task = progress.add_task("conditions", total=sum(len(s) for s in suites))
        for suite in suites:
            for group, condition in suite.pairs():
                clean = group.images
                seed = seed_for(suite.name, condition, group.names)
                grid = sample_grid(condition, clean.shape[0], torch.Generator().manual_seed(seed))
                observed = degrade(clean, condition, grid)
                cells = (grid.block, grid.block, grid.offset_y, grid.offset_x)
                noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))
                outputs = {"clean": clean, "clean + noise": clean + noise / 255 * 2.5}
                if net is not None:
                    outputs["model"] = run_model(net, observed, 64)
                truth = AVERAGING_TRUTH[condition.averaging]
                row = counts.setdefault(condition.averaging, {s: [0, 0] for s in sources})
                for source, output in outputs.items():
                    chosen = pick_averaging(output, observed, cells)
                    row[source][0] += sum(c == truth for c in chosen)
                    row[source][1] += len(chosen)
                    if source == "model":
                        tally = picks.setdefault(condition.averaging, {})
                        for c in chosen:
                            tally[c] = tally.get(c, 0) + 1
                        right = family.setdefault(condition.averaging, [0, 0])
                        right[0] += sum((c in SAMPLED) == (truth in SAMPLED) for c in chosen)
                        right[1] += len(chosen)
                progress.advance(task)
    rows = []
    for kind, row in counts.items():
        out = {"mosaic": kind, "images": row[sources[0]][1]}
        for source in sources:
            right, n = row[source]
            out[source] = f"{100 * right / n:.1f} %"
        if net is not None:
            out["model: sampled/mean right"] = f"{100 * family[kind][0] / family[kind][1]:.1f} %"
            out["model picks"] = ", ".join(f"{k} {v}" for k, v in sorted(picks[kind].items()))
        rows.append(out)
    return rows


def print_averaging(rows: list[dict], benchmarks: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"--averaging auto picks the tool's averaging ({', '.join(benchmarks)} benchmark mosaics)"
    )
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="model to time (default: shipped, else untrained)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (0 = default)")
    parser.add_argument("--detection", action="store_true", help="detection accuracy table instead")
    parser.add_argument("--seeds", type=int, default=8, help="screenshots per --detection row")
    parser.add_argument(
        "--averaging", action="store_true", help="auto averaging pick rates per mosaic kind"
    )
    parser.add_argument("--benchmark", default="text,realism", help="benchmarks for --averaging")
    parser.add_argument("--limit", type=int, help="lines per condition for --averaging")
    parser.add_argument("--no-model", action="store_true", help="--averaging without the model")
    args = parser.parse_args(argv)
    if args.averaging:
        if args.threads:
            torch.set_num_threads(args.threads)
        names = args.benchmark.split(",")
        print_averaging(bench_averaging(names, args.limit, args.ckpt, not args.no_model), names)
        return 0
    if args.detection:
        rows = bench_detection(args.seeds) + bench_detection_kinds(args.seeds)
        print_detection(rows, args.seeds)
        return 0
    print(json.dumps(bench_restore(args.ckpt, args.repeats, args.threads or None), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
