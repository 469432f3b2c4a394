"""Comparing several runs' depix-eval results: side by side, and paired with a cluster bootstrap."""

import itertools

import numpy as np
import pytest

from depix.evaluate.compare import cluster_bootstrap, compare, load, load_lines, main, paired
from depix.evaluate.conditions import Condition
from depix.evaluate.report import write_csv, write_lines_csv
from depix.evaluate.runner import Record


def _records(model_cer, averagings=("srgb", "linear"), lines=2, decoder=None):
    """Two lines per condition (``font16_line0/1``); input 0.9, bicubic 0.8, clean 0; the
    model's CER per condition from ``model_cer`` (both lines), a decoder row if given."""
    out = []
    for i, averaging in enumerate(averagings):
        condition = Condition(4, averaging, font_size=16)
        for k in range(lines):
            name = f"font16_line{k}"
            rows = [("input", 0.9), ("bicubic", 0.8), ("model", model_cer[i]), ("clean", 0.0)]
            for method, cer in rows:
                out.append(Record("text", condition, name, method, 20.0, 0.5, 0.0, cer, 0.0))
            if decoder is not None:
                out.append(
                    Record("text", condition, name, "decoder", None, None, None, decoder[i], 1.0)
                )
    return out


def _write(folder, records):
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(records, folder / "results.csv")
    write_lines_csv(records, folder / "lines.csv")
    return folder


def test_compare_averages_each_runs_model_row_per_axis(tmp_path):
    a = load(_write(tmp_path / "a", _records([0.5, 0.7], decoder=[0.1, 0.3])) / "results.csv")
    b = load(_write(tmp_path / "b", _records([0.3, 0.9])) / "results.csv")
    text = compare([a, b], ["plain", "mixed"])
    assert "| pixelated | bicubic | plain | mixed | plain/decoder |" in text
    overall = text.split("## text: overall")[1].split("##")[0]
    # both models mean 0.6; the decoder row has CER only (no image: SSIM / PSNR "-").
    assert "0.600 / 0.500 / 20.00 | 0.600 / 0.500 / 20.00 | 0.200 / - / - |" in overall
    per_mode = text.split("## text: per averaging")[1]
    assert "| linear | 0.900 / 0.500 / 20.00 | 0.800 / 0.500 / 20.00 | 0.700" in per_mode
    assert "| srgb |" in per_mode and "0.500 / 0.500 / 20.00 | 0.300" in per_mode
    assert "per block" not in text  # one block size: no table for it


def test_compare_weights_conditions_by_their_line_counts(tmp_path):
    """A condition with 3 lines weighs three times one with 1 line (means over lines)."""
    records = _records([0.0], averagings=("srgb",), lines=3) + _records(
        [1.0], averagings=("linear",), lines=1
    )
    table = load(_write(tmp_path / "a", records) / "results.csv")
    overall = compare([table, table], ["a", "b"]).split("## text: overall")[1].split("##")[0]
    assert "| 0.250 / 0.500 / 20.00 | 0.250 / 0.500 / 20.00 |" in overall


def test_compare_refuses_runs_scored_on_other_conditions(tmp_path, capsys):
    a = _write(tmp_path / "a", _records([0.5, 0.7]))
    b = _write(tmp_path / "b", _records([0.5], averagings=("srgb",)))
    with pytest.raises(ValueError, match="other conditions"):
        compare([load(a / "results.csv"), load(b / "results.csv")], ["a", "b"])
    with pytest.raises(ValueError, match="other lines"):
        paired([load_lines(a / "lines.csv"), load_lines(b / "lines.csv")], ["a", "b"])
    with pytest.raises(SystemExit) as exit_info:
        main([str(a), str(tmp_path / "missing")])
    assert exit_info.value.code == 2 and "does not exist" in capsys.readouterr().err


