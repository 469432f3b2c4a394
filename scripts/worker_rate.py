"""Lines per CPU-second of one data-loader worker, drawn exactly as a training worker draws them.

Load-independent (CPU time of this process, one thread), so old and new code can be compared on
a busy machine::

    python scripts/worker_rate.py 1000 1 pillow      # this checkout, plain stream
    python scripts/worker_rate.py 1000 4 pillow      # data.repeat=4 (lines delivered)
    PYTHONPATH=<old checkout> python scripts/worker_rate.py 1000 1 -   # code without engines

Arguments: lines to draw, ``repeat`` (ignored by code without it), renderer engine (``-`` = the
dataset's default, for code that has no ``engine`` knob). Prints ``<rate> lines/CPU-s``.
"""

import inspect
import sys
import time

import torch

import depix.data.resumable as resumable
from depix.data.resumable import ResumableSampler, SeededSamples
from depix.data.synthetic_text import SyntheticTextDataset


def main() -> None:
    torch.set_num_threads(1)
    count, repeat, engine = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    kwargs = dict(length=8000, size=(48, 192), font_sizes=(14, 28), font_split="train", seed=None)
    if engine != "-":
        kwargs["engine"] = engine
    dataset = SyntheticTextDataset(**kwargs)
    sampler_kwargs: dict = {"seed": 42}
    if "repeat" in inspect.signature(ResumableSampler).parameters:
        sampler_kwargs["repeat"] = repeat
    sampler = ResumableSampler(dataset, **sampler_kwargs)
    sampler.set_epoch(3)
    resumable.get_worker_info = lambda: object()  # take the worker's path (no RNG restore)
    samples = SeededSamples(dataset)
    positions = iter(sampler)
    for _ in range(40):  # font caches warm as in a running worker
        samples[next(positions)]
    start = time.process_time()
    for _ in range(count):
        samples[next(positions)]
    print(f"{count / (time.process_time() - start):.0f} lines/CPU-s")


if __name__ == "__main__":
    main()
