"""Migration 0007: stored asset paths normalised (duplicates merged or left), numpy
blobs in integer columns turned back into integers (SQLite)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from assetdb.db import current_revision, make_engine, upgrade
from assetdb.schema import Asset, Keyframe


def _asset(c, path: str, digest: str, frame: int = 0) -> None:
    """Rows as schema 0006 holds them (SQL, not the ORM: the models are newer)."""
    aid = c.execute(text(
        "INSERT INTO assets (path, size, mtime_ns, content_hash, state, variable_frame_rate,"
        " rotation, audio_streams, subtitle_streams, tags, warnings, first_seen) VALUES"
        " (:p, 1, 1, :h, 'indexed', false, 0, '[]', '[]', '{}', '[]', CURRENT_TIMESTAMP)"
        " RETURNING id"), {"p": path, "h": digest}).scalar_one()
    sid = c.execute(text(
        "INSERT INTO segments (asset_id, \"index\", kind, time_base_num, time_base_den, start_ts,"
        " end_ts, start_frame, end_frame) VALUES (:a, 0, 'shot', 1, 25, 0, 25, 0, 25)"
        " RETURNING id"), {"a": aid}).scalar_one()
    c.execute(text(
        "INSERT INTO keyframes (segment_id, ts, frame, path, width, height, quality, stats)"
        " VALUES (:s, :f, :f, 'k.jpg', 1, 1, 0.0, '{}')"), {"s": sid, "f": frame})


def test_0007_normalises_paths_and_frames(db_url: str, tmp_path) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)  # the SQLite file's folder (the data dir)
    engine = make_engine(db_url)
    upgrade(engine, "0006")
    with engine.begin() as c:
        _asset(c, "/m/lib/../media/a.mp4", "h1", frame=11)  # normalised in place
        _asset(c, "/m/./b.mp4", "h2")  # same file twice: merged
        _asset(c, "/m/b.mp4", "h2")
        _asset(c, "/m/x/../c.mp4", "h3")  # different content: left
        _asset(c, "/m/c.mp4", "h4")
    if engine.dialect.name == "sqlite":
        with engine.begin() as c:  # what numpy integers became in SQLite before
            c.exec_driver_sql("UPDATE keyframes SET frame = ? WHERE frame = 11",
                              (np.int64(11).tobytes(),))
            assert c.execute(text("select typeof(frame) from keyframes where ts = 11")).scalar() \
                == "blob"
    upgrade(engine, "0007")
    assert current_revision(engine) == "0007"
    with Session(engine) as s:
        paths = sorted(s.execute(select(Asset.path)).scalars())
        assert paths == ["/m/b.mp4", "/m/c.mp4", "/m/media/a.mp4", "/m/x/../c.mp4"]
        frames = s.execute(select(Keyframe.frame).order_by(Keyframe.ts.desc())).scalars().all()
        # the merged duplicate's rows went with it
        assert len(frames) == 4 and frames[0] == 11 and isinstance(frames[0], int)
    if engine.dialect.name == "sqlite":
        with engine.connect() as c:
            assert c.execute(text("select distinct typeof(frame) from keyframes")).scalars() \
                .all() == ["integer"]
    engine.dispose()
