"""``make bench``: how fast depix trains, restores and generates data on this machine.

    python -m depix.bench [--quick] [--device cuda] [hydra overrides of configs/train.yaml ...]

Composes the training config (so it measures the default model, loss and degradation, or
whatever overrides say), then times each part separately with warm-up steps and device
synchronisation. Prints a Rich table; speed numbers are never asserted in tests.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import hydra
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from depix.train import CONFIG_DIR


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions; ``quick`` shrinks everything to a smoke test."""

    batch: int | None  # None = the config's data.batch_size
    crop: tuple[int, int] | None  # None = the config's data.train.size
    warmup: int
    steps: int
    generator_samples: int
    screenshot: tuple[int, int]  # (H, W) of the full-screen restoration


FULL = Settings(None, None, warmup=2, steps=8, generator_samples=64, screenshot=(1080, 1920))
QUICK = Settings(2, (32, 64), warmup=1, steps=2, generator_samples=4, screenshot=(128, 192))


@dataclass
class Row:
    measure: str
    value: str
    setting: str


def compose_train(overrides: Sequence[str] = ()) -> DictConfig:
    """configs/train.yaml with ``overrides``, without starting a Hydra run."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, warmup: int, steps: int) -> float:
    """Mean seconds of ``fn`` over ``steps`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / max(steps, 1)


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call as torch's FlopCounterMode counts them (convs and matmuls)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.machine()} ({torch.get_num_threads()} threads)"


def peak_memory(device: torch.device) -> str:
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    text = f"{rss_mb:.0f} MB RSS"
    if device.type == "cuda":
        text += f", {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MB CUDA allocated"
    return text


def si(value: float, unit: str) -> str:
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.2f} {unit}"


def run_bench(settings: Settings, device: torch.device, overrides: Sequence[str] = ()) -> list[Row]:
    """Every measurement of the table, in order."""
    cfg = compose_train(overrides)
    torch.manual_seed(0)
    batch = settings.batch or int(cfg.data.batch_size)
    crop = settings.crop or tuple(int(s) for s in cfg.data.train.size)
    shape = f"batch {batch}, {crop[0]}x{crop[1]} px"
    net = hydra.utils.instantiate(cfg.model).to(device)
    loss = hydra.utils.instantiate(cfg.loss).to(device)
    degradation = hydra.utils.instantiate(cfg.degradation)
    optimizer = hydra.utils.instantiate(cfg.optimizer)(params=net.parameters())
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(batch, 3, *crop, device=device)
    rows: list[Row] = []

    def degrade() -> torch.Tensor:
        return degradation(clean, generator)[0]

    def train_step() -> None:
        pred = net(degrade())
        total, _ = loss(pred, clean)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    net.train()
    step_s = timed(train_step, device, settings.warmup, settings.steps)
    degrade_s = timed(degrade, device, settings.warmup, settings.steps)
    step_flops = count_flops(train_step)
    rows += [
        Row(
            "training throughput",
            f"{batch / step_s:.1f} images/s",
            f"{shape}, fwd+bwd+AdamW, with degradation",
        ),
        Row("training step", f"{step_s * 1000:.1f} ms", shape),
        Row(
            "degradation share of a step",
            f"{degrade_s / step_s:.1%}",
            f"{degrade_s * 1000:.2f} ms of the step",
        ),
        Row("training FLOPs per image", si(step_flops / batch, "FLOP"), "fwd+bwd (+ loss network)"),
        Row("achieved training FLOP/s", si(step_flops / step_s, "FLOP/s"), shape),
    ]

    net.eval()
    single = degrade()[:1]
    with torch.inference_mode():
        latency_s = timed(lambda: net(single), device, settings.warmup, settings.steps)
        batch_s = timed(lambda: net(clean), device, settings.warmup, settings.steps)
        infer_flops = count_flops(lambda: net(single))
    rows += [
        Row("inference latency", f"{latency_s * 1000:.1f} ms", f"batch 1, {crop[0]}x{crop[1]} px"),
        Row("inference throughput", f"{batch / batch_s:.1f} images/s", shape),
        Row("inference FLOPs per image", si(infer_flops, "FLOP"), f"{crop[0]}x{crop[1]} px"),
        Row("achieved inference FLOP/s", si(infer_flops * batch / batch_s, "FLOP/s"), shape),
    ]

    dataset = hydra.utils.instantiate(cfg.data.train)
    size = (dataset.height, dataset.width)
    dataset[0]  # font loading is cached per process: not part of the steady state
    start = time.perf_counter()
    for i in range(settings.generator_samples):
        dataset[i]
    gen_rate = settings.generator_samples / (time.perf_counter() - start)
    workers_needed = batch / step_s / gen_rate
    rows.append(
        Row(
            "text generator per worker",
            f"{gen_rate:.0f} samples/s",
            f"{size[0]}x{size[1]} lines; training needs ~{workers_needed:.2g} workers",
        )
    )

    h, w = settings.screenshot
    if settings is FULL and device.type == "cpu":
        # End to end, as a user runs it: depix-restore on a 1920x1080 PNG with one 400x40 box.
        from depix.restore.bench import bench_restore

        result = bench_restore(repeats=3, threads=None)
        for stage, value in result["median"].items():
            rows.append(Row(f"{w}x{h} screenshot: {stage}", f"{value:.2f} s", result["case"]))
    else:
        screen = torch.rand(1, 3, h, w, device=device)
        with torch.inference_mode():
            screen_s = timed(lambda: net(screen), device, 1, 1)
        rows.append(
            Row(
                f"{w}x{h} screenshot",
                f"{screen_s:.2f} s",
                "model only: one forward pass, no tiling",
            )
        )
    rows.append(Row("peak memory", peak_memory(device), "whole benchmark process"))
    return rows


def render(rows: list[Row], device: torch.device, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("measure", "value", "setting", "device"):
        table.add_column(name, justify="right" if name == "value" else "left")
    label = device_label(device)
    for row in rows:
        table.add_row(row.measure, row.value, row.setting, label)
    return table


def main(argv: Sequence[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks it runs")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda")
    parser.add_argument(
        "overrides", nargs="*", help="configs/train.yaml overrides, e.g. model=unet_large"
    )
    args = parser.parse_args(argv)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rows = run_bench(QUICK if args.quick else FULL, device, args.overrides)
    title = (
        "depix bench"
        + (" (--quick)" if args.quick else "")
        + (f": {' '.join(args.overrides)}" if args.overrides else ": default config")
    )
    Console().print(render(rows, device, title))
    return rows


if __name__ == "__main__":
    main()
