"""Video decoding helpers over PyAV: a low-resolution pass over every frame with exact
timestamps, and full-resolution frames at chosen timestamps (rotation applied)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from assetdb.errors import MediaError

log = logging.getLogger(__name__)

ANALYSIS_WIDTH_PX = 256
SEEK_FORWARD_MAX_S = 3.0  # decode forward instead of seeking when the next target is this close
MAX_DECODE_ERRORS = 50


@dataclass
class LowResFrame:
    index: int
    pts: int  # relative to the stream's first frame, in the stream time base
    bgr: np.ndarray


def _open(path: Path):  # noqa: ANN202
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except Exception as exc:  # noqa: BLE001
        raise MediaError(f"cannot open: {str(exc).splitlines()[0][:300]}") from exc


def _video_stream(container, stream_index: int | None):  # noqa: ANN001, ANN202
    streams = [s for s in container.streams.video if not int(s.disposition or 0) & 0x400]
    if stream_index is not None:
        streams = [s for s in streams if s.index == stream_index] or streams
    if not streams:
        raise MediaError("no video stream")
    return streams[0]


def _analysis_size(w: int, h: int, width: int) -> tuple[int, int]:
    if w <= width:
        return w - (w % 2), h - (h % 2)
    scale = width / w
    return width, max(2, int(round(h * scale / 2)) * 2)


def iter_lowres(
    path: Path, stream_index: int | None = None, width: int = ANALYSIS_WIDTH_PX
) -> Iterator[tuple[Fraction, LowResFrame]]:
    """Every decoded frame, small, with its pts relative to the first frame.

    Yields (time_base, frame). Frames with no pts get one extrapolated from the last.
    Corrupt packets are skipped (up to MAX_DECODE_ERRORS) so a damaged file still yields
    what can be decoded.
    """
    container = _open(path)
    with container:
        stream = _video_stream(container, stream_index)
        stream.thread_type = "AUTO"
        tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000)
        first_pts: int | None = None
        last_pts = None
        step = None
        index = 0
        errors = 0
        size = None
        demux = container.demux(stream)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - demuxer error mid-file: stop there
                log.warning("%s: demux stopped at frame %d: %s", path, index, exc)
                break
            try:
                frames = packet.decode()
            except Exception as exc:  # noqa: BLE001
                errors += 1
                if errors > MAX_DECODE_ERRORS:
                    raise MediaError(f"too many decode errors ({exc})") from exc
                continue
            for frame in frames:
                pts = frame.pts
                if pts is None:
                    pts = (last_pts + (step or 1)) if last_pts is not None else 0
                if first_pts is None:
                    first_pts = pts
                rel = pts - first_pts
                if last_pts is not None and rel <= last_pts:
                    # out-of-order or duplicate timestamp: keep monotonic order
                    rel = last_pts + (step or 1)
                if last_pts is not None:
                    step = rel - last_pts if step is None else min(step, rel - last_pts)
                last_pts = rel
                if size is None:
                    size = _analysis_size(frame.width, frame.height, width)
                img = frame.to_ndarray(width=size[0], height=size[1], format="bgr24")
                yield tb, LowResFrame(index=index, pts=rel, bgr=img)
                index += 1
        if index == 0:
            raise MediaError("no video frame could be decoded")


def first_pts(path: Path, stream_index: int | None = None) -> int:
    container = _open(path)
    with container:
        stream = _video_stream(container, stream_index)
        for frame in container.decode(stream):
            if frame.pts is not None:
                return frame.pts
    return 0


def rotate_rgb(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (degrees counter-clockwise, as in the display matrix)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def frames_at(
    path: Path,
    rel_pts: list[int],
    *,
    stream_index: int | None = None,
    start_pts: int | None = None,
    max_px: int | None = None,
    rotation: int = 0,
) -> dict[int, np.ndarray]:
    """RGB frames at the given pts (relative to the first frame): for each target, the
    last frame whose pts <= target. Seeks only when a target is far ahead."""
    import av

    targets = sorted(set(rel_pts))
    out: dict[int, np.ndarray] = {}
    if not targets:
        return out
    container = _open(path)
    with container:
        stream = _video_stream(container, stream_index)
        stream.thread_type = "AUTO"
        tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000)
        base = start_pts if start_pts is not None else None
        if base is None:
            base = first_pts(path, stream_index)
        ti = 0
        prev = None
        prev_pts = None

        def convert(frame) -> np.ndarray:  # noqa: ANN001
            w, h = frame.width, frame.height
            if max_px and max(w, h) > max_px:
                s = max_px / max(w, h)
                w, h = max(2, int(w * s) // 2 * 2), max(2, int(h * s) // 2 * 2)
            return rotate_rgb(frame.to_ndarray(width=w, height=h, format="rgb24"), rotation)

        sought: set[int] = set()

        def seek_to(target_rel: int) -> None:
            # A seek lands on the keyframe before the target; never seek twice for one target.
            sought.add(target_rel)
            try:
                container.seek(base + target_rel, stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                container.seek(0)

        seek_to(targets[0])
        while ti < len(targets):
            got = False
            try:
                for frame in container.decode(stream):
                    got = True
                    if frame.pts is None:
                        continue
                    rel = frame.pts - base
                    while ti < len(targets) and rel > targets[ti]:
                        out[targets[ti]] = convert(prev) if prev is not None else convert(frame)
                        ti += 1
                    if ti >= len(targets):
                        break
                    if rel == targets[ti]:
                        out[targets[ti]] = convert(frame)
                        ti += 1
                        if ti >= len(targets):
                            break
                    prev, prev_pts = frame, rel
                    if (
                        ti < len(targets)
                        and targets[ti] not in sought
                        and float((targets[ti] - rel) * tb) > SEEK_FORWARD_MAX_S
                    ):
                        seek_to(targets[ti])
                        prev = None
                        break
                else:
                    # end of stream: remaining targets get the last frame
                    while ti < len(targets) and prev is not None:
                        out[targets[ti]] = convert(prev)
                        ti += 1
                    break
            except av.error.FFmpegError as exc:
                log.warning("%s: decode error while seeking frames: %s", path, exc)
                if prev is not None and ti < len(targets):
                    out[targets[ti]] = convert(prev)
                ti += 1
                seek_to(targets[ti]) if ti < len(targets) else None
            if not got:
                break
        del prev_pts
    return out
