"""The visual curve's second witness: how a query's cosine sits against the archive at
large (assetdb.search.background), and the calibration and cutoff rules that use it.
Real SQL (SQLite, and PostgreSQL when it answers) with generated vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assetdb.records import VectorRow, replace_vectors
from tests.storework import add_asset

SPACE = "test:background@1"
DIM = 16


def _fill(store, n_assets: int, shots: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for a in range(n_assets):
        spans = [(float(j), float(j + 1)) for j in range(shots)]
        work = add_asset(store, Path(f"/bg/s{seed}/clip{a:03d}.mov"), "video", spans)
        vecs = rng.standard_normal((shots, DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with store.session() as s:
            replace_vectors(s, work.asset_id, SPACE,
                            [VectorRow(v, segment_index=j, t_s=float(j))
                             for j, v in enumerate(vecs)])
        out.append(vecs)
    return np.concatenate(out)


def test_background_is_the_query_cosine_to_a_spread_sample(store, monkeypatch):
    from assetdb.search import background

    vecs = _fill(store, n_assets=6)  # 60 vectors: all of them are the sample
    q = np.random.default_rng(1).standard_normal(DIM).astype(np.float32)
    mean, sd = background.query_background(store, SPACE, q)
    sims = vecs @ (q / np.linalg.norm(q))
    assert mean == pytest.approx(float(sims.mean()), abs=1e-5)
    assert sd == pytest.approx(float(sims.std()), abs=1e-5)
    # a larger space: at most BACKGROUND_SAMPLE vectors, spread over the ids
    monkeypatch.setattr(background, "BACKGROUND_SAMPLE", 25)
    more = np.concatenate([vecs, _fill(store, n_assets=6, seed=2)])  # the cache sees the change
    sample = background.background_vectors(store, SPACE)
    assert 20 <= len(sample) <= 25
    assert all(np.isclose(more @ row, 1.0, atol=1e-5).any() for row in sample)
    assert background.query_background(store, SPACE, q) is not None
    # too few vectors for a spread
    assert background.query_background(store, "test:empty@1", q) is None


def test_visual_relevance_rises_with_the_distance_above_the_background():
    from assetdb.search.fusion import CALIBRATION, calibrated_fuse, relevance

    cal = CALIBRATION["visual"]
    assert cal.z_weight > 0
    bg = (0.15, 0.05)
    # the same cosine: more relevant where it stands out from the query's background
    assert relevance("visual", 0.3, bg) > relevance("visual", 0.3, (0.28, 0.05))
    assert relevance("visual", 0.3) == cal(0.3)  # no background: the cosine alone
    fused = calibrated_fuse({"visual": {1: 0.3, 2: 0.2}, "like": {1: 0.9}}, {},
                            background={"visual": bg})
    assert fused[1]["visual"][0] == pytest.approx(cal(0.3, (0.3 - 0.15) / 0.05))
    assert fused[1]["like"][0] == pytest.approx(CALIBRATION["like"](0.9))  # raw curve
    assert fused[1]["visual"][0] > fused[2]["visual"][0]


def test_default_cutoff_follows_the_fitted_curves():
    from assetdb.search.fusion import CALIBRATION, DEFAULT_CUTOFF, Calibration, default_cutoff

    assert default_cutoff({"visual", "text", "transcript", "sound_events"}) == DEFAULT_CUTOFF
    assert default_cutoff({"like"}) == DEFAULT_CUTOFF  # fitted (search_eval --fit-like)
    assert default_cutoff({"sound"}) == DEFAULT_CUTOFF  # fitted (--fit-sound)
    assert default_cutoff({"filter"}) == DEFAULT_CUTOFF
    assert default_cutoff({"visual"}, arithmetic=True) == 0.0
    assert default_cutoff({"like", "text"}, visual_fitted=False) == 0.0
    assert default_cutoff({"text"}, visual_fitted=False) == DEFAULT_CUTOFF
    saved = CALIBRATION["sound"]
    try:
        CALIBRATION["sound"] = Calibration(0.5, 0.1, fitted=False)
        assert default_cutoff({"sound"}) == 0.0
    finally:
        CALIBRATION["sound"] = saved


def test_weak_matches_are_validated():
    from assetdb.errors import QueryError
    from assetdb.search import SearchRequest, validate_request

    assert validate_request(SearchRequest(query="x", weak=3)).weak == 3
    with pytest.raises(QueryError, match="weak"):
        validate_request(SearchRequest(query="x", weak=-1))
