"""What keeps a search's cost from growing with the archive (bench/scale.py measures
it): a loaded index is reused while its file and SQL rows are unchanged, a filtered
visual search goes only as deep as the filter needs, and only the hits shown get
timecodes and keyframes. Real SQL (SQLite, and PostgreSQL when it answers); no timing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assetdb.records import VectorRow, replace_vectors
from tests.storework import add_asset

pytest.importorskip("faiss")

SPACE = "clip:ViT-S-32:random"  # recorded as the visual space; no model is loaded
DIM = 32


def _archive(store, n_assets: int = 30, shots: int = 10, seed: int = 0) -> np.ndarray:
    """Videos (shots of 1 s and 3 s alternating) and one vector per shot; returns the
    vectors in segment-id order."""
    from assetdb.spaces import claim_space

    rng = np.random.default_rng(seed)
    out = []
    for a in range(n_assets):
        spans, t = [], 0.0
        for j in range(shots):
            d = 1.0 if j % 2 == 0 else 3.0
            spans.append((t, t + d))
            t += d
        kind = "video" if a % 3 else "audio"
        work = add_asset(store, Path(f"/archive/s{seed}/p{a % 2}/clip{a:03d}.mov"), kind, spans)
        vecs = rng.standard_normal((shots, DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with store.session() as s:
            claim_space(s, SPACE, SPACE)
            replace_vectors(s, work.asset_id, SPACE,
                            [VectorRow(v, segment_index=j, t_s=spans[j][0])
                             for j, v in enumerate(vecs)])
        out.append(vecs)
    return np.concatenate(out)


def test_open_index_reuses_the_loaded_index(store, monkeypatch):
    """Every search read the whole index file back (2 KB a vector at 512-d)."""
    from assetdb.index import VectorIndex, forget_open_indexes, index_path, open_index

    forget_open_indexes()
    _archive(store, n_assets=3)
    loads = []
    real_load = VectorIndex.load.__func__

    def counting_load(cls, *a, **kw):
        loads.append(1)
        return real_load(cls, *a, **kw)

    monkeypatch.setattr(VectorIndex, "load", classmethod(counting_load))
    try:
        first = open_index(store, SPACE)  # built: there is no file yet
        loads.clear()
        assert open_index(store, SPACE) is first and loads == []
        # new rows: a synced copy replaces it; the object a search may hold is untouched
        n = first.ntotal
        _archive(store, n_assets=1, seed=1)
        synced = open_index(store, SPACE)
        assert synced is not first and first.ntotal == n and synced.ntotal == n + 10
        assert len(loads) == 1
        assert open_index(store, SPACE) is synced and len(loads) == 1
        # the file rewritten behind its back (another process): read again
        synced.save(index_path(store, SPACE))
        assert open_index(store, SPACE) is not synced and len(loads) == 2
    finally:
        forget_open_indexes()


def _exact(store, x: np.ndarray, q: np.ndarray, keep) -> list[int]:
    """Segment ids by exact cosine, the filter applied to every segment."""
    from sqlalchemy import select

    from assetdb.schema import Asset, Segment

    with store.session() as s:
        rows = s.execute(select(Segment.id, Segment.start_ts, Segment.end_ts, Asset.kind)
                         .join(Asset, Asset.id == Segment.asset_id)
                         .order_by(Segment.id)).all()
    scores = x @ q
    ok = [(sid, sc) for (sid, a, b, kind), sc in zip(rows, scores, strict=True)
          if keep(kind, (b - a) / 1000)]
    return [sid for sid, _ in sorted(ok, key=lambda t: -t[1])]


@pytest.mark.parametrize("filters,keep", [
    ({"kind": "video"}, lambda kind, d: kind == "video"),
    ({"min_duration": 2.0}, lambda kind, d: d >= 2.0),
    ({"kind": "audio", "max_duration": 2.0}, lambda kind, d: kind == "audio" and d <= 2.0),
])
def test_filtered_visual_search_goes_only_as_deep_as_needed(store, monkeypatch, filters, keep):
    """Filters used to send the visual search FILTERED_SCAN_MAX (200k) vectors deep and
    then read every candidate's timecodes and keyframes in Python."""
    from assetdb import timecode
    from assetdb.index import VectorIndex
    from assetdb.search import SearchRequest, engine, hits, search, sources

    x = _archive(store)
    monkeypatch.setattr(engine, "CANDIDATES_MIN", 8)
    monkeypatch.setattr(engine, "CANDIDATES_PER_HIT", 2)
    depths: list[int] = []
    real_search = VectorIndex.search

    def recording_search(self, queries, k):
        depths.append(int(k))
        return real_search(self, queries, k)

    monkeypatch.setattr(VectorIndex, "search", recording_search)
    described: list[int] = []
    real_tc = timecode.range_timecodes
    monkeypatch.setattr(hits, "range_timecodes",
                        lambda *a, **kw: described.append(1) or real_tc(*a, **kw))
    like = 5  # a shot of a video asset: its vector is the query
    # rrf: the order of the visual ranks (calibrated clamps this space's negative
    # cosines to 0, a tie)
    got = search(store, SearchRequest(like_shot=like, all_shots=True, limit=4, cutoff=0.0,
                                      fusion="rrf", **filters))
    want = _exact(store, x, x[like - 1], keep)
    assert [h.segment_id for h in got] == want[:4]
    # 8 candidates wanted, 300 vectors: never the whole index, never more than needed
    assert depths and max(depths) <= 8 * sources.FILTERED_DEPTH_START * \
        sources.FILTERED_DEPTH_GROWTH ** 2 and max(depths) < x.shape[0]
    assert len(described) == len(got)  # timecodes only for the hits shown
    assert all(h.tc_in is not None for h in got)


