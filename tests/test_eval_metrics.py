"""Evaluation building blocks: OCR scores, mosaic consistency, the bicubic grid baseline."""

import math

import numpy as np
import pytest
import torch

from depix.degrade.averaging import MODES as AVERAGING_MODES
from depix.degrade.ops import Pixelate
from depix.evaluate.baselines import bicubic_from_grid
from depix.evaluate.conditions import Condition, Grid, condition_grid, degrade, sample_grid
from depix.evaluate.scores import consistency_error, gap_closed, ocr_scores
from depix.metrics.ocr import cer


def test_cer_and_exact_match_on_known_strings():
    assert cer("hello world", "hello world") == 0.0
    assert cer("hallo world", "hello world") == pytest.approx(1 / 11)
    assert cer("", "abcd") == 1.0
    readings = iter(["p4ssw0rd", "p4ssword", ""])
    images = torch.zeros(3, 3, 8, 8)
    read, cers, exact = ocr_scores(images, ["p4ssw0rd"] * 3, reader=lambda _: next(readings))
    assert read == ["p4ssw0rd", "p4ssword", ""]
    assert cers == pytest.approx([0.0, 1 / 8, 1.0])
    assert exact == [1.0, 0.0, 0.0]


def test_gap_closed():
    assert gap_closed(0.8, 0.8, 0.0) == 0.0
    assert gap_closed(0.8, 0.2, 0.0) == pytest.approx(0.75)
    assert gap_closed(0.8, 0.1, 0.1) == pytest.approx(1.0)
    assert gap_closed(0.1, 0.0, 0.1) is None  # the original reads no better: undefined
    assert gap_closed(None, 0.1, 0.0) is None  # OCR missing: empty, never 0


def _text_like(n=3, h=24, w=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, h, w, generator=g) > 0.5).float() * 0.8 + 0.1


@pytest.mark.parametrize("averaging", AVERAGING_MODES)
@pytest.mark.parametrize("jpeg", [False, True])
@pytest.mark.parametrize("offset", ["grid", "random"])
def test_consistency_is_zero_for_a_perfect_restoration(averaging, jpeg, offset):
    clean = _text_like()
    condition = Condition(block=6, averaging=averaging, jpeg=jpeg, offset=offset)
    grid = sample_grid(condition, clean.shape[0], torch.Generator().manual_seed(1))
    observed = degrade(clean, condition, grid)
    # The true original re-pixelates to exactly the observed input.
    assert consistency_error(clean, observed, condition, grid) == [0.0] * 3
    if not jpeg:  # a mosaic is its own mosaic: the input itself is consistent too
        assert consistency_error(observed, observed, condition, grid) == [0.0] * 3
    wrong = clean.flip(-1)  # different content, same colours
    assert min(consistency_error(wrong, observed, condition, grid)) > 1.0


@pytest.mark.parametrize("averaging", AVERAGING_MODES)
def test_benchmark_mosaic_is_the_training_op(averaging):
    """One definition of each averaging mode: the benchmark pixelates as training does."""
    clean = _text_like(n=2, h=30, w=44)
    condition = Condition(block=5, averaging=averaging, offset="random")
    grid = sample_grid(condition, 2, torch.Generator().manual_seed(4))
    params = {
        "block_h": torch.tensor([5, 5]),
        "block_w": torch.tensor([5, 5]),
        "offset_y": grid.offset_y,
        "offset_x": grid.offset_x,
        "mode": torch.tensor([AVERAGING_MODES.index(averaging)] * 2),
    }
    training = Pixelate(block=(5, 5), modes={averaging: 1}).apply(clean, params)
    assert torch.equal(degrade(clean, condition, grid), training)


def test_rescaled_condition_blurs_cell_edges_reproducibly():
    clean = _text_like(n=2, h=48, w=48)
    plain, scaled = Condition(block=8), Condition(block=8, rescale=1.5)
    grid = sample_grid(plain, 2, torch.Generator().manual_seed(0))
    mosaic_only, seen = degrade(clean, plain, grid), degrade(clean, scaled, grid)
    assert seen.shape == clean.shape and torch.equal(seen, degrade(clean, scaled, grid))
    # Resampling mixes colours across the cell edges (rows 7|8) more than inside a cell.
    edge_change = (seen - mosaic_only)[..., 7:9, :].abs().mean()
    inner_change = (seen - mosaic_only)[..., 3:5, :].abs().mean()
    assert edge_change > 0.002 and edge_change > 2 * inner_change
    assert consistency_error(clean, seen, scaled, grid) == [0.0, 0.0]
    assert "scaled 1.5x" in scaled.label()
    with pytest.raises(ValueError, match="rescale"):
        Condition(block=4, rescale=0.5)


