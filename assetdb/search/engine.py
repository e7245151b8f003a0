"""Hybrid search: visual vectors, full text, transcripts and sound, fused per shot.

Each source ranks segments (shots, stills, audio windows) on its own:

``visual``      the query text embedded by the model of the database's visual space,
                searched in its FAISS index; a segment scores as its best keyframe.
``like``        the same index queried with an image (``like_image``) or with the
                mean of a stored shot's keyframe vectors (``like_shot``).
``text``        full-text search over ``texts`` (file name, path, tags, sidecars,
                transcripts, OCR, object labels, person names). A row tied to a
                segment counts for that segment; an asset-level row (file name, tags)
                describes the whole file and counts for each of its segments.
``transcript``  the query embedded by all-MiniLM-L6-v2 against transcript lines
                (space ``transcript:all-MiniLM-L6-v2``), i.e. paraphrases of speech.
``sound``       ``assetdb.sound.similar_segments`` for ``sounds_like*``.

Scores of different sources (and of one source across queries) are not comparable,
so they are fused by reciprocal rank: ``sum_s w_s / (RRF_K + rank_s)``, ranks taken
after filtering. There is no absolute similarity cutoff; ``cutoff`` keeps hits whose
fused score is at least that fraction of the best one. Filters (kind, path glob,
creation time, segment duration, persons, objects) narrow the candidates.
"""

from __future__ import annotations

import fnmatch
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from assetdb.errors import AssetdbError, IndexMismatch, ModelUnavailable, NotFound, QueryError
from assetdb.schema import Asset, Keyframe, Segment, Vector
from assetdb.spaces import TRANSCRIPT_SPACE, recorded_model, sentence_embedder, text_embedder
from assetdb.timecode import frames_to_smpte, seconds_to_smpte

log = logging.getLogger(__name__)

RRF_K = 60
DEFAULT_WEIGHTS = {"visual": 1.0, "like": 1.0, "text": 1.0, "transcript": 0.8, "sound": 1.0}
# A transcript line below this cosine (all-MiniLM-L6-v2) is unrelated to the query; dense
# search ranks every line, and without a floor an unrelated line still gets an RRF vote.
# Measured: paraphrases of indexed lines 0.32-0.60, unrelated query/line pairs -0.13-0.18.
TRANSCRIPT_MIN_COSINE = 0.25
CANDIDATES_MIN = 500  # per source; filters may discard many
CANDIDATES_PER_HIT = 20
FILTERED_SCAN_MAX = 200_000  # with filters, search this many vectors deep at most
IN_CHUNK = 900
KINDS = ("video", "image", "audio")


@dataclass
class SearchRequest:
    query: str | None = None
    like_image: Path | None = None
    like_shot: int | None = None
    kind: str | None = None
    path: str | None = None  # glob over the asset path
    after: datetime | None = None  # Asset.created_at
    before: datetime | None = None
    min_duration: float | None = None  # seconds, of the segment
    max_duration: float | None = None
    limit: int = 20
    per_asset: bool = False
    cutoff: float | None = None  # keep fused score >= cutoff * best
    persons: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    sounds_like: Path | None = None
    sounds_like_shot: int | None = None
    explain: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"

    def has_ranking(self) -> bool:
        return bool(
            (self.query and self.query.strip())
            or self.like_image
            or self.like_shot is not None
            or self.sounds_like
            or self.sounds_like_shot is not None
        )

    def has_filters(self) -> bool:
        return bool(
            self.kind or self.path or self.after or self.before or self.min_duration is not None
            or self.max_duration is not None or self.persons or self.objects
        )


@dataclass
class SourceScore:
    rank: int  # 1-based, after filtering
    score: float  # the source's own score (cosine, bm25, ...)
    contribution: float  # weight / (RRF_K + rank)


@dataclass
class SearchHit:
    asset_id: int
    path: str
    kind: str
    segment_id: int
    segment_index: int
    start_s: float
    end_s: float
    tc_in: str
    tc_out: str
    score: float
    thumbnail: str | None
    sources: dict[str, SourceScore] = field(default_factory=dict)
    snippet: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Ranked:
    """One source's candidates: segment id -> (score, extra), best first."""

    scores: dict[int, float] = field(default_factory=dict)
    best_t: dict[int, float] = field(default_factory=dict)  # keyframe time of the best match
    snippets: dict[int, str] = field(default_factory=dict)

    def put(self, seg: int, score: float, t: float | None = None, snippet: str | None = None):
        if seg not in self.scores or score > self.scores[seg]:
            self.scores[seg] = score
            if t is not None:
                self.best_t[seg] = t
            if snippet:
                self.snippets[seg] = snippet


