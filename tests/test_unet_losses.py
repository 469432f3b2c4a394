"""The network and the losses: shapes, identity start, weights handling and its errors."""

import pytest
import torch

from depix.losses import CharbonnierLoss, CompositeLoss, L1Loss, PerceptualLoss
from depix.losses.perceptual import vgg16_features
from depix.models.unet import UNet


@pytest.mark.parametrize("stem,widths", [(1, (8,)), (2, (8, 16)), (4, (8, 16, 32))])
def test_unet_any_size_and_starts_near_identity(stem, widths):
    net = UNet(widths=widths, stem=stem)
    x = torch.rand(2, 3, 37, 53)  # not a multiple of anything
    y = net(x)
    assert y.shape == x.shape
    assert (y - x).abs().max() < 0.05  # residual head starts close to zero


def test_unet_rejects_bad_config():
    with pytest.raises(ValueError, match="norm"):
        UNet(widths=(8, 16), norm="weird")


def test_composite_loss_sums_terms():
    pred, target = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    loss = CompositeLoss({"a": L1Loss(2.0), "b": CharbonnierLoss(1.0, eps=0.0)})
    total, parts = loss(pred, target)
    assert parts["a"].item() == pytest.approx(2.0)
    assert total.item() == pytest.approx(3.0)


def test_perceptual_random_is_seeded_and_frozen():
    a, b = PerceptualLoss(seed=3), PerceptualLoss(seed=3)
    for pa, pb in zip(a.features.parameters(), b.features.parameters()):
        assert torch.equal(pa, pb) and not pa.requires_grad
    x = torch.rand(1, 3, 32, 32)
    assert a(x, x).item() == 0.0
    assert a(x, torch.rand_like(x)).item() > 0.0
    a.train()
    assert not a.features.training


def test_perceptual_loads_torchvision_format(tmp_path):
    # A state dict with torchvision's vgg16 key names and shapes (random values).
    full = vgg16_features(1.0)
    state = {f"features.{k}": torch.randn_like(v) for k, v in full.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    loss = PerceptualLoss(weights=str(path), width=1.0, layer_weights={"relu2_2": 1.0})
    torch.testing.assert_close(loss.features[0].weight, state["features.0.weight"])
    assert len(loss.features) == 9  # cut after relu2_2


def test_perceptual_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        PerceptualLoss(weights=str(tmp_path / "missing.pth"), width=1.0)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(RuntimeError, match="could not load ImageNet VGG-16 weights"):
        PerceptualLoss(weights="imagenet", width=1.0)
    with pytest.raises(ValueError, match="unknown VGG-16 layers"):
        PerceptualLoss(layer_weights={"relu9_9": 1.0})


def _fake_vgg_file(path) -> None:
    full = vgg16_features(1.0, last=3)
    torch.save({f"features.{k}": torch.randn_like(v) for k, v in full.state_dict().items()}, path)


def test_imagenet_vgg_file_must_match_torchvisions_hash(tmp_path, monkeypatch):
    """Never downloads: the download is replaced by a writer of a wrong file. A file whose
    SHA-256 does not start with torchvision's published prefix is refused, whether it was
    just downloaded (download_url_to_file is asked to check it) or found in the cache."""
    import depix.losses.perceptual as perceptual

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    asked = {}

    def fake_download(url, dst, hash_prefix=None, progress=True):
        asked.update(url=url, hash_prefix=hash_prefix)
        _fake_vgg_file(dst)  # what a tampering mirror would serve, were the check skipped

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    cached = tmp_path / "torch/hub/checkpoints/vgg16-397923af.pth"
    with pytest.raises(RuntimeError, match=r"SHA-256 starts [0-9a-f]{8}, expected 397923af"):
        PerceptualLoss(weights="imagenet", width=1.0, layer_weights={"relu1_2": 1.0})
    assert asked == {"url": perceptual.VGG16_URL, "hash_prefix": "397923af"}
    assert cached.is_file()  # a cached impostor is refused on every later use, too
    with pytest.raises(RuntimeError, match="delete it"):
        PerceptualLoss(weights="imagenet", width=1.0, layer_weights={"relu1_2": 1.0})
    # A cached file with the expected hash loads (prefix set to this fake file's hash).
    monkeypatch.setattr(perceptual, "VGG16_SHA256_PREFIX", perceptual.sha256_of(cached)[:8])
    loss = PerceptualLoss(weights="imagenet", width=1.0, layer_weights={"relu1_2": 1.0})
    state = torch.load(cached, weights_only=True)
    torch.testing.assert_close(loss.features[0].weight, state["features.0.weight"])