def test_paired_differences_per_line_with_interval(tmp_path, capsys):
    """b is better by 0.1 on every linear line and equal on sRGB: the linear row's interval is
    exactly [-0.1, -0.1] with 2 of 2 better; the sRGB row is all ties."""
    modes = ("srgb", "linear", "srgb_trunc", "center")
    a = _write(tmp_path / "plain", _records([0.5, 0.7, 0.5, 0.8], averagings=modes))
    b = _write(tmp_path / "mixed", _records([0.5, 0.6, 0.6, 0.7], averagings=modes))
    tables = [load_lines(a / "lines.csv"), load_lines(b / "lines.csv")]
    text = paired(tables, ["plain", "mixed"])
    per_mode = text.split("## text: per averaging")[1]
    assert "| linear | -0.100 [-0.100, -0.100] 2/0 (2 lines) |" in per_mode
    assert "| srgb | +0.000 [+0.000, +0.000] 0/0 (2 lines) |" in per_mode
    assert "| srgb_trunc | +0.100 [+0.100, +0.100] 0/2 (2 lines) |" in per_mode
    overall = text.split("## text: overall")[1].split("##")[0]
    # Both lines differ identically in every condition: every resample has the same mean.
    assert "| -0.025 [-0.025, -0.025] 4/2 (2 lines) |" in overall
    main([str(a), str(b), "--paired", "cer"])
    assert "cer minus plain" in capsys.readouterr().out
    with pytest.raises(ValueError, match="metric"):
        paired(tables, ["plain", "mixed"], metric="bleu")


def test_paired_against_a_baseline_row_and_text_method_rows(tmp_path, capsys):
    run = _write(tmp_path / "run", _records([0.5, 0.7], decoder=[0.1, 0.3]))
    tables = [load_lines(run / "lines.csv")]
    text = paired(tables, ["run"], row="model", against="bicubic")
    assert "| -0.200 [" in text.split("## text: overall")[1]  # 0.6 - 0.8
    text = paired(tables, ["run"], row="decoder", against="model")
    assert "| -0.400 [-0.400, -0.400] 4/0 (2 lines) |" in text.split("## text: overall")[1]
    with pytest.raises(ValueError, match="no 'reader' row"):
        paired(tables, ["run"], row="reader", against="model")
    with pytest.raises(ValueError, match="two runs"):
        paired(tables, ["run"])
    main([str(run), "--paired", "cer", "--row", "decoder", "--against", "bicubic"])
    assert "decoder - bicubic" in capsys.readouterr().out


def _exact_bootstrap(diffs, clusters):
    """Every equally likely resample of the clusters, enumerated: the distribution the
    bootstrap samples from, computed directly."""
    names = sorted(set(clusters))
    sums = {c: sum(d for d, k in zip(diffs, clusters) if k == c) for c in names}
    counts = {c: sum(1 for k in clusters if k == c) for c in names}
    values = [
        sum(sums[c] for c in draw) / sum(counts[c] for c in draw)
        for draw in itertools.product(names, repeat=len(names))
    ]
    return np.sort(np.array(values))


def test_cluster_bootstrap_bounds_match_the_enumerated_distribution():
    """Four lines scored under 1-3 conditions each: the bootstrap's 2.5 % and 97.5 %
    bounds fall where the exact resampling distribution (all 4^4 draws) puts them."""
    diffs = [0.30, -0.10, 0.05, 0.20, -0.40, -0.20, 0.00, 0.10]
    clusters = ["a", "b", "b", "c", "c", "c", "d", "d"]
    mean, low, high = cluster_bootstrap(
        np.array(diffs), clusters, resamples=40000, rng=np.random.default_rng(1)
    )
    assert mean == pytest.approx(np.mean(diffs))
    exact = _exact_bootstrap(diffs, clusters)
    quantile = lambda q: float(np.quantile(exact, q, method="inverted_cdf"))  # noqa: E731
    assert quantile(0.015) <= low <= quantile(0.035)
    assert quantile(0.965) <= high <= quantile(0.985)
    assert low < mean < high


def test_cluster_bootstrap_resamples_lines_not_conditions():
    """Each of 40 lines has the same difference under its 5 conditions: the interval is that
    of the 40 line means, about sqrt(5) wider than if the 200 conditions were independent."""
    rng = np.random.default_rng(0)
    per_line = rng.normal(0.0, 0.2, 40)
    diffs = np.repeat(per_line, 5)
    lines = np.repeat(np.arange(40), 5)
    width = lambda d, c: np.subtract(*cluster_bootstrap(d, c, 4000)[2:0:-1])  # noqa: E731
    clustered = width(diffs, lines)
    assert clustered == pytest.approx(width(per_line, np.arange(40)), rel=0.1)
    assert clustered > 1.8 * width(diffs, np.arange(200))
    # and it agrees with the textbook normal interval of the line means
    normal = 2 * 1.96 * per_line.std() / np.sqrt(40)
    assert clustered == pytest.approx(normal, rel=0.15)
    with pytest.raises(ValueError, match="one cluster per difference"):
        cluster_bootstrap(np.array([0.1, 0.2]), ["a"])
