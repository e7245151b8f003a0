"""The ranking sources of a search: each turns the request into segment ids with its
own scores (the visual/like FAISS index, full text, transcript sentences, sound, sound
events), plus the persons/objects/sounds filters that narrow the candidates."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import and_, case, exists, func, literal, select

from assetdb.errors import IndexMismatch, NotFound, QueryError
from assetdb.records import bytes_to_vector
from assetdb.schema import Keyframe, Segment, Vector
from assetdb.search.fts import idf_weights, parse, search_texts, text_relevance
from assetdb.search.request import SearchRequest

IN_CHUNK = 900
# A keyframe this flat (luma standard deviation on 0..255, or marked blank by the
# catalogue) shows nothing a content query can be about: fades, black or grey frames.
# fades.mp4's grey and black frames measure 0-6, the darkest real shot of the sample
# archive (chaplin.mp4) over 30.
FLAT_CONTRAST = 12.0


@dataclass
class Ranked:
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


def chunks(xs: list[int], n: int = IN_CHUNK):
    for i in range(0, len(xs), n):
        yield xs[i : i + n]



def vector_rows(session, ids: list[int]) -> dict[int, tuple[int | None, int, float | None]]:
    out: dict[int, tuple[int | None, int, float | None]] = {}
    for chunk in chunks(ids):
        for vid, seg, aid, t in session.execute(
            select(Vector.id, Vector.segment_id, Vector.asset_id, Vector.t_s).where(
                Vector.id.in_(chunk)
            )
        ):
            out[vid] = (seg, aid, t)
    return out


def segment_at(session, asset_id: int, t: float | None) -> int | None:
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


def is_flat(stats: dict | None) -> bool:
    stats = stats or {}
    if float(stats.get("blank") or 0.0) >= 0.5:
        return True
    contrast = stats.get("contrast")
    return contrast is not None and float(contrast) < FLAT_CONTRAST


def flat_keyframes(session, segment_ids: list[int]) -> dict[int, list[tuple[float, bool]]]:
    """segment -> [(keyframe time s, flat?)] for the given segments."""
    out: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for chunk in chunks(sorted(set(segment_ids))):
        for sid, ts, num, den, stats in session.execute(
            select(Keyframe.segment_id, Keyframe.ts, Segment.time_base_num,
                   Segment.time_base_den, Keyframe.stats)
            .join(Segment, Segment.id == Keyframe.segment_id)
            .where(Keyframe.segment_id.in_(chunk))
        ):
            out[sid].append((float(ts) * num / den, is_flat(stats)))
    return out


def _flat_at(frames: list[tuple[float, bool]], t: float | None) -> bool:
    if not frames:
        return False
    if t is None:
        return all(f for _, f in frames)
    return min(frames, key=lambda x: abs(x[0] - t))[1]


# A filtered search first looks this many times deeper than it needs (filters drop
# candidates), then four times deeper each round until enough candidates pass: the
# depth follows the filter's selectivity, not the archive's size.
FILTERED_DEPTH_START = 4
FILTERED_DEPTH_GROWTH = 4


def search_space(store, space: str, queries: np.ndarray, k: int, device: str,
                 skip_flat: bool = False, admit=None, max_k: int | None = None,
                 share: float = 1.0) -> Ranked:
    """The index's nearest vectors to ``queries``, as segments (best vector each).
    ``skip_flat``: ignore vectors of flat keyframes (see :data:`FLAT_CONTRAST`).
    ``admit``: the request's filters, a callable from segment ids to the set of those
    that pass; the search then goes deeper until ``k`` segments pass (or ``max_k``
    vectors were searched, or the whole index), and returns only those. ``share``:
    the fraction of segments expected to pass, when known (the first depth)."""
    from assetdb.index import open_index

    try:
        index = open_index(store, space, device=device)
    except NotFound as exc:
        raise QueryError(f"the index of {space} is empty; ingest some media first") from exc
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None]
    if q.shape[1] != index.dim:
        raise IndexMismatch(
            f"query embedding has {q.shape[1]} dimensions, the {space} index {index.dim}; "
            "run `assetdb index rebuild`"
        )
    total = max(1, index.ntotal)
    limit = total if max_k is None else max(1, min(total, max_k))
    depth = (max(1, min(k, total)) if admit is None
             else min(limit, math.ceil(k * FILTERED_DEPTH_START / max(share, 1e-9))))
    rows: dict[int, tuple[int | None, int, float | None]] = {}
    flat: dict[int, list[tuple[float, bool]]] = {}
    with store.session() as s:
        while True:
            scores, ids = index.search(q, depth)
            valid = [(int(i), float(sc)) for i, sc in zip(ids[0], scores[0], strict=True)
                     if i >= 0]
            new = [i for i, _ in valid if i not in rows]
            got = vector_rows(s, new)
            rows.update(got)
            if skip_flat:
                flat.update(flat_keyframes(
                    s, [r[0] for r in got.values() if r[0] is not None and r[0] not in flat]))
            ranked = Ranked()
            for vid, score in valid:
                row = rows.get(vid)
                if row is None:  # deleted since the index was synced
                    continue
                seg, aid, t = row
                if seg is None:
                    seg = segment_at(s, aid, t)
                    if seg is None:
                        continue
                if skip_flat and _flat_at(flat.get(seg, []), t):
                    continue
                ranked.put(seg, score, t)
            if admit is None:
                return ranked
            passed = admit(list(ranked.scores))
            if len(passed) >= k or depth >= limit:
                break
            depth = min(limit, depth * FILTERED_DEPTH_GROWTH)
    out = Ranked()
    for seg, score in ranked.scores.items():
        if seg in passed:
            out.put(seg, score, ranked.best_t.get(seg))
    return out


def shot_vector(store, space: str, segment_id: int) -> np.ndarray:
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


def fts_source(store, query: str, k: int, calibrated: bool = True, admit=None,
               max_rows: int | None = None) -> Ranked:
    """Segments whose texts match ``query``, from its ``k`` best text rows. A row of
    the whole file (file name, tags, sidecar) counts for each of its segments.
    ``calibrated``: scored by relevance in [0, 1] (:func:`assetdb.search.fts.text_relevance`:
    query coverage x text source), else by the engine's bm25 / ts_rank. ``admit``: the
    request's filters (segment ids -> those that pass); more rows are read, up to
    ``max_rows``, until ``k`` segments pass, and only those are returned."""
    rows = k
    limit = max(k, max_rows or k)
    q = parse(query)
    idf: dict[str, float] | None = None
    while True:
        ranked = Ranked()
        with store.session() as s:
            hits = search_texts(s, query, limit=rows)
            if calibrated and hits:
                idf = idf if idf is not None else idf_weights(s, q)
                for h in hits:
                    h.score = text_relevance(h, q, idf)
            asset_rows = [h for h in hits if h.segment_id is None]
            segs_of: dict[int, list[int]] = defaultdict(list)
            aids = sorted({h.asset_id for h in asset_rows})
            for chunk in chunks(aids):
                for sid, aid in s.execute(
                    select(Segment.id, Segment.asset_id).where(Segment.asset_id.in_(chunk))
                ):
                    segs_of[aid].append(sid)
        for h in hits:
            snippet = f"{h.source}: {h.snippet}"
            targets = [h.segment_id] if h.segment_id is not None else segs_of.get(h.asset_id, [])
            for seg in targets:
                ranked.put(seg, h.score, snippet=snippet)
        if admit is None:
            return ranked
        passed = admit(list(ranked.scores))
        if len(passed) >= k or len(hits) < rows or rows >= limit:
            break
        rows = min(limit, rows * FILTERED_DEPTH_GROWTH)
    out = Ranked()
    for seg, score in ranked.scores.items():
        if seg in passed:
            out.put(seg, score, snippet=ranked.snippets.get(seg))
    return out


def space_has_vectors(store, space: str) -> bool:
    with store.session() as s:
        return s.execute(select(Vector.id).where(Vector.space == space).limit(1)).first() is not None


def sound_source(store, req: SearchRequest, k: int) -> Ranked:
    from assetdb.sound import similar_segments

    ranked = Ranked()
    for seg, score in similar_segments(
        store, audio_path=req.sounds_like, segment_id=req.sounds_like_shot, limit=k
    ):
        ranked.put(int(seg), float(score))
    return ranked


# An object filter that more segments than this pass (say "person" in a large archive)
# is checked in SQL for the candidates a search has instead of being read whole into
# Python: the candidates are a few thousand, the matches grow with the archive.
ALLOWED_SET_MAX = 50_000


@dataclass
class FilterCheck:
    """The persons/objects/sounds filters: segment ids -> those that pass."""

    test: Callable[[list[int]], set[int]]
    share: float = 1.0  # the expected fraction of segments that pass (a set's size)

    def __call__(self, segs: list[int]) -> set[int]:
        return self.test(segs)


def filter_check(store, req: SearchRequest) -> FilterCheck | None:
    """The persons/objects/sounds filters as a check of segment ids (None: no such
    filter). Small filters are read once as a set (:func:`filter_segments`); an object
    filter more than ALLOWED_SET_MAX segments pass is checked in SQL on the ids asked
    about."""
    if not (req.persons or req.objects or req.sounds):
        return None
    from sqlalchemy import func

    from assetdb.objects import expand_label
    from assetdb.schema import SegmentObject

    groups = [expand_label(x) for x in req.objects if x and x.strip()]
    large = False
    if groups:
        with store.session() as s:
            large = any(
                s.execute(select(func.count()).select_from(SegmentObject)
                          .where(SegmentObject.label.in_(sorted(g)))).scalar_one()
                > ALLOWED_SET_MAX for g in groups)
    if not large:
        allowed = filter_segments(store, req) or set()
        with store.session() as s:  # the largest id: the segment count, without a scan
            n = s.execute(select(func.max(Segment.id))).scalar() or 1
        return FilterCheck(lambda segs: {seg for seg in segs if seg in allowed},
                           share=min(1.0, len(allowed) / n))
    others = (filter_segments(store, SearchRequest(persons=req.persons, sounds=req.sounds))
              if req.persons or req.sounds else None)
    labels = sorted(set().union(*groups))

    def check(segs: list[int]) -> set[int]:
        seen: dict[int, set[str]] = defaultdict(set)
        with store.session() as s:
            for chunk in chunks(sorted(set(segs))):
                for sid, label in s.execute(
                    select(SegmentObject.segment_id, SegmentObject.label).where(
                        SegmentObject.segment_id.in_(chunk), SegmentObject.label.in_(labels))
                ):
                    seen[sid].add(label)
        return {sid for sid, have in seen.items()
                if all(have & g for g in groups) and (others is None or sid in others)}

    return FilterCheck(check)


def filter_segments(store, req: SearchRequest) -> set[int] | None:
    """Segments allowed by the persons/objects filters (None: no such filter). Every
    filter must hold: the shots showing all the named persons and all the objects."""
    from assetdb.faces import segment_ids_for_persons
    from assetdb.objects import segment_ids_for_objects

    allowed: set[int] | None = None
    with store.session() as s:
        if req.persons:
            allowed = set(segment_ids_for_persons(s, list(req.persons), mode="all"))
        if req.objects:
            found = set(segment_ids_for_objects(s, list(req.objects)))
            allowed = found if allowed is None else allowed & found
        if req.sounds:
            from assetdb.sound_events import segment_sound_scores

            found = set(segment_sound_scores(s, list(req.sounds)))
            allowed = found if allowed is None else allowed & found
    return allowed


def _smaller(a, b):
    """min(a, b) as Python's min() picks: b only when it is strictly smaller."""
    return case((b < a, b), else_=a)


