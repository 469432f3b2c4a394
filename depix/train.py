"""``depix-train``: compose the Hydra config, build everything from it, fit, optionally test.

Thin on purpose: all behaviour lives in the configured objects. Returns the optimised
metric so Hydra sweepers (Optuna) can use it, and writes it to ``result.json`` in the run
folder for ``depix-sweep-summary``. Ordinary mistakes (a missing checkpoint, a run name
already taken, an image folder that is not there) end in one line on stderr and exit
status 2, not a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor, Timer
from pytorch_lightning.utilities import rank_zero_only

from depix.callbacks.checkpoint_io import (
    AtomicCheckpointIO,
    CheckpointLoadError,
    load_checkpoint_file,
)
from depix.callbacks.ema import EMA
from depix.data.folder import ImageFolderError, ImageReadError
from depix.loggers.wandb import ID_FILE, configure_wandb, finish_wandb
from depix.models.loading import init_weights, resolve_checkpoint
from depix.utils import hydra_ddp
from depix.utils.config_dir import CONFIG_DIR, LAUNCH_DIR_ENV, register_resolvers

log = logging.getLogger("depix.train")
RESULT_FILE = "result.json"
# Files that make a folder a run: a new run there would mix its files with the old run's.
RUN_FILES = ("checkpoints/last.ckpt", "checkpoints/best.ckpt", RESULT_FILE, "metrics.csv")

register_resolvers()
__all__ = ["CONFIG_DIR", "RESULT_FILE", "UsageError", "main", "train"]


class UsageError(ValueError):
    """A mistake on the command line (a missing value, a run name taken): one-line message."""


# Errors that are the user's to fix; main() prints their message as one line.
USER_ERRORS = (UsageError, CheckpointLoadError, ImageFolderError, ImageReadError)


def user_error(error: BaseException) -> BaseException | None:
    """The user error behind ``error`` (Hydra's instantiate wraps them), or None."""
    seen = error
    while seen is not None:
        if isinstance(seen, USER_ERRORS):
            return seen
        seen = seen.__cause__
    return None


def instantiate_dict(cfg: DictConfig | None) -> list:
    """Instantiate every entry of a ``{name: {_target_: ...}}`` group (callbacks, loggers)."""
    if not cfg:
        return []
    return [hydra.utils.instantiate(node) for node in cfg.values() if node is not None]


def missing_values(node: Any, prefix: str = "") -> list[str]:
    """Keys whose value is the literal ``???`` (interpolations pointing at one are skipped)."""
    if isinstance(node, DictConfig):
        keys: list = list(node.keys())
    elif isinstance(node, ListConfig):
        keys = list(range(len(node)))
    else:
        return []
    found = []
    for key in keys:
        if OmegaConf.is_interpolation(node, key):
            continue
        if OmegaConf.is_missing(node, key):
            found.append(f"{prefix}{key}")
        else:
            found += missing_values(node[key], f"{prefix}{key}.")
    return found


def check_config(cfg: DictConfig) -> None:
    """Values the config leaves to the user (``???``) must be set: one line naming them."""
    missing = missing_values(cfg)
    if "data.root" in missing:
        raise UsageError("data=folder needs the image folder: add data.root=/path/to/images")
    if missing:
        raise UsageError(
            f"missing config value(s): {', '.join(missing)} (set them on the command line, "
            f"e.g. {missing[0]}=...)"
        )


def resolve_ckpt_path(cfg: DictConfig, run_dir: Path) -> str | None:
    """The checkpoint to resume from: ``ckpt_path`` (``last`` = this run's) or ``resume=true``."""
    last = run_dir / "checkpoints" / "last.ckpt"
    if cfg.ckpt_path not in (None, "last"):
        path = Path(cfg.ckpt_path).expanduser()
        if not path.is_file():
            raise CheckpointLoadError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint file")
        return str(path)
    if cfg.ckpt_path == "last" or cfg.resume:
        if last.is_file():
            log.info("resuming from %s", last)
            return str(last)
        if cfg.ckpt_path == "last":
            raise CheckpointLoadError(
                f"ckpt_path=last but {last} does not exist (run_name={cfg.run_name} has no "
                "checkpoint yet: start it without ckpt_path, or resume=true to continue it "
                "when it exists)"
            )
        log.info("resume=true but %s does not exist yet: starting a new run", last)
    return None


def check_run_folder(cfg: DictConfig, run_dir: Path, ckpt_path: str | None) -> None:
    """A new run never mixes with another run's checkpoints, metrics or result.

    Reusing a run name without ``resume=true`` is refused (nothing is changed), so
    ``best.ckpt``, ``last.ckpt``, ``metrics.csv`` and ``result.json`` always belong to one run.
    ``overwrite=true`` (set by the ``debug`` presets, which write under ``runs/debug/``)
    deletes the earlier run's files first instead.
    """
    if ckpt_path is not None:
        return
    held = [name for name in RUN_FILES if (run_dir / name).exists()]
    if not held:
        return
    if cfg.get("overwrite"):
        for name in (*RUN_FILES, "samples.png", "config.yaml", "hparams.yaml", ID_FILE):
            (run_dir / name).unlink(missing_ok=True)
        for old in (run_dir / "checkpoints").glob("*.ckpt"):
            old.unlink()
        log.warning("overwrite=true: deleted the earlier run in %s (%s)", run_dir, ", ".join(held))
        return
    if cfg.resume:
        raise UsageError(
            f"resume=true, but {run_dir} has no checkpoints/last.ckpt to continue (it holds "
            f"{', '.join(held)}): use run_name=<new name> for a new run (or delete the folder)"
        )
    raise UsageError(
        f"{run_dir} already holds run '{cfg.run_name}' ({', '.join(held)}): add resume=true "
        f"to continue it, or run_name=<new name> for a new run (or delete the folder)"
    )


def hydra_job() -> dict[str, Any]:
    """Whether this is a multirun job, its number, its sweep's name and its overrides."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return {"multirun": False, "num": 0, "sweep": None, "experiment": None, "overrides": []}
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.get("mode") == RunMode.MULTIRUN
    return {
        "multirun": multirun,
        "num": int(hydra_cfg.job.get("num") or 0),
        "sweep": Path(hydra_cfg.sweep.dir).parent.name if multirun else None,
        "experiment": hydra_cfg.runtime.choices.get("experiment"),
        "overrides": list(hydra_cfg.overrides.task),
    }


def compile_net(module: pl.LightningModule, setting: Any) -> None:
    """``compile: true`` or a dict of ``torch.compile`` kwargs; in place, so weight names keep."""
    if not setting:
        return
    kwargs = {} if setting is True else OmegaConf.to_container(setting, resolve=True)
    module.net.compile(**kwargs)  # nn.Module.compile: state_dict keys stay "net.<name>"
    log.info("torch.compile(net, %s)", kwargs)


class TimeBudget(Timer):
    """``trainer.max_time`` as a budget per invocation: a resumed run gets it afresh.

    Lightning's own ``Timer`` carries the time already spent over a resume, so a run that
    stopped at its time cap stops again at once when resumed. Here the elapsed time is
    still restored (the learning-rate schedule follows the share of the whole run's time
    budget spent), but the budget grows by ``max_time``: ``resume=true`` continues training
    for up to ``max_time`` more, until the step budget is reached.
    """

    resumed_from: float = 0.0

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.resumed_from = float(self._offset)
        if self._duration is not None:
            self._duration += self.resumed_from

    def hit(self) -> bool:
        """Whether the time budget ran out (training was stopped by it)."""
        remaining = self.time_remaining()
        return remaining is not None and remaining <= 0


def build_module(cfg: DictConfig) -> pl.LightningModule:
    """The LightningModule of the run, built from ``cfg.module`` (network, loss, optimiser)."""
    return hydra.utils.instantiate(cfg.module)


def build_callbacks(cfg: DictConfig, has_logger: bool) -> list[pl.Callback]:
    """The configured callbacks, plus EMA and the wall-clock budget when those are set."""
    callbacks = instantiate_dict(cfg.get("callbacks"))
    if not has_logger:  # nothing to report learning rates to (logger=none)
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if cfg.get("ema") and cfg.ema.enabled:
        callbacks.append(EMA(decay=cfg.ema.decay, warmup=cfg.ema.warmup))
    max_time = cfg.trainer.get("max_time")
    if max_time and not any(isinstance(c, Timer) for c in callbacks):
        if isinstance(max_time, DictConfig):  # {days: 1, hours: 2} form
            max_time = OmegaConf.to_container(max_time)
        callbacks.append(TimeBudget(duration=max_time, interval="step"))
    return callbacks


def write_result(
    run_dir: Path,
    cfg: DictConfig,
    trainer: pl.Trainer,
    job: dict,
    wandb_id: str | None,
    value: float | None,
    test: dict[str, float] | None = None,
) -> None:
    """``result.json``: the optimised metric (last and best), the best checkpoint, the
    overrides, and the test metrics when ``test=true``."""
    checkpoint = trainer.checkpoint_callback
    best = getattr(checkpoint, "best_model_score", None)
    result = {
        "run_name": cfg.run_name,
        "metric": cfg.optimized_metric,
        "mode": getattr(checkpoint, "mode", "max"),
        "value": value,
        "best": None if best is None else float(best),
        "best_checkpoint": getattr(checkpoint, "best_model_path", "") or None,
        "global_step": trainer.global_step,
        "epoch": trainer.current_epoch,
        "overrides": job["overrides"],
        "wandb_id": wandb_id,
    }
    if test is not None:
        result["test"] = test
    if rank_zero_only.rank == 0:
        (run_dir / RESULT_FILE).write_text(json.dumps(result, indent=2) + "\n")


def _metric(trainer: pl.Trainer, name: str) -> float | None:
    value = trainer.callback_metrics.get(name)
    return None if value is None else float(value)


def resume_command(job: dict[str, Any]) -> str:
    """The command that continues this run: its own overrides plus ``resume=true``."""
    kept = [o for o in job.get("overrides") or [] if o.split("=", 1)[0] not in ("resume",)]
    return " ".join(["depix-train", *kept, "resume=true"])


def report(
    cfg: DictConfig, trainer: pl.Trainer, run_dir: Path, timer: TimeBudget | None, job: dict
) -> None:
    """What the run reached against its pixelated input, how far it got, where things are."""
    psnr, psnr_input = _metric(trainer, "val/psnr"), _metric(trainer, "val/psnr_input")
    max_steps = int(trainer.max_steps)
    steps = f"{trainer.global_step} of {max_steps}" if max_steps > 0 else str(trainer.global_step)
    log.info("trained %s optimiser steps (epoch %d)", steps, trainer.current_epoch)
    if timer is not None and timer.hit() and (max_steps <= 0 or trainer.global_step < max_steps):
        log.warning(
            "stopped by the wall-clock cap trainer.max_time=%s before the step budget; "
            "`%s` continues the remaining steps (with the same time budget afresh)",
            cfg.trainer.max_time,
            resume_command(job) if job.get("overrides") else f"run_name={cfg.run_name} resume=true",
        )
    if psnr is not None and psnr_input is not None:
        ssim, ssim_input = _metric(trainer, "val/ssim"), _metric(trainer, "val/ssim_input")
        gain = f"validation PSNR {psnr:.2f} dB vs {psnr_input:.2f} dB for the pixelated input "
        gain += f"({psnr - psnr_input:+.2f} dB)"
        if ssim is not None and ssim_input is not None:
            gain += f", SSIM {ssim:.3f} vs {ssim_input:.3f}"
        log.info(gain)
    samples = run_dir / "samples.png"
    if samples.is_file():
        log.info("validation lines (pixelated | restored | original): %s", samples)


def train(cfg: DictConfig) -> float | None:
    """Fit (and optionally test) the configured module; returns ``cfg.optimized_metric``.

    The value is that of the last validation (``None`` without validation); ``test=true``
    also runs the test set on the best checkpoint and records its metrics in ``result.json``.
    """
    with hydra_ddp.launcher_environment_restored():
        return _fit(cfg)


def _fit(cfg: DictConfig) -> float | None:
    check_config(cfg)
    run_dir = Path(cfg.paths.run_dir)
    ckpt_path = resolve_ckpt_path(cfg, run_dir)
    check_run_folder(cfg, run_dir, ckpt_path)
    if cfg.get("init_from") and ckpt_path is None:
        resolve_checkpoint(cfg.init_from)  # a wrong path fails before any work
    pl.seed_everything(cfg.seed, workers=True)
    hydra_ddp.install()
    run_dir.mkdir(parents=True, exist_ok=True)
    resumed = load_checkpoint_file(ckpt_path, mmap=True) if ckpt_path else {}
    job = hydra_job()

    datamodule = hydra.utils.instantiate(
        cfg.data, degradation=hydra.utils.instantiate(cfg.degradation)
    )
    module = build_module(cfg)
    if cfg.get("init_from") and ckpt_path is None:  # resuming restores its own weights
        source = init_weights(module.net, cfg.init_from)
        log.info("weights initialised from %s (fine-tuning: new optimiser and schedule)", source)
    wandb_id = configure_wandb(
        cfg, run_dir, ckpt_path is not None, resumed.get("wandb_id"), job, rank_zero_only.rank == 0
    )
    module.run_config = OmegaConf.to_container(cfg, resolve=True)
    module.checkpoint_extras = {"wandb_id": wandb_id} if wandb_id else {}
    compile_net(module, cfg.get("compile"))
    loggers = instantiate_dict(cfg.get("logger"))
    for logger in loggers:
        if ckpt_path and hasattr(logger, "resume_at_step"):
            logger.resume_at_step(int(resumed.get("global_step", 0)))
    callbacks = build_callbacks(cfg, has_logger=bool(loggers))
    timer = next((c for c in callbacks if isinstance(c, TimeBudget)), None)
    trainer: pl.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()]
    )
    if trainer.is_global_zero:
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
        for logger in loggers:
            logger.log_hyperparams(module.run_config)
    log.info("run folder: %s", run_dir)
    failed = True
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
        value = _metric(trainer, cfg.optimized_metric)  # before test: it resets the metrics
        report(cfg, trainer, run_dir, timer, job)
        test = None
        if cfg.get("test"):
            best = "best" if getattr(trainer.checkpoint_callback, "best_model_path", "") else None
            outputs = trainer.test(module, datamodule=datamodule, ckpt_path=best)
            test = {k: float(v) for k, v in (outputs[0] if outputs else {}).items()}
            log.info("test (%s checkpoint): %s", best or "last", test)
        write_result(run_dir, cfg, trainer, job, wandb_id, value, test)
        failed = False
    finally:
        finish_wandb(loggers, run_dir, failed=failed)
        # The next multirun job in this process must start a new process group (its DDP
        # ranks are new processes); Lightning leaves the finished one initialised.
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    log.info(
        "done: %s = %s; checkpoints in %s", cfg.optimized_metric, value, run_dir / "checkpoints"
    )
    return value


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    try:
        return train(cfg)
    except Exception as error:
        cause = user_error(error)
        if cause is None:
            raise
        print(f"depix-train: error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None


def main() -> float | None:
    """The ``depix-train`` command (Hydra's command line: overrides, ``-m``, ``--cfg``...)."""
    # Runs go to runs/ under the folder depix-train was started from; DDP ranks and SLURM
    # jobs inherit the variable, so every process of a run agrees on the folder.
    os.environ[LAUNCH_DIR_ENV] = os.getcwd()
    return _hydra_main()


if __name__ == "__main__":
    main()
