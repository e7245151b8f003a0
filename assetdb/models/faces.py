"""Faces: dlib HOG (or CNN) detection, 5-point alignment and the 128-d ResNet
identity embedding, weights from ``face-recognition-models`` (located without
importing it: its ``__init__`` needs ``pkg_resources``).

HOG on the CPU: 0.56 s on a 2 MP photo here, the CNN detector 32 s. Same-person
distance threshold 0.6 is dlib's documented default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import ModelUnavailable
from assetdb.models.base import Model, package_file

PACKAGE = "face_recognition_models"
MODEL_ID = "dlib_face_recognition_resnet_model_v1"
DET_MIN_SCORE = 0.0  # HOG score; spurious detections seen here scored < 0.4


def models_dir() -> Path:
    return package_file(PACKAGE, "models")


def choose_detector(detector: str = "auto", device: str = "cpu") -> str:
    """"auto": the CNN detector when dlib was built with CUDA and ``device`` is not
    the CPU, else HOG (the CNN takes ~60x HOG's time on a CPU)."""
    if detector != "auto":
        return detector
    try:
        import dlib
    except ImportError:
        return "hog"
    return "cnn" if getattr(dlib, "DLIB_USE_CUDA", False) and device != "cpu" else "hog"


class FaceModels(Model):
    """The three dlib models: ``detect``, ``shape`` (5 points), ``rec`` (128-d)."""

    model_id = MODEL_ID

    def __init__(self, detector: str = "hog") -> None:
        if detector not in ("hog", "cnn"):
            raise ModelUnavailable(f"unknown face detector {detector!r} (hog | cnn)")
        super().__init__("cpu")
        self.detector_name = detector

    def _load(self) -> None:
        try:
            import dlib
        except ImportError as exc:  # pragma: no cover - dlib-bin is a dependency
            raise ModelUnavailable("dlib is not installed (pip install dlib-bin)") from exc
        d = models_dir()
        self.dlib = dlib
        if self.detector_name == "cnn":
            self.cnn = dlib.cnn_face_detection_model_v1(
                str(package_file(PACKAGE, "models", "mmod_human_face_detector.dat"))
            )
        else:
            self.hog = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat"))
        self.rec = dlib.face_recognition_model_v1(
            str(d / "dlib_face_recognition_resnet_model_v1.dat")
        )

    def detect(self, rgb: np.ndarray, upsample: int) -> list[tuple[Any, float]]:
        """(dlib rectangle, score) of each face in an RGB uint8 frame."""
        self.load()
        if self.detector_name == "cnn":
            return [(d.rect, float(d.confidence)) for d in self.cnn(rgb, upsample)]
        rects, scores, _ = self.hog.run(rgb, upsample, DET_MIN_SCORE)
        return [(r, float(s)) for r, s in zip(rects, scores, strict=True)]
