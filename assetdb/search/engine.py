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
``sound_events`` the query embedded by all-MiniLM-L6-v2 against the AudioSet class
                names of the stored sound events (``assetdb.sound_events``): a segment
                scores peak class score x name cosine, so "thunder during a storm"
                finds Thunder.

Each source's raw score becomes a relevance in [0, 1] (``assetdb.search.fusion``: a
logistic curve fitted on judged pairs for the visual, like, transcript, sound and
sound-event sources; query coverage times source trust for full text), and a shot's
sources combine as independent witnesses, ``1 - prod(1 - r)``, so scores are comparable
across queries and ``cutoff`` is absolute (hits under it are "weak", shown only when
asked for). Reciprocal-rank fusion stays as ``fusion="rrf"`` for comparison. By default
the best shot of each file is returned with its number of other matching shots.
Filters (kind, path glob, creation time, segment duration, persons, objects, sounds)
narrow the candidates; all of them
must hold (several persons or objects: shots with every one of them).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, func, or_, select

from assetdb.errors import IndexMismatch, ModelUnavailable, QueryError
from assetdb.schema import Asset, Segment, Vector
from assetdb.search.background import query_background
from assetdb.search.fusion import (
    calibrated_fuse,
    competition_ranks,
    default_cutoff,
    noisy_or,
    rrf_fuse,
)
from assetdb.search.hits import (
    SearchHit,
    SegInfo,
    SourceScore,
    describe_segments,
    passes,
    segment_conditions,
    segment_facts,
    thumbnail,
)
from assetdb.search.request import DEFAULT_WEIGHTS, SearchRequest, validate_request
from assetdb.search.sources import (
    Ranked,
    filter_check,
    filter_segments,
    filter_sql,
    fts_source,
    search_space,
    shot_vector,
    sound_events_source,
    sound_source,
    space_has_vectors,
)
from assetdb.spaces import (
    CONCEPTS_SPACE,
    TRANSCRIPT_SPACE,
    recorded_model,
    sentence_embedder,
    text_embedder,
)

log = logging.getLogger(__name__)

# A transcript line below this cosine (all-MiniLM-L6-v2) is unrelated to the query; dense
# search ranks every line, and without a floor an unrelated line still gets an RRF vote.
# Measured: paraphrases of indexed lines 0.32-0.60, unrelated query/line pairs -0.13-0.18.
TRANSCRIPT_MIN_COSINE = 0.25
CANDIDATES_MIN = 500  # per source; filters may discard many
CANDIDATES_PER_HIT = 20
FILTERED_SCAN_MAX = 200_000  # with filters, search this many vectors deep at most


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def query_vector(emb, req: SearchRequest, query: str) -> np.ndarray | None:
    """The visual query: the query text's embedding plus/minus the weighted arithmetic
    terms (each a unit vector), normalised; None when there is nothing to embed."""
    parts: list[tuple[float, np.ndarray]] = []
    texts = ([(1.0, query)] if query else []) + [(w, t) for w, t in req.add]
    if texts:
        vecs = emb.embed_text([t for _, t in texts])
        parts += [(w, _unit(v)) for (w, _), v in zip(texts, vecs, strict=True)]
    if req.add_images:
        vecs = emb.embed_images([p for _, p in req.add_images])
        parts += [(w, _unit(v)) for (w, _), v in zip(req.add_images, vecs, strict=True)]
    if req.subtract:
        vecs = emb.embed_text([t for _, t in req.subtract])
        parts += [(-w, _unit(v)) for (w, _), v in zip(req.subtract, vecs, strict=True)]
    if not any(w > 0 for w, _ in parts):
        return None
    return _unit(sum(w * v for w, v in parts))[None]


# A filter-only search reads the matching segments in id order this many rows at a time
# (times the limit), then FILTER_WALK_GROWTH times more each round, until it has its
# files: a file has tens of shots, and most of a chunk belongs to files already seen.
FILTER_WALK_START = 8
FILTER_WALK_GROWTH = 4
FILTER_WALK_MAX = 50_000
RANKS_PER_STATEMENT = 200


def _before_or_at(keys: list[tuple[Any, bool]], values: tuple) -> Any:
    """``keys`` (expression, descending) at or before ``values`` in that order."""
    (expr, desc), *rest = keys
    (v, *more) = values
    if not rest:
        return expr >= v if desc else expr <= v
    ahead = expr > v if desc else expr < v
    return or_(ahead, and_(expr == v, _before_or_at(rest, tuple(more))))


