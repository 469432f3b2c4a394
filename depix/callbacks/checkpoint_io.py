"""Checkpoint writing that never leaves a half-written file behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO


class CheckpointLoadError(RuntimeError):
    """A checkpoint that is missing, truncated or not a depix checkpoint; the message names it."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to ``.<name>.tmp`` in the same folder, fsyncs, then renames over the target.

    A run killed mid-save (SIGKILL, power loss) leaves the previous ``last.ckpt`` intact;
    the rename is atomic on POSIX file systems.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path, storage_options: Any | None = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def load_checkpoint(
        self, path, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint_file(path, map_location=map_location or "cpu")


def load_checkpoint_file(path, map_location: Any = "cpu", mmap: bool = False) -> dict[str, Any]:
    """``torch.load`` with weights-only unpickling and errors that name the file.

    ``mmap=True`` maps the tensors instead of reading them: cheap when only a few entries
    (the step, the W&B id, the EMA weights) are needed.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointLoadError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as error:
        raise CheckpointLoadError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); it may be "
            f"truncated or not a checkpoint"
        ) from error
