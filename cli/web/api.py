"""The JSON API (`/api/...`): each route parses, makes one library call, shapes JSON.

Media is served by id only (asset, keyframe, face, proxy); no route takes a path.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from assetdb.search.request import WEAK_MATCHES
from cli.web import library as lib
from cli.web import selects
from cli.web.media import file_response

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

REEL_FORMATS = {"otio": ".otio", "edl": ".edl", "json": ".json", "mp4": ".mp4"}
REELS_KEPT = 32


def _store(request: Request) -> lib.Store:
    return request.app.state.store


def _date(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise lib.QueryError(f"{name} takes an ISO date or date-time, e.g. 2024-05-01") from None


def _kf_url(kid: int | None) -> str | None:
    return f"/api/keyframes/{kid}" if kid is not None else None


def _play(asset_id: int, info: dict[str, Any]) -> dict[str, Any]:
    src = info.get("source")
    url = {"proxy": f"/api/assets/{asset_id}/proxy",
           "original": f"/api/assets/{asset_id}/media"}.get(src)
    return {"source": src, "url": url, "reason": info.get("reason"),
            "offset_s": info.get("offset_s", 0.0)}


# ---------------------------------------------------------------------------- search


@router.get("/search", summary="Search shots, stills and sounds (as `assetdb search --json`)")
def api_search(
    request: Request,
    q: Annotated[str | None, Query(description="What to look for, in plain words.")] = None,
    limit: Annotated[int, Query(description="Number of hits.")] = 20,
    kind: Annotated[str | None, Query(description="video, image or audio.")] = None,
    path: Annotated[str | None, Query(description="Glob over the file path.")] = None,
    after: Annotated[str | None, Query(description="Created at or after (ISO date).")] = None,
    before: Annotated[str | None, Query(description="Created before (ISO date).")] = None,
    min_duration: Annotated[float | None, Query(description="Shortest shot, s.")] = None,
    max_duration: Annotated[float | None, Query(description="Longest shot, s.")] = None,
    person: Annotated[list[str] | None, Query(description="Shots with this person (all).")] = None,
    object: Annotated[list[str] | None, Query(description="Shots with this object (all).")] = None,
    like_shot: Annotated[int | None, Query(description="More like this shot id.")] = None,
    sounds_like_shot: Annotated[int | None, Query(description="Sounds like this segment.")] = None,
    sound: Annotated[list[str] | None, Query(description="Segments where this sound is heard "
                                             "(all).")] = None,
    add: Annotated[list[str] | None, Query(description="[W:]TEXT added to the visual "
                                           "query.")] = None,
    subtract: Annotated[list[str] | None, Query(description="[W:]TEXT subtracted from the "
                                                "visual query.")] = None,
    all_shots: Annotated[bool, Query(description="Every matching shot, not the best of "
                                     "each file.")] = False,
    per_asset: Annotated[bool, Query(description="Best shot per file (the default).")] = False,
    cutoff: Annotated[float | None, Query(description="Keep hits with at least this "
                                          "relevance (0-1).")] = None,
    explain: Annotated[bool, Query(description="Each source's rank and share.")] = False,
    weak: Annotated[int, Query(ge=0, le=100, description="When no hit reaches the cutoff, "
                               "this many of the nearest, marked weak.")] = WEAK_MATCHES,
) -> dict[str, Any]:
    store = _store(request)
    req = lib.SearchRequest(
        query=q, like_shot=like_shot, kind=kind or None, path=path or None,
        after=_date(after, "after"), before=_date(before, "before"),
        min_duration=min_duration, max_duration=max_duration, limit=limit,
        per_asset=per_asset, all_shots=all_shots, cutoff=cutoff,
        persons=[p for p in person or [] if p], objects=[o for o in object or [] if o],
        sounds=[x for x in sound or [] if x], add=[x for x in add or [] if x],
        subtract=[x for x in subtract or [] if x], sounds_like_shot=sounds_like_shot,
        explain=explain, weak=weak,
    )
    t0 = time.perf_counter()
    # One search at a time in this process: a search that finds the vectors changed syncs
    # and saves the index file, and the save's temp name is per process, not per thread.
    with request.app.state.search_lock:
        try:
            hits = [h.to_dict() for h in lib.search(store, req)]
        except (OSError, lib.IndexMismatch) as exc:
            # an ingest in another process replaced the index files while they were read
            log.info("index changed under the search (%s); searching again", exc)
            hits = [h.to_dict() for h in lib.search(store, req)]
    took = (time.perf_counter() - t0) * 1000
    kfs = lib.segment_keyframes(store, [h["segment_id"] for h in hits])
    plays = lib.playback(store, [h["asset_id"] for h in hits])
    data_dir = Path(store.settings.data_dir)
    for h in hits:
        frames = kfs.get(h["segment_id"], [])
        h["name"] = Path(h["path"]).name
        h["keyframes"] = [{"id": k["id"], "time_s": k["time_s"], "url": _kf_url(k["id"])}
                          for k in frames]
        thumb = next((k["id"] for k in frames if str(data_dir / k["path"]) == h["thumbnail"]),
                     frames[0]["id"] if frames else None)
        h["thumbnail_url"] = _kf_url(thumb)
        h["play"] = _play(h["asset_id"], plays.get(h["asset_id"], {}))
    return {"query": q, "took_ms": round(took, 1), "results": hits}


# ---------------------------------------------------------------------------- assets


@router.get("/assets", summary="Catalogued assets")
def api_assets(
    request: Request,
    kind: str | None = None,
    failed: bool = False,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    if kind and kind not in ("video", "image", "audio"):
        raise lib.QueryError("kind must be video, image or audio")
    store = _store(request)
    rows = lib.list_assets(store, kind=kind, failed=failed, limit=limit)
    thumbs = lib.first_keyframes(store, [r["id"] for r in rows])
    for r in rows:
        r["name"] = Path(r["path"]).name
        r["thumbnail_url"] = _kf_url(thumbs.get(r["id"]))
    return {"assets": rows}


@router.get("/assets/{asset_id}", summary="One asset: segments, keyframes, transcript, "
            "objects, on-screen text, faces")
def api_asset(request: Request, asset_id: int) -> dict[str, Any]:
    store = _store(request)
    if asset_id < 1:
        raise lib.NotFound(f"no asset {asset_id}")
    d = lib.asset_details(store, asset_id)
    kfs = lib.segment_keyframes(store, [s["id"] for s in d["segments"]])
    data_dir = Path(store.settings.data_dir)
    for seg in d["segments"]:
        ids = {str(data_dir / k["path"]): k["id"] for k in kfs.get(seg["id"], [])}
        for k in seg["keyframes"]:
            k["id"] = ids.get(k["path"])
            k["url"] = _kf_url(k["id"])
            k.pop("frame", None)
    for f in d.get("faces") or []:
        f["crop_url"] = f"/api/faces/{f['face']}/crop"
    d["name"] = Path(d["path"]).name
    d["play"] = _play(asset_id, lib.playback(store, [asset_id]).get(asset_id, {}))
    return d


@router.get("/assets/{asset_id}/media", summary="The original file (HTTP Range)",
            response_class=Response)
def api_asset_media(request: Request, asset_id: int) -> Response:
    if asset_id < 1:
        raise lib.NotFound(f"no asset {asset_id}")
    path = lib.asset_file(_store(request), asset_id)
    if not path.is_file():
        raise lib.NotFound(f"the file of asset {asset_id} is gone from disk")
    return file_response(request, path)


@router.get("/assets/{asset_id}/proxy", summary="The browser proxy (HTTP Range)",
            response_class=Response)
def api_asset_proxy(request: Request, asset_id: int) -> Response:
    path = lib.proxy_file(_store(request), asset_id)
    if not path.is_file():
        raise lib.NotFound(f"the proxy of asset {asset_id} is gone; run `assetdb ingest`")
    return file_response(request, path, "video/mp4")


@router.get("/keyframes/{keyframe_id}", summary="A keyframe (JPEG)", response_class=Response)
def api_keyframe(request: Request, keyframe_id: int) -> Response:
    path = lib.keyframe_file(_store(request), keyframe_id)
    if not path.is_file():
        raise lib.NotFound(f"keyframe {keyframe_id} is gone from the data dir")
    return file_response(request, path, "image/jpeg")


@router.get("/status", summary="What is indexed, pending and failed (with the reason)")
def api_status(request: Request) -> dict[str, Any]:
    store = _store(request)
    s = lib.status(store)
    s.update(lib.pending_and_failed(store))
    return s


# ---------------------------------------------------------------------------- persons


class NameBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class MergeBody(BaseModel):
    sources: list[str] = Field(min_length=1)


class SplitBody(BaseModel):
    faces: list[int] = Field(min_length=1)
    name: str | None = None


class RejectBody(BaseModel):
    person: str


def _person_urls(p: dict[str, Any]) -> dict[str, Any]:
    rep = p.get("representative_face_id")
    p["thumbnail_url"] = f"/api/faces/{rep}/crop" if rep else None
    return p


def _face_urls(f: dict[str, Any]) -> dict[str, Any]:
    f["crop_url"] = f"/api/faces/{f['id']}/crop" if f.get("crop") else None
    f["name"] = Path(f["path"]).name
    return f


@router.get("/persons", summary="Persons with face, shot and asset counts")
def api_persons(request: Request) -> dict[str, Any]:
    return {"persons": [_person_urls(p) for p in lib.persons_list(_store(request))]}


@router.get("/persons/{ref}", summary="A person (id or name) and their faces")
def api_person(request: Request, ref: str) -> dict[str, Any]:
    p = lib.person_show(_store(request), ref)
    p["face_list"] = [_face_urls(f) for f in p["face_list"]]
    return _person_urls(p)


@router.post("/persons/{ref}/name", summary="Name or rename a person")
def api_person_name(request: Request, ref: str, body: NameBody) -> dict[str, Any]:
    return lib.person_name(_store(request), ref, body.name)


@router.post("/persons/{ref}/merge", summary="Merge other persons into this one")
def api_person_merge(request: Request, ref: str, body: MergeBody) -> dict[str, Any]:
    return lib.person_merge(_store(request), ref, body.sources)


@router.post("/persons/{ref}/split", summary="Move faces of a person to a new person")
def api_person_split(request: Request, ref: str, body: SplitBody) -> dict[str, Any]:
    return lib.person_split(_store(request), ref, body.faces, body.name)


@router.get("/faces", summary="Detected faces (by person or asset)")
def api_faces(request: Request, person: str | None = None, asset: int | None = None,
              limit: Annotated[int | None, Query(ge=1)] = None) -> dict[str, Any]:
    rows = lib.faces_list(_store(request), person=person,
                          asset=str(asset) if asset is not None else None, limit=limit)
    return {"faces": [_face_urls(f) for f in rows]}


@router.post("/faces/{face_id}/reject", summary="This face is not that person")
def api_face_reject(request: Request, face_id: int, body: RejectBody) -> dict[str, Any]:
    return lib.face_reject(_store(request), face_id, body.person)


@router.get("/faces/{face_id}/crop", summary="A face crop (JPEG)", response_class=Response)
def api_face_crop(request: Request, face_id: int) -> Response:
    path = lib.face_crop_file(_store(request), face_id)
    if not path.is_file():
        raise lib.NotFound(f"the image of face {face_id} is gone from the data dir")
    return file_response(request, path, "image/jpeg")


# ---------------------------------------------------------------------------- highlights


class ReelBody(BaseModel):
    asset_id: int | None = None
    query: str | None = None
    duration_s: float = Field(30.0, gt=0, le=3600)
    order: str = Field("chrono", pattern="^(chrono|score)$")
    min_clip_s: float = Field(1.5, gt=0)
    max_clip_s: float | None = Field(None, gt=0)
    fades: bool = False


@router.post("/highlights", summary="Build a reel for an asset or a query")
def api_highlights(request: Request, body: ReelBody) -> dict[str, Any]:
    if (body.asset_id is None) == (not body.query):
        raise lib.QueryError("give either an asset_id or a query")
    store = _store(request)
    kw = {"min_clip_s": body.min_clip_s, "max_clip_s": body.max_clip_s, "order": body.order,
          "fades": body.fades}
    if body.query:
        reel = lib.reel_for_query(store, body.query, body.duration_s, **kw)
    else:
        reel = lib.reel_for_asset(store, body.asset_id, body.duration_s, **kw)
    state = request.app.state
    with state.search_lock:
        state.reel_seq += 1
        rid = state.reel_seq
        state.reels[rid] = reel
        while len(state.reels) > REELS_KEPT:
            state.reels.pop(next(iter(state.reels)))
    d = reel.to_dict()
    plays = lib.playback(store, [c["asset_id"] for c in d["clips"]])
    kfs = lib.segment_keyframes(store, [c["segment_id"] for c in d["clips"]])
    for c in d["clips"]:
        c["name"] = Path(c["path"]).name
        c["play"] = _play(c["asset_id"], plays.get(c["asset_id"], {}))
        frames = kfs.get(c["segment_id"]) or []
        c["thumbnail_url"] = _kf_url(frames[0]["id"]) if frames else None
    d["id"] = rid
    d["downloads"] = {f: f"/api/highlights/{rid}/reel{suffix}"
                      for f, suffix in REEL_FORMATS.items()}
    return d


@router.get("/highlights/{reel_id}/reel.{fmt}", summary="Download a built reel",
            response_class=Response)
async def api_highlights_download(request: Request, reel_id: int, fmt: str) -> Response:
    if fmt not in REEL_FORMATS:
        raise lib.QueryError(f"format must be one of {', '.join(REEL_FORMATS)}")
    reel = request.app.state.reels.get(reel_id)
    if reel is None:
        raise lib.NotFound(f"no reel {reel_id} (reels live while the server runs)")
    out = Path(request.app.state.tmp_dir) / f"reel-{reel_id}{REEL_FORMATS[fmt]}"
    if not out.is_file():
        await run_in_threadpool(lib.write_reel, reel, out)
    media = {"mp4": "video/mp4", "json": "application/json", "otio": "application/json",
             "edl": "text/plain"}[fmt]
    resp = file_response(request, out, media)
    resp.headers["Content-Disposition"] = f'attachment; filename="highlights-{reel_id}.{fmt}"'
    return resp


# ---------------------------------------------------------------------------- selects


class SelectItem(BaseModel):
    asset_id: int
    segment_id: int | None = None
    start_s: float
    end_s: float
    name: str | None = None
    note: str | None = None


class SelectsBody(BaseModel):
    format: str
    items: list[SelectItem]


@router.post("/selects/export", summary="The selects bin as EDL, OTIO or CSV shot list",
             response_class=Response)
def api_selects_export(request: Request, body: SelectsBody) -> Response:
    items = [i.model_dump() for i in body.items]
    assets = lib.asset_rates(_store(request), [i["asset_id"] for i in items])
    text = selects.export(items, assets, body.format)
    return Response(text, media_type=selects.FORMATS[body.format], headers={
        "Content-Disposition": f'attachment; filename="selects.{body.format}"'})
