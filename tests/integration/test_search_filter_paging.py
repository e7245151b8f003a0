"""Filter-only searches (filters, nothing to rank by) are paged in SQL
(``assetdb.search.engine.filter_only_search``): the same hits as the general path,
which lists every matching segment, reads its facts and fuses them all, and a cost
that follows the limit, not the number of matches. Real SQL on SQLite and PostgreSQL;
no timing."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select

from assetdb.schema import Asset, Face, Keyframe, Person, Segment, SegmentObject, SoundEvent
from assetdb.search import SearchRequest, engine, hits, search

LABELS = ["dog", "person", "car", "cat", "giraffe"]


def _build(store, n_assets: int = 24, seed: int = 0) -> None:
    """Videos, stills and audio files with: shots on a 1001/30000 time base (durations
    that are not round in seconds, some exactly 2 s), tied and untied object scores,
    sound events, two persons, creation times (some unknown), paths with upper case,
    ``%`` and ``_``; and one file catalogued again, so its segment ids come after later
    files' (catalogue order is not id order)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    with store.session() as s:
        persons, first_id = [], 0
        for name in ("Ada", "Bob"):  # a second batch adds to the first one's persons
            p = s.scalars(select(Person).where(Person.name == name)).first()
            if p is None:
                p = Person(name=name)
                s.add(p)
                s.flush()
            persons.append(p.id)
        for a in range(n_assets):
            kind = ("video", "video", "image", "audio")[a % 4]
            name = (f"Clip_{a:02d}.MOV", f"clip%{a:02d}.mov", f"take_{a}.mov")[a % 3]
            path = f"/archive/p{a % 3}/r{a % 2}/b{seed}/{name}"
            created = None if a % 5 == 0 else datetime(2023, 1 + a % 12, 1 + a % 27, a % 24)
            asset = Asset(path=path, kind=kind, created_at=created, duration_s=60.0)
            s.add(asset)
            s.flush()
            first_id = first_id or asset.id
            n_segs = 1 if kind == "image" else int(rng.integers(2, 9))
            ts = 0
            for j in range(n_segs):
                # 1001/30000 s a tick: 60 ticks = 2.002 s, 1998/999 ticks around 2 s
                length = int(rng.choice([0, 30, 59, 60, 61, 120, 1998])) if kind != "image" else 0
                seg = Segment(asset_id=asset.id, index=j, kind="shot", time_base_num=1001,
                              time_base_den=30000, start_ts=ts, end_ts=ts + length)
                ts += length
                s.add(seg)
                s.flush()
                if kind != "audio":
                    for q in range(int(rng.integers(1, 3))):
                        s.add(Keyframe(segment_id=seg.id, ts=ts - length + q, path=f"k/{seg.id}_{q}.jpg"))
                for lb in rng.choice(LABELS, int(rng.integers(0, 3)), replace=False):
                    score = float(rng.choice([0.5, 0.75, 0.9, float(rng.uniform(0.3, 1.0))]))
                    s.add(SegmentObject(asset_id=asset.id, segment_id=seg.id, label=str(lb),
                                        max_score=score, count=1, frames=1))
                for cls, label in ((69, "Dog"), (70, "Bark")):
                    if rng.random() < 0.4:
                        s.add(SoundEvent(asset_id=asset.id, segment_id=seg.id, class_index=cls,
                                         label=label, max_score=float(rng.choice([0.2, 0.3, 0.6,
                                                                                  0.8])),
                                         mean_score=0.1, start_ms=0, end_ms=1, curve_t0_ms=0,
                                         curve=[], model="yamnet"))
                for pid in persons:
                    if rng.random() < 0.4:
                        s.add(Face(asset_id=asset.id, segment_id=seg.id, segment_index=j,
                                   embedding=bytes(512), person_id=pid))
        # catalogued again: the batch's first video's segments get the largest ids
        old = s.scalars(select(Segment).where(Segment.asset_id == first_id)).all()
        spans = [(x.index, x.start_ts, x.end_ts) for x in old]
        for x in old:
            s.delete(x)
        s.flush()
        for j, a, b in spans:
            seg = Segment(asset_id=first_id, index=j, kind="shot", time_base_num=1001,
                          time_base_den=30000, start_ts=a, end_ts=b)
            s.add(seg)
            s.flush()
            s.add(SegmentObject(asset_id=first_id, segment_id=seg.id, label="dog",
                                max_score=0.9, count=1, frames=1))
            s.add(Keyframe(segment_id=seg.id, ts=a, path=f"k/{seg.id}.jpg"))


