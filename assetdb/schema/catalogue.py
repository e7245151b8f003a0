"""The catalogue: assets, their segments (shots / stills / audio windows),
keyframes, per-stage progress, searchable text and stored vectors.

Times are rational: an integer timestamp ``*_ts`` in units of the segment's
``time_base_num/time_base_den`` seconds (the stream's own time base for video,
1/sample_rate for audio), plus frame indices and the nominal frame rate as a
rational for timecodes.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assetdb.schema.base import Base, utcnow

# asset.state values
STATE_PENDING = "pending"
STATE_INDEXED = "indexed"
STATE_FAILED = "failed"
STATE_MISSING = "missing"


class Asset(Base):
    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    # Paths that are not valid UTF-8 are stored with surrogateescape and this raw form.
    path_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    kind: Mapped[str | None] = mapped_column(String(16), index=True)  # video|image|audio
    container: Mapped[str | None] = mapped_column(String(64))
    mime: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    frame_rate_num: Mapped[int | None] = mapped_column(Integer)
    frame_rate_den: Mapped[int | None] = mapped_column(Integer)
    variable_frame_rate: Mapped[bool] = mapped_column(default=False)
    frame_count: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    video_codec: Mapped[str | None] = mapped_column(String(64))
    audio_codec: Mapped[str | None] = mapped_column(String(64))
    # [{"index", "codec", "channels", "sample_rate", "layout", "language"}]
    audio_streams: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    subtitle_streams: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime | None] = mapped_column(index=True)  # from container metadata
    # Source timecode (assetdb.timecode): the first frame's timecode as a count of frames
    # at the nominal rate from 00:00:00:00, whether it counts drop-frame, and the reel or
    # tape name, as read from the tmcd track / MXF / DPX / EXR header.
    start_tc_frames: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tc_drop: Mapped[bool] = mapped_column(default=False, server_default=false())
    reel: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default=STATE_PENDING, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    indexed_at: Mapped[datetime | None] = mapped_column()
    missing_since: Mapped[datetime | None] = mapped_column()

    segments: Mapped[list[Segment]] = relationship(
        back_populates="asset",
        cascade="all, delete-orphan",
        order_by="Segment.index",
        passive_deletes=True,
    )

    @property
    def frame_rate(self) -> Fraction | None:
        if self.frame_rate_num and self.frame_rate_den:
            return Fraction(self.frame_rate_num, self.frame_rate_den)
        return None


class Segment(Base):
    """A shot of a video, the whole of an image, or a time window of an audio file."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("asset_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)  # 0-based order within the asset
    kind: Mapped[str] = mapped_column(String(16))  # shot|still|window
    time_base_num: Mapped[int] = mapped_column(Integer, default=1)
    time_base_den: Mapped[int] = mapped_column(Integer, default=1)
    start_ts: Mapped[int] = mapped_column(BigInteger, default=0)
    end_ts: Mapped[int] = mapped_column(BigInteger, default=0)  # exclusive
    start_frame: Mapped[int] = mapped_column(Integer, default=0)
    end_frame: Mapped[int] = mapped_column(Integer, default=0)  # exclusive
    rate_num: Mapped[int | None] = mapped_column(Integer)
    rate_den: Mapped[int | None] = mapped_column(Integer)
    transition: Mapped[str | None] = mapped_column(String(16))  # cut|fade at its start

    asset: Mapped[Asset] = relationship(back_populates="segments")
    keyframes: Mapped[list[Keyframe]] = relationship(
        back_populates="segment",
        cascade="all, delete-orphan",
        order_by="Keyframe.ts",
        passive_deletes=True,
    )

    @property
    def time_base(self) -> Fraction:
        return Fraction(self.time_base_num, self.time_base_den)

    @property
    def start_s(self) -> float:
        return float(self.start_ts * self.time_base)

    @property
    def end_s(self) -> float:
        return float(self.end_ts * self.time_base)

    @property
    def rate(self) -> Fraction | None:
        if self.rate_num and self.rate_den:
            return Fraction(self.rate_num, self.rate_den)
        return None


class Keyframe(Base):
    __tablename__ = "keyframes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    ts: Mapped[int] = mapped_column(BigInteger, default=0)  # in the segment's time base
    frame: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(Text)  # relative to the data dir
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    quality: Mapped[float] = mapped_column(Float, default=0.0)
    # per-frame image statistics: brightness, contrast, sharpness, colourfulness, blank
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    segment: Mapped[Segment] = relationship(back_populates="keyframes")

    @property
    def time_s(self) -> float:
        return float(self.ts * self.segment.time_base)


class StageRun(Base):
    """The unit of work: one (asset, stage, version). Rows written by a stage and its
    ``done`` state are committed in one transaction, so a crash never leaves half."""

    __tablename__ = "stage_runs"
    __table_args__ = (UniqueConstraint("asset_id", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # done|failed
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TextEntry(Base):
    """Text that free-text search matches, from any source (file name, path,
    container tags, sidecar files, transcripts, OCR, object labels, person names).
    Each source replaces its own rows for an asset."""

    __tablename__ = "texts"
    __table_args__ = (Index("ix_texts_asset_source", "asset_id", "source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(32))
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)


class Vector(Base):
    """An embedding in a named vector space (model id + revision). The FAISS
    indexes are derived from these rows (ids = this primary key) and can always
    be rebuilt from them."""

    __tablename__ = "vectors"
    __table_args__ = (Index("ix_vectors_space_asset", "space", "asset_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    space: Mapped[str] = mapped_column(String(200))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    t_s: Mapped[float | None] = mapped_column(Float)
    dim: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian


class Meta(Base):
    """Key/value facts about this database (e.g. its id, the model it was indexed with)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class Proxy(Base):
    """A browser-playable H.264/AAC MP4 of a video a browser cannot play (the ``proxy``
    stage; ``assetdb.layout.proxy_file`` says where it lives)."""

    __tablename__ = "proxies"

    asset_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(Text)  # relative to the data dir
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    size: Mapped[int] = mapped_column(BigInteger)
    has_audio: Mapped[bool] = mapped_column()
    version: Mapped[str] = mapped_column(String(32))
