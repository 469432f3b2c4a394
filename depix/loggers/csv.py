"""A CSVLogger that keeps ``metrics.csv`` when a run is resumed.

Lightning's CSV writer deletes ``metrics.csv`` of a non-empty folder when it starts
("Previous log files in this directory will be deleted"), which loses the history of a
resumed run. ``resume_at_step(step)`` keeps the rows up to the checkpoint's step (rows
logged after it belong to the lost part of the interrupted run) and appends to them.
"""

from __future__ import annotations

import csv
import os

from lightning_fabric.loggers.csv_logs import _ExperimentWriter
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment


class _Writer(ExperimentWriter):
    """Fresh run: removes an old ``metrics.csv`` quietly (the run folder always holds other
    files, so Lightning's "not empty" warning is noise). Resumed run: keeps its rows."""

    def __init__(self, log_dir: str, keep_until_step: int | None) -> None:
        self.keep_until_step = keep_until_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not os.path.isfile(self.metrics_file_path):
            return
        if self.keep_until_step is None:
            os.remove(self.metrics_file_path)
            return
        with open(self.metrics_file_path, newline="") as handle:
            reader = csv.DictReader(handle)
            keys = list(reader.fieldnames or [])
            rows = [r for r in reader if int(float(r.get("step") or 0)) <= self.keep_until_step]
        with open(self.metrics_file_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = sorted(keys)


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` plus ``resume_at_step``; a fresh run still starts a fresh file."""

    _keep_until_step: int | None = None

    def resume_at_step(self, step: int) -> None:
        """Keep ``metrics.csv`` rows with ``step <= step`` and append after them."""
        if self._experiment is not None:
            raise RuntimeError("resume_at_step must be called before the logger writes")
        self._keep_until_step = int(step)

    @property
    @rank_zero_experiment
    def experiment(self) -> _ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _Writer(self.log_dir, self._keep_until_step)
        return self._experiment
