"""Search hits as an editor's selects: a timeline (.otio .edl .xml) with a marker on each
hit, or a shot list (.csv). One function, :func:`export_hits`, for the CLI and the web app.

Each video hit becomes one clip: its shot's frames on the source's frame grid, in the
order of the hits (best first), with the source's start timecode and reel. A sound-only
hit becomes an audio event (``AA`` in the EDL, A1 only in OTIO) counted at the
timeline's rate from 00:00:00:00. Stills have no frames to cut: they are listed in the
CSV and left out of timelines with a warning.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assetdb.highlights.edl import (
    DEFAULT_RECORD_START,
    ExportError,
    Marker,
    edl_rate,
    reel_names,
    smpte,
)
from assetdb.highlights.reel import Clip, Reel
from assetdb.highlights.source import source_timecode
from assetdb.schema import Asset

TIMELINE_SUFFIXES = (".otio", ".edl", ".xml")
SHOT_LIST_SUFFIXES = (".csv",)
CSV_COLUMNS = ["rank", "score", "file", "reel", "tc_in", "tc_out", "duration", "fps", "kind",
               "shot", "start_s", "end_s", "snippet", "path"]


@dataclass
class Selects:
    reel: Reel
    markers: list[Marker]
    rows: list[dict[str, Any]]  # the shot list, every hit
    warnings: list[str] = field(default_factory=list)


def _get(hit: Any, name: str) -> Any:
    return hit.get(name) if isinstance(hit, dict) else getattr(hit, name)


def selects(store: Any, hits: Iterable[Any], query: str | None = None) -> Selects:
    """Clips, markers and shot-list rows for search hits (``SearchHit`` or its dict)."""
    from assetdb.media.grid import frame_grid
    from assetdb.paths import fs_path

    hits = list(hits)
    ids = {int(_get(h, "asset_id")) for h in hits}
    with store.session() as s:
        assets = {a.id: a for a in s.execute(select(Asset).where(Asset.id.in_(ids))).scalars()}
        info = {
            a.id: (str(fs_path(a.path, a.path_bytes)), source_timecode(a), bool(a.audio_streams))
            for a in assets.values()
        }
    clips: list[Clip | None] = []
    sound: list[tuple] = []
    markers: list[Marker] = []
    rows: list[dict[str, Any]] = []
    skipped = 0
    for rank, h in enumerate(hits, 1):
        aid = int(_get(h, "asset_id"))
        path, tc, has_audio = info[aid]
        kind = _get(h, "kind")
        start_s, end_s = float(_get(h, "start_s")), float(_get(h, "end_s"))
        row = {"rank": rank, "score": round(float(_get(h, "score")), 4),
               "file": Path(path).name, "reel": tc.reel or "", "tc_in": "", "tc_out": "",
               "duration": "", "fps": "", "kind": kind, "shot": _get(h, "segment_index"),
               "start_s": round(start_s, 3), "end_s": round(end_s, 3),
               "snippet": _get(h, "snippet") or "", "path": path}
        rows.append(row)
        if kind == "audio":
            sound.append((len(clips), rank, h, aid, path, tc, row))
            clips.append(None)  # placed once the timeline's rate is known
            continue
        if kind != "video":
            skipped += 1
            continue
        g = frame_grid(path)
        a = min(g.nearest_frame(start_s), g.n - 1)
        b = min(max(g.nearest_frame(end_s), a + 1), g.n)
        clip = Clip(
            asset_id=aid, path=path, segment_id=int(_get(h, "segment_id")),
            segment_index=int(_get(h, "segment_index")), start_frame=a, end_frame=b,
            start_s=g.time(a), end_s=g.time(b), rate=g.rate, time_base=g.time_base,
            start_pts=int(g.pts[a]), end_pts=int(g.pts[b]) if b < g.n else g.end_pts,
            variable_rate=g.variable, score=float(_get(h, "score")), has_audio=has_audio,
            handle_lo_frame=a, handle_hi_frame=b, handle_lo_s=g.time(a), handle_hi_s=g.time(b),
            width=g.width, height=g.height, source_frames=g.n,
            tc_start=tc.start_frames, tc_drop=tc.drop, tape=tc.reel,
        )
        rate = edl_rate(g.rate) if not g.variable else None
        if rate is not None:
            drop = tc.drop is not False  # drop-frame where the rate has it, unless told not
            row["tc_in"] = smpte(tc.start_frames + a, rate, drop)
            row["tc_out"] = smpte(tc.start_frames + b, rate, drop)
            row["duration"] = smpte(b - a, rate, False)
        else:
            row["tc_in"], row["tc_out"] = clip.timecodes()
        row["fps"] = f"{float(g.rate):.3f}".rstrip("0").rstrip(".")
        label = f"#{rank} score {row['score']:.3f}"
        if query:
            label += f" {query}"
        if row["snippet"]:
            label += f": {row['snippet']}"
        markers.append(Marker(clip=len(clips), offset_s=0.0, text=label, colour="GREEN"))
        clips.append(clip)
    # sound-only hits: audio events counted at the timeline's rate, from 00:00:00:00
    video_rates = [c.rate for c in clips if c is not None]
    rate = edl_rate(video_rates[0]) if video_rates else None
    rate = rate or Fraction(25)
    for i, rank, h, aid, path, tc, row in sound:
        a = round(Fraction(float(_get(h, "start_s"))) * rate)
        b = max(a + 1, round(Fraction(float(_get(h, "end_s"))) * rate))
        clips[i] = Clip(
            asset_id=aid, path=path, segment_id=int(_get(h, "segment_id")),
            segment_index=int(_get(h, "segment_index")), start_frame=a, end_frame=b,
            start_s=Fraction(a) / rate, end_s=Fraction(b) / rate, rate=rate,
            time_base=1 / rate, start_pts=a, end_pts=b, variable_rate=False,
            score=float(_get(h, "score")), has_audio=True, has_video=False,
            handle_lo_frame=a, handle_hi_frame=b, source_frames=b, tape=tc.reel,
        )
        row["tc_in"], row["tc_out"] = smpte(a, rate, False), smpte(b, rate, False)
        row["duration"], row["fps"] = smpte(b - a, rate, False), ""
        markers.append(Marker(clip=i, offset_s=0.0, text=f"#{rank} score {row['score']:.3f}"
                              + (f" {query}" if query else ""), colour="GREEN"))
    names = reel_names(clips)  # the reel names the EDL of these hits uses
    for row in rows:
        row["reel"] = names.get(row["path"], row["reel"])
    warnings = []
    if skipped:
        warnings.append(f"{skipped} hit(s) are stills: in a .csv shot list, not on a timeline")
    reel = Reel(clips=clips, target_s=float(sum((c.duration_s for c in clips), Fraction(0))),
                order="score", warnings=warnings)
    return Selects(reel=reel, markers=markers, rows=rows, warnings=warnings)


def export_hits(
    store: Any,
    hits: Iterable[Any],
    out: Path,
    *,
    query: str | None = None,
    title: str | None = None,
    record_start: str = DEFAULT_RECORD_START,
) -> Selects:
    """Write search hits to ``out``: a timeline (.otio .edl .xml) or a shot list (.csv)."""
    from assetdb.highlights.export import write_reel

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in TIMELINE_SUFFIXES + SHOT_LIST_SUFFIXES:
        raise ExportError(f"search hits export as {', '.join(TIMELINE_SUFFIXES)} or .csv, "
                          f"not {out.suffix or 'a file without a suffix'!r}")
    sel = selects(store, hits, query)
    if suffix == ".csv":
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            w.writeheader()
            w.writerows(sel.rows)
        return sel
    if not sel.reel.clips:
        raise ExportError("no video hits to put on a timeline; write a .csv shot list instead")
    name = title or (f"assetdb selects: {query}" if query else "assetdb selects")
    write_reel(sel.reel, out, record_start=record_start, title=name, markers=sel.markers)
    return sel
