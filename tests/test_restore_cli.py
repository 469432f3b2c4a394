"""depix-restore's command line: ordinary mistakes give one line and a non-zero exit before
any work, the input is never overwritten by accident, lossy outputs are announced, and a
folder restores every image in it (issues 15, 16, 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from depix.models.loading import EXPORT_FORMAT
from depix.models.unet import UNet
from depix.restore import api
from depix.restore.cli import EXIT_ERROR, EXIT_NO_REGION, EXIT_USAGE, main
from depix.restore.synthetic import MosaicBox, pixelate_boxes, text_canvas

BOX = MosaicBox(40, 30, 200, 40, 8, 3, 5)
BOX_ARG = f"{BOX.x},{BOX.y},{BOX.w},{BOX.h}"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An exported model file in the real format, tiny (milliseconds per image)."""
    torch.manual_seed(0)
    net = UNet(widths=[8, 16], stem=2)
    config = {"model": {"_target_": "depix.models.unet.UNet", "widths": [8, 16], "stem": 2}}
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    torch.save({"format": EXPORT_FORMAT, "config": config, "state_dict": net.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def shot() -> np.ndarray:
    """A 280x100 RGB screenshot with one block-8 mosaic (BOX)."""
    return pixelate_boxes(text_canvas(280, 100, seed=3), [BOX])


@pytest.fixture
def shot_file(tmp_path, shot):
    path = tmp_path / "shot.png"
    Image.fromarray(shot).save(path)
    return path


@pytest.fixture
def no_restore(monkeypatch):
    """Make any restore a test failure: the checks must come before the work."""

    def refuse(*args, **kwargs):
        raise AssertionError("the restore ran although the command line was wrong")

    monkeypatch.setattr(api, "restore", refuse)
    monkeypatch.setattr(api, "load_restore_model", refuse)


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("out", "has no extension"),
        ("out.xyz", "unknown image extension"),
        ("out.ico", "not written by depix"),  # Pillow writes ICO, resized to at most 256 px
    ],
)
def test_output_without_a_usable_extension_is_refused_before_restoring(
    name, message, shot_file, tiny_model, tmp_path, no_restore, capsys
):
    code, _, err = run([shot_file, "-o", tmp_path / name, "--ckpt", tiny_model], capsys)
    line = one_line(err)
    assert code == EXIT_USAGE and message in line and name in line and ".png" in line
    assert not (tmp_path / name).exists()


def test_output_that_cannot_hold_the_mode_is_refused_before_restoring(
    tmp_path, shot, tiny_model, no_restore, capsys
):
    src = tmp_path / "print.tif"
    Image.fromarray(shot).convert("CMYK").save(src)
    code, _, err = run([src, "-o", tmp_path / "out.png", "--ckpt", tiny_model], capsys)
    assert code == EXIT_USAGE and "cannot write a CMYK image as PNG" in one_line(err)


@pytest.mark.parametrize("spelling", ["same", "dot-slash", "symlink"])
def test_output_equal_to_the_input_is_refused(
    spelling, shot_file, tiny_model, no_restore, capsys, monkeypatch
):
    before = shot_file.read_bytes()
    monkeypatch.chdir(shot_file.parent)
    target = {"same": shot_file, "dot-slash": "./shot.png", "symlink": "link.png"}[spelling]
    if spelling == "symlink":
        os.symlink(shot_file, shot_file.parent / "link.png")
    code, _, err = run([shot_file, "-o", target, "--ckpt", tiny_model], capsys)
    line = one_line(err)
    assert code == EXIT_USAGE and "is the input" in line and "--force" in line
    assert shot_file.read_bytes() == before


def test_force_overwrites_the_input(shot_file, shot, tiny_model, capsys):
    code, _, _ = run(
        [shot_file, "-o", shot_file, "--force", "--ckpt", tiny_model, "--box", BOX_ARG], capsys
    )
    assert code == 0
    after = np.asarray(Image.open(shot_file))
    inside = (slice(BOX.y, BOX.y + BOX.h), slice(BOX.x, BOX.x + BOX.w))
    assert not np.array_equal(after[inside], shot[inside])  # it is the restored picture


