"""A highlight reel: its clips on their sources' frame grids, how chosen windows are
put on real frames (to within one frame of the budget) and the dissolves between them.
Clip timecodes follow :mod:`assetdb.timecode` (in inclusive, out exclusive)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from typing import Any

from assetdb.highlights.interest import AssetScores, ShotScore
from assetdb.timecode import frames_to_smpte, range_timecodes


@dataclass
class Clip:
    asset_id: int
    path: str
    segment_id: int
    segment_index: int
    start_frame: int  # on the source's frame grid (decode order of real frames)
    end_frame: int  # exclusive
    start_s: Fraction  # exact start time of start_frame (pts * time base)
    end_s: Fraction
    rate: Fraction  # nominal frame rate of the source
    time_base: Fraction
    start_pts: int
    end_pts: int
    variable_rate: bool
    score: float
    has_audio: bool
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    # dissolves with the previous / next clip, in frames of the reel's rate, as
    # (frames before the cut, frames after the cut); the frames a dissolve uses beyond a
    # cut (handles) lie inside [handle_lo_frame, handle_hi_frame) of the same shot
    xfade_in: tuple[int, int] = (0, 0)
    xfade_out: tuple[int, int] = (0, 0)
    handle_lo_frame: int = 0
    handle_hi_frame: int = 0
    handle_lo_s: Fraction = Fraction(0)
    handle_hi_s: Fraction = Fraction(0)
    width: int | None = None
    height: int | None = None
    source_frames: int = 0
    # the source's start timecode (frames at its rate) and tape/reel name
    tc_start: int = 0
    tc_drop: bool | None = None  # None: drop-frame where the rate has it (29.97, 59.94)
    tape: str | None = None
    has_video: bool = True  # False: a sound-only source, on audio tracks only

    @property
    def duration_s(self) -> Fraction:
        return self.end_s - self.start_s

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    def to_dict(self) -> dict[str, Any]:
        tc_in, tc_out = self.timecodes()
        return {
            "asset_id": self.asset_id,
            "path": self.path,
            "segment_id": self.segment_id,
            "segment_index": self.segment_index,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "start_s": float(self.start_s),
            "end_s": float(self.end_s),
            "duration_s": float(self.duration_s),
            "rate": f"{self.rate.numerator}/{self.rate.denominator}",
            "time_base": f"{self.time_base.numerator}/{self.time_base.denominator}",
            "start_pts": self.start_pts,
            "end_pts": self.end_pts,
            "variable_rate": self.variable_rate,
            "score": round(self.score, 4),
            "has_audio": self.has_audio,
            "fade_in_s": self.fade_in_s,
            "fade_out_s": self.fade_out_s,
            "xfade_in": list(self.xfade_in),
            "xfade_out": list(self.xfade_out),
            "tc_in": tc_in,
            "tc_out": tc_out,
            "tc_start_frames": self.tc_start,
            "reel": self.tape,
        }

    def timecodes(self) -> tuple[str | None, str | None]:
        """Source timecodes of the clip (in inclusive, out exclusive): with a start
        timecode, that plus the frame on the source's grid (as the EDL and OTIO count);
        without one, by the rule of :mod:`assetdb.timecode`."""
        if self.variable_rate or (not self.tc_start and self.tc_drop is None):
            return range_timecodes(self.start_s, self.end_s, self.rate)
        rate = self.rate if self.tc_drop is not False else Fraction(round(float(self.rate)))
        return (frames_to_smpte(self.tc_start + self.start_frame, rate),
                frames_to_smpte(self.tc_start + self.end_frame, rate))


@dataclass
class Reel:
    clips: list[Clip]
    target_s: float
    order: str
    warnings: list[str] = field(default_factory=list)
    explain: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return float(sum((c.duration_s for c in self.clips), Fraction(0)))

    @property
    def rate(self) -> Fraction:
        """The reel's frame rate (its first clip's)."""
        return self.clips[0].rate if self.clips else Fraction(25)

    def to_dict(self, explain: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "target_s": self.target_s,
            "duration_s": round(self.duration_s, 6),
            "order": self.order,
            "warnings": self.warnings,
            "clips": [c.to_dict() for c in self.clips],
        }
        if explain:
            d["explain"] = self.explain
        return d


@dataclass
class Candidate:
    shot: ShotScore
    scores: AssetScores
    lo_s: float  # the part of the shot this candidate may use
    hi_s: float
    start_s: float
    end_s: float
    value: float

    @property
    def length(self) -> float:
        return self.end_s - self.start_s



def to_frames(chosen: list[Candidate], target_s: float | None) -> list[Clip]:
    """Snap every cut to a real frame boundary; then make the total meet ``target_s``
    to within one frame by moving the end of the highest-value clip."""
    from assetdb.media.grid import frame_grid

    clips: list[Clip] = []
    grids = []
    for c in chosen:
        g = frame_grid(c.scores.path)
        # frames of this shot on the grid
        f_lo = g.nearest_frame(c.lo_s)
        f_hi = max(f_lo + 1, g.nearest_frame(c.hi_s))
        a = min(max(g.nearest_frame(c.start_s), f_lo), f_hi - 1)
        b = min(max(g.nearest_frame(c.end_s), a + 1), f_hi)
        grids.append((g, f_lo, f_hi))
        clips.append(make_clip(c, g, a, b))
    if target_s is not None and clips:
        target = Fraction(target_s).limit_denominator(10**6)
        order = sorted(range(len(clips)), key=lambda i: (-chosen[i].value, i))
        for i in order:
            g, f_lo, f_hi = grids[i]
            a, b = clips[i].start_frame, clips[i].end_frame
            others = sum((x.duration_s for j, x in enumerate(clips) if j != i), Fraction(0))
            while True:
                err = others + g.time(b) - g.time(a) - target
                moves = []
                if err < 0:
                    if b < f_hi:
                        moves.append((a, b + 1))
                    if a > f_lo:
                        moves.append((a - 1, b))
                elif err > 0 and b - a > 1:
                    moves.append((a, b - 1))
                better = [
                    m
                    for m in moves
                    if abs(others + g.time(m[1]) - g.time(m[0]) - target) < abs(err)
                ]
                if not better:
                    break
                a, b = better[0]
            clips[i] = make_clip(chosen[i], g, a, b)
    return clips


def crossfades(clips: list[Clip], crossfade_s: float, warnings: list[str]) -> None:
    """Dissolves between neighbours: centred on the cut where both clips have handles
    (usable, non-blank frames of the same shot beyond the cut), else shifted to the side
    that has them, and never longer than half of either clip."""
    rate = clips[0].rate
    want = max(1, round(crossfade_s * rate / 2))  # half a dissolve, in reel frames
    short = 0
    for a, b in pairwise(clips):
        room_a = int((a.handle_hi_s - a.end_s) * rate)  # A's frames after the cut
        room_b = int((b.start_s - b.handle_lo_s) * rate)  # B's frames before the cut
        core_a = (a.frames - sum(a.xfade_in)) // 2
        core_b = b.frames // 2
        before = max(0, min(want, room_b, core_a))
        after = max(0, min(want, room_a, core_b))
        # keep the total length when one side has no room
        extra = 2 * want - before - after
        if extra > 0 and before < min(room_b, core_a):
            before = min(before + extra, room_b, core_a)
        elif extra > 0 and after < min(room_a, core_b):
            after = min(after + extra, room_a, core_b)
        if before + after < 2 * want:
            short += 1
        a.xfade_out = b.xfade_in = (before, after)
    if short:
        warnings.append(f"{short} dissolve(s) shortened: not enough usable frames beyond the cut")


def make_clip(c: Candidate, g, a: int, b: int) -> Clip:
    f_lo = g.nearest_frame(c.lo_s)
    f_hi = max(f_lo + 1, g.nearest_frame(c.hi_s))
    return Clip(
        asset_id=c.shot.asset_id,
        path=c.scores.path,
        segment_id=c.shot.segment_id,
        segment_index=c.shot.index,
        start_frame=a,
        end_frame=b,
        start_s=g.time(a),
        end_s=g.time(b),
        rate=g.rate,
        time_base=g.time_base,
        start_pts=int(g.pts[a]),
        end_pts=int(g.pts[b]) if b < g.n else g.end_pts,
        variable_rate=g.variable,
        score=c.value,
        has_audio=c.scores.audio_state == "ok",
        source_frames=g.n,
        handle_lo_frame=f_lo,
        handle_hi_frame=f_hi,
        handle_lo_s=g.time(f_lo),
        handle_hi_s=g.time(f_hi),
        tc_start=c.scores.timecode.start_frames,
        tc_drop=c.scores.timecode.drop,
        tape=c.scores.timecode.reel,
    )
