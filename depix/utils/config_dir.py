"""Where depix's Hydra configs are, and the resolvers they use.

A checkout keeps them in ``configs/`` (recipes in ``experiments/``, linked in as the
``experiment`` group); a wheel carries a copy inside the package (``depix/_configs``, made
by ``setup.py``'s build step), so ``depix-train`` and ``depix-eval`` work from an installed
wheel outside any checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

_PACKAGE = Path(__file__).resolve().parent.parent
_PACKAGED = _PACKAGE / "_configs"
_CHECKOUT = _PACKAGE.parent / "configs"

# The packaged copy wins only where there is no checkout beside the package (a wheel).
CONFIG_DIR = str(_CHECKOUT if (_CHECKOUT / "train.yaml").is_file() else _PACKAGED)

# The folder depix-train was started from, exported by its entry point so that DDP ranks
# and SLURM jobs (started elsewhere, or before Hydra sets its runtime) agree on it.
LAUNCH_DIR_ENV = "DEPIX_LAUNCH_DIR"


def launch_dir() -> str:
    """The folder runs are relative to: ``$DEPIX_LAUNCH_DIR``, else the working directory.

    Unlike ``${hydra:runtime.cwd}`` this is defined while Hydra composes a multirun's
    ``hydra.sweep.dir`` (before any job's runtime is set) and in the compose API.
    """
    return os.environ.get(LAUNCH_DIR_ENV) or os.getcwd()


def first_set(*values: object) -> object:
    """The first value that is not None (``${depix.first_set:${a},${b}}``), else None."""
    return next((value for value in values if value is not None), None)


def register_resolvers() -> None:
    """``${depix.launch_dir:}`` and ``${depix.first_set:...}`` for the configs (idempotent)."""
    for name, function in (("depix.launch_dir", launch_dir), ("depix.first_set", first_set)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)
