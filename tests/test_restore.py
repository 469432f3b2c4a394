"""depix.restore: the API and the depix-restore CLI on generated screenshots, every mode, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from depix.degrade.mosaic import mosaic
from depix.models.loading import EXPORT_FORMAT
from depix.models.unet import UNet
from depix.restore import api
from depix.restore.cli import EXIT_ERROR, EXIT_NO_REGION, main
from depix.restore.regrid import Regrid
from depix.restore.synthetic import MosaicBox, pixelate_boxes, text_canvas

BOX = MosaicBox(120, 60, 320, 40, 8, 3, 5)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An exported model file of the real format, tiny, whose output is far from its input
    (so consistency enforcement has work to do)."""
    torch.manual_seed(0)
    net = UNet(widths=[8, 16], stem=2)
    torch.nn.init.normal_(net.head[0].weight, std=0.05)
    config = {"model": {"_target_": "depix.models.unet.UNet", "widths": [8, 16], "stem": 2}}
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    torch.save({"format": EXPORT_FORMAT, "config": config, "state_dict": net.state_dict()}, path)
    return path


@pytest.fixture(scope="session")
def clean_canvas() -> np.ndarray:
    return text_canvas(560, 180, seed=11)


@pytest.fixture(scope="session")
def shot(clean_canvas) -> np.ndarray:
    return pixelate_boxes(clean_canvas, [BOX])


