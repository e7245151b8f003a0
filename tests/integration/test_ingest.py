"""Ingest of the real shared media, incremental re-runs, renames, pruning and bad input.

Runs once per database backend (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from assetdb.catalogue import asset_details
from assetdb.schema import Asset, Keyframe, Segment, StageRun
from indexer.ingest import EXIT_SOME_FAILED, ingest
from tests.mediagen import make_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def media_ingest(module_store, media_dir: Path):
    t0 = time.perf_counter()
    report = ingest(module_store, [media_dir], workers=2, extractors=[])
    return report, time.perf_counter() - t0


def _details(store, name: str) -> dict:
    return asset_details(store, name)


def test_every_file_is_recorded(module_store, media_ingest, media_dir: Path) -> None:
    report, _ = media_ingest
    assert report.failed == [], report.failed
    with module_store.session() as s:
        kinds = dict(s.execute(select(Asset.kind, func.count()).group_by(Asset.kind)).all())
    n_video = len(list((media_dir / "video").iterdir()))
    assert kinds["video"] == n_video == 18
    assert kinds["image"] == 3
    assert kinds["audio"] >= 30


@pytest.mark.parametrize(
    ("name", "lo", "hi"),
    [("testvideo.mp4", 4, 10), ("goldeneye-vfr-drop3.mp4", 2, 5), ("vtest.avi", 1, 3),
     ("issue-195-aspect-ratio.mp4", 3, 9), ("big_buck_bunny_0_30.webm", 3, 9),
     ("smpte-2997.mp4", 1, 2), ("fades.mp4", 2, 4)],
)
def test_shot_counts_are_plausible(module_store, media_ingest, name: str, lo: int, hi: int) -> None:
    d = _details(module_store, name)
    assert lo <= len(d["segments"]) <= hi, [(s["tc_in"], s["tc_out"]) for s in d["segments"]]
    segs = d["segments"]
    assert segs[0]["start_s"] == 0
    for a, b in zip(segs, segs[1:], strict=False):
        assert a["end_s"] == b["start_s"] and a["end_frame"] == b["start_frame"]
    assert abs(segs[-1]["end_s"] - d["duration_s"]) < 0.2
    assert all(seg["keyframes"] for seg in segs)


def test_vfr_timecodes_follow_real_timestamps(module_store, media_ingest) -> None:
    d = _details(module_store, "goldeneye-vfr-drop3.mp4")
    assert d["variable_frame_rate"]
    # 160 frames over ~9.97 s: three frames are dropped, so frame count / rate != duration
    assert d["frame_count"] == 160
    assert abs(d["duration_s"] - 9.968) < 0.05
    for seg in d["segments"]:
        num, den = map(int, seg["time_base"].split("/"))
        assert abs(seg["start_ts"] * num / den - seg["start_s"]) < 1e-6
    # the stream time base is 1/24000: times are exact multiples of it, not frame/fps guesses
    assert d["segments"][0]["time_base"] == "1/24000"


def test_test_card_timecodes(module_store, media_ingest) -> None:
    d = _details(module_store, "smpte-2997.mp4")
    seg = d["segments"][0]
    # 25 fps file (the card was made at 29.97 and re-encoded): non-drop timecode, frame exact
    assert d["frame_rate"] == "25"
    assert seg["tc_in"] == "00:00:00:00"
    assert seg["end_frame"] == d["frame_count"] == 251
    assert seg["tc_out"] == "00:00:10:01"
    ntsc = _details(module_store, "testvideo.mp4")
    assert ntsc["frame_rate"] == "30000/1001"
    assert ntsc["segments"][1]["tc_in"].count(";") == 1  # drop-frame separator at 29.97


def test_awkward_real_files(module_store, media_ingest) -> None:
    failing = _details(module_store, "video_with_failing_audio.mp4")
    assert failing["state"] == "indexed"
    sub = _details(module_store, "issue-236-split-copy.mkv")
    assert len(sub["subtitle_streams"]) == 3
    cover = _details(module_store, "Kevin_MacLeod_-_Vibe_Ace.ogg")
    assert cover["kind"] == "audio"  # cover art is not video
    biden = _details(module_store, "biden.jpg")
    assert biden["created_at"].startswith("2010-05-10")


def test_keyframes_are_never_blank(module_store, media_ingest) -> None:
    with module_store.session() as s:
        kfs = s.execute(select(Keyframe)).scalars().all()
    assert kfs
    from assetdb.paths import fs_path
    from indexer.keyframes import quality_scores
    from indexer.shots import detect_shots

    with module_store.session() as s:
        blank = s.execute(
            select(Asset, Segment).join(Segment).join(Keyframe)
            .where(Keyframe.id.in_([k.id for k in kfs if k.stats.get("blank")]))
        ).all()
        # a keyframe is blank only when every frame of its shot is (black slugs, flat fades)
        for asset, seg in blank:
            a = detect_shots(fs_path(asset.path, asset.path_bytes), asset.frame_rate)
            _, is_blank = quality_scores(a.stats)
            assert is_blank[seg.start_frame:seg.end_frame].all(), (asset.path, seg.index)
    for k in kfs[:50]:
        assert (module_store.settings.data_dir / k.path).is_file()


def test_second_run_does_no_work(module_store, media_ingest, media_dir: Path) -> None:
    _, first_s = media_ingest
    t0 = time.perf_counter()
    report = ingest(module_store, [media_dir], workers=2, extractors=[])
    second_s = time.perf_counter() - t0
    assert report.indexed == 0 and report.new == 0 and report.rehashed == 0
    assert second_s < first_s / 10, (first_s, second_s)


def test_touch_change_rename_prune(store, tmp_path: Path, media_dir: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    a = make_video(lib / "a.mp4", shots_s=[0.6, 0.6])
    b = make_video(lib / "b.mp4", shots_s=[0.8])
    r1 = ingest(store, [lib], workers=1, extractors=[])
    assert r1.indexed == 2
    with store.session() as s:
        a_id = s.execute(select(Asset.id).where(Asset.path == str(a))).scalar_one()
    # touch: rehashed, nothing re-indexed
    os.utime(a, None)
    r2 = ingest(store, [lib], workers=1, extractors=[])
    assert (r2.rehashed, r2.indexed, r2.changed) == (1, 0, 0)
    # changed content: only that file is re-indexed
    make_video(b, shots_s=[0.5, 0.5, 0.5])
    r3 = ingest(store, [lib], workers=1, extractors=[])
    assert (r3.changed, r3.indexed) == (1, 1)
    # rename keeps identity
    moved = lib / "renamed.mp4"
    a.rename(moved)
    r4 = ingest(store, [lib], workers=1, extractors=[])
    assert (r4.renamed, r4.indexed) == (1, 0)
    with store.session() as s:
        assert s.get(Asset, a_id).path == str(moved)
    # deleted: reported, removed only with --prune
    b.unlink()
    r5 = ingest(store, [lib], workers=1, extractors=[])
    assert len(r5.missing) == 1 and r5.pruned == 0
    r6 = ingest(store, [lib], workers=1, extractors=[], prune=True)
    assert r6.pruned == 1
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(Asset)).scalar_one() == 1


def test_bad_input_is_recorded_and_run_goes_on(store, tmp_path: Path, media_dir: Path) -> None:
    lib = tmp_path / "bad"
    lib.mkdir()
    good = make_video(lib / "good.mp4", shots_s=[0.5, 0.5])
    (lib / "empty.mov").write_bytes(b"")
    truncated = lib / "truncated.mp4"
    truncated.write_bytes((media_dir / "video" / "chaplin.mp4").read_bytes()[:20000])
    (lib / "text.mp4").write_text("not a video\n" * 50)
    shutil.copy(good, lib / os.fsdecode(b"caf\xe9 latin1.mp4"))
    shutil.copy(good, lib / "line\nbreak.mp4")
    (lib / "loop").symlink_to(lib, target_is_directory=True)
    report = ingest(store, [lib], workers=2, extractors=[])
    assert report.exit_code == EXIT_SOME_FAILED
    failed = {Path(f["path"]).name: f["error"] for f in report.failed}
    assert set(failed) == {"empty.mov", "truncated.mp4", "text.mp4"}, failed
    assert all("\n" not in e for e in failed.values())
    assert report.indexed == 3
    with store.session() as s:
        states = dict(s.execute(select(Asset.path, Asset.state)).all())
    assert states[r"%s/caf\xe9 latin1.mp4" % lib] == "indexed"
    # failed files are not retried until they change (or --retry-failed)
    again = ingest(store, [lib], workers=1, extractors=[])
    assert again.indexed == 0 and again.failed == []
    # --retry-failed retries failed files too, not only failed stages (it skipped them)
    retried = ingest(store, [lib], workers=1, extractors=[], retry_failed=True)
    assert {Path(f["path"]).name for f in retried.failed} == set(failed)
    assert retried.indexed == 0


def test_store_consistency_invariants(module_store, media_ingest) -> None:
    with module_store.session() as s:
        indexed_without_segments = s.execute(
            select(func.count()).select_from(Asset).where(
                Asset.state == "indexed", ~Asset.segments.any())
        ).scalar_one()
        done = s.execute(select(func.count()).select_from(StageRun).where(
            StageRun.stage == "catalogue", StageRun.state == "done")).scalar_one()
        indexed = s.execute(select(func.count()).select_from(Asset).where(
            Asset.state == "indexed")).scalar_one()
        segs = s.execute(select(func.count()).select_from(Segment)).scalar_one()
    assert indexed_without_segments == 0
    assert done == indexed
    assert segs > indexed


def test_cli_reports(module_store, media_ingest) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    url = module_store.engine.url.render_as_string(hide_password=False)
    base = ["--data-dir", str(module_store.settings.data_dir), "--database-url", url]
    runner = CliRunner()
    res = runner.invoke(app, [*base, "status", "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.stdout)
    assert st["assets"]["by_kind"]["video"] == 18
    res = runner.invoke(app, [*base, "assets", "list", "--kind", "video", "--json"])
    rows = json.loads(res.stdout)
    assert len(rows) == 18 and all(r["kind"] == "video" for r in rows)
    res = runner.invoke(app, [*base, "assets", "show", "testvideo.mp4", "--json"])
    d = json.loads(res.stdout)
    assert d["segments"][0]["tc_in"] == "00:00:00;00"
    res = runner.invoke(app, [*base, "assets", "show", "no-such-file.mp4"])
    assert res.exit_code == 1 and res.stderr.startswith("error: no asset")
    res = runner.invoke(app, [*base, "assets", "list", "--kind", "film"])
    assert res.exit_code == 2
    res = runner.invoke(app, [*base, "db", "current", "--json"])
    assert json.loads(res.stdout)["up_to_date"] is True