def outside_equal(a: np.ndarray, b: np.ndarray) -> bool:
    mask = np.ones(a.shape[:2], dtype=bool)
    mask[BOX.y : BOX.y + BOX.h, BOX.x : BOX.x + BOX.w] = False
    return bool(np.array_equal(a[mask], b[mask]))


def test_lossy_output_is_announced_and_lossless_ones_keep_every_pixel(
    shot_file, shot, tiny_model, tmp_path, capsys
):
    common = ["--ckpt", tiny_model, "--box", BOX_ARG]
    code, _, err = run([shot_file, "-o", tmp_path / "out.jpg", *common], capsys)
    assert code == 0 and (tmp_path / "out.jpg").is_file()
    assert err.startswith("warning:") and "JPEG" in err and "re-encoded" in one_line(err)
    for name in ("out.png", "out.webp", "out.tif"):  # WebP is written lossless
        code, _, err = run([shot_file, "-o", tmp_path / name, *common], capsys)
        assert code == 0 and "warning" not in err, (name, err)
        back = np.asarray(Image.open(tmp_path / name).convert("RGB"))
        assert outside_equal(back, shot), name


def test_default_output_keeps_a_32_bit_picture(tmp_path, shot, tiny_model, capsys):
    """PNG cannot hold 32-bit integer pixels: the default output is then a TIFF."""
    src = tmp_path / "scan.tif"
    grey = np.asarray(Image.fromarray(shot).convert("L"), dtype=np.int32) * 1000
    Image.fromarray(grey).save(src)
    assert Image.open(src).mode == "I"
    code, _, err = run([src, "--ckpt", tiny_model, "--box", BOX_ARG], capsys)
    assert code == 0, err
    out = tmp_path / "scan-restored.tif"
    assert Image.open(out).mode == "I" and outside_equal(np.asarray(Image.open(out)), grey)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--box", "1,2,3"], "four integers"),
        (["--box", "a,b,c,d"], "four integers"),
        (["--block", "1"], "cell sizes in px between 2 and 256"),
        (["--block", "eight"], "must be N or WxH"),
        (["--averaging", "median"], "invalid choice"),
    ],
)
def test_bad_options_give_one_line(argv, message, shot_file, no_restore, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(shot_file), *argv])
    line = one_line(capsys.readouterr().err)
    assert exit_info.value.code == EXIT_USAGE and message in line and "--help" in line


def test_box_outside_the_image_is_one_line_before_the_model(shot_file, monkeypatch, capsys):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded for a box outside the image")

    monkeypatch.setattr(api, "load_restore_model", no_model)
    code, _, err = run([shot_file, "--box", "250,90,100,40"], capsys)
    assert code == EXIT_ERROR and "outside the 280x100 image" in one_line(err)