class Oracle(torch.nn.Module):
    """A stub model that returns the true clean pixels of whatever crop of ``pixelated`` it
    is given (found by exact match), optionally plus seeded noise: restoration with a
    perfect (or a noisy) network, so tests can check what restore() does around it."""

    def __init__(self, pixelated: np.ndarray, clean: np.ndarray, noise: float = 0.0) -> None:
        super().__init__()
        self.pixelated, self.clean, self.noise = pixelated, clean, noise
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # restore() asks for the device

    def locate(self, crop: np.ndarray) -> tuple[int, int]:
        h, w = crop.shape[:2]
        first = crop[0].tobytes()
        for y in range(self.pixelated.shape[0] - h + 1):
            row = self.pixelated[y].tobytes()
            at = row.find(first)
            while at >= 0:
                if at % 3 == 0 and np.array_equal(
                    self.pixelated[y : y + h, at // 3 : at // 3 + w], crop
                ):
                    return y, at // 3
                at = row.find(first, at + 1)
        raise AssertionError("the oracle was given pixels that are not in the screenshot")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        crop = (x[0].permute(1, 2, 0) * 255).round().byte().numpy()
        y, x0 = self.locate(crop)
        h, w = crop.shape[:2]
        out = torch.from_numpy(self.clean[y : y + h, x0 : x0 + w].copy()).permute(2, 0, 1)
        out = out[None].float() / 255
        if self.noise:
            g = torch.Generator().manual_seed(0)
            out = out + self.noise * torch.randn(out.shape, generator=g)
        return out


def oracle_model(pixelated: np.ndarray, clean: np.ndarray, noise: float = 0.0):
    from depix.models.loading import LoadedModel

    net = Oracle(pixelated, clean, noise)
    return LoadedModel(net=net, config={"model": {}}, path=__import__("pathlib").Path("<oracle>"))


@pytest.fixture
def shot_file(tmp_path, shot):
    path = tmp_path / "shot.png"
    Image.fromarray(shot).save(path)
    return path


def outside(array: np.ndarray, region) -> np.ndarray:
    mask = np.ones(array.shape[:2], dtype=bool)
    mask[region.y : region.y + region.h, region.x : region.x + region.w] = False
    return array[mask]


def cell_error(out: np.ndarray, ref: np.ndarray, region) -> float:
    """Largest cell-mean difference (0-255 units) of two uint8 images inside ``region``."""
    g = region.grid
    grid = (
        g.block_h,
        g.block_w,
        (g.offset_y - region.y) % g.block_h,
        (g.offset_x - region.x) % g.block_w,
    )
    crop = [
        torch.from_numpy(a[region.y : region.y + region.h, region.x : region.x + region.w].copy())
        .permute(2, 0, 1)[None]
        .float()
        for a in (out, ref)
    ]
    return float((mosaic(crop[0], *grid) - mosaic(crop[1], *grid)).abs().max())


def test_restore_detects_keeps_outside_and_is_consistent(shot_file, shot, tiny_model):
    result = api.restore(shot_file, model=tiny_model, averaging="srgb")  # shot: sRGB means
    assert len(result.regions) == 1
    region = result.regions[0].region
    assert (
        region.grid.block_h == 8
        and (region.grid.offset_y, region.grid.offset_x) == BOX.grid_offset()
    )
    out = np.asarray(result.image)
    assert result.image.size == (560, 180) and result.image.mode == "RGB"
    np.testing.assert_array_equal(outside(out, region), outside(shot, region))
    assert not np.array_equal(out, shot)  # the model did change the region
    assert cell_error(out, shot, region) <= 1.0
    assert result.regions[0].consistency_error * 255 <= 1.0
    assert result.regions[0].averaging == "srgb"
    assert {"load_s", "detect_s", "restore_s"} <= result.timings.keys()


def test_auto_averaging_is_consistent_in_the_averaging_it_chose(shot_file, tiny_model):
    region = api.restore(shot_file, model=tiny_model).regions[0]  # averaging="auto"
    assert region.averaging in ("srgb", "linear", "center", "corner")
    assert region.consistency_error * 255 <= 1.0


def test_auto_with_a_perfect_network_picks_srgb_and_reports_every_averaging(
    shot_file, shot, clean_canvas
):
    """The shot's box holds sRGB means. With the oracle network, auto picks srgb, and the
    report gives the raw output's gap and the final consistency error for every averaging,
    so a wrong pick would show (the others are clearly worse here)."""
    box = (BOX.x, BOX.y, BOX.w, BOX.h)
    result = api.restore(shot_file, model=oracle_model(shot, clean_canvas), boxes=[box])
    report = result.regions[0].to_dict()
    assert report["averaging"] == "srgb"
    gaps, errors = report["raw_gap_255_by_averaging"], report["consistency_error_255_by_averaging"]
    assert set(gaps) == set(errors) == {"srgb", "linear", "center", "corner"}
    assert gaps["srgb"] <= 0.5 and min(gaps["linear"], gaps["center"], gaps["corner"]) > 2.0
    assert errors["srgb"] <= 1.0 and min(errors["linear"], errors["center"], errors["corner"]) > 5.0


def test_without_consistency_the_blocks_are_not_kept(shot_file, shot, tiny_model):
    result = api.restore(shot_file, model=tiny_model, consistency=False)
    region = result.regions[0].region
    assert cell_error(np.asarray(result.image), shot, region) > 1.0


def test_rescaled_mosaic_is_restored_on_its_own_grid(tmp_path, tiny_model):
    """A screenshot scaled 150 % (bicubic) after redaction: the region is found with its
    9 px pitch, restored, and the result keeps the input's cells (checked on the integer
    grid the restoration used) while every pixel outside stays as it was."""
    clean = Image.fromarray(pixelate_boxes(text_canvas(560, 180, seed=11), [BOX]))
    shot = np.asarray(clean.resize((840, 270), Image.BICUBIC))
    path = tmp_path / "scaled.png"
    Image.fromarray(shot).save(path)
    result = api.restore(path, model=tiny_model, averaging="srgb")
    (item,) = result.regions
    region = item.region
    assert region.pitch is not None and abs(region.pitch.size - 12.0) < 0.05
    assert item.to_dict()["pitch"]["size"] == region.pitch.size
    out = np.asarray(result.image)
    np.testing.assert_array_equal(outside(out, region), outside(shot, region))
    assert not np.array_equal(out, shot)
    assert item.consistency_error * 255 <= 1.0
    regrid = Regrid.for_crop(region.pitch, 0, 0, *shot.shape[:2])
    (rows, cols), grid = regrid.window(region.y, region.x, region.h, region.w)
    b = grid[0]
    means = [
        mosaic(regrid.forward(torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float()), b, b)
        for a in (out, shot)
    ]
    inner = (  # a cell in from the edges (the region is only the mosaic's rows of text)
        ...,
        slice(rows.start + b, rows.stop - b),
        slice(cols.start + b, cols.stop - b),
    )
    # 5 levels: cells one in from the edge still see the bicubic map back at their border
    assert float((means[0] - means[1])[inner].abs().max()) <= 5.0


def test_depix_restore_is_callable_and_import_stays_light(shot_file, tiny_model):
    import depix

    assert depix.restore(shot_file, model=tiny_model).regions
    code = "import depix, sys; assert 'torch' not in sys.modules, 'import depix loaded torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_json_and_given_box(shot_file, tiny_model, tmp_path, capsys):
    out = tmp_path / "out.png"
    box = f"{BOX.x},{BOX.y},{BOX.w},{BOX.h}"
    assert (
        main(
            [str(shot_file), "-o", str(out), "--ckpt", str(tiny_model), "--box", box, "--json"]
            + ["--averaging", "linear"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    (region,) = report["regions"]
    assert (region["x"], region["y"], region["w"], region["h"]) == (BOX.x, BOX.y, BOX.w, BOX.h)
    assert region["grid"]["block_h"] == 8 and region["source"] == "given"
    assert region["averaging"] == "linear" and region["consistency_error_255"] <= 1.0
    assert report["timings"]["detect_s"] >= 0 and out.is_file()


def test_read_ocrs_exactly_the_restored_box(shot_file, shot, clean_canvas, monkeypatch):
    """--read hands Tesseract the restored pixels of the box (not the input, not another
    crop); with a perfect restoration (the oracle) it reads what the clean box reads."""
    from depix.metrics import ocr

    given = []
    monkeypatch.setattr(ocr, "tesseract_available", lambda: True)
    margins = []
    monkeypatch.setattr(
        ocr,
        "read_line",
        lambda pixels, margin=0: given.append(pixels.copy()) or margins.append(margin) or "text",
    )
    box = (BOX.x, BOX.y, BOX.w, BOX.h)
    result = api.restore(
        shot_file, model=oracle_model(shot, clean_canvas), boxes=[box], consistency=False, read=True
    )
    # Line by line (the box cuts a second line at its bottom): the bands tile the box.
    assert len(given) == 2
    pixels = np.concatenate(given, axis=0)
    inside = np.s_[BOX.y : BOX.y + BOX.h, BOX.x : BOX.x + BOX.w]
    np.testing.assert_array_equal(pixels, np.asarray(result.image)[inside])
    np.testing.assert_array_equal(pixels, clean_canvas[inside])
    assert result.regions[0].tesseract_text == "text\ntext" == result.regions[0].text
    assert margins == [api.READ_MARGIN] * 2  # with a border: the crop ends at the cells


def test_read_with_tesseract_reads_the_clean_text_of_the_box(shot_file, shot, clean_canvas):
    from depix.metrics.ocr import read_line, tesseract_available

    if not tesseract_available():
        pytest.skip("Tesseract is not installed")
    box = (BOX.x, BOX.y, BOX.w, BOX.h)
    result = api.restore(
        shot_file, model=oracle_model(shot, clean_canvas), boxes=[box], consistency=False, read=True
    )
    inside = np.s_[BOX.y : BOX.y + BOX.h, BOX.x : BOX.x + BOX.w]
    clean, pixelated = clean_canvas[inside], shot[inside]
    from depix.restore.lines import split_lines

    # Read line by line: the box holds one line and the top of the next.
    b = BOX.block
    bands = split_lines(pixelated, b, BOX.offset_y % b, BOX.offset_x % b)  # box-relative grid
    assert len(bands) == 2
    truth = "\n".join(read_line(clean[y0:y1], margin=api.READ_MARGIN) for y0, y1 in bands)
    assert len(truth) >= 5  # the box holds readable text
    assert result.regions[0].tesseract_text == truth
    assert (
        "\n".join(read_line(pixelated[y0:y1], margin=api.READ_MARGIN) for y0, y1 in bands) != truth
    )


def test_cli_read_says_when_tesseract_is_missing(
    shot_file, tiny_model, tmp_path, capsys, monkeypatch
):
    from depix.metrics import ocr

    monkeypatch.setattr(ocr, "tesseract_available", lambda: False)
    code = main(
        [str(shot_file), "-o", str(tmp_path / "o.png"), "--ckpt", str(tiny_model)]
        + ["--read", "--no-decode", "--json"]
    )
    captured = capsys.readouterr()
    region = json.loads(captured.out)["regions"][0]
    assert code == 0 and region["tesseract_text"] is None
    # the shipped reader still reads it, and its reading is then the text
    assert region["text"] and region["candidates"] and region["text"] == region["reader_text"]


def _in_mode(shot: np.ndarray, mode: str) -> Image.Image:
    image = Image.fromarray(shot)
    if mode == "I;16":
        return Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)
    if mode in ("LA", "RGBA"):
        image = image.convert(mode)
        image.putalpha(Image.linear_gradient("L").resize(image.size))
        return image
    return image.convert(mode)


@pytest.fixture(scope="module")
def restored_rgb(shot, tiny_model):
    """The RGB restoration of each mode's pixels as the model sees them (pil_to_rgb)."""
    from depix.data.folder import pil_to_rgb

    box = (BOX.x, BOX.y, BOX.w, BOX.h)

    def restore(mode: str) -> np.ndarray:
        rgb = Image.fromarray(pil_to_rgb(_in_mode(shot, mode)))
        return np.asarray(api.restore(rgb, model=tiny_model, boxes=[box]).image)

    return restore


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK"])
def test_every_mode_keeps_size_mode_alpha_and_outside_pixels(
    mode, shot, tiny_model, tmp_path, restored_rgb
):
    """Outside the box: bit-identical. Inside: the RGB restoration, written in the mode
    (checked against each mode's own meaning, not against the code that converts)."""
    image = _in_mode(shot, mode)
    assert image.mode == mode
    src = tmp_path / ("in.tif" if mode == "CMYK" else "in.png")
    image.save(src)
    out = tmp_path / ("out.tif" if mode == "CMYK" else "out.png")
    box = f"{BOX.x},{BOX.y},{BOX.w},{BOX.h}"
    assert main([str(src), "-o", str(out), "--ckpt", str(tiny_model), "--box", box]) == 0
    before, after = Image.open(src), Image.open(out)
    assert after.mode == before.mode and after.size == before.size
    region = type("R", (), {"x": BOX.x, "y": BOX.y, "w": BOX.w, "h": BOX.h})
    a, b = np.asarray(before), np.asarray(after)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    np.testing.assert_array_equal(outside(b, region), outside(a, region))
    if mode in ("LA", "RGBA"):
        np.testing.assert_array_equal(
            np.asarray(after.getchannel("A")), np.asarray(before.getchannel("A"))
        )

    inside = np.s_[BOX.y : BOX.y + BOX.h, BOX.x : BOX.x + BOX.w]
    want = restored_rgb(mode)[inside].astype(np.float64)
    input_rgb = np.asarray(Image.fromarray(shot))[inside].astype(np.float64)
    assert np.abs(want - input_rgb).mean() > 1.0  # the restoration changed the box
    grey = want @ np.array([0.299, 0.587, 0.114])  # ITU-R 601-2 luma, as Pillow's "L"
    if mode in ("RGB", "RGBA", "CMYK"):
        got = np.asarray(after.convert("RGB") if mode == "CMYK" else after)[inside][..., :3]
        np.testing.assert_array_equal(got, want)
    elif mode in ("L", "LA"):
        got = np.asarray(after.getchannel("L"))[inside]
        assert np.abs(got - grey).max() <= 1.0
    elif mode == "I;16":
        got = np.asarray(after)[inside] / 257
        assert np.abs(got - grey).max() <= 1.0
    elif mode == "1":
        got = np.asarray(after)[inside]
        ambiguous = np.abs(grey - 127.5) < 1.0  # rounding of the luma decides these
        np.testing.assert_array_equal(got[~ambiguous], grey[~ambiguous] >= 128)
    else:  # "P": (about) the nearest colour of the input's palette
        palette = np.asarray(before.getpalette(), dtype=np.float64).reshape(-1, 3)
        got = palette[np.asarray(after)[inside]]
        gaps = ((want[..., None, :] - palette) ** 2).sum(-1)
        # Pillow's palette lookup is close to, not exactly, the nearest colour: allow 16
        # levels further than the nearest, in Euclidean RGB distance.
        excess = np.sqrt(((got - want) ** 2).sum(-1)) - np.sqrt(gaps.min(-1))
        assert excess.max() <= 16


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_bad_inputs_give_a_clear_message_and_exit_code(tmp_path, shot_file, tiny_model, capsys):
    ckpt = ["--ckpt", tiny_model]
    cases = {
        "missing": (tmp_path / "nope.png", "no such file"),
        "not an image": (tmp_path / "notes.png", "cannot read image"),
        "zero bytes": (tmp_path / "empty.png", "cannot read image"),
        "truncated": (tmp_path / "cut.png", "cannot read image"),
    }
    cases["not an image"][0].write_text("hello, not a picture")
    cases["zero bytes"][0].write_bytes(b"")
    data = shot_file.read_bytes()
    cases["truncated"][0].write_bytes(data[: len(data) // 2])
    for name, (path, message) in cases.items():
        code, err = run_cli([path, *ckpt], capsys)
        assert code == EXIT_ERROR and message in err, (name, err)
        assert "Traceback" not in err


def test_huge_image_is_refused_before_decoding(tmp_path, tiny_model, capsys):
    path = tmp_path / "huge.png"
    Image.new("1", (8000, 7000)).save(path)  # 56 MP, a few kB on disk
    code, err = run_cli([path, "--ckpt", tiny_model], capsys)
    assert code == EXIT_ERROR and "above the limit of 50 MP" in err


def test_box_outside_the_image_and_malformed_box(shot_file, tiny_model, capsys):
    code, err = run_cli([shot_file, "--ckpt", tiny_model, "--box", "500,150,100,40"], capsys)
    assert code == EXIT_ERROR and "outside the 560x180 image" in err
    with pytest.raises(SystemExit) as exit_info:
        main([str(shot_file), "--box", "1,2,3"])
    assert exit_info.value.code == 2 and "four integers" in capsys.readouterr().err


def test_no_region_found_exits_3(tmp_path, tiny_model, capsys):
    path = tmp_path / "clean.png"
    Image.fromarray(text_canvas(400, 120, seed=1)).save(path)
    code, err = run_cli([path, "--ckpt", tiny_model], capsys)
    assert code == EXIT_NO_REGION and "no pixelated region found" in err and "--box" in err


def test_animated_gif_restores_the_first_frame_and_says_so(tmp_path, shot, tiny_model, capsys):
    frames = [Image.fromarray(shot).convert("P"), Image.new("P", (560, 180), 3)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    box = f"{BOX.x},{BOX.y},{BOX.w},{BOX.h}"
    code, err = run_cli(
        [path, "--ckpt", tiny_model, "--box", box, "-o", tmp_path / "a.png"], capsys
    )
    assert code == 0 and "first frame only" in err


def test_missing_shipped_model_says_how_to_get_one(shot_file, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(api, "DEFAULT_MODEL", tmp_path / "absent.pt")
    code, err = run_cli([shot_file, "-o", tmp_path / "o.png"], capsys)
    assert code == EXIT_ERROR and "--ckpt runs/<name>" in err and "make ship" in err
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    code, err = run_cli([shot_file, "--ckpt", broken, "-o", tmp_path / "o.png"], capsys)
    assert code == EXIT_ERROR and "broken.pt" in err


@pytest.mark.slow
def test_python_m_depix_restore_runs(shot_file, tiny_model, tmp_path):
    out = tmp_path / "o.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "depix.restore",
            str(shot_file),
            "--ckpt",
            str(tiny_model),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "restored" in done.stdout


def test_cli_read_decodes_unless_told_not_to(shot_file, tiny_model, tmp_path, monkeypatch):
    """--read runs the decoder (issue 12: it prints the decoded strings); --read --no-decode
    only reads with the reader and Tesseract; --decode decodes without --read."""
    from depix.decode.decode import DecodeOptions

    calls: list[object] = []

    def spy(rgb, results, restored_rgb, options, notes):
        calls.append(options)
        return False

    monkeypatch.setattr(api, "_decode_regions", spy)
    base = [str(shot_file), "-o", str(tmp_path / "o.png"), "--ckpt", str(tiny_model), "--json"]
    assert main([*base, "--read", "--charset", "digits"]) == 0
    assert len(calls) == 1 and isinstance(calls[0], DecodeOptions)
    assert calls[0].charset == "digits"
    assert main([*base, "--read", "--no-decode"]) == 0
    assert len(calls) == 1
    assert main([*base, "--decode"]) == 0
    assert len(calls) == 2
