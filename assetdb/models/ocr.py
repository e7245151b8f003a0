"""On-screen text: RapidOCR (PP-OCRv4 detection + recognition ONNX, from
``rapidocr-onnxruntime``), CPU.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from assetdb.errors import ModelUnavailable
from assetdb.models.base import Model, thread_budget

MODEL_ID = "rapidocr-ppocrv4"

Line = tuple[str, float, tuple[float, float, float, float]]


class TextReader(Model):
    """``read(rgb, min_confidence) -> [(text, confidence, (x1, y1, x2, y2) normalised)]``.

    ``text_score`` is the engine's own floor (readings below it are never returned)."""

    model_id = MODEL_ID

    def __init__(self, text_score: float = 0.5, use_cls: bool = False, **options: Any) -> None:
        super().__init__("cpu")
        self.text_score = text_score
        self.use_cls = use_cls
        self.options = options  # more RapidOCR settings (benches compare them)
        self.engine: Any = None

    def _load(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise ModelUnavailable(
                "rapidocr-onnxruntime is not installed (pip install rapidocr-onnxruntime)"
            ) from exc
        # Default without the 180-degree angle classifier: footage text is upright, and with it
        # the SMPTE card's timecode at frames 208 and 232 was read upside down
        # ("60:80:00:00", "80:60:00:00"; without: "00:00:08;09", "00:00:09;08").
        # Precision on bench/ocr_threshold.py is the same either way.
        opts = {"intra_op_num_threads": thread_budget(), **self.options}
        self.engine = RapidOCR(text_score=self.text_score, use_cls=self.use_cls, **opts)
        # The gate's detector: the same network (one session), but on an image that is
        # never scaled up (RapidOCR's reader scales the short side UP to 736 px first).
        self.gate_det = copy.copy(self.engine.text_det)
        self.gate_det.limit_type = "max"

    def has_text(self, rgb: np.ndarray, max_px: int) -> bool:
        """Whether the text detector finds any text box on the frame shrunk to ``max_px``
        on its long side: a cheap test (~1/10 of a reading) before reading a frame."""
        import cv2

        self.load()
        h, w = rgb.shape[:2]
        scale = max_px / max(h, w)
        small = rgb if scale >= 1 else cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
            interpolation=cv2.INTER_AREA)
        boxes, _ = self.gate_det(np.ascontiguousarray(small[:, :, ::-1]))
        return boxes is not None and len(boxes) > 0

    def read(self, rgb: np.ndarray, min_confidence: float = 0.0) -> list[Line]:
        """Text lines of one RGB frame at or above ``min_confidence``."""
        self.load()
        h, w = rgb.shape[:2]
        res, _ = self.engine(np.ascontiguousarray(rgb[:, :, ::-1]))
        out = []
        for box, text, score in res or []:
            if float(score) < min_confidence or not str(text).strip():
                continue
            pts = np.asarray(box, dtype=np.float32)
            x1, y1 = pts.min(axis=0)
            x2, y2 = pts.max(axis=0)
            norm_box = (
                max(0.0, float(x1) / w), max(0.0, float(y1) / h),
                min(1.0, float(x2) / w), min(1.0, float(y2) / h),
            )  # fmt: skip
            out.append((str(text).strip(), float(score), norm_box))
        return out
