"""``python -m depix.reader.curve RUN OUT.png``: a reader run's validation CER over training.

Reads the run's ``metrics.csv`` (CSV logger) and draws ``val/cer`` overall and per
block/font band beside Tesseract's CER on the same pixelated validation lines, against
the thousands of training lines seen (step x batch size), with ``depix.evaluate.plot``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from omegaconf import OmegaConf

from depix.evaluate.plot import line_chart

SERIES = {
    "val/cer": "reader all",
    "val/cer_q": "reader <= 1/4",
    "val/cer_t": "reader 1/4-1/3",
    "val/cer_hard": "reader > 1/3",
    "val/cer_tesseract": "Tesseract all",
}


def curve(run: Path, out: Path) -> Path:
    """Write the chart of ``run`` (a run folder) to ``out``; returns ``out``."""
    batch = int(OmegaConf.load(run / "config.yaml").data.batch_size)
    series: dict[str, list[tuple[float, float]]] = {label: [] for label in SERIES.values()}
    with open(run / "metrics.csv") as handle:
        for row in csv.DictReader(handle):
            for key, label in SERIES.items():
                if row.get(key) and row[key] != "nan":
                    series[label].append(((int(row["step"]) + 1) * batch / 1000, float(row[key])))
    chart = line_chart(
        {k: v for k, v in series.items() if v},
        f"{run.name}: validation CER (val-split fonts; bands: block/font)",
        "training lines seen (thousands)",
        "CER",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    chart.save(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m depix.reader.curve RUN_DIR OUT.png")
    print(curve(Path(sys.argv[1]), Path(sys.argv[2])))
