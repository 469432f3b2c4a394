"""``python -m depix.evaluate.compare RUN [RUN ...]``: several models' results side by side.

``depix-eval`` scores one model; comparing recipes (plain vs mixed degradation, a short vs a
long run) means reading several results at once. This prints one Markdown table per
condition axis that varies (block / font band, block, font size, averaging mode, scaling,
JPEG, offset) with the pixelated input, bicubic and every run's model row (and text-method
rows), each cell ``CER / SSIM / PSNR dB`` averaged over the lines, and writes it to ``--out``.
The runs must have been scored on the same benchmark (the same conditions), else it says what
differs.

``--paired cer`` instead prints each run minus the first (or, with ``--against ROW``, each
run's row minus that run's ROW, e.g. the model against bicubic), with a 95 % cluster-bootstrap
interval: lines are resampled with all the conditions they were scored under, so a line seen
at five block sizes counts as one draw, not five. Whether a difference between two recipes is
more than the noise of which lines the benchmark happened to draw.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from depix.evaluate.conditions import Condition
from depix.evaluate.report import condition_keys, sort_key, varying_axes
from depix.evaluate.runner import METHODS, method_order

METRICS = ("cer", "ssim", "psnr")
PAIRED_METRICS = ("cer", "exact", "ssim", "psnr")
LOWER_IS_BETTER = {"cer"}
BASELINES = (("input", "pixelated"), ("bicubic", "bicubic"))
Key = tuple[str, Condition]  # (suite, condition)
LineKey = tuple[str, Condition, str]  # (suite, condition, line name)


def results_file(path: str | Path, name: str = "results.csv") -> Path:
    """``name`` in a run folder's ``eval/`` (or in the folder itself), or next to a given
    CSV file; clear error when missing."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / "eval" / name, path / name]
        file = next((c for c in candidates if c.is_file()), candidates[0])
    else:
        file = path if path.name == name else path.with_name(name)
    if not file.is_file():
        hint = (
            " (written by depix-eval since the line-level benchmark)"
            if name != "results.csv"
            else ""
        )
        raise FileNotFoundError(f"{file} does not exist{hint}: run depix-eval on {path} first")
    return file


def _number(text: str | None) -> float | None:
    return float(text) if text not in ("", None) else None


def load(file: Path) -> dict[Key, dict[str, dict[str, float | None]]]:
    """``{(suite, condition): {method: {metric: value, "n": lines}}}`` from one results.csv."""
    table: dict[Key, dict[str, dict[str, float | None]]] = {}
    with open(file) as handle:
        for row in csv.DictReader(handle):
            key = (row["suite"], Condition.from_fields(row))
            scores = {m: _number(row[m]) for m in METRICS}
            scores["n"] = _number(row.get("n")) or 1.0
            table.setdefault(key, {})[row["method"]] = scores
    if not table:
        raise ValueError(f"{file} holds no results")
    return table


def load_lines(file: Path) -> dict[LineKey, dict[str, dict[str, float | None]]]:
    """``{(suite, condition, line): {method: {metric: value}}}`` from one lines.csv."""
    table: dict[LineKey, dict[str, dict[str, float | None]]] = {}
    with open(file) as handle:
        for row in csv.DictReader(handle):
            key = (row["suite"], Condition.from_fields(row), row["name"])
            table.setdefault(key, {})[row["method"]] = {m: _number(row[m]) for m in PAIRED_METRICS}
    if not table:
        raise ValueError(f"{file} holds no lines")
    return table


def _weighted_mean(scores: list[dict[str, float | None]], metric: str) -> float | None:
    """Mean over lines of per-condition means (weighted by their line counts ``n``)."""
    if not scores or any(s[metric] is None for s in scores):
        return None
    total = sum(s["n"] for s in scores)
    return sum(s[metric] * s["n"] for s in scores) / total


def _cell(scores: list[dict[str, float | None]]) -> str:
    means = [_weighted_mean(scores, m) for m in METRICS]
    formats = ("{:.3f}", "{:.3f}", "{:.2f}")
    if all(v is None for v in means):
        return ""
    return " / ".join("-" if v is None else f.format(v) for f, v in zip(formats, means))


def _check_same_keys(tables: Sequence[dict], names: Sequence[str], what: str) -> list:
    first = set(tables[0])
    for name, table in zip(names[1:], tables[1:]):
        if set(table) != first:
            missing, extra = len(first - set(table)), len(set(table) - first)
            raise ValueError(
                f"{name} was scored on other {what} than {names[0]} ({missing} missing, "
                f"{extra} extra): evaluate both with the same benchmark settings"
            )
    return sorted(first, key=lambda k: (k[0], k[1].label(), *k[2:]))


