"""Pixelation must equal the slow, obvious definition: each grid cell replaced by its mean."""

import pytest
import torch

from depix.degrade.mosaic import mosaic


def reference_mosaic(img: torch.Tensor, bh: int, bw: int, oy: int, ox: int) -> torch.Tensor:
    """Loop over cells; partial cells at the borders are averaged over their own pixels."""
    out = img.clone()
    h, w = img.shape[1:]
    ys = sorted({0, h, *range(oy % bh, h, bh)})
    xs = sorted({0, w, *range(ox % bw, w, bw)})
    for y0, y1 in zip(ys, ys[1:]):
        for x0, x1 in zip(xs, xs[1:]):
            out[:, y0:y1, x0:x1] = img[:, y0:y1, x0:x1].mean(dim=(1, 2), keepdim=True)
    return out


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_mosaic_matches_reference_per_sample(device):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 23, 37, generator=g, dtype=torch.float64)
    bh = torch.tensor([1, 2, 4, 5, 8, 23])
    bw = torch.tensor([1, 3, 4, 7, 8, 40])  # non-square, and one block wider than the image
    oy = torch.tensor([0, 1, 3, 4, 7, 5])
    ox = torch.tensor([0, 2, 1, 6, 0, 39])
    out = mosaic(x.to(device), bh.to(device), bw.to(device), oy.to(device), ox.to(device))
    assert out.device.type == device
    for i in range(6):
        ref = reference_mosaic(x[i], int(bh[i]), int(bw[i]), int(oy[i]), int(ox[i]))
        torch.testing.assert_close(out[i].cpu(), ref, rtol=0, atol=1e-12)


def test_mosaic_is_idempotent_and_block_one_is_identity():
    x = torch.rand(2, 3, 16, 20)
    once = mosaic(x, 4, 4, 1, 3)
    torch.testing.assert_close(mosaic(once, 4, 4, 1, 3), once)
    torch.testing.assert_close(mosaic(x, 1), x)
    assert not torch.allclose(once, x)


def test_mosaic_rejects_bad_input():
    with pytest.raises(ValueError, match="B, C, H, W"):
        mosaic(torch.rand(3, 8, 8), 2)
    with pytest.raises(ValueError, match="block sizes"):
        mosaic(torch.rand(1, 3, 8, 8), 0)
