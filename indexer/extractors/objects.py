"""Object detection on keyframes and sampled frames (the detectors are in
:mod:`assetdb.models.objects`: SSD-MobileNet-v2 COCO by default, a torchvision
model from a local state dict with ``detector="torchvision"``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from assetdb.media.frames import frames_at, unique_frames
from assetdb.media.images import load_rgb
from assetdb.models.objects import MIN_SCORE, Detection, Detector, make_detector
from indexer.extractors.base import Extractor
from indexer.extractors.frames import shot_sample_times
from indexer.work import AssetWork

log = logging.getLogger(__name__)

# Besides the keyframes, one frame every EVERY_S of a shot: objects that are in
# view for part of a shot only (the airliner of video_with_failing_audio.mp4 is a
# dot after 3 s of its 11 s pan). Detection is ~0.1 s a frame, decoding cheap.
EVERY_S = 2.0
DECODE_MAX_PX = 640  # the detector sees 300 x 300
EXTRACTOR_REV = "1"


@dataclass
class FrameObjects:
    segment_index: int
    ts: int
    t_s: float
    frame: int
    detections: list[Detection] = field(default_factory=list)


@dataclass
class ObjectsResult:
    detector: str
    frames: list[FrameObjects] = field(default_factory=list)


@dataclass
class LabelStats:
    max_score: float = 0.0
    count: int = 0
    frames: int = 0


def aggregate(frames: list[FrameObjects]) -> dict[int, dict[str, LabelStats]]:
    """Per segment index and label: best score, most instances in one frame, frames seen."""
    out: dict[int, dict[str, LabelStats]] = defaultdict(dict)
    for f in frames:
        per_frame: dict[str, list[float]] = defaultdict(list)
        for d in f.detections:
            per_frame[d.label].append(d.score)
        for label, scores in per_frame.items():
            st = out[f.segment_index].setdefault(label, LabelStats())
            st.max_score = max(st.max_score, max(scores))
            st.count = max(st.count, len(scores))
            st.frames += 1
    return out


class ObjectsExtractor(Extractor):
    """Options: ``detector`` ("ssd-mobilenet-v2" | "torchvision"), ``model`` and
    ``weights_path`` for torchvision, ``min_score``, ``every_s`` (0 = keyframes only)."""

    name = "objects"
    version = f"ssd-mobilenet-v2-coco@{EXTRACTOR_REV}"
    kinds = frozenset({"video", "image"})

    def __init__(self, device: str = "cpu", **options: Any) -> None:
        super().__init__(device, **options)
        self.detector_name = str(options.get("detector", "ssd-mobilenet-v2"))
        self.min_score = float(options.get("min_score", MIN_SCORE))
        self.every_s = float(options.get("every_s", EVERY_S))
        self.detector: Detector | None = None
        if self.detector_name == "torchvision":
            model = options.get("model", "fasterrcnn_mobilenet_v3_large_fpn")
            self.version = f"torchvision-{model}@{EXTRACTOR_REV}"
        if self.min_score != MIN_SCORE:
            self.version += f"/min{self.min_score:g}"
        if self.every_s != EVERY_S:
            self.version += f"/every{self.every_s:g}"

    def _load(self) -> None:
        opts = {k: v for k, v in self.options.items() if k in ("model", "weights_path")}
        self.detector = make_detector(self.detector_name, device=self.device, **opts)

    def detect_work(self, work: AssetWork) -> ObjectsResult:
        self.load()
        assert self.detector is not None
        result = ObjectsResult(detector=self.detector.id)
        for kf in work.keyframes:
            dets = self.detector.detect(load_rgb(kf.path), self.min_score)
            result.frames.append(FrameObjects(kf.segment_index, kf.ts, kf.time_s, kf.frame, dets))
        if work.kind == "video" and self.every_s > 0:
            wanted = [
                (t, seg)
                for seg in work.segments
                for t in shot_sample_times(
                    seg, (), self.every_s, exclude=[k.time_s for k in seg.keyframes]
                )
            ]
            decoded = frames_at(
                work.path, [t for t, _ in wanted], max_px=DECODE_MAX_PX, rotation=work.rotation
            )
            for t, pts, rgb in ((f.time_s, f.pts, f.rgb) for f in unique_frames(decoded)):
                seg = next((s for s in work.segments if s.start_s - 1e-3 <= t < s.end_s), None)
                if seg is None:
                    continue
                rate = float(seg.rate) if seg.rate else 0.0
                dets = self.detector.detect(rgb, self.min_score)
                result.frames.append(
                    FrameObjects(seg.index, pts, t, round(t * rate) if rate else 0, dets)
                )
        return result

    def run(self, batch: list[AssetWork]) -> list[ObjectsResult]:
        return [self.detect_work(w) for w in batch]
