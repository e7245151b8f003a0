"""Keyframes per second for object detection and OCR on CPU, in one run, against a
baseline measured in the same run: reading the keyframe JPEG only.

Keyframes are made like the catalogue stage makes them (frames of the sample clips,
long side <= 1280 px, JPEG q90) in a temporary folder.

    PYTHONPATH=$PWD python bench/detect.py [--frames 24] [--ocr-frames 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = next(
    (p for p in (ROOT / ".." / "shared" / "data", ROOT / ".." / ".." / "shared" / "data")
     if p.is_dir()),
    ROOT / ".." / "shared" / "data",
) / "media" / "video"  # fmt: skip
CLIPS = ["vtest.avi", "faces.mp4", "chaplin.mp4", "slow_traffic_small.mp4",
         "video_with_failing_audio.mp4", "goldeneye-vfr-drop3.mp4", "smpte-2997.mp4",
         "big_buck_bunny_0_30.webm"]  # fmt: skip


def make_keyframes(out: Path, n: int) -> list[Path]:
    import av
    import cv2

    from assetdb.media.frames import frames_at, unique_frames

    per = max(1, -(-n // len(CLIPS)))
    paths: list[Path] = []
    for clip in CLIPS:
        with av.open(str(DATA / clip)) as c:
            dur = float(c.duration or 0) / 1e6 or 5.0
        times = [dur * (i + 1) / (per + 1) for i in range(per)]
        for f in unique_frames(frames_at(DATA / clip, times, max_px=1280)):
            t, rgb = f.time_s, f.rgb
            p = out / f"{clip}_{t:.2f}.jpg"
            cv2.imwrite(str(p), rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
            paths.append(p)
    return paths[:n]


def rate(fn, items: list) -> tuple[float, float]:
    """(items per wall second, CPU seconds per item) of fn over items, after one
    warm-up call. CPU time is less disturbed by other processes on a shared machine."""
    fn(items[0])
    t0, c0 = time.perf_counter(), time.process_time()
    for x in items:
        fn(x)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return len(items) / dt, cpu / len(items)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--ocr-frames", type=int, default=8)
    args = ap.parse_args()
    import cv2

    from assetdb.media.images import load_rgb as read_rgb
    from assetdb.models.objects import SsdMobilenetV2Coco
    from assetdb.models.ocr import TextReader
    from indexer.extractors.ocr import OcrExtractor

    with tempfile.TemporaryDirectory() as tmp:
        kfs = make_keyframes(Path(tmp), args.frames)
        ocr_kfs = kfs[:: max(1, len(kfs) // args.ocr_frames)][: args.ocr_frames]
        det = SsdMobilenetV2Coco.shared()
        ocr = OcrExtractor()
        ocr.load()
        # the package default, with the angle classifier
        ocr_cls = TextReader(text_score=0.5, use_cls=True).load().engine

        rows = []
        base = rate(read_rgb, kfs)
        rows.append(("JPEG read only (baseline)", len(kfs), *base))
        rows.append(("read + SSD-MobileNet-v2 detect", len(kfs),
                     *rate(lambda p: det.detect(read_rgb(p), 0.5), kfs)))
        base_o = rate(read_rgb, ocr_kfs)
        rows.append(("JPEG read only, OCR subset (baseline)", len(ocr_kfs), *base_o))
        rows.append(("read + RapidOCR (as configured: no angle cls)", len(ocr_kfs),
                     *rate(lambda p: ocr.read(read_rgb(p)), ocr_kfs)))
        rows.append(("read + RapidOCR (package default: angle cls on)", len(ocr_kfs),
                     *rate(lambda p: ocr_cls(read_rgb(p)[:, :, ::-1]), ocr_kfs)))

    print(f"CPU: {os.cpu_count()} cores visible, load avg {os.getloadavg()[0]:.1f}, "
          f"OpenCV threads {cv2.getNumThreads()}")  # fmt: skip
    print("| step | keyframes | keyframes/s (wall) | wall vs JPEG read | CPU ms/keyframe |")
    print("|---|---|---|---|---|")
    for name, n, r, cpu in rows:
        ref = base_o if "OCR" in name else base
        print(f"| {name} | {n} | {r:.2f} | {ref[0] / r:.0f}x | {cpu * 1000:.1f} |")


if __name__ == "__main__":
    main()
