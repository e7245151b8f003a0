"""EDL export, one run: the conforming CMX3600 writer (assetdb.highlights.edl) against the
otio-cmx3600-adapter writer it replaced (baseline, same reel, same run), on a long
generated timeline; then both EDLs re-read by the adapter and their source frames
compared with the reel's.

    PYTHONPATH=. python bench/edl_export.py [--clips 900] [--rate 30000/1001]
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=900)
    ap.add_argument("--rate", default="30000/1001")
    args = ap.parse_args()

    import opentimelineio as otio

    from assetdb.highlights.edl import parse_timecode, write_edl
    from assetdb.highlights.export import to_otio
    from assetdb.highlights.reel import Clip, Reel
    from assetdb.media.grid import frame_grid
    from tests.mediagen import make_video

    rate = Fraction(args.rate)
    tmp = Path(tempfile.mkdtemp())
    src = make_video(tmp / "bench.mp4", shots_s=[4.0, 4.0], fps=rate, size=(64, 48))
    g = frame_grid(src)
    tc = parse_timecode("10:00:00;00", rate)
    clips = []
    for i in range(args.clips):
        a = (i * 7) % (g.n - 12)
        b = a + 5 + i % 7
        clips.append(Clip(
            asset_id=1, path=str(src), segment_id=1, segment_index=0, start_frame=a,
            end_frame=b, start_s=g.time(a), end_s=g.time(b), rate=g.rate,
            time_base=g.time_base, start_pts=int(g.pts[a]), end_pts=int(g.pts[b]),
            variable_rate=False, score=0.5, has_audio=True, tc_start=tc,
        ))
    reel = Reel(clips=clips, target_s=0.0, order="chrono")

    t0 = time.perf_counter()
    ours = write_edl(reel, "bench")
    t_ours = time.perf_counter() - t0

    tl = to_otio(reel)
    video = copy.deepcopy(tl)
    for tr in list(video.tracks):
        if tr.kind != otio.schema.TrackKind.Video:
            video.tracks.remove(tr)
    t0 = time.perf_counter()
    base = otio.adapters.write_to_string(video, adapter_name="cmx_3600")
    t_base = time.perf_counter() - t0

    def frames_ok(text: str) -> tuple[int, int]:
        back = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=float(rate))
        got = [round(c.source_range.start_time.value) for c in back.video_tracks()[0]]
        want = [tc + c.start_frame for c in clips]
        return sum(x == y for x, y in zip(got, want, strict=False)), len(back.tracks)

    ok_ours, tracks_ours = frames_ok(ours)
    ok_base, tracks_base = frames_ok(base)
    n = len(clips)
    print(f"{n} clips at {float(rate):.3f} fps, source timecode from 10:00:00:00")
    print(f"  assetdb writer : {t_ours * 1000:8.1f} ms  {n / t_ours:9.0f} events/s  "
          f"re-read: {ok_ours}/{n} source frames right, tracks {tracks_ours} (V A1 A2), "
          f"record starts {ours.splitlines()[3].split()[6]}")
    print(f"  adapter writer : {t_base * 1000:8.1f} ms  {n / t_base:9.0f} events/s  "
          f"re-read: {ok_base}/{n} source frames right, tracks {tracks_base} (V), "
          f"record starts {base.splitlines()[2].split()[6]}  (baseline)")


if __name__ == "__main__":
    main()
