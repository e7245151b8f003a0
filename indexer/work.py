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


@dataclass
class ShotStretch:
    """One stretch of a long video's shot analysis pass (``indexer.shots.analyse_chunk``)."""

    start_s: float
    end_s: float | None  # None: to the end
    frame_rate: Fraction | None
    stream_index: int | None


@dataclass
class Task:
    """One asset's work for a runner: the catalogue stage if needed, then extractors."""

    asset_id: int
    path: Path
    content_hash: str
    data_dir: Path
    catalogue: bool
    work: AssetWork | None  # when the catalogue is already stored
    extractors: list[str]
    options: dict[str, dict[str, Any]]
    # a long video's shot analysis, made in parallel stretches before its catalogue:
    # the stretch (start_s, end_s) this task analyses, or the joined chunks to use
    shot_stretch: ShotStretch | None = None
    shot_chunks: list[Any] | None = None


@dataclass
class StageOutcome:
    """What one stage produced for one asset (picklable): a result or a one-line error."""

    name: str
    version: str
    ok: bool
    result: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class TaskResult:
    asset_id: int
    catalogue: StageOutcome | None
    stages: list[StageOutcome]
    work: AssetWork | None
    # the last part of the asset's task (a runner may return an asset's catalogue and its
    # extractors' outcomes in several results)
    complete: bool = True


def extractor_order(tasks: Any) -> list[str]:
    """The extractors of ``tasks`` in the order the tasks list them, each once."""
    names: list[str] = []
    for t in tasks:
        names += [n for n in t.extractors if n not in names]
    return names


def one_line(exc: BaseException) -> str:
    """An exception as the one-line error recorded on a stage row."""
    from assetdb.errors import AssetdbError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not isinstance(exc, AssetdbError):
        text = f"{type(exc).__name__}: {text}"
    return text[:500]


def work_from_asset(asset: Any, data_dir: Path) -> AssetWork:
    """The work item of a stored asset (an ``assetdb.schema.Asset`` with its segments and
    keyframes loaded): the one place that turns stored rows into what extractors read."""
    from assetdb.paths import fs_path

    segs = []
    for s in sorted(asset.segments, key=lambda g: g.index):
        tb = Fraction(s.time_base_num, s.time_base_den)
        ref = SegmentRef(
            index=s.index, kind=s.kind, time_base=tb, start_ts=s.start_ts, end_ts=s.end_ts,
            start_frame=s.start_frame, end_frame=s.end_frame, rate=s.rate,
            transition=s.transition, id=s.id,
        )  # fmt: skip
        for k in s.keyframes:
            ref.keyframes.append(KeyframeRef(
                segment_index=s.index, ts=k.ts, time_s=float(k.ts * tb), frame=int(k.frame),
                path=Path(data_dir) / k.path, width=k.width, height=k.height,
                quality=k.quality, stats=dict(k.stats or {}),
            ))  # fmt: skip
        segs.append(ref)
    return AssetWork(
        asset_id=asset.id, path=fs_path(asset.path, asset.path_bytes), kind=asset.kind or "",
        data_dir=Path(data_dir), duration_s=asset.duration_s, frame_rate=asset.frame_rate,
        width=asset.width, height=asset.height, rotation=asset.rotation or 0,
        has_audio=any(a.get("decodable", True) for a in (asset.audio_streams or [])),
        audio_streams=list(asset.audio_streams or []), segments=segs,
    )  # fmt: skip
