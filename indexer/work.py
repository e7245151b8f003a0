"""Typed work items passed between stages (picklable, no database handles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any


@dataclass
class KeyframeRef:
    segment_index: int
    ts: int  # in the segment's time base
    time_s: float
    frame: int
    path: Path  # absolute path of the stored JPEG (long side <= KEYFRAME_MAX_PX)
    width: int = 0
    height: int = 0
    quality: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class SegmentRef:
    index: int
    kind: str  # shot|still|window
    time_base: Fraction
    start_ts: int
    end_ts: int
    start_frame: int = 0
    end_frame: int = 0
    rate: Fraction | None = None
    transition: str | None = None
    keyframes: list[KeyframeRef] = field(default_factory=list)
    id: int | None = None  # SQL id once written

    @property
    def start_s(self) -> float:
        return float(self.start_ts * self.time_base)

    @property
    def end_s(self) -> float:
        return float(self.end_ts * self.time_base)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class AssetWork:
    """Everything an extractor needs to know about one catalogued asset."""

    asset_id: int
    path: Path
    kind: str  # video|image|audio
    data_dir: Path
    duration_s: float | None = None
    frame_rate: Fraction | None = None
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    has_audio: bool = False
    audio_streams: list[dict[str, Any]] = field(default_factory=list)
    segments: list[SegmentRef] = field(default_factory=list)

    @property
    def keyframes(self) -> list[KeyframeRef]:
        return [k for s in self.segments for k in s.keyframes]
