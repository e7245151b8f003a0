"""SQL schema. Each feature has its own module; importing this package
registers all of them on ``Base.metadata`` (Alembic autogenerate reads it)."""

from assetdb.schema.base import Base, utcnow
from assetdb.schema.catalogue import (
    STATE_FAILED,
    STATE_INDEXED,
    STATE_MISSING,
    STATE_PENDING,
    Asset,
    Keyframe,
    Meta,
    Proxy,
    Segment,
    StageRun,
    TextEntry,
    Vector,
)
from assetdb.schema.faces import Face, FaceRejection, Person  # noqa: F401
from assetdb.schema.interest import InterestCurve, InterestShot
from assetdb.schema.sound import (  # noqa: F401
    AudioSegment,
    AudioTrack,
    SoundEvent,
    Transcript,
    TranscriptSegment,
)
from assetdb.schema.visual import ObjectDetection, OcrLine, SegmentObject

__all__ = [
    "STATE_FAILED",
    "STATE_INDEXED",
    "STATE_MISSING",
    "STATE_PENDING",
    "Asset",
    "Base",
    "InterestCurve",
    "InterestShot",
    "Keyframe",
    "Meta",
    "ObjectDetection",
    "OcrLine",
    "Proxy",
    "Segment",
    "SegmentObject",
    "StageRun",
    "TextEntry",
    "Vector",
    "utcnow",
]
