"""Frames of a shot beyond its stored keyframes: which times to look at (decoded by
``assetdb.media.frames.frames_at``)."""

from __future__ import annotations

from indexer.work import SegmentRef

FRAME_MAX_PX = 1280  # same bound as the keyframe JPEGs


def shot_sample_times(
    seg: SegmentRef,
    head_offsets_s: tuple[float, ...] = (),
    every_s: float = 0.0,
    end_margin_s: float = 0.3,
    near_s: float = 0.4,
    exclude: list[float] | None = None,
) -> list[float]:
    """Times (s, relative to the stream's first frame) inside a shot: ``head_offsets_s``
    after its start, then one every ``every_s`` (from half a step into the shot when
    there are no head offsets) and one ``end_margin_s`` before its end; times within ``near_s`` of an excluded time (keyframes) or
    of one already chosen are left out."""
    chosen = list(exclude or [])
    cands = [seg.start_s + off for off in head_offsets_s]
    if every_s > 0:
        t = seg.start_s + (max(head_offsets_s) + every_s if head_offsets_s else every_s / 2)
        while t < seg.end_s - end_margin_s:
            cands.append(t)
            t += every_s
        cands.append(seg.end_s - end_margin_s)
    out = []
    for t in cands:
        if seg.start_s <= t < seg.end_s and all(abs(t - c) > near_s for c in chosen):
            out.append(t)
            chosen.append(t)
    return out