def test_random_offsets_are_off_grid_and_reproducible():
    condition = Condition(block=8, offset="random")
    a = sample_grid(condition, 50, torch.Generator().manual_seed(3))
    b = sample_grid(condition, 50, torch.Generator().manual_seed(3))
    assert torch.equal(a.offset_y, b.offset_y) and torch.equal(a.offset_x, b.offset_x)
    assert int(a.offset_y.min()) >= 1 and int(a.offset_y.max()) <= 7


def test_condition_grid_and_validation():
    grid = condition_grid([4, 8], ["srgb", "linear"], [False, True], ["grid"], [16, 24])
    assert len(grid) == 16 and {c.font_size for c in grid} == {16, 24}
    scaled = condition_grid([4], ["srgb"], [False], ["grid"], rescale=[1.0, 1.5])
    assert [c.rescale for c in scaled] == [1.0, 1.5]
    with pytest.raises(ValueError, match="averaging"):
        Condition(block=4, averaging="gamma")
    with pytest.raises(ValueError, match="offset"):
        Condition(block=4, offset="diagonal")


def _keys_cubic(t: float, a: float = -0.75) -> float:
    t = abs(t)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t < 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def _reference_bicubic(image: np.ndarray, block: int, oy: int, ox: int) -> np.ndarray:
    """Slow, loop-by-loop: cell means by explicit cell membership, then Keys cubic weights."""
    c, h, w = image.shape
    top, left = (block - oy % block) % block, (block - ox % block) % block
    rows = -(-(h + top) // block)
    cols = -(-(w + left) // block)
    cells = np.zeros((c, rows, cols))
    for r in range(rows):
        for q in range(cols):
            ys = [y for y in range(h) if (y + top) // block == r]
            xs = [x for x in range(w) if (x + left) // block == q]
            cells[:, r, q] = image[:, ys][:, :, xs].mean(axis=(1, 2))

    def taps(pos: int, n: int):
        s = (pos + 0.5) / block - 0.5
        i0 = math.floor(s)
        return [(min(max(i0 + k, 0), n - 1), _keys_cubic(s - (i0 + k))) for k in (-1, 0, 1, 2)]

    out = np.zeros_like(image)
    for y in range(h):
        for x in range(w):
            value = np.zeros(c)
            for r, wy in taps(y + top, rows):
                for q, wx in taps(x + left, cols):
                    value += wy * wx * cells[:, r, q]
            out[:, y, x] = value
    return np.clip(out, 0, 1)


@pytest.mark.parametrize(("block", "oy", "ox"), [(4, 0, 0), (5, 2, 3), (6, 5, 1)])
def test_bicubic_baseline_matches_slow_reference(block, oy, ox):
    clean = torch.rand(1, 3, 19, 23, generator=torch.Generator().manual_seed(block))
    condition = Condition(block=block)
    grid = Grid(block, torch.tensor([oy]), torch.tensor([ox]))
    observed = degrade(clean, condition, grid)
    fast = bicubic_from_grid(observed, grid)[0].double().numpy()
    slow = _reference_bicubic(observed[0].double().numpy(), block, oy, ox)
    np.testing.assert_allclose(fast, slow, atol=1e-5)


def test_bicubic_baseline_recovers_a_smooth_ramp_better_than_the_mosaic():
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 32, 64).contiguous()
    condition = Condition(block=8, offset="random")
    grid = sample_grid(condition, 1, torch.Generator().manual_seed(0))
    observed = degrade(ramp, condition, grid)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    err_mosaic = (observed - ramp)[inner].abs().mean()
    err_bicubic = (bicubic_from_grid(observed, grid) - ramp)[inner].abs().mean()
    assert err_bicubic < err_mosaic / 4


def test_nice_ticks_are_round_and_cover_the_range():
    from depix.evaluate.plot import nice_ticks

    assert nice_ticks(0.0, 1.07) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.125, 0.75) == [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


def test_ocr_scores_read_each_image_against_its_own_text():
    """Real Tesseract on two rendered lines: each reading scores against its own line (low
    CER), not its neighbour's (high CER), so the scores belong to the right crop."""
    from depix.data.render import LineStyle, render_line
    from depix.metrics.ocr import tesseract_available

    if not tesseract_available():
        pytest.skip("Tesseract is not installed")
    from depix.data.fonts import discover_fonts

    style = LineStyle(discover_fonts("test")[0], 28, (20, 20, 20), (255, 255, 255), 8, 0)
    pictures = [render_line(t, style, 48, 360) for t in ("quick brown fox 42", "Lazy dog jumps 7")]
    texts = [shown for _, shown in pictures]
    images = torch.stack(
        [torch.from_numpy(np.asarray(p).copy()).permute(2, 0, 1).float() / 255 for p, _ in pictures]
    )
    readings, own, _ = ocr_scores(images, texts)
    _, swapped, _ = ocr_scores(images, texts[::-1])
    assert max(own) <= 0.2, readings
    assert min(swapped) >= 0.6, readings
