"""Ingest throughput on ../shared/data/media next to a decode-only pass over the same files.

    python bench/ingest.py [--media DIR] [--workers N] [--extractors a,b,...]

Prints media seconds per wall second and files/s for: a decode-only pass (every video
frame and audio sample decoded with PyAV, nothing else, the same number of processes),
a full first ingest, and a second (no-op) ingest; ratios against the decode-only pass.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def decode_all(path: str) -> float:
    import av

    try:
        with av.open(path) as c:
            streams = [s for s in c.streams if s.type in ("video", "audio")]
            last = 0.0
            for packet in c.demux(*streams):
                try:
                    for f in packet.decode():
                        if f.time is not None:
                            last = max(last, f.time)
                except av.error.FFmpegError:
                    pass
            return last
    except Exception:  # noqa: BLE001
        return 0.0


def main() -> None:
    from assetdb.config import load_settings
    from assetdb.db import Store
    from indexer import extractors as reg
    from indexer.ingest import ingest
    from indexer.scan import scan

    ap = argparse.ArgumentParser()
    ap.add_argument("--media", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "media"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--extractors", default=None, help="comma list; default: the default set")
    args = ap.parse_args()
    names = reg.DEFAULT_EXTRACTORS if args.extractors is None else [
        n for n in args.extractors.split(",") if n]
    files = [str(p) for p in scan([Path(args.media)]).files]

    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        media_s = sum(pool.map(decode_all, files))
    decode_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(load_settings(data_dir=tmp, database_url=f"sqlite:///{tmp}/a.sqlite3"))
        t0 = time.perf_counter()
        r1 = ingest(store, [args.media], workers=args.workers, extractors=names)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ingest(store, [args.media], workers=args.workers, extractors=names)
        second_s = time.perf_counter() - t0
        store.close()

    n = len(files)
    print(f"files: {n}, media: {media_s:.1f} s, workers: {args.workers}, "
          f"extractors: {','.join(names) or '(catalogue only)'}, failed: {len(r1.failed)}")
    print(f"{'pass':<22}{'wall s':>9}{'media s/s':>11}{'files/s':>9}{'x decode-only':>15}")
    for label, s in (("decode-only (PyAV)", decode_s), ("ingest, first run", first_s),
                     ("ingest, second run", second_s)):
        print(f"{label:<22}{s:>9.2f}{media_s / s:>11.1f}{n / s:>9.2f}{decode_s / s:>15.3f}")
    for stage, secs in sorted(r1.stage_seconds.items()):
        print(f"  stage {stage:<16}{secs:>8.2f} s cpu-side ({media_s / max(secs, 1e-9):.1f} media s/s)")


if __name__ == "__main__":
    main()
