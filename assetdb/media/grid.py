"""Frame grids of video streams: the real presentation timestamps of every frame,
read by demuxing (no decoding), so cuts land on frames that exist (VFR included).

Unlike ``assetdb.media.frames`` (times relative to the first frame), a grid keeps the
stream's own timestamps: ``FrameGrid.time`` is container time, what a renderer seeks to.
The stream is the one ``frames.video_stream`` picks (the first that is not cover art).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from assetdb.errors import MediaError


@dataclass(frozen=True)
class FrameGrid:
    time_base: Fraction
    pts: np.ndarray  # sorted int64, one per frame
    end_pts: int  # exclusive end of the last frame
    rate: Fraction  # nominal frame rate (r_frame_rate)
    variable: bool
    width: int = 0
    height: int = 0
    sar: Fraction = Fraction(1)

    @property
    def n(self) -> int:
        return int(self.pts.size)

    def time(self, frame: int) -> Fraction:
        """Start time (s) of frame ``frame``; ``n`` gives the end of the stream."""
        p = int(self.pts[frame]) if frame < self.n else self.end_pts
        return p * self.time_base

    def on_rate_grid(self) -> bool:
        """True when every frame time is a whole number of nominal frame periods from the
        first frame (CFR, or VFR whose frames were dropped from a constant grid)."""
        x = (self.pts - self.pts[0]).astype(object) * self.time_base * self.rate
        return all(v.denominator == 1 for v in x)

    def nearest_frame(self, t_s: float) -> int:
        """The frame boundary (0..n) nearest to ``t_s``."""
        bounds = np.append(self.pts, self.end_pts).astype(np.float64) * float(self.time_base)
        return int(np.argmin(np.abs(bounds - t_s)))


@lru_cache(maxsize=64)
def _grid(path: str, mtime_ns: int) -> FrameGrid:
    from assetdb.media.frames import open_container, video_stream

    try:
        with open_container(path) as c:
            st = video_stream(c)
            tb = Fraction(st.time_base.numerator, st.time_base.denominator)
            pts: list[int] = []
            durs: list[int] = []
            for pkt in c.demux(st):
                if pkt.pts is None or pkt.size == 0:
                    continue
                pts.append(int(pkt.pts))
                durs.append(int(pkt.duration or 0))
            # the stream's own frame rate (r_frame_rate), not the average: a VFR file with
            # dropped frames keeps its frames on this grid
            rate = st.guessed_rate or st.average_rate or Fraction(25)
            sar = st.codec_context.sample_aspect_ratio
            size = (st.codec_context.width, st.codec_context.height)
    except MediaError as exc:
        raise MediaError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc}") from exc
    if not pts:
        raise MediaError(f"{path}: no video frames")
    arr = np.unique(np.asarray(pts, dtype=np.int64))
    rate = Fraction(rate.numerator, rate.denominator)
    if arr.size > 1:
        step = int(np.median(np.diff(arr)))
        variable = bool(np.ptp(np.diff(arr)) > max(1, step // 10))
    else:
        step = max(durs[0], 1) if durs else max(1, round(1 / (rate * tb)))
        variable = False
    last_dur = durs[int(np.argmax(pts))] if durs and max(durs) > 0 else step
    sar_f = Fraction(sar.numerator, sar.denominator) if sar and sar.numerator else Fraction(1)
    return FrameGrid(
        tb, arr, int(arr[-1]) + (last_dur or step), rate, variable, size[0], size[1], sar_f
    )


def frame_grid(path: Path | str) -> FrameGrid:
    from assetdb.media.sequences import stat

    p = Path(path)
    return _grid(str(p), stat(p)[1])  # an image sequence: its newest frame
