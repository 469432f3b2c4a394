"""Mosaic-consistency projection in sRGB and in linear light, and the per-image auto choice."""

import pytest
import torch

from depix.degrade.averaging import pixelate_mode, to_8bit
from depix.restore.consistency import (
    HYPOTHESES,
    averaging_gaps,
    consistency_error,
    enforce_consistency,
    pick_averaging,
    sample_mask,
)

GRID = (4, 4, 1, 3)  # block_h, block_w, offset_y, offset_x


def text_like(n: int = 3, seed: int = 0) -> torch.Tensor:
    """Dark strokes on light backgrounds: where sRGB and linear-light means differ most."""
    g = torch.Generator().manual_seed(seed)
    ink = (torch.rand(n, 1, 24, 40, generator=g) > 0.6).float()
    background = 0.6 + 0.3 * torch.rand(n, 3, 1, 1, generator=g)  # no clamping at white
    return to_8bit(background * (1 - ink) + 0.1 * ink)


def observed(clean: torch.Tensor, mode: str) -> torch.Tensor:
    return pixelate_mode(clean, mode, *GRID)


TRUTH = {
    "srgb": "srgb",
    "srgb_trunc": "srgb",
    "linear": "linear",
    "center": "center",
    "corner": "corner",
}


@pytest.mark.parametrize("mode", list(TRUTH))
@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_auto_recognises_how_a_perfect_or_noisy_restoration_was_pixelated(mode, noise):
    """A stub network that returns the true clean image (plus, in the noisy case, 2.5
    levels of Gaussian noise): every kind of mosaic is recognised."""
    clean = text_like()
    output = clean + noise * torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    assert pick_averaging(output, observed(clean, mode), GRID) == [TRUTH[mode]] * 3
    gaps = averaging_gaps(output, observed(clean, mode), GRID)
    assert gaps.shape == (3, len(HYPOTHESES))
    assert (gaps[:, HYPOTHESES.index(TRUTH[mode])] <= 3 / 255).all()


def test_auto_is_right_on_benchmark_mosaics_of_every_kind():
    """Test-split text lines degraded exactly as depix-eval does (every averaging mode, on
    and off the grid, 150 % display scaling, JPEG q75); the stub is the clean line."""
    from depix.data.synthetic_text import SyntheticTextDataset
    from depix.evaluate.conditions import Condition, degrade, sample_grid

    lines = SyntheticTextDataset(
        length=2, size=(40, 160), font_sizes=(24, 24), font_split="test", seed=7
    )
    clean = torch.stack([lines[i]["image"] for i in range(2)])
    wrong = []
    for mode in TRUTH:
        for rescale, jpeg in [(1.0, False), (1.5, False), (1.0, True), (1.5, True)]:
            condition = Condition(
                block=6, averaging=mode, jpeg=jpeg, offset="random", rescale=rescale
            )
            grid = sample_grid(condition, 2, torch.Generator().manual_seed(3))
            seen = degrade(clean, condition, grid)
            cells = (6, 6, grid.offset_y, grid.offset_x)
            picks = pick_averaging(clean, seen, cells)
            wrong += [(condition.label(), p) for p in picks if p != TRUTH[mode]]
    assert not wrong


@pytest.mark.parametrize("mode", ["center", "corner"])
def test_sampled_mosaics_are_not_projected_onto_cell_means(mode):
    """Only the one sampled pixel of each cell may change, and sampling the result gives
    the observed cells back; a perfect restoration stays as it is."""
    clean = text_like()
    seen = observed(clean, mode)
    out, used = enforce_consistency(clean, seen, GRID, averaging="auto")
    assert used == [mode] * 3 and (out - clean).abs().max() <= 1 / 255
    noisy = (
        clean + 0.2 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    ).clamp(0, 1)
    fixed, _ = enforce_consistency(noisy, seen, GRID, averaging=mode)
    mask = sample_mask(clean.shape, GRID, mode).expand_as(clean)
    assert torch.equal(fixed[~mask], noisy[~mask])  # nothing but the sampled pixels moved
    assert consistency_error(fixed, seen, GRID, mode) <= 1e-6
    assert consistency_error(fixed, seen, GRID, "srgb") > 10 / 255  # means were not imposed


def test_modes_really_differ_on_text():
    # Without this the auto choice above would be a coin toss on ties.
    clean = text_like()
    assert (observed(clean, "linear") - observed(clean, "srgb")).abs().max() > 10 / 255


@pytest.mark.parametrize("mode", ["srgb", "linear"])
def test_projection_in_the_right_space_keeps_a_perfect_restoration(mode):
    clean = text_like()
    out, used = enforce_consistency(clean, observed(clean, mode), GRID, averaging="auto")
    assert used == [mode] * 3
    assert (out - clean).abs().max() <= 1 / 255  # only 8-bit rounding of the cells to absorb


