"""depix-eval end to end on a tiny trained checkpoint, and clear errors for bad checkpoints."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from depix.callbacks.checkpoint_io import CheckpointLoadError, load_checkpoint_file
from depix.eval import evaluate, record_results
from depix.metrics.ocr import tesseract_available
from depix.train import CONFIG_DIR, train
from tests.conftest import TINY, compose_cfg

# 2 blocks x 2 JPEG settings, one font size, 2 lines: seconds with Tesseract.
SMALL_TEXT = [
    "benchmark.text.lines=2",
    "benchmark.text.blocks=[4,8]",
    "benchmark.text.font_sizes=[16]",
    "benchmark.text.averaging=[linear]",
    "benchmark.text.jpeg=[false,true]",
    "benchmark.text.offsets=[random]",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("evalrun") / "tinyrun"
    train(compose_cfg(TINY + ["run_name=tinyrun", "callbacks.samples=null"], run))
    assert (run / "checkpoints" / "last.ckpt").is_file()
    return run


def eval_cfg(*overrides: str):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="eval", overrides=list(overrides))


@pytest.mark.slow
def test_eval_end_to_end_writes_all_files_with_four_rows(tiny_run, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    out = tmp_path / "out"
    cfg = eval_cfg(
        f"ckpt_path={tiny_run}",
        "benchmark=all",
        f"out_dir={out}",
        *SMALL_TEXT,
        f"benchmark.images.folder={photos}",
        "benchmark.images.crop=32",
        "record=true",
        f"record_dir={tmp_path / 'experiments'}",
    )
    paths = evaluate(cfg)
    for name in ("results.md", "results.csv", "curves.png", "samples.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert Image.open(out / "curves.png").size == (760, 460)
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    text_rows = [r for r in rows if r["suite"] == "text"]
    image_rows = [r for r in rows if r["suite"] == "images"]
    assert len(text_rows) == 4 * 4 and len(image_rows) == 2 * 4  # conditions x four methods
    assert [r["method"] for r in text_rows[:4]] == ["input", "bicubic", "model", "clean"]
    clean = [r for r in text_rows if r["method"] == "clean"]
    assert all(
        float(r["ssim"]) == pytest.approx(1.0, abs=1e-3) and float(r["consistency"]) == 0
        for r in clean
    )
    pixelated_png = [r for r in text_rows if r["method"] == "input" and r["jpeg"] == "False"]
    assert all(float(r["consistency"]) == 0 for r in pixelated_png)
    if tesseract_available():
        assert all(r["cer"] != "" for r in text_rows)
    else:  # missing OCR is empty, never zero
        assert all(r["cer"] == "" and r["exact"] == "" for r in rows)
    assert all(r["cer"] == "" for r in image_rows)  # photos carry no text
    markdown = (out / "results.md").read_text()
    assert (
        "`consistency_averaging=auto`); bicubic projected the same way; both rounded to 8 "
        "bits; images projected as srgb / linear: linear mos" in markdown
    )
    for title in ("text: overall", "text: per block size", "images: overall", "text: per jpeg"):
        assert f"## {title}" in markdown
    # blocks 4 and 8 on a 16 px font: one readable band (<= 1/4), one at half the font size.
    band_table = markdown.split("## text: per block size / font size")[1].split("##")[0]
    assert "| <= 1/4 | model |" in band_table and "| <= 1/2 | model |" in band_table
    assert "text: per averaging" not in markdown  # one averaging mode: no table for it
    for row in ("| pixelated |", "| bicubic |", "| model |", "| original |"):
        assert row in markdown
    images_table = markdown.split("## images: overall")[1].split("##")[0]
    assert "PSNR dB" in images_table and "CER" not in images_table  # photos: no OCR columns
    recorded = tmp_path / "experiments" / "tinyrun.md"
    assert paths["record"] == recorded and "# Results: tinyrun" in recorded.read_text()


class NoisyNet(torch.nn.Module):
    """A 'restoration' that adds noise: inconsistent with the mosaic it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
        return x + self.scale * noise


