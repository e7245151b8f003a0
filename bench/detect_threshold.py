"""Measure the object detector's score threshold: on evenly spaced frames of clips
whose content was checked by eye, the share of detections whose label is plausible
for the clip (precision proxy) and the share of frames where the clip's main object
is found (recall proxy), per threshold. One run, one table.

    PYTHONPATH=$PWD python bench/detect_threshold.py [--frames 8]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data from the repository root (one level more from a git worktree)
DATA = next(
    (p for p in (ROOT / ".." / "shared" / "data", ROOT / ".." / ".." / "shared" / "data") if p.is_dir()),
    ROOT / ".." / "shared" / "data",
) / "media" / "video"
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
# clip -> (main object, labels plausible in it), read by eye off its frames
CLIPS = {
    "vtest.avi": ("person", {"person", "car", "truck", "handbag", "backpack"}),
    "faces.mp4": ("person", {"person", "cup", "laptop", "dining table", "book", "cell phone",
                             "chair"}),
    "chaplin.mp4": ("person", {"person"}),
    "slow_traffic_small.mp4": ("car", {"car", "truck", "bus", "person", "motorcycle",
                                       "bicycle"}),
    # people on the field watch the planes (first taken for false positives; checked by eye)
    "video_with_failing_audio.mp4": ("airplane", {"airplane", "person"}),
}  # fmt: skip


def sample(name: str, n: int) -> list[np.ndarray]:
    import av

    with av.open(str(DATA / name)) as c:
        s = c.streams.video[0]
        total = s.frames or 0
        if not total:
            total = sum(1 for _ in c.decode(s))
            c.seek(0)
        want = {round(x) for x in np.linspace(0, total - 1, n + 2)[1:-1]}
        out = []
        for i, f in enumerate(c.decode(s)):
            if i in want:
                out.append(f.to_ndarray(format="rgb24"))
            if len(out) == len(want):
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=8, help="frames per clip")
    args = ap.parse_args()
    from assetdb.models.objects import SsdMobilenetV2Coco

    det = SsdMobilenetV2Coco.shared()
    rows = []  # (clip, frame, label, score, plausible, main)
    for clip, (main_label, ok) in CLIPS.items():
        for fi, rgb in enumerate(sample(clip, args.frames)):
            for d in det.detect(rgb, min(THRESHOLDS)):
                rows.append((clip, fi, d.label, d.score, d.label in ok, d.label == main_label))
    print(f"{args.frames} frames from each of {len(CLIPS)} clips")
    print("| threshold | detections | plausible (precision) | main object found (frames) |")
    print("|---|---|---|---|")
    for th in THRESHOLDS:
        kept = [r for r in rows if r[3] >= th]
        prec = sum(r[4] for r in kept) / len(kept) if kept else float("nan")
        found = {(r[0], r[1]) for r in kept if r[5]}
        per_clip = Counter(c for c, _ in found)
        recall = len(found) / (args.frames * len(CLIPS))
        clips = ", ".join(f"{c.split('.')[0]} {per_clip[c]}" for c in CLIPS)
        print(f"| {th} | {len(kept)} | {prec:.3f} | {recall:.3f} ({clips}) |")
    for th in (0.3, 0.5):
        wrong = Counter((r[0].split(".")[0], r[2]) for r in rows if r[3] >= th and not r[4])
        print(f"implausible at >= {th}:", dict(wrong.most_common(12)))


if __name__ == "__main__":
    main()
