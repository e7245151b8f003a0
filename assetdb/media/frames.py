"""Video frames over PyAV: the one decoder of pictures from a video stream.

Two ways in, one set of rules:

- ``iter_frames``: every frame in presentation order, for analysis passes (shots,
  interest), or from a start time on (rendering). Frames come as stored (no
  rotation); the caller picks the size.
- ``frames_at``: RGB frames at chosen times (keyframes, faces' extra frames,
  objects/OCR samples), with the display rotation applied and the long side bounded.

**Time origin.** Times are relative to the stream's first decoded frame (the origin of
shots, segments and keyframes), in the stream's time base (a ``MediaTime``) or in
seconds. Seconds are rounded to the nearest tick of the stream's time base first.

**Which frame a time means.** The frame on screen at that time: the last frame whose
timestamp is at or before it. A frame is shown from its timestamp until the next
frame's, so this is what a player shows when paused there, and a time inside a shot
``[start, end)`` always gives a frame of that shot (never the first frame of the
next). A time before the first frame means the first frame, one after the last frame
means the last frame. Exact frame timestamps (keyframes) give exactly that frame, on
constant and variable frame rate streams alike.

**Rotation.** ``rotation`` is the display rotation in degrees counter-clockwise, as
``assetdb.media.probe`` reads it from the display matrix (FFmpeg's convention; the
legacy clockwise ``rotate`` tag is converted there). ``frames_at`` turns the picture
that way, giving what a player displays.

**Damage.** A packet that fails to decode is skipped and counted; after
``MAX_DECODE_ERRORS`` the file is given up with ``MediaError``. A demuxer error stops
the pass where it happens (what was decoded so far is kept).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import MediaError
from assetdb.media.times import MediaTime

log = logging.getLogger(__name__)

SEEK_FORWARD_MAX_S = 3.0  # decode forward instead of seeking when the next target is this close
MAX_DECODE_ERRORS = 50
ATTACHED_PIC = 0x400  # AV_DISPOSITION_ATTACHED_PIC: cover art is not video


def open_container(path: Path | str) -> Any:
    """An input container, or MediaError with a one-line reason."""
    import av

    from assetdb.media import sequences

    if sequences.is_sequence_path(path):
        return sequences.open_sequence(path)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except Exception as exc:  # PyAV raises many types for bad input
        raise MediaError(f"cannot open: {str(exc).splitlines()[0][:300]}") from exc


def video_stream(container: Any, stream_index: int | None = None) -> Any:
    """The wanted (else the first) video stream that is not cover art."""
    streams = [s for s in container.streams.video if not int(s.disposition or 0) & ATTACHED_PIC]
    if stream_index is not None:
        streams = [s for s in streams if s.index == stream_index] or streams
    if not streams:
        raise MediaError("no video stream")
    return streams[0]


def fit_width(w: int, h: int, width: int) -> tuple[int, int]:
    """Even (w, h) at most ``width`` wide with the aspect kept (never upscaled)."""
    if w <= width:
        return w - (w % 2), h - (h % 2)
    scale = width / w
    return width, max(2, round(h * scale / 2) * 2)


def fit_long_side(w: int, h: int, max_px: int | None) -> tuple[int, int]:
    """Even (w, h) with the long side at most ``max_px`` (unchanged when it fits)."""
    if max_px and max(w, h) > max_px:
        s = max_px / max(w, h)
        return max(2, int(w * s) // 2 * 2), max(2, int(h * s) // 2 * 2)
    return w, h


def rotate(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a picture by a display rotation (degrees counter-clockwise)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def _stream_time_base(stream: Any) -> Fraction:
    return Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000)


Target = MediaTime | float  # a time relative to the first frame: exact, or in seconds


def _tick(t: Target, tb: Fraction) -> int:
    """``t`` in ticks of the stream's time base (seconds: the nearest tick)."""
    if isinstance(t, MediaTime):
        return t.ts if t.time_base == tb else t.rescale(tb).ts
    return MediaTime.from_seconds(t, tb).ts


