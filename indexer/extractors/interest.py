"""Extractor "interest": per-second interestingness signals measured from the media.

Video is decoded (``assetdb.media.frames.iter_frames``) at low resolution (``WIDTH_PX``
wide) and sampled at ``SAMPLE_FPS`` frames per second. For each sample:

- motion: mean absolute luma difference with the previous sample (0..1)
- change: half L1 distance between the 4x4x4 RGB histograms of consecutive samples (0..1)
- sharpness: log10(1 + variance of the Laplacian of the luma)
- brightness / contrast: mean / standard deviation of the luma (0..1)
- blank: 1 when the frame is black, white or flat (contrast < ``FLAT_STD``, or mean
  luma below ``BLACK_LUMA`` / above ``WHITE_LUMA``), else 0

Samples are averaged into one-second bins (``t0_s`` = first frame time). "novelty" of a
second is the half-L1 distance between its mean histogram and the mean histogram of all
other seconds of the clip.

Audio (first decodable audio stream, ``assetdb.media.audio``, mono at ``AUDIO_SR``)
gives per second ``rms_db`` (dBFS), ``loudness_lufs`` (BS.1770 K-weighted mean-square
over the second, via pyloudnorm's filters; -70 floor) and ``onset`` (mean spectral flux
of the log spectrum). A track that fails to decode does not fail the stage: the audio
curves are ``None`` and the error is stored (``audio_state="failed"``).

Per shot (segment) the summary is the mean of the samples inside it, plus the shot's
novelty against the asset's other shots; its colour histogram is the diversity signature.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import MediaError
from assetdb.media.audio import STATUS_NO_AUDIO, STATUS_UNDECODABLE, decode_audio
from assetdb.media.frames import Frame, iter_frames
from indexer.extractors.base import Extractor
from indexer.work import AssetWork

log = logging.getLogger(__name__)

SAMPLE_FPS = 4.0
WIDTH_PX = 160
HIST_BINS = 4  # per channel -> 64-d signature
FLAT_STD = 0.03
BLACK_LUMA = 0.07
WHITE_LUMA = 0.95
AUDIO_SR = 22050
LOUDNESS_FLOOR = -70.0

VIDEO_SIGNALS = ("motion", "change", "sharpness", "brightness", "contrast", "blank")
AUDIO_SIGNALS = ("rms_db", "loudness_lufs", "onset")


@dataclass
class Samples:
    """Per-sample measurements of the video stream (times in seconds, pts-based)."""

    t: np.ndarray
    values: dict[str, np.ndarray]
    hists: np.ndarray  # (n, 64)
    # runs of consecutive black / white / flat frames, every frame checked: [[start, end)]
    blank_runs: list[list[float]] = field(default_factory=list)


def _frame_luma(frame: Frame) -> tuple[float, float]:
    """Mean and std of the luma (0..1, full range) of a whole frame, cheaply: every 8th
    pixel of the Y plane for planar YUV, a small gray conversion otherwise."""
    y = frame.luma_sample(8)
    return float(np.clip(y, 0, 255).mean()) / 255.0, float(y.std()) / 255.0


def _is_blank(mean: float, std: float) -> bool:
    return std < FLAT_STD or mean < BLACK_LUMA or mean > WHITE_LUMA


@dataclass
class AudioCurves:
    state: str  # ok|none|failed
    error: str | None = None
    curves: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass
class InterestResult:
    t0_s: float
    hop_s: float
    sample_fps: float
    signals: dict[str, list[float | None]]
    audio_state: str
    audio_error: str | None
    shots: list[dict[str, Any]]  # {"segment_index", "summary", "signature"}


def _hist(rgb: np.ndarray) -> np.ndarray:
    q = (rgb >> (8 - 2)).astype(np.int32)  # 4 levels per channel
    idx = (q[..., 0] * HIST_BINS + q[..., 1]) * HIST_BINS + q[..., 2]
    h = np.bincount(idx.ravel(), minlength=HIST_BINS**3).astype(np.float64)
    return h / max(h.sum(), 1.0)


def _laplacian_var(gray: np.ndarray) -> float:
    g = gray.astype(np.float32)
    lap = -4.0 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def sample_video(path: Path, *, sample_fps: float = SAMPLE_FPS, width: int = WIDTH_PX) -> Samples:
    """Decode the first video stream and measure ``sample_fps`` frames per second."""
    ts: list[float] = []
    vals: dict[str, list[float]] = {k: [] for k in VIDEO_SIGNALS}
    hists: list[np.ndarray] = []
    prev_gray: np.ndarray | None = None
    prev_hist: np.ndarray | None = None
    next_t: float | None = None
    step = 1.0 / sample_fps
    runs: list[list[float]] = []
    run_open = False
    try:
        h = None
        for frame in iter_frames(path):
            if frame.source_pts is None:
                continue
            t = frame.source_time_s
            blank = _is_blank(*_frame_luma(frame))
            if blank and not run_open:
                runs.append([t, t])
                run_open = True
            elif not blank and run_open:
                runs[-1][1] = t  # the run ends where the first non-blank frame starts
                run_open = False
            if next_t is not None and t < next_t - 1e-6:
                continue
            next_t = (t if next_t is None else next_t) + step
            if h is None:
                h = max(2, round(width * frame.height / max(frame.width, 1) / 2) * 2)
            rgb = frame.to_ndarray("rgb24", width, h)
            gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
            hist = _hist(rgb)
            mean = float(gray.mean()) / 255.0
            std = float(gray.std()) / 255.0
            ts.append(t)
            vals["brightness"].append(mean)
            vals["contrast"].append(std)
            vals["sharpness"].append(float(np.log10(1.0 + _laplacian_var(gray))))
            vals["blank"].append(
                float(std < FLAT_STD or mean < BLACK_LUMA or mean > WHITE_LUMA)
            )
            if prev_gray is None:
                vals["motion"].append(0.0)
                vals["change"].append(0.0)
            else:
                vals["motion"].append(float(np.abs(gray - prev_gray).mean()) / 255.0)
                vals["change"].append(0.5 * float(np.abs(hist - prev_hist).sum()))
            prev_gray, prev_hist = gray, hist
            hists.append(hist)
    except MediaError as exc:
        if not ts:
            raise MediaError(f"{path}: cannot decode video: {exc}") from exc
        log.warning("%s: video decode stopped early: %s", path, exc)
    if not ts:
        raise MediaError(f"{path}: no decodable video frames")
    if run_open:
        runs[-1][1] = float("inf")  # blank to the end of the stream
    # the first sample has no predecessor: give it its successor's motion
    if len(ts) > 1:
        vals["motion"][0] = vals["motion"][1]
        vals["change"][0] = vals["change"][1]
    return Samples(
        t=np.asarray(ts),
        values={k: np.asarray(v) for k, v in vals.items()},
        hists=np.asarray(hists),
        blank_runs=[[round(a, 6), b if b == float("inf") else round(b, 6)] for a, b in runs],
    )


def spectral_flux(y: np.ndarray, hop: int = 512, n_fft: int = 1024) -> np.ndarray:
    """Onset strength: mean half-wave rectified increase of the log-magnitude spectrum
    between frames (the classic spectral-flux onset function; numpy only, so no JIT
    warm-up in every worker)."""
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    n = 1 + (y.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    frames = y[idx] * np.hanning(n_fft).astype(np.float32)
    mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(np.diff(mag, axis=0), 0.0).mean(axis=1)
    return np.concatenate([[0.0], flux])


def _k_weight(y: np.ndarray, sr: int) -> np.ndarray:
    """BS.1770 K-weighting (pyloudnorm's two filter stages)."""
    import pyloudnorm
    from scipy.signal import lfilter

    meter = pyloudnorm.Meter(sr)
    for f in meter._filters.values():  # high shelf + high pass, as pyloudnorm applies them
        y = lfilter(f.b, f.a, y)
    return y


def audio_curves(path: Path, t0_s: float, n_bins: int, hop_s: float = 1.0) -> AudioCurves:
    try:
        dec = decode_audio(path, AUDIO_SR)
    except MediaError as exc:
        log.warning("%s: audio track failed to decode: %s", path, exc)
        return AudioCurves(state="failed", error=str(exc))
    if dec.status == STATUS_NO_AUDIO:
        return AudioCurves(state="none")
    if dec.status == STATUS_UNDECODABLE:
        log.warning("%s: audio track failed to decode: %s", path, dec.reason)
        return AudioCurves(state="failed", error=dec.reason or "the audio track does not decode")
    y, a0 = dec.samples, dec.origin_s
    sr = AUDIO_SR
    if y.size < sr // 10:
        return AudioCurves(state="failed", error="audio track decoded to (almost) no samples")
    kw = _k_weight(y.astype(np.float64), sr)
    hop = 512
    onset = spectral_flux(y, hop)
    onset_t = a0 + np.arange(onset.size) * hop / sr
    rms_db: list[float | None] = []
    lufs: list[float | None] = []
    ons: list[float | None] = []
    for k in range(n_bins):
        t_lo = t0_s + k * hop_s
        lo = round((t_lo - a0) * sr)
        hi = round((t_lo + hop_s - a0) * sr)
        lo, hi = max(lo, 0), min(hi, y.size)
        if hi - lo < sr // 20:
            rms_db.append(None)
            lufs.append(None)
            ons.append(None)
            continue
        seg = y[lo:hi].astype(np.float64)
        rms = float(np.sqrt(np.mean(seg**2)))
        rms_db.append(max(20.0 * np.log10(rms + 1e-12), LOUDNESS_FLOOR))
        ms = float(np.mean(kw[lo:hi] ** 2))
        lufs.append(max(-0.691 + 10.0 * np.log10(ms + 1e-12), LOUDNESS_FLOOR))
        sel = (onset_t >= t_lo) & (onset_t < t_lo + hop_s)
        ons.append(float(onset[sel].mean()) if sel.any() else None)
    return AudioCurves(state="ok", curves={"rms_db": rms_db, "loudness_lufs": lufs, "onset": ons})


def _half_l1(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())


def _novelty(hists: np.ndarray) -> np.ndarray:
    """Half-L1 distance of each row to the mean of all other rows."""
    n = hists.shape[0]
    if n < 2:
        return np.zeros(n)
    total = hists.sum(axis=0)
    return np.array([_half_l1(hists[i], (total - hists[i]) / (n - 1)) for i in range(n)])


def _clean(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def compute_interest(work: AssetWork) -> InterestResult:
    """Measure everything for one asset (pure: reads the media file only)."""
    samples = sample_video(work.path)
    hop_s = 1.0
    t0 = float(samples.t[0])
    bins = np.floor((samples.t - t0) / hop_s).astype(int)
    end_t = t0 + (work.duration_s or 0.0)
    n_bins = max(int(bins.max()) + 1, int(np.ceil((end_t - t0) / hop_s - 1e-6)), 1)
    signals: dict[str, list[float | None]] = {}
    bin_hists = np.zeros((n_bins, samples.hists.shape[1]))
    filled = np.zeros(n_bins, dtype=bool)
    for k in range(n_bins):
        sel = bins == k
        if sel.any():
            bin_hists[k] = samples.hists[sel].mean(axis=0)
            filled[k] = True
    for name, v in samples.values.items():
        signals[name] = [_clean(v[bins == k].mean()) if filled[k] else None for k in range(n_bins)]
    nov = np.zeros(n_bins)
    nov[filled] = _novelty(bin_hists[filled])
    signals["novelty"] = [_clean(nov[k]) if filled[k] else None for k in range(n_bins)]

    # JSON has no infinity: an open run ends at the asset's end
    end_all = max(end_t, float(samples.t[-1]) + 1.0)
    signals["blank_runs"] = [
        [a, end_all if b == float("inf") else b] for a, b in samples.blank_runs
    ]

    audio = audio_curves(work.path, t0, n_bins, hop_s)
    for name in AUDIO_SIGNALS:
        signals[name] = [
            _clean(x) if x is not None else None for x in audio.curves.get(name, [])
        ] or [None] * n_bins

    # per-shot summaries
    segs = [s for s in work.segments if s.kind == "shot"] or list(work.segments)
    shot_hists: list[np.ndarray] = []
    shots: list[dict[str, Any]] = []
    for seg in segs:
        sel = (samples.t >= seg.start_s - 1e-6) & (samples.t < seg.end_s - 1e-6)
        if not sel.any():  # a shot shorter than the sampling step: nearest sample
            sel = np.zeros(samples.t.size, dtype=bool)
            sel[int(np.argmin(np.abs(samples.t - seg.start_s)))] = True
        summary: dict[str, Any] = {k: _clean(v[sel].mean()) for k, v in samples.values.items()}
        # within-shot change excludes the cut into the shot (the first sample)
        idx = np.flatnonzero(sel)
        inner = idx[1:] if idx.size > 1 else idx
        summary["change"] = _clean(samples.values["change"][inner].mean())
        summary["motion"] = _clean(samples.values["motion"][inner].mean())
        for name in AUDIO_SIGNALS:
            curve = signals[name]
            ks = [
                k
                for k in range(n_bins)
                if t0 + (k + 1) * hop_s > seg.start_s and t0 + k * hop_s < seg.end_s
            ]
            vals = [curve[k] for k in ks if k < len(curve) and curve[k] is not None]
            summary[name] = _clean(float(np.mean(vals))) if vals else None
        h = samples.hists[sel].mean(axis=0)
        shot_hists.append(h)
        shots.append(
            {
                "segment_index": seg.index,
                "summary": summary,
                "signature": [round(float(x), 6) for x in h],
            }
        )
    if shot_hists:
        snov = _novelty(np.asarray(shot_hists))
        for s, v in zip(shots, snov, strict=True):
            s["summary"]["novelty"] = _clean(v)
    return InterestResult(
        t0_s=t0,
        hop_s=hop_s,
        sample_fps=SAMPLE_FPS,
        signals=signals,
        audio_state=audio.state,
        audio_error=audio.error,
        shots=shots,
    )


class InterestExtractor(Extractor):
    name = "interest"
    version = "1"
    kinds = frozenset({"video"})

    def run(self, batch: list[AssetWork]) -> list[InterestResult]:
        return [compute_interest(w) for w in batch]

