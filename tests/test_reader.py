"""The reader: CTC decoding on hand-made inputs, the network, training, loading, reading."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torchmetrics.functional.text import char_error_rate

from depix.callbacks.checkpoint_io import CheckpointLoadError, load_checkpoint_file
from depix.reader.charset import PRINTABLE, Charset, resolve_charset
from depix.reader.ctc import CTCLoss
from depix.reader.curriculum import BlockCurriculum
from depix.reader.decoding import beam_search, greedy_decode
from depix.reader.loading import export_reader, load_reader
from depix.reader.network import ReaderNet
from depix.reader.read import Reader, ReaderTextMethod
from depix.train import train
from tests.conftest import compose_cfg

ABC = Charset("abc")


def frames(*rows: dict[str, float]) -> torch.Tensor:
    """Log-probabilities (T, 4) from per-frame {char: prob} ('-' = blank), rest shared evenly."""
    out = []
    for row in rows:
        probs = torch.zeros(4)
        for char, p in row.items():
            probs[0 if char == "-" else ABC.index[char]] = p
        rest = (probs == 0).sum()
        if rest:
            probs[probs == 0] = (1 - probs.sum()) / rest
        out.append(probs.log())
    return torch.stack(out)


def test_greedy_merges_repeats_and_drops_blanks():
    lp = frames({"a": 0.9}, {"a": 0.9}, {"-": 0.9}, {"a": 0.9}, {"b": 0.9}, {"-": 0.9})
    text, score = greedy_decode(lp, ABC)
    assert text == "aab"
    assert score == pytest.approx(6 * math.log(0.9), rel=1e-5)


def test_beam_search_sums_alignments_and_beats_best_path():
    # Best path is "-" then "-" (0.36 -> ""), but "a" has three alignments: aa, a-, -a.
    lp = frames({"-": 0.6, "a": 0.4}, {"-": 0.6, "a": 0.4})
    assert greedy_decode(lp, ABC)[0] == ""
    found = dict(beam_search(lp, ABC, beam=8, top_k=3))
    assert found["a"] == pytest.approx(math.log(0.4 * 0.4 + 0.4 * 0.6 + 0.6 * 0.4), abs=1e-5)
    assert found[""] == pytest.approx(math.log(0.36), abs=1e-5)
    assert beam_search(lp, ABC, beam=8, top_k=1)[0][0] == "a"


def test_beam_search_returns_the_greedy_string_among_its_candidates():
    generator = torch.Generator().manual_seed(0)
    charset = Charset(PRINTABLE)
    for _ in range(5):
        lp = (torch.randn(30, len(charset), generator=generator) * 3).log_softmax(-1)
        greedy = greedy_decode(lp, charset)[0]
        candidates = [text for text, _ in beam_search(lp, charset, beam=16, top_k=16)]
        assert greedy in candidates
        scores = [s for _, s in beam_search(lp, charset, beam=16, top_k=16)]
        assert scores == sorted(scores, reverse=True)


def test_charset_restriction_is_respected():
    lp = frames({"a": 0.7, "b": 0.2}, {"-": 0.9}, {"c": 0.6, "b": 0.3})
    assert greedy_decode(lp, ABC)[0] == "ac"
    mask = ABC.mask("b")
    assert greedy_decode(lp, ABC, mask)[0] == "bb"
    for text, _ in beam_search(lp, ABC, beam=8, top_k=5, allowed=mask):
        assert set(text) <= {"b"}
    assert resolve_charset("hex") == "0123456789abcdefABCDEF"


def test_charset_encode_errors_name_the_character():
    labels, lengths = ABC.encode(["ab", "", "c"])
    assert labels.tolist() == [1, 2, 3] and lengths.tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match="'z'"):
        ABC.encode(["az"])
    assert Charset("ab ").clean(" a\tz b ") == "a b"


def test_network_is_width_agnostic_and_rejects_bad_shapes():
    net = ReaderNet(widths=[8, 8, 8], hidden=8).eval()
    for width in (64, 203):
        out = net(torch.rand(1, 3, 48, width))
        assert out.shape == (1, width // 4, len(PRINTABLE) + 1)
        assert torch.allclose(out.exp().sum(-1), torch.ones(1, width // 4), atol=1e-4)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net(torch.rand(2, 1, 48, 64))


def test_curriculum_caps_block_over_font_and_keeps_the_rest():
    from depix.degrade.ops import Pixelate, Quantize
    from depix.degrade.pipeline import Degradation

    degradation = Degradation([Pixelate(block=(3, 12)), Quantize()])
    clean = torch.rand(64, 3, 48, 96)
    degraded, params = degradation(clean, torch.Generator().manual_seed(1))
    font = torch.full((64,), 20)
    curriculum = BlockCurriculum(start_ratio=0.25, end_ratio=0.5, ramp=0.5)
    assert (
        curriculum.cap(0.0) == 0.25 and curriculum.cap(0.25) == 0.375 and curriculum.cap(0.9) == 0.5
    )
    out, new = curriculum.apply(clean, degraded, params, font, 0.25, degradation, torch.Generator())
    block = new["pixelate.block_h"]
    assert int(block.max()) <= 5 and int(block.min()) >= 3
    kept = params["pixelate.block_h"] <= 5
    kept &= params["pixelate.block_w"] <= 5
    assert kept.any() and (~kept).any()
    assert torch.equal(out[kept], degraded[kept])  # lines under the cap are untouched
    assert torch.equal(
        out[~kept], degradation.apply(clean[~kept], {k: v[~kept] for k, v in new.items()})
    )


def lines(texts: list[str], block: int) -> torch.Tensor:
    """Clean renderings of ``texts`` (one fixed font) pixelated with ``block`` on the grid."""
    from depix.data.fonts import discover_fonts
    from depix.data.render import LineStyle, render_line
    from depix.data.synthetic_text import to_tensor
    from depix.degrade.averaging import pixelate_mode

    font = sorted(discover_fonts("train"))[0]
    style = LineStyle(
        font=font,
        font_size=20,
        foreground=(20, 20, 20),
        background=(240, 240, 240),
        x=2,
        y_jitter=0,
    )
    images = torch.stack([to_tensor(render_line(t, style, 32, 128)[0]) for t in texts])
    b = torch.full((len(texts),), block)
    zero = torch.zeros(len(texts), dtype=torch.long)
    return pixelate_mode(images, "srgb", b, b, zero, zero)


@pytest.fixture
def one_thread():
    """Tiny networks train far faster on one thread (no OpenMP hand-offs on a busy CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_reader_overfits_a_handful_of_lines_to_cer_zero(one_thread):
    torch.manual_seed(0)
    texts = ["ab12", "hello", "x7z", "Q-9!"]
    images = lines(texts, block=2)
    net = ReaderNet(
        height=32, widths=[16, 16, 32], hidden=32, dropout=0.0, context="conv", layers=2
    )
    loss_fn = CTCLoss(net.charset)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        loss = loss_fn(net(images), texts)
        loss.backward()
        optimizer.step()
    net.eval()
    readings = [greedy_decode(lp, Charset(net.charset))[0] for lp in net(images)]
    assert float(char_error_rate(readings, texts)) == 0.0


READER_TINY = [
    "experiment=reader",
    "trainer=cpu",
    "data.num_workers=0",
    "data.batch_size=4",
    "data.train.length=8",
    "data.val.length=4",
    "model.widths=[8,8,8]",
    "model.hidden=8",
    "trainer.max_epochs=1",
    "trainer.max_time=null",
    "trainer.enable_model_summary=false",
    "callbacks.progress=null",
    "module.tesseract=false",
    "ema.decay=0.9",
    "scheduler.warmup_steps=1",
]


@pytest.mark.slow
def test_training_run_checkpoints_load_weights_only_resume_and_export(tmp_path, one_thread):
    run = tmp_path / "run"
    train(compose_cfg(READER_TINY, run))
    best = run / "checkpoints" / "best.ckpt"
    checkpoint = load_checkpoint_file(best)  # weights_only=True inside
    assert checkpoint["depix_config"]["module"]["_target_"] == "depix.reader.module.ReaderModule"
    assert "ema_state_dict" in checkpoint
    net = load_reader(run)
    exported = export_reader(run, tmp_path / "reader.pt")
    again = load_reader(exported)
    x = torch.rand(1, 3, 48, 96)
    assert torch.allclose(net(x), again(x), atol=0.05)  # float16 weights
    # resume continues the run: one more epoch, the step count goes on
    train(compose_cfg([*READER_TINY, "trainer.max_epochs=2", "resume=true"], run))
    resumed = load_checkpoint_file(run / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == 2 * checkpoint["global_step"] > 0


def test_loading_never_builds_another_class(tmp_path):
    net = ReaderNet(widths=[8, 8, 8], hidden=8)
    bad = {
        "format": "depix-reader/1",
        "model": {"_target_": "os.system", "command": "x"},
        "state_dict": {},
    }
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(CheckpointLoadError, match="not a reader"):
        load_reader(tmp_path / "bad.pt")
    odd = {
        "format": "depix-reader/1",
        "model": {"_target_": "depix.reader.network.ReaderNet", "hidden": {"_target_": "x"}},
        "state_dict": net.state_dict(),
    }
    torch.save(odd, tmp_path / "odd.pt")
    with pytest.raises(CheckpointLoadError, match="not plain data"):
        load_reader(tmp_path / "odd.pt")
    with pytest.raises(CheckpointLoadError, match="no reader"):
        load_reader(tmp_path / "missing.pt")


def test_reader_reads_any_size_and_windows_long_lines():
    torch.manual_seed(0)
    net = ReaderNet(widths=[8, 8, 8], hidden=8).eval()
    whole = Reader(net, beam=4, window=None)
    windowed = Reader(net, beam=4, window=96, overlap=24)
    long_line = torch.rand(3, 24, 400)
    a, b = whole.log_probs([long_line])[0], windowed.log_probs([long_line])[0]
    assert a.shape == b.shape == (800 // 4, len(PRINTABLE) + 1)
    # the stitched frames are the windows' own frames: the network on one window agrees
    x = whole.resize(long_line)
    first = net(x[None, :, :, :96])[0]
    assert torch.allclose(b[:12], first[:12], atol=1e-5)
    readings = whole.read_lines([torch.rand(3, 30, 90), long_line], top_k=3, charset="digits")
    assert len(readings) == 2
    for found in readings:
        assert 1 <= len(found) <= 3 and all(set(t) <= set("0123456789") for t, _ in found)
        assert all(type(s) is float for _, s in found)  # JSON-serialisable scores


def test_text_method_returns_one_string_per_line(tmp_path, monkeypatch):
    net = ReaderNet(widths=[8, 8, 8], hidden=8)
    torch.save(
        {
            "format": "depix-reader/1",
            "model": {
                "_target_": "depix.reader.network.ReaderNet",
                "widths": [8, 8, 8],
                "hidden": 8,
            },
            "state_dict": net.state_dict(),
        },
        tmp_path / "r.pt",
    )
    method = ReaderTextMethod(weights=str(tmp_path / "r.pt"), beam=2, top_k=2)
    out = method(torch.rand(3, 3, 24, 64), None, None)
    assert len(out) == 3 and all(isinstance(s, str) for s in out)
    assert len(method.last_confidences) == 3 and all(0 <= c <= 1 for c in method.last_confidences)
    random.seed(0)
