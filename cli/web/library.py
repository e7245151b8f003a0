"""Every library call of the web server, in one module.

The server is a thin layer over the library, at the same level as the CLI; this module
is the one place that names library functions. It also holds the few read queries the
pages need that no library function offers yet (keyframe ids of segments, playback
sources).
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from assetdb import faces as persons_lib
from assetdb.catalogue import asset_details, asset_file, list_assets, proxy_of, status
from assetdb.db import Store
from assetdb.errors import AssetdbError, IndexMismatch, NotFound, QueryError
from assetdb.highlights import highlights_for_asset, highlights_for_query, write_reel
from assetdb.media.proxy import browser_playable, presentation_start_s
from assetdb.schema import Asset, Face, Keyframe, Segment, StageRun, Vector
from assetdb.search import SearchRequest, search
from indexer.ingest import ensure_stages

__all__ = [
    "AssetdbError", "IndexMismatch", "NotFound", "QueryError", "SearchRequest", "Store",
    "asset_details", "asset_file", "browser_playable", "highlights_for_asset",
    "highlights_for_query", "list_assets", "persons_lib", "search", "status",
    "write_reel",
]

IN_CHUNK = 900
BROWSER_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp"})
BROWSER_AUDIO_SUFFIXES = frozenset({".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".m4a",
                                    ".aac", ".webm"})


def _chunks(xs: list[int], n: int = IN_CHUNK):
    for i in range(0, len(xs), n):
        yield xs[i: i + n]


def segment_keyframes(store: Store, segment_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Keyframe ids and times (s) of segments, in time order (hover scrubbing)."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with store.session() as s:
        for chunk in _chunks(sorted(set(segment_ids))):
            for kid, sid, ts, num, den, rel in s.execute(
                select(Keyframe.id, Keyframe.segment_id, Keyframe.ts, Segment.time_base_num,
                       Segment.time_base_den, Keyframe.path)
                .join(Segment, Segment.id == Keyframe.segment_id)
                .where(Keyframe.segment_id.in_(chunk))
                .order_by(Keyframe.segment_id, Keyframe.ts)
            ):
                out[sid].append({"id": kid, "time_s": round(ts * num / den, 6), "path": rel})
    return out


def keyframe_file(store: Store, keyframe_id: int) -> Path:
    with store.session() as s:
        rel = s.scalar(select(Keyframe.path).where(Keyframe.id == keyframe_id))
    if rel is None:
        raise NotFound(f"no keyframe {keyframe_id}")
    return _inside(store, rel)


def face_crop_file(store: Store, face_id: int) -> Path:
    with store.session() as s:
        rel = s.scalar(select(Face.crop_path).where(Face.id == face_id))
    if rel is None:
        raise NotFound(f"no face image {face_id}")
    return _inside(store, rel)


def proxy_file(store: Store, asset_id: int) -> Path:
    with store.session() as s:
        if s.get(Asset, asset_id) is None:
            raise NotFound(f"no asset {asset_id}")
        row = proxy_of(s, asset_id)
    if row is None:
        raise NotFound(f"asset {asset_id} has no browser proxy")
    return _inside(store, row["path"])


def _inside(store: Store, rel: str) -> Path:
    """A stored relative path under the data dir (never outside it)."""
    root = Path(store.settings.data_dir).resolve()
    p = (root / rel).resolve()
    if root not in p.parents:
        raise NotFound("stored file lies outside the data dir")
    return p


_OFFSETS: dict[tuple[int, str | None], float] = {}


def _offset(asset_id: int, content_hash: str | None, path: str, path_bytes: bytes | None) -> float:
    key = (asset_id, content_hash)
    if key not in _OFFSETS:
        from assetdb.paths import fs_path

        _OFFSETS[key] = round(presentation_start_s(fs_path(path, path_bytes)), 6)
    return _OFFSETS[key]


def playback(store: Store, asset_ids: list[int]) -> dict[int, dict[str, Any]]:
    """How a browser shows each asset: ``{"source": "proxy"|"original"|"keyframe"|None,
    "reason": ..., "offset_s": ...}``. The proxy when there is one, else the original when
    a browser plays it as is, else nothing (with why). ``offset_s``: the player's
    ``currentTime`` of stored time 0 (where the first video frame sits in the file)."""
    out: dict[int, dict[str, Any]] = {}
    with store.session() as s:
        for chunk in _chunks(sorted(set(asset_ids))):
            rows = s.execute(
                select(Asset.id, Asset.path, Asset.kind, Asset.container, Asset.video_codec,
                       Asset.audio_codec, Asset.content_hash, Asset.path_bytes)
                .where(Asset.id.in_(chunk))
            ).all()
            staged = set(s.scalars(select(StageRun.asset_id).where(
                StageRun.asset_id.in_(chunk), StageRun.stage == "proxy",
                StageRun.state == "done")))
            for aid, path, kind, container, vcodec, acodec, chash, pbytes in rows:
                suffix = Path(path).suffix.lower()
                if kind == "image":
                    ok = suffix in BROWSER_IMAGE_SUFFIXES
                    out[aid] = {"source": "original" if ok else "keyframe",
                                "reason": None if ok else "format not shown by browsers"}
                elif kind == "audio":
                    ok = suffix in BROWSER_AUDIO_SUFFIXES
                    out[aid] = {"source": "original" if ok else None,
                                "reason": None if ok else "format not played by browsers"}
                elif proxy_of(s, aid) is not None:
                    out[aid] = {"source": "proxy", "reason": None}
                elif browser_playable(path, container, vcodec, acodec):
                    out[aid] = {"source": "original", "reason": None,
                                "offset_s": _offset(aid, chash, path, pbytes)}
                else:
                    out[aid] = {"source": None, "reason": "a browser cannot play this file and "
                                "it has no proxy yet" + ("" if aid in staged else
                                                         "; run `assetdb ingest` on it")}
    return out


def vector_count(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count(Vector.id))) or 0)


def pending_and_failed(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Assets not yet indexed, failed files and failed stages (with the reason)."""
    with store.session() as s:
        pending = [{"id": i, "path": p, "state": st} for i, p, st in s.execute(
            select(Asset.id, Asset.path, Asset.state)
            .where(Asset.state.not_in(("indexed", "failed"))).order_by(Asset.path))]
        failed = [{"id": i, "path": p, "error": e} for i, p, e in s.execute(
            select(Asset.id, Asset.path, Asset.error)
            .where(Asset.state == "failed").order_by(Asset.path))]
        stages = [{"id": i, "path": p, "stage": st, "error": e} for i, p, st, e in s.execute(
            select(Asset.id, Asset.path, StageRun.stage, StageRun.error)
            .join(StageRun, StageRun.asset_id == Asset.id)
            .where(StageRun.state == "failed").order_by(Asset.path, StageRun.stage))]
    return {"pending": pending, "failed": failed, "stage_failures": stages}


