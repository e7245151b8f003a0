"""Browser proxies: an H.264/AAC MP4 of a video a browser cannot play.

Browsers play MP4/MOV and WebM with H.264, VP8/VP9 or AV1 video; they cannot play
AVI/MJPEG, most Matroska, ProRes, DNxHD, MPEG-2 or MXF. ``make_proxy`` writes at most
``PROXY_HEIGHT_PX`` lines, a keyframe every ``KEYFRAME_EVERY_S`` (seeking in a browser is
then instant), ``+faststart`` (playback starts before the whole file is read), and keeps
the source's timestamps, so the proxy's time t shows the original's frame at time t (both
measured from the first video frame).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from assetdb.errors import MediaError

log = logging.getLogger(__name__)

PROXY_HEIGHT_PX = 540
KEYFRAME_EVERY_S = 1.0
PROXY_CRF = 23
AUDIO_RATE_HZ = 48_000
AUDIO_BITRATE = 128_000
OUT_TIME_BASE = Fraction(1, 90_000)

BROWSER_VIDEO_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_AUDIO_CODECS = frozenset({"aac", "mp3", "opus", "vorbis", "flac"})
# FFmpeg decoder names -> codec names (probe records the decoder's name)
CODEC_ALIASES = {"mp3float": "mp3", "libvpx": "vp8", "libvpx-vp9": "vp9", "libdav1d": "av1",
                 "libaom-av1": "av1", "libopus": "opus", "libvorbis": "vorbis",
                 "aac_fixed": "aac"}
# container (as PyAV names the format) -> file suffixes a browser takes it from
BROWSER_CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": (".mp4", ".m4v", ".mov"),
    "matroska,webm": (".webm",),
}

def browser_playable(path: str | Path, container: str | None, video_codec: str | None,
                     audio_codec: str | None) -> bool:
    """Whether Chromium/Firefox/Safari play this file as it is."""
    suffixes = BROWSER_CONTAINERS.get(container or "")
    if suffixes is None or Path(path).suffix.lower() not in suffixes:
        return False
    if CODEC_ALIASES.get(video_codec, video_codec) not in BROWSER_VIDEO_CODECS:
        return False
    return audio_codec is None or CODEC_ALIASES.get(audio_codec, audio_codec) in BROWSER_AUDIO_CODECS


def presentation_start_s(path: str | Path) -> float:
    """Where the first video frame sits on the file's presentation timeline: a browser's
    ``currentTime`` counts from there being 0, while stored times count from the first
    frame (an MP4 whose video starts at 0.85 s shows stored time t at currentTime
    t + 0.85). A proxy starts at 0."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            v = next((s for s in c.streams.video if not int(s.disposition or 0) & 0x400), None)
            if v is None or v.start_time is None:
                return 0.0
            return max(0.0, float(v.start_time * v.time_base))
    except av.error.FFmpegError:
        return 0.0


@dataclass
class ProxyResult:
    needed: bool
    path: str | None = None  # relative to the data dir
    width: int = 0
    height: int = 0
    duration_s: float | None = None
    size: int = 0
    has_audio: bool = False


