"""The selects bin's exports: shots collected from searches as an EDL, an OTIO
timeline or a CSV shot list (in order, each source range [in, out))."""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path
from typing import Any

from assetdb.errors import QueryError

FORMATS = {"edl": "text/plain", "otio": "application/json", "csv": "text/csv"}
DEFAULT_RATE = Fraction(25)


def _tc(seconds: float, rate: Fraction) -> str:
    import opentimelineio as otio

    return otio.opentime.to_timecode(
        otio.opentime.RationalTime(round(seconds * float(rate)), float(rate)), float(rate))


def timeline(items: list[dict[str, Any]], assets: dict[int, dict[str, Any]],
             name: str = "assetdb selects"):
    """An OTIO timeline with one video track of the selects."""
    import opentimelineio as otio

    tl = otio.schema.Timeline(name=name)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    for i, it in enumerate(items, 1):
        a = assets[it["asset_id"]]
        rate = float(a["rate"] or DEFAULT_RATE)
        start = round(it["start_s"] * rate)
        dur = max(1, round(it["end_s"] * rate) - start)
        clip = otio.schema.Clip(
            name=it.get("name") or f"{Path(a['path']).name} #{i}",
            media_reference=otio.schema.ExternalReference(target_url=a["path"]),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(dur, rate)),
        )
        clip.metadata["assetdb"] = {"asset_id": it["asset_id"],
                                    "segment_id": it.get("segment_id")}
        track.append(clip)
    return tl


def export(items: list[dict[str, Any]], assets: dict[int, dict[str, Any]], fmt: str) -> str:
    if fmt not in FORMATS:
        raise QueryError(f"unknown shot-list format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not items:
        raise QueryError("the selects bin is empty")
    for it in items:
        if it["asset_id"] not in assets:
            raise QueryError(f"no asset {it['asset_id']}")
        if not it["end_s"] > it["start_s"] >= 0:
            raise QueryError("each select needs 0 <= in < out")
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["#", "file", "path", "asset_id", "segment_id", "tc_in", "tc_out",
                    "start_s", "end_s", "duration_s", "note"])
        for i, it in enumerate(items, 1):
            a = assets[it["asset_id"]]
            rate = a["rate"] or DEFAULT_RATE
            w.writerow([i, Path(a["path"]).name, a["path"], it["asset_id"],
                        it.get("segment_id") or "", _tc(it["start_s"], rate),
                        _tc(it["end_s"], rate), f"{it['start_s']:.3f}", f"{it['end_s']:.3f}",
                        f"{it['end_s'] - it['start_s']:.3f}", it.get("note") or ""])
        return buf.getvalue()
    import opentimelineio as otio

    tl = timeline(items, assets)
    if fmt == "otio":
        return otio.adapters.write_to_string(tl, adapter_name="otio_json")
    return otio.adapters.write_to_string(tl, adapter_name="cmx_3600")
