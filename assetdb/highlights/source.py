"""The start timecode and tape/reel name of a catalogued source, as exports need them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SourceTimecode:
    start_frames: int = 0  # frames at the nominal rate from 00:00:00:00
    drop: bool | None = None
    reel: str | None = None


def source_timecode(asset: Any) -> SourceTimecode:
    """The start timecode and reel of a catalogued asset. The one place that reads
    those columns: they arrive with migration 0010 and read as zero/None before it."""
    return SourceTimecode(
        start_frames=int(getattr(asset, "start_tc_frames", None) or 0),
        drop=getattr(asset, "tc_drop", None),
        reel=getattr(asset, "reel", None) or None,
    )
