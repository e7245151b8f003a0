"""Queries over the catalogue: status, asset lists and asset details (the CLI formats them)."""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from assetdb.db import Store, current_revision, head_revision
from assetdb.errors import NotFound, QueryError
from assetdb.paths import fs_path
from assetdb.schema import (
    STATE_FAILED,
    Asset,
    Keyframe,
    Proxy,
    Segment,
    StageRun,
    TextEntry,
    Vector,
)
from assetdb.timecode import STILL, frames_to_smpte, range_timecodes, seconds_to_smpte

log = logging.getLogger(__name__)

# Other features add sections to `assets show`: "module:function" taking
# (session, asset_id) and returning a dict merged into the details.
DETAIL_PROVIDERS: list[str] = [
    "assetdb.objects:asset_details",
    "assetdb.highlights:detail_rows",
    "assetdb.sound:asset_details",
    "assetdb.sound_events:asset_details",
    "assetdb.faces:asset_details",
]


def status(store: Store) -> dict[str, Any]:
    with store.session() as s:
        by_kind = dict(s.execute(
            select(Asset.kind, func.count()).where(Asset.state == "indexed").group_by(Asset.kind)
        ).all())
        by_state = dict(s.execute(select(Asset.state, func.count()).group_by(Asset.state)).all())
        duration = s.execute(
            select(func.coalesce(func.sum(Asset.duration_s), 0.0)).where(Asset.state == "indexed")
        ).scalar_one()
        segments = s.execute(select(func.count()).select_from(Segment)).scalar_one()
        keyframes = s.execute(select(func.count()).select_from(Keyframe)).scalar_one()
        stages = {
            f"{stage}": {"done": 0, "failed": 0, }
            for (stage,) in s.execute(select(StageRun.stage).distinct()).all()
        }
        for stage, state, n in s.execute(
            select(StageRun.stage, StageRun.state, func.count()).group_by(StageRun.stage, StageRun.state)
        ).all():
            stages[stage][state] = n
        vectors = dict(s.execute(select(Vector.space, func.count()).group_by(Vector.space)).all())
        texts = dict(s.execute(select(TextEntry.source, func.count()).group_by(TextEntry.source)).all())
    return {
        "database": store.engine.url.render_as_string(hide_password=True),
        "data_dir": str(store.settings.data_dir),
        "schema_revision": current_revision(store.engine),
        "schema_head": head_revision(),
        "assets": {
            "total": sum(by_state.values()),
            "indexed": by_state.get("indexed", 0),
            "failed": by_state.get(STATE_FAILED, 0),
            "pending": by_state.get("pending", 0),
            "missing": by_state.get("missing", 0),
            "by_kind": {k or "unknown": v for k, v in by_kind.items()},
        },
        "media_hours": round(float(duration) / 3600, 4),
        "segments": segments,
        "keyframes": keyframes,
        "stages": stages,
        "vectors": vectors,
        "texts": texts,
    }


def start_timecode(a: Asset) -> str | None:
    """The asset's start (source) timecode label; None for stills and audio."""
    if a.kind == "image" or not a.frame_rate:
        return None
    return frames_to_smpte(a.start_tc_frames or 0, a.frame_rate, bool(a.tc_drop))


def _asset_row(a: Asset) -> dict[str, Any]:
    return {
        "id": a.id,
        "path": a.path,
        "kind": a.kind,
        "state": a.state,
        "duration_s": round(a.duration_s, 3) if a.duration_s is not None else None,
        "width": a.width,
        "height": a.height,
        "frame_rate": str(a.frame_rate) if a.frame_rate else None,
        "start_tc": start_timecode(a),
        "start_tc_frames": a.start_tc_frames or 0,
        "tc_drop": bool(a.tc_drop),
        "reel": a.reel,
        "size": a.size,
        "error": a.error,
    }


def list_assets(store: Store, *, kind: str | None = None, failed: bool = False,
                limit: int | None = None) -> list[dict[str, Any]]:
    q = select(Asset).order_by(Asset.path)
    if kind:
        q = q.where(Asset.kind == kind)
    if failed:
        q = q.where(Asset.state == STATE_FAILED)
    if limit:
        q = q.limit(limit)
    with store.session() as s:
        rows = [_asset_row(a) for a in s.execute(q).scalars()]
        seg_counts = dict(s.execute(select(Segment.asset_id, func.count()).group_by(Segment.asset_id)).all())
    for r in rows:
        r["segments"] = seg_counts.get(r["id"], 0)
    return rows


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


