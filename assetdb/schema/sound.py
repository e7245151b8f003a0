"""Sound: what each asset's audio track is (or why it has none), per-segment
audio features with per-second curves, and timed speech transcripts.

Times are integer milliseconds (rational time with a 1/1000 base): audio is
resampled, so sample counts of the source would not survive; a millisecond is
finer than any transcript or curve stored here. The pooled 180-d MFCC vector
of each segment lives in ``vectors`` (space ``audio:mfcc180@1``), transcript
sentence embeddings in ``vectors`` (space ``transcript:all-MiniLM-L6-v2``) and
the transcript text in ``texts`` (source ``transcript``) for full-text search.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assetdb.schema.base import Base


class AudioTrack(Base):
    """One row per asset the audio stage looked at: the decoded stream, or the
    reason there is nothing to hear (no_audio | undecodable | silent)."""

    __tablename__ = "audio_tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # ok|partial|silent|no_audio|undecodable
    reason: Mapped[str | None] = mapped_column(Text)
    stream_index: Mapped[int | None] = mapped_column(Integer)
    codec: Mapped[str | None] = mapped_column(String(64))
    source_rate: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    layout: Mapped[str | None] = mapped_column(String(64))
    sample_rate: Mapped[int | None] = mapped_column(Integer)  # rate the features were taken at
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    decode_errors: Mapped[int] = mapped_column(Integer, default=0)
    loudness_lufs: Mapped[float | None] = mapped_column(Float)  # BS.1770 integrated, mono mix
    peak_dbfs: Mapped[float | None] = mapped_column(Float)
    speech_ratio: Mapped[float | None] = mapped_column(Float)
    silence_ratio: Mapped[float | None] = mapped_column(Float)
    vad_model: Mapped[str | None] = mapped_column(String(64))


class AudioSegment(Base):
    """Audio features of one segment (a shot of a video, a window of an audio file)."""

    __tablename__ = "audio_segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    loudness_lufs: Mapped[float | None] = mapped_column(Float)
    rms_dbfs: Mapped[float | None] = mapped_column(Float)
    peak_dbfs: Mapped[float | None] = mapped_column(Float)
    centroid_hz: Mapped[float | None] = mapped_column(Float)
    centroid_std_hz: Mapped[float | None] = mapped_column(Float)
    contrast_db: Mapped[list[float]] = mapped_column(JSON, default=list)  # per octave band
    onset_rate: Mapped[float | None] = mapped_column(Float)  # onsets per second
    speech_ratio: Mapped[float | None] = mapped_column(Float)
    silence_ratio: Mapped[float | None] = mapped_column(Float)
    # Non-silent, non-speech share: music, effects, ambience (not told apart, see notes).
    other_ratio: Mapped[float | None] = mapped_column(Float)
    rms_curve_dbfs: Mapped[list[float]] = mapped_column(JSON, default=list)  # per second
    speech_curve: Mapped[list[float]] = mapped_column(JSON, default=list)  # per second, 0..1
    # The 180 pooled MFCC/delta/delta-delta means before normalisation (float32 LE),
    # so a new normalisation can be applied without decoding again.
    mfcc_raw: Mapped[bytes | None] = mapped_column(LargeBinary)


class Transcript(Base):
    """One row per asset the transcript stage looked at."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # ok|no_speech|no_audio|undecodable|silent
    reason: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    language_probability: Mapped[float | None] = mapped_column(Float)
    speech_ms: Mapped[int | None] = mapped_column(BigInteger)  # audio given to the model
    segment_count: Mapped[int] = mapped_column(Integer, default=0)


class TranscriptSegment(Base):
    __tablename__ = "transcript_segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    # The shot/window the line starts in.
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int] = mapped_column(Integer)  # order within the asset
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    # [[word, start_ms, end_ms, probability], ...] when word timestamps were taken
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)
    avg_logprob: Mapped[float | None] = mapped_column(Float)
    no_speech_prob: Mapped[float | None] = mapped_column(Float)

    @property
    def start_s(self) -> float:
        return self.start_ms / 1000.0

    @property
    def end_s(self) -> float:
        return self.end_ms / 1000.0


class SoundEvent(Base):
    """One AudioSet class heard in a segment (a shot of a video, a window of an audio
    file), from the "sound_events" extractor (YAMNet): its peak and mean score over
    the segment's 0.96 s patches, when it was first and last heard above
    ``SOUND_EVENT_ON`` (ms, asset time), and its score per patch (``curve``, one
    value per 0.48 s from ``curve_t0_ms``) so a timeline can be drawn."""

    __tablename__ = "sound_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    class_index: Mapped[int] = mapped_column(Integer)  # YAMNet output index, 0..520
    label: Mapped[str] = mapped_column(String(128), index=True)  # AudioSet display name
    max_score: Mapped[float] = mapped_column(Float)
    mean_score: Mapped[float] = mapped_column(Float)
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    curve_t0_ms: Mapped[int] = mapped_column(BigInteger)
    curve: Mapped[list[float]] = mapped_column(JSON, default=list)
    model: Mapped[str] = mapped_column(String(64))
