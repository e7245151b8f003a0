"""Interestingness signals measured from the media itself (extractor "interest").

``interest_curves``: one row per asset with per-second curves (JSON lists, one value
per second from ``t0_s``; ``None`` where a signal has no data, e.g. no audio) and the
state of the audio track (ok / none / failed + error text).
``interest_shots``: one row per segment with the shot's signal summary and its
colour signature (used for diversity when no visual embeddings are stored).
Scores are computed from these rows at query time by ``assetdb.highlights``; they are
not stored, because they also use rows other extractors write later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assetdb.schema.base import Base


class InterestCurve(Base):
    __tablename__ = "interest_curves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), unique=True)
    version: Mapped[str] = mapped_column(String(32))
    t0_s: Mapped[float] = mapped_column(Float, default=0.0)  # time of the first bin
    hop_s: Mapped[float] = mapped_column(Float, default=1.0)
    sample_fps: Mapped[float] = mapped_column(Float, default=4.0)
    # {"motion": [...], "change": [...], "novelty": [...], "sharpness": [...],
    #  "brightness": [...], "contrast": [...], "blank": [...], "rms_db": [...],
    #  "loudness_lufs": [...], "onset": [...]}
    signals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    audio_state: Mapped[str] = mapped_column(String(16), default="none")  # ok|none|failed
    audio_error: Mapped[str | None] = mapped_column(Text)


class InterestShot(Base):
    __tablename__ = "interest_shots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), unique=True
    )
    # mean signals over the shot (same names as the curves) + "novelty" of the
    # shot against the asset's other shots
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # 64-bin RGB histogram (4x4x4), L1-normalised: the diversity signature
    signature: Mapped[list[float]] = mapped_column(JSON, default=list)
