"""Migration 0010: source timecode columns; existing rows start at 00:00:00:00 and keep
the drop-frame counting they were shown with (29.97/59.94), others non-drop."""

from __future__ import annotations

from sqlalchemy import text

from assetdb.db import current_revision, make_engine, upgrade


def test_0010_adds_source_timecode(db_url: str, tmp_path) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(db_url)
    upgrade(engine, "0007")
    with engine.begin() as c:
        for path, num, den in [("/m/ntsc.mp4", 30000, 1001), ("/m/pal.mxf", 25, 1),
                               ("/m/hfr.mov", 60000, 1001), ("/m/song.flac", None, None)]:
            c.execute(text(
                "INSERT INTO assets (path, size, mtime_ns, state, frame_rate_num, frame_rate_den,"
                " variable_frame_rate, rotation, audio_streams, subtitle_streams, tags, warnings,"
                " first_seen) VALUES (:p, 1, 1, 'indexed', :n, :d, false, 0, '[]', '[]', '{}',"
                " '[]', CURRENT_TIMESTAMP)"), {"p": path, "n": num, "d": den})
        # a shot of the first asset: rebuilding the assets table must not cascade to it
        c.execute(text(
            "INSERT INTO segments (asset_id, \"index\", kind, time_base_num, time_base_den,"
            " start_ts, end_ts, start_frame, end_frame) SELECT id, 0, 'shot', 1, 25, 0, 25, 0,"
            " 25 FROM assets WHERE path = '/m/ntsc.mp4'"))
    upgrade(engine, "0010")
    assert current_revision(engine) == "0010"
    with engine.connect() as c:
        rows = {p: (tc, bool(drop), reel) for p, tc, drop, reel in c.execute(text(
            "SELECT path, start_tc_frames, tc_drop, reel FROM assets"))}
    assert rows == {"/m/ntsc.mp4": (0, True, None), "/m/pal.mxf": (0, False, None),
                    "/m/hfr.mov": (0, True, None), "/m/song.flac": (0, False, None)}
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM segments")).scalar() == 1
    engine.dispose()
