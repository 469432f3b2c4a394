"""Build a network from a model config read from a file, without running anything it names.

A checkpoint or exported model carries the config of the run that wrote it, and loading
rebuilds the network from that config. Handing it to ``hydra.utils.instantiate`` would let
a crafted file call any importable function (``_target_: builtins.exec``, a nested
``_target_`` in an argument, ``_partial_``/``_args_`` tricks): a model file is something
users download. So a file's config is only ever read as data here: its ``_target_`` must
name one of depix's own network classes (``NETWORKS``), and every other entry must be a
keyword argument of that class's constructor holding plain data (numbers, strings, bools,
None, or lists of those). Anything else is refused with a ``CheckpointLoadError`` before a
single object is created. Configs composed from ``configs/`` (our own files) still go
through Hydra as usual; this is only for configs read from model files.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from depix.callbacks.checkpoint_io import CheckpointLoadError
from depix.models.unet import UNet
from depix.reader.network import ReaderNet

# ``_target_`` string (as written by depix-train) -> class. Add a network here to make its
# files loadable; nothing outside this table can be built from a file.
NETWORKS: dict[str, type[nn.Module]] = {
    "depix.models.unet.UNet": UNet,
    "depix.reader.network.ReaderNet": ReaderNet,
}

# What each use of a model file may hold: depix-restore and depix-eval restore with it, so a
# reader file (a recogniser: its output is character scores, not an image) is refused there.
ROLES: dict[str, tuple[str, ...]] = {
    "restoration": ("depix.models.unet.UNet",),
    "reader": ("depix.reader.network.ReaderNet",),
}

Scalar = (bool, int, float, str, type(None))


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_plain(value: Any) -> bool:
    """Numbers, strings, bools, None, or a flat list/tuple of those (no mappings, no objects)."""
    if isinstance(value, Scalar):
        return True
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, Scalar) for v in value)
    return False


def _fits(value: Any, annotation: Any) -> bool:
    """Whether plain ``value`` fits the constructor's type hint (the forms depix uses:
    bool, int, float, str, ``X | None``, ``Sequence[X]``/``list[X]``/``tuple[X, ...]``).
    Hints of any other form accept any plain value (the constructor checks the rest)."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (list, tuple, Sequence, typing.Sequence) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return not args or all(_fits(v, args[0]) for v in value)
    return True


def build_network(model_config: Mapping[str, Any]) -> nn.Module:
    """The network ``model_config`` describes, built only from the ``NETWORKS`` allowlist.

    Args:
        model_config: the ``model`` entry of a run's config as stored in a checkpoint or an
            exported model, e.g. ``{"_target_": "depix.models.unet.UNet", "widths": [32, 64]}``.
            Plain data only: keys other than ``_target_`` are constructor keyword arguments.

    Returns:
        The freshly initialised network (weights still to be loaded), on the CPU.

    Raises:
        CheckpointLoadError: one line naming the problem, before anything is built, when the
            config is not a mapping, its ``_target_`` is not one of ``NETWORKS``, it uses any
            other Hydra key (``_args_``, ``_partial_``, ``_recursive_``...), an argument is not
            a parameter of the class, or a value is not plain data of the parameter's type
            (a nested ``_target_`` is a mapping, so it is refused too); also when the class
            itself rejects the values (its ``ValueError``/``TypeError``, as one line).
    """
    if not isinstance(model_config, Mapping):
        raise CheckpointLoadError(
            f"model config must be a mapping, got {type(model_config).__name__}"
        )
    target = model_config.get("_target_")
    if not isinstance(target, str) or target not in NETWORKS:
        raise CheckpointLoadError(
            f"refusing to build model _target_ {_describe(target)}: not one of depix's networks "
            f"({', '.join(NETWORKS)}), the only ones a model file may name; it cannot be built "
            f"with this version of depix"
        )
    cls = NETWORKS[target]
    signature = inspect.signature(cls.__init__)
    hints = typing.get_type_hints(cls.__init__)
    parameters = {
        name: p
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    kwargs: dict[str, Any] = {}
    for key, value in model_config.items():
        if key == "_target_":
            continue
        if not isinstance(key, str) or key.startswith("_"):
            raise CheckpointLoadError(
                f"refusing to build {target}: its config holds the key {_describe(key)}; "
                f"only _target_ and {cls.__name__}'s keyword arguments are allowed"
            )
        if key not in parameters:
            raise CheckpointLoadError(
                f"refusing to build {target}: {key!r} is not an argument of {cls.__name__} "
                f"(known: {', '.join(parameters)})"
            )
        if not _is_plain(value) or not _fits(value, hints.get(key, inspect.Parameter.empty)):
            raise CheckpointLoadError(
                f"refusing to build {target}: {key}={_describe(value)} is not plain data of the "
                f"type {cls.__name__} expects"
            )
        kwargs[key] = list(value) if isinstance(value, tuple) else value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        raise CheckpointLoadError(f"cannot build {target} from {kwargs}: {error}") from error