def filter_only_search(store, req: SearchRequest) -> list[SearchHit] | None:
    """A search with filters and nothing to rank by (calibrated fusion), paged in SQL:
    the same hits as the general path, which lists every matching segment, reads its
    facts and fuses them all. Every match is fully relevant (score 1), so hits come in
    segment-id order, one a file (its first matching segment, with the number of its
    other matching segments) unless ``all_shots``; the filter's rank of each hit (the
    surest object/sound first, else catalogue order) is counted in SQL. None when a
    filter has no exact SQL form (see :func:`assetdb.search.hits.segment_conditions`)."""
    conds = segment_conditions(req, store.dialect)
    if conds is None:
        return None
    with store.session() as s:
        fsql = filter_sql(s, req)
        base, conds = conds, conds + fsql.conditions
        narrowed = bool(req.persons or req.objects or req.sounds)

        def matching(*cols, tables: list | None = None):
            stmt = select(*cols).select_from(Segment).join(Asset, Asset.id == Segment.asset_id)
            if not tables:
                return stmt.where(*conds)
            for t in tables:  # the score's tables stand for their conditions
                stmt = stmt.join(t, t.c.sid == Segment.id)
            return stmt.where(*base, *fsql.others)

        # the first `limit` files in segment-id order
        shown: list[int] = []
        files: dict[int, int] = {}
        last = 0
        chunk = max(req.limit * FILTER_WALK_START, 64)
        while len(shown) < req.limit:
            rows = s.execute(matching(Segment.id, Segment.asset_id).where(Segment.id > last)
                             .order_by(Segment.id).limit(chunk)).all()
            for sid, aid in rows:
                if req.all_shots or aid not in files:
                    files.setdefault(aid, sid)
                    shown.append(sid)
                    if len(shown) >= req.limit:
                        break
            if len(rows) < chunk:
                break
            last = rows[-1][0]
            chunk = min(FILTER_WALK_MAX, chunk * FILTER_WALK_GROWTH)
        if not shown:
            return []
        others: dict[int, int] = {}
        if not req.all_shots:
            for aid, n in s.execute(matching(Segment.asset_id, func.count())
                                    .where(Segment.asset_id.in_(sorted(files)))
                                    .group_by(Segment.asset_id)):
                others[files[aid]] = int(n) - 1
        info = segment_facts(store, shown)
        # the filter's order: the surest object/sound first (ties by id), the persons
        # filter alone by id, else catalogue order
        score: dict[int, float] = {sid: 0.0 for sid in shown}
        tables, by_score = fsql.scoring()
        if by_score is not None:
            shown_tables, shown_score = fsql.scoring(shown)
            for sid, sc in s.execute(matching(Segment.id, shown_score, tables=shown_tables)):
                score[sid] = float(sc)
            keys = [(by_score, True), (Segment.id, False)]
            value = {sid: (score[sid], sid) for sid in shown}
        elif narrowed:
            keys = [(Segment.id, False)]
            value = {sid: (sid,) for sid in shown}
        else:
            keys = [(Segment.asset_id, False), (Segment.index, False)]
            value = {sid: (info[sid].asset_id, info[sid].index) for sid in shown}
        # a hit's rank counts the matches before it: only those up to the last shown
        last_key = max(value.values(), key=lambda v: tuple(-x if d else x for x, (_, d)
                                                            in zip(v, keys, strict=True)))
        window = func.row_number().over(order_by=[e.desc() if d else e for e, d in keys])
        ranked = matching(Segment.id.label("sid"), window.label("rk"),
                          tables=tables if by_score is not None else None) \
            .where(_before_or_at(keys, last_key),
                   # the same bound on the first key alone, which an index can serve
                   keys[0][0] >= last_key[0] if keys[0][1] else keys[0][0] <= last_key[0]) \
            .subquery()
        rank: dict[int, int] = {}
        for i in range(0, len(shown), RANKS_PER_STATEMENT):
            part = shown[i : i + RANKS_PER_STATEMENT]
            rank.update((sid, int(rk)) for sid, rk in s.execute(
                select(ranked.c.sid, ranked.c.rk).where(ranked.c.sid.in_(part))))
    describe_segments(store, [info[sid] for sid in shown])
    hits = []
    for sid in shown:
        si = info[sid]
        hits.append(SearchHit(
            asset_id=si.asset_id, path=si.path, kind=si.kind, segment_id=sid,
            segment_index=si.index, start_s=round(si.start_s, 6), end_s=round(si.end_s, 6),
            tc_in=si.tc_in, tc_out=si.tc_out, score=1.0, thumbnail=thumbnail(si, None),
            sources={"filter": SourceScore(rank[sid], score[sid], 1.0, 1.0)},
            other_shots=None if req.all_shots else others.get(sid, 0),
        ))
    return hits