def test_filtered_search_deepens_for_a_selective_filter(store, monkeypatch):
    """A filter few segments pass makes the visual search go deeper, up to the index."""
    from assetdb.index import VectorIndex
    from assetdb.search import SearchRequest, engine, search

    x = _archive(store)
    monkeypatch.setattr(engine, "CANDIDATES_MIN", 8)
    monkeypatch.setattr(engine, "CANDIDATES_PER_HIT", 2)
    depths: list[int] = []
    real_search = VectorIndex.search
    monkeypatch.setattr(VectorIndex, "search",
                        lambda self, q, k: depths.append(int(k)) or real_search(self, q, k))
    like = 5
    # one file only: 10 of 300 vectors pass
    got = search(store, SearchRequest(like_shot=like, all_shots=True, limit=20, cutoff=0.0,
                                      fusion="rrf", path="*/clip029.mov"))
    want = _exact(store, x, x[like - 1], lambda kind, d: True)
    with store.session() as s:
        from sqlalchemy import select

        from assetdb.schema import Asset, Segment

        ids = set(s.scalars(select(Segment.id).join(Asset, Asset.id == Segment.asset_id)
                            .where(Asset.path.like("%/clip029.mov"))))
    assert [h.segment_id for h in got] == [sid for sid in want if sid in ids]
    assert depths == sorted(depths) and depths[-1] == x.shape[0]


def _aggregate(store) -> dict[str, tuple[int, int, int]]:
    from sqlalchemy import text

    with store.engine.connect() as c:
        rows = c.execute(text(
            "SELECT space, count(*), sum(id), sum((id * 2654435761) % 4294967311) "
            "FROM vectors GROUP BY space")).all()
    return {sp: (int(n), int(s), int(h)) for sp, n, s, h in rows}


def _counted(store) -> dict[str, tuple[int, int, int]]:
    from sqlalchemy import text

    with store.engine.connect() as c:
        rows = c.execute(text("SELECT space, count, id_sum, id_hash FROM vector_stats")).all()
    return {sp: (int(n), int(s), int(h)) for sp, n, s, h in rows if n}


def test_vector_stats_follow_every_write(store):
    """Migration 0011: the per-space id statistics the triggers keep equal the rows'
    aggregate after inserts, re-writes, cascaded deletes and updates; open_index reads
    them instead of scanning the space (it aggregated every row on every search)."""
    from sqlalchemy import text, update

    from assetdb.index import IdStats, vectors_source
    from assetdb.schema import Asset, Vector

    _archive(store, n_assets=4)
    with store.session() as s:
        aid = s.scalars(text("SELECT min(id) FROM assets")).one()
        replace_vectors(s, aid, "other:space@1", [VectorRow(np.ones(4, np.float32))] * 3)
    assert _counted(store) == _aggregate(store) and len(_aggregate(store)) == 2
    with store.session() as s:  # re-written (delete + insert), one asset deleted (cascade)
        replace_vectors(s, aid + 1, SPACE, [VectorRow(np.ones(DIM, np.float32), 0)] * 2)
        s.delete(s.get(Asset, aid + 2))
    with store.session() as s:  # moved to another space
        s.execute(update(Vector).where(Vector.asset_id == aid + 3).values(space="other:space@1"))
    assert _counted(store) == _aggregate(store)
    src = vectors_source(SPACE)
    with store.session() as s:
        counted = src.stats(s)
        scanned = src.stats_after(s, None)
    assert counted.same_ids(scanned) and counted.count == 12
    assert not counted.same_ids(IdStats(12, scanned.max_id, scanned.id_sum + 1, 0))


def test_open_index_reads_only_new_rows_after_an_ingest(store, monkeypatch):
    """Rows only added since the index was saved: the sync reads the rows above its
    largest id, not every id of the space."""
    from assetdb.index import forget_open_indexes, open_index, vectors_source
    from assetdb.index.sql import VectorSource

    forget_open_indexes()
    _archive(store, n_assets=3)
    first = open_index(store, SPACE)
    _archive(store, n_assets=2, seed=2)
    full_scans = []
    real_ids = VectorSource.ids
    monkeypatch.setattr(VectorSource, "ids",
                        lambda self, s: full_scans.append(1) or real_ids(self, s))
    synced = open_index(store, SPACE)
    assert full_scans == [] and synced.ntotal == first.ntotal + 20
    with store.session() as s:
        assert np.array_equal(synced.ids(), vectors_source(SPACE).ids(s))
    # a deletion falls back to comparing every id
    from assetdb.schema import Asset

    full_scans.clear()
    with store.session() as s:
        s.delete(s.get(Asset, 1))
    again = open_index(store, SPACE)
    assert full_scans == [1] and again.ntotal == synced.ntotal - 10
    forget_open_indexes()


