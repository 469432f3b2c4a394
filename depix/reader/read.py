"""Reading line images with a trained reader: resizing, batching, long lines, decoding.

``Reader.read_lines(images)`` is the single-line API the rest of depix uses (depix-restore
``--read``, the decoder's beam seeding, depix-eval's text method): one line image in,
the top-k strings with log-probability scores out. Multi-line regions are split into
lines first (``depix.restore.lines.split_lines``) and each line read on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from depix.reader.charset import Charset, resolve_charset
from depix.reader.decoding import beam_search, greedy_decode
from depix.reader.loading import DEFAULT_READER, load_reader
from depix.reader.network import ReaderNet

#: Frames per pixel of the resized line: the network emits one frame every 4 px.
STRIDE = 4


class Reader:
    """A reader network plus its decoder.

    ``window``: lines wider than this (px, after resizing to the network's height) are read
    in windows of that width overlapping by ``overlap`` px whose per-frame log-probabilities
    are stitched (each frame taken from the window where it is farthest from an edge), so
    the recurrent layer sees line lengths like those it was trained on. ``None`` reads any
    width at once.
    """

    def __init__(
        self,
        net: ReaderNet,
        beam: int = 16,
        window: int | None = 384,
        overlap: int = 96,
        device: str | torch.device = "cpu",
    ) -> None:
        if window is not None and (
            window % STRIDE or overlap % STRIDE or not 0 <= 2 * overlap < window
        ):
            raise ValueError(
                "window and overlap must be multiples of 4 px with 2 * overlap < window"
            )
        self.net = net.to(device).eval()
        self.charset = Charset(net.charset)
        self.beam, self.window, self.overlap = int(beam), window, overlap
        self.device = torch.device(device)

    @classmethod
    def load(cls, path: str | Path | None = None, **kwargs) -> Reader:
        """The reader of ``path`` (exported file, checkpoint, run folder); default: shipped."""
        return cls(load_reader(path), **kwargs)

    def resize(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (3, height, W') at the network's line height, aspect kept."""
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"a line image must be (3, H, W), got shape {tuple(image.shape)}")
        h, w = image.shape[-2:]
        if h < 2 or w < 2:
            raise ValueError(f"line image too small to read: {h}x{w}")
        height = self.net.height
        width = max(STRIDE, round(w * height / h))
        x = image.float().unsqueeze(0)
        if (h, w) != (height, width):
            x = F.interpolate(
                x, size=(height, width), mode="bilinear", antialias=True, align_corners=False
            )
        return x[0].clamp(0, 1)

    @torch.no_grad()
    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        """(3, height, W) -> (W // 4, C) log-probabilities, windowed when wider than ``window``."""
        w = x.shape[-1]
        if self.window is None or w <= self.window:
            return self.net(x.unsqueeze(0).to(self.device))[0].float().cpu()
        step = self.window - 2 * self.overlap
        last = (w - self.window) // STRIDE * STRIDE
        starts = list(range(0, last, step)) + [last]
        starts = sorted(set(starts))
        crops = torch.stack([x[..., s : s + self.window] for s in starts]).to(self.device)
        out = self.net(crops).float().cpu()  # (N, window // 4, C)
        frames = w // STRIDE
        result = torch.empty(frames, out.shape[-1])
        centre = torch.tensor([s / STRIDE + out.shape[1] / 2 for s in starts])
        for t in range(frames):  # the window whose centre is nearest this frame
            k = int(torch.argmin((centre - (t + 0.5)).abs()))
            result[t] = out[k, min(out.shape[1] - 1, t - starts[k] // STRIDE)]
        return result

    def log_probs(self, images: Sequence[torch.Tensor] | torch.Tensor) -> list[torch.Tensor]:
        """Per-line (T, C) float32 log-probabilities of (3, H, W) images in [0, 1]."""
        return [self._frames(self.resize(image)) for image in images]

    def read_lines(
        self,
        images: Sequence[torch.Tensor] | torch.Tensor,
        top_k: int = 5,
        charset: str | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Top-``top_k`` readings of each line, best first, with log-probability scores.

        ``images``: (B, 3, H, W) or a list of (3, H, W) float RGB in [0, 1] (8-bit values),
        each one text line of any size. ``charset``: restrict the strings to these
        characters (or a name: ``digits``, ``hex``, ``alnum``...). Scores are natural-log
        probabilities summed over the alignments the beam kept (<= 0; higher = surer).
        """
        allowed = self.charset.mask(resolve_charset(charset)) if charset else None
        readings = []
        for lp in self.log_probs(images):
            if self.beam > 1:
                found = beam_search(lp, self.charset, beam=self.beam, top_k=top_k, allowed=allowed)
            else:
                found = [greedy_decode(lp, self.charset, allowed)]
            merged: dict[str, float] = {}
            for text, score in found:  # outer spaces are invisible: the training text had none
                merged.setdefault(text.strip(), score)
            readings.append(list(merged.items()) or [("", float("-inf"))])
        return readings

    def read(
        self, images: Sequence[torch.Tensor] | torch.Tensor, charset: str | None = None
    ) -> list[str]:
        """The best string of each line (``""`` when nothing was read)."""
        return [found[0][0] for found in self.read_lines(images, top_k=1, charset=charset)]


def line_confidence(readings: list[tuple[str, float]]) -> float:
    """Share of the top-k probability mass on the best string (0..1; 1 with one candidate)."""
    if not readings or readings[0][1] == float("-inf"):
        return 0.0
    scores = torch.tensor([s for _, s in readings])
    return float(torch.softmax(scores, 0)[0])


class ReaderTextMethod:
    """depix-eval text method (``configs/text_method/reader.yaml``): the reader's best string.

    ``method(observed, grid, condition) -> list[str]`` with ``observed`` (B, 3, H, W) float
    in [0, 1]: each image is read as one line. The grid and condition are not used (the
    reader reads the mosaic itself; the condition's averaging/JPEG/font are unknown in real
    use). ``last_confidences``: share of the top-k probability on each returned string.
    """

    def __init__(
        self,
        weights: str | None = None,
        beam: int = 16,
        top_k: int = 5,
        charset: str | None = None,
        window: int | None = 384,
    ) -> None:
        self.reader = Reader.load(weights, beam=beam, window=window)
        self.top_k, self.charset = top_k, charset
        self.last_confidences: list[float] = []
        self.last_candidates: list[list[tuple[str, float]]] = []

    def __call__(self, observed: torch.Tensor, grid=None, condition=None) -> list[str]:
        readings = self.reader.read_lines(observed, top_k=self.top_k, charset=self.charset)
        self.last_candidates = readings
        self.last_confidences = [line_confidence(r) for r in readings]
        return [r[0][0] for r in readings]


@functools.lru_cache(maxsize=1)
def _shipped_reader() -> Reader:
    """The shipped reader, read from disk once per process (``--read`` reads every region)."""
    return Reader.load(None)


def read_crops(
    crops: Sequence[np.ndarray],
    reader: str | Path | Reader | None = None,
    top_k: int = 5,
    charset: str | None = None,
) -> list[list[tuple[str, float]]]:
    """Read uint8 RGB crops (H, W, 3) of pixelated text, each as one line.

    ``reader``: a ``Reader``, or a reader file / checkpoint / run folder (default: the
    shipped ``depix/weights/reader-small.pt``); ``charset``: as ``Reader.read_lines``'s.
    Returns ``Reader.read_lines``'s candidates. A crop holding several lines should be split
    first (``depix.restore.lines``).
    """
    if reader is None:
        reader = _shipped_reader()
    elif not isinstance(reader, Reader):
        reader = Reader.load(reader)
    images = [
        torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1).float() / 255 for c in crops
    ]
    return reader.read_lines(images, top_k=top_k, charset=charset)


def shipped_reader_available() -> bool:
    """True when the package holds the shipped reader (``depix/weights/reader-small.pt``)."""
    return DEFAULT_READER.is_file()
