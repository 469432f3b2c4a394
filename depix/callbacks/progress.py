"""Rich progress bar whose title says what bounds the run.

Lightning's ``RichProgressBar`` titles the training bar ``Epoch e/max_epochs-1``, which reads
``Epoch 3/-2`` for depix's step-budgeted recipes (``max_epochs: -1``). This one shows the epoch
alone there, and the step budget (``max_steps``) when one is set.
"""

from __future__ import annotations

from pytorch_lightning.callbacks import RichProgressBar


class DepixProgressBar(RichProgressBar):
    """``RichProgressBar`` with ``Epoch e`` (+ ``/E`` only for a real epoch budget) and
    ``of a S-step run`` for a step budget.

    Overrides ``_get_train_description``, a private method of Lightning's bar (present in the
    pytorch-lightning range pinned in pyproject.toml; a test fails if it goes away).
    """

    def _get_train_description(self, current_epoch: int) -> str:
        trainer = self.trainer
        description = f"Epoch {current_epoch}"
        if trainer.max_epochs is not None and trainer.max_epochs > 0:
            description += f"/{trainer.max_epochs - 1}"
        if trainer.max_steps is not None and trainer.max_steps > 0:
            description += f" of a {trainer.max_steps}-step run"
        if len(self.validation_description) > len(description):
            description = f"{description:{len(self.validation_description)}}"
        return description
