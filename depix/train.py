"""``depix-train``: compose the Hydra config, build everything from it, fit, optionally test.

Thin on purpose: all behaviour lives in the configured objects. Returns the optimised
metric so Hydra sweepers (Optuna) can use it, and writes it to ``result.json`` in the run
folder for ``depix-sweep-summary``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from depix.callbacks.checkpoint_io import (
    AtomicCheckpointIO,
    CheckpointLoadError,
    load_checkpoint_file,
)
from depix.callbacks.ema import EMA
from depix.loggers.wandb import configure_wandb, finish_wandb
from depix.models.loading import init_weights
from depix.utils import hydra_ddp

log = logging.getLogger("depix.train")
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")
RESULT_FILE = "result.json"


def instantiate_dict(cfg: DictConfig | None) -> list:
    """Instantiate every entry of a ``{name: {_target_: ...}}`` group (callbacks, loggers)."""
    if not cfg:
        return []
    return [hydra.utils.instantiate(node) for node in cfg.values() if node is not None]


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
            raise CheckpointLoadError(f"ckpt_path=last but {last} does not exist")
        log.info("resume=true but %s does not exist yet: starting a new run", last)
    return None


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


def write_result(
    run_dir: Path, cfg: DictConfig, trainer: pl.Trainer, job: dict, wandb_id: str | None
) -> float | None:
    """``result.json``: the optimised metric (last and best), the best checkpoint, the overrides."""
    metric = trainer.callback_metrics.get(cfg.optimized_metric)
    value = None if metric is None else float(metric)
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
    if rank_zero_only.rank == 0:
        (run_dir / RESULT_FILE).write_text(json.dumps(result, indent=2) + "\n")
    return value


def train(cfg: DictConfig) -> float | None:
    """Fit (and optionally test) the configured module; returns ``cfg.optimized_metric``."""
    with hydra_ddp.launcher_environment_restored():
        return _fit(cfg)


def _fit(cfg: DictConfig) -> float | None:
    pl.seed_everything(cfg.seed, workers=True)
    hydra_ddp.install()
    run_dir = Path(cfg.paths.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = resolve_ckpt_path(cfg, run_dir)
    resumed = load_checkpoint_file(ckpt_path, mmap=True) if ckpt_path else {}
    if ckpt_path is None and (run_dir / "checkpoints" / "last.ckpt").exists():
        log.warning(
            "%s already holds a run; its checkpoints will be overwritten (resume=true continues it)",
            run_dir,
        )
    job = hydra_job()
    wandb_id = configure_wandb(
        cfg, run_dir, ckpt_path is not None, resumed.get("wandb_id"), job, rank_zero_only.rank == 0
    )

    datamodule = hydra.utils.instantiate(
        cfg.data, degradation=hydra.utils.instantiate(cfg.degradation)
    )
    module = hydra.utils.instantiate(cfg.module)
    if cfg.get("init_from") and ckpt_path is None:  # resuming restores its own weights
        source = init_weights(module.net, cfg.init_from)
        log.info("weights initialised from %s (fine-tuning: new optimiser and schedule)", source)
    module.run_config = OmegaConf.to_container(cfg, resolve=True)
    module.checkpoint_extras = {"wandb_id": wandb_id} if wandb_id else {}
    compile_net(module, cfg.get("compile"))
    callbacks = instantiate_dict(cfg.get("callbacks"))
    if cfg.get("ema") and cfg.ema.enabled:
        callbacks.append(EMA(decay=cfg.ema.decay, warmup=cfg.ema.warmup))
    loggers = instantiate_dict(cfg.get("logger"))
    for logger in loggers:
        if ckpt_path and hasattr(logger, "resume_at_step"):
            logger.resume_at_step(int(resumed.get("global_step", 0)))
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
        if cfg.get("test"):
            trainer.test(module, datamodule=datamodule, ckpt_path="best")
        value = write_result(run_dir, cfg, trainer, job, wandb_id)
        failed = False
    finally:
        finish_wandb(loggers, failed=failed)
        # The next multirun job in this process must start a new process group (its DDP
        # ranks are new processes); Lightning leaves the finished one initialised.
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    log.info(
        "done: %s = %s; checkpoints in %s", cfg.optimized_metric, value, run_dir / "checkpoints"
    )
    return value


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    return train(cfg)


if __name__ == "__main__":
    main()
