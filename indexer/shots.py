"""Shot detection over one decoding pass.

PySceneDetect's AdaptiveDetector (content change relative to a rolling window, robust
to camera motion) finds cuts, its ThresholdDetector finds fades through black; both are
fed frames we decode with PyAV, with each frame's real pts, so timecodes stay exact for
variable-frame-rate sources. The same pass records per-frame image statistics used to
choose keyframes (never a black or blank frame when a better one exists).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from assetdb.media.frames import fit_width, iter_frames

log = logging.getLogger(__name__)

VERSION = "1"
ANALYSIS_WIDTH_PX = 256
MIN_SHOT_S = 0.5
ADAPTIVE_THRESHOLD = 3.0
MIN_CONTENT_VAL = 15.0
FADE_THRESHOLD = 12


@dataclass
class FrameStats:
    """Per-frame statistics from the analysis pass (arrays indexed by frame)."""

    pts: np.ndarray  # int64, relative to the first frame
    brightness: np.ndarray  # mean luma 0..255
    contrast: np.ndarray  # luma std
    sharpness: np.ndarray  # variance of the Laplacian
    colourfulness: np.ndarray


@dataclass
class ShotCut:
    frame: int  # first frame of the new shot
    transition: str  # cut|fade


@dataclass
class ShotAnalysis:
    time_base: Fraction
    frame_count: int
    end_pts: int  # exclusive end of the last frame
    cuts: list[ShotCut] = field(default_factory=list)
    stats: FrameStats | None = None

    def ranges(self) -> list[tuple[int, int, str | None]]:
        """(start_frame, end_frame exclusive, transition) per shot."""
        starts = [(0, None)] + [(c.frame, c.transition) for c in self.cuts]
        out = []
        for i, (s, tr) in enumerate(starts):
            e = starts[i + 1][0] if i + 1 < len(starts) else self.frame_count
            if e > s:
                out.append((s, e, tr))
        return out


def _frame_stats(bgr: np.ndarray) -> tuple[float, float, float, float]:
    import cv2

    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    lap = cv2.Laplacian(gray, cv2.CV_32F)
    b, g, r = (bgr[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colour = float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    return float(gray.mean()), float(gray.std()), float(lap.var()), colour


@dataclass
class ShotChunk:
    """The analysis pass over one stretch of a video: every frame whose timestamp is in
    the stretch (pts, image statistics) and the cuts found there. Chunks of one file
    cover disjoint pts ranges, so joined they are exactly the whole pass."""

    time_base: Fraction
    pts: np.ndarray  # int64
    stats: np.ndarray  # (n, 4): brightness, contrast, sharpness, colourfulness
    cut_pts: dict[int, str] = field(default_factory=dict)


# A chunk starts decoding this long before its stretch, so that the detectors' rolling
# windows and fade state are those of a single pass when the stretch begins.
WARMUP_S = 3.0


def analyse_chunk(
    path: Path, frame_rate: Fraction | None, stream_index: int | None = None,
    start_s: float | None = None, end_s: float | None = None,
) -> ShotChunk:
    """The analysis pass over [start_s, end_s) of the video (None: from the first frame /
    to the last); a cut is kept in the chunk that holds its first frame."""
    from scenedetect import AdaptiveDetector, FrameTimecode, ThresholdDetector
    from scenedetect.common import Timecode

    fps = frame_rate or Fraction(25)
    min_len = max(1, round(float(fps) * MIN_SHOT_S))
    adaptive = AdaptiveDetector(
        adaptive_threshold=ADAPTIVE_THRESHOLD, min_scene_len=min_len, min_content_val=MIN_CONTENT_VAL
    )
    fades = ThresholdDetector(threshold=FADE_THRESHOLD, min_scene_len=min_len, fade_bias=0.0)
    pts_list: list[int] = []
    stats: list[tuple[float, float, float, float]] = []
    cut_times: dict[int, str] = {}
    tb = Fraction(1, 1000)
    tc = None
    lo = hi = None

    def record(cuts, kind: str) -> None:
        for c in cuts:
            p = int(c.pts)
            if (lo is None or p >= lo) and (hi is None or p < hi):
                cut_times.setdefault(p, kind)

    size = None
    start = None if not start_s else max(0.0, start_s - WARMUP_S)
    for fr in iter_frames(path, stream_index, start=start):
        tb = fr.time.time_base
        if lo is None and start_s:
            lo = round(Fraction(start_s).limit_denominator(1 << 20) / tb)
        if hi is None and end_s is not None:
            hi = round(Fraction(end_s).limit_denominator(1 << 20) / tb)
        if hi is not None and fr.time.ts >= hi + round(WARMUP_S / tb):
            break  # past the stretch, and past any cut the detectors still owe it
        size = size or fit_width(fr.width, fr.height, ANALYSIS_WIDTH_PX)
        bgr = fr.to_ndarray("bgr24", *size)
        tc = FrameTimecode(Timecode(pts=fr.time.ts, time_base=tb), fps)
        if (lo is None or fr.time.ts >= lo) and (hi is None or fr.time.ts < hi):
            pts_list.append(fr.time.ts)
            stats.append(_frame_stats(bgr))
        record(adaptive.process_frame(tc, bgr), "cut")
        record(fades.process_frame(tc, bgr), "fade")
    if tc is not None:
        record(adaptive.post_process(tc), "cut")
        record(fades.post_process(tc), "fade")
    return ShotChunk(tb, np.asarray(pts_list, dtype=np.int64),
                     np.asarray(stats, dtype=np.float64).reshape(-1, 4), cut_times)


def join_chunks(chunks: list[ShotChunk], frame_rate: Fraction | None) -> ShotAnalysis:
    """The shot analysis of a whole video from its chunks (in time order, or one chunk
    for a single pass)."""
    fps = frame_rate or Fraction(25)
    min_len = max(1, round(float(fps) * MIN_SHOT_S))
    tb = chunks[0].time_base if chunks else Fraction(1, 1000)
    pts = np.concatenate([c.pts for c in chunks]) if chunks else np.zeros(0, np.int64)
    arr = (np.concatenate([c.stats for c in chunks]) if chunks
           else np.zeros((0, 4), np.float64))
    cut_times: dict[int, str] = {}
    for c in chunks:
        cut_times.update(c.cut_pts)
    n = len(pts)
    step = int(np.median(np.diff(pts))) if n > 1 else max(1, round(1 / (fps * tb)))
    analysis = ShotAnalysis(time_base=tb, frame_count=n, end_pts=int(pts[-1]) + step if n else 0)
    analysis.stats = FrameStats(pts, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
    # map cut pts to frame indices; drop cuts too close to the previous one
    frames = sorted({int(np.searchsorted(pts, p)): k for p, k in cut_times.items()}.items())
    last = 0
    for f, kind in frames:
        if f <= 0 or f >= n:
            continue
        if f - last < min_len:
            continue
        analysis.cuts.append(ShotCut(frame=f, transition=kind))
        last = f
    return analysis


def detect_shots(path: Path, frame_rate: Fraction | None, stream_index: int | None = None) -> ShotAnalysis:
    """Shots of the whole video in one pass."""
    return join_chunks([analyse_chunk(path, frame_rate, stream_index)], frame_rate)
