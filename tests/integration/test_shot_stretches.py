"""A long video's shot analysis in parallel stretches joins to exactly the single pass:
the same frames, statistics and cuts, so the same shots and keyframes."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from assetdb.schema import Asset, Segment
from indexer import schedule, shots
from indexer.ingest import ingest
from tests.conftest import open_store
from tests.mediagen import make_video

# cuts at 1.5, 3.0 (on a stretch boundary below), 3.04 is too close, 4.2, 6.0, 7.3
SHOTS_S = [1.5, 1.5, 1.2, 1.8, 1.3, 1.7]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("stretch") / "long.mp4", shots_s=SHOTS_S,
                      audio=False)


def _same(a: shots.ShotAnalysis, b: shots.ShotAnalysis) -> None:
    assert a.frame_count == b.frame_count and a.end_pts == b.end_pts
    assert np.array_equal(a.stats.pts, b.stats.pts)
    assert np.allclose(a.stats.sharpness, b.stats.sharpness)
    assert [(c.frame, c.transition) for c in a.cuts] == [(c.frame, c.transition) for c in b.cuts]


@pytest.mark.parametrize("bounds", [[3.0], [1.0, 3.0, 5.5], [2.2, 2.3, 6.0]])
def test_stretches_join_to_the_single_pass(clip: Path, bounds: list[float]) -> None:
    whole = shots.detect_shots(clip, None)
    assert len(whole.cuts) == len(SHOTS_S) - 1
    edges = [0.0, *bounds, None]
    chunks = [shots.analyse_chunk(clip, None, None, a, b)
              for a, b in itertools.pairwise(edges)]
    assert sum(len(c.pts) for c in chunks) == whole.frame_count  # every frame once
    _same(shots.join_chunks(chunks, None), whole)


def _segments(store) -> list[tuple]:
    with store.session() as s:
        segs = s.execute(select(Segment).join(Asset).order_by(Segment.index)).scalars().all()
        return [(g.start_ts, g.end_ts, g.start_frame, g.end_frame, g.transition,
                 [k.frame for k in g.keyframes]) for g in segs]


def test_ingest_of_a_long_video_in_stretches(clip: Path, tmp_path: Path, monkeypatch,
                                             sqlite_store) -> None:
    """Through the scheduler and the real runner: stretches of 2 s, two workers."""
    ingest(sqlite_store, [clip], workers=1, extractors=[])
    single = _segments(sqlite_store)
    monkeypatch.setattr(schedule, "STRETCH_S", 2.0)
    monkeypatch.setattr(schedule, "STRETCH_MIN_BYTES", 0)
    from indexer.work import Task

    assert len(schedule.stretches(Task(1, clip, "h", tmp_path, True, None, [], {}))) == 4
    other = open_store(tmp_path / "other")
    try:
        report = ingest(other, [clip], workers=2, extractors=["interest"])
        assert report.indexed == 1 and not report.failed and not report.stage_failures
        assert _segments(other) == single
    finally:
        other.close()
