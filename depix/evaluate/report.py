"""Group per-image records into tables; write results.md/.csv, lines.csv, curves.png, samples.png.

Every table has the rows input, bicubic, model, the text methods (if any) and clean. Means are
over images; the "gap closed" of a row is computed from that group's mean CERs. Missing OCR
and what a row does not have (a text method's PSNR) stay empty.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.table import Table

from depix.evaluate.conditions import Condition
from depix.evaluate.plot import line_chart
from depix.evaluate.runner import METHODS, Examples, Record, method_order
from depix.evaluate.scores import gap_closed
from depix.utils.images import comparison_grid, save_png

METRICS = ("psnr", "ssim", "cer", "exact", "consistency", "seconds", "gap_closed")
OCR_METRICS = ("cer", "exact", "gap_closed")
# Suites of pictures without text: their tables leave out the OCR columns altogether.
SUITES_WITHOUT_TEXT = {"images"}
CONDITION_FIELDS = tuple(Condition.__dataclass_fields__)
HEADERS = {
    "method": "method",
    "n": "n",
    "psnr": "PSNR dB",
    "ssim": "SSIM",
    "cer": "CER",
    "exact": "exact",
    "consistency": "consist.",
    "seconds": "s/line",
    "gap_closed": "gap closed",
}
ROW_NAMES = {"input": "pixelated", "bicubic": "bicubic", "model": "model", "clean": "original"}


def mean_or_none(values: Sequence[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


# Per-axis tables shown when the axis takes more than one value in a suite.
AXES = ("font_size", "averaging", "rescale", "jpeg", "offset")
# Readability bands of the block size relative to the font's pixel size: the quality targets
# are stated up to a quarter, a third (issue 5, the reader) and a half (the decoder), and the
# decoder is measured up to 0.6.
RATIO_BANDS = (
    (1 / 4, "<= 1/4"),
    (1 / 3, "<= 1/3"),
    (1 / 2, "<= 1/2"),
    (0.6, "<= 0.6"),
    (math.inf, "> 0.6"),
)
_BAND_RANK = {name: i for i, (_, name) in enumerate(RATIO_BANDS)}


def sort_key(values: tuple) -> tuple:
    """Numbers in numeric order, bands from readable to not, None last (e.g. the JPEG
    quality of PNG conditions)."""
    return tuple(
        (v is None, v if isinstance(v, (int, float)) else _BAND_RANK.get(v, str(v))) for v in values
    )


def ratio_band(condition: Condition) -> str | None:
    """The band of block / font size (``None`` without a font size)."""
    if condition.font_size is None:
        return None
    ratio = condition.block / condition.font_size
    return next(name for limit, name in RATIO_BANDS if ratio <= limit + 1e-9)


def condition_keys(condition: Condition) -> dict:
    """A condition's fields plus the derived ``block/font`` band, for grouping."""
    return {**condition.fields(), "block/font": ratio_band(condition)}


def varying_axes(conditions: Sequence[Condition]) -> list[str]:
    """The grouping keys (``block``, the ``block/font`` band, ``AXES``) that take more than
    one value among ``conditions``: the per-axis tables worth showing."""
    keys = [condition_keys(c) for c in conditions]
    return [a for a in ("block", "block/font", *AXES) if len({k[a] for k in keys}) > 1]


def summarize(records: Iterable[Record], suite: str, keys: Sequence[str] = ()) -> list[dict]:
    """One row per (values of ``keys``, method) of ``suite``, rows in ``method_order``."""
    groups: dict[tuple, dict[str, list[Record]]] = {}
    for r in records:
        if r.suite == suite:
            fields = condition_keys(r.condition)
            key = tuple(fields[k] for k in keys)
            groups.setdefault(key, {}).setdefault(r.method, []).append(r)
    rows = []
    for key in sorted(groups, key=sort_key):
        by_method = groups[key]
        means = {
            m: {metric: mean_or_none([getattr(r, metric) for r in rs]) for metric in METRICS[:-1]}
            for m, rs in by_method.items()
        }
        for method in method_order(by_method):
            row = dict(zip(keys, key))
            row.update(method=method, n=len(by_method[method]), **means[method])
            row["gap_closed"] = gap_closed(
                means.get("input", {}).get("cer"),
                means[method]["cer"],
                means.get("clean", {}).get("cer"),
            )
            rows.append(row)
    return rows


