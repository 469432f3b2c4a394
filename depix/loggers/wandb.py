"""Weights & Biases set-up decided before ``wandb.init``: mode, run id, name, group, tags.

Why before init: ``wandb.init`` online without credentials or network prompts or waits
for minutes; deciding the mode first means a run never hangs or crashes because W&B is
unreachable, it just logs offline (``wandb sync`` uploads it later). The run id lives in
``<run dir>/wandb_id.txt`` and in every checkpoint, so a resumed run continues the same
W&B run, and each multirun job (its own run dir) gets its own.
"""

from __future__ import annotations

import logging
import netrc
import os
import secrets
import socket
import string
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)

WANDB_TARGET = "pytorch_lightning.loggers.WandbLogger"
ID_FILE = "wandb_id.txt"
DEFAULT_HOST = "https://api.wandb.ai"


def wandb_host() -> str:
    """Host name of the W&B server (``WANDB_BASE_URL`` for self-hosted servers)."""
    return urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_HOST)).hostname or "api.wandb.ai"


def has_api_key(host: str | None = None) -> bool:
    """An API key in ``WANDB_API_KEY`` or in ~/.netrc (where ``wandb login`` puts it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(host or wandb_host()) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """TCP connect within ``timeout`` s, DNS included (run in a thread: DNS has no timeout)."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def decide_mode(requested: str = "auto") -> str:
    """``online`` only with an API key and a reachable server; ``WANDB_MODE`` wins."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if requested != "auto":
        return requested
    if not has_api_key():
        log.info("W&B: no API key (WANDB_API_KEY or `wandb login`): logging offline")
        return "offline"
    if not reachable(wandb_host()):
        log.info("W&B: %s unreachable: logging offline", wandb_host())
        return "offline"
    return "online"


def new_run_id() -> str:
    """8 random lower-case letters and digits, like W&B's ids (os entropy: seeds stay untouched)."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def run_id(run_dir: Path, resuming: bool, checkpoint_id: str | None, is_rank_zero: bool) -> str:
    """The W&B id of this run folder: kept when resuming, new for a fresh run.

    Under ``wandb agent`` (``WANDB_SWEEP_ID`` set) it is the id the agent created.
    """
    file = run_dir / ID_FILE
    kept = file.read_text().strip() if file.is_file() else None
    run = (kept or checkpoint_id) if resuming else None
    if os.environ.get("WANDB_SWEEP_ID") and os.environ.get("WANDB_RUN_ID"):
        run = os.environ["WANDB_RUN_ID"]  # `wandb agent` made this run; log into it
    run = run or new_run_id()
    if is_rank_zero:
        file.write_text(run + "\n")
    return run


def wandb_nodes(cfg: DictConfig) -> list[DictConfig]:
    """The config nodes of ``cfg.logger`` that build a WandbLogger."""
    nodes = (cfg.get("logger") or {}).values()
    return [n for n in nodes if n is not None and n.get("_target_") == WANDB_TARGET]


def configure_wandb(
    cfg: DictConfig,
    run_dir: Path,
    resuming: bool,
    checkpoint_id: str | None,
    job: dict[str, Any],
    is_rank_zero: bool,
) -> str | None:
    """Fill in mode, id, name, group and tags of the W&B logger node(s); returns the id.

    ``job`` is ``{"multirun", "num", "sweep", "experiment"}`` (see ``train.hydra_job``):
    a multirun job is named ``<run_name>-<num>`` and grouped and tagged by its sweep.
    """
    nodes = wandb_nodes(cfg)
    if not nodes:
        return None
    os.environ.setdefault("WANDB_INIT_TIMEOUT", "30")  # default 90 s: fail fast instead
    identifier = run_id(run_dir, resuming, checkpoint_id, is_rank_zero)
    with open_dict(cfg):
        for node in nodes:
            node.mode = decide_mode(node.get("mode") or "auto")
            node.id = identifier
            tags = list(node.get("tags") or [])
            experiment = job.get("experiment") or cfg.run_name
            tags += [t for t in (f"experiment:{experiment}",) if t not in tags]
            node.group = node.get("group") or (job["sweep"] if job.get("multirun") else experiment)
            if job.get("multirun"):
                node.name = f"{cfg.run_name}-{job['num']}"
                tags += [f"sweep:{job['sweep']}"]
            node.tags = tags
            if node.mode != "online" and node.get("log_model"):
                log.warning(
                    "W&B %s: checkpoints are not uploaded (log_model needs online)", node.mode
                )
                node.log_model = False
    return identifier


def offline_sessions(run_dir: Path, identifier: str) -> list[Path]:
    """The offline session folders of W&B run ``identifier`` in ``run_dir/wandb``, oldest first.

    W&B writes one ``offline-run-<time>-<id>`` folder per session: a run resumed twice
    offline has three, all with the same id.
    """
    folders = (run_dir / "wandb").glob(f"offline-run-*-{identifier}*")
    return sorted(f for f in folders if f.is_dir() and f"-{identifier}" in f.name)


def sync_command(run_dir: Path, identifier: str) -> str | None:
    """One ``wandb sync`` command that uploads every offline session of the run as one run.

    ``wandb sync`` (0.31) uploads several folders of one run id in order of their start
    time into that run; ``--id`` makes it explicit.
    """
    sessions = offline_sessions(run_dir, identifier)
    if not sessions:
        return None
    return f"wandb sync --id {identifier} " + " ".join(str(s) for s in sessions)


def finish_wandb(loggers: list, run_dir: Path | None = None, failed: bool = False) -> None:
    """Close this job's W&B run (one run per multirun job) and say how to upload it.

    Offline, the command printed covers every session of the run (a resumed run has one
    folder per session), so one command uploads its whole history.
    """
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if not isinstance(logger, WandbLogger) or logger._experiment is None:
            continue
        import wandb

        run = logger._experiment
        offline = getattr(getattr(run, "settings", None), "mode", "") in ("offline", "dryrun")
        folder = Path(run.dir).parent if getattr(run, "dir", None) else None
        identifier = run.id
        run.finish(exit_code=1 if failed else 0)
        if wandb.run is run:
            wandb.finish()
        if not offline or folder is None:
            continue
        command = sync_command(run_dir or folder.parent.parent, identifier)
        sessions = len(offline_sessions(run_dir or folder.parent.parent, identifier))
        log.info(
            "W&B run %s saved offline (%d session folder%s); upload the whole run with:\n  %s",
            identifier,
            sessions,
            "" if sessions == 1 else "s",
            command or f"wandb sync {folder}",
        )
