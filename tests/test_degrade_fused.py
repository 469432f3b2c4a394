"""The batched averaging path: one mosaic for every mean-based mode, parameters on the CPU."""

import torch

from depix.degrade.averaging import MODES, pixelate_mode, pixelate_modes
from depix.degrade.mosaic import mosaic, separable_cell_means

from .test_mosaic import reference_mosaic


def test_mixed_mode_batch_equals_each_mode_alone():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (10, 3, 21, 34), generator=g).float() / 255
    modes = torch.tensor([0, 1, 2, 3, 4, 2, 1, 0, 0, 2])
    grid = [
        torch.randint(lo, hi, (10,), generator=g) for lo, hi in ((2, 7), (2, 9), (0, 6), (0, 8))
    ]
    box = torch.tensor([[0, 0, 21, 34]] * 5 + [[3, 4, 15, 30]] * 5)
    out = pixelate_modes(x, modes, *grid, box=box)
    for i in range(10):
        alone = pixelate_mode(
            x[i : i + 1], MODES[int(modes[i])], *(t[i : i + 1] for t in grid), box=box[i : i + 1]
        )
        assert torch.equal(out[i], alone[0]), i


def test_separable_cell_means_is_the_cell_mean():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (4, 3, 17, 23), generator=g).float()
    bh, bw = torch.tensor([3, 4, 5, 2]), torch.tensor([2, 6, 5, 7])
    oy, ox = torch.tensor([0, 2, 4, 1]), torch.tensor([1, 0, 3, 6])
    out = separable_cell_means(x, bh, bw, oy, ox)
    for i in range(4):
        ref = reference_mosaic(x[i], int(bh[i]), int(bw[i]), int(oy[i]), int(ox[i]))
        torch.testing.assert_close(out[i], ref.to(out.dtype), rtol=0, atol=1e-4)
    assert torch.equal(mosaic(x, bh, bw, oy, ox), out)  # mosaic's mean is this one
