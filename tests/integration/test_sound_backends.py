"""The sound tables, writes and queries on every database backend (SQLite and,
when the server answers, PostgreSQL): two short clips through the audio
extractor, and a transcript written from a result made by hand (no ASR model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from assetdb.schema import AudioTrack, TextEntry, Vector
from indexer.work import AssetWork

pytestmark = pytest.mark.model  # silero-vad


def shared_media() -> Path:
    from tests.conftest import require_shared_data

    return require_shared_data() / "media"


def add(store, path: Path, spans: list[tuple[float, float]]) -> AssetWork:
    from tests.storework import add_asset

    return add_asset(store, path, "audio", spans)


def test_sound_rows_and_queries(store):
    from assetdb.sound import find_spoken, similar_segments, transcript_export, transcript_rows
    from indexer.extractors.sound import AudioFeatures
    from indexer.extractors.transcribe import Line, TranscriptExtractor, TranscriptResult
    from indexer.writer import store_result

    esc = shared_media() / "audio" / "esc50"
    a = add(store, esc / "3-103051-C-19.wav", [(0.0, 2.5), (2.5, 5.0)])
    b = add(store, esc / "4-156993-A-19.wav", [(0.0, 5.0)])
    ex = AudioFeatures()
    for work, result in zip((a, b), ex.run([a, b]), strict=True):
        for _ in range(2):  # a re-run replaces, never duplicates
            store_result(store, work, ex, result)
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
    store_result(store, a, tx, result)
    with store.session() as s:
        assert transcript_rows(s, a.asset_id) == [(2.6, 4.0, "Rain again over the hills")]
        text = s.execute(select(TextEntry).where(TextEntry.source == "transcript")).scalar_one()
        assert (text.segment_id, text.start_s) == (a.segments[1].id, 2.6)
        assert find_spoken(s, "RAIN again")[0][:3] == (a.asset_id, a.segments[1].id, 2.6)
        assert "00:00:02,600 --> 00:00:04,000" in transcript_export(s, a.asset_id, "srt")