def test_missing_or_unreadable_input_and_missing_model(tmp_path, shot_file, tiny_model, capsys):
    (tmp_path / "notes.png").write_text("not a picture")
    cases = [
        ([tmp_path / "nope.png"], "nope.png: no such file"),
        ([tmp_path / "notes.png"], "cannot read image"),
        ([shot_file, "--ckpt", tmp_path / "absent.ckpt"], "absent.ckpt does not exist"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert code == EXIT_ERROR and message in one_line(err), err


@pytest.fixture
def folder(tmp_path, shot):
    """A folder of screenshots: PNG, JPEG (same name stem), an unreadable file, a text file
    and a sub-folder (not searched)."""
    root = tmp_path / "shots"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(shot).save(root / "a.png")
    Image.fromarray(shot).save(root / "a.jpg", quality=95)
    Image.fromarray(shot).convert("L").save(root / "b.webp", lossless=True)
    Image.fromarray(shot).save(root / "sub" / "c.png")
    (root / "notes.txt").write_text("not an image")
    return root


def test_a_folder_restores_every_image_into_an_output_folder(folder, shot, tiny_model, capsys):
    code, out, err = run([folder, "--ckpt", tiny_model, "--box", BOX_ARG], capsys)
    assert code == 0, err
    written = sorted(p.name for p in (folder / "restored").iterdir())
    assert written == ["a-jpg.png", "a.png", "b.webp"]  # lossy JPEG becomes PNG; no sub/
    assert outside_equal(np.asarray(Image.open(folder / "restored" / "a.png")), shot)
    b_in, b_out = (np.asarray(Image.open(d / "b.webp")) for d in (folder, folder / "restored"))
    assert outside_equal(b_out, b_in)  # WebP is written lossless
    assert "restored 3 of 3 images" in out
    assert (folder / "a.png").read_bytes() != (folder / "restored" / "a.png").read_bytes()


def test_a_folder_goes_on_past_a_bad_image_and_says_so(folder, tiny_model, tmp_path, capsys):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out_dir = tmp_path / "results"
    code, out, err = run(
        [folder, "-o", out_dir, "--ckpt", tiny_model, "--box", BOX_ARG, "--json"], capsys
    )
    assert code == EXIT_ERROR and "broken.png" in err and "Traceback" not in err
    report = json.loads(out)
    assert report["output"] == str(out_dir) and len(report["images"]) == 4
    failed = [item for item in report["images"] if "error" in item]
    assert [item["input"] for item in failed] == [str(folder / "broken.png")]
    assert len(list(out_dir.iterdir())) == 3


def test_a_folder_without_mosaic_exits_3_and_a_folder_needs_a_folder_output(
    tmp_path, shot, tiny_model, capsys
):
    root = tmp_path / "clean"
    root.mkdir()
    Image.fromarray(text_canvas(200, 60, seed=1)).save(root / "clean.png")
    code, out, _ = run([root, "--ckpt", tiny_model], capsys)
    assert code == EXIT_NO_REGION and "0 of 1 images" in out
    Image.fromarray(shot).save(root / "mosaic.png")  # one with a region: that is a success
    code, out, err = run([root, "--ckpt", tiny_model], capsys)
    assert code == 0 and "restored 1 of 2 images" in out and "1 without a pixelated" in out
    assert [p.name for p in (root / "restored").iterdir()] == ["mosaic.png"]
    code, _, err = run([root, "-o", tmp_path / "x.png", "--ckpt", tiny_model], capsys)
    assert code == EXIT_USAGE and "must name a folder" in one_line(err)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run([empty, "--ckpt", tiny_model], capsys)
    assert code == EXIT_ERROR and "holds no images" in one_line(err)


def test_a_folder_is_not_written_over_itself(folder, tiny_model, no_restore, capsys):
    before = (folder / "a.png").read_bytes()
    code, _, err = run([folder, "-o", folder, "--ckpt", tiny_model], capsys)
    assert code == EXIT_USAGE and "overwrite" in one_line(err) and "--force" in err
    assert (folder / "a.png").read_bytes() == before


@pytest.mark.slow
def test_no_library_warning_reaches_the_terminal(tmp_path, tiny_model):
    """A box spanning the whole width made PyTorch warn about a non-writable NumPy array
    (and Lightning/PyTorch warn about other things); a user sees only depix's own lines."""
    shot = pixelate_boxes(text_canvas(120, 60, seed=5), [MosaicBox(8, 10, 104, 40, 8, 3, 5)])
    src = tmp_path / "wide.png"
    Image.fromarray(shot).save(src)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    argv = [src, "-o", tmp_path / "o.png", "--ckpt", tiny_model, "--box", "8,10,104,40"]
    done = subprocess.run(
        [sys.executable, "-m", "depix.restore", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "warn" not in done.stderr.lower(), done.stderr
