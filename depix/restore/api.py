"""``restore()``: find the pixelated rectangles of a screenshot and redraw them with a model.

Steps, each timed: read the image (any mode), detect regions and grids (or take the
user's boxes), run the model on each region plus a margin of context (tiled), make the
result pixelate back to the input blocks, paste it into the original picture.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from depix.callbacks.checkpoint_io import CheckpointLoadError
from depix.data.folder import open_image, pil_to_rgb
from depix.restore.consistency import (
    AVERAGING,
    HYPOTHESES,
    averaging_gaps,
    consistency_error,
    enforce_consistency,
    sampled_evidence,
)
from depix.restore.detect import Region, find_regions, grid_in_box, pitch_of
from depix.restore.evidence import text_height
from depix.restore.image_io import paste_regions
from depix.restore.regrid import Regrid, beyond_range, normal_blocks
from depix.restore.tiling import run_tiled

MAX_PIXELS = 50_000_000  # beyond this even detection's buffers take gigabytes: crop first
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "weights" / "depix-small.pt"


class RestoreError(ValueError):
    """A request restore() cannot serve (bad box, no region found); the message says why."""


class NoRegionError(RestoreError):
    """No pixelated region was found in the image."""


@dataclass
class RestoredRegion:
    """One restored rectangle: where, which grid, how consistent, and what it reads."""

    region: Region
    # Largest cell-mean difference to the input, in [0, 1] units; for a rescaled region
    # (``region.pitch``) on the whole-pixel grid it was restored on, before mapping back.
    consistency_error: float
    averaging: str | None = None  # the averaging the output was made consistent with, if any
    # With --read: Tesseract on the restoration (the reader's string without Tesseract);
    # with --decode: the decoded string.
    text: str | None = None
    reader_text: str | None = None  # the shipped reader on the pixelated region, with --read
    # Cells (block_h, block_w) the region was restored at after scale normalisation
    # (``regrid.normal_blocks``), None when restored at its own scale; ``restored`` False
    # when the region was left as it is (beyond what any rescale can help).
    restored_at: tuple[int, int] | None = None
    restored: bool = True
    # The same error for the output pixelated each way of ``HYPOTHESES`` (not only the one
    # used), and the raw network output's mean cell gap each way (what ``auto`` chose by):
    # a pick that the evidence hardly separates shows here, in [0, 1] units.
    consistency_by_averaging: dict[str, float] = field(default_factory=dict)
    averaging_gaps: dict[str, float] = field(default_factory=dict)
    # What the observed cells alone say (``consistency.sampled_evidence``): the share of ink
    # cells at their neighbourhood's peak and the peak contrast (high both: sampled cells).
    sampled_evidence: dict[str, float] = field(default_factory=dict)
    # The reader's top readings of the pixelated region, best first: (string, log-probability).
    candidates: list[tuple[str, float]] | None = None
    reading: object | None = None  # depix.decode.region.RegionReading, with --decode
    tesseract_text: str | None = None  # Tesseract's reading of the restored pixels, with --read
    drawn: str = "model"  # what fills the region: "model" (U-Net) or "decoded" (rendered text)

    def to_dict(self) -> dict:
        data = self.region.to_dict()
        data["consistency_error_255"] = round(self.consistency_error * 255, 3)
        data["averaging"] = self.averaging
        data["consistency_error_255_by_averaging"] = {
            k: round(v * 255, 3) for k, v in self.consistency_by_averaging.items()
        }
        data["raw_gap_255_by_averaging"] = {
            k: round(v * 255, 3) for k, v in self.averaging_gaps.items()
        }
        data["sampled_evidence"] = {k: round(v, 3) for k, v in self.sampled_evidence.items()}
        data["text"] = self.text
        data["restored_at"] = list(self.restored_at) if self.restored_at else None
        data["restored"] = self.restored
        if self.candidates is not None:
            data["candidates"] = [{"text": t, "score": round(s, 3)} for t, s in self.candidates]
        if self.reading is not None:
            data["decoded"] = self.reading.to_dict()
        data["tesseract_text"] = self.tesseract_text
        data["reader_text"] = self.reader_text
        data["drawn"] = self.drawn
        return data


@dataclass
class RestoreResult:
    """The restored picture (input's size and mode) and what was done to get it."""

    image: Image.Image
    regions: list[RestoredRegion]
    timings: dict[str, float]
    model: str
    notes: list[str] = field(default_factory=list)


def default_model_path() -> Path:
    """Where the package's shipped model lives (``make ship`` writes it)."""
    return DEFAULT_MODEL


def load_restore_model(model=None, device: torch.device | None = None):
    """A ``LoadedModel`` from a path, run folder or ready object; the shipped one by default."""
    from depix.models.loading import LoadedModel, load_model

    if isinstance(model, LoadedModel):
        return model
    if model is None:
        if not DEFAULT_MODEL.is_file():
            raise CheckpointLoadError(
                f"no shipped model at {DEFAULT_MODEL}; pass --ckpt runs/<name> (a depix-train "
                f"run folder or checkpoint) or create it with `make ship`"
            )
        model = DEFAULT_MODEL
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return load_model(model, device=device)


def parse_box(text: str) -> tuple[int, int, int, int]:
    """``"x,y,w,h"`` -> integers; a clear error for anything else."""
    parts = text.replace(" ", "").split(",")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise RestoreError(f"box {text!r} must be four integers x,y,w,h") from None
    return x, y, w, h


def parse_block(text: str) -> float | tuple[float, float]:
    """``"8"`` -> 8.0, ``"8.2x10"`` (width x height, px) -> (10.0, 8.2) as (height, width);
    a clear error for anything else."""
    parts = text.lower().replace(" ", "").split("x")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(2 <= v <= 256 for v in values):
        raise RestoreError(f"block {text!r} must be N or WxH, cell sizes in px between 2 and 256")
    return values[0] if len(values) == 1 else (values[1], values[0])


def check_box(box: tuple[int, int, int, int], width: int, height: int) -> None:
    x, y, w, h = box
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise RestoreError(
            f"box x={x},y={y},w={w},h={h} lies (partly) outside the {width}x{height} image "
            f"or is empty"
        )


def _relative_grid(region: Region) -> tuple[int, int, int, int]:
    g = region.grid
    return (
        g.block_h,
        g.block_w,
        (g.offset_y - region.y) % g.block_h,
        (g.offset_x - region.x) % g.block_w,
    )


def target_blocks(region: Region, normalise: bool = True) -> tuple[int, int] | None:
    """Cells (block_h, block_w) to restore ``region`` at (scale normalisation: its cells and
    text lines brought into the trained range, ``regrid.normal_blocks``), or None when it
    is restored as it is (whole-pixel cells already in range, or ``normalise`` off)."""
    pitch = pitch_of(region)
    if not normalise:
        blocks = (max(2, round(pitch.height)), max(2, round(pitch.width)))
        return None if region.pitch is None else blocks
    blocks = normal_blocks(pitch.height, pitch.width, text_height(region))
    if region.pitch is None and blocks == (region.grid.block_h, region.grid.block_w):
        return None
    return blocks


def restore_region(
    net: torch.nn.Module,
    rgb: np.ndarray,
    region: Region,
    consistency: bool,
    tile: int,
    averaging: str = "auto",
    normalise: bool = True,
) -> tuple[np.ndarray, float, str | None, dict[str, dict[str, float]]]:
    """The restored uint8 RGB pixels of ``region``, their consistency error, the averaging
    they were made consistent with (None without consistency) and the evidence: per
    averaging of ``HYPOTHESES``, the final output's consistency error ("consistency") and
    the raw output's mean cell gap ("gaps"), all in [0, 1] units.

    A region off whole pixels, or outside the trained scale (``target_blocks``), is resampled
    onto integer cells in range (``regrid.Regrid``), restored there and mapped back."""
    device = next(net.parameters()).device
    margin = max(16, 2 * max(region.grid.block_h, region.grid.block_w))
    height, width = rgb.shape[:2]
    y0, x0 = max(region.y - margin, 0), max(region.x - margin, 0)
    y1, x1 = min(region.y + region.h + margin, height), min(region.x + region.w + margin, width)
    crop = torch.from_numpy(np.ascontiguousarray(rgb[y0:y1, x0:x1])).to(device)
    crop = crop.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    ry, rx = region.y - y0, region.x - x0
    blocks = target_blocks(region, normalise)
    if blocks is not None:  # restore on integer cells in the trained range, map back
        regrid = Regrid.for_crop(pitch_of(region), y0, x0, y1 - y0, x1 - x0, blocks)
        crop = regrid.forward(crop)
        (rows, cols), grid = regrid.window(ry, rx, region.h, region.w)
    else:
        rows, cols = slice(ry, ry + region.h), slice(rx, rx + region.w)
        grid = _relative_grid(region)
    out = run_tiled(net, crop, tile=tile).float().clone()  # clone: writable outside inference
    window = (slice(None), slice(None), rows, cols)
    reference = crop[window]
    used = None
    gaps = averaging_gaps(out[window], reference, grid)[0].tolist()
    if consistency:
        out[window], (used,) = enforce_consistency(out[window], reference, grid, averaging)
    saved = out[window].clamp(0, 1).mul(255).round() / 255
    by_averaging = {h: consistency_error(saved, reference, grid, h) for h in HYPOTHESES}
    error = by_averaging[used or "srgb"]
    share, contrast = sampled_evidence(reference, grid)[0].tolist()
    evidence = {
        "consistency": by_averaging,
        "gaps": dict(zip(HYPOTHESES, gaps)),
        "sampled": {"peak_share": share, "peak_contrast": contrast},
    }
    if blocks is not None:
        out = regrid.backward(out)
    out = out[:, :, ry : ry + region.h, rx : rx + region.w]
    pixels = out.clamp(0, 1).mul(255).round().byte()
    return pixels[0].permute(1, 2, 0).cpu().numpy(), error, used, evidence


def restore(
    image: str | Path | Image.Image,
    model=None,
    boxes: list[tuple[int, int, int, int]] | None = None,
    block: float | tuple[float, float] | None = None,
    consistency: bool = True,
    read: bool = False,
    tile: int = 512,
    averaging: str = "auto",
    min_confidence: float | None = None,
    normalise: bool = True,
    decode=None,
) -> RestoreResult:
    """Restore every pixelated region of ``image`` (a path or a PIL image).

    Args:
        model: checkpoint, run folder, exported file or ``LoadedModel``; default: the
            shipped ``depix/weights/depix-small.pt``.
        boxes: rectangles (x, y, w, h) to restore instead of detecting them.
        block: cell size to use instead of estimating it: a number (square cells) or
            (height, width) in px; fractional sizes allowed (cells fitted to a selection).
        consistency: make the output pixelate back to the input blocks.
        averaging: how the input was pixelated, for consistency: 'srgb' (mean of the pixel
            values), 'linear' (mean in linear light), 'center' / 'corner' (one sampled
            pixel per cell: only that pixel is set) or 'auto' (per region, whichever the
            network's raw output agrees with best; see ``consistency.pick_averaging``).
        read: read each region's text into ``RestoredRegion.text``: the shipped reader
            (``depix/weights/reader-small.pt``) reads the pixelated region itself
            (``reader_text``, top readings in ``candidates``) and Tesseract reads the restored
            pixels (``tesseract_text``, also ``text``; without Tesseract the reader's is).
        decode: ``depix.decode.DecodeOptions`` (fonts, charset, pattern): decode the text of
            each region (``depix.decode``: render, pixelate, compare), stored in
            ``RestoredRegion.text``/``reading``; a region whose every line is recovered with
            confidence >= ``DRAW_CONFIDENCE`` is filled with the decoded text drawn in the
            matched font (made consistent with the mosaic) instead of the model's output.
        tile: largest tile the network sees at once (memory bound, not a quality knob).
        min_confidence: detected regions below this detection confidence (0-1) are
            ignored; default ``evidence.MIN_CONFIDENCE``.
        normalise: resample regions whose cells or text are larger than the model's
            trained range into it (``regrid``) before restoring; False restores every
            region at its own scale (whole-pixel cells) for comparison.

    Raises ``ImageReadError`` (bad image), ``CheckpointLoadError`` (bad model),
    ``NoRegionError`` / ``RestoreError`` (nothing to restore, bad box).
    """
    sizes = (block if isinstance(block, tuple) else (block,)) if block is not None else ()
    if any(not 2 <= v <= 256 for v in sizes):
        raise RestoreError(f"block size must be between 2 and 256 px, got {block}")
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise RestoreError(f"min confidence must be in [0, 1], got {min_confidence}")
    if averaging not in AVERAGING:
        raise RestoreError(f"averaging must be one of {AVERAGING}, got {averaging!r}")
    timings: dict[str, float] = {}
    notes: list[str] = []
    start = time.perf_counter()
    if isinstance(image, Image.Image):
        original, frames = image, getattr(image, "n_frames", 1)
    else:
        original, frames = open_image(image, max_pixels=MAX_PIXELS)
    if original.width * original.height > MAX_PIXELS:
        raise RestoreError(f"image is above the limit of {MAX_PIXELS / 1e6:.0f} MP; crop it first")
    if frames > 1:
        notes.append(f"animated image with {frames} frames: restoring the first frame only")
    rgb = pil_to_rgb(original)
    timings["load_s"] = time.perf_counter() - start

    start = time.perf_counter()
    if boxes:
        for box in boxes:
            check_box(box, original.width, original.height)
        regions = [grid_in_box(rgb, box, block) for box in boxes]
    else:
        regions = find_regions(rgb, block, min_confidence)
    timings["detect_s"] = time.perf_counter() - start
    if not regions:
        raise NoRegionError(
            "no pixelated region found; if there is one, give it with --box x,y,w,h "
            "(and --block N when its block size is known)"
        )

    start = time.perf_counter()
    loaded = load_restore_model(model)
    timings["model_load_s"] = time.perf_counter() - start

    start = time.perf_counter()
    restored_rgb = rgb.copy()
    results = []
    for region in regions:
        where = f"region {region.x},{region.y},{region.w},{region.h}"
        if region.source == "given" and not region.confidence:
            notes.append(
                f"{where}: no mosaic grid evidence in the box; restored on an assumed grid"
            )
        cell_w, cell_h = region.cell
        if beyond_range(cell_h, text_height(region)):
            notes.append(
                f"{where}: cells of {cell_w:g}x{cell_h:g} px are as tall as its text lines "
                f"(one row of cells per line): no rescale brings that into the range the model "
                f"knows, so it is left as it is"
            )
            results.append(RestoredRegion(region, 0.0, None, restored=False))
            continue
        pixels, error, used, evidence = restore_region(
            loaded.net, rgb, region, consistency, tile, averaging, normalise
        )
        restored_rgb[region.y : region.y + region.h, region.x : region.x + region.w] = pixels
        results.append(
            RestoredRegion(
                region,
                error,
                used,
                restored_at=target_blocks(region, normalise),
                consistency_by_averaging=evidence["consistency"],
                averaging_gaps=evidence["gaps"],
                sampled_evidence=evidence["sampled"],
            )
        )
    done = [item.region for item in results if item.restored]
    picture = paste_regions(original, restored_rgb, [(r.x, r.y, r.w, r.h) for r in done])
    timings["restore_s"] = time.perf_counter() - start

    if decode is not None:
        start = time.perf_counter()
        if _decode_regions(rgb, results, restored_rgb, decode, notes):
            picture = paste_regions(original, restored_rgb, [(r.x, r.y, r.w, r.h) for r in done])
        timings["decode_s"] = time.perf_counter() - start
    if read:
        start = time.perf_counter()
        _read_regions(rgb, restored_rgb, results, notes)
        timings["read_s"] = time.perf_counter() - start
    return RestoreResult(picture, results, timings, str(loaded.path), notes)


# Background border (px) around a region's line before Tesseract reads it: regions end at their
# cells, so the text touches the crop's edge (the demo's card field: `4QQ0]1 7IJBA` -> exact).
READ_MARGIN = 12


def _read_regions(rgb, restored_rgb, results, notes) -> None:
    """Read each region line by line (``lines.split_lines``): with Tesseract from the
    restored pixels (``tesseract_text``, also the ``text``) and with the shipped reader from
    the pixelated pixels themselves (``reader_text``; its top readings of a one-line region
    in ``candidates``). Without Tesseract the reader's reading is the text; a decoded region
    keeps its decoded ``text``."""
    from depix.metrics.ocr import read_line, tesseract_available
    from depix.reader.read import read_crops, shipped_reader_available
    from depix.restore.lines import split_lines

    use_reader, use_tesseract = shipped_reader_available(), tesseract_available()
    if not (use_reader or use_tesseract):
        notes.append("no reader file and no Tesseract (apt install tesseract-ocr): no text read")
        return
    for item in results:
        r = item.region
        block_h, _, oy, ox = _relative_grid(r)
        crop = rgb[r.y : r.y + r.h, r.x : r.x + r.w]
        bands = split_lines(crop, block_h, oy, ox) if r.pitch is None else [(0, r.h)]
        if use_tesseract:
            restored = restored_rgb[r.y : r.y + r.h, r.x : r.x + r.w]
            item.tesseract_text = "\n".join(
                read_line(restored[y0:y1], margin=READ_MARGIN) for y0, y1 in bands
            )
        if use_reader:
            found = read_crops(_reader_crops(rgb, r, bands))
            item.reader_text = "\n".join(lines[0][0] for lines in found)
            item.candidates = found[0] if len(found) == 1 else None
        if item.reading is None:  # a decoded string stays the text
            # Tesseract on the restoration reads better than the shipped reader on the
            # cases measured (issue 13's note): it stays the text; the reader sits beside it.
            item.text = item.tesseract_text if use_tesseract else item.reader_text


def _reader_crops(rgb, region, bands) -> list[np.ndarray]:
    """Each line of a region as the reader sees it: with two cells of its surroundings
    (``lines.line_windows``; unpixelated content there blanked by ``quiet_surroundings``).
    On the several-field screenshot of the decoder benchmark the reader read the bare regions
    as `2d40C04`, `Dopd e`, `+49lma`, `41_ Aa a` and with their surroundings as `amb./eber`,
    `harker42`, `bF1a7c28`, `4923 7738 92` (truth: anna.weber, hunter42, 9f3a7c21,
    4921 7734 0082): the bare crop loses the rows a glyph only grazes. A region seen through
    a rescale (fractional cells) or with non-square cells is read as it is."""
    from depix.restore.lines import line_crops

    r = region
    block, block_w, oy, ox = _relative_grid(r)
    if r.pitch is not None or block != block_w:
        return [rgb[r.y : r.y + r.h, r.x : r.x + r.w][y0:y1] for y0, y1 in bands]
    return [c.quiet() for c in line_crops(rgb, (r.y, r.x, r.h, r.w), bands, block, oy, ox)]


DRAW_CONFIDENCE = 0.9  # decoded text replaces the model's output from this confidence on


def _decode_regions(rgb, results, restored_rgb, options, notes) -> bool:
    """Decode every region's text (``depix.decode``); where every line of a region is
    recovered with confidence >= ``DRAW_CONFIDENCE``, draw the decoded text into
    ``restored_rgb`` (projected onto the observed mosaic). Returns whether any was drawn."""
    from depix.decode.region import decode_region, render_region

    drawn_any = False
    for item in results:
        r = item.region
        if r.pitch is not None:
            notes.append(
                f"region at {r.x},{r.y}: seen through a rescale (fractional cells): not decoded"
            )
            continue
        block_h, block_w, oy, ox = _relative_grid(r)
        if block_h != block_w:
            notes.append(f"region at {r.x},{r.y}: non-square cells: not decoded")
            continue
        crop = np.ascontiguousarray(rgb[r.y : r.y + r.h, r.x : r.x + r.w])
        reading = decode_region(crop, block_h, oy, ox, options, image=rgb, origin=(r.y, r.x))
        item.reading = reading
        item.text = reading.text
        if reading.lines and reading.confidence >= DRAW_CONFIDENCE:
            drawn = render_region(reading, r.h, r.w)
            if drawn is not None:
                reference = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
                out = torch.from_numpy(drawn).permute(2, 0, 1)[None].float() / 255
                averaging = reading.lines[0].averaging
                averaging = "linear" if averaging == "linear" else "srgb"
                out, _ = enforce_consistency(out, reference, (block_h, block_w, oy, ox), averaging)
                pixels = out[0].permute(1, 2, 0).mul(255).round().byte().numpy()
                restored_rgb[r.y : r.y + r.h, r.x : r.x + r.w] = pixels
                item.consistency_error = consistency_error(
                    out.mul(255).round() / 255, reference, (block_h, block_w, oy, ox), averaging
                )
                item.averaging, item.drawn = averaging, "decoded"
                drawn_any = True
    return drawn_any