REQUESTS = [
    {"kind": "video"},
    {"kind": "audio"},
    {"objects": ["dog"]},
    {"objects": ["dog", "person"]},
    {"objects": ["animal"]},
    {"objects": ["giraffe"], "kind": "video"},
    {"persons": ["Ada"]},
    {"persons": ["ada", "Bob"]},
    {"persons": ["Ada"], "objects": ["car"]},
    {"sounds": ["dog"]},
    {"sounds": ["dog", "bark"]},
    {"sounds": ["bark"], "objects": ["dog"]},
    {"path": "/archive/p1/*"},
    {"path": "clip_0*"},  # case-sensitive: no Clip_0*
    {"path": "Clip_0?.MOV"},
    {"path": "clip%1*"},
    {"path": "*take_1*"},
    {"path": "*/r1/*", "kind": "video"},
    {"path": "take_?.mov", "objects": ["person"]},
    {"min_duration": 2.0},
    {"min_duration": 2.002},
    {"max_duration": 2.0},
    {"min_duration": 0.0, "max_duration": 1.0},
    {"max_duration": 0.0},
    {"after": "2023-06-01"},
    {"before": "2023-06-01T12:00"},
    {"after": "2023-03-01", "before": "2023-09-01", "objects": ["person"]},
    {"kind": "video", "min_duration": 1.0, "after": "2023-02-01", "objects": ["dog"]},
]


def _legacy(monkeypatch, store, req: SearchRequest) -> list[dict]:
    """What the general path answers (every match listed, fused and grouped)."""
    with monkeypatch.context() as m:
        m.setattr(engine, "filter_only_search", lambda *_a, **_k: None)
        return [asdict(h) for h in search(store, req)]


@pytest.fixture
def archive(store):
    _build(store)
    return store


@pytest.mark.parametrize("limit,all_shots", [(1, False), (3, False), (500, False),
                                             (4, True), (500, True)])
def test_filter_only_hits_are_the_general_paths(archive, monkeypatch, limit, all_shots):
    seen_nonempty = 0
    for kw in REQUESTS:
        req = {**kw, "limit": limit, "all_shots": all_shots}
        want = _legacy(monkeypatch, archive, SearchRequest(**req))
        got = [asdict(h) for h in search(archive, SearchRequest(**req))]
        assert got == want, req
        seen_nonempty += bool(want)
    assert seen_nonempty >= len(REQUESTS) - 3  # the filters do match something


@pytest.mark.parametrize("kw", [{"kind": "video", "cutoff": 1.0}, {"path": "*[0-4].mov"},
                                {"path": "*[!0-4].MOV", "kind": "video"}])
def test_requests_the_sql_path_leaves_to_the_general_one(archive, monkeypatch, kw):
    """fnmatch sets and a cutoff: the same hits either way (sets go the general path)."""
    req = SearchRequest(**kw)
    assert [asdict(h) for h in search(archive, req)] == _legacy(monkeypatch, archive, req)


def test_unknown_names_raise_as_before(archive):
    from assetdb.errors import NotFound, QueryError

    with pytest.raises(NotFound):
        search(archive, SearchRequest(persons=["Nobody"], objects=["dog"]))
    with pytest.raises(QueryError):
        search(archive, SearchRequest(objects=["no such thing"]))


def _counting(store, monkeypatch) -> tuple[list[int], list[int]]:
    statements: list[int] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda *_a, **_k: statements.append(1))
    facts: list[int] = []
    real = hits.segment_facts

    def counting_facts(st, ids):
        facts.append(len(ids))
        return real(st, ids)

    monkeypatch.setattr(engine, "segment_facts", counting_facts)
    return statements, facts


@pytest.mark.parametrize("kw", [{"kind": "video"}, {"objects": ["dog"]},
                                {"persons": ["Ada"], "min_duration": 1.0},
                                {"path": "/archive/p1/*", "sounds": ["dog"]}])
def test_filter_only_cost_follows_the_limit(store, monkeypatch, kw):
    """The general path read the facts of every matching segment (all of them for a
    kind filter) and fused them; the SQL path reads facts and keyframes for the hits
    shown, in as many statements at 24 files as at 96."""
    _build(store, n_assets=24, seed=1)
    statements, facts = _counting(store, monkeypatch)
    counts = []
    for more in (0, 72):
        if more:
            _build(store, n_assets=more, seed=2 + len(counts))
        statements.clear()
        facts.clear()
        got = search(store, SearchRequest(limit=3, **kw))
        assert len(got) == 3
        assert sum(facts) == 3
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_paths_and_times_of_the_fixture(archive):
    """The fixture has what the comparisons need: catalogue order differs from id
    order, and paths that differ only in case."""
    with archive.session() as s:
        by_catalogue = s.scalars(select(Segment.id).order_by(Segment.asset_id, Segment.index)).all()
        names = [Path(p).name for p in s.scalars(select(Asset.path)).all()]
    assert by_catalogue != sorted(by_catalogue)
    assert any(n.startswith("Clip_") for n in names) and any("%" in n for n in names)
