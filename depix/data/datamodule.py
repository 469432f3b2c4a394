"""The DataModule owns all data logic: clean images on the CPU, pixelation on the device."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from depix.data.resumable import ResumableSampler, SeededSamples
from depix.degrade.pipeline import Degradation


class DepixDataModule(pl.LightningDataModule):
    """Yields batches ``{"image": clean, "input": degraded, "params": {...}, "text": [...]}``.

    Data loaders return only clean images; ``on_after_batch_transfer`` degrades them on the
    device the batch now lives on (CPU, GPU, each DDP rank). Everything random is a function
    of the batch itself: clean samples are drawn as a function of (seed, epoch, position)
    (``ResumableSampler``), and the degradation parameters of a batch come from a CPU
    generator seeded by its first sample's seed. So there is no generator state to save:
    a resumed run, on any number of ranks, degrades every batch as the uninterrupted run
    did, and every run sees the same degraded validation set.

    ``repeat`` (training only): each clean sample is used for that many consecutive samples of
    a batch, each pixelated with its own degradation parameters, so a data-loader worker
    renders ``1 / repeat`` of the lines it delivers (for GPUs that outrun the renderer; see
    ``ResumableSampler``).
    """

    def __init__(
        self,
        train: Dataset,
        val: Dataset,
        degradation: Degradation,
        test: Dataset | None = None,
        batch_size: int = 16,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
        repeat: int = 1,
        root: str | None = None,
        val_root: str | None = None,
    ) -> None:
        """``train``/``val``/``test``: datasets of clean samples; ``root``/``val_root``: the
        image folders of ``data=folder`` (its datasets read them; kept here so that the
        command-line keys ``data.root`` / ``data.val_root`` are plain config values)."""
        super().__init__()
        self.root, self.val_root = root, val_root
        self.train_set, self.val_set, self.test_set = train, val, test
        self.degradation = degradation
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.repeat = repeat

    def _loader(
        self,
        dataset: Dataset | None,
        batch_size: int,
        shuffle: bool,
        sampler: Sampler | None = None,
    ) -> DataLoader:
        if dataset is None:
            raise ValueError("this DataModule has no dataset for that stage (set data.test)")
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle if sampler is None else None,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        sampler = ResumableSampler(
            self.train_set,
            seed=self.seed,
            num_replicas=trainer.world_size if trainer is not None else 1,
            rank=trainer.global_rank if trainer is not None else 0,
            repeat=self.repeat,
        )
        if trainer is not None:  # resumed mid-epoch: continue the epoch's stream, not restart it
            # "processed": a checkpoint written in on_train_batch_end has not "completed" it yet
            done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
            if 0 < done < len(sampler) // self.batch_size:
                sampler.resume_within_epoch(trainer.current_epoch, done * self.batch_size)
        return self._loader(SeededSamples(self.train_set), self.batch_size, True, sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.val_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set or self.val_set, self.val_batch_size, shuffle=False)

    @staticmethod
    def _generator_for(batch: dict) -> torch.Generator:
        # Sample seeds are random 62-bit draws of the sample's own stream: independent of the
        # numbers that rendered it, distinct per position, epoch and rank.
        return torch.Generator().manual_seed(int(batch["seed"][0]))

    def degrade(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        """Add ``input`` (degraded ``image``) and the degradation ``params`` to ``batch``."""
        generator = generator or self._generator_for(batch)
        batch["input"], batch["params"] = self.degradation(batch["image"], generator)
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return self.degrade(batch)

    def state_dict(self) -> dict[str, Any]:
        return {}  # nothing to save: see the class docstring

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Accepts checkpoints of older versions (they saved a generator state, now unused)."""
