"""``python -m depix.evaluate.compare RUN [RUN ...]``: several models' results side by side.

``depix-eval`` scores one model; comparing recipes (plain vs mixed degradation, a short vs a
long run) means reading several ``results.csv`` at once. This prints one Markdown table per
condition axis that varies (block / font band, block, font size, averaging mode, scaling,
JPEG, offset) with the pixelated input, bicubic and every run's model row, each cell
``CER / SSIM / PSNR`` averaged over the conditions, and writes it to ``--out``. The runs must
have been scored on the same benchmark (the same conditions), else it says what differs.
``--paired cer`` instead prints each run minus the first, condition by condition, with a
bootstrap interval: whether a difference between two recipes is more than noise.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from depix.evaluate.conditions import Condition
from depix.evaluate.report import condition_keys, mean_or_none, sort_key, varying_axes

METRICS = ("cer", "ssim", "psnr")
BASELINES = (("input", "pixelated"), ("bicubic", "bicubic"))
Key = tuple[str, Condition]  # (suite, condition)


def results_file(path: str | Path) -> Path:
    """A results.csv, or a run folder's ``eval/results.csv``; clear error otherwise."""
    path = Path(path)
    file = path / "eval" / "results.csv" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist (run depix-eval on {path} first)")
    return file


def _number(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def load(file: Path) -> dict[Key, dict[str, dict[str, float | None]]]:
    """``{(suite, condition): {method: {metric: value}}}`` from one results.csv."""
    table: dict[Key, dict[str, dict[str, float | None]]] = {}
    with open(file) as handle:
        for row in csv.DictReader(handle):
            key = (row["suite"], Condition.from_fields(row))
            table.setdefault(key, {})[row["method"]] = {m: _number(row[m]) for m in METRICS}
    if not table:
        raise ValueError(f"{file} holds no results")
    return table


def _cell(scores: list[dict[str, float | None]]) -> str:
    means = [mean_or_none([s[m] for s in scores]) for m in METRICS]
    formats = ("{:.3f}", "{:.3f}", "{:.2f}")
    return " / ".join("" if v is None else f.format(v) for f, v in zip(formats, means))


def _check_same_conditions(tables: Sequence[dict], names: Sequence[str]) -> list[Key]:
    first = set(tables[0])
    for name, table in zip(names[1:], tables[1:]):
        if set(table) != first:
            missing, extra = len(first - set(table)), len(set(table) - first)
            raise ValueError(
                f"{name} was scored on other conditions than {names[0]} ({missing} missing, "
                f"{extra} extra): evaluate both with the same benchmark settings"
            )
    return sorted(first, key=lambda k: (k[0], k[1].label()))


def _groups(keys: list[Key]):
    """(suite, axis, [(value, keys of that value)]) for the overall row (axis None) and
    each axis that varies, in table order."""
    for suite in dict.fromkeys(k[0] for k in keys):
        suite_keys = [k for k in keys if k[0] == suite]
        fields = {k: condition_keys(k[1]) for k in suite_keys}
        for axis in [None, *varying_axes([k[1] for k in suite_keys])]:
            values = (
                [None] if axis is None else list(dict.fromkeys(fields[k][axis] for k in suite_keys))
            )
            rows = [
                (value, [k for k in suite_keys if axis is None or fields[k][axis] == value])
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


def compare(tables: Sequence[dict], names: Sequence[str]) -> str:
    """The Markdown comparison of runs scored on the same conditions."""
    keys = _check_same_conditions(tables, names)
    columns = [label for _, label in BASELINES] + list(names)
    parts = []
    for suite, axis, rows in _groups(keys):
        title = "overall" if axis is None else f"per {axis.replace('_', ' ')}"
        cells = []
        for value, group in rows:
            row = [_cell([tables[0][k][m] for k in group]) for m, _ in BASELINES]
            row += [_cell([t[k]["model"] for k in group]) for t in tables]
            cells.append(["" if value is None else str(value), *row])
        parts.append(_table(f"## {suite}: {title} (CER / SSIM / PSNR dB)", axis, columns, cells))
    header = (
        "Model rows of each run next to the pixelated input and bicubic (from the first run's "
        "file; the same images in every run). Lower CER is better. Means over conditions."
    )
    return "\n\n".join([header, *parts]) + "\n"


def paired(
    tables: Sequence[dict],
    names: Sequence[str],
    metric: str = "cer",
    resamples: int = 2000,
    seed: int = 0,
) -> str:
    """Each run's model row minus the first run's, condition by condition.

    Per axis value: the mean difference of ``metric``, a 95 % bootstrap interval over the
    conditions (paired: every condition holds the same images in both runs), and in how
    many conditions the run is better / worse. An interval that excludes 0 is a difference
    these conditions support; one that straddles it is not.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    keys = _check_same_conditions(tables, names)
    rng = np.random.default_rng(seed)
    lower_is_better = metric == "cer"
    parts = []
    for suite, axis, rows in _groups(keys):
        cells = []
        for value, group in rows:
            row = ["" if value is None else str(value)]
            for table in tables[1:]:
                pairs = [(table[k]["model"][metric], tables[0][k]["model"][metric]) for k in group]
                diffs = np.array([a - b for a, b in pairs if a is not None and b is not None])
                if not len(diffs):
                    row.append("")
                    continue
                boot = rng.choice(diffs, (resamples, len(diffs))).mean(axis=1)
                low, high = np.percentile(boot, [2.5, 97.5])
                better = int((diffs < 0).sum() if lower_is_better else (diffs > 0).sum())
                worse = int((diffs > 0).sum() if lower_is_better else (diffs < 0).sum())
                row.append(f"{diffs.mean():+.3f} [{low:+.3f}, {high:+.3f}] {better}/{worse}")
            cells.append(row)
        title = "overall" if axis is None else f"per {axis.replace('_', ' ')}"
        parts.append(
            _table(f"## {suite}: {title} ({metric} minus {names[0]})", axis, list(names[1:]), cells)
        )
    header = (
        f"Paired differences of the model rows' {metric} against {names[0]}: mean over the "
        "conditions [95 % bootstrap interval] conditions better/worse."
        + (" Negative is better." if lower_is_better else " Positive is better.")
    )
    return "\n\n".join([header, *parts]) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m depix.evaluate.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("runs", nargs="+", help="run folders (their eval/results.csv) or CSV files")
    parser.add_argument("--names", nargs="+", help="column names (default: the folder names)")
    parser.add_argument("--out", help="also write the Markdown here")
    parser.add_argument(
        "--paired",
        metavar="METRIC",
        choices=METRICS,
        help="instead: each run minus the first, per condition, with bootstrap intervals",
    )
    args = parser.parse_args(argv)
    names = args.names or [
        Path(r).name if Path(r).is_dir() else Path(r).parent.parent.name for r in args.runs
    ]
    if len(names) != len(args.runs):
        parser.error(f"--names gives {len(names)} names for {len(args.runs)} runs")
    try:
        tables = [load(results_file(r)) for r in args.runs]
        text = paired(tables, names, args.paired) if args.paired else compare(tables, names)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"depix compare: {error}\n")
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
