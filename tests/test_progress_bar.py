import pytorch_lightning as pl

from depix.callbacks.progress import DepixProgressBar


def _description(**trainer_kwargs) -> str:
    bar = DepixProgressBar()
    trainer = pl.Trainer(
        callbacks=[bar], logger=False, enable_checkpointing=False, **trainer_kwargs
    )
    bar.setup(trainer, None, "fit")  # what Lightning does when fitting starts
    return bar._get_train_description(3).strip()


def test_a_step_budget_is_shown_instead_of_a_negative_last_epoch():
    assert _description(max_epochs=-1, max_steps=500) == "Epoch 3 of a 500-step run"


def test_an_epoch_budget_keeps_lightnings_title():
    assert _description(max_epochs=10) == "Epoch 3/9"
