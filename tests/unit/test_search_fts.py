"""Full-text search: query building/escaping, the 0002 migration's triggers, on SQLite
and (marker ``postgres``) PostgreSQL, and the search filters/fusion over real SQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from assetdb.config import Settings
from assetdb.db import Store
from assetdb.errors import NotFound, QueryError
from assetdb.records import TextRow, replace_texts
from assetdb.schema import Asset, Segment, TextEntry
from assetdb.search import (
    SearchRequest,
    competition_ranks,
    parse,
    pg_tsquery,
    rrf_fuse,
    search,
    search_texts,
    sqlite_match,
    validate_request,
)

PG_ADMIN = os.environ.get("ASSETDB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

NASTY = ['"', '""', "'", "AND", "OR NOT", "NEAR(a b)", "a*", "*", "-x", "col:val", "(", ")",
         "^start", "x AND (", "{a b}", "\\", "%_", "'; DROP TABLE texts; --", "über:*", "a & b | !c"]


def test_parse_drops_operators_and_stopwords():
    q = parse('people walking on a "big buck" street* AND -x')
    assert q.words == ["people", "walking", "street", "x"]
    assert q.prefixes == {"street"}
    assert q.phrases == [["big", "buck"]]
    assert sqlite_match(q) == '"people" OR "walking" OR "street"* OR "x" OR "big buck"'
    assert pg_tsquery(q) == "'people' | 'walking' | 'street':* | 'x' | ('big' <-> 'buck')"


def test_parse_only_stopwords_keeps_them_and_empty_is_empty():
    assert parse("the a").words == ["the", "a"]
    assert not parse("  *** ''' ")
    assert parse("big_buck_bunny").words == ["big", "buck", "bunny"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.db'}"
        st = Store.open(Settings(data_dir=tmp_path, database_url=url), upgrade_schema=True)
        yield st
        st.close()
        return
    psycopg = pytest.importorskip("psycopg")
    name = f"assetdb_search_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    st = Store.open(Settings(data_dir=tmp_path, database_url=url), upgrade_schema=True)
    try:
        yield st
    finally:
        st.close()
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.close()


def _asset(s, path, kind="video", segments=((0, 100),), created=None, rate=(25, 1)):
    a = Asset(path=path, kind=kind, created_at=created, size=1, mtime_ns=0, audio_streams=[],
              subtitle_streams=[], tags={}, warnings=[], state="indexed")
    s.add(a)
    s.flush()
    for i, (f0, f1) in enumerate(segments):
        s.add(Segment(asset_id=a.id, index=i, kind="shot", time_base_num=rate[1],
                      time_base_den=rate[0], start_ts=f0, end_ts=f1, start_frame=f0,
                      end_frame=f1, rate_num=rate[0], rate_den=rate[1]))
    s.flush()
    return a.id


@pytest.fixture
def catalogue(store):
    with store.session() as s:
        a1 = _asset(s, "/m/street/walk.mp4", segments=((0, 50), (50, 500), (500, 600)),
                    created=datetime(2024, 5, 1))
        a2 = _asset(s, "/m/zoo/birds.jpg", kind="image", segments=((0, 1),))
        a3 = _asset(s, "/m/audio/rain.ogg", kind="audio", segments=((0, 250),),
                    created=datetime(2020, 1, 1))
        replace_texts(s, a1, "filename", [TextRow("walk people street")])
        replace_texts(s, a1, "transcript", [TextRow("the quick brown fox jumps over", 1),
                                            TextRow("the lazy dog sleeps", 2)])
        replace_texts(s, a2, "filename", [TextRow("birds in the zoo, Café Über")])
        replace_texts(s, a3, "tags", [TextRow("rain on a tin roof, dog barking")])
    return {"walk": a1, "birds": a2, "rain": a3}


def test_fts_matches_and_stems(store, catalogue):
    with store.session() as s:
        hits = search_texts(s, "dogs")  # SQLite: porter stem; PostgreSQL: whole word
        if store.dialect == "sqlite":
            assert {h.asset_id for h in hits} == {catalogue["walk"], catalogue["rain"]}
        assert {h.asset_id for h in search_texts(s, "dog")} == {catalogue["walk"], catalogue["rain"]}
        assert [h.asset_id for h in search_texts(s, "zo*")] == [catalogue["birds"]]
        assert [h.asset_id for h in search_texts(s, "café")] == [catalogue["birds"]]
        if store.dialect == "sqlite":  # PostgreSQL 'simple' keeps diacritics
            assert [h.asset_id for h in search_texts(s, "cafe")] == [catalogue["birds"]]
        assert search_texts(s, '"lazy dog"')[0].segment_id is not None
        assert search_texts(s, '"dog lazy"') == []
        snip = search_texts(s, "fox")[0].snippet
        assert "[fox]" in snip


@pytest.mark.parametrize("nasty", NASTY)
def test_fts_never_raises_on_user_input(store, catalogue, nasty):
    with store.session() as s:
        search_texts(s, nasty)
        search_texts(s, f"dog {nasty} rain")


def test_fts_follows_updates_and_deletes(store, catalogue):
    with store.session() as s:
        replace_texts(s, catalogue["birds"], "filename", [TextRow("penguins")])
    with store.session() as s:
        assert search_texts(s, "zoo") == []
        assert [h.asset_id for h in search_texts(s, "penguins")] == [catalogue["birds"]]
        row = s.query(TextEntry).filter_by(asset_id=catalogue["birds"]).one()
        row.text = "flamingo"
    with store.session() as s:
        assert search_texts(s, "penguins") == []
        assert len(search_texts(s, "flamingo")) == 1
        s.delete(s.get(Asset, catalogue["rain"]))  # cascades to texts
    with store.session() as s:
        assert {h.asset_id for h in search_texts(s, "dog")} == {catalogue["walk"]}


def test_search_text_only_filters_and_collapse(store, catalogue):
    hits = search(store, SearchRequest(query="dog", explain=True, all_shots=True))
    # the transcript row is tied to segment 2; the tags row covers the rain file
    assert [(h.path, h.segment_index) for h in hits][:2] in (
        [("/m/street/walk.mp4", 2), ("/m/audio/rain.ogg", 0)],
        [("/m/audio/rain.ogg", 0), ("/m/street/walk.mp4", 2)],
    )
    assert all("text" in h.sources and h.snippet for h in hits)
    # the file name covers every shot of the file: equal text score, equal rank
    walk = search(store, SearchRequest(query="walk", all_shots=True))
    assert [h.segment_index for h in walk] == [0, 1, 2]
    assert len({h.sources["text"].rank for h in walk}) == 1
    assert len({h.score for h in walk}) == 1
    assert all(h.other_shots is None for h in walk)
    # grouped (the default; per_asset is its old name): the first shot, two more
    for grouped in (SearchRequest(query="walk"), SearchRequest(query="walk", per_asset=True)):
        assert [(h.segment_index, h.other_shots) for h in search(store, grouped)] == [(0, 2)]
    assert search(store, SearchRequest(query="dog", kind="audio"))[0].path == "/m/audio/rain.ogg"
    assert search(store, SearchRequest(query="dog", path="*/street/*"))[0].segment_index == 2
    assert search(store, SearchRequest(query="dog", path="rain.ogg"))[0].kind == "audio"
    # segment 2 of walk.mp4 is 4 s long, rain.ogg 10 s
    assert [h.kind for h in search(store, SearchRequest(query="dog", min_duration=5))] == ["audio"]
    assert [h.kind for h in search(store, SearchRequest(query="dog", max_duration=5))] == ["video"]
    assert [h.kind for h in search(store, SearchRequest(query="dog", after=datetime(2023, 1, 1)))] \
        == ["video"]
    assert [h.kind for h in search(store, SearchRequest(query="dog", before=datetime(2023, 1, 1)))] \
        == ["audio"]
    # filters alone list segments in catalogue order
    assert len(search(store, SearchRequest(kind="video", all_shots=True))) == 3
    h = search(store, SearchRequest(query="walk", limit=1))[0]
    # out-point exclusive (assetdb.timecode): the 50 frames 0..49 end at 00:00:02:00
    assert (h.tc_in, h.tc_out, h.start_s, h.end_s) == ("00:00:00:00", "00:00:02:00", 0.0, 2.0)


def test_search_errors(store, catalogue):
    with pytest.raises(QueryError, match="nothing to search"):
        search(store, SearchRequest())
    with pytest.raises(QueryError, match="limit"):
        search(store, SearchRequest(query="x", limit=0))
    with pytest.raises(QueryError, match="kind"):
        search(store, SearchRequest(query="x", kind="film"))
    with pytest.raises(QueryError, match="no visual index"):
        search(store, SearchRequest(like_shot=1))
    with pytest.raises(NotFound, match="Ada"):
        search(store, SearchRequest(query="dog", persons=["Ada"]))
    assert search(store, SearchRequest(query='"unbalanced AND (')) == []


def test_rrf_cutoff_is_relative(store, catalogue):
    all_hits = search(store, SearchRequest(query="dog walk", fusion="rrf", all_shots=True))
    best = all_hits[0].score
    cut = search(store, SearchRequest(query="dog walk", cutoff=0.99, fusion="rrf",
                                      all_shots=True))
    assert cut and all(h.score >= 0.99 * best for h in cut)
    assert [h.segment_id for h in cut] == [h.segment_id for h in all_hits[: len(cut)]]
    assert all(h.score < 0.99 * best for h in all_hits[len(cut) :])


def test_rrf():
    assert competition_ranks([3.0, 2.0, 2.0, 1.0]) == [1, 2, 2, 4]
    fused = rrf_fuse({"a": [(1, 0.9), (2, 0.5)], "b": [(2, 10.0), (3, 9.0)]},
                     {"a": 1.0, "b": 0.5}, k=60)
    assert fused[1] == {"a": (1, 1 / 61)}
    assert fused[2] == {"a": (2, 1 / 62), "b": (1, 0.5 / 61)}
    assert fused[3] == {"b": (2, 0.5 / 62)}
    total = {i: sum(c for _, c in d.values()) for i, d in fused.items()}
    assert max(total, key=total.get) == 2  # found by both sources


def test_several_persons_are_and_like_objects(store, catalogue):
    """Defect 4: `--person A --person B` matched shots with either of them."""
    from assetdb.schema import Face, Person

    with store.session() as s:
        walk = catalogue["walk"]
        segs = dict(s.execute(select(Segment.index, Segment.id).where(Segment.asset_id == walk)).all())
        ada, bob = Person(name="Ada"), Person(name="Bob")
        s.add_all([ada, bob])
        s.flush()
        for person, shots in ((ada, (0, 1)), (bob, (1, 2))):
            for i in shots:
                s.add(Face(asset_id=walk, segment_id=segs[i], segment_index=i,
                           embedding=bytes(512), person_id=person.id))
    both = search(store, SearchRequest(persons=["Ada", "bob"]))
    assert [h.segment_index for h in both] == [1]
    ada_shots = search(store, SearchRequest(persons=["Ada"], all_shots=True))
    assert [h.segment_index for h in ada_shots] == [0, 1]
    assert [(h.segment_index, h.other_shots)
            for h in search(store, SearchRequest(persons=["Ada"]))] == [(0, 1)]
    assert [h.segment_index for h in search(store, SearchRequest(query="walk", persons=["ada", "Bob"]))] \
        == [1]


@pytest.mark.parametrize(("req", "message"), [
    (SearchRequest(query="x", limit=0), "--limit must be at least 1"),
    (SearchRequest(query=""), "the query is empty"),
    (SearchRequest(query="   ", kind="video"), "the query is empty"),
    (SearchRequest(), "nothing to search for"),
    (SearchRequest(query="x", after="2024-13-01"), "--after takes an ISO date"),
    (SearchRequest(query="x", after="2024-05-02", before="2024-05-01"), "--after must be earlier"),
    (SearchRequest(query="x", min_duration=-1), "--min-duration cannot be negative"),
    (SearchRequest(query="x", weights={"visual": -1.0}), "cannot be negative"),
    (SearchRequest(query="x", like_image=Path("/no/such.jpg")), "--like: no such image"),
    (SearchRequest(query="x", cutoff=1.5), "--cutoff is a relevance between 0 and 1"),
    (SearchRequest(query="x", fusion="max"), "fusion must be one of"),
    (SearchRequest(query="x", add=["0:night"]), "weight must be a positive number"),
    (SearchRequest(query="x", add=["-2:night"]), "weight must be a positive number"),
    (SearchRequest(query="x", subtract=["2:"]), "--subtract needs a term"),
    (SearchRequest(subtract=["fence"]), "needs something to subtract from"),
    (SearchRequest(add_images=["/no/such.jpg"]), "--add-image: no such image"),
])
def test_validate_request_rejects(req, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        validate_request(req)


def test_validate_request_parses_dates_and_loads_nothing():
    """Defect 10: `--limit 0` and an empty query were refused only after loading models;
    validation imports no model, no FAISS and opens no store."""
    code = (
        "import sys\n"
        "from assetdb.search import SearchRequest, validate_request\n"
        "r = validate_request(SearchRequest(query='dog', after='2024-05-01', before='2024-06-01'))\n"
        "assert r.after.month == 5 and r.before.month == 6\n"
        "for bad in (SearchRequest(query='dog', limit=0), SearchRequest(query=' ')):\n"
        "    try:\n"
        "        validate_request(bad)\n"
        "    except Exception as exc:\n"
        "        assert type(exc).__name__ == 'QueryError', exc\n"
        "    else:\n"
        "        raise SystemExit('accepted')\n"
        "heavy = ('torch', 'faiss', 'open_clip', 'sentence_transformers', 'onnxruntime',\n"
        "         'ai_edge_litert', 'cv2', 'dlib', 'faster_whisper', 'av', 'librosa')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
