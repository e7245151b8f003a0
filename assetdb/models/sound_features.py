"""Sound features of decoded audio, per span (a shot of a video, a window of an
audio file): what the "audio" extractor stores and what ``assetdb.sound`` computes
for a query file, from one copy of the code.

One decode (PyAV, mono, 16 kHz), one STFT per block of audio, then per segment
(a shot of a video, a window of an audio file):

- MFCC 60 + delta + delta-delta, each mean-pooled: the 180 values of the
  interestingness work. Stored raw in ``audio_segments.mfcc_raw``; the vector
  for ``--sounds-like`` (space ``audio:mfcc180@1``) is standardised with fixed
  corpus statistics (``sound_norm.json``), weighted and L2-normalised, so an
  inner product is a cosine. See ``normalise`` for what was measured.
- spectral centroid (mean, std) and octave-band contrast, onset rate;
- RMS level per second (dBFS), integrated loudness (BS.1770 / EBU R128 gating,
  pyloudnorm) of the segment and of the whole track;
- speech probability per second (silero-vad), and speech / silence / other
  shares of the segment. "Other" is every non-silent, non-speech frame: music,
  effects and ambience are not told apart because no offline sound-event model
  ships with the installed packages.

Frame features are computed over the whole track in blocks (bounded memory for
feature films) and pooled per segment by accumulation, so a segment boundary
never changes its neighbour's deltas.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import MediaError
from assetdb.models.vad import MODEL_ID as VAD_MODEL_ID
from assetdb.models.vad import VAD_SAMPLE_RATE, SileroVad

log = logging.getLogger(__name__)

SPACE = "audio:mfcc180@1"
# Spectral shape next to the timbre vector: octave-band contrast (6), centroid spread
# (kHz), onset rate, speech and silence shares. MFCC means alone find the same sound
# (thunder, a music cue) but not "music" as such; contrast does (see normalise_desc).
DESC_SPACE = "audio:spectral10@1"
DESC_DIM = 10
N_MFCC = 60
DIM = 3 * N_MFCC
N_FFT = 1024
HOP = 512  # 32 ms at 16 kHz: the same grid as silero-vad's windows
N_MELS = 128
CONTRAST_BANDS = 5  # octaves from 200 Hz; a 6th would pass Nyquist at 16 kHz
BLOCK_FRAMES = 9_375  # 5 minutes of frames per STFT block
CONTEXT_FRAMES = 16  # > n_fft/2/hop + delta half-width (4)
SILENCE_DBFS = -50.0  # a 32 ms frame quieter than this counts as silence
SPEECH_PROB = 0.5
MIN_LOUDNESS_S = 0.4  # BS.1770 gating block
NORM_FILE = Path(__file__).with_name("sound_norm.json")
SAMPLE_RATE = VAD_SAMPLE_RATE  # 16 kHz mono: what the decoder gives and silero-vad needs


@dataclass
class Span:
    index: int | None  # segment index (None: the whole file, no catalogue segments)
    start_s: float
    end_s: float


@dataclass
class SegmentFeatures:
    index: int | None
    start_s: float
    end_s: float
    mfcc_raw: np.ndarray  # 180 float32
    vector: np.ndarray | None  # normalised, None when the segment had no audio frames
    desc_vector: np.ndarray | None = None  # normalised spectral descriptor (DESC_SPACE)
    centroid_hz: float | None = None
    centroid_std_hz: float | None = None
    contrast_db: list[float] = field(default_factory=list)
    onset_rate: float | None = None
    loudness_lufs: float | None = None
    rms_dbfs: float | None = None
    peak_dbfs: float | None = None
    speech_ratio: float | None = None
    silence_ratio: float | None = None
    other_ratio: float | None = None
    rms_curve_dbfs: list[float] = field(default_factory=list)
    speech_curve: list[float] = field(default_factory=list)


@dataclass
class AudioResult:
    status: str
    reason: str | None
    track: dict[str, Any]
    segments: list[SegmentFeatures] = field(default_factory=list)


def _db(x: float, floor: float = -120.0) -> float:
    return round(max(floor, 20.0 * math.log10(x)) if x > 0 else floor, 2)


@lru_cache(maxsize=1)
def _norm_file() -> dict[str, Any]:
    return json.loads(NORM_FILE.read_text())


def norm_stats() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, std, weight) for the 180 pooled values."""
    data = _norm_file()
    mean = np.asarray(data["mean"], np.float32)
    std = np.asarray(data["std"], np.float32)
    weight = np.asarray(data["weight"], np.float32)
    if mean.shape != (DIM,) or std.shape != (DIM,) or weight.shape != (DIM,):
        raise ValueError(f"{NORM_FILE} does not hold {DIM} values per statistic")
    return mean, np.maximum(std, 1e-6), weight