@pytest.mark.parametrize(
    ("consistency", "mosaic", "averaging"),
    [
        (True, "srgb", "srgb"),
        (True, "linear", "linear"),
        (True, "srgb", "auto"),
        (False, "srgb", ""),
    ],
)
def test_model_and_bicubic_rows_are_projected_alike_and_8_bit(consistency, mosaic, averaging):
    """Both image rows get the projection (or neither does), and every row is scored as the
    8-bit image a user would save."""
    from depix.evaluate.conditions import Condition
    from depix.evaluate.runner import METHODS, Evaluator
    from depix.evaluate.suites import ImageGroup, Suite

    clean = (torch.rand(2, 3, 24, 48, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    condition = Condition(6, averaging=mosaic, offset="random")
    suite = Suite("photos", [ImageGroup(clean, ["a", "b"])], [condition])
    evaluator = Evaluator(NoisyNet(), consistency=consistency, averaging=averaging or "auto")
    evaluator.ocr = False
    records = evaluator.run([suite])
    model = [r.consistency for r in records if r.method == "model"]
    bicubic = [r.consistency for r in records if r.method == "bicubic"]
    if consistency:  # within 8-bit rounding of the observed cells
        assert max(model) <= 0.5 and max(bicubic) <= 0.5
        assert sum(evaluator.projections.values()) == 2
    else:
        assert min(model) > 2.0 and min(bicubic) > 0.5
    assert all(r.seconds > 0 for r in records if r.method == "model")
    for example in evaluator.examples["photos"].items:
        for method, panel in zip(METHODS, example.panels):
            assert torch.equal(panel, torch.round(panel * 255) / 255), method


class HalfOracle:
    """A fake text method: the truth for even lines, nothing for odd ones (it is handed the
    truths up front, the way a test can know them; real methods only see the mosaic)."""

    def __init__(self, truths: list[str]) -> None:
        self.truths = truths
        self.calls: list[tuple] = []
        self.last_confidences: list[float] = []

    def __call__(self, observed, grid, condition):
        self.calls.append((observed, grid, condition))
        n = observed.shape[0]
        self.last_confidences = [1.0 - (i % 2) for i in range(n)]
        return [t if i % 2 == 0 else "" for i, t in enumerate(self.truths[:n])]


class ConstantReader:
    """A text method for the config-group test: reads every line as ``text``."""

    def __init__(self, text: str = "abc") -> None:
        self.text = text

    def __call__(self, observed, grid, condition):
        return [self.text] * observed.shape[0]


def test_text_method_rows_are_scored_timed_and_reported(tmp_path):
    from depix.degrade.averaging import to_8bit
    from depix.evaluate.conditions import Condition, degrade
    from depix.evaluate.report import summarize, views, write_lines_csv, write_outputs
    from depix.evaluate.runner import Evaluator
    from depix.evaluate.suites import ImageGroup, Suite

    clean = to_8bit(torch.rand(4, 3, 24, 48, generator=torch.Generator().manual_seed(2)))
    truths = ["alpha", "beta", "gamma", "delta"]
    group = ImageGroup(clean, [f"line{i}" for i in range(4)], truths, font_size=16)
    conditions = [Condition(4, font_size=16, jpeg=True), Condition(10, font_size=16)]
    oracle = HalfOracle(truths)
    evaluator = Evaluator(NoisyNet(), text_methods={"oracle": oracle})
    evaluator.ocr = False
    records = evaluator.run([Suite("text", [group], conditions)])
    rows = [r for r in records if r.method == "oracle"]
    assert len(rows) == 8 and all(r.psnr is None and r.consistency is None for r in rows)
    assert [r.cer for r in rows[:4]] == [0.0, 1.0, 0.0, 1.0]
    assert [r.exact for r in rows[:4]] == [1.0, 0.0, 1.0, 0.0]
    assert [r.confidence for r in rows[:4]] == [1.0, 0.0, 1.0, 0.0]
    assert all(r.seconds > 0 and r.text == truths[i % 4] for i, r in enumerate(rows))
    # The method saw exactly the pixelated lines the other rows saw, with the grid used.
    observed, grid, condition = oracle.calls[0]
    assert condition == conditions[0] and grid.block == 4
    assert observed.dtype == torch.float32 and observed.device.type == "cpu"
    assert torch.equal(observed, degrade(clean, condition, grid))
    # Rows in every table, between the model and the original; bands up to 0.6 and beyond.
    overall = summarize(records, "text")
    assert [r["method"] for r in overall] == ["input", "bicubic", "model", "oracle", "clean"]
    assert overall[3]["cer"] == 0.5 and overall[3]["exact"] == 0.5
    assert overall[3]["psnr"] is None and overall[3]["seconds"] > 0
    bands = {r["block/font"] for r in summarize(records, "text", ("block/font",))}
    assert bands == {"<= 1/4", "> 0.6"}
    assert {title for title, *_ in views(records)} >= {"text: per block size", "text: per jpeg"}
    paths = write_outputs(records, evaluator.examples, tmp_path, "# header", [])
    markdown = paths["results.md"].read_text()
    assert markdown.count("| oracle |") >= 4  # overall, per block (2), per band (2), per jpeg
    with open(paths["lines.csv"]) as handle:
        lines = [r for r in csv.DictReader(handle) if r["method"] == "oracle"]
    assert [r["reading"] for r in lines[:2]] == ["alpha", ""] and lines[0]["psnr"] == ""
    assert (
        write_lines_csv(records, tmp_path / "again.csv").read_text()
        == paths["lines.csv"].read_text()
    )


def test_a_text_method_returning_the_wrong_count_is_a_clear_error():
    from depix.evaluate.conditions import Condition
    from depix.evaluate.runner import Evaluator
    from depix.evaluate.suites import ImageGroup, Suite

    group = ImageGroup(torch.zeros(2, 3, 16, 16), ["a", "b"], ["x", "y"], font_size=16)
    evaluator = Evaluator(NoisyNet(), text_methods={"bad": lambda o, g, c: ["x"]})
    evaluator.ocr = False
    with pytest.raises(ValueError, match="text method 'bad' must return a list of 2 strings"):
        evaluator.run([Suite("text", [group], [Condition(4, font_size=16)])])
    with pytest.raises(ValueError, match="clash"):
        Evaluator(NoisyNet(), text_methods={"model": ConstantReader()})


@pytest.mark.slow
def test_text_method_config_group_adds_rows_in_depix_eval(tiny_run, tmp_path):
    """``text_method=[constant]`` from a config group option: instantiated, scored, reported,
    counted by the progress total, and compared by compare.py."""
    from depix.evaluate.compare import main as compare_main

    options = tmp_path / "configs" / "text_method"
    options.mkdir(parents=True)
    (options / "constant.yaml").write_text(
        "constant:\n  _target_: tests.test_eval_run.ConstantReader\n  text: abc\n"
    )
    out = tmp_path / "out"
    cfg = eval_cfg(
        f"ckpt_path={tiny_run}",
        f"hydra.searchpath=[file://{tmp_path / 'configs'}]",
        "text_method=[constant]",
        f"out_dir={out}",
        *SMALL_TEXT,
    )
    evaluate(cfg)
    markdown = (out / "results.md").read_text()
    assert "| constant |" in markdown.split("## text: per block size")[1]
    with open(out / "lines.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r["method"] == "constant"]
    assert len(rows) == 2 * 2 and all(r["reading"] == "abc" for r in rows)
    compare_main([str(out), "--paired", "cer", "--row", "constant", "--against", "bicubic"])


def test_record_results_writes_next_to_the_recipe(tmp_path):
    (tmp_path / "recipe.yaml").write_text("run_name: recipe\n")
    path = record_results("# depix-eval: recipe\n\n| a |\n", "recipe", tmp_path)
    assert path == tmp_path / "recipe.md"
    assert path.read_text().startswith("# Results: recipe")


@pytest.mark.slow
def test_checkpoint_without_config_is_a_clear_error(tiny_run, tmp_path):
    checkpoint = load_checkpoint_file(tiny_run / "checkpoints" / "last.ckpt")
    del checkpoint["depix_config"]
    torch.save(checkpoint, tmp_path / "noconfig.ckpt")
    with pytest.raises(CheckpointLoadError, match="carries no depix config"):
        evaluate(eval_cfg(f"ckpt_path={tmp_path / 'noconfig.ckpt'}", f"out_dir={tmp_path}"))


@pytest.mark.slow
def test_incompatible_config_is_a_clear_error(tiny_run, tmp_path):
    checkpoint = load_checkpoint_file(tiny_run / "checkpoints" / "last.ckpt")
    checkpoint["depix_config"]["model"]["widths"] = [16, 32]  # weights were trained for [8, 16]
    torch.save(checkpoint, tmp_path / "wider.ckpt")
    with pytest.raises(CheckpointLoadError, match="do not fit"):
        evaluate(eval_cfg(f"ckpt_path={tmp_path / 'wider.ckpt'}", f"out_dir={tmp_path}"))
    checkpoint["depix_config"]["model"]["_target_"] = "depix.models.unet.NoSuchNet"
    torch.save(checkpoint, tmp_path / "renamed.ckpt")
    with pytest.raises(CheckpointLoadError, match="cannot be built"):
        evaluate(eval_cfg(f"ckpt_path={tmp_path / 'renamed.ckpt'}", f"out_dir={tmp_path}"))


def test_unknown_consistency_averaging_is_a_clear_error(tmp_path):
    cfg = eval_cfg(f"ckpt_path={tmp_path}", "consistency_averaging=median")
    with pytest.raises(ValueError, match="consistency_averaging must be one of"):
        evaluate(cfg)


@pytest.mark.slow
def test_cli_reports_a_missing_checkpoint(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "depix.eval", f"ckpt_path={tmp_path / 'nope'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stdout + result.stderr


def test_progress_log_reports_every_tenth_with_time_left(caplog):
    """Without a terminal (log files, CI) progress is a log line per 10 % with an estimate."""
    from depix.eval import ProgressLog

    reporter = ProgressLog(40)
    with caplog.at_level("INFO", logger="depix.eval"):
        for _ in range(10):
            reporter.advance(4)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10 and lines[0].startswith("4/40 lines (10 %)")
    assert lines[-1].startswith("40/40 lines (100 %)") and all("left" in line for line in lines)
    caplog.clear()
    with caplog.at_level("INFO", logger="depix.eval"):
        ProgressLog(100).advance(35)  # one jump over several steps: one line
    assert [r.getMessage()[:16] for r in caplog.records] == ["35/100 lines (35"]
