"""``make bench``: how fast depix trains, restores and generates data on this machine.

    python -m depix.bench [--quick] [--device cuda] [--batch 256] [--workers 14]
        [--switch channels_last] [--switch compile] [hydra overrides of configs/train.yaml ...]

Composes the training config (so it measures the default model, loss and degradation, or
whatever overrides say), then times each part separately with warm-up steps and device
synchronisation: the training step, the model step alone, the degradation alone, data
loading per worker and with N workers, so the slowest stage (the ``bottleneck`` row) is
visible in one table, at the config's batch and (on CUDA) at batch 256, with the achieved
FLOP/s and its share of the card's bf16 peak. Prints a Rich table; speed numbers are never
asserted in tests.
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
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from depix.data.resumable import ResumableSampler, SeededSamples
from depix.train import CONFIG_DIR


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions; ``quick`` shrinks everything to a smoke test."""

    batch: int | None  # None = the config's data.batch_size
    crop: tuple[int, int] | None  # None = the config's data.train.size
    warmup: int
    steps: int
    generator_samples: int
    loader_batches: int  # batches timed through a DataLoader with workers
    screenshot: tuple[int, int]  # (H, W) of the full-screen restoration


FULL = Settings(None, None, 2, 8, 64, 6, screenshot=(1080, 1920))
QUICK = Settings(2, (32, 64), 1, 2, 4, 2, screenshot=(128, 192))
GPU_BATCH = 256  # the batch a GPU trains the default model at (issue 14); measured too on CUDA

# Dense bf16 tensor-core peak (TFLOP/s, no sparsity) of common training cards, from the vendors'
# data sheets; the share of it that a step reaches is reported when the card is listed.
BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
    "RTX 4090": 165.0,
}


