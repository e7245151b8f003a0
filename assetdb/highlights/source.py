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
    """The start timecode and reel of a catalogued asset (read at catalogue time from
    QuickTime tmcd, MXF, DPX and EXR headers; see ``assetdb.media.probe``)."""
    return SourceTimecode(
        start_frames=int(asset.start_tc_frames or 0),
        drop=asset.tc_drop,
        reel=asset.reel or None,
    )
