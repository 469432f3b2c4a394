"""The benchmark's own text source and line design: independent of the training generator,
many distinct lines per block size, size options honoured by every suite."""

import random
import string
from collections import Counter

import pytest

from depix.data import text as training
from depix.evaluate import texts
from depix.evaluate.suites import build_suites
from tests.test_eval_run import eval_cfg


def _lower(items):
    return {str(i).lower() for i in items}


def test_vocabularies_share_nothing_with_the_training_generator():
    assert not _lower(texts.WORDS) & _lower(training.WORDS)
    assert not _lower(texts.FIRST_NAMES + texts.LAST_NAMES) & _lower(training.FIRST + training.LAST)
    assert not _lower(texts.DOMAINS) & _lower(training.DOMAINS)
    assert not _lower(texts.TLDS) & _lower(training.TLDS)
    rng = random.Random(0)
    lines = [texts.eval_text(rng) for _ in range(2000)]
    # The training templates' give-aways never appear: its URL scheme, its ID prefixes.
    assert not any(line.startswith("https://") for line in lines)
    prefixes = ("ID", "INV", "ACC", "REF", "user", "order", "TX")
    ids = [texts.identifier(rng) for _ in range(500)]
    assert not any(i.startswith(p + s) for i in ids for p in prefixes for s in "-_#")


def test_every_kind_draws_printable_reproducible_varied_strings():
    printable = set(string.printable) - set("\t\n\r\x0b\x0c")
    for kind, draw in texts.KINDS.items():
        first = [draw(random.Random(f"{kind}{i}")) for i in range(200)]
        again = [draw(random.Random(f"{kind}{i}")) for i in range(200)]
        assert first == again, kind
        assert all(s and set(s) <= printable for s in first), kind
        assert len(set(first)) > 100, kind  # not a handful of templates filled the same way
    rng = random.Random(1)
    assert set(texts.eval_text(random.Random(2), ("hex",))) <= set("0123456789abcdefABCDEFx:")
    with pytest.raises(ValueError, match="unknown text kinds"):
        texts.eval_text(rng, ("poetry",))


def test_default_text_benchmark_has_200_distinct_lines_per_block_size():
    """Each line once per block size, every condition of a block gets an equal share."""
    cfg = eval_cfg("ckpt_path=x")
    (suite,) = build_suites(cfg.benchmark)
    names: dict[int, set[str]] = {}
    texts_seen: dict[int, set[str]] = {}
    per_condition = Counter()
    for group, condition in suite.pairs():
        names.setdefault(condition.block, set()).update(group.names)
        texts_seen.setdefault(condition.block, set()).update(group.texts)
        per_condition[condition] += len(group.names)
    assert set(names) == set(cfg.benchmark.text.blocks)
    for block, seen in names.items():
        assert len(seen) >= 200 and len(texts_seen[block]) >= 195, block
    scored = sum(per_condition.values())
    assert (
        scored
        == suite.count()
        == len(cfg.benchmark.text.blocks) * sum(g.images.shape[0] for g in suite.groups)
    )
    assert len(per_condition) == len(suite.conditions)
    assert max(per_condition.values()) - min(per_condition.values()) <= 1
    # block / font ratios reach past 0.6 (the decoder's range)
    ratios = {c.block / c.font_size for c in suite.conditions}
    assert min(ratios) <= 0.25 and any(0.5 < r <= 0.6 for r in ratios) and max(ratios) > 0.6


def test_limit_caps_every_suite_and_quick_is_small():
    cfg = eval_cfg(
        "ckpt_path=x", "benchmark=all", "benchmark.images.samples=[camera,coffee,rocket]"
    )
    suites = {s.name: s for s in build_suites(cfg.benchmark, limit=2)}
    assert all(g.images.shape[0] == 2 for g in suites["text"].groups)
    assert sum(g.images.shape[0] for g in suites["images"].groups) == 2
    assert suites["text"].count() == 2 * 4 * 5  # 2 lines x 4 font sizes x 5 blocks
    # a limit above the suite's own count changes nothing
    text_cfg = eval_cfg("ckpt_path=x", "benchmark.text.lines=3").benchmark
    (suite,) = build_suites(text_cfg, limit=50)
    assert all(g.images.shape[0] == 3 for g in suite.groups)
    with pytest.raises(ValueError, match="limit must be >= 0"):
        build_suites(text_cfg, limit=-1)
    (quick,) = build_suites(eval_cfg("ckpt_path=x", "benchmark=quick").benchmark)
    assert quick.count() <= 200
