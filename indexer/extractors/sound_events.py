"""The "sound_events" extractor: which AudioSet sounds (dog, car horn, thunder,
laughter, applause, music...) are heard in each segment, with their scores over time.

The model is :class:`assetdb.models.yamnet.YamNet` (521 classes, one score per
0.96 s patch every 0.48 s); the labels and vectors are computed by
:func:`assetdb.models.sound_events.segment_events`, shared with sounds-like queries.

Written (``indexer.rows.store_sound_events``): ``sound_events`` rows (per segment,
the classes whose peak reached ``STORE_MIN``), a ``texts`` row per segment (source
"sound": the label names, for full-text search) and the segment's 521 class scores
as a vector (space ``sound:yamnet521@1``) for ``--sounds-like``.
"""

from __future__ import annotations

import logging

from assetdb.errors import MediaError
from assetdb.models.sound_events import SoundEventsResult, Span, analyse_events
from assetdb.models.yamnet import YamNet
from indexer.extractors.base import Extractor
from indexer.work import AssetWork

log = logging.getLogger(__name__)


class SoundEventsExtractor(Extractor):
    name = "sound_events"
    version = "2"  # 2: the QDQ graph unfused (the same scores on every CPU)
    kinds = frozenset({"video", "audio"})

    def _load(self) -> None:
        self._model = YamNet.shared().load()

    def applies_to(self, work: AssetWork) -> bool:
        return work.kind in self.kinds and (work.has_audio or bool(work.audio_streams))

    def run(self, batch: list[AssetWork]) -> list[SoundEventsResult]:
        self.load()
        out = []
        for work in batch:
            spans = [Span(s.index, s.start_s, s.end_s) for s in work.segments] or None
            try:
                out.append(analyse_events(work.path, spans, model=self._model))
            except MediaError as exc:
                out.append(SoundEventsResult("undecodable", str(exc), self._model.model_id))
        return out