def test_projecting_a_linear_mosaic_as_srgb_lightens_the_text():
    clean = text_like()
    seen = observed(clean, "linear")
    wrong, _ = enforce_consistency(clean, seen, GRID, averaging="srgb")
    right, _ = enforce_consistency(clean, seen, GRID, averaging="linear")
    assert (wrong - clean).abs().mean() > 4 * (right - clean).abs().mean()
    assert wrong.mean() > clean.mean() + 2 / 255


@pytest.mark.parametrize("mode", ["srgb", "linear"])
def test_projection_makes_any_output_pixelate_back(mode):
    clean = text_like()
    seen = observed(clean, mode)
    noisy = clean + 0.3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    assert consistency_error(noisy.clamp(0, 1), seen, GRID, mode) > 10 / 255
    out, _ = enforce_consistency(noisy, seen, GRID, averaging=mode)
    assert consistency_error(to_8bit(out), seen, GRID, mode) <= 1 / 255
    assert out.min() >= 0 and out.max() <= 1


def test_auto_chooses_per_image_with_per_image_grids():
    clean = text_like(n=2)
    grid = (torch.tensor([4, 6]), torch.tensor([4, 6]), torch.tensor([0, 2]), torch.tensor([1, 5]))
    seen = torch.cat(
        [
            pixelate_mode(clean[:1], "srgb", 4, 4, 0, 1),
            pixelate_mode(clean[1:], "linear", 6, 6, 2, 5),
        ]
    )
    out, used = enforce_consistency(clean, seen, grid)
    assert used == ["srgb", "linear"]
    assert (out - clean).abs().max() <= 1 / 255


def test_unknown_averaging_is_refused():
    clean = text_like(n=1)
    with pytest.raises(ValueError, match="unknown consistency averaging 'median'"):
        enforce_consistency(clean, clean, GRID, averaging="median")


def rendered_lines(n: int = 12) -> torch.Tensor:
    """Text lines in test-split fonts, as the benchmark draws them (colours, anti-aliasing)."""
    from depix.data.synthetic_text import SyntheticTextDataset

    lines = SyntheticTextDataset(
        length=n, size=(48, 256), font_sizes=(24, 24), font_split="test", seed=11
    )
    return torch.stack([lines[i]["image"] for i in range(n)])


def share_right(picks: list, expected) -> float:
    return sum(p == expected for p in picks) / len(picks)


def test_sampled_cells_are_told_from_mean_cells_without_a_network():
    """The observed cells alone say sampled or mean, both ways (the statistic is right on
    about 95 % of the benchmark's mosaics: at least 80 % here, on 12 lines x 2 blocks per
    mode); on the same lines, sampled mosaics show more ink cells at their
    neighbourhood's peak than mean mosaics."""
    from depix.restore.consistency import looks_sampled, sampled_evidence

    clean = rendered_lines()
    verdicts, peaks = {}, {}
    for mode in TRUTH:
        verdicts[mode], peaks[mode] = [], []
        for grid in [(4, 4, 1, 2), (6, 6, 5, 3)]:
            seen = pixelate_mode(clean, mode, *grid)
            verdicts[mode] += looks_sampled(seen, grid)
            peaks[mode].append(sampled_evidence(seen, grid)[:, 0])
    for mode, verdict in verdicts.items():
        assert share_right(verdict, mode in ("center", "corner")) >= 0.8, (mode, verdict)
    for sampled, mean in [("center", "srgb"), ("corner", "linear")]:
        more = torch.cat(peaks[sampled]) > torch.cat(peaks[mean])
        assert more.float().mean() >= 0.8, (sampled, mean, more)


def test_an_output_that_explains_nothing_leaves_the_choice_to_the_cells():
    """A network that returns its input (every hypothesis explains its flat cells equally,
    as the shipped network explains none) still gets the family from the cells, and the
    common tool inside it: sRGB for means, centre for sampled."""
    clean = rendered_lines()
    grid = (4, 4, 3, 1)
    for mode in TRUTH:
        seen = pixelate_mode(clean, mode, *grid)
        expected = "center" if mode in ("center", "corner") else "srgb"
        assert share_right(pick_averaging(seen, seen, grid), expected) >= 0.8, mode


def test_the_empty_mosaic_counts_as_mean():
    from depix.restore.consistency import looks_sampled, sampled_evidence

    flat = torch.full((2, 3, 16, 16), 0.5)
    assert looks_sampled(flat, GRID) == [False, False]
    assert sampled_evidence(flat, GRID).tolist() == [[0.0, 0.0], [0.0, 0.0]]
