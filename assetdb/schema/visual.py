"""What is seen in a shot: object detections, their per-shot aggregate, and the
lines of text read on screen (OCR).

Times: ``ts`` is in the segment's time base (like ``keyframes.ts``) and ``t_s``
the same instant in seconds, kept for display and for ``texts.start_s``.
Boxes are normalised to the frame (0..1, x1 y1 x2 y2).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assetdb.schema.base import Base


class ObjectDetection(Base):
    """One detected object in one analysed frame of a shot (a keyframe)."""

    __tablename__ = "object_detections"
    __table_args__ = (Index("ix_object_detections_asset_segment", "asset_id", "segment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(BigInteger, default=0)
    t_s: Mapped[float] = mapped_column(Float, default=0.0)
    frame: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    detector: Mapped[str] = mapped_column(String(64))


class SegmentObject(Base):
    """Per shot and label: the best score, the most instances seen in one frame and
    the number of analysed frames it was seen in. Written with the detections; the
    ``--object`` search filter reads only this table (indexed by label)."""

    __tablename__ = "segment_objects"
    __table_args__ = (
        Index("ix_segment_objects_label_segment", "label", "segment_id"),
        Index("ix_segment_objects_asset", "asset_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    max_score: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)  # most instances in one frame
    frames: Mapped[int] = mapped_column(Integer)  # analysed frames it was seen in


class OcrLine(Base):
    """A line of text read in a shot, merged over the frames it was read in: the
    best-confidence reading, the first time it was seen and its box there."""

    __tablename__ = "ocr_lines"
    __table_args__ = (Index("ix_ocr_lines_asset_segment", "asset_id", "segment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(BigInteger, default=0)  # first seen
    t_s: Mapped[float] = mapped_column(Float, default=0.0)
    last_t_s: Mapped[float] = mapped_column(Float, default=0.0)
    text: Mapped[str] = mapped_column(Text)
    # searchable form: CamelCase split, letters/digits separated, dictionary corrections
    norm: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float] = mapped_column(Float)
    frames: Mapped[int] = mapped_column(Integer, default=1)  # frames it was read in
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
