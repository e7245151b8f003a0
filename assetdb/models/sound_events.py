"""Sound events per span (a shot of a video, a window of an audio file) from YAMNet's
per-patch AudioSet scores: what the "sound_events" extractor stores and what a
``--sounds-like FILE`` query computes, from one copy of the code.

A patch (0.96 s) belongs to a span when its centre falls inside it; a span shorter
than that takes the patches overlapping it. Per span and class: the peak score
(``max``), the mean, the first/last time the class was above ``EVENT_ON`` and the
per-patch curve. Classes whose peak reaches ``STORE_MIN`` are kept (at most
``MAX_EVENTS`` per span, highest first).

The span's semantic sound vector (space ``SPACE``) is the 521 class scores,
mean-pooled over the span's patches, square-rooted and L2-normalised (see
``bench/sound_vectors.py`` for what was measured against the MFCC vector).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assetdb.models.yamnet import MODEL_ID, PATCH_S, SAMPLE_RATE, YamNet, class_names

SPACE = "sound:yamnet521@1"
STORE_MIN = 0.15  # a class is stored for a span when its peak score reaches this
EVENT_ON = 0.3  # "heard" from/to times: first and last patch at or above this
MAX_EVENTS = 12
LABEL_MIN = 0.3  # labels written to full-text search and matched by --sound


@dataclass
class Span:
    index: int | None
    start_s: float
    end_s: float


@dataclass
class Event:
    class_index: int
    label: str
    max_score: float
    mean_score: float
    start_s: float  # first patch start at >= EVENT_ON (the peak patch when never)
    end_s: float
    curve_t0_s: float
    curve: list[float]  # score per patch (0.48 s apart), rounded to 0.01


@dataclass
class SpanEvents:
    index: int | None
    start_s: float
    end_s: float
    events: list[Event] = field(default_factory=list)
    vector: np.ndarray | None = None  # 521 float32, unit length; None without patches

    def labels(self, min_score: float = LABEL_MIN) -> list[str]:
        return [e.label for e in self.events if e.max_score >= min_score]


@dataclass
class SoundEventsResult:
    status: str  # ok|partial|silent|no_audio|undecodable
    reason: str | None
    model: str = MODEL_ID
    spans: list[SpanEvents] = field(default_factory=list)
    duration_s: float = 0.0


def pool_vector(scores: np.ndarray) -> np.ndarray | None:
    """The semantic sound vector of patches [N,521]: mean-pooled, sqrt, unit length
    (mean pooling ranked same-class clips first on the labelled sounds; max pooling
    let one loud patch dominate: bench/sound_vectors.py)."""
    if len(scores) == 0:
        return None
    v = np.sqrt(np.asarray(scores, dtype=np.float32).mean(axis=0))
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else None


def span_events(times: np.ndarray, scores: np.ndarray, spans: list[Span]) -> list[SpanEvents]:
    names = class_names()
    centres = times + PATCH_S / 2
    out = []
    for sp in spans:
        sel = np.flatnonzero((centres >= sp.start_s) & (centres < sp.end_s))
        if len(sel) == 0:
            sel = np.flatnonzero((times < sp.end_s) & (times + PATCH_S > sp.start_s))
        se = SpanEvents(sp.index, sp.start_s, sp.end_s)
        if len(sel):
            block = scores[sel]
            peak = block.max(axis=0)
            mean = block.mean(axis=0)
            order = [int(c) for c in np.argsort(-peak)[:MAX_EVENTS] if peak[c] >= STORE_MIN]
            t = times[sel]
            for c in order:
                on = np.flatnonzero(block[:, c] >= EVENT_ON)
                if len(on) == 0:
                    on = np.array([int(np.argmax(block[:, c]))])
                se.events.append(Event(
                    class_index=c, label=names[c], max_score=round(float(peak[c]), 4),
                    mean_score=round(float(mean[c]), 4),
                    start_s=max(sp.start_s, float(t[on[0]])),
                    end_s=min(sp.end_s, float(t[on[-1]] + PATCH_S)) if sp.end_s > sp.start_s
                    else float(t[on[-1]] + PATCH_S),
                    curve_t0_s=float(t[0]),
                    curve=[round(float(x), 2) for x in block[:, c]],
                ))  # fmt: skip
            se.vector = pool_vector(block)
        out.append(se)
    return out


def analyse_samples(samples: np.ndarray, spans: list[Span] | None, *,
                    model: YamNet | None = None, sample_rate: int = SAMPLE_RATE
                    ) -> list[SpanEvents]:
    model = model or YamNet.shared()
    duration = len(samples) / sample_rate
    times, scores = model.scores(samples, sample_rate)
    return span_events(times, scores, spans or [Span(None, 0.0, duration)])


def analyse_events(path: Path, spans: list[Span] | None = None, *,
                   model: YamNet | None = None) -> SoundEventsResult:
    """Decode ``path`` (the one audio decoder) and find its sound events per span
    (default: the whole file). Raises MediaError only when it cannot be opened."""
    from assetdb.media.audio import decode_audio

    audio = decode_audio(path, SAMPLE_RATE)
    if not audio.usable:
        return SoundEventsResult(audio.status, audio.reason, duration_s=audio.duration_s)
    res = analyse_samples(audio.samples, spans, model=model)
    return SoundEventsResult(audio.status, audio.reason, spans=res, duration_s=audio.duration_s)