def descriptor(f: SegmentFeatures) -> np.ndarray:
    """The 10 raw spectral-shape values of a segment (see DESC_SPACE)."""
    return np.asarray(
        [
            *f.contrast_db,
            (f.centroid_std_hz or 0.0) / 1000.0,
            f.onset_rate or 0.0,
            f.speech_ratio or 0.0,
            f.silence_ratio or 0.0,
        ],
        np.float32,
    )


def normalise_desc(raw: np.ndarray) -> np.ndarray:
    """Standardise the descriptor with the corpus statistics and L2-normalise.

    Measured when the feature was built: four music clips not in the archive, precision@5 of
    music windows 0.50 with the MFCC vector alone (chance: 0.54), 1.0 with the
    score 0.5 * MFCC cosine + 0.5 * this cosine, while thunder still finds thunder.
    """
    data = _norm_file()
    mean = np.asarray(data["desc_mean"], np.float32)
    std = np.maximum(np.asarray(data["desc_std"], np.float32), 1e-6)
    z = (np.asarray(raw, np.float32) - mean) / std
    n = float(np.linalg.norm(z))
    return (z / n).astype(np.float32) if n > 0 else z.astype(np.float32)


def normalise(raw: np.ndarray) -> np.ndarray:
    """Standardise with corpus statistics, weight and L2-normalise.

    Measured on ESC-50 + music + speech clips: raw MFCC means
    are dominated by c0 (level) and rank a dog above thunder; z-scoring every
    value lets the near-zero delta means (they telescope to (last-first)/n)
    add noise. Weights: c0 = 0 (loudness is stored on its own), MFCC means 1,
    delta and delta-delta means 0.5.
    """
    mean, std, weight = norm_stats()
    z = (np.asarray(raw, np.float32) - mean) / std * weight
    n = float(np.linalg.norm(z))
    return (z / n).astype(np.float32) if n > 0 else z.astype(np.float32)


def _block_frames(y: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """Frame features of a block: mfcc(60), delta, delta2, centroid, contrast, rms, onset env."""
    import librosa

    if len(y) < N_FFT:
        y = np.pad(y, (0, N_FFT - len(y)))
    stft = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True))
    power = stft**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=N_MELS)
    log_mel = librosa.power_to_db(mel)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=N_MFCC)
    width = min(9, mfcc.shape[1] - (1 - mfcc.shape[1] % 2)) if mfcc.shape[1] >= 3 else 0
    if width >= 3:
        d1 = librosa.feature.delta(mfcc, width=width, order=1)
        d2 = librosa.feature.delta(mfcc, width=width, order=2)
    else:
        d1 = np.zeros_like(mfcc)
        d2 = np.zeros_like(mfcc)
    centroid = librosa.feature.spectral_centroid(S=stft, sr=sr)[0]
    contrast = librosa.feature.spectral_contrast(
        S=stft, sr=sr, n_fft=N_FFT, n_bands=CONTRAST_BANDS, fmin=200.0
    )
    rms = librosa.feature.rms(S=stft, frame_length=N_FFT)[0]
    onset = librosa.onset.onset_strength(S=log_mel, sr=sr)
    return {
        "mfcc": np.vstack([mfcc, d1, d2]).T.astype(np.float32),  # (frames, 180)
        "centroid": centroid.astype(np.float32),
        "contrast": contrast.T.astype(np.float32),
        "rms": rms.astype(np.float32),
        "onset": onset.astype(np.float32),
    }


