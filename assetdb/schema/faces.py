"""Faces and the persons they are clustered into.

A face is one detection in one frame (a keyframe or an extra frame of a shot,
or a still image) with its 128-d dlib ResNet embedding. ``person_id`` is set by
clustering (``assignment = "auto"``) or by a user (``"user"``); user decisions and
``face_rejections`` ("this face is not that person") survive re-clustering.
A person with a name is an anchor: re-clustering keeps it and grows it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from assetdb.schema.base import Base, utcnow

FACE_SPACE = "face:dlib-resnet-v1"
FACE_DIM = 128

ASSIGNED_AUTO = "auto"
ASSIGNED_USER = "user"


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Plain integer, not a foreign key: faces point at persons, so a key back would
    # make a cycle that SQLite batch migrations and deletes have to break by hand.
    representative_face_id: Mapped[int | None] = mapped_column(Integer)
    # Named persons, and persons a user created by splitting or moving faces.
    is_anchor: Mapped[bool] = mapped_column(Boolean, default=False)


class Face(Base):
    __tablename__ = "faces"
    __table_args__ = (Index("ix_faces_asset_frame", "asset_id", "t_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    segment_index: Mapped[int | None] = mapped_column(Integer)
    # Frame time: milliseconds (the same-frame key) and the stream timestamp in the
    # segment's time base.
    t_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    frame_ts: Mapped[int | None] = mapped_column(BigInteger)
    frame_width: Mapped[int] = mapped_column(Integer, default=0)
    frame_height: Mapped[int] = mapped_column(Integer, default=0)
    # Box in pixels of the (rotated) frame.
    box_x: Mapped[int] = mapped_column(Integer, default=0)
    box_y: Mapped[int] = mapped_column(Integer, default=0)
    box_w: Mapped[int] = mapped_column(Integer, default=0)
    box_h: Mapped[int] = mapped_column(Integer, default=0)
    detector: Mapped[str] = mapped_column(String(16), default="hog")
    det_score: Mapped[float] = mapped_column(Float, default=0.0)
    size_px: Mapped[int] = mapped_column(Integer, default=0)
    sharpness: Mapped[float] = mapped_column(Float, default=0.0)
    frontalness: Mapped[float] = mapped_column(Float, default=0.0)
    quality: Mapped[float] = mapped_column(Float, default=0.0)
    # Below the quality floor: stored and assignable, never a clustering seed.
    low_quality: Mapped[bool] = mapped_column(Boolean, default=False)
    frames_seen: Mapped[int] = mapped_column(Integer, default=1)
    crop_path: Mapped[str | None] = mapped_column(Text)  # relative to the data dir
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 LE, FACE_DIM
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    assignment: Mapped[str | None] = mapped_column(String(8))  # auto|user
    confidence: Mapped[float | None] = mapped_column(Float)

    @property
    def t_s(self) -> float:
        return self.t_ms / 1000.0


class FaceRejection(Base):
    """A user said: this face is not this person."""

    __tablename__ = "face_rejections"

    face_id: Mapped[int] = mapped_column(
        ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
