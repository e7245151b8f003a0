"""Voice activity with silero-vad's ONNX model, run through onnxruntime
directly (the package's own wrapper pulls in torch; the model file is what we need).

The model is recurrent: 512-sample windows at 16 kHz (32 ms), each fed with the
previous 64 samples as context and the carried state, exactly as the package's
``OnnxWrapper`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assetdb.models.base import Model, package_file

log = logging.getLogger(__name__)

VAD_SAMPLE_RATE = 16_000
WINDOW = 512  # samples per probability at 16 kHz
CONTEXT = 64
FRAME_S = WINDOW / VAD_SAMPLE_RATE
MODEL_ID = "silero-vad:onnx-op16"


def model_path() -> Path:
    return package_file("silero_vad", "data", "silero_vad.onnx", pip_name="silero-vad")


class SileroVad(Model):
    """Speech probability per 32 ms window. Always on the CPU: one small window at
    a time, a GPU would spend its time on transfers."""

    model_id = MODEL_ID

    def __init__(self, path: Path | None = None) -> None:
        super().__init__("cpu")
        self.path = path

    def _load(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # One window at a time: threads only add overhead, and workers run in parallel.
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.path or model_path()), providers=["CPUExecutionProvider"], sess_options=opts
        )

    def probabilities(self, samples: np.ndarray, sample_rate: int = VAD_SAMPLE_RATE) -> np.ndarray:
        """Speech probability per 32 ms window (window i covers [i*FRAME_S, (i+1)*FRAME_S))."""
        if sample_rate != VAD_SAMPLE_RATE:
            raise ValueError(f"silero-vad runs at {VAD_SAMPLE_RATE} Hz here, got {sample_rate}")
        self.load()
        x = np.asarray(samples, dtype=np.float32)
        n = int(np.ceil(len(x) / WINDOW))
        if n == 0:
            return np.zeros(0, np.float32)
        x = np.pad(x, (CONTEXT, n * WINDOW - len(x)))
        state = np.zeros((2, 1, 128), np.float32)
        sr = np.array(VAD_SAMPLE_RATE, dtype=np.int64)
        out = np.empty(n, np.float32)
        run = self.session.run
        for i in range(n):
            chunk = x[i * WINDOW : i * WINDOW + CONTEXT + WINDOW][None, :]
            prob, state = run(None, {"input": chunk, "state": state, "sr": sr})
            out[i] = prob[0, 0]
        return out


@dataclass
class SpeechStretch:
    start_s: float
    end_s: float


def per_second(probs: np.ndarray, duration_s: float) -> list[float]:
    """Mean speech probability per whole second of the timeline."""
    n_sec = int(np.ceil(duration_s)) if duration_s > 0 else 0
    out = []
    for s in range(n_sec):
        a = int(s / FRAME_S)
        b = max(a + 1, int((s + 1) / FRAME_S))
        seg = probs[a:b]
        out.append(round(float(seg.mean()), 3) if len(seg) else 0.0)
    return out


def speech_stretches(
    probs: np.ndarray,
    duration_s: float,
    *,
    threshold: float = 0.5,
    neg_threshold: float | None = None,
    min_speech_s: float = 0.25,
    pad_s: float = 0.3,
    merge_gap_s: float = 1.0,
) -> list[SpeechStretch]:
    """Speech stretches with hysteresis (enter at ``threshold``, leave below
    ``neg_threshold``), short blips dropped, padded and merged when close."""
    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)
    raw: list[list[float]] = []
    start = None
    for i, p in enumerate(probs):
        if start is None and p >= threshold:
            start = i
        elif start is not None and p < neg_threshold:
            raw.append([start * FRAME_S, i * FRAME_S])
            start = None
    if start is not None:
        raw.append([start * FRAME_S, len(probs) * FRAME_S])
    raw = [r for r in raw if r[1] - r[0] >= min_speech_s]
    merged: list[list[float]] = []
    for a, b in raw:
        a, b = max(0.0, a - pad_s), min(duration_s, b + pad_s)
        if merged and a - merged[-1][1] <= merge_gap_s:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [SpeechStretch(a, b) for a, b in merged if b > a]