def _groups(keys: list):
    """(suite, axis, [(value, keys of that value)]) for the overall row (axis None) and
    each axis that varies, in table order; ``keys`` start with (suite, condition)."""
    for suite in dict.fromkeys(k[0] for k in keys):
        suite_keys = [k for k in keys if k[0] == suite]
        fields = {k[1]: condition_keys(k[1]) for k in suite_keys}
        conditions = list(fields)
        for axis in [None, *varying_axes(conditions)]:
            values = (
                [None]
                if axis is None
                else list(dict.fromkeys(fields[k[1]][axis] for k in suite_keys))
            )
            rows = [
                (value, [k for k in suite_keys if axis is None or fields[k[1]][axis] == value])
                for value in sorted(values, key=lambda v: sort_key((v,)))
            ]
            yield suite, axis, rows


def _table(title: str, axis: str | None, columns: list[str], rows: list[list[str]]) -> str:
    lines = [
        title,
        "",
        "| " + " | ".join([axis or "", *columns]) + " |",
        "|" + " --- |" * (len(columns) + 1),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _text_methods(table: dict) -> list[str]:
    found = method_order(m for methods in table.values() for m in methods)
    return [m for m in found if m not in METHODS]


def compare(tables: Sequence[dict], names: Sequence[str]) -> str:
    """The Markdown comparison of runs scored on the same conditions: baselines, then each
    run's model row and its text-method rows (``run/method``)."""
    keys = _check_same_keys(tables, names, "conditions")
    rows_of = [(t, n, "model", n) for t, n in zip(tables, names)]
    rows_of += [(t, n, m, f"{n}/{m}") for t, n in zip(tables, names) for m in _text_methods(t)]
    columns = [label for _, label in BASELINES] + [label for *_, label in rows_of]
    parts = []
    for suite, axis, rows in _groups(keys):
        title = "overall" if axis is None else f"per {axis.replace('_', ' ')}"
        cells = []
        for value, group in rows:
            row = [_cell([tables[0][k][m] for k in group]) for m, _ in BASELINES]
            row += [
                _cell([t[k][m] for k in group]) if all(m in t[k] for k in group) else ""
                for t, _, m, _ in rows_of
            ]
            cells.append(["" if value is None else str(value), *row])
        parts.append(_table(f"## {suite}: {title} (CER / SSIM / PSNR dB)", axis, columns, cells))
    header = (
        "Model (and text-method) rows of each run next to the pixelated input and bicubic (from "
        "the first run's file; the same images in every run). Lower CER is better. Means over "
        "lines; `-` = not measured for that row (text methods have no image)."
    )
    return "\n\n".join([header, *parts]) + "\n"


def cluster_bootstrap(
    diffs: np.ndarray,
    clusters: Sequence,
    resamples: int = 2000,
    rng: np.random.Generator | None = None,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Mean of ``diffs`` and its percentile bootstrap interval, resampling whole clusters.

    ``diffs`` (N,) paired differences (one per scored line x condition), ``clusters`` (N,) the
    line each belongs to. Each resample draws as many clusters as there are, with replacement,
    and takes the mean over all their differences (sum of the drawn clusters' sums / sum of
    their counts), so the conditions of one line move together (Davison & Hinkley 1997,
    "Bootstrap Methods and their Application", section 3.8, resampling stage-1 units).
    Returns ``(mean, low, high)``; ``level`` is the two-sided coverage.
    """
    diffs = np.asarray(diffs, dtype=np.float64)
    if diffs.ndim != 1 or len(diffs) != len(clusters) or not len(diffs):
        raise ValueError("cluster_bootstrap needs one cluster per difference and at least one")
    rng = rng or np.random.default_rng(0)
    _, index = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    sums = np.bincount(index, weights=diffs)
    counts = np.bincount(index).astype(np.float64)
    draws = rng.integers(0, len(sums), size=(resamples, len(sums)))
    boot = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    return float(diffs.mean()), float(low), float(high)


def paired(
    tables: Sequence[dict],
    names: Sequence[str],
    metric: str = "cer",
    row: str = "model",
    against: str | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> str:
    """Paired differences of ``row`` between runs (each minus the first) or, with ``against``,
    within each run (``row`` minus ``against``), line by line, from lines.csv tables.

    Per axis value: the mean difference of ``metric`` over the scored lines, a 95 % cluster
    bootstrap interval (lines resampled with all their conditions, ``cluster_bootstrap``), the
    number of scored lines better / worse and of distinct lines. An interval that excludes 0
    is a difference these lines support; one that straddles it is not.
    """
    if metric not in PAIRED_METRICS:
        raise ValueError(f"metric must be one of {PAIRED_METRICS}, got {metric!r}")
    keys = _check_same_keys(tables, names, "lines")
    for table, name in zip(tables, names):
        present = {m for methods in table.values() for m in methods}
        for needed in filter(None, (row, against)):
            if needed not in present:
                raise ValueError(f"{name} has no {needed!r} row (rows: {sorted(present)})")
    if against:
        columns = [(t, t, against, f"{n}: {row} - {against}") for t, n in zip(tables, names)]
    else:
        if len(tables) < 2:
            raise ValueError("paired needs two runs, or --against ROW to compare rows of one run")
        columns = [(t, tables[0], row, n) for t, n in zip(tables[1:], names[1:])]
    rng = np.random.default_rng(seed)
    lower_is_better = metric in LOWER_IS_BETTER
    parts = []
    for suite, axis, groups in _groups(keys):
        cells = []
        for value, group in groups:
            line = ["" if value is None else str(value)]
            for table, reference, ref_row, _ in columns:
                found = [
                    (
                        table[k].get(row, {}).get(metric),
                        reference[k].get(ref_row, {}).get(metric),
                        k,
                    )
                    for k in group
                ]
                found = [
                    (a - b, (k[0], k[2]))
                    for a, b, k in found
                    if a is not None and b is not None and math.isfinite(a - b)
                ]
                if not found:
                    line.append("")
                    continue
                diffs = np.array([d for d, _ in found])
                clusters = [c for _, c in found]
                mean, low, high = cluster_bootstrap(diffs, clusters, resamples, rng)
                better = int((diffs < 0).sum() if lower_is_better else (diffs > 0).sum())
                worse = int((diffs > 0).sum() if lower_is_better else (diffs < 0).sum())
                line.append(
                    f"{mean:+.3f} [{low:+.3f}, {high:+.3f}] {better}/{worse} "
                    f"({len(set(clusters))} lines)"
                )
            cells.append(line)
        title = "overall" if axis is None else f"per {axis.replace('_', ' ')}"
        what = f"{row} - {against}" if against else f"{row} {metric} minus {names[0]}"
        parts.append(
            _table(
                f"## {suite}: {title} ({metric}, {what})",
                axis,
                [label for *_, label in columns],
                cells,
            )
        )
    header = (
        f"Paired differences of {metric}"
        + (
            f", {row} row minus {against} row of each run"
            if against
            else f" of the {row} rows against {names[0]}"
        )
        + ": mean over the scored lines [95 % cluster-bootstrap interval: whole lines resampled, "
        "with every condition they were scored under] scored lines better/worse (distinct lines)."
        + (" Negative is better." if lower_is_better else " Positive is better.")
    )
    return "\n\n".join([header, *parts]) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m depix.evaluate.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "runs", nargs="+", help="run folders (their eval/), eval folders or results/lines CSV files"
    )
    parser.add_argument("--names", nargs="+", help="column names (default: the folder names)")
    parser.add_argument("--out", help="also write the Markdown here")
    parser.add_argument(
        "--paired",
        metavar="METRIC",
        choices=PAIRED_METRICS,
        help="instead: paired differences line by line with cluster-bootstrap intervals "
        "(each run minus the first, or --against)",
    )
    parser.add_argument("--row", default="model", help="the row to compare (default: model)")
    parser.add_argument(
        "--against", metavar="ROW", help="with --paired: each run's --row minus its own ROW"
    )
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args(argv)
    names = args.names or [_run_name(Path(r)) for r in args.runs]
    if len(names) != len(args.runs):
        parser.error(f"--names gives {len(names)} names for {len(args.runs)} runs")
    try:
        if args.paired:
            tables = [load_lines(results_file(r, "lines.csv")) for r in args.runs]
            text = paired(
                tables, names, args.paired, args.row, args.against, resamples=args.resamples
            )
        else:
            tables = [load(results_file(r)) for r in args.runs]
            text = compare(tables, names)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"depix compare: {error}\n")
    print(text)
    if args.out:
        Path(args.out).write_text(text)


def _run_name(path: Path) -> str:
    """``runs/x`` -> x; ``runs/x/eval`` and ``runs/x/eval/results.csv`` -> x."""
    if not path.is_dir():
        path = path.parent
    return path.parent.name if path.name == "eval" else path.name


if __name__ == "__main__":
    main()