def test_a_broad_object_filter_is_checked_on_the_candidates(store, monkeypatch):
    """`--object person` in a large archive read every matching segment into Python
    (35k at 100k shots); past ALLOWED_SET_MAX it is checked in SQL for the candidates,
    with the same hits."""
    from sqlalchemy import select

    from assetdb.schema import Segment, SegmentObject
    from assetdb.search import SearchRequest, search, sources

    _archive(store)
    with store.session() as s:
        for sid, aid in s.execute(select(Segment.id, Segment.asset_id)).all():
            labels = (["person"] if sid % 2 else []) + (["dog"] if sid % 3 == 0 else [])
            for lb in labels:
                s.add(SegmentObject(asset_id=aid, segment_id=sid, label=lb, max_score=0.9,
                                    count=1, frames=1))
    req = {"like_shot": 5, "all_shots": True, "limit": 30, "cutoff": 0.0, "fusion": "rrf",
           "objects": ["person", "dog"]}
    small = search(store, SearchRequest(**req))
    whole_sets = []
    real = sources.filter_segments
    monkeypatch.setattr(sources, "filter_segments",
                        lambda st, r: whole_sets.append(r) or real(st, r))
    monkeypatch.setattr(sources, "ALLOWED_SET_MAX", 10)
    large = search(store, SearchRequest(**req))
    assert whole_sets == []
    assert small and [h.segment_id for h in large] == [h.segment_id for h in small]
    assert all(h.segment_id % 6 == 3 for h in large)  # odd and divisible by 3


def test_text_search_ranks_from_the_stored_tsvector(store):
    """Migration 0012: PostgreSQL ranked every matching row by parsing its text again
    (to_tsvector per row and query); the tsvector is now a stored column that follows
    inserts and updates. SQLite (FTS5) answers the same."""
    from sqlalchemy import inspect, text, update

    from assetdb.records import TextRow, replace_texts
    from assetdb.schema import TextEntry
    from assetdb.search.fts import search_texts

    work = add_asset(store, Path("/archive/a.mov"), "video", [(0.0, 1.0)])
    with store.session() as s:
        replace_texts(s, work.asset_id, "sidecar", [TextRow("a red kite over the harbour")])
    with store.session() as s:
        assert [h.source for h in search_texts(s, "kite harbour")] == ["sidecar"]
        s.execute(update(TextEntry).values(text="a green umbrella in the rain"))
    with store.session() as s:
        assert search_texts(s, "kite") == []
        assert len(search_texts(s, "umbrella")) == 1
    if store.dialect == "postgresql":
        insp = inspect(store.engine)
        assert "tsv" in {c["name"] for c in insp.get_columns("texts")}
        assert "ix_texts_tsv" in {i["name"] for i in insp.get_indexes("texts")}
        with store.engine.connect() as c:
            plan = " ".join(c.execute(text(
                "EXPLAIN SELECT id FROM texts t WHERE t.tsv @@ to_tsquery('simple', 'kite')"
            )).scalars())
        assert "to_tsvector" not in plan


def test_filtered_text_search_reads_more_rows_only_when_needed(store, monkeypatch):
    """With any filter the text source read 2000 rows, each file-level row standing for
    every segment of its file (40k segments at 100k shots, all read and filtered);
    now k rows, and more only while fewer than k of their segments pass."""
    from assetdb.records import TextRow, replace_texts
    from assetdb.search import SearchRequest, engine, search, sources

    for a in range(30):
        kind = "video" if a % 3 else "audio"
        work = add_asset(store, Path(f"/archive/p{a % 2}/clip{a:03d}.mov"), kind,
                         [(float(j), float(j + 1)) for j in range(10)])
        with store.session() as s:
            replace_texts(s, work.asset_id, "sidecar", [TextRow(f"harbour at dawn, take {a}")])
    monkeypatch.setattr(engine, "CANDIDATES_MIN", 8)
    monkeypatch.setattr(engine, "CANDIDATES_PER_HIT", 2)
    limits: list[int] = []
    real = sources.search_texts
    monkeypatch.setattr(sources, "search_texts",
                        lambda s, q, limit: limits.append(limit) or real(s, q, limit=limit))
    got = search(store, SearchRequest(query="harbour", kind="video", limit=4, cutoff=0.0))
    assert len(got) == 4 and all(h.kind == "video" for h in got)
    assert limits == [8]
    limits.clear()
    got = search(store, SearchRequest(query="harbour", path="*/clip029.mov", all_shots=True,
                                      limit=20, cutoff=0.0))
    assert {h.path for h in got} == {"/archive/p1/clip029.mov"} and len(got) == 10
    assert limits == sorted(limits) and limits[0] == 40 and limits[-1] > 30
