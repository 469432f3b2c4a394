"""Every degradation op against a slow, obvious reference; exact where real tools are exact."""

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from depix.degrade.averaging import MODES, pixelate_mode
from depix.degrade.colours import ReduceColours
from depix.degrade.filters import Blur, Noise
from depix.degrade.jpeg import Jpeg
from depix.degrade.jpeg_codec import quality_tables
from depix.degrade.mosaic import mosaic
from depix.degrade.ops import Pixelate, Quantize
from depix.degrade.pipeline import Degradation
from depix.degrade.rescale import INTERPOLATIONS, Rescale

from .test_mosaic import reference_mosaic

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def cells(h: int, w: int, bh: int, bw: int, oy: int, ox: int):
    """(y0, y1, x0, x1) of every grid cell, partial border cells included."""
    ys = sorted({0, h, *range(oy % bh, h, bh)})
    xs = sorted({0, w, *range(ox % bw, w, bw)})
    return [(y0, y1, x0, x1) for y0, y1 in zip(ys, ys[1:]) for x0, x1 in zip(xs, xs[1:])]


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    return np.where(v > 0.0031308, 1.055 * np.power(v, 1 / 2.4) - 0.055, 12.92 * v)


def reference_mode(img: torch.Tensor, mode: str, bh: int, bw: int, oy: int, ox: int):
    """One image (C, H, W) of 8-bit values, pixelated cell by cell in plain Python/numpy."""
    a = img.double().numpy()
    levels = np.round(a * 255).astype(np.int64)
    out = np.empty_like(a)
    for y0, y1, x0, x1 in cells(a.shape[1], a.shape[2], bh, bw, oy, ox):
        cell = a[:, y0:y1, x0:x1]
        n = (y1 - y0) * (x1 - x0)
        if mode == "srgb":  # round half up, in integers
            value = (2 * levels[:, y0:y1, x0:x1].sum(axis=(1, 2)) + n) // (2 * n) / 255
        elif mode == "srgb_trunc":  # C integer division of 8-bit sums
            value = levels[:, y0:y1, x0:x1].sum(axis=(1, 2)) // n / 255
        elif mode == "linear":
            mean = srgb_to_linear(cell).mean(axis=(1, 2))
            value = np.round(linear_to_srgb(mean) * 255) / 255
        elif mode == "center":
            value = cell[:, (y1 - y0) // 2, (x1 - x0) // 2]
        else:  # corner
            value = cell[:, 0, 0]
        out[:, y0:y1, x0:x1] = value[:, None, None]
    return torch.from_numpy(out)


def eight_bit(*shape, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g).double() / 255


@pytest.mark.parametrize("mode", MODES)
def test_averaging_mode_matches_reference_exactly(mode):
    x = eight_bit(5, 3, 19, 29)
    bh, bw = torch.tensor([2, 3, 4, 5, 7]), torch.tensor([2, 4, 4, 3, 9])
    oy, ox = torch.tensor([0, 1, 3, 2, 6]), torch.tensor([1, 0, 2, 2, 5])
    out = pixelate_mode(x, mode, bh, bw, oy, ox)
    for i in range(5):
        ref = reference_mode(x[i], mode, int(bh[i]), int(bw[i]), int(oy[i]), int(ox[i]))
        torch.testing.assert_close(out[i], ref, rtol=0, atol=1e-9)


def test_truncation_differs_from_rounding_where_it_must():
    # cells of levels (0, 1) and (1, 2): means 0.5 and 1.5 -> truncated 0 and 1,
    # rounded half up 1 and 2.
    x = torch.tensor([0.0, 1.0, 1.0, 2.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4) / 255
    b, o = torch.tensor([1]), torch.tensor([0])
    trunc = pixelate_mode(x, "srgb_trunc", b, torch.tensor([2]), o, o)[0, 0, 0] * 255
    rounded = pixelate_mode(x, "srgb", b, torch.tensor([2]), o, o)[0, 0, 0] * 255
    assert trunc.round().tolist() == [0, 0, 1, 1]
    assert rounded.round().tolist() == [1, 1, 2, 2]


def test_linear_mean_is_brighter_than_srgb_mean_on_black_white():
    x = torch.zeros(1, 3, 2, 2)
    x[..., 0, :] = 1.0  # half white, half black
    g = [torch.tensor([2])] * 2 + [torch.tensor([0])] * 2
    srgb = pixelate_mode(x, "srgb", *g)[0, 0, 0, 0] * 255
    linear = pixelate_mode(x, "linear", *g)[0, 0, 0, 0] * 255
    assert srgb.round() == 128 and linear.round() == 188  # the classic gamma error


def test_srgb_mode_equals_the_old_pixelate_plus_quantize_except_exact_ties():
    """The plain preset's output only changes where the exact mean is a tie (k + 0.5):
    the old float mean rounded those either way by float error, now they round up."""
    x = eight_bit(4, 3, 24, 40, seed=1).float()
    grid = [torch.tensor([3, 4, 5, 8])] * 2 + [torch.tensor([0, 1, 2, 7])] * 2
    old = Quantize().apply(mosaic(x, *grid), {})
    new = pixelate_mode(x, "srgb", *grid)
    exact = mosaic(torch.round(x.double() * 255), *grid)
    tie = (exact - exact.floor() - 0.5).abs() < 1e-9
    assert torch.equal(new[~tie], old[~tie])
    assert torch.equal(new[tie] * 255, (exact[tie] + 0.5).float())


@pytest.mark.parametrize("mode", MODES)
def test_partial_box_leaves_outside_identical_and_pixelates_inside(mode):
    x = torch.rand(3, 3, 20, 30, generator=torch.Generator().manual_seed(2)).double()
    op = Pixelate(block=(3, 5), modes={mode: 1}, box_p=1.0, non_square_p=0.5)
    params = op.sample(3, torch.Generator().manual_seed(3), size=(20, 30))
    out = op.apply(x, params)
    for i in range(3):
        y0, x0, y1, x1 = params["box"][i].tolist()
        assert (y1 - y0, x1 - x0) != (20, 30)
        inside = torch.zeros(20, 30, dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        assert torch.equal(out[i][:, ~inside], x[i][:, ~inside])  # bit-identical
        # Inside: the tool pixelates the selection alone, cells cut at its border.
        crop = torch.round(x[i, :, y0:y1, x0:x1] * 255) / 255
        grid = [int(params[k][i]) for k in ("block_h", "block_w")]
        oy, ox = int(params["offset_y"][i]) - y0, int(params["offset_x"][i]) - x0
        ref = reference_mode(crop, mode, *grid, oy, ox)
        if mode in ("linear", "center", "corner"):  # these do not pre-round
            ref = reference_mode(x[i, :, y0:y1, x0:x1], mode, *grid, oy, ox)
            if mode in ("center", "corner"):
                ref = torch.round(ref * 255) / 255
        torch.testing.assert_close(out[i, :, y0:y1, x0:x1], ref, rtol=0, atol=1e-9)


def test_mosaic_box_matches_reference_on_the_crop():
    x = torch.rand(2, 3, 16, 24, dtype=torch.float64)
    box = torch.tensor([[2, 3, 13, 20], [0, 0, 16, 24]])
    out = mosaic(x, torch.tensor([4, 3]), torch.tensor([5, 3]), 1, 2, box=box)
    ref = reference_mosaic(x[0, :, 2:13, 3:20], 4, 5, 1 - 2, 2 - 3)
    torch.testing.assert_close(out[0, :, 2:13, 3:20], ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(out[1], reference_mosaic(x[1], 3, 3, 1, 2), rtol=0, atol=1e-12)


def test_pixelate_params_and_non_square_blocks():
    op = Pixelate(
        block=(4, 8), modes={"srgb": 1, "linear": 1, "corner": 1}, non_square_p=1.0, box_p=0.5
    )
    params = op.sample(64, torch.Generator().manual_seed(0), size=(48, 192))
    assert set(params) == {"block_h", "block_w", "offset_y", "offset_x", "mode", "box"}
    assert params["box"].shape == (64, 4)
    assert (params["block_h"] != params["block_w"]).any()
    assert ((params["offset_x"] >= 0) & (params["offset_x"] < params["block_w"])).all()
    assert set(params["mode"].tolist()) == {MODES.index(m) for m in ("srgb", "linear", "corner")}
    full = (params["box"] == torch.tensor([0, 0, 48, 192])).all(1)
    assert 0 < int(full.sum()) < 64


def test_pixelate_grid_starts_at_the_box_without_random_offset():
    op = Pixelate(block=4, random_offset=False, box_p=1.0)
    params = op.sample(8, torch.Generator().manual_seed(0), size=(32, 64))
    assert torch.equal(params["offset_y"], params["box"][:, 0])
    assert torch.equal(params["offset_x"], params["box"][:, 1])


def test_plain_pixelate_keeps_its_random_stream():
    """The plain preset must draw exactly what it drew before modes/boxes existed."""
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    params = Pixelate((4, 8)).sample(16, g1, size=(48, 192))
    block = torch.randint(4, 9, (16,), generator=g2)
    oy = (torch.rand(16, generator=g2) * block).long()
    ox = (torch.rand(16, generator=g2) * block).long()
    assert torch.equal(params["block_h"], block) and torch.equal(params["offset_y"], oy)
    assert torch.equal(params["offset_x"], ox)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="pixelate.modes"):
        Pixelate(modes={"median": 1})
    with pytest.raises(ValueError, match="probability"):
        Jpeg(p=1.5)
    with pytest.raises(ValueError, match="quality"):
        Jpeg(quality=(50, 120))
    with pytest.raises(ValueError, match="factors"):
        Rescale(factors=[0.5])
    with pytest.raises(ValueError, match="modes"):
        Rescale(modes=["lanczos"])
    with pytest.raises(ValueError, match="needs the image size"):
        Pixelate(box_p=0.5).sample(2, torch.Generator())
    with pytest.raises(ValueError, match="reduce"):
        mosaic(torch.rand(1, 3, 4, 4), 2, reduce="median")


def _run(op, x, seed=0):
    params = op.sample(x.shape[0], torch.Generator().manual_seed(seed))
    return op.apply(x, params), params


def test_rescale_matches_per_sample_resize():
    """Grouping by (factor, mode, down) gives what resizing each sample alone gives."""
    x = eight_bit(12, 3, 24, 40).float()
    op = Rescale(p=1.0, factors=[1.25, 1.5, 1.75], down_p=0.5)
    out, params = _run(op, x)
    assert len(set(params["mode"].tolist())) > 1 and params["down"].any()
    for i in range(12):
        f, mode = float(params["factor"][i]), INTERPOLATIONS[int(params["mode"][i])]
        down = bool(params["down"][i])
        s = 1 / f if down else f
        mid = (round(24 * s), round(40 * s))
        kw = {} if mode == "nearest" else {"align_corners": False}
        aa = mode != "nearest"
        y = F.interpolate(x[i : i + 1], mid, mode=mode, antialias=aa and down, **kw)
        y = F.interpolate(y, (24, 40), mode=mode, antialias=aa and not down, **kw)
        torch.testing.assert_close(out[i : i + 1], y, rtol=0, atol=1e-6)


def test_rescale_of_a_mosaic_blurs_cell_edges_but_keeps_alignment():
    """Black/white 8 px cells seen at 150 % (bilinear up, back down): cell interiors keep
    their colour, the pixels at cell edges mix with the neighbour, and the result lines up
    with the input better than any one-pixel shift of it. A constant grey, a shifted or an
    unchanged output each fail one of these."""
    cells = (torch.rand(1, 3, 6, 12, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    x = cells.repeat_interleave(8, 2).repeat_interleave(8, 3)
    op = Rescale(p=1.0, factors=[1.5], modes=["bilinear"], down_p=0.0)
    out, _ = _run(op, x)
    assert out.shape == x.shape
    rows, cols = torch.arange(48) % 8, torch.arange(96) % 8
    inner = ((rows >= 2) & (rows <= 5))[:, None] & ((cols >= 2) & (cols <= 5))[None, :]
    edge = ((rows == 0) | (rows == 7))[:, None] | ((cols == 0) | (cols == 7))[None, :]
    change = (out - x).abs()
    assert float(change[..., inner].max()) <= 0.01  # interiors keep their colour
    assert float(change[..., edge].mean()) > 0.03  # edges are blurred
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    error = {s: float((out.roll(s, (-2, -1)) - x).abs().mean()) for s in shifts}
    assert min(error, key=error.get) == (0, 0), error


def _pil_jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    array = (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality)
    decoded = np.array(Image.open(buffer).convert("RGB"))
    return torch.from_numpy(decoded).permute(2, 0, 1).float() / 255


@pytest.mark.parametrize("quality", [50, 75, 95])
def test_jpeg_is_close_to_libjpeg_at_the_same_quality(quality):
    """Our float DCT is not libjpeg's integer one bit for bit: stated tolerance, PSNR
    > 43 dB to PIL's output (measured 46-51 dB) and clearly closer to it than the
    uncompressed input is."""
    from depix.data.synthetic_text import SyntheticTextDataset

    ds = SyntheticTextDataset(length=6, seed=5)
    x = torch.stack([ds[i]["image"] for i in range(6)])
    x = torch.round(mosaic(x, 5, 5, 2, 1) * 255) / 255  # a pixelated screenshot line
    out, _ = _run(Jpeg(p=1.0, quality=(quality, quality)), x)
    ref = torch.stack([_pil_jpeg(x[i], quality) for i in range(6)])
    psnr = -10 * torch.log10(((out - ref) ** 2).mean())
    assert psnr > 43
    assert (out - ref).abs().mean() < 0.75 * (x - ref).abs().mean()
    assert torch.equal(out, torch.round(out * 255) / 255)  # decoders write 8-bit


@pytest.mark.parametrize("quality", [1, 10, 37, 50, 75, 99, 100])
def test_jpeg_tables_are_libjpegs(quality):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buffer, "JPEG", quality=quality)
    with Image.open(buffer) as image:
        luma, chroma = (torch.tensor(list(image.quantization[i])).float() for i in (0, 1))
    ours = quality_tables(torch.tensor([quality]))
    assert torch.equal(ours[0].flatten(), luma) and torch.equal(ours[1].flatten(), chroma)


def test_jpeg_per_sample_quality_and_odd_sizes():
    x = eight_bit(2, 3, 21, 37).float()  # not a multiple of the 16 px MCU
    params = {"applied": torch.tensor([True, True]), "quality": torch.tensor([10, 95])}
    out = Jpeg(p=1.0).apply(x, params)
    err = (out - x).abs().mean(dim=(1, 2, 3))
    assert out.shape == x.shape and err[0] > err[1]


def test_blur_matches_a_gaussian_convolution():
    x = eight_bit(3, 3, 20, 30).float()
    op = Blur(p=1.0, sigma=(0.4, 1.0))
    out, params = _run(op, x)
    k = op._kernel
    for i in range(3):
        s = float(params["sigma"][i])
        t = torch.arange(k, dtype=torch.float64) - k // 2
        g = torch.exp(-(t**2) / (2 * s * s))
        g = (g / g.sum()).float()
        kernel = (g[:, None] * g[None, :]).expand(3, 1, k, k)
        padded = F.pad(x[i : i + 1], [k // 2] * 4, mode="replicate")
        ref = F.conv2d(padded, kernel, groups=3)
        torch.testing.assert_close(out[i : i + 1], ref, rtol=0, atol=1e-5)


def test_noise_is_reproducible_and_has_the_drawn_strength():
    x = torch.full((4, 3, 64, 64), 0.5)
    op = Noise(p=1.0, sigma=(0.01, 0.05))
    a, params = _run(op, x, seed=3)
    b, _ = _run(op, x, seed=3)
    c, _ = _run(op, x, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    std = (a - x).std(dim=(1, 2, 3))
    torch.testing.assert_close(std, params["sigma"], rtol=0.05, atol=0)


def test_reduce_colours_uses_the_drawn_levels():
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    out, params = _run(ReduceColours(p=1.0, levels=(2, 9)), x)
    for i in range(6):
        assert len(out[i].unique()) <= int(params["levels"][i])
        steps = int(params["levels"][i]) - 1
        torch.testing.assert_close(out[i] * steps, torch.round(out[i] * steps))


def test_probability_p_applies_to_a_subset_and_untouched_samples_are_identical():
    x = eight_bit(32, 3, 16, 16).float()
    op = ReduceColours(p=0.5, levels=(2, 2))
    out, params = _run(op, x)
    applied = params["applied"]
    assert 0 < int(applied.sum()) < 32
    assert torch.equal(out[~applied], x[~applied])
    assert not torch.equal(out[applied], x[applied])
    none, _ = _run(ReduceColours(p=0.0), x)
    assert torch.equal(none, x)


def _mixed() -> Degradation:
    import hydra
    from omegaconf import OmegaConf

    from depix.train import CONFIG_DIR

    return hydra.utils.instantiate(OmegaConf.load(f"{CONFIG_DIR}/degradation/mixed.yaml"))


def test_mixed_is_deterministic_under_a_seed_and_keeps_keys():
    x = eight_bit(16, 3, 48, 96).float()
    deg = _mixed()
    a, pa = deg(x, torch.Generator().manual_seed(7))
    b, pb = deg(x, torch.Generator().manual_seed(7))
    c, _ = deg(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)
    for key in ("block_h", "block_w", "offset_y", "offset_x", "mode", "box"):
        assert f"pixelate.{key}" in pa and pa[f"pixelate.{key}"].device.type == "cpu"
    assert torch.equal(a, torch.round(a * 255) / 255) and a.min() >= 0 and a.max() <= 1


@pytest.mark.parametrize("device", DEVICES)
def test_ops_run_on_the_tensors_device(device):
    x = eight_bit(8, 3, 24, 48).float().to(device)
    deg = Degradation(
        [
            Blur(p=1.0),
            Pixelate(modes={m: 1 for m in MODES}, non_square_p=0.5, box_p=0.5),
            Rescale(p=1.0),
            Jpeg(p=1.0),
            ReduceColours(p=1.0),
            Noise(p=1.0),
            Quantize(),
        ]
    )
    out, params = deg(x, torch.Generator().manual_seed(0))
    assert out.device.type == device and out.shape == x.shape
    if device == "cuda":  # same parameters on the CPU give (nearly) the same pixels
        cpu = deg.apply(x.cpu(), params)
        assert (out.cpu() - cpu).abs().mean() < 2 / 255
