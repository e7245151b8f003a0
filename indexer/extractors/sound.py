"""The "audio" extractor: what can be heard, per segment (the features are
computed by :mod:`assetdb.models.sound_features`, shared with sounds-like queries).
"""

from __future__ import annotations

import logging

from assetdb.models.sound_features import (
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
