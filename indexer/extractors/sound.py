"""The "audio" extractor: what can be heard, per segment (the features are
computed by :mod:`assetdb.models.sound_features`, shared with sounds-like queries).
"""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy.orm import Session

from assetdb.models.sound_features import (
    DESC_SPACE,
    SPACE,
    AudioResult,
    Span,
    analyse,
    norm_stats,
)
from assetdb.models.vad import SileroVad
from indexer.extractors.base import Extractor
from indexer.work import AssetWork

log = logging.getLogger(__name__)


def spans_for(work: AssetWork, duration_s: float) -> list[Span]:
    if work.segments:
        return [Span(s.index, s.start_s, s.end_s) for s in work.segments]
    return [Span(None, 0.0, duration_s)]


class AudioFeatures(Extractor):
    name = "audio"
    version = "1"
    kinds = frozenset({"video", "audio"})

    def _load(self) -> None:
        self._vad = SileroVad.shared().load()
        norm_stats()

    def applies_to(self, work: AssetWork) -> bool:
        return work.kind in self.kinds and (work.has_audio or bool(work.audio_streams))

    def run(self, batch: list[AssetWork]) -> list[AudioResult]:
        self.load()
        out = []
        for work in batch:
            duration = work.duration_s or 0.0
            spans = spans_for(work, duration) if work.segments else None
            out.append(analyse(work.path, spans, vad=self._vad))
        return out

    def clear(self, session: Session, asset_id: int) -> None:
        from assetdb.schema import AudioSegment, AudioTrack, Vector

        session.execute(delete(AudioSegment).where(AudioSegment.asset_id == asset_id))
        session.execute(delete(AudioTrack).where(AudioTrack.asset_id == asset_id))
        session.execute(
            delete(Vector).where(Vector.asset_id == asset_id, Vector.space.in_([SPACE, DESC_SPACE]))
        )

    def write(self, session: Session, work: AssetWork, result: AudioResult) -> None:
        from assetdb.records import VectorRow, replace_vectors, segment_ids, vector_to_bytes
        from assetdb.schema import AudioSegment, AudioTrack

        self.clear(session, work.asset_id)
        session.add(
            AudioTrack(
                asset_id=work.asset_id, status=result.status, reason=result.reason, **result.track
            )
        )
        ids = segment_ids(session, work.asset_id)
        for f in result.segments:
            session.add(
                AudioSegment(
                    asset_id=work.asset_id,
                    segment_id=ids.get(f.index) if f.index is not None else None,
                    start_ms=int(round(f.start_s * 1000)),
                    end_ms=int(round(f.end_s * 1000)),
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
            session,
            work.asset_id,
            SPACE,
            [
                VectorRow(vector=f.vector, segment_index=f.index, t_s=f.start_s)
                for f in result.segments
                if f.vector is not None
            ],
        )
        replace_vectors(
            session,
            work.asset_id,
            DESC_SPACE,
            [
                VectorRow(vector=f.desc_vector, segment_index=f.index, t_s=f.start_s)
                for f in result.segments
                if f.vector is not None and f.desc_vector is not None
            ],
        )