def _chunks(xs: list[int], n: int = IN_CHUNK):
    for i in range(0, len(xs), n):
        yield xs[i : i + n]


# -- sources -----------------------------------------------------------------------


def _vector_rows(session, ids: list[int]) -> dict[int, tuple[int | None, int, float | None]]:
    out: dict[int, tuple[int | None, int, float | None]] = {}
    for chunk in _chunks(ids):
        for vid, seg, aid, t in session.execute(
            select(Vector.id, Vector.segment_id, Vector.asset_id, Vector.t_s).where(
                Vector.id.in_(chunk)
            )
        ):
            out[vid] = (seg, aid, t)
    return out


def _segment_at(session, asset_id: int, t: float | None) -> int | None:
    """The segment of an asset that contains time ``t`` (first segment if unknown)."""
    segs = session.execute(
        select(Segment.id, Segment.start_ts, Segment.end_ts, Segment.time_base_num,
               Segment.time_base_den).where(Segment.asset_id == asset_id).order_by(Segment.index)
    ).all()
    if not segs:
        return None
    if t is not None:
        for sid, a, b, num, den in segs:
            tb = num / den
            if a * tb <= t < b * tb:
                return sid
    return segs[0][0]


def _search_space(store, space: str, queries: np.ndarray, k: int, device: str) -> _Ranked:
    from assetdb.vectors import open_index

    try:
        index = open_index(store, space, device=device)
    except NotFound as exc:
        raise QueryError(f"the index of {space} is empty; ingest some media first") from exc
    k = max(1, min(k, index.ntotal))
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None]
    if q.shape[1] != index.dim:
        raise IndexMismatch(
            f"query embedding has {q.shape[1]} dimensions, the {space} index {index.dim}; "
            "run `assetdb index rebuild`"
        )
    scores, ids = index.search(q, k)
    ranked = _Ranked()
    valid = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    with store.session() as s:
        rows = _vector_rows(s, [i for i, _ in valid])
        for vid, score in valid:
            row = rows.get(vid)
            if row is None:  # deleted since the index was synced
                continue
            seg, aid, t = row
            if seg is None:
                seg = _segment_at(s, aid, t)
                if seg is None:
                    continue
            ranked.put(seg, score, t)
    return ranked


