"""Synthetic text, image folders and the DataModule's on-device degradation."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from depix.data.datamodule import DepixDataModule
from depix.data.folder import (
    ImageFolderDataset,
    ImageFolderError,
    ImageReadError,
    list_images,
    load_rgb,
)
from depix.data.resumable import ResumableSampler, SeededSamples
from depix.data.synthetic_text import SyntheticTextDataset
from depix.degrade.ops import Pixelate, Quantize
from depix.degrade.pipeline import Degradation


def test_synthetic_seeded_samples_are_fixed_and_varied():
    a = SyntheticTextDataset(length=8, seed=7)
    b = SyntheticTextDataset(length=8, seed=7)
    for i in range(8):
        assert torch.equal(a[i]["image"], b[i]["image"]) and a[i]["text"] == b[i]["text"]
    texts = {a[i]["text"] for i in range(8)}
    assert len(texts) == 8
    sample = a[0]
    assert sample["image"].shape == (3, 48, 192) and sample["image"].dtype == torch.float32
    assert sample["image"].min() >= 0.0 and sample["image"].max() <= 1.0
    assert sample["image"].std() > 0.05  # something was drawn


def test_synthetic_training_samples_differ():
    ds = SyntheticTextDataset(length=4, seed=None)
    assert not torch.equal(ds[0]["image"], ds[0]["image"])


def test_synthetic_rejects_font_larger_than_line():
    with pytest.raises(ValueError, match="does not fit"):
        SyntheticTextDataset(size=(16, 64), font_sizes=(12, 30))


def _save(path, mode, size=(80, 40)):
    rng = np.random.default_rng(0)
    if mode == "I;16":
        Image.fromarray(rng.integers(0, 65535, size[::-1], dtype=np.uint16)).save(path)
        return
    base = Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8))
    if mode == "P":
        base = base.convert("P", palette=Image.ADAPTIVE)
    elif mode != "RGB":
        base = base.convert(mode)
    base.save(path)


@pytest.mark.parametrize(
    "mode,ext",
    [
        ("L", "png"),
        ("LA", "png"),
        ("P", "png"),
        ("RGBA", "png"),
        ("I;16", "png"),
        ("CMYK", "jpg"),
        ("RGB", "webp"),
        ("1", "png"),
    ],
)
def test_load_rgb_any_mode(tmp_path, mode, ext):
    path = tmp_path / f"img.{ext}"
    _save(path, mode)
    array = load_rgb(path)
    assert array.shape == (40, 80, 3) and array.dtype == np.uint8
    if mode == "I;16":
        assert array.max() > 100  # scaled down from 16 bits, not clipped to 255 everywhere
        assert array.min() < 50


def test_folder_errors(tmp_path):
    with pytest.raises(ImageFolderError, match="does not exist"):
        list_images(tmp_path / "nope")
    with pytest.raises(ImageFolderError, match="holds no images"):
        list_images(tmp_path)
    _save(tmp_path / "small.png", "RGB", size=(30, 20))
    with pytest.raises(ImageFolderError, match=r"no usable image.*1 smaller than the crop"):
        ImageFolderDataset(str(tmp_path), size=(32, 64))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="junk.png"):
        load_rgb(tmp_path / "junk.png")


MODES = [("L", "png"), ("LA", "png"), ("P", "png"), ("RGBA", "png"), ("I;16", "png")]
MODES += [("CMYK", "jpg"), ("RGB", "webp"), ("1", "png")]


def screenshot_folder(root):
    """Every mode in nested folders, plus a 1x1 image, a truncated PNG and a junk file."""
    for i, (mode, ext) in enumerate(MODES):
        path = root / f"level{i % 3}" / ("deep" * (i % 2)) / f"shot{i}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        _save(path, mode, (100, 50))
    Image.new("RGB", (1, 1)).save(root / "tiny.png")
    (root / "junk.png").write_bytes(b"\x89PNG garbage")
    _save(root / "cut.png", "RGB", size=(100, 50))
    data = (root / "cut.png").read_bytes()
    (root / "cut.png").write_bytes(data[: len(data) // 2])  # header reads, pixels do not
    return root


def test_folder_skips_and_counts_tiny_and_unreadable(tmp_path, caplog):
    root = screenshot_folder(tmp_path)
    with caplog.at_level("WARNING"):
        ds = ImageFolderDataset(str(root), size=(32, 64), length=40, seed=1)
    assert len(ds.files) == len(MODES) + 1  # every mode, nested; cut.png's header is fine
    assert sorted(s.split(":")[0].rsplit("/", 1)[1] for s in ds.skipped) == ["junk.png", "tiny.png"]
    assert "skipped 2 of 11 image(s): 1 unreadable, 1 smaller than the crop" in caplog.text
    crops = [ds[i]["image"] for i in range(40)]  # draws cut.png too: skipped, never raised
    assert all(c.shape == (3, 32, 64) for c in crops)
    assert any("cut.png" in s for s in ds.skipped) and len(ds.skipped) == 3
    assert torch.equal(crops[0], ds[0]["image"])  # fixed crops when seeded


def test_folder_skips_and_counts_unreadable(tmp_path):
    _save(tmp_path / "a.png", "RGB", size=(100, 50))
    _save(tmp_path / "b.jpg", "L", size=(100, 50))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    ds = ImageFolderDataset(str(tmp_path), size=(32, 64), length=6, seed=1)
    assert len(ds.files) == 2 and len(ds.skipped) == 1
    crops = [ds[i]["image"] for i in range(6)]
    assert all(c.shape == (3, 32, 64) for c in crops)


@pytest.mark.slow
def test_readme_own_images_example_trains(tiny_cfg, tmp_path):
    # README: depix-train data=folder data.root=~/screenshots (here shrunk to a few steps)
    from depix.train import train

    root = screenshot_folder(tmp_path / "screenshots")
    cfg = tiny_cfg(
        f"data.root={root}", "data=folder", "data.train.size=[32,64]", "data.train.length=12"
    )
    assert train(cfg) is not None
    result = (tmp_path / "run" / "result.json").read_text()
    assert '"global_step": 3' in result


def _datamodule():
    deg = Degradation([Pixelate((4, 6)), Quantize()])
    val = SyntheticTextDataset(length=8, seed=3)
    return DepixDataModule(train=val, val=val, degradation=deg, batch_size=4)


def test_datamodule_degrades_on_batch_device_reproducibly():
    dm = _datamodule()
    batch = next(iter(dm.val_dataloader()))
    out1 = dm.on_after_batch_transfer(dict(batch), 0)
    out2 = dm.on_after_batch_transfer(dict(batch), 0)
    assert out1["input"].device == batch["image"].device
    assert torch.equal(out1["input"], out2["input"])  # validation: same degradation every time
    assert not torch.equal(out1["input"], batch["image"])
    blocks = out1["params"]["pixelate.block_h"]
    assert ((blocks >= 4) & (blocks <= 6)).all()
    # 8-bit output
    assert torch.equal(out1["input"], torch.round(out1["input"] * 255) / 255)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_datamodule_degrades_on_gpu():
    dm = _datamodule()
    batch = next(iter(dm.val_dataloader()))
    batch = {k: v.cuda() if torch.is_tensor(v) else v for k, v in batch.items()}
    out = dm.on_after_batch_transfer(batch, 0)
    assert out["input"].is_cuda


def test_training_degradation_is_a_function_of_the_batch():
    """No generator state: a resumed run (on any rank) degrades a batch as the first run did."""
    first_run, resumed = _datamodule(), _datamodule()
    for dm in (first_run, resumed):
        dm.trainer = SimpleNamespace(training=True, global_rank=0, world_size=1)
    loader = iter(
        DataLoader(
            SeededSamples(first_run.train_set),
            batch_size=4,
            sampler=ResumableSampler(first_run.train_set, seed=3),
        )
    )
    batch0, batch1 = next(loader), next(loader)
    first_run.degrade(dict(batch0))
    a = first_run.degrade(dict(batch1))
    b = resumed.degrade(dict(batch1))  # the resumed run starts at batch 1
    assert torch.equal(a["input"], b["input"])
    c = first_run.degrade(dict(batch0))
    keys = ("pixelate.block_h", "pixelate.offset_y", "pixelate.offset_x")
    assert any(not torch.equal(c["params"][k], a["params"][k]) for k in keys)  # own draws
    assert first_run.state_dict() == {}
    first_run.load_state_dict({"generator": torch.Generator().get_state()})  # old checkpoints load
