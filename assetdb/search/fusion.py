"""Reciprocal-rank fusion of the sources' rankings."""

from __future__ import annotations

from collections import defaultdict

RRF_K = 60


def competition_ranks(scores: list[float]) -> list[int]:
    """1-based ranks of best-first scores, ties sharing the best rank ("1224"): the
    segments of one file matched by its file name are equally good text matches."""
    ranks: list[int] = []
    for i, sc in enumerate(scores):
        ranks.append(ranks[-1] if i and sc == scores[i - 1] else i + 1)
    return ranks


def rrf_fuse(
    rankings: dict[str, list[tuple[int, float]]], weights: dict[str, float], k: int = RRF_K
) -> dict[int, dict[str, tuple[int, float]]]:
    """Reciprocal-rank fusion: item -> {source: (1-based rank, contribution)}.

    Each ranking is a best-first list of distinct ``(item, score)``; tied scores share
    a rank. Contribution = weight / (k + rank)."""
    out: dict[int, dict[str, tuple[int, float]]] = defaultdict(dict)
    for source, items in rankings.items():
        w = weights.get(source, 1.0)
        ranks = competition_ranks([sc for _, sc in items])
        for (item, _), r in zip(items, ranks, strict=True):
            out[item][source] = (r, w / (k + r))
    return out
