"""The writer and what goes through it: plain integers and normalised paths in the
store, a warning for a file cut short, Ctrl-C held back while a transaction commits,
pruning that takes an asset's files along, and stages run for one stored asset."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

from assetdb import layout
from assetdb.schema import Asset, StageRun
from indexer.ingest import ensure_stages, ingest
from tests.mediagen import make_video

pytestmark = pytest.mark.slow


def _asset(store, path: Path) -> Asset:
    with store.session() as s:
        return s.execute(select(Asset).where(Asset.path == os.path.abspath(path))).scalar_one()


def test_paths_are_stored_normalised(store, tmp_path: Path, monkeypatch) -> None:
    """`assetdb ingest ../media` stored `<cwd>/../media/...` (defect 2)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    video = make_video(lib / "a.mp4", shots_s=[0.5], audio=False)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    report = ingest(store, ["../lib"], workers=1, extractors=[])
    assert report.new == 1
    with store.session() as s:
        paths = s.execute(select(Asset.path)).scalars().all()
    assert paths == [os.path.abspath(video)] and ".." not in paths[0]
    # the same file by its plain absolute path is the same asset
    again = ingest(store, [lib], workers=1, extractors=[])
    assert (again.new, again.indexed, again.missing) == (0, 0, [])


def test_keyframe_frames_are_integers_in_sqlite(sqlite_store, media_dir: Path) -> None:
    """numpy integers were bound as 8-byte blobs (`"frame": "b'\\x0b\\x00...'"`, defect 5)."""
    ingest(sqlite_store, [media_dir / "video" / "tree.avi"], workers=1, extractors=[])
    with sqlite_store.engine.connect() as c:
        types = c.execute(text(
            "select distinct typeof(frame) from keyframes union "
            "select distinct typeof(start_frame) from segments union "
            "select distinct typeof(end_frame) from segments")).scalars().all()
        frames = c.execute(text("select frame from keyframes")).scalars().all()
    assert types == ["integer"]
    assert frames and all(isinstance(f, int) for f in frames)


def test_a_file_cut_short_is_indexed_with_a_warning(store, tmp_path: Path, media_dir: Path) -> None:
    """A webm cut to 40% whose header says 30 s was indexed as 11.8 s silently (defect 8)."""
    src = (media_dir / "video" / "big_buck_bunny_0_30.webm").read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(src[: int(len(src) * 0.4)])
    whole = tmp_path / "whole.webm"
    whole.write_bytes(src)
    report = ingest(store, [cut, whole], workers=1, extractors=[])
    assert report.failed == []
    a, b = _asset(store, cut), _asset(store, whole)
    assert a.state == "indexed" and a.duration_s < 20
    assert any("truncated" in w and "30.0 s" in w for w in a.warnings), a.warnings
    assert not any("truncated" in w for w in b.warnings), b.warnings


def test_ctrl_c_during_a_commit_waits_for_it(store, tmp_path: Path) -> None:
    """Ctrl-C while the writer commits: the transaction ends first, then KeyboardInterrupt
    (it used to break SQLAlchemy mid-commit: AssertionError, exit 1 on PostgreSQL; defect 9)."""
    video = make_video(tmp_path / "a.mp4", shots_s=[0.5, 0.5], audio=False)
    fired: list[bool] = []

    def interrupt_once(_conn, _cursor, statement: str, *_args) -> None:
        # the catalogue's stage row is written: the transaction is about to commit
        if not fired and statement.lstrip().upper().startswith("INSERT INTO STAGE_RUNS"):
            fired.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    event.listen(store.engine, "after_cursor_execute", interrupt_once)
    try:
        with pytest.raises(KeyboardInterrupt):
            ingest(store, [video], workers=1, extractors=[])
    finally:
        event.remove(store.engine, "after_cursor_execute", interrupt_once)
    assert fired
    asset = _asset(store, video)
    with store.session() as s:
        runs = s.execute(select(StageRun.stage, StageRun.state)
                         .where(StageRun.asset_id == asset.id)).all()
    assert asset.state == "indexed" and runs == [("catalogue", "done")]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # the next run has nothing left to do
    assert ingest(store, [video], workers=1, extractors=[]).indexed == 0


def test_prune_removes_keyframes_and_face_crops(sqlite_store, tmp_path: Path, media_dir: Path) -> None:
    pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed")
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = lib / "obama.jpg"
    shutil.copy(media_dir / "images" / "obama.jpg", photo)
    report = ingest(sqlite_store, [lib], workers=1, extractors=["faces"])
    assert report.stage_failures == []
    aid = _asset(sqlite_store, photo).id
    data = sqlite_store.settings.data_dir
    crops = data / layout.face_crops_dir(aid)
    keyframes = data / layout.asset_keyframes_dir(aid)
    assert any(crops.iterdir()) and any(keyframes.iterdir())
    photo.unlink()
    assert ingest(sqlite_store, [lib], workers=1, extractors=["faces"], prune=True).pruned == 1
    assert not crops.exists() and not keyframes.exists()


def test_ensure_stages_records_stage_rows(store, tmp_path: Path) -> None:
    """`highlights`/`interest show` ran the interest extractor through a side door that
    recorded no stage row, so the next ingest measured it all again."""
    video = make_video(tmp_path / "a.mp4", shots_s=[1.0, 1.0])
    ingest(store, [video], workers=1, extractors=[])
    aid = _asset(store, video).id
    assert ensure_stages(store, aid, ["interest"]) == ["interest"]
    with store.session() as s:
        run = s.execute(select(StageRun).where(StageRun.asset_id == aid,
                                               StageRun.stage == "interest")).scalar_one()
        assert (run.state, run.version) == ("done", "1")
    assert ensure_stages(store, aid, ["interest"]) == []
    report = ingest(store, [video], workers=1, extractors=["interest"])
    assert report.indexed == 0 and report.stage_seconds == {}
