"""DDP under Hydra: every rank trains in the job's own folder, also inside a multirun.

Lightning's DDP launcher starts ranks 1..N-1 by re-running ``sys.argv`` plus
``hydra.run.dir=<hydra.run.dir>``. In a multirun that is wrong twice: ``sys.argv`` holds
``-m`` and the whole sweep (each child would start a sweep of its own), and
``hydra.run.dir`` is not the job's folder (``runs/<name>/multirun/<num>``). The command
built here re-runs the app as a single run with this job's own overrides
(``hydra.overrides.task``) in this job's output folder, which is also right outside a
multirun. Runs started by torchrun or SLURM do not use it: those launch every rank
themselves, and stable run folders make all ranks agree on the folder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

# Set in the launching process's own environment by Lightning's DDP launcher.
LAUNCHER_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")

# Hydra flags that pick the config source; they must reach the child processes too.
CONFIG_FLAGS = ("-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir")


def config_source_args(argv: Sequence[str]) -> list[str]:
    """The ``--config-*`` flags (and their values) of a command line, nothing else."""
    kept: list[str] = []
    args = list(argv)
    for i, arg in enumerate(args):
        if arg in CONFIG_FLAGS and i + 1 < len(args):
            kept += [arg, args[i + 1]]
        elif arg.split("=", 1)[0] in CONFIG_FLAGS and "=" in arg:
            kept.append(arg)
    return kept


def ddp_child_command(local_rank: int) -> tuple[list[str], str]:
    """Command and working directory of DDP rank ``local_rank`` (Lightning's signature)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd, to_absolute_path

    import __main__

    hydra_cfg = HydraConfig.get()
    if __main__.__spec__ is None:
        command = [sys.executable, to_absolute_path(sys.argv[0])]
    else:
        command = [sys.executable, "-m", __main__.__spec__.name]
    command += config_source_args(sys.argv[1:])
    command += list(hydra_cfg.overrides.task)
    command += [
        f'hydra.run.dir="{hydra_cfg.runtime.output_dir}"',
        f"hydra.job.name=train_ddp_process_{local_rank}",
        "hydra.output_subdir=null",
    ]
    return command, get_original_cwd()


def install() -> None:
    """Make Lightning's subprocess launcher use ``ddp_child_command`` (idempotent)."""
    from pytorch_lightning.strategies.launchers import subprocess_script

    if not hasattr(subprocess_script, "_hydra_subprocess_cmd"):
        raise RuntimeError(
            "this pytorch-lightning has no _hydra_subprocess_cmd; depix.utils.hydra_ddp needs updating"
        )
    subprocess_script._hydra_subprocess_cmd = ddp_child_command


@contextmanager
def launcher_environment_restored() -> Iterator[None]:
    """Undo the launcher's ``os.environ`` changes when a job ends.

    Lightning's DDP launcher exports ``LOCAL_RANK``, ``WORLD_SIZE``, ... into the launching
    process; the next multirun job in that process would read them as "processes were
    created externally" and wait forever for ranks that are never started.
    """
    before = {name: os.environ.get(name) for name in LAUNCHER_ENV}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