def _shot_vector(store, space: str, segment_id: int) -> np.ndarray:
    from assetdb.records import bytes_to_vector

    with store.session() as s:
        if s.get(Segment, segment_id) is None:
            raise QueryError(f"no shot with id {segment_id}")
        blobs = s.execute(
            select(Vector.data).where(Vector.segment_id == segment_id, Vector.space == space)
        ).scalars().all()
    if not blobs:
        raise QueryError(f"shot {segment_id} has no vectors in {space}")
    v = np.mean([bytes_to_vector(b) for b in blobs], axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _fts_source(store, query: str, k: int) -> _Ranked:
    from assetdb.fts import search_texts

    ranked = _Ranked()
    with store.session() as s:
        hits = search_texts(s, query, limit=k)
        asset_rows = [h for h in hits if h.segment_id is None]
        segs_of: dict[int, list[int]] = defaultdict(list)
        aids = sorted({h.asset_id for h in asset_rows})
        for chunk in _chunks(aids):
            for sid, aid in s.execute(
                select(Segment.id, Segment.asset_id).where(Segment.asset_id.in_(chunk))
            ):
                segs_of[aid].append(sid)
    for h in hits:
        snippet = f"{h.source}: {h.snippet}"
        targets = [h.segment_id] if h.segment_id is not None else segs_of.get(h.asset_id, [])
        for seg in targets:
            ranked.put(seg, h.score, snippet=snippet)
    return ranked


def _space_has_vectors(store, space: str) -> bool:
    with store.session() as s:
        return s.execute(select(Vector.id).where(Vector.space == space).limit(1)).first() is not None


def _sound_source(store, req: SearchRequest, k: int) -> _Ranked:
    try:
        from assetdb.sound import similar_segments
    except ImportError as exc:
        raise QueryError("sounds-like search is not available in this build") from exc
    ranked = _Ranked()
    for seg, score in similar_segments(
        store, audio_path=req.sounds_like, segment_id=req.sounds_like_shot, limit=k
    ):
        ranked.put(int(seg), float(score))
    return ranked


def _filter_segments(store, req: SearchRequest) -> set[int] | None:
    """Segments allowed by the persons/objects filters (None: no such filter)."""
    allowed: set[int] | None = None
    with store.session() as s:
        if req.persons:
            try:
                from assetdb.persons import segment_ids_for_persons
            except ImportError as exc:
                raise QueryError("--person filters are not available in this build") from exc
            allowed = set(segment_ids_for_persons(s, list(req.persons)))
        if req.objects:
            try:
                from assetdb.objects import segment_ids_for_objects
            except ImportError as exc:
                raise QueryError("--object filters are not available in this build") from exc
            found = set(segment_ids_for_objects(s, list(req.objects)))
            allowed = found if allowed is None else allowed & found
    return allowed


# -- segment facts and filters -------------------------------------------------------


@dataclass
class _SegInfo:
    id: int
    asset_id: int
    index: int
    path: str
    kind: str
    created_at: datetime | None
    start_s: float
    end_s: float
    tc_in: str
    tc_out: str
    keyframes: list[tuple[float, str]]  # (time s, absolute path)


def _timecodes(seg: Segment) -> tuple[str, str]:
    rate = seg.rate
    if rate:
        end = max(seg.end_frame - 1, seg.start_frame)  # out point = last frame shown
        try:
            return frames_to_smpte(seg.start_frame, rate), frames_to_smpte(end, rate)
        except ValueError:
            pass
    return seconds_to_smpte(seg.start_s, None), seconds_to_smpte(seg.end_s, None)


def _segment_info(store, ids: list[int]) -> dict[int, _SegInfo]:
    data_dir = Path(store.settings.data_dir)
    out: dict[int, _SegInfo] = {}
    with store.session() as s:
        for chunk in _chunks(ids):
            rows = s.execute(
                select(Segment, Asset.path, Asset.kind, Asset.created_at)
                .join(Asset, Asset.id == Segment.asset_id)
                .where(Segment.id.in_(chunk))
            ).all()
            kfs: dict[int, list[tuple[float, str]]] = defaultdict(list)
            for sid, ts, p, num, den in s.execute(
                select(Keyframe.segment_id, Keyframe.ts, Keyframe.path, Segment.time_base_num,
                       Segment.time_base_den)
                .join(Segment, Segment.id == Keyframe.segment_id)
                .where(Keyframe.segment_id.in_(chunk))
                .order_by(Keyframe.segment_id, Keyframe.ts)
            ):
                kfs[sid].append((float(ts * Fraction(num, den)), str(data_dir / p)))
            for seg, path, kind, created in rows:
                tc_in, tc_out = _timecodes(seg)
                out[seg.id] = _SegInfo(
                    seg.id, seg.asset_id, seg.index, path, kind or "", created,
                    seg.start_s, seg.end_s, tc_in, tc_out, kfs.get(seg.id, []),
                )
    return out


def _passes(info: _SegInfo, req: SearchRequest) -> bool:
    if req.kind and info.kind != req.kind:
        return False
    if req.path and not fnmatch.fnmatchcase(info.path, req.path) and not fnmatch.fnmatchcase(
        Path(info.path).name, req.path
    ):
        return False
    if req.after and (info.created_at is None or info.created_at < req.after):
        return False
    if req.before and (info.created_at is None or info.created_at >= req.before):
        return False
    dur = info.end_s - info.start_s
    if req.min_duration is not None and dur < req.min_duration:
        return False
    return not (req.max_duration is not None and dur > req.max_duration)


def _thumbnail(info: _SegInfo, t: float | None) -> str | None:
    if not info.keyframes:
        return None
    if t is None:
        return info.keyframes[0][1]
    return min(info.keyframes, key=lambda k: abs(k[0] - t))[1]


# -- fusion --------------------------------------------------------------------------


def competition_ranks(scores: list[float]) -> list[int]:
    """1-based ranks of best-first scores, ties sharing the best rank ("1224"): the
    segments of one file matched by its file name are equally good text matches."""
    ranks: list[int] = []
    for i, sc in enumerate(scores):
        ranks.append(ranks[-1] if i and sc == scores[i - 1] else i + 1)
    return ranks


def rrf_fuse(
    rankings: dict[str, list[tuple[int, float]]], weights: dict[str, float], k: int = RRF_K
) -> dict[int, dict[str, tuple[int, float]]]:
    """Reciprocal-rank fusion: item -> {source: (1-based rank, contribution)}.

    Each ranking is a best-first list of distinct ``(item, score)``; tied scores share
    a rank. Contribution = weight / (k + rank)."""
    out: dict[int, dict[str, tuple[int, float]]] = defaultdict(dict)
    for source, items in rankings.items():
        w = weights.get(source, 1.0)
        ranks = competition_ranks([sc for _, sc in items])
        for (item, _), r in zip(items, ranks, strict=True):
            out[item][source] = (r, w / (k + r))
    return out


def _validate(req: SearchRequest) -> None:
    if req.limit is None or req.limit < 1:
        raise QueryError("--limit must be at least 1")
    if req.kind and req.kind not in KINDS:
        raise QueryError(f"--kind must be one of {', '.join(KINDS)}, not {req.kind!r}")
    if req.cutoff is not None and not 0 < req.cutoff <= 1:
        raise QueryError("--cutoff is a fraction of the best score, between 0 and 1")
    if req.like_image and not Path(req.like_image).is_file():
        raise QueryError(f"--like: no such image {req.like_image}")
    if req.sounds_like and not Path(req.sounds_like).is_file():
        raise QueryError(f"--sounds-like: no such file {req.sounds_like}")
    if (req.min_duration is not None and req.max_duration is not None
            and req.min_duration > req.max_duration):
        raise QueryError("--min-duration is larger than --max-duration")
    if not req.has_ranking() and not req.has_filters():
        raise QueryError("nothing to search for: give a query, --like, --like-shot, "
                         "--sounds-like or a filter")


def search(store, req: SearchRequest) -> list[SearchHit]:
    """The best segments for ``req``, best first (see the module docstring)."""
    _validate(req)
    weights = {**DEFAULT_WEIGHTS, **req.weights}
    allowed = _filter_segments(store, req)
    filtered = req.has_filters()
    k = max(CANDIDATES_MIN, req.limit * CANDIDATES_PER_HIT)
    sources: dict[str, _Ranked] = {}
    query = (req.query or "").strip()

    with store.session() as s:
        recorded = recorded_model(s)
    if (query or req.like_image or req.like_shot is not None) and recorded is not None:
        space = recorded["space"]
        kv = FILTERED_SCAN_MAX if filtered else k
        try:
            with store.session() as s:
                emb = text_embedder(s, device=req.device, settings=store.settings)
            if query:
                sources["visual"] = _search_space(
                    store, space, emb.embed_text([query]), kv, req.device
                )
            if req.like_image:
                sources["like"] = _search_space(
                    store, space, emb.embed_images([Path(req.like_image)]), kv, req.device
                )
            elif req.like_shot is not None:
                sources["like"] = _search_space(
                    store, space, _shot_vector(store, space, req.like_shot), kv, req.device
                )
        except (ModelUnavailable, IndexMismatch) as exc:
            raise QueryError(str(exc)) from exc
    elif req.like_image or req.like_shot is not None:
        raise QueryError("no visual index: ingest media with the concepts or clip extractor first")
    if query:
        sources["text"] = _fts_source(store, query, max(k, 2000) if filtered else k)
        if _space_has_vectors(store, TRANSCRIPT_SPACE):
            try:
                emb = sentence_embedder(req.device)
                ranked = _search_space(
                    store, TRANSCRIPT_SPACE, emb.embed_text([query]), k, req.device
                )
                ranked.scores = {seg: v for seg, v in ranked.scores.items()
                                 if v >= TRANSCRIPT_MIN_COSINE}
                sources["transcript"] = ranked
            except ModelUnavailable as exc:
                log.warning("transcript search skipped: %s", exc)
    if req.sounds_like or req.sounds_like_shot is not None:
        sources["sound"] = _sound_source(store, req, FILTERED_SCAN_MAX if filtered else k)

    if not req.has_ranking():
        # filters only: the surest object detections first when objects are asked for,
        # else the matching segments in catalogue order
        with store.session() as s:
            stmt = select(Segment.id).order_by(Segment.asset_id, Segment.index)
            if allowed is not None:
                ids = sorted(allowed)
            else:
                ids = list(s.execute(stmt).scalars())
            obj_scores: dict[int, float] = {}
            if req.objects:
                from assetdb.objects import segment_object_scores

                obj_scores = segment_object_scores(s, list(req.objects))
        ids.sort(key=lambda i: -obj_scores.get(i, 0.0))  # stable: catalogue order on ties
        sources["filter"] = _Ranked(scores={i: obj_scores.get(i, 0.0) for i in ids})
        weights["filter"] = 1.0

    candidates = sorted({seg for r in sources.values() for seg in r.scores})
    if allowed is not None:
        candidates = [c for c in candidates if c in allowed]
    info = _segment_info(store, candidates)
    keep = {c for c in candidates if c in info and _passes(info[c], req)}

    rankings: dict[str, list[tuple[int, float]]] = {}
    for name, r in sources.items():
        if name == "filter":  # the order given above, distinct ranks
            rankings[name] = [(seg, -float(i)) for i, seg in enumerate(s for s in r.scores
                                                                       if s in keep)]
        else:
            order = sorted((seg for seg in r.scores if seg in keep), key=lambda x: -r.scores[x])
            rankings[name] = [(seg, r.scores[seg]) for seg in order]
    fused = rrf_fuse(rankings, weights)
    order = sorted(fused, key=lambda seg: (-sum(c for _, c in fused[seg].values()), seg))

    hits: list[SearchHit] = []
    seen_assets: set[int] = set()
    best: float | None = None
    for seg in order:
        si = info[seg]
        if req.per_asset and si.asset_id in seen_assets:
            continue
        total = sum(c for _, c in fused[seg].values())
        if best is None:
            best = total
        if req.cutoff is not None and best and total < req.cutoff * best:
            break
        seen_assets.add(si.asset_id)
        per = {
            name: SourceScore(rank, sources[name].scores[seg], contrib)
            for name, (rank, contrib) in fused[seg].items()
        }
        t = None
        for name in ("visual", "like"):
            if name in sources and seg in sources[name].best_t:
                t = sources[name].best_t[seg]
                break
        snippet = sources["text"].snippets.get(seg) if "text" in sources else None
        hits.append(
            SearchHit(
                asset_id=si.asset_id, path=si.path, kind=si.kind, segment_id=seg,
                segment_index=si.index, start_s=round(si.start_s, 6), end_s=round(si.end_s, 6),
                tc_in=si.tc_in, tc_out=si.tc_out, score=round(total, 6),
                thumbnail=_thumbnail(si, t), sources=per,
                snippet=snippet,
            )
        )
        if len(hits) >= req.limit:
            break
    return hits


def index_status(store) -> dict[str, Any]:
    """Vector spaces in the database, the recorded visual model and index files."""
    from assetdb.vectors import index_path

    with store.session() as s:
        recorded = recorded_model(s)
        spaces = s.execute(
            select(Vector.space, func.count(Vector.id), func.min(Vector.dim)).group_by(Vector.space)
        ).all()
    out = {"visual_model": recorded, "spaces": []}
    for space, n, dim in spaces:
        p = index_path(store, space)
        entry = {"space": space, "vectors": int(n), "dim": int(dim), "index_file": str(p),
                 "index_exists": p.is_file()}
        side = p.with_suffix(".json")
        if side.is_file():
            import json

            try:
                meta = json.loads(side.read_text())
                entry["index_kind"] = meta.get("kind")
                entry["index_count"] = meta.get("count")
                entry["index_in_step"] = meta.get("count") == int(n)
            except (OSError, ValueError):
                pass
        out["spaces"].append(entry)
    return out


__all__ = ["AssetdbError", "SearchHit", "SearchRequest", "SourceScore", "index_status",
           "rrf_fuse", "search"]
