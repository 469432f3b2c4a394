"""Cost of a degradation preset as a share of one training step of the default model.

Issue 3 asks that the whole degradation of a batch cost <= 5 % of a training step on the
same device. Both are timed on the same random 8-bit batch (default 16x3x48x192): the
preset's ``Degradation.__call__`` (parameters drawn + applied) and a full step of
configs/model/unet.yaml with configs/loss/default.yaml and AdamW (forward, loss, backward,
optimiser step). Both wall time and process CPU time are reported: on a shared, loaded
machine the CPU time with ``--threads 1`` is the stable figure (idle OpenMP threads spin
and inflate multi-threaded CPU time). Usage:

    python benchmarks/degradation_cost.py [--presets plain mixed eval_suite] [--device cpu]
        [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import hydra
import torch
from omegaconf import OmegaConf

from depix.train import CONFIG_DIR


def _instantiate(group: str, name: str):
    return hydra.utils.instantiate(OmegaConf.load(f"{CONFIG_DIR}/{group}/{name}.yaml"))


def _time_ms(fn, repeats: int, device: torch.device) -> tuple[float, float]:
    """(wall, process CPU) milliseconds per call, after one warm-up call."""
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall / repeats * 1e3, cpu / repeats * 1e3


def degradation_cost(
    presets: list[str], shape: tuple[int, ...], device: str, repeats: int, steps: int
) -> dict[str, tuple[float, float]]:
    """(wall, CPU) ms per batch of each preset and of one training step (``train_step``)."""
    dev = torch.device(device)
    g = torch.Generator().manual_seed(0)
    x = (torch.randint(0, 256, shape, generator=g).float() / 255).to(dev)
    net = _instantiate("model", "unet").to(dev)
    loss = _instantiate("loss", "default").to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

    def step() -> None:
        value = loss(net(x), x)
        value = value[0] if isinstance(value, tuple) else value
        opt.zero_grad()
        value.backward()
        opt.step()

    times = {"train_step": _time_ms(step, steps, dev)}
    for name in presets:
        degradation = _instantiate("degradation", name)
        times[name] = _time_ms(lambda d=degradation: d(x, g), repeats, dev)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["plain", "mixed", "eval_suite"])
    parser.add_argument("--shape", nargs=4, type=int, default=[16, 3, 48, 192])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    times = degradation_cost(args.presets, tuple(args.shape), args.device, args.repeats, args.steps)
    step_wall, step_cpu = times.pop("train_step")
    print(
        f"train step (unet, default loss, AdamW) {tuple(args.shape)} on {args.device}, "
        f"{torch.get_num_threads()} thread(s): {step_wall:.1f} ms wall, {step_cpu:.1f} ms CPU"
    )
    for name, (wall, cpu) in times.items():
        print(
            f"degradation {name:12s}: {wall:7.1f} ms wall ({100 * wall / step_wall:4.1f} %), "
            f"{cpu:7.1f} ms CPU ({100 * cpu / step_cpu:4.1f} % of a step)"
        )


if __name__ == "__main__":
    main()
