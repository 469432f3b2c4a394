"""``depix-sweep-summary FOLDER``: one comparison table of a sweep's runs, best first.

Reads the ``result.json`` that ``depix-train`` leaves in every run folder (each multirun
job's ``runs/<name>/multirun/<num>/``), prints a Rich table and writes ``summary.csv``
and ``summary.md`` into FOLDER. Runs without a result (still running, crashed) are
listed last, marked as such, so a sweep's failures are visible too.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

from depix.train import RESULT_FILE

COLUMNS = ("rank", "run", "overrides", "value", "best", "step", "best_checkpoint", "wandb_id")


def collect(folder: Path) -> list[dict[str, Any]]:
    """One row per run folder below ``folder`` (itself included), best first."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"sweep folder {folder} does not exist")
    run_dirs = sorted(
        {p.parent for p in folder.rglob("checkpoints")}
        | {p.parent for p in folder.rglob(RESULT_FILE)}
    )
    if not run_dirs:
        raise FileNotFoundError(f"{folder} holds no runs (no {RESULT_FILE} or checkpoints/)")
    results = []
    for run in run_dirs:
        file = run / RESULT_FILE
        results.append((run, json.loads(file.read_text()) if file.is_file() else {}))
    # Show what differs between the runs (the swept values), not the shared settings.
    shared = set.intersection(*(set(r.get("overrides") or []) for _, r in results))
    rows = []
    for run, result in results:
        varying = [o for o in result.get("overrides") or [] if o not in shared]
        rows.append(
            {
                "run": str(run.relative_to(folder)) if run != folder else ".",
                "metric": result.get("metric"),
                "mode": result.get("mode", "max"),
                "overrides": " ".join(varying) or "-",
                "value": result.get("value"),
                "best": result.get("best"),
                "step": result.get("global_step"),
                "best_checkpoint": result.get("best_checkpoint"),
                "wandb_id": result.get("wandb_id"),
                "status": "done" if result else "no result",
            }
        )
    sign = -1.0 if any(r["mode"] == "min" for r in rows) else 1.0

    def key(row: dict) -> float:
        score = row["best"] if row["best"] is not None else row["value"]
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return math.inf
        return -sign * score

    rows.sort(key=key)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if row["status"] == "done" else "-"
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_tables(rows: list[dict[str, Any]], folder: Path) -> tuple[Path, Path]:
    """``summary.csv`` (all columns) and ``summary.md`` (a Markdown table) in ``folder``."""
    csv_path, md_path = folder / "summary.csv", folder / "summary.md"
    fields = list(COLUMNS) + ["metric", "mode", "status"]
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    metric = next((r["metric"] for r in rows if r["metric"]), "metric")
    header = ["rank", "run", "overrides", f"{metric} (last)", f"{metric} (best)", "step"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in rows:
        cells = [r["rank"], r["run"], r["overrides"], r["value"], r["best"], r["step"]]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    metric = next((r["metric"] for r in rows if r["metric"]), "metric")
    table = Table(title=title)
    for name in ("rank", "run", "overrides", f"{metric} (last)", f"{metric} (best)", "step"):
        table.add_column(name, overflow="fold")
    for r in rows:
        keys = ("rank", "run", "overrides", "value", "best", "step")
        table.add_row(*(escape(_fmt(r[k])) for k in keys))
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="depix-sweep-summary", description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a sweep folder, e.g. runs/<name>/multirun")
    args = parser.parse_args(argv)
    try:
        rows = collect(args.folder)
    except FileNotFoundError as error:
        parser.exit(2, f"depix-sweep-summary: {error}\n")
    print_table(rows, str(args.folder))
    csv_path, md_path = write_tables(rows, args.folder)
    print(f"wrote {csv_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