def _first_pts(container: Any, stream: Any, path: Path | str, errors: list[str]) -> int:
    """Timestamp of the first decoded frame (the origin of relative times)."""
    return next((f.pts for f in _decoded(container, stream, path, errors) if f.pts is not None), 0)


def _decoded(container: Any, stream: Any, path: Path | str, errors: list[str]) -> Iterator[Any]:
    """Frames of ``stream`` from the container's current position; damaged packets are
    skipped and recorded in ``errors``."""
    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - demuxer error mid-file: stop there
            log.warning("%s: demux stopped: %s", path, exc)
            return
        try:
            frames = packet.decode()
        except Exception as exc:  # one damaged packet: skip it
            errors.append(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
            if len(errors) > MAX_DECODE_ERRORS:
                raise MediaError(f"too many decode errors ({errors[-1]})") from exc
            continue
        yield from frames


@dataclass
class Frame:
    """One decoded frame of a sequential pass."""

    index: int
    time: MediaTime  # relative to the first frame; monotonic (see iter_frames)
    source_pts: int | None  # the stream's own timestamp (None when the frame had none)
    av_frame: Any

    @property
    def width(self) -> int:
        return int(self.av_frame.width)

    @property
    def height(self) -> int:
        return int(self.av_frame.height)

    @property
    def source_time_s(self) -> float | None:
        """Container time (s) of the frame, as stored; None without a timestamp."""
        if self.source_pts is None:
            return None
        return float(self.source_pts * self.time.time_base)

    def to_ndarray(self, fmt: str = "rgb24", width: int | None = None,
                   height: int | None = None) -> np.ndarray:
        """The picture as stored (no rotation) in ``fmt`` (rgb24, bgr24, gray), scaled."""
        return self.av_frame.to_ndarray(
            width=width or self.width, height=height or self.height, format=fmt
        )

    def luma_sample(self, step: int = 8) -> np.ndarray:
        """Luma of every ``step``-th pixel on a full-range 0..255 scale (float32,
        unclipped), read straight off the Y plane of planar YUV; a 64x36 grey
        conversion for other pixel formats."""
        f = self.av_frame
        fmt = f.format.name
        if fmt in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"):
            plane = f.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[::step, : f.width : step]
            y = y.astype(np.float32)
            if not fmt.startswith("yuvj") and int(getattr(f, "color_range", 1) or 1) != 2:
                y = (y - 16.0) * (255.0 / 219.0)
            return y
        return f.reformat(width=64, height=36, format="gray").to_ndarray().astype(np.float32)


def iter_frames(
    path: Path | str, stream_index: int | None = None, *, start: Target | None = None
) -> Iterator[Frame]:
    """Every decoded frame of the video stream, in presentation order; with ``start``,
    from the frame on screen at that time on (after a seek: for rendering a clip).

    ``Frame.time`` is relative to the first frame of the stream; a frame without a
    timestamp gets one extrapolated from the previous frames, and a duplicate or
    backwards timestamp is moved just after the previous one, so times strictly
    increase. ``Frame.index`` counts the frames of this pass. Raises MediaError when
    the file cannot be opened, has no video, or no frame decodes."""
    container = open_container(path)
    with container:
        stream = video_stream(container, stream_index)
        stream.thread_type = "AUTO"
        tb = _stream_time_base(stream)
        first: int | None = None
        last: int | None = None
        step: int | None = None
        index = 0
        errors: list[str] = []
        tick: int | None = None  # frames before the one on screen at start are skipped
        held: Frame | None = None
        if start is not None:
            first = _first_pts(container, stream, path, errors)
            tick = _tick(start, tb)
            try:
                container.seek(first + tick, stream=stream, backward=True, any_frame=False)
            except Exception:  # noqa: BLE001 - a file that cannot seek is read from the start
                container.seek(0)
        for f in _decoded(container, stream, path, errors):
            pts = f.pts
            if pts is None:
                pts = (last + (step or 1)) if last is not None else 0
            if first is None:
                first = pts
            rel = pts - first
            if last is not None and rel <= last:
                rel = last + (step or 1)
            if last is not None:
                step = rel - last if step is None else min(step, rel - last)
            last = rel
            frame = Frame(index=index, time=MediaTime(rel, tb), source_pts=f.pts, av_frame=f)
            if tick is not None:
                if rel < tick:
                    held = frame
                    continue
                if rel > tick and held is not None:
                    held.index = index
                    index += 1
                    yield held
                tick = held = None
                frame.index = index
            yield frame
            index += 1
        if held is not None:  # start after the last frame: the last frame stays on screen
            held.index = index
            index += 1
            yield held
        if index == 0:
            raise MediaError("no video frame could be decoded")


@dataclass
class FrameImage:
    """A frame picked by time: its own time (relative to the first frame) and its
    picture, rotated for display and bounded in size."""

    time: MediaTime
    rgb: np.ndarray

    @property
    def pts(self) -> int:
        return self.time.ts

    @property
    def time_s(self) -> float:
        return self.time.seconds


def frames_at(
    path: Path | str,
    times: Iterable[Target],
    *,
    stream_index: int | None = None,
    max_px: int | None = None,
    rotation: int = 0,
) -> dict[Target, FrameImage]:
    """The frame on screen at each time (see the module docstring for the rule).

    ``times`` are MediaTimes or seconds, relative to the stream's first frame. Returns
    ``{requested time: FrameImage}``; a time is missing only when decoding broke off
    before reaching it. Decodes forward between close targets and seeks only when the
    next one is more than ``SEEK_FORWARD_MAX_S`` ahead."""
    import av

    wanted = list(dict.fromkeys(times))
    if not wanted:
        return {}
    container = open_container(path)
    by_tick: dict[int, FrameImage] = {}
    with container:
        stream = video_stream(container, stream_index)
        stream.thread_type = "AUTO"
        tb = _stream_time_base(stream)
        ticks = {t: _tick(t, tb) for t in wanted}
        targets = sorted(set(ticks.values()))
        errors: list[str] = []
        base = _first_pts(container, stream, path, errors)
        converted: tuple[Any, FrameImage] | None = None

        def image(frame: Any) -> FrameImage:
            nonlocal converted
            if converted is None or converted[0] is not frame:
                w, h = fit_long_side(frame.width, frame.height, max_px)
                rgb = rotate(frame.to_ndarray(width=w, height=h, format="rgb24"), rotation)
                converted = (frame, FrameImage(MediaTime(frame.pts - base, tb), rgb))
            return converted[1]

        sought: set[int] = set()

        def seek_to(target: int) -> None:
            # lands on the keyframe before the target; never twice for one target
            sought.add(target)
            try:
                container.seek(base + target, stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                container.seek(0)

        ti = 0
        seek_to(targets[0])
        while ti < len(targets):
            prev = None
            reseek = False
            try:
                for frame in _decoded(container, stream, path, errors):
                    if frame.pts is None:
                        continue
                    rel = frame.pts - base
                    # past a target: the previous frame was on screen at it (or, right
                    # after a seek or before the first frame, this one)
                    while ti < len(targets) and rel > targets[ti]:
                        by_tick[targets[ti]] = image(prev if prev is not None else frame)
                        ti += 1
                    if ti < len(targets) and rel == targets[ti]:
                        by_tick[targets[ti]] = image(frame)
                        ti += 1
                    if ti >= len(targets):
                        break
                    prev = frame
                    if targets[ti] not in sought and float((targets[ti] - rel) * tb) > SEEK_FORWARD_MAX_S:
                        seek_to(targets[ti])
                        reseek = True
                        break
            except (av.error.FFmpegError, MediaError) as exc:
                log.warning("%s: decoding stopped while seeking frames: %s", path, exc)
                break
            if reseek:
                continue
            # end of stream: the last frame stays on screen
            while ti < len(targets) and prev is not None:
                by_tick[targets[ti]] = image(prev)
                ti += 1
            break
    return {t: by_tick[ticks[t]] for t in wanted if ticks[t] in by_tick}


def unique_frames(frames: dict[Target, FrameImage]) -> list[FrameImage]:
    """The distinct frames of a ``frames_at`` result, in time order (two requested
    times can fall on one frame)."""
    return sorted({f.pts: f for f in frames.values()}.values(), key=lambda f: f.pts)