@dataclass
class FilterSql:
    """The persons/objects/sounds filters as SQL over ``segments``: ``conditions`` hold
    exactly for the segments :func:`filter_segments` allows. :meth:`scoring` gives the
    segment's object (else sound) score of :func:`assetdb.objects.segment_object_scores`
    (:func:`assetdb.sound_events.segment_sound_scores`) over tables that only the
    segments of ``scored`` have: a query with them joined needs only ``others``."""

    others: list = field(default_factory=list)
    scored: list = field(default_factory=list)
    score_groups: list = field(default_factory=list)  # (table, conditions) per label group

    @property
    def conditions(self) -> list:
        return self.others + self.scored

    def scoring(self, ids: list[int] | None = None) -> tuple[list, object | None]:
        """(tables, score): a segment's best score per label group (columns sid, top),
        of the segments ``ids`` only when given, and the score over them."""
        tables, score = [], None
        for table, wheres in self.score_groups:
            best = select(table.segment_id.label("sid"), func.max(table.max_score).label("top")) \
                .where(table.segment_id.is_not(None), *wheres)
            if ids is not None:
                best = best.where(table.segment_id.in_(ids))
            best = best.group_by(table.segment_id).subquery()
            tables.append(best)
            # the largest score of the segment's rows, 0 when none is above 0 (Python's
            # max over the rows starting from 0.0); the smallest over the groups
            sc = case((best.c.top > 0.0, best.c.top), else_=literal(0.0))
            score = sc if score is None else _smaller(score, sc)
        return tables, score


