"""Querying what was heard: sounds-like search over the audio vector space,
transcripts (rows, word search, paraphrase search) and subtitle export.

Heavy modules (librosa, PyAV, faiss) are imported inside the functions that need
them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assetdb.errors import MediaError, NotFound, QueryError
from assetdb.models.sound_features import DESC_SPACE
from assetdb.models.sound_features import SPACE as AUDIO_SPACE
from assetdb.records import bytes_to_vector
from assetdb.schema import Asset, AudioTrack, Transcript, TranscriptSegment, Vector
from assetdb.spaces import TRANSCRIPT_SPACE

log = logging.getLogger(__name__)

# score = (1 - DESC_WEIGHT) * timbre cosine + DESC_WEIGHT * spectral-shape cosine
DESC_WEIGHT = 0.5
# then, where both sides have YAMNet class scores (space sound:yamnet521@1):
# score = (1 - EVENTS_WEIGHT) * that + EVENTS_WEIGHT * class-score cosine.
# Measured on the labelled sounds (bench/sound_vectors.py, 30 queries): same class
# first (P@1) 0.867 and mAP 0.868 for the MFCC blend, 1.000 / 1.000 at 0.8.
EVENTS_WEIGHT = 0.8
# candidates taken from each space's index before the exact blended re-rank
MIN_CANDIDATES = 200
EXPORT_FORMATS = ("srt", "vtt", "txt", "json")


# -- sounds like -------------------------------------------------------------


def audio_query_vectors(audio_path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The normalised (timbre, spectral-shape) vectors of a whole file, computed as
    the audio extractor computes them."""
    from assetdb.models.sound_features import analyse

    path = Path(audio_path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    result = analyse(path)
    if not result.segments or result.segments[0].vector is None:
        raise MediaError(f"{path} has no usable audio ({result.status}: {result.reason})")
    return result.segments[0].vector, result.segments[0].desc_vector


def events_query_vector(audio_path: str | Path) -> np.ndarray | None:
    """The file's 521 YAMNet class scores as the sound_events extractor pools them
    (None when the model package is missing or the file has no usable audio)."""
    from assetdb.errors import ModelUnavailable
    from assetdb.models.sound_events import analyse_events

    try:
        res = analyse_events(Path(audio_path))
    except (ModelUnavailable, MediaError) as exc:
        log.warning("sounds-like without sound-event scores: %s", exc)
        return None
    return res.spans[0].vector if res.spans else None


def _segment_vector(session: Session, segment_id: int, space: str) -> np.ndarray | None:
    row = session.execute(
        select(Vector.data).where(Vector.space == space, Vector.segment_id == segment_id).limit(1)
    ).scalar_one_or_none()
    return None if row is None else bytes_to_vector(row).copy()


def _vectors_of(session: Session, space: str, segment_ids: list[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for i in range(0, len(segment_ids), 500):
        chunk = segment_ids[i : i + 500]
        for sid, data in session.execute(
            select(Vector.segment_id, Vector.data).where(
                Vector.space == space, Vector.segment_id.in_(chunk)
            )
        ).all():
            out[sid] = bytes_to_vector(data)
    return out


def _search_space(store: Any, space: str, q: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(vector id, score) best first: the FAISS index when the vectors module is
    there, else exact inner products over the SQL rows."""
    try:
        from assetdb.index import open_index
    except ImportError:
        open_index = None
    if open_index is not None:
        index = open_index(store, space)
        scores, ids = index.search(q[None, :], k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    with store.session() as s:
        rows = s.execute(select(Vector.id, Vector.data).where(Vector.space == space)).all()
    if not rows:
        raise NotFound(f"no vectors in {space!r}; index some media first")
    ids = np.array([r[0] for r in rows], np.int64)
    mat = np.stack([bytes_to_vector(r[1]) for r in rows])
    qn = q / (np.linalg.norm(q) or 1.0)
    norms = np.linalg.norm(mat, axis=1)
    scores = mat @ qn / np.where(norms > 0, norms, 1.0)
    order = np.argsort(-scores)[:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


def similar_segments(
    store: Any,
    *,
    audio_path: Path | None = None,
    segment_id: int | None = None,
    limit: int = 50,
) -> list[tuple[int, float]]:
    """Segments that sound like a file or like a stored segment: (segment id,
    similarity in [-1, 1]), best first. The query segment itself is left out.

    Candidates come from the FAISS indexes of the audio spaces (timbre:
    ``audio:mfcc180@1``; spectral shape: ``audio:spectral10@1``; YAMNet class
    scores: ``sound:yamnet521@1``), then are ranked exactly by ``0.5 * timbre
    cosine + 0.5 * shape cosine`` (the timbre cosine alone where the shape vectors
    are missing), blended with the class-score cosine (``EVENTS_WEIGHT``) where the
    sound_events extractor ran."""
    if (audio_path is None) == (segment_id is None):
        raise QueryError("give exactly one of audio_path or segment_id")
    if limit <= 0:
        return []
    from assetdb.models.sound_events import SPACE as EVENTS_SPACE

    if audio_path is not None:
        q, qd = audio_query_vectors(audio_path)
        with store.session() as s:
            has_events = s.execute(
                select(Vector.id).where(Vector.space == EVENTS_SPACE).limit(1)
            ).first() is not None
        qe = events_query_vector(audio_path) if has_events else None
    else:
        with store.session() as s:
            q = _segment_vector(s, int(segment_id), AUDIO_SPACE)
            qd = _segment_vector(s, int(segment_id), DESC_SPACE)
            qe = _segment_vector(s, int(segment_id), EVENTS_SPACE)
        if q is None:
            raise NotFound(
                f"segment {segment_id} has no audio vector (no sound, or not indexed yet)"
            )
    k = max(limit * 4, MIN_CANDIDATES)
    hits = _search_space(store, AUDIO_SPACE, q.astype(np.float32), k)
    if qd is not None:
        try:
            hits += _search_space(store, DESC_SPACE, qd.astype(np.float32), k)
        except NotFound:
            qd = None  # indexed before the shape space existed
    if qe is not None:
        try:
            hits += _search_space(store, EVENTS_SPACE, qe.astype(np.float32), k)
        except NotFound:
            qe = None
    with store.session() as s:
        seg_of = dict(
            s.execute(
                select(Vector.id, Vector.segment_id).where(
                    Vector.id.in_(list({h[0] for h in hits}))
                )
            ).all()
        )
        cands = sorted({sid for sid in seg_of.values() if sid is not None and sid != segment_id})
        timbre = _vectors_of(s, AUDIO_SPACE, cands)
        shape = _vectors_of(s, DESC_SPACE, cands) if qd is not None else {}
        events = _vectors_of(s, EVENTS_SPACE, cands) if qe is not None else {}
    scored = []
    for sid in cands:
        if sid not in timbre:
            continue
        score = float(timbre[sid] @ q)
        if qd is not None and sid in shape:
            score = (1 - DESC_WEIGHT) * score + DESC_WEIGHT * float(shape[sid] @ qd)
        if qe is not None and sid in events:
            score = (1 - EVENTS_WEIGHT) * score + EVENTS_WEIGHT * float(events[sid] @ qe)
        scored.append((sid, score))
    scored.sort(key=lambda x: -x[1])
    return scored[:limit]


# -- transcripts -------------------------------------------------------------


def transcript_rows(session: Session, asset_id: int) -> list[tuple[float, float, str]]:
    """(start_s, end_s, text) of an asset's transcript, in order (for `assets show`)."""
    rows = session.execute(
        select(TranscriptSegment.start_ms, TranscriptSegment.end_ms, TranscriptSegment.text)
        .where(TranscriptSegment.asset_id == asset_id)
        .order_by(TranscriptSegment.index)
    ).all()
    return [(a / 1000.0, b / 1000.0, t) for a, b, t in rows]


def transcript_info(session: Session, asset_id: int) -> Transcript | None:
    return session.execute(
        select(Transcript).where(Transcript.asset_id == asset_id)
    ).scalar_one_or_none()


def asset_details(session: Session, asset_id: int) -> dict[str, Any]:
    """The ``assets show`` section (a ``DETAIL_PROVIDERS`` entry): the audio track's
    status and level, the transcript's status, and its timed lines."""
    out: dict[str, Any] = {}
    track = session.execute(
        select(AudioTrack).where(AudioTrack.asset_id == asset_id)
    ).scalar_one_or_none()
    if track is not None:
        out["audio"] = {"status": track.status, "reason": track.reason,
                        "loudness_lufs": track.loudness_lufs, "peak_dbfs": track.peak_dbfs,
                        "speech_ratio": track.speech_ratio}
    info = transcript_info(session, asset_id)
    if info is not None:
        out["transcript_info"] = {"status": info.status, "model": info.model,
                                  "language": info.language, "lines": info.segment_count}
        out["transcript"] = [{"start_s": round(a, 3), "end_s": round(b, 3), "text": t}
                             for a, b, t in transcript_rows(session, asset_id)]
    return out


def _tokens(text: str) -> list[str]:
    import re

    return re.findall(r"[\w']+", text.lower())


def _word_time(words: list[Any], query: list[str]) -> float | None:
    """Start (s) of the first place the query words are said, from word timings."""
    said = [(_tokens(str(w[0])), w[1]) for w in words if len(w) >= 2]
    flat = [(t, ms) for toks, ms in said for t in toks]
    n = len(query)
    for i in range(len(flat) - n + 1):
        if [t for t, _ in flat[i : i + n]] == query:
            return flat[i][1] / 1000.0
    for t, ms in flat:
        if t == query[0]:
            return ms / 1000.0
    return None


def find_spoken(
    session: Session, query: str, *, limit: int = 50
) -> list[tuple[int, int | None, float, float, str]]:
    """Transcript lines containing every word of ``query`` (case-insensitive):
    (asset_id, segment_id, t_s, end_s, text), where ``t_s`` is when the words are
    said (word timings; the line start without them) and ``segment_id`` the
    shot/window holding that moment. A plain word match over the transcript
    table for the CLI and tests; ranked full-text search over all text sources
    is the search module's."""
    from assetdb.schema import Segment

    words = _tokens(query)
    if not words:
        raise QueryError("the query has no words")
    stmt = select(
        TranscriptSegment.asset_id,
        TranscriptSegment.segment_id,
        TranscriptSegment.start_ms,
        TranscriptSegment.end_ms,
        TranscriptSegment.text,
        TranscriptSegment.words,
    )
    for w in words:
        stmt = stmt.where(TranscriptSegment.text.ilike(f"%{w}%"))
    stmt = stmt.order_by(TranscriptSegment.asset_id, TranscriptSegment.index).limit(limit * 4)
    out = []
    for aid, sid, a, b, text, said in session.execute(stmt).all():
        if not set(words) <= set(_tokens(text)):
            continue
        t = _word_time(said or [], words)
        if t is None:
            t = a / 1000.0
        else:
            found = session.execute(
                select(
                    Segment.id,
                    Segment.time_base_num,
                    Segment.time_base_den,
                    Segment.start_ts,
                    Segment.end_ts,
                ).where(Segment.asset_id == aid)
            ).all()
            for seg_id, num, den, s0, s1 in found:
                if s0 * num / den <= t < s1 * num / den:
                    sid = seg_id
                    break
        out.append((aid, sid, t, b / 1000.0, text))
    return out[:limit]


def similar_speech(
    store: Any, query: str, *, limit: int = 20
) -> list[tuple[int, int | None, float | None, float]]:
    """Transcript lines whose meaning is close to ``query`` (all-MiniLM-L6-v2):
    (asset_id, segment_id, t_s, score), best first."""
    from assetdb.models.text import SentenceEncoder

    if not query.strip():
        raise QueryError("the query is empty")
    q = SentenceEncoder.shared().encode([query])[0]
    hits = _search_space(store, TRANSCRIPT_SPACE, q, limit)
    with store.session() as s:
        meta = {
            vid: (aid, sid, t)
            for vid, aid, sid, t in s.execute(
                select(Vector.id, Vector.asset_id, Vector.segment_id, Vector.t_s).where(
                    Vector.id.in_([h[0] for h in hits])
                )
            ).all()
        }
    return [(*meta[vid], score) for vid, score in hits if vid in meta]


# -- export ------------------------------------------------------------------


def _timecode(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def format_transcript(rows: list[tuple[float, float, str]], fmt: str) -> str:
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise QueryError(
            f"unknown transcript format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}"
        )
    if fmt == "json":
        return (
            json.dumps(
                [{"start_s": round(a, 3), "end_s": round(b, 3), "text": t} for a, b, t in rows],
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    if fmt == "txt":
        return "".join(f"{t}\n" for _, _, t in rows)
    parts = ["WEBVTT\n\n"] if fmt == "vtt" else []
    for i, (a, b, t) in enumerate(rows, 1):
        # a cue needs a positive duration to be shown
        b = max(b, a + 0.001)
        text = t.replace("-->", "->")
        if fmt == "srt":
            parts.append(f"{i}\n{_timecode(a, ',')} --> {_timecode(b, ',')}\n{text}\n\n")
        else:
            parts.append(f"{_timecode(a, '.')} --> {_timecode(b, '.')}\n{text}\n\n")
    return "".join(parts)


def transcript_export(session: Session, asset_id: int, fmt: str) -> str:
    """The asset's transcript as SRT, WebVTT, plain text or JSON."""
    if session.get(Asset, asset_id) is None:
        raise NotFound(f"no asset with id {asset_id}")
    info = transcript_info(session, asset_id)
    if info is None:
        raise NotFound(f"asset {asset_id} has no transcript yet (run the transcript stage)")
    return format_transcript(transcript_rows(session, asset_id), fmt)
