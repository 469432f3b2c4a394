"""make bench in its quick mode: every measurement present, table printed (no timing asserts)."""

import pytest

from depix.bench import main

MEASURES = (
    "training throughput",
    "degradation share of a step",
    "training FLOPs per image",
    "achieved training FLOP/s",
    "inference latency",
    "inference throughput",
    "inference FLOPs per image",
    "text generator per worker",
    "screenshot",
    "peak memory",
)


@pytest.mark.slow
def test_bench_quick_prints_its_table(capsys):
    rows = main(
        ["--quick", "--device", "cpu", "model.widths=[8,16]", "loss.terms.perceptual.width=0.0625"]
    )
    out = capsys.readouterr().out
    assert "depix bench (--quick)" in out
    for measure in MEASURES:
        assert any(measure in row.measure for row in rows), measure
        assert measure.split()[0] in out
    flops = next(r for r in rows if r.measure == "inference FLOPs per image")
    assert flops.value.endswith("FLOP") and not flops.value.startswith("0.00")
    assert all(row.value for row in rows)