def filter_sql(session, req: SearchRequest) -> FilterSql:
    """The SQL form of :func:`filter_segments`; the same names raise the same errors
    (an unknown person, then an unknown object label)."""
    from assetdb.faces import get_person
    from assetdb.models.sound_events import LABEL_MIN
    from assetdb.models.yamnet import resolve_sounds
    from assetdb.objects import _label_groups
    from assetdb.schema import Face, SegmentObject, SoundEvent

    out = FilterSql()
    for name in req.persons:
        pid = get_person(session, name).id
        out.others.append(exists().where(Face.segment_id == Segment.id, Face.person_id == pid))
    groups: list[tuple[object, list]] = []
    if req.objects:
        groups += [(SegmentObject, [SegmentObject.label.in_(sorted(g))])
                   for g in _label_groups(list(req.objects))]
    if req.sounds:
        groups += [(SoundEvent, [SoundEvent.class_index.in_(sorted(g)),
                                 SoundEvent.max_score >= LABEL_MIN])
                   for g in resolve_sounds(list(req.sounds))]
    for table, wheres in groups:
        # the objects give the order when both are asked for
        scoring = table is SegmentObject or not req.objects
        cond = exists().where(table.segment_id == Segment.id, and_(*wheres))
        (out.scored if scoring else out.others).append(cond)
        if scoring:
            out.score_groups.append((table, wheres))
    return out


def sound_events_source(store, query: str) -> Ranked | None:
    """The query's meaning against the AudioSet class names of the stored sound
    events (``assetdb.sound_events``); None when nothing was analysed for sound events."""
    from assetdb.sound_events import has_sound_events, semantic_scores

    ranked = Ranked()
    with store.session() as s:
        if not has_sound_events(s):
            return None
        for seg, (score, label) in semantic_scores(s, query, store.settings.model_dir).items():
            ranked.put(int(seg), score, snippet=f"sound: {label}")
    return ranked
