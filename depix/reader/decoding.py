"""CTC decoding over log-probabilities: greedy (best path) and prefix beam search.

No network here: every function takes a ``(T, C)`` tensor of per-frame log-probabilities
(class 0 = blank, as ``depix.reader.charset.Charset`` numbers them), so decoders can be
tested on hand-made inputs. Scores are natural-log probabilities.

Prefix beam search follows Hannun et al., "First-pass large vocabulary continuous speech
recognition using bi-directional recurrent DNNs" (arXiv:1408.2873, 2014), without a
language model: each prefix keeps the probability of all alignments ending in a blank and
of those ending in its last character, so a hypothesis' score sums over its alignments.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from depix.reader.charset import Charset

NEG_INF = -math.inf


def _restricted(log_probs: torch.Tensor, allowed: torch.Tensor | None) -> np.ndarray:
    if log_probs.dim() != 2:
        raise ValueError(f"log_probs must be (T, C), got shape {tuple(log_probs.shape)}")
    lp = log_probs.detach().float().cpu().numpy().copy()
    if allowed is not None:
        if allowed.shape != (lp.shape[1],):
            raise ValueError(f"allowed must be a bool mask of {lp.shape[1]} classes")
        lp[:, ~allowed.cpu().numpy()] = NEG_INF
    return lp


def greedy_decode(
    log_probs: torch.Tensor, charset: Charset, allowed: torch.Tensor | None = None
) -> tuple[str, float]:
    """Best path: the most likely class per frame, repeats merged, blanks dropped.

    ``log_probs``: (T, C) float log-probabilities; ``allowed``: optional bool (C,) mask of
    classes that may be emitted (``Charset.mask``; the blank is always kept). Returns the
    string and the log-probability of its best path (<= 0).
    """
    lp = _restricted(log_probs, allowed)
    if lp.shape[0] == 0:
        return "", 0.0
    best = lp.argmax(axis=1)
    score = float(lp[np.arange(lp.shape[0]), best].sum())
    labels = [int(c) for i, c in enumerate(best) if c != 0 and (i == 0 or c != best[i - 1])]
    return charset.decode(labels), score


def _logadd(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def beam_search(
    log_probs: torch.Tensor,
    charset: Charset,
    beam: int = 16,
    top_k: int = 5,
    allowed: torch.Tensor | None = None,
    prune: float = -12.0,
) -> list[tuple[str, float]]:
    """CTC prefix beam search: up to ``top_k`` distinct strings, best first, with scores.

    ``log_probs``: (T, C) float log-probabilities of one line; ``beam``: prefixes kept per
    frame; ``allowed``: optional bool (C,) class mask (a charset restriction: the strings
    use only allowed characters; scores are not renormalised, so they stay comparable with
    unrestricted ones); ``prune``: a character is only tried at a frame where its
    log-probability exceeds this (the best one always is). Scores are the log-probability
    of each string summed over the alignments the beam kept (<= 0).
    """
    if beam < 1 or top_k < 1:
        raise ValueError(f"beam and top_k must be >= 1, got {beam} and {top_k}")
    lp = _restricted(log_probs, allowed)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}
    for row in lp:
        order = np.argsort(-row[1:]) + 1
        tried = [int(c) for c in order[:beam] if row[c] > prune and row[c] > NEG_INF]
        if not tried and row[order[0]] > NEG_INF:
            tried = [int(order[0])]
        nxt: dict[tuple[int, ...], list[float]] = {}

        def slot(prefix: tuple[int, ...], _n=nxt) -> list[float]:
            return _n.setdefault(prefix, [NEG_INF, NEG_INF])

        for prefix, (pb, pnb) in beams.items():
            total = _logadd(pb, pnb)
            same = slot(prefix)
            same[0] = _logadd(same[0], total + row[0])  # a blank: prefix unchanged
            if prefix:  # the last character again, no blank between: merged by CTC
                same[1] = _logadd(same[1], pnb + row[prefix[-1]])
            for c in tried:
                ext = slot(prefix + (c,))
                # after the same character a new one needs a blank in between
                source = pb if prefix and prefix[-1] == c else total
                ext[1] = _logadd(ext[1], source + row[c])
        ranked = sorted(nxt.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)
        beams = {p: (s[0], s[1]) for p, s in ranked[:beam] if _logadd(*s) > NEG_INF}
        if not beams:
            return []
    ranked = sorted(beams.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)
    return [(charset.decode(p), float(_logadd(*s))) for p, s in ranked[:top_k]]