def frame_features(samples: np.ndarray, sr: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """Frame features over a whole track, computed in blocks with context so the
    result equals one pass (frame i is centred on sample i*HOP)."""
    n_frames = 1 + len(samples) // HOP
    parts: dict[str, list[np.ndarray]] = {}
    for f0 in range(0, n_frames, BLOCK_FRAMES):
        f1 = min(n_frames, f0 + BLOCK_FRAMES)
        c0 = max(0, f0 - CONTEXT_FRAMES)
        c1 = min(n_frames, f1 + CONTEXT_FRAMES)
        y = samples[c0 * HOP : (c1 - 1) * HOP + 1] if c1 - 1 > c0 else samples[c0 * HOP :]
        feats = _block_frames(y, sr)
        for k, v in feats.items():
            parts.setdefault(k, []).append(v[f0 - c0 : f0 - c0 + (f1 - f0)])
    return {k: np.concatenate(v) for k, v in parts.items()}


def _loudness(y: np.ndarray, sr: int) -> float | None:
    if len(y) < MIN_LOUDNESS_S * sr:
        return None
    import pyloudnorm

    value = pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64))
    return round(float(value), 2) if np.isfinite(value) else None


def _onset_count(env: np.ndarray, sr: int) -> int:
    """Onsets in an onset-strength envelope, picked as librosa.onset.onset_detect does
    (normalise, then librosa's peak_pick rule with its default windows), in numpy:
    librosa's numba gufunc for peak_pick segfaults when it is compiled fresh (numba 0.68,
    numpy 2.4), which a new install always does."""
    x = np.asarray(env, dtype=np.float64).ravel()
    n = len(x)
    if n < 3:
        return 0
    x = x - x.min()
    if x.max() > 0:
        x = x / x.max()
    frames_per_s = sr / HOP
    pre_max = int(0.03 * frames_per_s)
    post_max = int(0.00 * frames_per_s + 1)
    pre_avg = int(0.10 * frames_per_s)
    post_avg = int(0.10 * frames_per_s + 1)
    wait = int(0.03 * frames_per_s)
    delta = 0.07
    count = 0
    last = -np.inf
    csum = np.concatenate([[0.0], np.cumsum(x)])
    for i in range(n):
        lo, hi = max(0, i - pre_max), min(n, i + post_max)
        if x[i] != x[lo:hi].max():
            continue
        alo, ahi = max(0, i - pre_avg), min(n, i + post_avg)
        if x[i] < (csum[ahi] - csum[alo]) / (ahi - alo) + delta:
            continue
        if i - last <= wait:
            continue
        count += 1
        last = i
    return count


def _per_second(values: np.ndarray, frames_per_s: float, n_sec: int, fn) -> list[float]:
    out = []
    for s in range(n_sec):
        a = round(s * frames_per_s)
        b = max(a + 1, round((s + 1) * frames_per_s))
        seg = values[a:b]
        out.append(fn(seg) if len(seg) else None)
    return out