def resolve_asset(session: Session, ref: str | int) -> Asset:
    """The one way to find an asset from what a user typed: its id, its path
    (absolute, relative to the working directory, with ``..`` or ``~``, or a trailing
    part such as ``video/tree.avi``) or its file name when only one asset has it.
    Raises NotFound when nothing matches and QueryError when a name is ambiguous."""
    text = str(ref).strip()
    if not text:
        raise NotFound("no asset given")
    if text.isdigit():
        a = session.get(Asset, int(text))
        if a is not None:
            return a
    expanded = os.path.expanduser(text)
    absolute = os.path.abspath(expanded)  # also folds "." and ".."
    real = os.path.realpath(expanded)
    for cand in dict.fromkeys((absolute, real, text)):
        a = session.execute(select(Asset).where(Asset.path == cand)).scalars().first()
        if a is not None:
            return a
    name = os.path.basename(absolute)
    if not name:
        raise NotFound(f"no asset {text!r} in the catalogue")
    same_name = session.execute(
        select(Asset).where(
            or_(Asset.path == name, Asset.path.like("%/" + _like_escape(name), escape="\\"))
        ).order_by(Asset.path)
    ).scalars().all()
    # paths stored before they were normalised may hold ".." or symlinks
    exact = [a for a in same_name
             if os.path.normpath(a.path) == absolute or os.path.realpath(a.path) == real]
    if exact:
        return exact[0]
    if os.sep in text and not os.path.isabs(expanded):
        tail = os.sep + os.path.normpath(expanded)
        matches = [a for a in same_name if os.path.normpath(a.path).endswith(tail)]
    elif os.sep in text:
        matches = []
    else:
        matches = list(same_name)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(a.path for a in matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise QueryError(
            f"{text!r} is ambiguous: it matches {len(matches)} assets ({shown}); "
            "give the id or the full path"
        )
    raise NotFound(f"no asset {text!r} in the catalogue")


def asset_details(store: Store, ref: str | int) -> dict[str, Any]:
    with store.session() as s:
        a = resolve_asset(s, ref)
        a = s.execute(
            select(Asset).where(Asset.id == a.id).options(
                selectinload(Asset.segments).selectinload(Segment.keyframes)
            )
        ).scalar_one()
        d = _asset_row(a)
        d.update({
            "content_hash": a.content_hash,
            "container": a.container,
            "mime": a.mime,
            "variable_frame_rate": a.variable_frame_rate,
            "frame_count": a.frame_count,
            "rotation": a.rotation,
            "video_codec": a.video_codec,
            "audio_codec": a.audio_codec,
            "audio_streams": a.audio_streams,
            "subtitle_streams": a.subtitle_streams,
            "tags": a.tags,
            # an image sequence's frame numbers on disk (assetdb.media.sequences)
            "frame_range": (f"{a.tags['sequence_first_frame']}-{a.tags['sequence_last_frame']}"
                            if "sequence_first_frame" in (a.tags or {}) else None),
            "created_at": a.created_at.isoformat() if a.created_at else None,
            "indexed_at": a.indexed_at.isoformat() if a.indexed_at else None,
            "warnings": a.warnings,
        })
        rate = a.frame_rate
        segs = []
        for seg in a.segments:
            srate = seg.rate or rate
            tc_in, tc_out = range_timecodes(
                seg.start_ts * seg.time_base, seg.end_ts * seg.time_base, srate, seg.kind,
                start_tc_frames=a.start_tc_frames or 0, drop=bool(a.tc_drop),
            )
            segs.append({
                "id": seg.id,
                "index": seg.index,
                "kind": seg.kind,
                "start_s": round(seg.start_s, 6),
                "end_s": round(seg.end_s, 6),
                "start_frame": seg.start_frame,
                "end_frame": seg.end_frame,
                "time_base": f"{seg.time_base_num}/{seg.time_base_den}",
                "start_ts": seg.start_ts,
                "end_ts": seg.end_ts,
                "tc_in": tc_in,
                "tc_out": tc_out,
                "transition": seg.transition,
                "keyframes": [
                    {
                        "time_s": round(float(k.ts * seg.time_base), 6),
                        "tc": None if seg.kind == STILL
                        else seconds_to_smpte(k.ts * seg.time_base, srate,
                                              a.start_tc_frames or 0, bool(a.tc_drop)),
                        "frame": k.frame,
                        "path": str(store.settings.data_dir / k.path),
                        "quality": round(k.quality, 3),
                    }
                    for k in seg.keyframes
                ],
            })
        d["segments"] = segs
        d["stages"] = {
            r.stage: {"version": r.version, "state": r.state, "error": r.error,
                      "seconds": round(r.seconds or 0.0, 3)}
            for r in s.execute(select(StageRun).where(StageRun.asset_id == a.id)).scalars()
        }
        for target in DETAIL_PROVIDERS:
            module, _, fn = target.partition(":")
            d.update(getattr(importlib.import_module(module), fn)(s, a.id))
    return d


def asset_file(store: Store, asset_id: int) -> Path:
    with store.session() as s:
        a = s.get(Asset, asset_id)
        if a is None:
            raise NotFound(f"no asset {asset_id}")
        return fs_path(a.path, a.path_bytes)


def proxy_of(session: Session, asset_id: int) -> dict[str, Any] | None:
    """The browser proxy of an asset (path relative to the data dir), or None."""
    row = session.get(Proxy, asset_id)
    if row is None:
        return None
    return {"asset_id": row.asset_id, "path": row.path, "width": row.width,
            "height": row.height, "duration_s": row.duration_s, "size": row.size,
            "has_audio": row.has_audio, "version": row.version}