def probe_codecs(path: Path) -> tuple[str, str | None, str | None]:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            v = next((s for s in c.streams.video if not int(s.disposition or 0) & 0x400), None)
            a = c.streams.audio[0] if c.streams.audio else None
            return (c.format.name, v.codec_context.name if v else None,
                    a.codec_context.name if a else None)
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot open {path}: {exc}") from exc


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def make_proxy(src: Path, dest: Path, *, height_px: int = PROXY_HEIGHT_PX,
               rotation: int = 0) -> ProxyResult:
    """Transcode ``src`` to an H.264/AAC MP4 at ``dest`` (written beside, then renamed).
    ``rotation`` (degrees counter-clockwise, as probed) is kept as display metadata."""
    import av

    tmp = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        inp = av.open(str(src), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot open {src}: {exc}") from exc
    with inp:
        vin = next((s for s in inp.streams.video if not int(s.disposition or 0) & 0x400), None)
        if vin is None:
            raise MediaError(f"{src}: no video stream")
        ain = inp.streams.audio[0] if inp.streams.audio else None
        vin.thread_type = "AUTO"
        sw, sh = vin.codec_context.width, vin.codec_context.height
        sar = vin.codec_context.sample_aspect_ratio or Fraction(1)
        disp_w = sw * float(sar) if sar else sw
        h = min(height_px, sh)
        w = _even(disp_w * h / sh)
        h = _even(h)
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        gop = max(1, round(float(rate) * KEYFRAME_EVERY_S))
        codec = "libx264" if "libx264" in av.codecs_available else None
        if codec is None:
            raise MediaError("this PyAV build has no H.264 encoder (libx264)")
        out = av.open(str(tmp), "w", format="mp4",
                      options={"movflags": "+faststart"})
        try:
            vout = out.add_stream(codec, rate=rate)
            vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
            if rotation % 360:
                vout.set_display_rotation(rotation % 360)
            vout.time_base = OUT_TIME_BASE
            vout.codec_context.time_base = OUT_TIME_BASE
            vout.codec_context.gop_size = gop
            vout.codec_context.options = {
                "crf": str(PROXY_CRF), "preset": "veryfast", "threads": "2", "forced-idr": "1",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
            }
            aout = resampler = None
            if ain is not None:
                aout = out.add_stream("aac", rate=AUDIO_RATE_HZ, layout="stereo")
                aout.bit_rate = AUDIO_BITRATE
                resampler = av.AudioResampler(format="fltp", layout="stereo",
                                              rate=AUDIO_RATE_HZ)
            streams = [vin] + ([ain] if ain is not None else [])
            first_v: float | None = None
            last_pts = -1
            last_t = 0.0
            next_key = 0.0  # forced by time: a variable or mislabelled rate moves no keyframe
            a_next = 0
            a_buf: list[Any] = []
            try:
                for packet in inp.demux(*streams):
                    try:
                        frames = packet.decode()
                    except av.error.FFmpegError as exc:
                        log.debug("%s: skipping a damaged packet: %s", src, exc)
                        continue
                    for frame in frames:
                        if frame.pts is None:
                            continue
                        t = float(frame.pts * frame.time_base)
                        if packet.stream is vin:
                            if first_v is None:
                                first_v = t
                            pts = round((t - first_v) / OUT_TIME_BASE)
                            if pts <= last_pts:
                                continue
                            last_pts, last_t = pts, t - first_v
                            vf = frame.reformat(width=w, height=h, format="yuv420p")
                            vf.pts, vf.time_base = pts, OUT_TIME_BASE
                            # the source's picture types would pass through: x264 takes
                            # each I of the source as a forced keyframe
                            vf.pict_type = av.video.frame.PictureType.NONE
                            if last_t + 1e-6 >= next_key:
                                vf.pict_type = av.video.frame.PictureType.I
                                next_key = (int(last_t / KEYFRAME_EVERY_S) + 1) * KEYFRAME_EVERY_S
                            out.mux(vout.encode(vf))
                        elif aout is not None:
                            if first_v is None:  # audio before the first picture waits
                                a_buf.append(frame)
                                continue
                            for f in [*a_buf, frame]:
                                a_next = _mux_audio(out, aout, resampler, f, first_v, a_next)
                            a_buf.clear()
            finally:
                out.mux(vout.encode(None))
                if aout is not None:
                    for f in resampler.resample(None):
                        f.pts = a_next
                        a_next += f.samples
                        out.mux(aout.encode(f))
                    out.mux(aout.encode(None))
        finally:
            out.close()
    if first_v is None:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"{src}: no decodable video frames")
    os.replace(tmp, dest)
    return ProxyResult(True, None, w, h, round(last_t, 6), dest.stat().st_size, ain is not None)


def _mux_audio(out: Any, aout: Any, resampler: Any, frame: Any, first_v: float,
               a_next: int) -> int:
    t = float(frame.pts * frame.time_base) - first_v
    start = round(t * AUDIO_RATE_HZ)
    if a_next == 0 and start > 0:
        a_next = start  # audio starting after the picture keeps its offset
    for f in resampler.resample(frame):
        if start + f.samples <= 0:  # wholly before the first picture
            continue
        f.pts = a_next
        a_next += f.samples
        out.mux(aout.encode(f))
    return a_next
