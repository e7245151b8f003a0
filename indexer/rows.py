"""Each extractor's result as rows: one function per extractor, called by the writer
(``indexer.writer``) inside the transaction that records the stage row.

Every function first deletes the extractor's previous rows for the asset, so writing
again is idempotent. Extractors themselves never touch the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from assetdb.records import TextRow, VectorRow, replace_texts, replace_vectors, segment_ids
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


def store_visual(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    """concepts / clip: one vector per keyframe in the database's one visual space."""
    from assetdb.spaces import claim_space

    claim_space(session, result.space, ext.model_spec())
    replace_vectors(
        session, work.asset_id, result.space,
        [VectorRow(vector=v, segment_index=int(si), t_s=float(t)) for si, t, v in result.rows],
    )  # fmt: skip


def store_objects(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    from assetdb.objects import objects_text
    from indexer.extractors.objects import aggregate

    aid = work.asset_id
    session.execute(delete(ObjectDetection).where(ObjectDetection.asset_id == aid))
    session.execute(delete(SegmentObject).where(SegmentObject.asset_id == aid))
    ids = segment_ids(session, aid)
    for f in result.frames:
        sid = ids.get(f.segment_index)
        if sid is None:
            continue
        for d in f.detections:
            x1, y1, x2, y2 = (float(v) for v in d.box)
            session.add(
                ObjectDetection(
                    asset_id=aid, segment_id=sid, ts=int(f.ts), t_s=float(f.t_s),
                    frame=int(f.frame), label=d.label, score=float(d.score), x1=x1, y1=y1,
                    x2=x2, y2=y2, detector=result.detector,
                )
            )  # fmt: skip
    texts = []
    segs = {s.index: s for s in work.segments}
    for seg_index, labels in sorted(aggregate(result.frames).items()):
        sid = ids.get(seg_index)
        if sid is None:
            continue
        for label, st in labels.items():
            session.add(
                SegmentObject(
                    asset_id=aid, segment_id=sid, label=label, max_score=float(st.max_score),
                    count=int(st.count), frames=int(st.frames),
                )
            )  # fmt: skip
        ordered = sorted(labels, key=lambda lb: -labels[lb].max_score)
        seg = segs.get(seg_index)
        texts.append(
            TextRow(
                objects_text(ordered), segment_index=seg_index,
                start_s=seg.start_s if seg else None, end_s=seg.end_s if seg else None,
            )
        )  # fmt: skip
    replace_texts(session, aid, "objects", texts)


def store_ocr(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    from indexer.extractors.ocr import search_text

    aid = work.asset_id
    session.execute(delete(OcrLine).where(OcrLine.asset_id == aid))
    ids = segment_ids(session, aid)
    rows = []
    for ln in result.lines:
        sid = ids.get(ln.segment_index)
        if sid is None:
            continue
        x1, y1, x2, y2 = (float(v) for v in ln.box)
        session.add(
            OcrLine(
                asset_id=aid, segment_id=sid, ts=int(ln.ts), t_s=float(ln.t_s),
                last_t_s=float(ln.last_t_s), text=ln.text, norm=ln.norm,
                confidence=float(ln.confidence), frames=int(ln.frames), x1=x1, y1=y1, x2=x2,
                y2=y2,
            )
        )  # fmt: skip
        rows.append(
            TextRow(search_text(ln.text), segment_index=ln.segment_index, start_s=ln.t_s,
                    end_s=ln.last_t_s)
        )  # fmt: skip
    replace_texts(session, aid, "ocr", rows)


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
    ids = segment_ids(session, aid)
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
    )  # fmt: skip
    replace_vectors(
        session, aid, DESC_SPACE,
        [VectorRow(vector=f.desc_vector, segment_index=_opt_int(f.index), t_s=f.start_s)
         for f in result.segments if f.vector is not None and f.desc_vector is not None],
    )  # fmt: skip


def store_sound_events(session: Session, work: AssetWork, result: Any, ext: Any) -> None:
    from assetdb.models.sound_events import SPACE
    from assetdb.schema import SoundEvent

    aid = work.asset_id
    session.execute(delete(SoundEvent).where(SoundEvent.asset_id == aid))
    ids = segment_ids(session, aid)
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
    )  # fmt: skip
    replace_vectors(
        session, aid, SPACE,
        [VectorRow(sp.vector, _opt_int(sp.index), round(sp.start_s, 3))
         for sp in result.spans if sp.vector is not None],
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
    ids = segment_ids(session, aid)
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
    )  # fmt: skip
    replace_vectors(
        session, aid, SPACE,
        [VectorRow(ln.embedding, _opt_int(ln.segment_index), round(ln.start_s, 3))
         for ln in result.lines if ln.embedding is not None],
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
    ids = segment_ids(session, aid)
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
