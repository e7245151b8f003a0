"""The catalogue stage: probe, shots, keyframes and sidecar text for one file.

Pure computation plus keyframe JPEGs under the data dir; no database. The writer
(`indexer.writer`) stores the result in one transaction.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from assetdb import layout
from assetdb.errors import MediaError
from assetdb.media.frames import frames_at
from assetdb.media.images import load_rgb
from assetdb.media.probe import ProbeInfo, probe
from assetdb.media.times import MediaTime
from indexer import keyframes as kf
from indexer import shots as sh
from indexer.work import AssetWork, KeyframeRef, SegmentRef

log = logging.getLogger(__name__)

STAGE = "catalogue"
VERSION = f"1.s{sh.VERSION}.k{kf.VERSION}"
AUDIO_WINDOW_S = 10.0
AUDIO_MIN_TAIL_S = 3.0
SIDECAR_EXTS = (".txt", ".xml", ".srt", ".vtt", ".json", ".md", ".ale")
SIDECAR_MAX_BYTES = 64 * 1024
# A decoded duration this much shorter than the container header says is a file cut
# short (an interrupted copy or download): worth a warning on the asset.
TRUNCATED_MIN_S = 1.0
TRUNCATED_MIN_RATIO = 0.05


@dataclass
class CatalogueResult:
    probe: ProbeInfo
    segments: list[SegmentRef]
    keyframe_dir: str  # relative to the data dir; older dirs of the asset are removed on write
    sidecars: dict[str, str] = field(default_factory=dict)  # file name -> text


def truncation_warning(header_s: float | None, decoded_s: float | None) -> str | None:
    """A warning when the decoded media is clearly shorter than its header says."""
    if not header_s or decoded_s is None:
        return None
    missing = header_s - decoded_s
    if missing < max(TRUNCATED_MIN_S, TRUNCATED_MIN_RATIO * header_s):
        return None
    return (f"file looks truncated: the header says {header_s:.1f} s but only "
            f"{decoded_s:.1f} s decode")


def read_sidecars(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    stem = path.stem
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return out
    for p in siblings:
        if p == path or p.suffix.lower() not in SIDECAR_EXTS:
            continue
        if p.stem != stem and p.stem != path.name:
            continue
        try:
            with p.open("rb") as fh:
                raw = fh.read(SIDECAR_MAX_BYTES)
        except OSError:
            continue
        text = raw.decode("utf-8", errors="replace").strip()
        if text:
            out[p.name] = text
    return out


def _video_segments(
    path: Path, info: ProbeInfo, out_dir: Path, rel_dir: str,
    chunks: list[sh.ShotChunk] | None = None,
) -> list[SegmentRef]:
    analysis = (sh.join_chunks(chunks, info.frame_rate) if chunks
                else sh.detect_shots(path, info.frame_rate, info.video_stream))
    stats = analysis.stats
    assert stats is not None
    tb = analysis.time_base
    rate = info.frame_rate
    n = analysis.frame_count
    info.frame_count = n
    header_s = info.duration_s
    info.duration_s = float(analysis.end_pts * tb)
    warning = truncation_warning(header_s, info.duration_s)
    if warning is not None:
        log.warning("%s: %s", path, warning)
        info.warnings = [*info.warnings, warning]
    spf = float(info.duration_s / n) if n else 0.04
    segments: list[SegmentRef] = []
    wanted: list[tuple[int, kf.KeyframeChoice]] = []
    for i, (s, e, tr) in enumerate(analysis.ranges()):
        end_ts = int(stats.pts[e]) if e < n else analysis.end_pts
        seg = SegmentRef(
            index=i, kind="shot", time_base=tb, start_ts=int(stats.pts[s]), end_ts=int(end_ts),
            start_frame=int(s), end_frame=int(e), rate=rate, transition=tr,
        )
        segments.append(seg)
        for choice in kf.choose_keyframes(stats, s, e, spf):
            wanted.append((i, choice))
    targets = [MediaTime(int(stats.pts[c.frame]), tb) for _, c in wanted]
    frames = frames_at(
        path, targets, stream_index=info.video_stream,
        max_px=kf.KEYFRAME_MAX_PX, rotation=info.rotation,
    )
    for seg_i, choice in wanted:
        ts = int(stats.pts[choice.frame])
        got = frames.get(MediaTime(ts, tb))
        if got is None:
            continue
        rgb = got.rgb
        name = layout.keyframe_name(seg_i, int(choice.frame))
        w, h = kf.save_jpeg(rgb, out_dir / name)
        segments[seg_i].keyframes.append(
            KeyframeRef(
                segment_index=seg_i, ts=ts, time_s=float(ts * tb), frame=int(choice.frame),
                path=out_dir / name, width=w, height=h, quality=choice.quality,
                stats={
                    "brightness": float(stats.brightness[choice.frame]),
                    "contrast": float(stats.contrast[choice.frame]),
                    "sharpness": float(stats.sharpness[choice.frame]),
                    "colourfulness": float(stats.colourfulness[choice.frame]),
                    "blank": float(choice.blank),
                },
            )
        )
    if not any(s.keyframes for s in segments):
        raise MediaError("no keyframe could be decoded")
    return segments


def _image_segments(path: Path, out_dir: Path) -> list[SegmentRef]:
    rgb = load_rgb(path)
    name = layout.keyframe_name(0, 0)
    w, h = kf.save_jpeg(rgb, out_dir / name)
    stats = kf.image_stats(rgb)
    seg = SegmentRef(index=0, kind="still", time_base=Fraction(1), start_ts=0, end_ts=0,
                     start_frame=0, end_frame=1)
    seg.keyframes.append(KeyframeRef(segment_index=0, ts=0, time_s=0.0, frame=0,
                                     path=out_dir / name, width=w, height=h,
                                     quality=stats["sharpness"], stats=stats))
    return [seg]


def _audio_segments(info: ProbeInfo) -> list[SegmentRef]:
    sr = next((s["sample_rate"] for s in info.audio_streams if s.get("sample_rate")), 48000)
    total = round((info.duration_s or 0.0) * sr)
    if total <= 0:
        raise MediaError("audio has no duration")
    win = int(AUDIO_WINDOW_S * sr)
    bounds = list(range(0, total, win)) + [total]
    if len(bounds) > 2 and (bounds[-1] - bounds[-2]) < AUDIO_MIN_TAIL_S * sr:
        del bounds[-2]
    tb = Fraction(1, sr)
    return [
        SegmentRef(index=i, kind="window", time_base=tb, start_ts=a, end_ts=b)
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


def catalogue_asset(
    path: Path, asset_id: int, data_dir: Path, content_hash: str, info: ProbeInfo | None = None,
    chunks: list[sh.ShotChunk] | None = None,
) -> CatalogueResult:
    """Probe (unless given), split into segments and store keyframes. Raises MediaError.
    ``chunks``: the shot analysis pass already made in parallel stretches
    (``indexer.shots.analyse_chunk``), joined here instead of a pass of its own."""
    info = info or probe(path)
    rel_dir = layout.keyframe_dir(asset_id, content_hash)
    out_dir = data_dir / rel_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    if info.kind == "video":
        segments = _video_segments(path, info, out_dir, rel_dir, chunks)
    elif info.kind == "image":
        segments = _image_segments(path, out_dir)
    else:
        segments = _audio_segments(info)
    return CatalogueResult(probe=info, segments=segments, keyframe_dir=rel_dir,
                           sidecars=read_sidecars(path))


def work_from_result(asset_id: int, path: Path, data_dir: Path, r: CatalogueResult) -> AssetWork:
    p = r.probe
    return AssetWork(
        asset_id=asset_id, path=path, kind=p.kind, data_dir=data_dir, duration_s=p.duration_s,
        frame_rate=p.frame_rate, width=p.width, height=p.height, rotation=p.rotation,
        has_audio=p.has_audio, audio_streams=p.audio_streams, segments=r.segments,
    )


__all__ = ["STAGE", "VERSION", "CatalogueResult", "catalogue_asset", "work_from_result"]
