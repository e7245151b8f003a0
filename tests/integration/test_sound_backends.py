"""The sound tables, writes and queries on every database backend (SQLite and,
when the server answers, PostgreSQL): two short clips through the audio
extractor, and a transcript written from a result made by hand (no ASR model)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from assetdb.schema import Asset, AudioTrack, Segment, TextEntry, Vector
from indexer.work import AssetWork, SegmentRef

pytestmark = pytest.mark.model  # silero-vad


def shared_media() -> Path:
    here = Path(__file__).resolve().parents[2]
    for d in (here, *here.parents):
        if (d / ".." / "shared" / "data").is_dir():
            return (d / ".." / "shared" / "data" / "media").resolve()
    pytest.skip("../shared/data is not there")


def add(store, path: Path, spans: list[tuple[float, float]]) -> AssetWork:
    tb = Fraction(1, 1000)
    with store.session() as s:
        asset = Asset(path=str(path), kind="audio", duration_s=spans[-1][1])
        s.add(asset)
        s.flush()
        refs = []
        for i, (a, b) in enumerate(spans):
            seg = Segment(
                asset_id=asset.id,
                index=i,
                kind="window",
                time_base_num=1,
                time_base_den=1000,
                start_ts=int(a * 1000),
                end_ts=int(b * 1000),
            )
            s.add(seg)
            s.flush()
            refs.append(
                SegmentRef(
                    index=i,
                    kind="window",
                    time_base=tb,
                    start_ts=seg.start_ts,
                    end_ts=seg.end_ts,
                    id=seg.id,
                )
            )
        aid = asset.id
    return AssetWork(
        asset_id=aid,
        path=path,
        kind="audio",
        data_dir=store.settings.data_dir,
        duration_s=spans[-1][1],
        has_audio=True,
        segments=refs,
    )


def test_sound_rows_and_queries(store):
    from assetdb.sound import find_spoken, similar_segments, transcript_export, transcript_rows
    from indexer.extractors.sound import AudioFeatures
    from indexer.extractors.transcribe import Line, TranscriptExtractor, TranscriptResult

    esc = shared_media() / "audio" / "esc50"
    a = add(store, esc / "3-103051-C-19.wav", [(0.0, 2.5), (2.5, 5.0)])
    b = add(store, esc / "4-156993-A-19.wav", [(0.0, 5.0)])
    ex = AudioFeatures()
    for work, result in zip((a, b), ex.run([a, b]), strict=True):
        for _ in range(2):  # a re-run replaces, never duplicates
            with store.session() as s:
                ex.write(s, work, result)
    with store.session() as s:
        assert (
            s.execute(
                select(AudioTrack.status).where(AudioTrack.asset_id == a.asset_id)
            ).scalar_one()
            == "ok"
        )
        assert len(s.execute(select(Vector.id).where(Vector.space == "audio:mfcc180@1")).all()) == 3
    hits = similar_segments(store, segment_id=a.segments[0].id, limit=5)
    assert {h[0] for h in hits} == {a.segments[1].id, b.segments[0].id}
    assert all(-1.0 <= score <= 1.0001 for _, score in hits)

    line = Line(
        2.6,
        4.0,
        "Rain again over the hills",
        [["Rain", 2600, 2900, 0.9]],
        segment_index=1,
        embedding=np.eye(384, dtype=np.float32)[0],
    )
    result = TranscriptResult("ok", None, "test-model", "en", 1.0, 1.4, [line])
    tx = TranscriptExtractor(embed=False)
    with store.session() as s:
        tx.write(s, a, result)
    with store.session() as s:
        assert transcript_rows(s, a.asset_id) == [(2.6, 4.0, "Rain again over the hills")]
        text = s.execute(select(TextEntry).where(TextEntry.source == "transcript")).scalar_one()
        assert (text.segment_id, text.start_s) == (a.segments[1].id, 2.6)
        assert find_spoken(s, "RAIN again")[0][:3] == (a.asset_id, a.segments[1].id, 2.6)
        assert "00:00:02,600 --> 00:00:04,000" in transcript_export(s, a.asset_id, "srt")
