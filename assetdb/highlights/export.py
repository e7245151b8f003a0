"""Export a highlight reel: OpenTimelineIO, CMX3600 EDL, FCP7 XML (xmeml, through
``otio-fcp-adapter``), JSON, or a rendered MP4. FCPXML (FCP X) is not offered: the
``otio-fcpx-xml-adapter`` 1.0 knows no 23.976/29.97/59.94 frame durations and probes
media with an ``ffprobe`` binary.

Times in the timeline are exact ``RationalTime`` values on each source's frame grid:

- constant frame rate: value = frame index, rate = the stream's frame rate (so 29.97
  material is 30000/1001, not 29.97);
- variable frame rate whose frames sit on a constant grid (dropped frames):
  value = (pts - first pts) * time base * frame rate, an integer, so every cut is the
  real frame at that time;
- other VFR: rate = 1 / stream time base, value = pts - first pts.

Constant-rate sources (and VFR on a constant grid) count from their start timecode:
``source_range`` and ``available_range`` start at ``Clip.tc_start`` + the frame, as
editors expect of a media reference. The timeline starts at the record start
(``01:00:00:00`` by default). Each clip's metadata["assetdb"] also records the source
pts, time base, frame indices, score and fades; ``metadata["cmx_3600"]["reel"]`` the
8-character reel name the EDL uses. EDLs are written by :mod:`.edl`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import AssetdbError, MediaError
from assetdb.highlights.edl import (
    DEFAULT_RECORD_START,
    ExportError,
    Marker,
    drop_of,
    edl_rate,
    parse_timecode,
    rate_refusal,
    reel_names,
    write_edl,
)
from assetdb.highlights.reel import Clip, Reel

log = logging.getLogger(__name__)

FORMATS = {
    ".otio": "otio_json",
    ".edl": "cmx_3600",
    ".xml": "fcp_xml",
    ".json": "json",
    ".mp4": "mp4",
}
AUDIO_RATE = 48000
AAC_FRAME = 1024


def _clip_times(clip: Clip) -> tuple[float, float, float, float, float]:
    """(rate, start value, duration value, available start, available duration)."""
    tc0 = float(clip.tc_start)
    if not clip.has_video:  # sound only: frames of the timeline's rate
        return (float(clip.rate), tc0 + clip.start_frame, clip.frames, tc0,
                float(max(clip.source_frames, clip.end_frame)))
    from assetdb.media.grid import frame_grid

    g = frame_grid(clip.path)
    pts0 = int(g.pts[0])
    if not g.variable:
        r = float(g.rate)
        return r, tc0 + clip.start_frame, clip.frames, tc0, float(g.n)
    if g.on_rate_grid():
        k = g.time_base * g.rate
        s = (clip.start_pts - pts0) * k
        e = (clip.end_pts - pts0) * k
        total = (g.end_pts - pts0) * k
        return (float(g.rate), tc0 + float(round(s)), float(round(e - s)), tc0,
                float(round(total)))
    r = float(1 / g.time_base)
    return (
        r,
        float(clip.start_pts - pts0),
        float(clip.end_pts - clip.start_pts),
        0.0,
        float(g.end_pts - pts0),
    )


def _record_start(reel: Reel, record_start: str) -> Any:
    import opentimelineio as otio

    rate = edl_rate(reel.rate) if reel.clips else None
    if rate is None:  # a rate timecode cannot count: the timeline starts at zero
        return otio.opentime.RationalTime(0, float(reel.rate))
    frames = parse_timecode(record_start, rate, drop_of(reel.clips[0]))
    return otio.opentime.RationalTime(frames, float(reel.rate))


def to_otio(
    reel: Reel,
    name: str = "assetdb highlights",
    *,
    record_start: str = DEFAULT_RECORD_START,
    markers: list[Marker] | None = None,
) -> Any:
    """The reel as an OTIO timeline (V1, and A1 when any clip has sound); ``markers``
    become OTIO markers on their clips (Resolve and Premiere import them)."""
    import opentimelineio as otio

    RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
    tl = otio.schema.Timeline(name=name)
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    tl.tracks.append(v1)
    any_audio = any(c.has_audio for c in reel.clips)
    if reel.clips:
        tl.global_start_time = _record_start(reel, record_start)
    reels = reel_names(reel.clips)
    for i, clip in enumerate(reel.clips):
        rate, s, d, av0, avd = _clip_times(clip)

        def make(
            kind: str,
            clip: Clip = clip,
            rate: float = rate,
            s: float = s,
            d: float = d,
            av0: float = av0,
            avd: float = avd,
            i: int = i,
        ) -> Any:
            ref = otio.schema.ExternalReference(
                target_url=Path(clip.path).resolve().as_uri(),
                available_range=TR(RT(av0, rate), RT(avd, rate)),
            )
            oc = otio.schema.Clip(
                name=f"{Path(clip.path).name} #{clip.segment_index}",
                media_reference=ref,
                source_range=TR(RT(s, rate), RT(d, rate)),
                metadata={"assetdb": {**clip.to_dict(), "reel_index": i, "track": kind},
                          "cmx_3600": {"reel": reels[clip.path]}},
            )
            if kind == "video" or not clip.has_video:
                for m in markers or []:
                    if m.clip == i:
                        at = RT(s + round(m.offset_s * rate), rate)
                        oc.markers.append(otio.schema.Marker(
                            name=m.text, marked_range=TR(at, RT(0, rate)),
                            color=m.colour.upper()))
            return oc

        pre, post = clip.xfade_in
        if pre + post:
            v1.append(_dissolve(pre, post, float(reel.rate)))
        if clip.has_video:
            v1.append(make("video"))
        else:
            v1.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(d, rate))))
        if any_audio:
            if pre + post and clip.has_audio and reel.clips[i - 1].has_audio:
                a1.append(_dissolve(pre, post, float(reel.rate)))
            if clip.has_audio:
                a1.append(make("audio"))
            else:
                a1.append(otio.schema.Gap(source_range=TR(RT(0, rate), RT(d, rate))))
    if any_audio:
        tl.tracks.append(a1)
    tl.metadata["assetdb"] = {
        "target_s": reel.target_s,
        "duration_s": reel.duration_s,
        "order": reel.order,
        "warnings": reel.warnings,
    }
    return tl


def _dissolve(before: int, after: int, rate: float) -> Any:
    """A dissolve ``before`` frames before the cut and ``after`` after it (handles)."""
    import opentimelineio as otio

    rt = otio.opentime.RationalTime
    return otio.schema.Transition(
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=rt(before, rate),
        out_offset=rt(after, rate),
    )


def has_adapter(name: str) -> bool:
    import opentimelineio as otio

    return name in {a.name for a in otio.plugins.ActiveManifest().adapters}


def write_reel(
    reel: Reel,
    out: Path,
    *,
    explain: bool = False,
    progress: Callable[[int, int], None] | None = None,
    record_start: str = DEFAULT_RECORD_START,
    title: str = "assetdb highlights",
    markers: list[Marker] | None = None,
) -> Path:
    """Write ``reel`` in the format the suffix of ``out`` names (.otio .edl .xml = FCP7
    xmeml, .json, .mp4). ``record_start`` is the timeline's first timecode."""
    out = Path(out)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise AssetdbError(
            f"unknown output format {out.suffix!r}; use one of {', '.join(sorted(FORMATS))}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps(reel.to_dict(explain=explain), indent=2) + "\n")
        return out
    if fmt == "mp4":
        render_mp4(reel, out, progress=progress)
        return out
    if fmt == "cmx_3600":
        text = write_edl(reel, title, record_start=record_start, markers=markers)
        out.write_text(text, encoding="utf-8")
        return out
    import opentimelineio as otio

    if not has_adapter(fmt):
        package = {"fcp_xml": "otio-fcp-adapter"}.get(fmt)
        raise ExportError(
            f"no OpenTimelineIO adapter {fmt!r} is installed"
            + (f" (install {package})" if package else "")
            + "; write .otio, .edl or .json instead"
        )
    if not reel.clips:
        raise ExportError("the timeline has no clips to write")
    if fmt == "fcp_xml":  # xmeml counts frames at a timecode rate (timebase + ntsc flag)
        for c in reel.clips:
            why = rate_refusal(c, "no FCP XML")
            if why:
                raise ExportError(f"cannot write FCP XML: {why}")
    tl = to_otio(reel, title, record_start=record_start, markers=markers)
    try:
        otio.adapters.write_to_file(tl, str(out), adapter_name=fmt)
    except (otio.exceptions.OTIOError, ValueError) as exc:
        raise ExportError(f"cannot write {out.name} ({fmt}): {exc}; write .otio instead") from None
    return out


# ---------------------------------------------------------------- rendering


def _out_geometry(reel: Reel) -> tuple[int, int, Fraction]:
    from assetdb.media.grid import frame_grid

    g = frame_grid(reel.clips[0].path)
    w = round(g.width * g.sar) if g.sar else g.width
    h = g.height
    return max(2, w // 2 * 2), max(2, h // 2 * 2), g.rate


def _fit(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    """Letterbox/pillarbox an RGB frame already scaled to fit inside w x h."""
    if rgb.shape[0] == h and rgb.shape[1] == w:
        return rgb
    out = np.zeros((h, w, 3), dtype=np.uint8)
    y0, x0 = (h - rgb.shape[0]) // 2, (w - rgb.shape[1]) // 2
    out[y0 : y0 + rgb.shape[0], x0 : x0 + rgb.shape[1]] = rgb
    return out


def _video_frames(
    clip: Clip, n_out: int, rate: Fraction, w: int, h: int, lead: int = 0, trail: int = 0
):
    """Yield ``n_out`` RGB frames of the clip at the output rate: output frame k shows the
    latest source frame whose time <= clip start + k / rate (VFR-safe). ``lead`` /
    ``trail`` reel frames of handle before / after the cut are included (dissolves)."""
    from assetdb.media.frames import iter_frames
    from assetdb.media.grid import frame_grid
    from assetdb.media.times import MediaTime

    g = frame_grid(clip.path)
    start_pts, end_pts = clip.start_pts, clip.end_pts
    if lead:
        f = g.nearest_frame(float(clip.start_s - Fraction(lead) / rate))
        start_pts = int(g.pts[max(f, clip.handle_lo_frame)])
    if trail:
        f = min(g.nearest_frame(float(clip.end_s + Fraction(trail) / rate)), clip.handle_hi_frame)
        end_pts = int(g.pts[f]) if f < g.n else g.end_pts
    dw = round(g.width * g.sar) if g.sar else g.width
    scale = min(w / dw, h / g.height)
    sw, sh = max(2, round(dw * scale) // 2 * 2), max(2, round(g.height * scale) // 2 * 2)
    sw, sh = min(sw, w), min(sh, h)
    k = 0
    prev: np.ndarray | None = None
    # the pass starts with the cut frame (start_pts is a real frame of the grid)
    for fr in iter_frames(clip.path, start=MediaTime(start_pts - int(g.pts[0]), g.time_base)):
        if fr.source_pts is None:
            continue
        t = Fraction(fr.source_pts - start_pts) * g.time_base
        while k < n_out and Fraction(k) / rate < t and prev is not None:
            yield prev
            k += 1
        if k >= n_out or fr.source_pts >= end_pts:
            break
        prev = _fit(fr.to_ndarray("rgb24", sw, sh), w, h)
    if prev is None:
        raise MediaError(f"{clip.path}: no frame decoded at pts {clip.start_pts}")
    while k < n_out:
        yield prev
        k += 1


def _audio_samples(clip: Clip, n: int, lead_s: float = 0.0) -> np.ndarray | None:
    """``n`` stereo float samples at AUDIO_RATE from ``lead_s`` before the clip's start;
    None when the clip has no usable audio (silence is rendered instead)."""
    if not clip.has_audio:
        return None
    from assetdb.media.audio import STATUS_NO_AUDIO, STATUS_UNDECODABLE, decode_audio
    from assetdb.media.grid import frame_grid

    # the decoder's times count from the first video frame; the clip's are container times
    start = float(clip.start_s - frame_grid(clip.path).time(0)) - lead_s
    try:
        dec = decode_audio(clip.path, AUDIO_RATE, layout="stereo", start_s=start,
                           end_s=start + n / AUDIO_RATE)
    except MediaError as exc:
        log.warning("%s: audio unusable in render (%s); silence instead", clip.path, exc)
        return None
    if dec.status in (STATUS_NO_AUDIO, STATUS_UNDECODABLE):
        log.warning("%s: audio unusable in render (%s); silence instead", clip.path, dec.reason)
        return None
    return dec.samples


def render_mp4(
    reel: Reel,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    crf: int = 20,
) -> Path:
    """Re-encode the reel to H.264 (mpeg4 when PyAV's ffmpeg lacks libx264) with AAC
    audio when any clip has audio. Fades (clip.fade_in_s / fade_out_s) dip to black and
    silence."""
    import av

    if not reel.clips:
        raise AssetdbError("the reel has no clips to render")
    w, h, rate = _out_geometry(reel)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    any_audio = any(c.has_audio for c in reel.clips)
    # cumulative rounding keeps the rendered length equal to the timeline's
    bounds_s = np.cumsum([0.0] + [float(c.duration_s) for c in reel.clips])
    vbounds = [round(b * rate) for b in bounds_s]
    abounds = [round(b * AUDIO_RATE) for b in bounds_s]
    total = vbounds[-1]
    done = 0
    tmp = out.with_name(out.name + ".part")
    with av.open(str(tmp), mode="w", format="mp4") as oc:
        vs = oc.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            vs.options = {"crf": str(crf), "preset": "veryfast"}
        else:
            vs.bit_rate = 4_000_000
        vs.codec_context.time_base = Fraction(1) / rate
        ast = None
        if any_audio:
            ast = oc.add_stream("aac", rate=AUDIO_RATE)
            ast.layout = "stereo"
            ast.bit_rate = 160_000
        a_pts = 0
        a_buf = np.zeros((2, 0), dtype=np.float32)
        v_tail: list[np.ndarray] = []  # the previous clip's frames under the next dissolve
        a_tail = np.zeros((2, 0), dtype=np.float32)
        out_k = 0
        for i, clip in enumerate(reel.clips):
            n_v = vbounds[i + 1] - vbounds[i]
            hin, hin_after = clip.xfade_in  # lead handle; blended = hin + hin_after
            hout_before, hout = clip.xfade_out  # trail handle; tail = hout_before + hout
            n_blend = hin + hin_after
            fi = round(clip.fade_in_s * rate)
            fo = round(clip.fade_out_s * rate)
            frames = _video_frames(clip, hin + n_v + hout, rate, w, h, lead=hin, trail=hout)
            tail: list[np.ndarray] = []
            for j, rgb in enumerate(frames):
                core = j - hin  # index within the clip's own (cut-to-cut) frames
                if 0 <= core < n_v:
                    gain = 1.0
                    if fi and core < fi:
                        gain = min(gain, (core + 1) / (fi + 1))
                    if fo and core >= n_v - fo:
                        gain = min(gain, (n_v - core) / (fo + 1))
                    if gain < 1.0:
                        rgb = (rgb.astype(np.float32) * gain).astype(np.uint8)
                if j >= hin + n_v - hout_before:
                    tail.append(rgb)  # shown blended at the start of the next clip
                    continue
                if j < n_blend:
                    alpha = (j + 0.5) / n_blend
                    prev = v_tail[j] if j < len(v_tail) else rgb
                    rgb = (
                        prev.astype(np.float32) * (1 - alpha) + rgb.astype(np.float32) * alpha
                    ).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = out_k
                frame.time_base = vs.codec_context.time_base
                for p in vs.encode(frame):
                    oc.mux(p)
                out_k += 1
                done += 1
                if progress is not None:
                    progress(done, total)
            v_tail = tail
            if ast is not None:
                n_a = abounds[i + 1] - abounds[i]
                ain = round(hin / rate * AUDIO_RATE)
                aout = round(hout / rate * AUDIO_RATE)
                a_blend = round(n_blend / rate * AUDIO_RATE)
                a_tail_from = round((hout_before) / rate * AUDIO_RATE)
                a = _audio_samples(clip, ain + n_a + aout, lead_s=float(hin / rate))
                if a is None:
                    a = np.zeros((2, ain + n_a + aout), dtype=np.float32)
                ramp_in = int(clip.fade_in_s * AUDIO_RATE)
                ramp_out = int(clip.fade_out_s * AUDIO_RATE)
                if ramp_in:
                    a[:, ain : ain + ramp_in] *= np.linspace(0, 1, ramp_in, dtype=np.float32)
                if ramp_out:
                    a[:, ain + n_a - ramp_out : ain + n_a] *= np.linspace(
                        1, 0, ramp_out, dtype=np.float32
                    )
                if a_blend:
                    m = min(a_blend, a_tail.shape[1], a.shape[1])
                    ramp = np.linspace(0, 1, m, dtype=np.float32)
                    a[:, :m] = a_tail[:, :m] * (1 - ramp) + a[:, :m] * ramp
                cut = ain + n_a - a_tail_from
                a_tail = a[:, cut:]
                a_buf = np.concatenate([a_buf, a[:, :cut]], axis=1)
                while a_buf.shape[1] >= AAC_FRAME:
                    a_pts = _encode_audio(oc, ast, a_buf[:, :AAC_FRAME], a_pts)
                    a_buf = a_buf[:, AAC_FRAME:]
        if ast is not None:
            if a_buf.shape[1]:
                a_pts = _encode_audio(oc, ast, a_buf, a_pts)
            for p in ast.encode(None):
                oc.mux(p)
        for p in vs.encode(None):
            oc.mux(p)
    tmp.replace(out)
    return out


def _encode_audio(oc: Any, ast: Any, block: np.ndarray, pts: int) -> int:
    import av

    fr = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(block, dtype=np.float32), format="fltp", layout="stereo"
    )
    fr.sample_rate = AUDIO_RATE
    fr.pts = pts
    fr.time_base = Fraction(1, AUDIO_RATE)
    for p in ast.encode(fr):
        oc.mux(p)
    return pts + block.shape[1]