def bf16_peak(device: torch.device) -> float | None:
    """The card's dense bf16 peak in FLOP/s, or None (CPU, or a card not in the table)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, tflops in BF16_PEAK_TFLOPS.items():  # longest names first where they overlap
        if key in name:
            return tflops * 1e12
    return None


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


def lines(rate: float) -> str:
    """A rate in lines/s, with a decimal when it is small (a loaded CPU)."""
    return f"{rate:,.0f} lines/s" if rate >= 100 else f"{rate:.1f} lines/s"


def _autocast(device: torch.device, precision: str):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def bench_training(
    cfg: DictConfig,
    device: torch.device,
    batch: int,
    crop: tuple[int, int],
    settings: Settings,
    precision: str,
    switches: Sequence[str],
) -> list[Row]:
    """Training step with and without degradation, degradation alone, FLOP/s; at ``batch``.

    ``switches``: extra model-step variants measured in the same table: ``channels_last``
    (NHWC memory format) and ``compile`` (``torch.compile`` of the network).
    """
    torch.manual_seed(0)
    shape = f"batch {batch}, {crop[0]}x{crop[1]} px, {precision}"
    net = hydra.utils.instantiate(cfg.model).to(device)
    loss = hydra.utils.instantiate(cfg.loss).to(device)
    degradation = hydra.utils.instantiate(cfg.degradation)
    optimizer = hydra.utils.instantiate(cfg.optimizer)(params=net.parameters())
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(batch, 3, *crop, device=device)
    degraded = degradation(clean, generator)[0]

    def degrade() -> torch.Tensor:
        return degradation(clean, generator)[0]

    def step(model: torch.nn.Module, inputs: Callable[[], torch.Tensor], target) -> None:
        with _autocast(device, precision):
            total, _ = loss(model(inputs()), target)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    net.train()
    train_s = timed(lambda: step(net, degrade, clean), device, settings.warmup, settings.steps)
    model_s = timed(
        lambda: step(net, lambda: degraded, clean), device, settings.warmup, settings.steps
    )
    degrade_s = timed(degrade, device, settings.warmup, settings.steps)
    flops = count_flops(lambda: step(net, lambda: degraded, clean))
    peak = bf16_peak(device)
    achieved = f"{si(flops / model_s, 'FLOP/s')}"
    if peak:
        achieved += f" ({flops / model_s / peak:.1%} of bf16 peak)"
    rows = [
        Row("training throughput", lines(batch / train_s), f"{shape}, with degradation"),
        Row("training step", f"{train_s * 1000:.1f} ms", shape),
        Row("model step alone", lines(batch / model_s), f"{shape}, fwd+bwd+AdamW"),
        Row("degradation alone", lines(batch / degrade_s), f"{shape}, {device.type}"),
        Row(
            "degradation share of a step",
            f"{degrade_s / train_s:.1%}",
            f"{degrade_s * 1000:.2f} ms of {train_s * 1000:.1f} ms (batch {batch})",
        ),
        Row("training FLOPs per image", si(flops / batch, "FLOP"), "fwd+bwd (+ loss network)"),
        Row("achieved training FLOP/s", achieved, f"model step, {shape}"),
    ]
    for switch in switches:
        variant = net
        target, inputs = clean, degraded
        if switch == "channels_last":
            variant = net.to(memory_format=torch.channels_last)
            target = clean.contiguous(memory_format=torch.channels_last)
            inputs = degraded.contiguous(memory_format=torch.channels_last)
        elif switch == "compile":
            variant = torch.compile(net)
        else:
            raise ValueError(f"unknown switch {switch!r}; choose from channels_last, compile")
        # compile: the warm-up calls compile (not timed)
        s = timed(
            lambda v=variant, i=inputs, t=target: step(v, lambda: i, t),
            device,
            settings.warmup + 1,
            settings.steps,
        )
        rows.append(
            Row(
                f"model step alone, {switch.replace('_', ' ')}",
                lines(batch / s),
                f"{shape}; {model_s / s:.2f}x the default layout",
            )
        )
        net = net.to(memory_format=torch.contiguous_format)
    net.eval()
    return rows


def bench_inference(cfg: DictConfig, device: torch.device, batch: int, crop, settings) -> list[Row]:
    torch.manual_seed(0)
    net = hydra.utils.instantiate(cfg.model).to(device).eval()
    clean = torch.rand(batch, 3, *crop, device=device)
    single = clean[:1]
    with torch.inference_mode():
        latency_s = timed(lambda: net(single), device, settings.warmup, settings.steps)
        batch_s = timed(lambda: net(clean), device, settings.warmup, settings.steps)
        infer_flops = count_flops(lambda: net(single))
    shape = f"batch {batch}, {crop[0]}x{crop[1]} px"
    rows = [
        Row("inference latency", f"{latency_s * 1000:.1f} ms", f"batch 1, {crop[0]}x{crop[1]} px"),
        Row("inference throughput", f"{batch / batch_s:,.1f} images/s", shape),
        Row("inference FLOPs per image", si(infer_flops, "FLOP"), f"{crop[0]}x{crop[1]} px"),
        Row("achieved inference FLOP/s", si(infer_flops * batch / batch_s, "FLOP/s"), shape),
    ]
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
    return rows


def bench_data(cfg: DictConfig, batch: int, workers: int, settings: Settings) -> list[Row]:
    """Clean lines/s of the training data: one worker in process, and a DataLoader of
    ``workers`` processes (as training runs it: resumable sampler, per-sample seeds,
    ``data.repeat``)."""
    dataset = hydra.utils.instantiate(cfg.data.train)
    repeat = int(cfg.data.get("repeat", 1))
    samples = SeededSamples(dataset)
    keys = iter(ResumableSampler(dataset, seed=0, repeat=repeat))
    samples[next(keys)]  # font loading is cached per process: not part of the steady state
    start = time.perf_counter()
    for _ in range(settings.generator_samples):
        samples[next(keys)]
    per_worker = settings.generator_samples / (time.perf_counter() - start)
    size = f"{dataset.height}x{dataset.width}" if hasattr(dataset, "height") else "data.train"
    label = f"{size} lines" + (f", repeat {repeat}" if repeat > 1 else "")
    rows = [Row("data loading per worker", lines(per_worker), label)]
    if workers > 0:
        loader = DataLoader(
            samples,
            batch_size=batch,
            sampler=ResumableSampler(dataset, seed=1, repeat=repeat),
            num_workers=workers,
            drop_last=True,
        )
        batches = iter(loader)
        next(batches)  # worker start-up
        start = time.perf_counter()
        count = 0
        for _ in range(settings.loader_batches):
            count += len(next(batches)["image"])
        rate = count / (time.perf_counter() - start)
        rows.append(
            Row(
                f"data loading, {workers} workers",
                lines(rate),
                f"{label}, batch {batch}",
            )
        )
        del batches
    return rows


def _rate(rows: list[Row], measure: str) -> float | None:
    """The lines/s of the last row named ``measure`` (the largest batch measured)."""
    row = next((r for r in reversed(rows) if r.measure == measure), None)
    return None if row is None else float(row.value.split()[0].replace(",", ""))


def bottleneck(rows: list[Row]) -> Row:
    """Which stage limits training: the slowest of data loading, degradation, model step."""
    loading = [r for r in rows if r.measure.startswith("data loading")]
    stages = {
        "data loading": _rate(loading, loading[-1].measure) if loading else None,
        "degradation": _rate(rows, "degradation alone"),
        "model step": _rate(rows, "model step alone"),
    }
    known = {k: v for k, v in stages.items() if v}
    slowest = min(known, key=known.get)
    parts = ", ".join(f"{k} {lines(v)}" for k, v in known.items())
    return Row("bottleneck", slowest, f"{parts} (largest batch measured)")


def run_bench(
    settings: Settings,
    device: torch.device,
    overrides: Sequence[str] = (),
    batches: Sequence[int] = (),
    workers: int | None = None,
    precision: str | None = None,
    switches: Sequence[str] = (),
) -> list[Row]:
    """Every measurement of the table, in order.

    ``batches``: training batch sizes to measure (default: the config's, plus 256 on CUDA);
    ``workers``: data-loader processes for the loading row (default: ``data.num_workers``);
    ``precision``: ``bf16`` (autocast, as ``trainer=gpu``) or ``32`` (default: bf16 on CUDA).
    """
    cfg = compose_train(overrides)
    precision = precision or ("bf16" if device.type == "cuda" else "32")
    crop = settings.crop or tuple(int(s) for s in cfg.data.train.size)
    default_batch = settings.batch or int(cfg.data.batch_size)
    sizes = list(batches) or [default_batch] + ([GPU_BATCH] if device.type == "cuda" else [])
    rows: list[Row] = []
    for batch in dict.fromkeys(sizes):
        rows += bench_training(cfg, device, batch, crop, settings, precision, switches)
    rows += bench_inference(cfg, device, default_batch, crop, settings)
    n_workers = int(cfg.data.num_workers) if workers is None else workers
    rows += bench_data(cfg, max(sizes), n_workers if settings is FULL else workers or 0, settings)
    rows.append(bottleneck(rows))
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
        "--batch",
        type=int,
        action="append",
        default=[],
        help="training batch size to measure (repeatable; default: config's, plus 256 on CUDA)",
    )
    parser.add_argument("--workers", type=int, help="data-loader processes (default: config's)")
    parser.add_argument("--precision", choices=("bf16", "32"), help="default: bf16 on CUDA")
    parser.add_argument(
        "--switch",
        action="append",
        default=[],
        choices=("channels_last", "compile"),
        help="also time the model step with this switch (repeatable; on CUDA both by default)",
    )
    parser.add_argument(
        "overrides", nargs="*", help="configs/train.yaml overrides, e.g. model=unet_large"
    )
    args = parser.parse_args(argv)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    switches = args.switch or (["channels_last", "compile"] if device.type == "cuda" else [])
    rows = run_bench(
        QUICK if args.quick else FULL,
        device,
        args.overrides,
        batches=args.batch,
        workers=args.workers,
        precision=args.precision,
        switches=switches,
    )
    title = (
        "depix bench"
        + (" (--quick)" if args.quick else "")
        + (f": {' '.join(args.overrides)}" if args.overrides else ": default config")
    )
    Console().print(render(rows, device, title))
    return rows


if __name__ == "__main__":
    main()
