"""make bench in its quick mode: every measurement present, table printed (no timing asserts)."""

import pytest
import torch

from depix.bench import BF16_PEAK_TFLOPS, Row, bf16_peak, bottleneck, main

MEASURES = (
    "training throughput",
    "model step alone",
    "degradation alone",
    "degradation share of a step",
    "training FLOPs per image",
    "achieved training FLOP/s",
    "model step alone, channels last",
    "inference latency",
    "inference throughput",
    "inference FLOPs per image",
    "data loading per worker",
    "data loading, 1 workers",
    "bottleneck",
    "screenshot",
    "peak memory",
)


@pytest.mark.slow
def test_bench_quick_prints_its_table(capsys):
    rows = main(
        [
            "--quick",
            "--device",
            "cpu",
            "--batch",
            "2",
            "--batch",
            "3",
            "--workers",
            "1",
            "--switch",
            "channels_last",
            "model.widths=[8,16]",
            "loss.terms.perceptual.width=0.0625",
        ]
    )
    out = capsys.readouterr().out
    assert "depix bench (--quick)" in out
    for measure in MEASURES:
        assert any(measure in row.measure for row in rows), measure
        assert measure.split()[0] in out
    # both batch sizes measured, in the same table
    shares = [r for r in rows if r.measure == "degradation share of a step"]
    assert [s.setting.endswith(f"(batch {b})") for s, b in zip(shares, (2, 3))] == [True, True]
    flops = next(r for r in rows if r.measure == "inference FLOPs per image")
    assert flops.value.endswith("FLOP") and not flops.value.startswith("0.00")
    assert all(row.value for row in rows)


def test_bottleneck_names_the_slowest_stage():
    rows = [
        Row("model step alone", "18,000 lines/s", ""),
        Row("degradation alone", "9,000 lines/s", ""),
        Row("model step alone", "20,000 lines/s", "batch 256"),
        Row("data loading per worker", "300 lines/s", ""),
        Row("data loading, 14 workers", "3,100 lines/s", ""),
    ]
    assert bottleneck(rows).value == "data loading"
    rows[-1] = Row("data loading, 14 workers", "31,000 lines/s", "")
    assert bottleneck(rows).value == "degradation"


def test_bf16_peak_is_known_for_listed_cards_only():
    assert bf16_peak(torch.device("cpu")) is None
    assert BF16_PEAK_TFLOPS["H200"] > BF16_PEAK_TFLOPS["A100"]
