"""Migration 0007: stored asset paths normalised (duplicates merged or left), numpy
blobs in integer columns turned back into integers (SQLite)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from assetdb.db import current_revision, make_engine, upgrade
from assetdb.schema import Asset, Keyframe, Segment


def _asset(path: str, digest: str, frame: int = 0) -> Asset:
    a = Asset(path=path, size=1, mtime_ns=1, content_hash=digest, state="indexed")
    seg = Segment(index=0, kind="shot", time_base_num=1, time_base_den=25, start_ts=0, end_ts=25,
                  start_frame=0, end_frame=25)
    seg.keyframes.append(Keyframe(ts=frame, frame=frame, path="k.jpg", width=1, height=1,
                                  quality=0.0, stats={}))
    a.segments.append(seg)
    return a


def test_0007_normalises_paths_and_frames(db_url: str, tmp_path) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)  # the SQLite file's folder (the data dir)
    engine = make_engine(db_url)
    upgrade(engine, "0006")
    with Session(engine) as s, s.begin():
        s.add_all([
            _asset("/m/lib/../media/a.mp4", "h1", frame=11),  # normalised in place
            _asset("/m/./b.mp4", "h2"), _asset("/m/b.mp4", "h2"),  # same file twice: merged
            _asset("/m/x/../c.mp4", "h3"), _asset("/m/c.mp4", "h4"),  # different content: left
        ])
    if engine.dialect.name == "sqlite":
        with engine.begin() as c:  # what numpy integers became in SQLite before
            c.exec_driver_sql("UPDATE keyframes SET frame = ? WHERE frame = 11",
                              (np.int64(11).tobytes(),))
            assert c.execute(text("select typeof(frame) from keyframes where ts = 11")).scalar() \
                == "blob"
    upgrade(engine)
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
