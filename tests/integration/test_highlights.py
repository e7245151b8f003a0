"""Highlights end to end on real clips: catalogue + interest signals, selection,
OTIO/EDL round trips, frame accuracy, rendered MP4, CLI, bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.storework import ingest_one

pytestmark = pytest.mark.slow


def _shared_data() -> Path:
    from tests.conftest import require_shared_data

    return require_shared_data()


VIDEO = _shared_data() / "media" / "video"
REEL_FILES = ["big_buck_bunny_0_30.webm", "testvideo.mp4", "issue-195-aspect-ratio.mp4"]


@pytest.fixture(scope="module")
def hl_store(sqlite_module_store):
    ids = {name: ingest_one(sqlite_module_store, VIDEO / name) for name in REEL_FILES}
    return sqlite_module_store, ids


def _frame_stats_at(path: str, times: list[float]) -> list[tuple[float, float]]:
    """(mean luma, std luma) of the frame shown at each time."""
    import av

    out = []
    with av.open(path) as c:
        st = c.streams.video[0]
        for t in times:
            c.seek(int(t / st.time_base), stream=st, backward=True)
            shown = None
            for fr in c.decode(st):
                if fr.time is not None and fr.time > t + 1e-6 and shown is not None:
                    break
                shown = fr
            g = shown.to_ndarray(format="gray").astype(np.float32)
            out.append((float(g.mean()), float(g.std())))
    return out


def _assert_on_frame_boundaries(tl, grids) -> None:
    """Every cut of every clip is a frame boundary of its source."""
    n = 0
    for clip in tl.find_clips():
        meta = clip.metadata["assetdb"]
        g = grids[meta["path"]]
        sr = clip.source_range
        rate = Fraction(sr.start_time.rate).limit_denominator(1001 * 1000)
        for t in (sr.start_time, sr.end_time_exclusive()):
            v = t.value
            assert abs(v - round(v)) < 1e-9, f"{meta['path']}: cut {v} is not a whole frame"
            if not g.variable:
                k = round(v)
                assert 0 <= k <= g.n
            else:
                secs = Fraction(round(v)) / rate + g.time(0)
                bounds = {g.time(i) for i in range(g.n + 1)}
                assert min(abs(secs - b) for b in bounds) < Fraction(1, 10**6)
        n += 1
    assert n > 0


@pytest.mark.parametrize("name", REEL_FILES)
def test_ten_second_reel(hl_store, name, tmp_path):
    import opentimelineio as otio

    from assetdb.highlights import highlights_for_asset, write_reel
    from assetdb.media.grid import frame_grid

    store, ids = hl_store
    with store.session() as s:
        reel = highlights_for_asset(s, ids[name], 10.0)
        again = highlights_for_asset(s, ids[name], 10.0)
    assert [c.to_dict() for c in reel.clips] == [c.to_dict() for c in again.clips]  # deterministic
    g = frame_grid(VIDEO / name)
    one_frame = 1.0 / float(g.rate)
    assert abs(reel.duration_s - 10.0) <= one_frame
    assert len({c.segment_id for c in reel.clips}) >= 3, "draws from several distinct shots"
    starts = [c.start_s for c in reel.clips]
    assert starts == sorted(starts)  # chronological by default
    # no black or blank frames: first, middle and last frame of every clip
    times = []
    for c in reel.clips:
        times += [float(c.start_s), float(c.start_s + c.end_s) / 2, float(c.end_s) - one_frame]
    for mean, std in _frame_stats_at(str(VIDEO / name), times):
        assert mean > 15.0 and std > 5.0, (mean, std)  # not black, white or flat

    # OTIO round trip + frame accuracy
    p = write_reel(reel, tmp_path / "reel.otio")
    tl = otio.adapters.read_from_file(str(p))
    clips = list(tl.find_clips())
    assert len(clips) == len(reel.clips) * (2 if reel.clips[0].has_audio else 1)
    vclips = list(tl.video_tracks()[0].find_clips())
    for oc, c in zip(vclips, reel.clips, strict=True):
        assert oc.source_range.start_time.value == c.start_frame
        assert oc.source_range.duration.value == c.frames
        assert oc.media_reference.target_url.endswith(name)
    assert abs(tl.video_tracks()[0].duration().to_seconds() - reel.duration_s) < 1e-6
    _assert_on_frame_boundaries(tl, {str(VIDEO.resolve() / name): g, reel.clips[0].path: g})

    # EDL round trip through the CMX3600 adapter
    e = write_reel(reel, tmp_path / "reel.edl")
    edl = otio.adapters.read_from_file(str(e), adapter_name="cmx_3600", rate=float(g.rate))
    # picture and sound (AA/V) events: the same source frames on V, A1 and A2
    assert len(edl.tracks) == (3 if reel.clips[0].has_audio else 1)
    for track in edl.tracks:
        eclips = list(track.find_clips())
        assert len(eclips) == len(reel.clips)
        for ec, c in zip(eclips, reel.clips, strict=True):
            assert round(ec.source_range.start_time.value) == c.start_frame
            assert round(ec.source_range.duration.value) == c.frames

    # JSON
    j = write_reel(reel, tmp_path / "reel.json", explain=True)
    import json

    d = json.loads(j.read_text())
    assert len(d["clips"]) == len(reel.clips) and len(d["explain"]) == len(reel.clips)


def test_rendered_mp4_plays_and_matches_timeline(hl_store, tmp_path):
    import av

    from assetdb.highlights import highlights_for_asset, write_reel

    store, ids = hl_store
    name = "issue-195-aspect-ratio.mp4"
    with store.session() as s:
        reel = highlights_for_asset(s, ids[name], 10.0, fades=True)
    seen = []
    out = write_reel(reel, tmp_path / "reel.mp4", progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] == 250
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert c.streams.audio, "audio kept"
        assert v.codec_context.name in ("h264", "mpeg4")
        assert abs(c.duration / 1e6 - reel.duration_s) < 0.05
        # 704x576 with 16:11 pixels is displayed 1024x576
        assert (v.codec_context.width, v.codec_context.height) == (1024, 576)
        frames = [f.to_ndarray(format="gray") for f in c.decode(v)]
    assert len(frames) == 250
    # the middle frame of each clip matches the source frame the timeline names
    src = {}
    with av.open(reel.clips[0].path) as c:
        st = c.streams.video[0]
        for i, f in enumerate(c.decode(st)):
            src[i] = f
    k = 0
    for clip in reel.clips:
        mid = clip.frames // 2
        rendered = frames[k + mid].astype(np.float32)
        s = src[clip.start_frame + mid].reformat(width=1024, height=576, format="gray")
        err = np.abs(rendered - s.to_ndarray().astype(np.float32)).mean()
        assert err < 6.0, (clip.segment_index, err)
        k += clip.frames


def test_bad_input_whole_clip_single_shot_no_audio(hl_store):
    from assetdb.errors import AssetdbError
    from assetdb.highlights import highlights_for_asset, load_asset, score_asset, select_clips
    from assetdb.schema import Asset

    store, ids = hl_store
    with store.session() as s:
        whole = highlights_for_asset(s, ids["testvideo.mp4"], 60.0)
        assert any("returning all of it" in w for w in whole.warnings)
        assert any("no audio track" in w for w in whole.warnings)
        assert abs(whole.duration_s - 24.024) < 0.05
        sc = score_asset(s, load_asset(s, ids["big_buck_bunny_0_30.webm"]))
        one = sc.shots[2]
        sc.shots = [one]  # a single-shot clip
        reel = select_clips([sc], 3.0)
        assert any("single shot" in w for w in reel.warnings)
        assert abs(reel.duration_s - 3.0) <= 1 / 24
        assert all(
            one.start_s - 1e-6 <= float(c.start_s) and float(c.end_s) <= one.end_s + 0.05
            for c in reel.clips
        )
        img = Asset(path="/x/photo.jpg", kind="image", size=1, audio_streams=[], state="indexed")
        s.add(img)
        s.flush()
        with pytest.raises(AssetdbError, match="image asset"):
            highlights_for_asset(s, img.id, 10.0)


def test_query_with_no_match_is_a_clear_error(hl_store):
    from assetdb.errors import QueryError
    from assetdb.highlights import highlights_for_query

    store, ids = hl_store
    # this catalogue has no visual vectors: only full-text can match, and nothing does
    with pytest.raises(QueryError, match="no shots match"):
        highlights_for_query(store, "crowd cheering", 10.0)
    # file-name words match shots of two assets: one reel across both
    reel = highlights_for_query(store, "bunny aspect", 12.0)
    assert {c.asset_id for c in reel.clips} == {
        ids["big_buck_bunny_0_30.webm"], ids["issue-195-aspect-ratio.mp4"]}
    assert abs(reel.duration_s - 12.0) <= 1 / 24


def test_cli_highlights_and_errors(hl_store, tmp_path):
    import json

    from typer.testing import CliRunner

    from cli.main import app

    store, ids = hl_store
    root = [
        "--data-dir",
        str(store.settings.data_dir),
        "--database-url",
        store.settings.database_url,
    ]
    r = CliRunner().invoke(
        app,
        [
            *root,
            "highlights",
            str(VIDEO / "issue-195-aspect-ratio.mp4"),
            "--duration",
            "6",
            "--out",
            str(tmp_path / "r.otio"),
            "--json",
            "--explain",
            "--order",
            "score",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert abs(d["duration_s"] - 6.0) <= 0.04 and (tmp_path / "r.otio").is_file()
    vals = [e["clip"]["value"] for e in d["explain"]]
    assert vals == sorted(vals, reverse=True)
    r = CliRunner().invoke(app, [*root, "highlights", str(VIDEO / "vtest.avi")])
    assert r.exit_code == 1 and "ingest it first" in r.output
    r = CliRunner().invoke(app, [*root, "interest", "show", str(ids["testvideo.mp4"]), "--json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["audio"] == "none"
    r = CliRunner().invoke(app, [*root, "assets", "show", str(ids["testvideo.mp4"]), "--json"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)["interest"]
    assert len(shown) >= 3 and all(0.0 <= x["score"] <= 1.0 for x in shown)


def test_vfr_source_cuts_on_real_frames(sqlite_store):
    """goldeneye-vfr-drop3.mp4 drops frames from a 23.976 grid: OTIO times are the real
    frames' pts on that grid."""
    import opentimelineio as otio

    from assetdb.highlights import highlights_for_asset, to_otio
    from assetdb.media.grid import frame_grid

    store = sqlite_store
    path = VIDEO / "goldeneye-vfr-drop3.mp4"
    aid = ingest_one(store, path)
    g = frame_grid(path)
    assert g.variable and g.rate == Fraction(24000, 1001)
    with store.session() as s:
        reel = highlights_for_asset(s, aid, 4.0, min_clip_s=1.0)
    tl = otio.adapters.read_from_string(otio.adapters.write_to_string(to_otio(reel)))
    _assert_on_frame_boundaries(tl, {reel.clips[0].path: g})
    assert abs(reel.duration_s - 4.0) <= 3 / float(g.rate)  # dropped frames: gaps up to 2 frames


