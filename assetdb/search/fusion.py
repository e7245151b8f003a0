"""Fusion of the sources' scores: calibrated relevance (the default) and reciprocal-rank
fusion (the previous default, kept as ``fusion="rrf"`` for comparison)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

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


# -- calibrated fusion ----------------------------------------------------------------
# A source's raw score becomes a relevance in [0, 1]: the logistic
# 1 / (1 + exp(-(score - MID) / SCALE)), i.e. the probability that a (query, file) pair
# with that score is relevant. MID/SCALE were fitted by maximum likelihood
# (`bench/search_eval.py --fit`, a one-variable logistic regression) on the raw scores
# of the judged (query, file) pairs of bench/queries.toml over the sample archive (the
# shared media plus 49 ImageNet stills; 47 queries, each file's best shot):
#   visual      3176 pairs, 55 relevant: relevant median 0.417 [0.068, 0.614],
#               unrelated median 0.150, 95th percentile 0.322 -> on the cosine alone mid
#               0.500 scale 0.059 (log-likelihood -166.6); with z, the cosine's distance
#               above the query's background in standard deviations
#               (assetdb.search.background: the query against up to 2000 stored
#               keyframe vectors), mid 0.669 scale 0.088 z_weight 0.591 (-159.3): video
#               keyframes score low cosines even when right (ConSE over video frames),
#               and a right one stands out from the query's background where its
#               cosine alone does not. Typed-query eval, calibrated fusion, cosine
#               alone -> with z: visual mAP 0.543 -> 0.591 on the video-only sample
#               archive (RRF 0.601), 0.604 -> 0.651 with the stills (RRF 0.515); all
#               kinds 0.807 -> 0.809 and 0.776 -> 0.778 (a text and a sound query lose
#               their first place to a picture)
#   transcript  54 pairs, 8 relevant: relevant median 0.709 [0.314, 0.994],
#               unrelated median 0.279, 95th percentile 0.417 -> mid 0.579 scale 0.079
@dataclass(frozen=True)
class Calibration:
    mid: float  # the raw score at relevance 0.5 (at z = 0 when z_weight is set)
    scale: float  # raw-score units per e-fold of the odds
    fitted: bool = True  # False: a guess; the default cutoff does not apply to the source
    # log-odds per standard deviation the score stands above the query's background
    # (assetdb.search.background); 0: the curve takes the raw score alone
    z_weight: float = 0.0

    def __call__(self, score: float, z: float | None = None) -> float:
        logit = (score - self.mid) / self.scale
        if self.z_weight and z is not None:
            logit += self.z_weight * z
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))


CALIBRATION: dict[str, Calibration] = {
    # concepts space (ConSE over MiniLM): query text vs keyframe cosine, and how far it
    # stands above the query's cosine to the archive at large (z, see above)
    "visual": Calibration(mid=0.669, scale=0.088, z_weight=0.591),
    # all-MiniLM-L6-v2: query vs transcript line cosine (fitted above)
    "transcript": Calibration(mid=0.579, scale=0.079),
    # image-to-image cosine in the concepts space (--like, --like-shot), fitted with
    # `bench/search_eval.py --fit-like` on the 403 photos of imagenet-1k-samples that
    # bench/imagenet_queries.py groups (one photo per class; a pair is relevant when
    # the photos share a group: dogs, birds, domestic cats, boats, fruit...; 16 groups,
    # each weighing the same): 403 example photos x their first 100 neighbours,
    # 39897 pairs, 14944 relevant, relevant median 0.766 [0.402, 0.997], unrelated
    # median 0.630, 95th percentile 0.769 -> mid 0.790 scale 0.068
    "like": Calibration(mid=0.790, scale=0.068),
    # --sounds-like (0.2 x MFCC/shape blend + 0.8 x YAMNet class-score cosine), fitted
    # with `bench/search_eval.py --fit-sound` on the labelled sounds of the sample
    # archive (bench/sound_vectors.py: speech 16, music 9, thunderstorm 3, dog 2 clips
    # as queries, car horn/bird/whale/crunching/rain unrelated to all; each class
    # weighing the same): 963 pairs, 320 relevant, relevant median 0.848 [0.392,
    # 0.941], unrelated median 0.049, 95th percentile 0.261 -> mid 0.541 scale 0.066
    "sound": Calibration(mid=0.541, scale=0.066),
    # sound events (peak score x query/class-name similarity), fitted with
    # `bench/search_eval.py --fit` on the README's sample archive (56 files, every
    # default extractor): 104 pairs, 13 relevant, relevant median 0.581 [0.447, 0.817],
    # unrelated median 0.384, 95th percentile 0.684 -> mid 0.911 scale 0.209
    "sound_events": Calibration(mid=0.911, scale=0.209),
}
# Full-text hits are scored in [0, 1] already (query coverage x where the text came
# from, assetdb.search.fts.text_relevance; the fit above gave them mid 0.44 scale 0.21,
# close to the identity over the range that matters) and pass through unchanged, as do
# filters and any source without an entry here (clamped to [0, 1]).

# Hits below this fused relevance are not shown unless --cutoff says otherwise: a hit
# has at least a one-in-ten chance of being what was asked for.
DEFAULT_CUTOFF = 0.1


# the sources that search the visual space: their curves hold for the concepts space only
VISUAL_SOURCES = ("visual", "like")


def default_cutoff(sources: set[str], *, arithmetic: bool = False,
                   visual_fitted: bool = True) -> float:
    """The cutoff a search gets when it names none: DEFAULT_CUTOFF when every source
    that ranks it has a fitted curve, else 0 (query arithmetic, whose mixed query
    vectors the visual curve was not fitted on; a visual space other than the one the
    curves were fitted on; a curve that is a guess)."""
    if arithmetic:
        return 0.0
    for name in sources:
        if name in VISUAL_SOURCES and not visual_fitted:
            return 0.0
        cal = CALIBRATION.get(name)
        if cal is not None and not cal.fitted:
            return 0.0
    return DEFAULT_CUTOFF


def relevance(source: str, score: float, background: tuple[float, float] | None = None) -> float:
    """The source's curve at ``score``; ``background`` (mean, std) is the query's
    cosine to the archive at large (assetdb.search.background), for curves that use it."""
    cal = CALIBRATION.get(source)
    if cal is None:
        return max(0.0, min(1.0, float(score)))
    z = (float(score) - background[0]) / background[1] if background else None
    return cal(float(score), z)


def calibrated_fuse(
    scores: dict[str, dict[int, float]], weights: dict[str, float],
    uncalibrated: tuple[str, ...] = (),
    background: dict[str, tuple[float, float]] | None = None,
) -> dict[int, dict[str, tuple[float, float]]]:
    """item -> {source: (relevance, weighted relevance)}; the fused relevance of an item
    is :func:`noisy_or` of its weighted relevances. Sources in ``uncalibrated`` keep
    their raw score (clamped to [0, 1]): their curve does not apply here.
    ``background``: per source, the query's (mean, std) cosine to the archive."""
    out: dict[int, dict[str, tuple[float, float]]] = defaultdict(dict)
    background = background or {}
    for source, items in scores.items():
        w = max(0.0, min(1.0, weights.get(source, 1.0)))
        bg = background.get(source)
        for item, raw in items.items():
            r = (max(0.0, min(1.0, float(raw))) if source in uncalibrated
                 else relevance(source, raw, bg))
            out[item][source] = (r, w * r)
    return out


def noisy_or(parts: list[float]) -> float:
    """1 - prod(1 - p): the chance that at least one source is right, if each is an
    independent witness. Never below the best single source; agreement raises it."""
    miss = 1.0
    for p in parts:
        miss *= 1.0 - max(0.0, min(1.0, p))
    return 1.0 - miss
