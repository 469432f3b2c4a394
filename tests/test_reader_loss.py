"""The text-aware loss: a frozen reader compares restored and clean lines."""

from __future__ import annotations

import pytest
import torch

from depix.callbacks.checkpoint_io import CheckpointLoadError
from depix.losses.text_aware import TextAwareLoss
from depix.reader.loading import READER_FORMAT, READER_TARGET
from depix.reader.network import ReaderNet
from tests.test_reader import lines

KWARGS = {"widths": [8, 8, 8], "hidden": 8, "context": "conv", "layers": 2}


@pytest.fixture
def reader_file(tmp_path):
    torch.manual_seed(0)
    net = ReaderNet(**KWARGS)
    path = tmp_path / "reader.pt"
    model = {"_target_": READER_TARGET, **KWARGS}
    torch.save({"format": READER_FORMAT, "model": model, "state_dict": net.state_dict()}, path)
    return path


def test_zero_for_identical_lines_and_falls_as_the_restoration_gets_closer(reader_file):
    loss = TextAwareLoss(reader=reader_file, loss_weight=1.0)
    clean = lines(["hunter42", "Zx9-q"], block=1)
    far = lines(["hunter42", "Zx9-q"], block=8)
    assert float(loss(clean, clean)) == pytest.approx(0.0, abs=1e-6)
    values = [float(loss(clean + a * (far - clean), clean)) for a in (1.0, 0.5, 0.1)]
    assert values[0] > values[1] > values[2] > 0


def test_frozen_reader_gets_no_gradient_and_stays_in_eval(reader_file):
    loss = TextAwareLoss(reader=reader_file)
    loss.train()
    assert not loss.reader.training
    clean = lines(["abc"], block=1)
    pred = lines(["abc"], block=4).requires_grad_(True)
    loss(pred, clean).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.reader.parameters())


def test_missing_reader_is_a_one_line_error(tmp_path):
    with pytest.raises(CheckpointLoadError, match="no reader"):
        TextAwareLoss(reader=tmp_path / "none.pt")


def test_loss_config_choice_builds_the_composite_with_the_text_term(reader_file, tmp_path):
    import hydra

    from tests.conftest import compose_cfg

    cfg = compose_cfg(
        ["loss=text_aware", f"loss.terms.text.reader={reader_file}"], tmp_path / "run"
    )
    loss = hydra.utils.instantiate(cfg.loss)
    assert set(loss.terms) == {"pixel", "perceptual", "text"}
    clean = lines(["ok"], block=1)
    total, parts = loss(clean, clean)
    assert float(parts["text"]) == pytest.approx(0.0, abs=1e-6)
