"""Load a trained network for evaluation or restoration, from the run's own saved config.

Two file kinds are accepted, both read with weights-only unpickling (no pickled code) and
rebuilt with ``depix.models.registry.build_network`` (no ``_target_`` from the file is ever
instantiated: only depix's own network classes, with plain keyword arguments):
  * a Lightning checkpoint written by ``depix-train`` (``state_dict`` + ``depix_config``);
  * an exported model (``export_model``): ``{"format": "depix-model", "config", "state_dict"}``,
    a few MB, what the package ships.
A run folder may be given instead of a file: its ``checkpoints/best.ckpt`` (else ``last.ckpt``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from depix.callbacks.checkpoint_io import CheckpointLoadError, load_checkpoint_file
from depix.models.registry import NETWORKS, ROLES, build_network

EXPORT_FORMAT = "depix-model"


@dataclass
class LoadedModel:
    """A network ready for inference and the composed config of the run that trained it."""

    net: nn.Module
    config: dict[str, Any]
    path: Path


def resolve_checkpoint(path: str | Path) -> Path:
    """A file as is; a run folder -> its best (else last) checkpoint; clear error otherwise."""
    path = Path(path).expanduser()
    if path.is_dir():
        for name in ("checkpoints/best.ckpt", "checkpoints/last.ckpt", "model.pt"):
            if (path / name).is_file():
                return path / name
        raise CheckpointLoadError(f"run folder {path} holds no checkpoints/best.ckpt or last.ckpt")
    if not path.is_file():
        raise CheckpointLoadError(f"checkpoint {path} does not exist")
    return path


def _is_reader_file(checkpoint: dict[str, Any]) -> bool:
    """An exported reader (``depix.reader.loading.READER_FORMAT``, not imported: it imports us)."""
    return str(checkpoint.get("format", "")).startswith("depix-reader/")


def net_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The network's weights from any file kind (EMA weights first when present)."""
    if checkpoint.get("format") == EXPORT_FORMAT or _is_reader_file(checkpoint):
        return checkpoint["state_dict"]
    ema = checkpoint.get("ema_state_dict")
    if ema:
        return ema
    state = checkpoint.get("state_dict", {})
    return {k[len("net.") :]: v for k, v in state.items() if k.startswith("net.")}


def stored_config(checkpoint: dict[str, Any], file: Path) -> dict[str, Any]:
    """The run config a checkpoint (``depix_config``) or exported model (``config``) carries.

    Raises ``CheckpointLoadError`` when there is none or it has no ``model`` entry.
    """
    if _is_reader_file(checkpoint):  # an exported reader stores its model entry alone
        return {"model": checkpoint.get("model")}
    config = (
        checkpoint.get("config")
        if checkpoint.get("format") == EXPORT_FORMAT
        else checkpoint.get("depix_config")
    )
    if not isinstance(config, dict) or "model" not in config:
        raise CheckpointLoadError(
            f"{file} carries no depix config (was it written by depix-train?); cannot rebuild its network"
        )
    return config


def load_model(
    path: str | Path, device: str | torch.device = "cpu", role: str | None = "restoration"
) -> LoadedModel:
    """Rebuild the network from the config stored with it and load its weights.

    Args:
        path: a checkpoint, an exported model or a run folder (see ``resolve_checkpoint``).
        device: where the network is put (weights are read to the CPU first).
        role: a key of ``registry.ROLES``: the file must hold a network of that role
            (``"restoration"``: a U-Net, as depix-restore and depix-eval need); None: any
            allowlisted network (export, fine-tuning).

    Returns:
        The network in eval mode, float32 weights, and the file's config.

    Raises:
        CheckpointLoadError: a one-line message naming the file when it is missing,
            unreadable, has no config, names a network outside ``registry.NETWORKS`` or
            arguments that are not plain data (nothing from the file is run), or its weights
            do not fit the network, or it holds a network of another role.
    """
    file = resolve_checkpoint(path)
    checkpoint = load_checkpoint_file(file)
    if role == "restoration" and _is_reader_file(checkpoint):
        raise CheckpointLoadError(
            f"{file}: holds a reader (a text recogniser), not a restoration model "
            "(a reader is used by --read / text_method=reader)"
        )
    config = stored_config(checkpoint, file)
    model = config.get("model")
    target = model.get("_target_") if isinstance(model, Mapping) else None
    if (
        role is not None
        and isinstance(target, str)
        and target in NETWORKS
        and target not in ROLES[role]
    ):
        kind = next((name for name, targets in ROLES.items() if target in targets), "other")
        raise CheckpointLoadError(
            f"{file}: holds a {kind} network ({target}), not a {role} model"
            + (" (a reader is used by --read / text_method=reader)" if kind == "reader" else "")
        )
    try:
        net = build_network(config["model"])
    except CheckpointLoadError as error:
        raise CheckpointLoadError(f"{file}: {error}") from error
    try:
        state = {
            k: v.float() if v.is_floating_point() else v
            for k, v in net_state_dict(checkpoint).items()
        }
        net.load_state_dict(state, strict=True)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointLoadError(
            f"{file}: its weights do not fit the network its config describes ({first})"
        ) from error
    return LoadedModel(net=net.to(device).eval(), config=config, path=file)


def init_weights(net: nn.Module, path: str | Path) -> Path:
    """Copy the weights of a run folder, checkpoint or exported model into ``net`` (fine-tuning).

    EMA weights are taken when the source has them (what evaluation would load). The source's
    network must have the same shape as ``net``: a mismatch is a one-line error, not a
    partial load. The source is built like ``load_model`` does (allowlisted networks only).
    Raises ``CheckpointLoadError`` (one line, starting ``init_from=<path>``).
    """
    try:
        source = load_model(path, role=None)
    except CheckpointLoadError as error:
        raise CheckpointLoadError(f"init_from={path}: {error}") from error
    try:
        net.load_state_dict(source.net.state_dict(), strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise CheckpointLoadError(
            f"init_from={path}: its network ({source.config['model'].get('_target_')} "
            f"{ {k: v for k, v in source.config['model'].items() if k != '_target_'} }) does not "
            f"fit this run's model config: {first}"
        ) from error
    return source.path


def export_model(checkpoint_path: str | Path, out: str | Path, half: bool = False) -> Path:
    """Write the small inference file (config + network weights, optionally float16).

    The source is first loaded as ``load_model`` would (same checks), so a file whose config
    names anything but a depix network, or whose weights do not fit it, is never exported.
    Raises ``CheckpointLoadError`` (one line) in those cases.
    """
    file = resolve_checkpoint(checkpoint_path)
    load_model(file, role=None)  # refuses what could not be loaded later
    checkpoint = load_checkpoint_file(file)
    state = net_state_dict(checkpoint)
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    config = stored_config(checkpoint, file)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    torch.save({"format": EXPORT_FORMAT, "config": config, "state_dict": state}, tmp)
    tmp.replace(out)
    return out
