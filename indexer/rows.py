"""Each extractor's result as rows: one function per extractor, called by the writer
(``indexer.writer``) inside the transaction that records the stage row.

Every function first deletes the extractor's previous rows for the asset, so writing
again is idempotent. Extractors themselves never touch the database. Many-row tables
(detections, OCR lines, sound events, transcript and audio segments) go in as one
multi-row Core INSERT each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from assetdb.records import (
    IN_CHUNK,
    TextRow,
    VectorRow,
    replace_texts,
    replace_texts_many,
    replace_vectors,
    replace_vectors_many,
    segment_ids,
)
from assetdb.schema import (
    AudioSegment,
    AudioTrack,
    ObjectDetection,
    OcrLine,
    Proxy,
    SegmentObject,
    Transcript,
    TranscriptSegment,
)
from assetdb.schema.interest import InterestCurve, InterestShot
from indexer.work import AssetWork


def _opt_int(x: Any) -> int | None:
    return None if x is None else int(x)


def _ids(session: Session, work: AssetWork) -> dict[int, int]:
    """The asset's segment index -> SQL id map: from the work item when the writer has
    filled it in, else read."""
    if work.segments and all(seg.id is not None for seg in work.segments):
        return {seg.index: seg.id for seg in work.segments}
    return segment_ids(session, work.asset_id)


def _insert(session: Session, model: Any, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(model.__table__), rows)


def store_visual(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    """concepts / clip: one vector per keyframe in the database's one visual space."""
    store_visual_many(session, [(work, result)], ext)


def store_visual_many(session: Session, items: list[tuple[AssetWork, Any]], ext: Any) -> None:
    from assetdb.spaces import claim_space

    for space in sorted({result.space for _, result in items}):
        claim_space(session, space, ext.model_spec())
        replace_vectors_many(session, space, [
            (work.asset_id,
             [VectorRow(vector=v, segment_index=int(si), t_s=float(t)) for si, t, v in result.rows],
             _ids(session, work))
            for work, result in items if result.space == space
        ])  # fmt: skip


