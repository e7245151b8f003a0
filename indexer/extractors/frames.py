"""Frames of a shot beyond its stored keyframes: which times to look at, and
decoding them with PyAV (one forward pass between close targets)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import MediaError
from indexer.work import SegmentRef

log = logging.getLogger(__name__)

FRAME_MAX_PX = 1280  # same bound as the keyframe JPEGs
SEEK_FORWARD_MAX_S = 3.0


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


def _video_stream(container: Any) -> Any:
    streams = [s for s in container.streams.video if not int(s.disposition or 0) & 0x400]
    if not streams:
        raise MediaError("no video stream")
    return streams[0]


def _scaled(frame: Any, max_px: int) -> np.ndarray:
    w, h = frame.width, frame.height
    if max(w, h) > max_px:
        k = max_px / max(w, h)
        w, h = max(2, int(w * k) // 2 * 2), max(2, int(h * k) // 2 * 2)
    return frame.to_ndarray(width=w, height=h, format="rgb24")


def frames_at_times(
    path: Path, times_s: list[float], max_px: int = FRAME_MAX_PX, rotation: int = 0
) -> list[tuple[float, int, np.ndarray]]:
    """(time s, pts, RGB) of the first frame at or after each time (relative to the
    stream's first frame); decodes forward between close targets, seeks otherwise."""
    import av

    targets = sorted(set(times_s))
    out: list[tuple[float, int, np.ndarray]] = []
    if not targets:
        return out
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot open {path}: {exc}") from exc
    with container:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        tb = stream.time_base
        first = next((f.pts for f in container.decode(stream) if f.pts is not None), 0)
        i = 0
        while i < len(targets):
            container.seek(first + int(targets[i] / tb), stream=stream, backward=True)
            done = True
            try:
                for f in container.decode(stream):
                    if f.pts is None:
                        continue
                    rel = float((f.pts - first) * tb)
                    if rel + 1e-3 < targets[i]:
                        continue
                    rgb = _scaled(f, max_px)
                    k = (rotation // 90) % 4
                    out.append((rel, f.pts - first, np.ascontiguousarray(np.rot90(rgb, k))))
                    while i < len(targets) and targets[i] <= rel + 1e-3:
                        i += 1
                    if i >= len(targets):
                        break
                    if targets[i] - rel > SEEK_FORWARD_MAX_S:
                        done = False
                        break
            except av.error.FFmpegError as exc:
                log.warning("%s: decode error reading frames: %s", path, exc)
                i += 1
                done = i >= len(targets)
            if done:
                break
    return out
