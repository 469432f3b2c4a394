"""``depix-eval``: score a trained model next to its baselines on fixed benchmarks.

    depix-eval ckpt_path=runs/quickstart [benchmark=text|quick|realism|images|all]
               [text_method=[reader,decoder]] [out_dir=...] [limit=N]

Thin Hydra entry: the model is rebuilt from the run's own saved config (``load_model``),
the benchmarks come from ``configs/benchmark/``, the work lives in ``depix.evaluate``.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import shlex
import time
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from depix.callbacks.checkpoint_io import CheckpointLoadError
from depix.data.fonts import discover_fonts, family_of
from depix.evaluate.conditions import conditions_summary
from depix.evaluate.report import rich_table, views, write_outputs, write_text
from depix.evaluate.runner import Evaluator, TextMethod
from depix.evaluate.suites import build_suites
from depix.metrics.ocr import tesseract_available
from depix.models.loading import load_model
from depix.restore.consistency import AVERAGING, HYPOTHESES
from depix.train import CONFIG_DIR

log = logging.getLogger("depix.eval")


def pick_device(name: str) -> torch.device:
    """``auto`` = the GPU when there is one, else the CPU; anything else as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def default_out_dir(checkpoint: Path) -> Path:
    """``<run folder>/eval``: the run folder of ``runs/x/checkpoints/y.ckpt`` is ``runs/x``.

    A subfolder, because the run folder already has the training ``samples.png``.
    """
    folder = checkpoint.parent
    if folder.name == "checkpoints":
        folder = folder.parent
    return folder / "eval"


def record_results(results_md: str, run_name: str, record_dir: str | Path) -> Path:
    """Write ``<record_dir>/<run_name>.md`` next to the recipe ``<run_name>.yaml``.

    So every recipe in experiments/ can show what it achieves; warns when no recipe of that
    name exists (the results are still written).
    """
    record_dir = Path(record_dir)
    if not (record_dir / f"{run_name}.yaml").is_file():
        log.warning("no recipe %s/%s.yaml: writing its results anyway", record_dir, run_name)
    body = results_md.replace("# depix-eval", "# Results", 1)
    return write_text(record_dir / f"{run_name}.md", body)


def describe_model_row(
    consistency: bool, averaging: str, projections: dict[tuple[str, str], int]
) -> str:
    """How the model row was made; with ``auto``, which averaging each kind of mosaic got."""
    if not consistency:
        return (
            "raw network output (`consistency=false`); bicubic not projected either; "
            "both rounded to 8 bits"
        )
    text = (
        "network output projected onto the observed blocks with the known grid, as "
        f"depix-restore does (`consistency=true`, `consistency_averaging={averaging}`); "
        "bicubic projected the same way; both rounded to 8 bits"
    )
    if averaging == "auto" and projections:
        mosaics = sorted({mosaic for mosaic, _ in projections})
        chosen = "; ".join(
            f"{mosaic} mosaics "
            + ", ".join(
                f"{projections.get((mosaic, space), 0)} {space}"
                for space in HYPOTHESES
                if space in ("srgb", "linear") or projections.get((mosaic, space))
            )
            for mosaic in mosaics
        )
        text += f"; images projected as srgb / linear: {chosen}"
    return text


class ProgressLog:
    """Progress as log lines (every ``step`` of the total, with elapsed time and an estimate of
    the time left) for runs whose output is not a terminal, where Rich draws no bar."""

    def __init__(self, total: int, step: float = 0.1) -> None:
        self.total, self.step, self.done = max(int(total), 1), step, 0
        self.start = time.perf_counter()
        self.next = step

    def advance(self, n: int) -> None:
        self.done += n
        share = self.done / self.total
        if share + 1e-9 >= self.next:
            elapsed = time.perf_counter() - self.start
            left = elapsed / share * (1 - share)
            log.info(
                "%d/%d lines (%.0f %%), %s elapsed, ~%s left",
                self.done,
                self.total,
                100 * share,
                dt.timedelta(seconds=round(elapsed)),
                dt.timedelta(seconds=round(left)),
            )
            while self.next <= share + 1e-9:
                self.next += self.step


def suite_summary(suite) -> str:
    """``text: 224 distinct lines per block size, ...``: what a suite scored, for the header."""
    scored = suite.count()
    conditions = {c for _, c in suite.pairs()}
    what = "lines" if any(g.texts is not None for g in suite.groups) else "images"
    n = sum(g.images.shape[0] for g in suite.groups)
    text = f"{suite.name}: {n} distinct clean {what}"
    if suite.design == "rotate":
        per_block: dict[int, set[str]] = {}
        for group, condition in suite.pairs():
            per_block.setdefault(condition.block, set()).update(group.names)
        counts = sorted({len(v) for v in per_block.values()})
        text += f" ({'/'.join(map(str, counts))} per block size; design rotate)"
    return (
        f"{text}, {scored} scored {what}, {len(conditions)} conditions "
        f"({conditions_summary(conditions)})"
    )


