"""``depix-train``: compose the Hydra config, build everything from it, fit, optionally test.

Thin on purpose: all behaviour lives in the configured objects. Returns the optimised
metric so Hydra sweepers (Optuna) can use it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from depix.callbacks.checkpoint_io import AtomicCheckpointIO, CheckpointLoadError

log = logging.getLogger("depix.train")
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")


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


def train(cfg: DictConfig) -> float | None:
    """Fit (and optionally test) the configured module; returns ``cfg.optimized_metric``."""
    pl.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.run_dir)
    ckpt_path = resolve_ckpt_path(cfg, run_dir)
    if ckpt_path is None and (run_dir / "checkpoints" / "last.ckpt").exists():
        log.warning(
            "%s already holds a run; its checkpoints will be overwritten (resume=true continues it)",
            run_dir,
        )

    datamodule = hydra.utils.instantiate(
        cfg.data, degradation=hydra.utils.instantiate(cfg.degradation)
    )
    module = hydra.utils.instantiate(cfg.module)
    module.run_config = OmegaConf.to_container(cfg, resolve=True)
    trainer: pl.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=instantiate_dict(cfg.get("callbacks")),
        logger=instantiate_dict(cfg.get("logger")) or False,
        plugins=[AtomicCheckpointIO()],
    )
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    log.info("run folder: %s", run_dir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    if cfg.get("test"):
        trainer.test(module, datamodule=datamodule, ckpt_path="best")
    metric = trainer.callback_metrics.get(cfg.optimized_metric)
    log.info(
        "done: %s = %s; checkpoints in %s", cfg.optimized_metric, metric, run_dir / "checkpoints"
    )
    return None if metric is None else float(metric)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    return train(cfg)


if __name__ == "__main__":
    main()
