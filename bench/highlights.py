"""Highlights speed on CPU, one run: interest scoring (signal extraction + scoring +
selection) and MP4 rendering, in media seconds per wall second, each with a decode-only
baseline measured in the same run on the same files.

    PYTHONPATH=. python bench/highlights.py [--files a.mp4 b.webm ...] [--duration 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_FILES = ["big_buck_bunny_0_30.webm", "testvideo.mp4", "issue-195-aspect-ratio.mp4"]


def shared_video() -> Path:
    for cand in (
        ROOT / ".." / "shared" / "data",
        Path(os.environ.get("ASSETDB_SHARED_DATA", "/nonexistent")),
        Path("/work/shared/data"),
    ):
        if cand.is_dir():
            return cand.resolve() / "media" / "video"
    raise SystemExit("shared media not found (../shared/data)")


def decode_only(path: Path) -> float:
    """Decode every video frame and the audio track (what any analysis must pay)."""
    import av

    t = time.perf_counter()
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        for _ in c.decode(st):
            pass
    try:
        with av.open(str(path)) as c:
            if c.streams.audio:
                for _ in c.decode(c.streams.audio[0]):
                    pass
    except av.error.FFmpegError:
        pass
    return time.perf_counter() - t


def decode_span(path: str, start_pts: int, end_pts: int) -> float:
    import av

    t = time.perf_counter()
    with av.open(path) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        c.seek(start_pts, stream=st, backward=True)
        for fr in c.decode(st):
            if fr.pts is not None and fr.pts >= end_pts:
                break
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", nargs="*", default=DEFAULT_FILES)
    ap.add_argument("--duration", type=float, default=10.0)
    args = ap.parse_args()

    from assetdb.config import load_settings
    from assetdb.db import Store
    from assetdb.highlights import highlights_for_asset, load_asset, render_mp4, score_asset
    from indexer.ingest import ensure_stages, ingest

    video = shared_video()
    paths = [video / f for f in args.files]
    with tempfile.TemporaryDirectory() as tmp:
        st = Store.open(
            load_settings(data_dir=tmp, database_url=f"sqlite:///{tmp}/b.db"), upgrade_schema=True
        )
        ingest(st, paths, workers=1, extractors=[])  # catalogue only; not timed
        with st.session() as s:
            assets = [load_asset(s, str(p)) for p in paths]
            media = {a.id: float(a.duration_s or 0.0) for a in assets}
        # warm-up outside the timings (imports, scipy/pyloudnorm load)
        decode_only(paths[0])
        import pyloudnorm  # noqa: F401
        import scipy.signal  # noqa: F401

        print(f"{'file':32s} {'media s':>8s} {'decode x':>9s} {'score x':>8s} {'ratio':>6s}")
        tot_media = tot_dec = tot_score = 0.0
        for p, a in zip(paths, assets, strict=True):
            dec = decode_only(p)
            t = time.perf_counter()
            ensure_stages(st, a.id, ["interest"])
            with st.session() as s:
                score_asset(s, load_asset(s, a.id))
                highlights_for_asset(s, a.id, args.duration)
            sc = time.perf_counter() - t
            m = media[a.id]
            tot_media, tot_dec, tot_score = tot_media + m, tot_dec + dec, tot_score + sc
            print(f"{p.name:32s} {m:8.1f} {m / dec:9.1f} {m / sc:8.1f} {dec / sc:6.2f}")
        print(
            f"{'ALL':32s} {tot_media:8.1f} {tot_media / tot_dec:9.1f} {tot_media / tot_score:8.1f} "
            f"{tot_dec / tot_score:6.2f}"
        )
        print(
            "scoring speed = media seconds per wall second (signals + score + selection); "
            "ratio = scoring speed / decode-only speed"
        )
        print()
        print(
            f"{'render ' + str(args.duration) + ' s reel':32s} {'reel s':>8s} {'decode x':>9s} {'render x':>9s} {'ratio':>6s}"
        )
        for p, a in zip(paths, assets, strict=True):
            with st.session() as s:
                reel = highlights_for_asset(s, a.id, args.duration)
            dec = sum(decode_span(c.path, c.start_pts, c.end_pts) for c in reel.clips)
            t = time.perf_counter()
            render_mp4(reel, Path(tmp) / f"{a.id}.mp4")
            rd = time.perf_counter() - t
            d = reel.duration_s
            print(f"{p.name:32s} {d:8.2f} {d / dec:9.1f} {d / rd:9.2f} {dec / rd:6.2f}")
        print(
            "render speed = reel seconds per wall second (decode, scale, H.264 + AAC encode); "
            "baseline = decoding the same spans only"
        )
        st.close()


if __name__ == "__main__":
    main()
