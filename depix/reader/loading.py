"""Save and load readers safely: weights-only files, the network built from its own class.

No ``_target_`` read from a file is ever instantiated: the file names the network's class,
which must be ``ReaderNet``, and its keyword arguments are checked against ``ReaderNet``'s
signature (plain ints, floats, strings and lists of those) before it is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from depix.callbacks.checkpoint_io import CheckpointLoadError, load_checkpoint_file
from depix.models.loading import net_state_dict, resolve_checkpoint
from depix.models.registry import build_network
from depix.reader.network import ReaderNet

READER_FORMAT = "depix-reader/1"
READER_TARGET = "depix.reader.network.ReaderNet"
#: The shipped reader (``make ship-reader`` writes it); used offline by default.
DEFAULT_READER = Path(__file__).resolve().parent.parent / "weights" / "reader-small.pt"


def build_reader(model_config: dict[str, Any], source: str = "config") -> ReaderNet:
    """A ``ReaderNet`` from a stored model config, built through the model-file allowlist
    (``depix.models.registry.build_network``: plain-data keyword arguments checked against
    the class signature; no ``_target_`` from a file is ever instantiated).

    Raises ``CheckpointLoadError`` (one line naming ``source``) for another class, an unknown
    argument or a value that is not plain data.
    """
    if not isinstance(model_config, dict):
        raise CheckpointLoadError(f"{source}: no reader model config")
    target = model_config.get("_target_", READER_TARGET)
    if target != READER_TARGET:
        raise CheckpointLoadError(f"{source}: not a reader (its network is {target!r})")
    try:
        return build_network({**model_config, "_target_": READER_TARGET})
    except CheckpointLoadError as error:
        raise CheckpointLoadError(f"{source}: {error}") from None


def load_reader(path: str | Path | None = None, device: str | torch.device = "cpu") -> ReaderNet:
    """The reader of an exported file, checkpoint or run folder (default: the shipped one).

    Loads with ``torch.load(weights_only=True)``; EMA weights first when a checkpoint has
    them. Returns the network in eval mode, float32, on ``device``. Raises
    ``CheckpointLoadError`` for a missing file, a file that is not a reader, or weights that
    do not fit.
    """
    try:
        file = DEFAULT_READER if path is None else resolve_checkpoint(path)
    except CheckpointLoadError as error:
        raise CheckpointLoadError(f"no reader: {error}") from None
    if not Path(file).is_file():
        raise CheckpointLoadError(f"no reader at {file} (train one: depix-train experiment=reader)")
    checkpoint = load_checkpoint_file(file)
    if checkpoint.get("format") == READER_FORMAT:
        model_config, state = checkpoint.get("model"), checkpoint.get("state_dict", {})
    else:
        config = checkpoint.get("depix_config") or checkpoint.get("config") or {}
        model_config, state = config.get("model"), net_state_dict(checkpoint)
    net = build_reader(model_config, str(file))
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckpointLoadError(f"{file}: its weights do not fit its reader ({first})") from None
    return net.to(device).eval()


def export_reader(checkpoint_path: str | Path, out: str | Path, half: bool = True) -> Path:
    """Write the small inference file: validated model kwargs + weights (float16 by default).

    The kwargs are stored resolved (the charset as its characters), with a copy of the
    training recipe's name and step for provenance.
    """
    file = resolve_checkpoint(checkpoint_path)
    checkpoint = load_checkpoint_file(file)
    config = checkpoint.get("depix_config") or {}
    net = build_reader(config.get("model"), str(file))
    kwargs = {k: v for k, v in config["model"].items() if k != "_target_"}
    kwargs["charset"] = net.charset
    state = net_state_dict(checkpoint)
    net.load_state_dict(state, strict=True)  # fails here, not at the user's
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    info = {
        "run_name": str(config.get("run_name", "")),
        "global_step": int(checkpoint.get("global_step", 0)),
        "source": file.name,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    torch.save(
        {
            "format": READER_FORMAT,
            "model": {"_target_": READER_TARGET, **kwargs},
            "state_dict": state,
            "info": info,
        },
        tmp,
    )
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m depix.reader.loading RUN [OUT]``: export a reader run's best checkpoint."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m depix.reader.loading", description=main.__doc__
    )
    parser.add_argument("run", help="run folder (its best.ckpt) or checkpoint")
    parser.add_argument(
        "out", nargs="?", default=str(DEFAULT_READER), help="default: the shipped reader"
    )
    parser.add_argument(
        "--float32", action="store_true", help="keep float32 weights (default float16)"
    )
    args = parser.parse_args(argv)
    try:
        out = export_reader(args.run, args.out, half=not args.float32)
    except CheckpointLoadError as error:
        print(f"depix reader export: {error}")
        return 1
    print(f"{out} ({out.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
