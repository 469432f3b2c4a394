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
        "`consistency_averaging=auto`); images projected as srgb / linear: linear mos" in markdown
    )
    for title in ("text: overall", "text: per block size", "images: overall", "text: per jpeg"):
        assert f"## {title}" in markdown
    # blocks 4 and 8 on a 16 px font: one readable band (<= 1/4), one beyond a third.
    band_table = markdown.split("## text: per block size / font size")[1].split("##")[0]
    assert "| <= 1/4 | model |" in band_table and "| > 1/3 | model |" in band_table
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
def test_model_row_is_projected_onto_the_observed_blocks(consistency, mosaic, averaging):
    from depix.evaluate.conditions import Condition
    from depix.evaluate.runner import Evaluator
    from depix.evaluate.suites import ImageGroup, Suite

    clean = (torch.rand(2, 3, 24, 48, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    condition = Condition(6, averaging=mosaic, offset="random")
    suite = Suite("photos", [ImageGroup(clean, ["a", "b"])], [condition])
    evaluator = Evaluator(NoisyNet(), consistency=consistency, averaging=averaging or "auto")
    evaluator.ocr = False
    records = evaluator.run([suite])
    model = [r.consistency for r in records if r.method == "model"]
    if consistency:  # within 8-bit rounding of the observed cells
        assert max(model) <= 0.5
        assert sum(evaluator.projections.values()) == 2
    else:
        assert min(model) > 2.0


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
