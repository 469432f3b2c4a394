"""Speed of ``depix-restore`` on the issue's reference case, on this machine's CPU.

A 1920x1080 generated screenshot with one 400x40 box pixelated (block 8), restored end to
end through ``restore()``; detection and restoration are timed separately (median and minimum
of ``--repeats`` runs after one warm-up). ``bench_restore()`` is what ``make bench`` calls.

    python -m depix.restore.bench [--ckpt PATH] [--repeats 5] [--threads 2]

Without the shipped model and without ``--ckpt`` it times an untrained network of the
default architecture (configs/model/unet.yaml): the speed is the same, the output is not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from depix.restore.synthetic import MosaicBox, screenshot

REFERENCE_BOX = MosaicBox(x=760, y=520, w=400, h=40, block=8, offset_y=3, offset_x=5)


def _default_architecture():
    """The default UNet, untrained, wrapped as a ``LoadedModel`` (timing only)."""
    import hydra
    from omegaconf import OmegaConf

    from depix.models.loading import LoadedModel
    from depix.train import CONFIG_DIR

    config = OmegaConf.to_container(OmegaConf.load(Path(CONFIG_DIR) / "model" / "unet.yaml"))
    net = hydra.utils.instantiate(config).eval()
    return LoadedModel(net=net, config={"model": config}, path=Path("<untrained unet.yaml>"))


def bench_restore(ckpt: str | None = None, repeats: int = 5, threads: int | None = 2) -> dict:
    """Median seconds of each stage of ``restore()`` on the reference screenshot."""
    from depix.restore.api import default_model_path, load_restore_model, restore

    if threads:
        torch.set_num_threads(threads)
    if ckpt or default_model_path().is_file():
        model = load_restore_model(ckpt, device=torch.device("cpu"))
    else:
        model = _default_architecture()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "screenshot.png"
        Image.fromarray(screenshot(1920, 1080, [REFERENCE_BOX], seed=0)).save(path)
        runs = []
        for _ in range(repeats + 1):  # the first run warms up torch's kernels
            start = time.perf_counter()
            result = restore(path, model=model)
            timings = dict(result.timings)
            timings["total_s"] = time.perf_counter() - start
            runs.append(timings)
    runs = runs[1:]
    median = {k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]}
    # On a shared machine the minimum is the best estimate of the uncontended cost.
    best = {k: round(min(r[k] for r in runs), 4) for k in runs[0]}
    regions = [r.to_dict() for r in result.regions]
    return {
        "case": "1920x1080 PNG, one 400x40 box, block 8",
        "model": str(model.path),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "median": median,
        "min": best,
        "regions": regions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", help="model to time (default: shipped, else untrained)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (0 = default)")
    args = parser.parse_args(argv)
    print(json.dumps(bench_restore(args.ckpt, args.repeats, args.threads or None), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
