"""The writer stores a job's results (several assets) in one transaction, one multi-row
INSERT per table: the rows are the same as writing the results one by one, a result
whose rows fail to store fails alone, and an asset removed meanwhile is skipped."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select

from assetdb import layout
from assetdb.media.probe import ProbeInfo
from assetdb.models.objects import Detection
from assetdb.schema import (
    Asset,
    Keyframe,
    ObjectDetection,
    Segment,
    SegmentObject,
    StageRun,
    TextEntry,
    Vector,
)
from assetdb.spaces import CONCEPTS_SPACE
from indexer import writer
from indexer.catalogue import STAGE, VERSION, CatalogueResult, work_from_result
from indexer.extractors import get_extractor
from indexer.extractors.concepts import KeyframeVectors
from indexer.extractors.objects import FrameObjects, ObjectsResult
from indexer.work import KeyframeRef, SegmentRef, StageOutcome, TaskResult

CONCEPTS = get_extractor("concepts")
OBJECTS = get_extractor("objects")
EXTRACTORS = {"concepts": CONCEPTS, "objects": OBJECTS}.get


def _add_assets(store, n: int) -> list[int]:
    with writer.transaction(store) as s:
        rows = [Asset(path=f"/archive/reel_{i}/take_{i}.mov", size=1, mtime_ns=i,
                      content_hash=f"{i:064x}", state="pending") for i in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def _catalogue(store, aid: int, shots: int, seed: int) -> TaskResult:
    data_dir = Path(store.settings.data_dir)
    rng = np.random.default_rng(seed)
    kdir = layout.keyframe_dir(aid, f"{aid:012x}")
    segs = []
    for j in range(shots):
        f0, f1 = 50 * j, 50 * j + 50
        seg = SegmentRef(index=j, kind="shot", time_base=Fraction(1, 25), start_ts=f0, end_ts=f1,
                         start_frame=f0, end_frame=f1, rate=Fraction(25), transition="cut")
        for q in range(1 + j % 2):
            fr = f0 + 10 + 20 * q
            seg.keyframes.append(KeyframeRef(
                segment_index=j, ts=fr, time_s=fr / 25, frame=fr,
                path=data_dir / kdir / layout.keyframe_name(j, fr), width=64, height=36,
                quality=float(rng.random()), stats={"contrast": float(rng.uniform(5, 80))}))
        segs.append(seg)
    probe = ProbeInfo(kind="video", container="mov", mime="video/quicktime",
                      duration_s=2.0 * shots, frame_rate=Fraction(25), frame_count=50 * shots,
                      width=64, height=36, video_codec="prores",
                      tags={"title": f"harbour at dawn {seed}", "encoder": "Lavf60"})
    result = CatalogueResult(probe=probe, segments=segs, keyframe_dir=kdir,
                             sidecars={"notes.txt": f"a red kite, take {seed}"} if seed % 2 else {})
    work = work_from_result(aid, Path(f"/archive/reel_{aid}/take_{aid}.mov"), data_dir, result)
    return TaskResult(aid, StageOutcome(STAGE, VERSION, True, result, seconds=0.5), [], work)


def _stages(cat: TaskResult, seed: int, bad: str = "") -> list[TaskResult]:
    """Its concepts and objects results; ``bad``: objects rows that cannot be stored
    ("label": no label, refused in Python; "ts": a time out of the database's range)."""
    rng = np.random.default_rng(seed)
    kfs = cat.work.keyframes
    vectors = KeyframeVectors([(k.segment_index, k.time_s, rng.standard_normal(8).astype(np.float32))
                               for k in kfs], CONCEPTS_SPACE)
    frames = [FrameObjects(k.segment_index, 1 << 70 if bad == "ts" else k.ts, k.time_s, k.frame,
                           [Detection(None if bad == "label" else lb, float(rng.uniform(0.3, 1)),
                                      (0.1, 0.1, 0.5, 0.5))
                            for lb in ("person", "dog")[: 1 + k.frame % 2]]) for k in kfs]
    return [TaskResult(cat.asset_id, None, [StageOutcome(
                "concepts", CONCEPTS.version, True, vectors, seconds=0.1)], cat.work),
            TaskResult(cat.asset_id, None, [StageOutcome(
                "objects", OBJECTS.version, True, ObjectsResult("ssd", frames), seconds=0.2)],
                cat.work)]


def _rows(store) -> dict[str, list[tuple]]:
    """Every written row, by asset and index (not by SQL id)."""
    with store.session() as s:
        seg_key = {sid: (aid, i) for sid, aid, i in
                   s.execute(select(Segment.id, Segment.asset_id, Segment.index))}
        out = {
            "segments": sorted(s.execute(select(
                Segment.asset_id, Segment.index, Segment.kind, Segment.start_ts, Segment.end_ts,
                Segment.rate_num, Segment.transition)).all()),
            "keyframes": sorted((seg_key[k.segment_id], k.ts, k.path, round(k.quality, 9),
                                 tuple(sorted(k.stats.items())))
                                for k in s.execute(select(Keyframe)).scalars()),
            "texts": sorted((t.asset_id, t.source, seg_key.get(t.segment_id), t.start_s, t.end_s,
                             t.text) for t in s.execute(select(TextEntry)).scalars()),
            "vectors": sorted((v.asset_id, v.space, seg_key.get(v.segment_id), v.t_s, v.data)
                              for v in s.execute(select(Vector)).scalars()),
            "detections": sorted((d.asset_id, seg_key[d.segment_id], d.ts, d.label,
                                  round(d.score, 6)) for d in
                                 s.execute(select(ObjectDetection)).scalars()),
            "labels": sorted((o.asset_id, seg_key[o.segment_id], o.label, round(o.max_score, 6),
                              o.count) for o in s.execute(select(SegmentObject)).scalars()),
            "stage_runs": sorted(s.execute(select(StageRun.asset_id, StageRun.stage,
                                                  StageRun.version, StageRun.state,
                                                  StageRun.error, StageRun.seconds)).all()),
            "assets": sorted(s.execute(select(Asset.id, Asset.state, Asset.duration_s,
                                              Asset.video_codec)).all()),
        }
    return out


def _relabel(rows: dict[str, list[tuple]], ids: list[int]) -> dict[str, list[tuple]]:
    """Asset ids -> their order of creation (the two stores number them alike anyway)."""
    pos = {aid: n for n, aid in enumerate(ids)}

    def fix(x):
        if isinstance(x, tuple):
            return tuple(fix(v) for v in x)
        return x

    return {k: sorted((pos.get(r[0], r[0]), *map(fix, r[1:])) for r in v) for k, v in rows.items()}


def test_a_batch_writes_the_same_rows_as_one_by_one(store, tmp_path: Path) -> None:
    ids = _add_assets(store, 6)
    cats = [_catalogue(store, aid, shots=2 + n, seed=n) for n, aid in enumerate(ids)]
    stages = [_stages(c, seed=100 + n) for n, c in enumerate(cats)]
    # one by one, then written again as batches: the second write replaces the first
    for c, st in zip(cats, stages, strict=True):
        assert writer.write_results(store, [c], EXTRACTORS)[0].catalogue.error is None
        for r in st:
            assert writer.write_results(store, [r], EXTRACTORS)[0].stage_errors == {}
    one_by_one = _relabel(_rows(store), ids)
    assert len(one_by_one["segments"]) == sum(2 + n for n in range(6))
    assert one_by_one["detections"] and one_by_one["vectors"] and one_by_one["labels"]

    written = writer.write_results(store, cats, EXTRACTORS)
    assert [w.catalogue.error for w in written] == [None] * 6
    after_catalogue = _rows(store)
    assert after_catalogue["vectors"] == [] and after_catalogue["detections"] == []
    assert {r[1] for r in after_catalogue["stage_runs"]} == {"catalogue"}
    for k in (0, 1):
        written = writer.write_results(store, [st[k] for st in stages], EXTRACTORS)
        assert all(w.stage_errors == {} for w in written)
    batched = _relabel(_rows(store), ids)
    assert batched == one_by_one
    # the works' segment ids point at the stored segments
    with store.session() as s:
        stored = dict(s.execute(select(Segment.id, Segment.index)
                                .where(Segment.asset_id == ids[3])).all())
    assert {seg.id: seg.index for seg in cats[3].work.segments} == stored


@pytest.mark.parametrize("bad", ["label", "ts"])
def test_a_result_that_fails_to_store_fails_alone(store, bad: str) -> None:
    ids = _add_assets(store, 4)
    cats = [_catalogue(store, aid, shots=3, seed=n) for n, aid in enumerate(ids)]
    writer.write_results(store, cats, EXTRACTORS)
    results = [_stages(c, seed=n, bad=bad if n == 2 else "")[1]  # objects
               for n, c in enumerate(cats)]
    written = writer.write_results(store, results, EXTRACTORS)
    assert [sorted(w.stage_errors) for w in written] == [[], [], ["objects"], []]
    assert ("NoneType" if bad == "label" else "rror") in written[2].stage_errors["objects"]
    with store.session() as s:
        runs = dict(s.execute(select(StageRun.asset_id, StageRun.state)
                              .where(StageRun.stage == "objects")).all())
        found = set(s.execute(select(ObjectDetection.asset_id)).scalars())
    assert runs == {ids[0]: "done", ids[1]: "done", ids[2]: "failed", ids[3]: "done"}
    assert found == {ids[0], ids[1], ids[3]}


def test_a_removed_asset_is_skipped_and_an_asset_twice_is_written_in_order(store) -> None:
    ids = _add_assets(store, 3)
    cats = [_catalogue(store, aid, shots=2, seed=n) for n, aid in enumerate(ids)]
    with writer.transaction(store) as s:
        s.execute(delete(Asset).where(Asset.id == ids[1]))
    # the catalogue and a stage of the same asset in one list: written one after the other
    written = writer.write_results(store, [cats[0], cats[1], _stages(cats[0], 1)[0], cats[2]],
                                   EXTRACTORS)
    assert written[1] is None
    assert written[0].catalogue.error is None and written[2].stage_errors == {}
    with store.session() as s:
        runs = sorted(s.execute(select(StageRun.asset_id, StageRun.stage)).all())
    assert runs == sorted([(ids[0], "catalogue"), (ids[0], "concepts"), (ids[2], "catalogue")])


def test_a_failed_catalogue_writes_no_stages(store) -> None:
    (aid,) = _add_assets(store, 1)
    cat = _catalogue(store, aid, shots=2, seed=0)
    failed = TaskResult(aid, StageOutcome(STAGE, VERSION, False, error="ValueError: bad header"),
                        _stages(cat, 0)[0].stages, None)
    (w,) = writer.write_results(store, [failed], EXTRACTORS)
    assert w.catalogue.error == "ValueError: bad header" and w.stage_errors == {}
    with store.session() as s:
        asset = s.get(Asset, aid)
        runs = s.execute(select(StageRun.stage, StageRun.state)).all()
    assert asset.state == "failed" and asset.error == "ValueError: bad header"
    assert runs == [("catalogue", "failed")]


def test_an_ingest_that_grows_the_catalogue_refreshes_planner_statistics(store, tmp_path) -> None:
    """PostgreSQL planned a 1M-shot archive with a small one's statistics (autovacuum off
    or not yet round): searches took seconds. An ingest that indexed a tenth of the
    catalogue or more analyses it."""
    from sqlalchemy import text

    from indexer.ingest import ingest
    from tests.mediagen import make_video

    video = make_video(tmp_path / "a.mp4", shots_s=[0.5, 0.5], audio=False)
    report = ingest(store, [video], workers=1, extractors=[])
    assert report.indexed == 1
    if store.dialect == "postgresql":
        with store.engine.connect() as c:
            analysed = c.execute(text(
                "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname = 'segments'")).scalar_one()
        assert analysed
    store.analyze()  # SQLite: PRAGMA optimize; runs, changes no rows
    with store.session() as s:
        assert s.execute(select(Segment.index).order_by(Segment.index)).scalars().all() == [0, 1]