def fmt(metric: str, value) -> str:
    """Readable cell; ``None`` (not measured) is an empty cell, never 0."""
    if value is None:
        return ""
    if metric == "method":
        return ROW_NAMES.get(value, str(value))
    if metric == "rescale":
        return f"{value:g}x"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        if metric == "psnr":
            return f"{value:.2f}"
        if metric in ("cer", "exact", "gap_closed"):
            return f"{value:.1%}" if metric != "cer" else f"{value:.3f}"
        if metric == "seconds":
            return f"{value:.2g}"
        return f"{value:.3f}"
    return str(value)


def columns_of(suite: str, keys: Sequence[str] = ()) -> list[str]:
    """Key columns, method, n and the metrics that apply to ``suite``."""
    metrics = [m for m in METRICS if suite not in SUITES_WITHOUT_TEXT or m not in OCR_METRICS]
    return [*keys, "method", "n", *metrics]


def markdown_table(rows: list[dict], columns: Sequence[str]) -> str:
    lines = [
        "| " + " | ".join(HEADERS.get(c, c) for c in columns) + " |",
        "|" + "|".join(" --- " for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(fmt(c, row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def rich_table(rows: list[dict], title: str, columns: Sequence[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(
            HEADERS.get(c, c), justify="left" if c == "method" else "right", no_wrap=c == "method"
        )
    for row in rows:
        style = "bold" if row["method"] not in ("input", "bicubic", "clean") else None
        table.add_row(*(fmt(c, row.get(c)) for c in columns), style=style)
    return table


def suite_names(records: Sequence[Record]) -> list[str]:
    return list(dict.fromkeys(r.suite for r in records))


def view(records: Sequence[Record], suite: str, keys: Sequence[str], title: str):
    return (f"{suite}: {title}", summarize(records, suite, keys), columns_of(suite, keys))


def views(records: Sequence[Record]) -> list[tuple[str, list[dict], list[str]]]:
    """(title, rows, columns) of every table shown: overall, per block size, per block/font
    band (text), and per condition axis that varies (averaging mode, scaling, JPEG, ...)."""
    out = []
    for suite in suite_names(records):
        out.append(view(records, suite, (), "overall"))
        out.append(view(records, suite, ("block",), "per block size"))
        conditions = list(dict.fromkeys(r.condition for r in records if r.suite == suite))
        for axis in varying_axes(conditions):
            if axis == "block/font":
                out.append(view(records, suite, (axis,), "per block size / font size"))
            elif axis != "block":  # always shown, above
                out.append(view(records, suite, (axis,), f"per {axis.replace('_', ' ')}"))
    return out


SCORING = (
    "Rows: the pixelated input, bicubic interpolation between block centres, the model, the "
    "text methods (strings, no image), the clean original (ceiling), all on the same pixelated "
    "images. Image rows are scored as 8-bit images (as saved). CER and exact (share of lines "
    "read exactly): Tesseract 5 reading each image row, one line at a time; a text method's own "
    "string for its row; torchmetrics' CER against the visible truth (lower is better). "
    "Consist.: mean absolute 8-bit difference between the input and the row pixelated again "
    "with the known grid (0 = consistent with what was observed). s/line: wall time per line "
    "of the model (network + projection) or of a text method. Gap closed: (CER pixelated - CER "
    "row) / (CER pixelated - CER original)."
)


def results_markdown(records: Sequence[Record], header: str, notes: Sequence[str] = ()) -> str:
    parts = [header, *notes, "", SCORING, ""]
    for title, rows, columns in views(records):
        parts += [f"## {title}", "", markdown_table(rows, columns), ""]
    return "\n".join(parts)


def _csv_text(columns: Sequence[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def write_csv(records: Sequence[Record], path: Path) -> Path:
    """One row per condition x method (means over that condition's images)."""
    rows = (
        {"suite": suite, **row}
        for suite in suite_names(records)
        for row in summarize(records, suite, CONDITION_FIELDS)
    )
    return write_text(path, _csv_text(["suite", *CONDITION_FIELDS, "method", "n", *METRICS], rows))


LINE_FIELDS = ("psnr", "ssim", "cer", "exact", "consistency", "seconds", "confidence")


def write_lines_csv(records: Sequence[Record], path: Path) -> Path:
    """One row per image x condition x method: what ``compare --paired`` resamples (whole
    lines, by ``name``), with the truth and each row's reading."""
    columns = ["suite", *CONDITION_FIELDS, "name", "method", *LINE_FIELDS, "text", "reading"]
    rows = (
        {
            "suite": r.suite,
            **r.condition.fields(),
            "name": r.name,
            "method": r.method,
            **{f: getattr(r, f) for f in (*LINE_FIELDS, "text", "reading")},
        }
        for r in records
    )
    return write_text(path, _csv_text(columns, rows))


def write_text(path: Path, text: str) -> Path:
    """Atomic text write (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def curves(records: Sequence[Record], suite: str = "text"):
    """CER (SSIM without OCR) vs block size / font size, one line per row."""
    chosen = [r for r in records if r.suite == suite and r.condition.font_size]
    use_cer = bool(chosen) and all(r.cer is not None for r in chosen)
    metric = "cer" if use_cer else "ssim"
    sums: dict[str, dict[float, list[float]]] = {}
    for method in method_order(r.method for r in chosen):
        for r in chosen:
            value = getattr(r, metric)
            if r.method == method and value is not None:
                ratio = round(r.condition.block / r.condition.font_size, 3)
                name = ROW_NAMES.get(method, method)
                sums.setdefault(name, {}).setdefault(ratio, []).append(value)
    series = {m: [(x, sum(v) / len(v)) for x, v in by_x.items()] for m, by_x in sums.items()}
    title = f"{suite} benchmark: {'CER' if use_cer else 'SSIM (Tesseract missing)'}"
    return line_chart(series, title, "block size / font size", metric.upper())


def _pad_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return F.pad(x, (0, width - x.shape[2], 0, height - x.shape[1]), value=0.5)


def samples_grid(examples: Examples):
    """Best rows first, then worst: pixelated | bicubic | restored | original."""
    best, worst = examples.best_and_worst()
    chosen = best + worst
    h = max(e.panels[0].shape[1] for e in chosen)
    w = max(e.panels[0].shape[2] for e in chosen)
    columns = [
        torch.stack([_pad_to(e.panels[j], h, w) for e in chosen]) for j in range(len(METHODS))
    ]
    return comparison_grid(columns, scale=2 if h * len(chosen) < 800 else 1), [
        e.label for e in chosen
    ]


def write_outputs(
    records: Sequence[Record],
    examples: dict[str, Examples],
    out_dir: Path,
    header: str,
    notes: Sequence[str],
) -> dict[str, Path]:
    """Write results.md, results.csv, lines.csv, curves.png, samples.png into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = results_markdown(records, header, notes)
    paths = {
        "results.md": out_dir / "results.md",
        "results.csv": write_csv(records, out_dir / "results.csv"),
        "lines.csv": write_lines_csv(records, out_dir / "lines.csv"),
        "curves.png": save_png(curves(records), out_dir / "curves.png"),
    }
    suite = "text" if "text" in examples else next(iter(examples), None)
    if suite is not None:
        picture, labels = samples_grid(examples[suite])
        paths["samples.png"] = save_png(picture, out_dir / "samples.png")
        markdown += (
            f"\n## samples.png\n\n{suite} benchmark, one row each (pixelated | bicubic | restored "
            "| original), best by model CER first, then worst:\n\n"
            + "\n".join(f"{i + 1}. {label}" for i, label in enumerate(labels))
            + "\n"
        )
    write_text(paths["results.md"], markdown)
    return paths