def test_crossfades_use_handles_and_keep_the_timeline(hl_store, tmp_path):
    import av
    import opentimelineio as otio

    from assetdb.highlights import highlights_for_asset, write_reel

    store, ids = hl_store
    name = "issue-195-aspect-ratio.mp4"
    with store.session() as s:
        reel = highlights_for_asset(s, ids[name], 10.0, crossfade_s=0.48)
    pairs = [(a, b) for a, b in zip(reel.clips, reel.clips[1:], strict=False) if sum(b.xfade_in)]
    assert pairs, "at least one dissolve"
    for a, b in zip(reel.clips, reel.clips[1:], strict=False):
        assert a.xfade_out == b.xfade_in
        before, after = b.xfade_in
        assert a.end_frame + after <= a.handle_hi_frame  # A's handle stays in its shot
        assert b.start_frame - before >= b.handle_lo_frame
    tl = otio.adapters.read_from_file(str(write_reel(reel, tmp_path / "x.otio")))
    kinds = [type(x).__name__ for x in tl.video_tracks()[0]]
    assert kinds.count("Transition") == len(pairs)
    assert abs(tl.video_tracks()[0].duration().to_seconds() - reel.duration_s) < 1e-6
    edl = otio.adapters.read_from_file(str(write_reel(reel, tmp_path / "x.edl")), rate=25)
    assert abs(edl.video_tracks()[0].duration().to_seconds() - reel.duration_s) < 1e-6
    assert [type(x).__name__ for x in edl.video_tracks()[0]].count("Transition") == len(pairs)

    out = write_reel(reel, tmp_path / "x.mp4")
    with av.open(str(out)) as c:
        rendered = [f.to_ndarray(format="gray").astype(np.float32) for f in c.decode(video=0)]
    assert len(rendered) == 250
    src = {}
    with av.open(reel.clips[0].path) as c:
        for i, f in enumerate(c.decode(video=0)):
            src[i] = (
                f.reformat(width=1024, height=576, format="gray").to_ndarray().astype(np.float32)
            )
    # the first frame after a cut is a mix of A's handle frame and B's first frame
    k = 0
    for a, b in zip(reel.clips, reel.clips[1:], strict=False):
        k += a.frames
        before, after = b.xfade_in
        if not before + after:
            continue
        alpha = (before + 0.5) / (before + after)
        mix = (1 - alpha) * src[a.end_frame] + alpha * src[b.start_frame]
        assert np.abs(rendered[k] - mix).mean() < 6.0
        assert np.abs(rendered[k] - src[b.start_frame]).mean() > np.abs(rendered[k] - mix).mean()
