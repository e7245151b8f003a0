"""A DPX frame sequence catalogued as one clip, next to the same frames catalogued as
separate stills (what the scanner did before sequences were grouped), in one run.

    python bench/sequences.py [--frames N] [--size WxH]

Prints wall seconds, frames per second, assets and segments for both, and the
no-op second ingest of the sequence (stat of every frame, no hashing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _ingest(folder: Path, data: Path, group: bool) -> tuple[float, int, int]:
    from sqlalchemy import func, select

    from assetdb.media import sequences
    from assetdb.schema import Asset, Segment
    from indexer.ingest import ingest
    from tests.conftest import open_store

    saved = sequences.MIN_FRAMES
    sequences.MIN_FRAMES = saved if group else 10**9  # the scanner groups in this process
    store = open_store(data)
    try:
        t0 = time.perf_counter()
        report = ingest(store, [folder], workers=1, extractors=[])
        wall = time.perf_counter() - t0
        assert not report.failed, report.failed
        with store.session() as s:
            assets = s.execute(select(func.count()).select_from(Asset)).scalar_one()
            segs = s.execute(select(func.count()).select_from(Segment)).scalar_one()
        t0 = time.perf_counter()
        ingest(store, [folder], workers=1, extractors=[])
        noop = time.perf_counter() - t0
    finally:
        sequences.MIN_FRAMES = saved
        store.close()
    print(f"{'sequence (one clip)' if group else 'baseline: stills':22s} "
          f"{wall:7.2f} s  {frames_n / wall:7.1f} frames/s  assets {assets:4d}  "
          f"segments {segs:4d}  no-op re-run {noop:5.2f} s")
    return wall, assets, segs


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--size", default="1024x576")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    frames_n = args.frames
    from tests.prodmedia import dpx_sequence

    with tempfile.TemporaryDirectory() as tmp:
        folder = dpx_sequence(Path(tmp) / "plates", frames=frames_n, size=(w, h))
        print(f"{frames_n} DPX frames {w}x{h} (16-bit RGB), catalogue only, 1 worker")
        seq = _ingest(folder, Path(tmp) / "d1", group=True)
        base = _ingest(folder, Path(tmp) / "d2", group=False)
        print(f"sequence / baseline wall time: {seq[0] / base[0]:.2f}")