def featurise(
    audio: Any,
    spans: list[Span],
    vad_probs: np.ndarray | None,
    frames: dict[str, np.ndarray] | None = None,
) -> list[SegmentFeatures]:
    """Pool frame features per span. ``vad_probs`` are silero's 32 ms windows
    (the same grid as the STFT frames here)."""
    sr = audio.sample_rate
    y = audio.samples
    if frames is None:
        frames = frame_features(y, sr)
    n = len(frames["rms"])
    fps = sr / HOP
    rms_db = 20 * np.log10(np.maximum(frames["rms"], 1e-6))
    silent = rms_db < SILENCE_DBFS
    speech = None
    if vad_probs is not None and len(vad_probs):
        speech = np.zeros(n, np.float32)
        m = min(n, len(vad_probs))
        speech[:m] = vad_probs[:m]
    out: list[SegmentFeatures] = []
    for span in spans:
        a = max(0, round(span.start_s * fps))
        b = min(n, round(span.end_s * fps))
        if b <= a:
            # a shot past the end of the sound (audio shorter than video)
            out.append(
                SegmentFeatures(
                    span.index, span.start_s, span.end_s, np.zeros(DIM, np.float32), None
                )
            )
            continue
        raw = frames["mfcc"][a:b].mean(axis=0)
        cen = frames["centroid"][a:b]
        ys = y[int(span.start_s * sr) : int(span.end_s * sr)]
        dur = max((b - a) / fps, 1e-9)
        n_sec = max(1, math.ceil(span.end_s - span.start_s - 1e-6))
        sil = silent[a:b]
        f = SegmentFeatures(
            index=span.index,
            start_s=span.start_s,
            end_s=span.end_s,
            mfcc_raw=raw.astype(np.float32),
            vector=normalise(raw),
            centroid_hz=round(float(cen.mean()), 1),
            centroid_std_hz=round(float(cen.std()), 1),
            contrast_db=[round(float(v), 2) for v in frames["contrast"][a:b].mean(axis=0)],
            onset_rate=round(_onset_count(frames["onset"][a:b], sr) / dur, 3),
            loudness_lufs=_loudness(ys, sr),
            rms_dbfs=_db(float(np.sqrt(np.mean(ys.astype(np.float64) ** 2))) if len(ys) else 0),
            peak_dbfs=_db(float(np.abs(ys).max()) if len(ys) else 0),
            silence_ratio=round(float(sil.mean()), 3),
            rms_curve_dbfs=_per_second(
                frames["rms"][a:b],
                fps,
                n_sec,
                lambda v: _db(float(np.sqrt(np.mean(v.astype(np.float64) ** 2)))),
            ),
        )
        if speech is not None:
            sp = (speech[a:b] >= SPEECH_PROB) & ~sil
            f.speech_ratio = round(float(sp.mean()), 3)
            f.other_ratio = round(float((~sp & ~sil).mean()), 3)
            f.speech_curve = _per_second(
                speech[a:b], fps, n_sec, lambda v: round(float(v.mean()), 3)
            )
        if "desc_mean" in _norm_file():
            f.desc_vector = normalise_desc(descriptor(f))
        out.append(f)
    return out


def analyse(path: Path, spans: list[Span] | None = None, *, vad: SileroVad | None = None
            ) -> AudioResult:
    """Decode ``path`` and featurise ``spans`` (default: the whole file as one span)."""
    # The one audio decoder (moves to assetdb.media.audio with the media layer).
    from assetdb.media.audio import decode_audio

    try:
        audio = decode_audio(path)
    except MediaError as exc:
        return AudioResult("undecodable", str(exc), {})
    return analyse_audio(audio, spans, vad=vad)


def analyse_audio(audio: Any, spans: list[Span] | None = None, *,
                  vad: SileroVad | None = None) -> AudioResult:
    """Featurise decoded audio (``samples``, ``sample_rate``, ``duration_s``, ``usable``,
    ``status``... as the audio decoder returns them)."""
    track: dict[str, Any] = {
        "stream_index": audio.stream_index,
        "codec": audio.codec,
        "source_rate": audio.source_rate,
        "channels": audio.channels,
        "layout": audio.layout,
        "sample_rate": audio.sample_rate,
        "duration_ms": round(audio.duration_s * 1000),
        "decode_errors": audio.decode_errors,
    }
    if not audio.usable:
        if audio.status == "silent":
            track.update(peak_dbfs=_db(audio.peak), speech_ratio=0.0, silence_ratio=1.0)
        return AudioResult(audio.status, audio.reason, track)
    if spans is None:
        spans = [Span(None, 0.0, audio.duration_s)]
    vad = vad or SileroVad.shared()
    probs = vad.probabilities(audio.samples, audio.sample_rate)
    frames = frame_features(audio.samples, audio.sample_rate)
    segs = featurise(audio, spans, probs, frames)
    whole = featurise(audio, [Span(None, 0.0, audio.duration_s)], probs, frames)[0]
    track.update(
        loudness_lufs=_loudness(audio.samples, audio.sample_rate),
        peak_dbfs=_db(audio.peak),
        speech_ratio=whole.speech_ratio,
        silence_ratio=whole.silence_ratio,
        vad_model=VAD_MODEL_ID,
    )
    return AudioResult(audio.status, audio.reason, track, segs)
