"""Keyframe choice and storage.

At least one keyframe per shot, one more per KEYFRAME_EVERY_S of a long shot (up to
MAX_KEYFRAMES_PER_SHOT). Each is the best frame of its stretch by a quality score
(sharpness x contrast, colourfulness as a tie-breaker), ignoring the first and last
frames of the shot (transitions) and blank frames (near-black, near-white or flat)
unless the whole stretch is blank.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.shots import FrameStats

VERSION = "1"
KEYFRAME_EVERY_S = 8.0
MAX_KEYFRAMES_PER_SHOT = 8
KEYFRAME_MAX_PX = 1280
JPEG_QUALITY = 90
BLANK_CONTRAST = 6.0
DARK_LUMA = 18.0
BRIGHT_LUMA = 245.0
EDGE_TRIM = 0.1


@dataclass
class KeyframeChoice:
    frame: int
    quality: float
    blank: bool


def is_blank(brightness: float, contrast: float) -> bool:
    return contrast < BLANK_CONTRAST or brightness < DARK_LUMA or brightness > BRIGHT_LUMA


def quality_scores(stats: FrameStats) -> tuple[np.ndarray, np.ndarray]:
    sharp = np.log1p(stats.sharpness)
    contrast = np.clip(stats.contrast / 64.0, 0, 1)
    colour = np.clip(stats.colourfulness / 100.0, 0, 1)
    blank = (stats.contrast < BLANK_CONTRAST) | (stats.brightness < DARK_LUMA) | (
        stats.brightness > BRIGHT_LUMA
    )
    q = sharp * (0.25 + contrast) + 0.5 * colour
    return q, blank


def choose_keyframes(
    stats: FrameStats, start: int, end: int, seconds_per_frame: float
) -> list[KeyframeChoice]:
    n = end - start
    if n <= 0:
        return []
    q, blank = quality_scores(stats)
    dur = n * seconds_per_frame
    k = int(min(MAX_KEYFRAMES_PER_SHOT, 1 + dur // KEYFRAME_EVERY_S))
    trim = int(n * EDGE_TRIM) if n >= 10 else 0
    lo, hi = start + trim, end - trim
    bounds = np.linspace(lo, hi, k + 1).astype(int)
    out = []
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        seg_q = q[a:b].copy()
        seg_blank = blank[a:b]
        if not seg_blank.all():
            seg_q[seg_blank] = -np.inf
        else:
            # all blank here: look at the whole shot for something better
            whole = q[start:end].copy()
            wb = blank[start:end]
            if not wb.all():
                whole[wb] = -np.inf
                i = int(np.argmax(whole)) + start
                out.append(KeyframeChoice(i, float(q[i]), False))
                continue
        i = int(np.argmax(seg_q)) + a
        out.append(KeyframeChoice(i, float(q[i]), bool(blank[i])))
    uniq = {c.frame: c for c in out}
    return [uniq[f] for f in sorted(uniq)]


def save_jpeg(rgb: np.ndarray, path: Path, max_px: int = KEYFRAME_MAX_PX) -> tuple[int, int]:
    from PIL import Image

    im = Image.fromarray(rgb)
    if max(im.size) > max_px:
        im.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.jpg")
    im.save(tmp, "JPEG", quality=JPEG_QUALITY)
    tmp.replace(path)
    return im.size


def image_stats(rgb: np.ndarray) -> dict[str, float]:
    import cv2

    from indexer.shots import _frame_stats

    small = rgb
    if max(rgb.shape[:2]) > 512:
        s = 512 / max(rgb.shape[:2])
        small = cv2.resize(rgb, (int(rgb.shape[1] * s), int(rgb.shape[0] * s)))
    b, c, sh, col = _frame_stats(np.ascontiguousarray(small[..., ::-1]))
    return {"brightness": b, "contrast": c, "sharpness": sh, "colourfulness": col,
            "blank": float(is_blank(b, c))}
