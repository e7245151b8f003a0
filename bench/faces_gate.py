"""What analysing a video's extra frames only when its keyframes found a face costs and
loses (the faces stage's second pass: ``extra_when`` always | asset | shot).

    python bench/faces_gate.py [--video DIR] [--modes always,asset,shot]

Catalogues the sample videos into a temporary store, then runs the real faces
extractor over the same work items once per mode ("always" is the baseline of the same
run). Prints seconds, frames analysed, faces kept (good quality) and the shots where the
baseline kept a good face and the mode kept none.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalogued import SHARED, catalogued_works


def main() -> None:
    from indexer.extractors.faces import FacesExtractor

    ap = argparse.ArgumentParser()
    ap.add_argument("--video", default=str(SHARED / "media" / "video"))
    ap.add_argument("--modes", default="always,asset,shot")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        works = catalogued_works(tmp, [args.video], kinds=("video",))
        print(f"{len(works)} videos, {sum(len(w.segments) for w in works)} shots")
        rows = []
        for mode in args.modes.split(","):
            ext = FacesExtractor(extra_when=mode)
            ext.load()
            frames = good = 0
            shots: set = set()
            t0 = time.perf_counter()
            for w in works:
                r = ext.run_one(w)
                frames += r.frames
                kept = [f for f in r.faces if not f.low_quality]
                good += len(kept)
                shots |= {(Path(w.path).name, f.segment_index) for f in kept}
            rows.append((mode, time.perf_counter() - t0, frames, good, shots))
    base = rows[0]
    print(f"{'mode':>8}{'seconds':>9}{'x base':>8}{'frames':>8}{'faces':>7}{'shots':>7}"
          f"{'lost':>6}")
    for mode, secs, frames, good, shots in rows:
        lost = base[4] - shots
        print(f"{mode:>8}{secs:>9.1f}{secs / base[1]:>8.2f}{frames:>8}{good:>7}{len(shots):>7}"
              f"{len(lost):>6}")
        for name, seg in sorted(lost)[:8]:
            print(f"{'':>10}lost: {name} shot {seg}")


if __name__ == "__main__":
    main()