# -- persons and faces (the functions `assetdb persons|faces` use) ------------------------


def persons_list(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        return [p.as_dict() for p in persons_lib.list_persons(s, store.settings.data_dir)]


def person_show(store: Store, ref: str) -> dict[str, Any]:
    with store.session() as s:
        p = persons_lib.get_person(s, ref)
        info = next(i for i in persons_lib.list_persons(s, store.settings.data_dir)
                    if i.id == p.id)
        faces = [f.as_dict() for f in persons_lib.list_faces(
            s, person=p.id, data_dir=store.settings.data_dir)]
    return info.as_dict() | {"face_list": faces}


def faces_list(store: Store, *, person: str | None = None, asset: str | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
    with store.session() as s:
        return [f.as_dict() for f in persons_lib.list_faces(
            s, person=person, asset=asset, data_dir=store.settings.data_dir, limit=limit)]


def person_name(store: Store, ref: str, name: str) -> dict[str, Any]:
    with store.session() as s:
        p = persons_lib.name_person(s, ref, name)
        return {"id": p.id, "name": p.name}


def person_merge(store: Store, target: str, sources: list[str]) -> dict[str, Any]:
    with store.session() as s:
        p = persons_lib.merge_persons(s, target, sources)
        return {"id": p.id, "name": p.name}


def person_split(store: Store, ref: str, face_ids: list[int], name: str | None) -> dict[str, Any]:
    with store.session() as s:
        p = persons_lib.split_person(s, ref, face_ids, name)
        return {"id": p.id, "name": p.name}


def face_reject(store: Store, face_id: int, person: str) -> dict[str, Any]:
    with store.session() as s:
        persons_lib.reject_face(s, face_id, person)
    return {"face": face_id, "rejected_from": person}


# -- highlights ------------------------------------------------------------------------


def reel_for_asset(store: Store, asset_ref: int, duration_s: float, **kw: Any):
    """As `assetdb highlights ASSET`: measures the interest signals first when missing."""
    with store.session() as s:
        a = s.get(Asset, asset_ref)
        if a is None:
            raise NotFound(f"no asset {asset_ref}")
        if a.kind != "video":
            raise QueryError(f"{Path(a.path).name} is an {a.kind} asset; highlights need video")
    ensure_stages(store, asset_ref, ["interest"])
    with store.session() as s:
        return highlights_for_asset(s, asset_ref, duration_s, **kw)


def reel_for_query(store: Store, query: str, duration_s: float, **kw: Any):
    return highlights_for_query(store, query, duration_s, **kw)


def asset_rates(store: Store, asset_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Path, name and nominal frame rate of assets (for shot-list exports)."""
    out: dict[int, dict[str, Any]] = {}
    with store.session() as s:
        for chunk in _chunks(sorted(set(asset_ids))):
            for aid, path, num, den in s.execute(
                select(Asset.id, Asset.path, Asset.frame_rate_num, Asset.frame_rate_den)
                .where(Asset.id.in_(chunk))
            ):
                out[aid] = {"path": path, "rate": Fraction(num, den) if num and den else None}
    return out


def first_keyframes(store: Store, asset_ids: list[int]) -> dict[int, int]:
    """The first keyframe id of each asset (its poster in lists)."""
    out: dict[int, int] = {}
    with store.session() as s:
        for chunk in _chunks(sorted(set(asset_ids))):
            rows = s.execute(
                select(Segment.asset_id, func.min(Keyframe.id))
                .join(Keyframe, Keyframe.segment_id == Segment.id)
                .where(Segment.asset_id.in_(chunk), Segment.index == 0)
                .group_by(Segment.asset_id)
            ).all()
            out.update({aid: kid for aid, kid in rows})
    return out