def search(store, req: SearchRequest) -> list[SearchHit]:
    """The best segments for ``req``, best first (see the module docstring)."""
    validate_request(req)
    if not req.has_ranking() and req.fusion == "calibrated":
        hits = filter_only_search(store, req)
        if hits is not None:
            return hits
    calibrated = req.fusion == "calibrated"
    weights = {**DEFAULT_WEIGHTS, **req.weights}
    check = filter_check(store, req) if req.has_ranking() else None
    filtered = req.has_filters()
    k = max(CANDIDATES_MIN, req.limit * CANDIDATES_PER_HIT)
    sources: dict[str, Ranked] = {}
    query = (req.query or "").strip()
    arithmetic = bool(req.add or req.subtract or req.add_images)

    with store.session() as s:
        recorded = recorded_model(s)
    wants_visual = query or arithmetic or req.like_image or req.like_shot is not None
    # the filters over candidate segments: facts are read once per segment and kept for
    # the fusion below; a filtered visual search goes deeper until k segments pass
    info: dict[int, SegInfo] = {}

    def admit(segs: list[int]) -> set[int]:
        if check is not None:
            segs = sorted(check(segs))
        need = [seg for seg in segs if seg not in info]
        if need:
            info.update(segment_facts(store, need))
        return {seg for seg in segs if seg in info and passes(info[seg], req)}

    deep = ({"admit": admit, "max_k": FILTERED_SCAN_MAX,
             "share": check.share if check is not None else 1.0} if filtered else {})
    background: dict[str, tuple[float, float]] = {}
    if wants_visual and recorded is not None:
        space = recorded["space"]
        try:
            with store.session() as s:
                emb = text_embedder(s, device=req.device, settings=store.settings)
            qv = query_vector(emb, req, query) if (query or arithmetic) else None
            if qv is not None:
                sources["visual"] = search_space(store, space, qv, k, req.device,
                                                 skip_flat=calibrated, **deep)
                if calibrated:  # how the query's cosines sit against the archive at large
                    bg = query_background(store, space, qv)
                    if bg is not None:
                        background["visual"] = bg
            if req.like_image:
                sources["like"] = search_space(
                    store, space, emb.embed_images([Path(req.like_image)]), k, req.device,
                    skip_flat=calibrated, **deep,
                )
            elif req.like_shot is not None:
                sources["like"] = search_space(
                    store, space, shot_vector(store, space, req.like_shot), k, req.device,
                    skip_flat=calibrated, **deep,
                )
        except (ModelUnavailable, IndexMismatch) as exc:
            raise QueryError(str(exc)) from exc
    elif req.like_image or req.like_shot is not None or req.add_images:
        raise QueryError("no visual index: ingest media with the concepts or clip extractor first")
    if query:
        # filtered: more rows (up to 2000) only while fewer than k of their segments pass
        sources["text"] = fts_source(store, query, k, calibrated=calibrated,
                                     **({"admit": admit, "max_rows": 2000} if filtered else {}))
        if space_has_vectors(store, TRANSCRIPT_SPACE):
            try:
                emb = sentence_embedder(req.device)
                ranked = search_space(
                    store, TRANSCRIPT_SPACE, emb.embed_text([query]), k, req.device, **deep
                )
                ranked.scores = {seg: v for seg, v in ranked.scores.items()
                                 if v >= TRANSCRIPT_MIN_COSINE}
                sources["transcript"] = ranked
            except ModelUnavailable as exc:
                log.warning("transcript search skipped: %s", exc)
    if query:
        try:
            events = sound_events_source(store, query)
        except ModelUnavailable as exc:
            events = None
            log.warning("sound-event search skipped: %s", exc)
        if events is not None:
            sources["sound_events"] = events
    if req.sounds_like or req.sounds_like_shot is not None:
        sources["sound"] = sound_source(store, req, FILTERED_SCAN_MAX if filtered else k)

    if not req.has_ranking():
        # filters only: the surest object detections first when objects are asked for,
        # else the matching segments in catalogue order; every one of them is relevant
        allowed = filter_segments(store, req)
        check = None if allowed is None else (lambda segs: {x for x in segs if x in allowed})
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
            elif req.sounds:  # the surest-heard first
                from assetdb.sound_events import segment_sound_scores

                obj_scores = segment_sound_scores(s, list(req.sounds))
        ids.sort(key=lambda i: -obj_scores.get(i, 0.0))  # stable: catalogue order on ties
        sources["filter"] = Ranked(scores={i: obj_scores.get(i, 0.0) for i in ids})
        weights["filter"] = 1.0

    candidates = sorted({seg for r in sources.values() for seg in r.scores})
    # unfiltered, every candidate is kept and only the ranked ones below need facts: a
    # file-level text row stands for each of its segments (tens of thousands at 100k shots)
    keep = admit(candidates) if filtered else set(candidates)

    rankings: dict[str, list[tuple[int, float]]] = {}
    for name, r in sources.items():
        if name == "filter":  # the order given above, distinct ranks
            rankings[name] = [(seg, -float(i)) for i, seg in enumerate(s for s in r.scores
                                                                       if s in keep)]
        else:
            order = sorted((seg for seg in r.scores if seg in keep), key=lambda x: -r.scores[x])
            rankings[name] = [(seg, r.scores[seg]) for seg in order]
    ranks = {name: dict(zip((seg for seg, _ in items),
                            competition_ranks([sc for _, sc in items]), strict=True))
             for name, items in rankings.items()}

    total: dict[int, float] = {}  # a hit's sources are described for the hits shown only
    if calibrated:
        raw = {name: dict(items) for name, items in rankings.items() if name != "filter"}
        # the visual curve was fitted on the concepts space; another model's cosines
        # (an open_clip space) are taken as they are until refitted (bench/search_eval.py)
        fitted_visual = recorded is None or recorded["space"] == CONCEPTS_SPACE
        fused_c = calibrated_fuse(raw, weights,
                                  uncalibrated=() if fitted_visual else ("visual", "like"),
                                  background=background)
        if "filter" in rankings:  # a filter-only search: each match fully relevant
            for seg, _ in rankings["filter"]:
                fused_c[seg]["filter"] = (1.0, 1.0)
        for seg, parts in fused_c.items():
            total[seg] = noisy_or([c for _, c in parts.values()])

        def source_scores(seg: int) -> dict[str, SourceScore]:
            return {name: SourceScore(ranks[name][seg], sources[name].scores[seg], round(c, 6),
                                      round(rel, 6))
                    for name, (rel, c) in fused_c[seg].items()}
        if req.cutoff is not None:
            cutoff = req.cutoff
        else:
            # 0 where a ranking source has no fitted curve here: query arithmetic, or a
            # visual space other than the one the curves were fitted on
            cutoff = default_cutoff(set(rankings), arithmetic=arithmetic,
                                    visual_fitted=fitted_visual)
    else:
        fused = rrf_fuse(rankings, weights)
        for seg, parts in fused.items():
            total[seg] = sum(c for _, c in parts.values())

        def source_scores(seg: int) -> dict[str, SourceScore]:
            return {name: SourceScore(rank, sources[name].scores[seg], contrib)
                    for name, (rank, contrib) in fused[seg].items()}
        cutoff = None
    order = sorted(total, key=lambda seg: (-total[seg], seg))
    weak: set[int] = set()
    if calibrated:
        kept = [seg for seg in order if total[seg] >= cutoff]
        if not kept and req.weak and req.has_ranking():
            # nothing reaches the cutoff: the nearest hits below it, marked weak
            weak = set(order)
        else:
            order = kept
    elif req.cutoff is not None and order:
        best = total[order[0]]
        order = [seg for seg in order if not best or total[seg] >= req.cutoff * best]

    grouped = not req.all_shots
    if not filtered:
        need = order if grouped else order[: req.limit]
        info.update(segment_facts(store, [seg for seg in need if seg not in info]))
        order = [seg for seg in need if seg in info]
    others: dict[int, int] = defaultdict(int)
    if grouped:
        first: dict[int, int] = {}
        for seg in order:
            aid = info[seg].asset_id
            if aid in first:
                others[first[aid]] += 1
            else:
                first[aid] = seg
        order = [seg for seg in order if first[info[seg].asset_id] == seg]
    if weak:
        order = order[: req.weak]

    hits: list[SearchHit] = []
    describe_segments(store, [info[seg] for seg in order[: req.limit]])
    for seg in order[: req.limit]:
        si = info[seg]
        t = None
        for name in ("visual", "like"):
            if name in sources and seg in sources[name].best_t:
                t = sources[name].best_t[seg]
                break
        snippet = sources["text"].snippets.get(seg) if "text" in sources else None
        if snippet is None and "sound_events" in sources:
            snippet = sources["sound_events"].snippets.get(seg)
        hits.append(
            SearchHit(
                asset_id=si.asset_id, path=si.path, kind=si.kind, segment_id=seg,
                segment_index=si.index, start_s=round(si.start_s, 6), end_s=round(si.end_s, 6),
                tc_in=si.tc_in, tc_out=si.tc_out, score=round(total[seg], 6),
                thumbnail=thumbnail(si, t), sources=source_scores(seg),
                snippet=snippet, other_shots=others.get(seg, 0) if grouped else None,
                weak=seg in weak,
            )
        )
    return hits


def index_status(store) -> dict[str, Any]:
    """Vector spaces in the database, the recorded visual model and index files."""
    from assetdb.index import index_path

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
            try:
                meta = json.loads(side.read_text())
                entry["index_kind"] = meta.get("kind")
                entry["index_count"] = meta.get("count")
                entry["index_in_step"] = meta.get("count") == int(n)
            except (OSError, ValueError):
                pass
        out["spaces"].append(entry)
    return out