def build_text_methods(cfg: DictConfig) -> dict[str, TextMethod]:
    """The chosen text methods (``text_method=[...]``), instantiated from depix's own config
    group (``configs/text_method/``: trusted, never from a model file); name -> callable."""
    chosen = cfg.get("text_method") or {}
    methods = {}
    for name in chosen:
        method = hydra.utils.instantiate(chosen[name])
        if not callable(method):
            raise ValueError(f"text_method.{name} did not build a callable: {type(method)}")
        methods[str(name)] = method
    return methods


def header(
    run_name: str,
    checkpoint: Path,
    model_cfg: dict,
    device: torch.device,
    suites,
    command: str | None = None,
    model_row: str = "",
) -> tuple[str, list[str]]:
    """Top of results.md: what was evaluated, where, how (so a recorded table can be redone)."""
    model = {k: v for k, v in model_cfg.items() if k != "_target_"}
    lines = [
        f"# depix-eval: {run_name}",
        "",
        f"- checkpoint: `{checkpoint}`",
        f"- model: `{model_cfg.get('_target_')}` {model}",
        f"- device: {device_name(device)}; {dt.datetime.now().isoformat(timespec='seconds')}",
    ]
    if command:
        lines.append(f"- command: `{command}`")
    if model_row:
        lines.append(f"- model row: {model_row}")
    for suite in suites:
        lines.append(f"- {suite_summary(suite)}")
    if any(any(g.texts is not None for g in suite.groups) for suite in suites):
        fonts = discover_fonts("test")
        families = sorted({family_of(f) for f in fonts})
        lines.append(
            f"- text fonts: the test split only ({len(fonts)} files of the families "
            f"{', '.join(families)}; since the family split never trained on nor used to choose a "
            "checkpoint); text "
            "from depix.evaluate.texts, not the training generator"
        )
    notes = []
    if not tesseract_available():
        notes.append(
            "\n**Tesseract not found: the CER, exact-line and gap-closed columns are empty "
            "(not zero).** Install `tesseract-ocr` (`make system-deps`)."
        )
    return "\n".join(lines), notes


def evaluate(
    cfg: DictConfig, console: Console | None = None, command: str | None = None
) -> dict[str, Path]:
    """Load the model, run the configured benchmarks, write the outputs; returns their paths.

    ``command`` (the command line, when run from the CLI) is written into results.md.
    """
    console = console or Console()
    if cfg.consistency_averaging not in AVERAGING:
        raise ValueError(
            f"consistency_averaging must be one of {AVERAGING}, got {cfg.consistency_averaging!r}"
        )
    device = pick_device(cfg.device)
    loaded = load_model(cfg.ckpt_path, device=device)
    run_name = str(loaded.config.get("run_name") or loaded.path.stem)
    out_dir = Path(cfg.out_dir) if cfg.out_dir else default_out_dir(loaded.path)
    suites = build_suites(cfg.benchmark, cfg.limit)
    evaluator = Evaluator(
        loaded.net,
        int(cfg.batch_size),
        int(cfg.samples_per_side),
        int(cfg.ocr_workers),
        bool(cfg.consistency),
        str(cfg.consistency_averaging),
        build_text_methods(cfg),
    )
    if not evaluator.ocr:
        console.print(
            "[yellow]Tesseract not found: OCR columns (CER, exact line, gap closed) stay empty[/]"
        )
    total = sum(s.count() for s in suites)
    log.info("scoring %d images: %s", total, "; ".join(suite_summary(s) for s in suites))
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    ]
    reporter = ProgressLog(total)
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("lines", total=total)

        def advance(label: str, n: int) -> None:
            progress.update(task, advance=n, description=label)
            if not console.is_terminal:  # no live bar in a log file: a line every 10 %
                reporter.advance(n)

        evaluator.run(suites, advance)
    top, notes = header(
        run_name,
        loaded.path,
        loaded.config["model"],
        device,
        suites,
        command,
        describe_model_row(cfg.consistency, cfg.consistency_averaging, evaluator.projections),
    )
    paths = write_outputs(evaluator.records, evaluator.examples, out_dir, top, notes)
    for title, rows, columns in views(evaluator.records):
        console.print(rich_table(rows, title, columns))
    if cfg.record:
        paths["record"] = record_results(paths["results.md"].read_text(), run_name, cfg.record_dir)
    console.print(f"results in {out_dir}: " + ", ".join(p.name for p in paths.values()))
    return paths


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    console = Console()
    overrides = HydraConfig.get().overrides.task
    command = "depix-eval " + " ".join(shlex.quote(a) for a in overrides)
    try:
        evaluate(cfg, console, command)
    except (CheckpointLoadError, ValueError, RuntimeError) as error:
        Console(stderr=True).print(f"[bold red]depix-eval: {error}[/]", soft_wrap=True)
        raise SystemExit(2) from error


if __name__ == "__main__":
    main()
