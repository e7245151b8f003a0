"""The one frame decoder (assetdb.media.frames): which frame a time means, on generated
video whose every frame carries its own index, at constant and variable frame rate."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from assetdb.errors import MediaError
from assetdb.media.frames import frames_at, iter_frames, unique_frames
from assetdb.media.times import MediaTime

W, H = 192, 96
BITS = 10  # frame index as 10 black/white bars: survives lossy coding


def _picture(i: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    bar = W // (BITS + 2)
    for b in range(BITS):
        if i >> b & 1:
            img[16:80, (b + 1) * bar : (b + 2) * bar] = 255
    img[:8, :8] = (255, 0, 0)  # a red top-left corner shows the orientation
    return img


def _index(rgb: np.ndarray) -> int:
    bar = rgb.shape[1] // (BITS + 2)
    y0, y1 = rgb.shape[0] // 6, rgb.shape[0] * 5 // 6
    return sum(
        1 << b
        for b in range(BITS)
        if rgb[y0:y1, (b + 1) * bar + 2 : (b + 2) * bar - 2].mean() > 128
    )


def write_video(path: Path, pts: list[int], time_base: Fraction, *, codec: str = "ffv1",
                gop: int = 12, rotate: int | None = None) -> Path:
    """Frame i (showing i) at ``pts[i]`` ticks of ``time_base``."""
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=25)
        s.width, s.height = W, H
        s.pix_fmt = "yuv420p" if codec != "ffv1" else "yuv444p"
        s.time_base = time_base
        s.codec_context.time_base = time_base
        s.codec_context.gop_size = gop
        if codec == "libx264":
            s.options = {"bf": "2", "crf": "12"}
        if rotate is not None:
            s.set_display_rotation(rotate)
        for i, p in enumerate(pts):
            f = av.VideoFrame.from_ndarray(_picture(i), format="rgb24")
            f.pts, f.time_base = p, time_base
            for pkt in s.encode(f):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path


def _expected(pts: list[int], tb: Fraction, t_s: float) -> int:
    """The documented rule, written out: the last frame at or before t (nearest tick),
    the first frame before the start."""
    tick = round(Fraction(t_s).limit_denominator(10**9) / tb) + pts[0]
    at_or_before = [i for i, p in enumerate(pts) if p <= tick]
    return at_or_before[-1] if at_or_before else 0


def test_iter_frames_times_are_relative_to_the_first_frame(tmp_path):
    tb = Fraction(1, 1000)
    pts = [500 + 40 * i for i in range(20)]  # the stream starts at 0.5 s
    path = write_video(tmp_path / "cfr.mkv", pts, tb)
    got = list(iter_frames(path))
    assert [f.index for f in got] == list(range(20))
    assert [f.time.ts for f in got] == [p - 500 for p in pts]
    assert [f.source_pts for f in got] == pts
    assert got[3].time == MediaTime(120, tb) and got[3].time.seconds == pytest.approx(0.12)
    assert [_index(f.to_ndarray("rgb24")) for f in got] == list(range(20))


@pytest.mark.parametrize(
    ("name", "codec", "pts", "tb"),
    [
        ("cfr.mkv", "ffv1", [40 * i for i in range(50)], Fraction(1, 1000)),
        ("cfr-bframes.mp4", "libx264", [512 * i for i in range(50)], Fraction(1, 12800)),
        # variable frame rate: dropped frames, a long hold, a burst; starts after 0
        ("vfr.mkv", "ffv1",
         [200, 240, 280, 400, 410, 420, 1400, 1440, 1441, 1500, 1900, 2000], Fraction(1, 1000)),
    ],
)
def test_a_time_means_the_frame_on_screen(tmp_path, name, codec, pts, tb):
    path = write_video(tmp_path / name, pts, tb, codec=codec)
    end = float((pts[-1] - pts[0]) * tb)
    rel = [float((p - pts[0]) * tb) for p in pts]
    times = sorted(
        {-0.5, 0.0, end, end + 2.0, *rel}
        | {r + d for r in rel for d in (-0.001, 0.0004, 0.011)}
    )
    got = frames_at(path, times)
    assert set(got) == set(times)
    for t in times:
        want = _expected(pts, tb, t)
        assert _index(got[t].rgb) == want, t
        assert got[t].pts == pts[want] - pts[0]
    # exact timestamps (keyframes) give exactly their frame
    exact = frames_at(path, [MediaTime(p - pts[0], tb) for p in pts])
    assert [_index(f.rgb) for f in exact.values()] == list(range(len(pts)))
    # a sequential pass from a start time begins with the frame on screen then
    for t in (times[0], rel[3] - 0.001, rel[3], rel[-2] + 0.011, end + 2.0):
        want = _expected(pts, tb, t)
        got_run = [(f.index, _index(f.to_ndarray("rgb24")), f.source_pts)
                   for f in iter_frames(path, start=t)]
        n = len(pts) - want
        assert got_run == [(k, want + k, pts[want + k]) for k in range(n)], t


@pytest.mark.parametrize("codec", ["mpeg4", "libx264"])
def test_far_targets_seek_and_near_ones_decode_forward(tmp_path, codec):
    tb = Fraction(1, 1000)
    pts = [40 * i for i in range(400)]  # 16 s, a keyframe every 12 frames (B-frames in H.264)
    path = write_video(tmp_path / "long.mp4", pts, tb, codec=codec)
    times = [0.5, 0.51, 7.99, 8.0, 15.97, 3.0, 15.0]  # 0.5 and 0.51: one frame
    got = frames_at(path, times)
    for t in times:
        assert _index(got[t].rgb) == _expected(pts, tb, t)
    # two requested times inside one frame: one distinct frame
    assert [f.pts for f in unique_frames(got)] == sorted({f.pts for f in got.values()})
    assert len(unique_frames(got)) == len(times) - 1
    for t in (7.99, 15.0):  # a pass that starts after a seek
        run = iter_frames(path, start=t)
        assert [_index(next(run).to_ndarray()) for _ in range(3)] == [
            _expected(pts, tb, t) + k for k in range(3)
        ]


def test_a_time_just_before_a_cut_stays_in_its_shot(tmp_path):
    """Regression: the objects/OCR sampler took the first frame at or after a time, so
    a sample 10 ms before a cut showed the next shot."""
    tb = Fraction(1, 1000)
    pts = [40 * i for i in range(25)]
    path = write_video(tmp_path / "cut.mkv", pts, tb)
    cut = 0.4  # frame 10 starts the next shot
    f = frames_at(path, [cut - 0.01])[cut - 0.01]
    assert _index(f.rgb) == 9 and f.time_s < cut


def test_rotation_is_applied_the_way_players_do(tmp_path):
    """Display rotation 90 (counter-clockwise, the display matrix): the picture turns
    counter-clockwise, so the top-left corner ends bottom-left; max_px bounds the long
    side of the displayed picture."""
    from assetdb.media.probe import probe

    tb = Fraction(1, 1000)
    path = write_video(tmp_path / "rot.mp4", [40 * i for i in range(5)], tb, codec="mpeg4",
                       rotate=90)
    info = probe(path)
    assert info.rotation == 90 and (info.width, info.height) == (H, W)
    rgb = frames_at(path, [0.0], rotation=info.rotation)[0.0].rgb
    assert rgb.shape == (W, H, 3)
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 100)
    ys, xs = np.nonzero(red)
    assert ys.min() > W - 16 and xs.max() < 16  # bottom-left
    small = frames_at(path, [0.0], rotation=info.rotation, max_px=96)[0.0].rgb
    assert max(small.shape[:2]) == 96 and small.shape[0] > small.shape[1]


def test_unreadable_video_is_a_media_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(MediaError) as e:
        frames_at(bad, [0.0])
    assert "\n" not in str(e.value)
    with pytest.raises(MediaError):
        list(iter_frames(bad))


def test_media_time():
    tb = Fraction(1, 12800)
    t = MediaTime.from_seconds(0.04 - 1e-9, tb)
    assert t == MediaTime(512, tb) and t.exact == Fraction(1, 25)
    assert t.rescale(Fraction(1, 1000)) == MediaTime(40, Fraction(1, 1000))
    assert MediaTime(1001, Fraction(1, 30000)).frame_number(Fraction(30000, 1001)) == 1
    assert MediaTime(3, Fraction(1, 25)) < MediaTime(4, Fraction(1, 25))
