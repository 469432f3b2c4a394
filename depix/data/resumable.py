"""A training sample stream that is a pure function of (seed, epoch, position).

Why: the synthetic and folder datasets draw each training sample from the global
``random`` state (and a worker's state depends on how many workers ran before), and the
shuffle order comes from torch's global RNG. None of that is in a Lightning checkpoint,
so a resumed run would see different samples than the uninterrupted one. Here the
sampler yields ``(index, sample_seed)`` pairs derived from the seed, the epoch and the
position in the epoch, and ``SeededSamples`` seeds Python's, NumPy's and torch's global
RNGs with ``sample_seed`` around each ``dataset[index]`` call. Lightning restores the
epoch and the batches done in it, so a resumed run draws exactly the samples the
uninterrupted run drew, whatever the number of workers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, get_worker_info


def derived_seed(*parts: int) -> int:
    """A 63-bit seed from integers; stable across processes and Python versions (SHA-512)."""
    return random.Random("/".join(str(int(p)) for p in parts)).getrandbits(63)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class SeededSamples(Dataset):
    """``dataset[index]`` with the global RNGs seeded by the sample's own seed.

    In the main process (``num_workers=0``) the caller's RNG states are restored
    afterwards, so the training process's own random streams are not disturbed
    (about 0.4 ms per sample, against milliseconds to render one).
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._last: tuple[tuple[int, int], dict] | None = None  # the last (index, seed), sample

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int] | int):
        # A plain index: Lightning replaced the sampler (``overfit_batches`` uses a sequential
        # one); the sample's seed is then a function of the index, so the batches repeat.
        index, seed = (key, derived_seed(key, -2)) if isinstance(key, int) else key
        if self._last is not None and self._last[0] == (index, seed):
            return dict(self._last[1])  # a repeated sample (ResumableSampler's repeat): made once
        sample = self._make(index, seed)
        self._last = ((index, seed), sample)
        return dict(sample)

    def _make(self, index: int, seed: int):
        if get_worker_info() is not None:  # a worker's RNG serves only the samples: no restore
            _seed_all(seed)
            return self.dataset[index]
        python_state, numpy_state = random.getstate(), np.random.get_state()
        try:
            with torch.random.fork_rng(devices=[]):
                _seed_all(seed)
                return self.dataset[index]
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


class ResumableSampler(DistributedSampler):
    """Shuffles by ``(seed, epoch)`` and pairs every position with its own sample seed.

    A ``DistributedSampler`` subclass so that Lightning keeps it under DDP instead of
    wrapping it (it shards by ``rank``/``num_replicas`` itself) and calls ``set_epoch``
    before every epoch. Positions are global (over all ranks), so the stream of a rank
    depends only on (seed, epoch, rank, world size).

    ``repeat`` > 1 gives each run of ``repeat`` consecutive positions of a rank the index and
    seed of the run's first position: the same clean sample, which a data-loader worker renders
    once (the dataset keeps its last sample) and the degradation pixelates differently each
    time. ``repeat=1`` is the plain stream.
    """

    _resume: tuple[int, int] | None = None  # (epoch, samples of it already done)

    def __init__(
        self,
        dataset: Dataset,
        seed: int,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        repeat: int = 1,
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        if int(repeat) < 1:
            raise ValueError(f"repeat must be >= 1, got {repeat}")
        self.repeat = int(repeat)

    def resume_within_epoch(self, epoch: int, done: int) -> None:
        """Skip the first ``done`` samples (of this rank) of ``epoch``: a mid-epoch resume.

        ``len()`` stays the full epoch, as Lightning counts the batches already done.
        """
        self._resume = (epoch, done) if done > 0 else None

    def __iter__(self) -> Iterator[tuple[int, int]]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            generator = torch.Generator().manual_seed(derived_seed(self.seed, self.epoch, -1))
            order = torch.randperm(n, generator=generator).tolist()
        else:
            order = list(range(n))
        order += order[: self.total_size - n]  # pad so every rank gets as many samples
        skip = 0
        if self._resume is not None and self._resume[0] == self.epoch:
            skip, self._resume = self._resume[1], None
        for local in range(skip, self.num_samples):
            first = self.rank + (local - local % self.repeat) * self.num_replicas
            yield order[first], derived_seed(self.seed, self.epoch, first)
