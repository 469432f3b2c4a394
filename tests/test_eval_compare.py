"""Comparing several runs' depix-eval results side by side."""

import csv

import pytest

from depix.evaluate.compare import compare, load, main, paired

FIELDS = [
    "suite",
    "block",
    "averaging",
    "jpeg",
    "jpeg_quality",
    "offset",
    "font_size",
    "rescale",
    "method",
    "n",
    "psnr",
    "ssim",
    "cer",
    "exact",
    "consistency",
    "gap_closed",
]


def _write(path, model_cer, averagings=("srgb", "linear")):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for i, averaging in enumerate(averagings):
            for method, cer in (
                ("input", 0.9),
                ("bicubic", 0.8),
                ("model", model_cer[i]),
                ("clean", 0.0),
            ):
                writer.writerow(
                    dict(
                        suite="text",
                        block=4,
                        averaging=averaging,
                        jpeg=False,
                        jpeg_quality="",
                        offset="grid",
                        font_size=16,
                        rescale=1.0,
                        method=method,
                        n=2,
                        psnr=20.0,
                        ssim=0.5,
                        cer=cer,
                        exact=0.0,
                        consistency=0.0,
                        gap_closed="",
                    )
                )
    return path


def test_compare_averages_each_runs_model_row_per_axis(tmp_path):
    a = load(_write(tmp_path / "a.csv", [0.5, 0.7]))
    b = load(_write(tmp_path / "b.csv", [0.3, 0.9]))
    text = compare([a, b], ["plain", "mixed"])
    assert "| pixelated | bicubic | plain | mixed |" in text
    overall = text.split("## text: overall")[1].split("##")[0]
    assert "0.600 / 0.500 / 20.00 | 0.600 / 0.500 / 20.00 |" in overall  # both mean 0.6
    per_mode = text.split("## text: per averaging")[1]
    assert "| linear | 0.900 / 0.500 / 20.00 | 0.800 / 0.500 / 20.00 | 0.700" in per_mode
    assert "| srgb |" in per_mode and "0.500 / 0.500 / 20.00 | 0.300" in per_mode
    assert "per block" not in text  # one block size: no table for it


def test_compare_refuses_runs_scored_on_other_conditions(tmp_path, capsys):
    a = _write(tmp_path / "a.csv", [0.5, 0.7])
    b = _write(tmp_path / "b.csv", [0.5], averagings=("srgb",))
    with pytest.raises(ValueError, match="other conditions"):
        compare([load(a), load(b)], ["a", "b"])
    with pytest.raises(SystemExit) as exit_info:
        main([str(a), str(tmp_path / "missing")])
    assert exit_info.value.code == 2 and "does not exist" in capsys.readouterr().err


def test_paired_differences_per_condition_with_interval(tmp_path, capsys):
    """b is better by 0.1 on every linear condition and equal on sRGB: the linear row's
    interval is exactly [-0.1, -0.1] with 3 of 3 better; the sRGB row is all ties."""
    modes = ("srgb", "linear", "srgb_trunc", "center")
    a = _write(tmp_path / "a.csv", [0.5, 0.7, 0.5, 0.8], averagings=modes)
    b = _write(tmp_path / "b.csv", [0.5, 0.6, 0.6, 0.7], averagings=modes)
    text = paired([load(a), load(b)], ["plain", "mixed"])
    per_mode = text.split("## text: per averaging")[1]
    assert "| linear | -0.100 [-0.100, -0.100] 1/0 |" in per_mode
    assert "| srgb | +0.000 [+0.000, +0.000] 0/0 |" in per_mode
    assert "| srgb_trunc | +0.100 [+0.100, +0.100] 0/1 |" in per_mode
    overall = text.split("## text: overall")[1].split("##")[0]
    assert "-0.025 [" in overall and "2/1 |" in overall
    main([str(a), str(b), "--names", "plain", "mixed", "--paired", "cer"])
    assert "cer minus plain" in capsys.readouterr().out
    with pytest.raises(ValueError, match="metric"):
        paired([load(a), load(b)], ["plain", "mixed"], metric="bleu")
