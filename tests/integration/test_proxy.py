"""Browser proxies: an ingest stage with its own stage row that makes an H.264/AAC MP4
(keyframe every second, same timeline) only for videos a browser cannot play."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from assetdb.catalogue import proxy_of
from assetdb.media.proxy import PROXY_HEIGHT_PX, browser_playable, make_proxy
from assetdb.schema import Asset, StageRun
from indexer.ingest import ingest
from tests.mediagen import make_video


def _streams(path: Path) -> dict:
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        keys = [float(p.pts * p.time_base) for p in c.demux(v)
                if p.is_keyframe and p.pts is not None]
    with av.open(str(path)) as c:
        frames = [(float(f.pts * f.time_base), f.to_ndarray(format="rgb24"))
                  for f in c.decode(video=0)]
        a = c.streams.audio[0].codec_context.name if c.streams.audio else None
        return {"video": c.streams.video[0].codec_context.name, "audio": a, "keys": keys,
                "frames": frames, "size": (c.streams.video[0].width,
                                           c.streams.video[0].height)}


@pytest.mark.parametrize(("name", "container", "vcodec", "acodec", "ok"), [
    ("a.mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac", True),
    ("a.mov", "mov,mp4,m4a,3gp,3g2,mj2", "h264", None, True),
    ("a.mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "mp3float", True),
    ("a.webm", "matroska,webm", "vp9", "opus", True),
    ("a.mkv", "matroska,webm", "h264", "aac", False),
    ("a.avi", "avi", "mjpeg", "pcm_s16le", False),
    ("a.mov", "mov,mp4,m4a,3gp,3g2,mj2", "prores", "pcm_s24le", False),
    ("a.mxf", "mxf", "dnxhd", "pcm_s24le", False),
    ("a.mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "ac3", False),
    ("a.mpg", "mpeg", "mpeg2video", "mp2", False),
])
def test_browser_playable(name: str, container: str, vcodec: str, acodec: str | None,
                          ok: bool) -> None:
    assert browser_playable(name, container, vcodec, acodec) is ok


def test_make_proxy_keeps_the_timeline(tmp_path: Path) -> None:
    src = make_video(tmp_path / "src.avi", shots_s=[1.2, 1.4, 1.0], size=(320, 180),
                     codec="mpeg4")
    res = make_proxy(src, tmp_path / "proxy.mp4", height_px=120)
    got, orig = _streams(tmp_path / "proxy.mp4"), _streams(src)
    assert (got["video"], got["audio"]) == ("h264", "aac")
    assert got["size"] == (res.width, res.height) == (214, 120)
    assert got["keys"][:4] == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=0.021)
    assert len(got["frames"]) == len(orig["frames"])
    assert res.duration_s == pytest.approx(orig["frames"][-1][0], abs=1e-3)
    # the proxy's frame at t is the original's frame at t (colour of each shot)
    for (t1, a), (t2, b) in zip(got["frames"], orig["frames"], strict=True):
        assert t1 == pytest.approx(t2, abs=1e-3)
        assert np.abs(a.reshape(-1, 3).mean(0) - b.reshape(-1, 3).mean(0)).max() < 12
    assert not (tmp_path / "proxy.mp4.part").exists()


@pytest.mark.parametrize("rotate", [90, 270])
def test_proxy_keeps_the_display_rotation(tmp_path: Path, rotate: int) -> None:
    from assetdb.media.probe import probe

    src = make_video(tmp_path / "phone.mov", shots_s=[0.5], size=(160, 96), codec="mpeg4",
                     audio=False, rotate=rotate)
    want = probe(src).rotation
    assert want in (90, 270)
    make_proxy(src, tmp_path / "proxy.mp4", rotation=want)
    assert probe(tmp_path / "proxy.mp4").rotation == want


def test_proxy_stage_only_where_needed_and_resumable(store, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    avi = make_video(media / "legacy.avi", shots_s=[1.0, 1.0], codec="mpeg4")
    mp4 = make_video(media / "modern.mp4", shots_s=[1.0, 1.0], codec="libx264")
    report = ingest(store, [media], workers=1, extractors=["proxy"])
    assert not report.failed and not report.stage_failures
    data = Path(store.settings.data_dir)
    with store.session() as s:
        ids = {Path(a.path).name: a.id for a in s.scalars(select(Asset))}
        runs = {(r.asset_id, r.stage): r.state for r in s.scalars(select(StageRun))}
        legacy, modern = proxy_of(s, ids["legacy.avi"]), proxy_of(s, ids["modern.mp4"])
    assert runs[(ids["legacy.avi"], "proxy")] == "done"
    assert runs[(ids["modern.mp4"], "proxy")] == "done"
    assert modern is None
    assert legacy["height"] <= PROXY_HEIGHT_PX and legacy["has_audio"]
    out = data / legacy["path"]
    assert out.is_file() and out.stat().st_size == legacy["size"]
    assert _streams(out)["video"] == "h264"
    mtime = out.stat().st_mtime_ns
    again = ingest(store, [media], workers=1, extractors=["proxy"])
    assert again.indexed == 0 and out.stat().st_mtime_ns == mtime
    assert mp4.is_file() and avi.is_file()