def store_objects(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    store_objects_many(session, [(work, result)], ext)


def store_objects_many(session: Session, items: list[tuple[AssetWork, Any]], ext: Any) -> None:
    from assetdb.objects import objects_text
    from indexer.extractors.objects import aggregate

    aids = sorted({work.asset_id for work, _ in items})
    for i in range(0, len(aids), IN_CHUNK):
        chunk = aids[i:i + IN_CHUNK]
        session.execute(delete(ObjectDetection).where(ObjectDetection.asset_id.in_(chunk)))
        session.execute(delete(SegmentObject).where(SegmentObject.asset_id.in_(chunk)))
    detections, labelled, texts = [], [], []
    for work, result in items:
        aid = work.asset_id
        ids = _ids(session, work)
        for f in result.frames:
            sid = ids.get(f.segment_index)
            if sid is None:
                continue
            for d in f.detections:
                x1, y1, x2, y2 = (float(v) for v in d.box)
                detections.append(
                    {"asset_id": aid, "segment_id": sid, "ts": int(f.ts), "t_s": float(f.t_s),
                     "frame": int(f.frame), "label": d.label, "score": float(d.score),
                     "x1": x1, "y1": y1, "x2": x2, "y2": y2, "detector": result.detector}
                )  # fmt: skip
        rows = []
        segs = {s.index: s for s in work.segments}
        for seg_index, labels in sorted(aggregate(result.frames).items()):
            sid = ids.get(seg_index)
            if sid is None:
                continue
            for label, st in labels.items():
                labelled.append(
                    {"asset_id": aid, "segment_id": sid, "label": label,
                     "max_score": float(st.max_score), "count": int(st.count),
                     "frames": int(st.frames)}
                )  # fmt: skip
            ordered = sorted(labels, key=lambda lb: -labels[lb].max_score)
            seg = segs.get(seg_index)
            rows.append(
                TextRow(
                    objects_text(ordered), segment_index=seg_index,
                    start_s=seg.start_s if seg else None, end_s=seg.end_s if seg else None,
                )
            )  # fmt: skip
        texts.append((aid, "objects", rows, ids))
    _insert(session, ObjectDetection, detections)
    _insert(session, SegmentObject, labelled)
    replace_texts_many(session, ["objects"], texts)


def store_ocr(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    from indexer.extractors.ocr import search_text

    aid = work.asset_id
    session.execute(delete(OcrLine).where(OcrLine.asset_id == aid))
    ids = _ids(session, work)
    lines, rows = [], []
    for ln in result.lines:
        sid = ids.get(ln.segment_index)
        if sid is None:
            continue
        x1, y1, x2, y2 = (float(v) for v in ln.box)
        lines.append(
            {"asset_id": aid, "segment_id": sid, "ts": int(ln.ts), "t_s": float(ln.t_s),
             "last_t_s": float(ln.last_t_s), "text": ln.text, "norm": ln.norm,
             "confidence": float(ln.confidence), "frames": int(ln.frames), "x1": x1,
             "y1": y1, "x2": x2, "y2": y2}
        )  # fmt: skip
        rows.append(
            TextRow(search_text(ln.text), segment_index=ln.segment_index, start_s=ln.t_s,
                    end_s=ln.last_t_s)
        )  # fmt: skip
    _insert(session, OcrLine, lines)
    replace_texts(session, aid, "ocr", rows, ids)


def store_faces(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    from assetdb.faces import assign_new_faces, delete_asset_faces
    from assetdb.faces import store_faces as insert_faces

    delete_asset_faces(session, work.asset_id)
    ids = insert_faces(session, work.asset_id, result.faces)
    assign_new_faces(session, ids)


def store_audio(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    from assetdb.models.sound_features import DESC_SPACE, SPACE
    from assetdb.records import vector_to_bytes

    aid = work.asset_id
    session.execute(delete(AudioSegment).where(AudioSegment.asset_id == aid))
    session.execute(delete(AudioTrack).where(AudioTrack.asset_id == aid))
    session.add(AudioTrack(asset_id=aid, status=result.status, reason=result.reason,
                           **result.track))
    ids = _ids(session, work)
    for f in result.segments:
        session.add(
            AudioSegment(
                asset_id=aid,
                segment_id=ids.get(f.index) if f.index is not None else None,
                start_ms=round(f.start_s * 1000),
                end_ms=round(f.end_s * 1000),
                loudness_lufs=f.loudness_lufs,
                rms_dbfs=f.rms_dbfs,
                peak_dbfs=f.peak_dbfs,
                centroid_hz=f.centroid_hz,
                centroid_std_hz=f.centroid_std_hz,
                contrast_db=f.contrast_db,
                onset_rate=f.onset_rate,
                speech_ratio=f.speech_ratio,
                silence_ratio=f.silence_ratio,
                other_ratio=f.other_ratio,
                rms_curve_dbfs=f.rms_curve_dbfs,
                speech_curve=f.speech_curve,
                mfcc_raw=vector_to_bytes(f.mfcc_raw),
            )
        )
    replace_vectors(
        session, aid, SPACE,
        [VectorRow(vector=f.vector, segment_index=_opt_int(f.index), t_s=f.start_s)
         for f in result.segments if f.vector is not None],
        ids,
    )  # fmt: skip
    replace_vectors(
        session, aid, DESC_SPACE,
        [VectorRow(vector=f.desc_vector, segment_index=_opt_int(f.index), t_s=f.start_s)
         for f in result.segments if f.vector is not None and f.desc_vector is not None],
        ids,
    )  # fmt: skip


def store_sound_events(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    from assetdb.models.sound_events import SPACE
    from assetdb.schema import SoundEvent

    aid = work.asset_id
    session.execute(delete(SoundEvent).where(SoundEvent.asset_id == aid))
    ids = _ids(session, work)
    for sp in result.spans:
        sid = ids.get(sp.index) if sp.index is not None else None
        for e in sp.events:
            session.add(
                SoundEvent(
                    asset_id=aid, segment_id=sid, class_index=e.class_index, label=e.label,
                    max_score=e.max_score, mean_score=e.mean_score,
                    start_ms=round(e.start_s * 1000), end_ms=round(e.end_s * 1000),
                    curve_t0_ms=round(e.curve_t0_s * 1000), curve=e.curve, model=result.model,
                )
            )  # fmt: skip
    replace_texts(
        session, aid, "sound",
        [TextRow("; ".join(sp.labels()), _opt_int(sp.index), round(sp.start_s, 3),
                 round(sp.end_s, 3)) for sp in result.spans],
        ids,
    )  # fmt: skip
    replace_vectors(
        session, aid, SPACE,
        [VectorRow(sp.vector, _opt_int(sp.index), round(sp.start_s, 3))
         for sp in result.spans if sp.vector is not None],
        ids,
    )  # fmt: skip


def store_transcript(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    from indexer.extractors.transcribe import SPACE

    aid = work.asset_id
    session.execute(delete(TranscriptSegment).where(TranscriptSegment.asset_id == aid))
    session.execute(delete(Transcript).where(Transcript.asset_id == aid))
    session.add(
        Transcript(
            asset_id=aid,
            status=result.status,
            reason=result.reason,
            model=result.model,
            language=result.language,
            language_probability=result.language_probability,
            speech_ms=round(result.speech_s * 1000),
            segment_count=len(result.lines),
        )
    )
    ids = _ids(session, work)
    for i, line in enumerate(result.lines):
        session.add(
            TranscriptSegment(
                asset_id=aid,
                segment_id=ids.get(line.segment_index) if line.segment_index is not None else None,
                index=i,
                start_ms=round(line.start_s * 1000),
                end_ms=round(line.end_s * 1000),
                text=line.text,
                words=line.words,
                avg_logprob=line.avg_logprob,
                no_speech_prob=line.no_speech_prob,
            )
        )
    replace_texts(
        session, aid, "transcript",
        [TextRow(ln.text, _opt_int(ln.segment_index), round(ln.start_s, 3), round(ln.end_s, 3))
         for ln in result.lines],
        ids,
    )  # fmt: skip
    replace_vectors(
        session, aid, SPACE,
        [VectorRow(ln.embedding, _opt_int(ln.segment_index), round(ln.start_s, 3))
         for ln in result.lines if ln.embedding is not None],
        ids,
    )  # fmt: skip


def store_interest(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    aid = work.asset_id
    session.execute(delete(InterestShot).where(InterestShot.asset_id == aid))
    session.execute(delete(InterestCurve).where(InterestCurve.asset_id == aid))
    session.add(
        InterestCurve(
            asset_id=aid,
            version=ext.version,
            t0_s=result.t0_s,
            hop_s=result.hop_s,
            sample_fps=result.sample_fps,
            signals=result.signals,
            audio_state=result.audio_state,
            audio_error=result.audio_error,
        )
    )
    ids = _ids(session, work)
    for s in result.shots:
        sid = ids.get(s["segment_index"])
        if sid is None:
            continue
        session.add(InterestShot(asset_id=aid, segment_id=sid, summary=s["summary"],
                                 signature=s["signature"]))
    session.flush()


def store_proxy(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    """proxy: the proxy file's row (none when the original plays in a browser)."""
    session.execute(delete(Proxy).where(Proxy.asset_id == work.asset_id))
    if result.needed:
        session.add(Proxy(asset_id=work.asset_id, path=result.path, width=result.width,
                          height=result.height, duration_s=result.duration_s,
                          size=result.size, has_audio=result.has_audio, version=ext.version))


StoreFn = Callable[[Session, AssetWork, Any, Any], None]
StoreManyFn = Callable[[Session, list[tuple[AssetWork, Any]], Any], None]

STORES: dict[str, StoreFn] = {
    "concepts": store_visual,
    "clip": store_visual,
    "objects": store_objects,
    "ocr": store_ocr,
    "faces": store_faces,
    "audio": store_audio,
    "sound_events": store_sound_events,
    "transcript": store_transcript,
    "interest": store_interest,
    "proxy": store_proxy,
}

# the extractors whose rows many assets write at once (the writer's batches; the others
# are written asset by asset in the same transaction)
STORES_MANY: dict[str, StoreManyFn] = {
    "concepts": store_visual_many,
    "clip": store_visual_many,
    "objects": store_objects_many,
}
