"""Catalogue rows made by hand for extractor tests: an asset with given segment spans
(seconds, on a 1/1000 time base) and the AssetWork an extractor receives for it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from assetdb.schema import Asset, Segment
from indexer.work import AssetWork, SegmentRef

TIME_BASE = Fraction(1, 1000)


def add_asset(
    store,
    path: Path,
    kind: str,
    spans: list[tuple[float, float]],
    *,
    duration_s: float | None = None,
    has_audio: bool = True,
) -> AssetWork:
    """Shots for video, windows otherwise; duration defaults to the last span's end."""
    seg_kind = "shot" if kind == "video" else "window"
    duration = spans[-1][1] if duration_s is None else duration_s
    with store.session() as s:
        asset = Asset(path=str(path), kind=kind, duration_s=duration)
        s.add(asset)
        s.flush()
        refs = []
        for i, (a, b) in enumerate(spans):
            seg = Segment(asset_id=asset.id, index=i, kind=seg_kind, time_base_num=1,
                          time_base_den=1000, start_ts=int(a * 1000), end_ts=int(b * 1000))
            s.add(seg)
            s.flush()
            refs.append(SegmentRef(index=i, kind=seg_kind, time_base=TIME_BASE,
                                   start_ts=seg.start_ts, end_ts=seg.end_ts, id=seg.id))
        aid = asset.id
    return AssetWork(asset_id=aid, path=path, kind=kind, data_dir=store.settings.data_dir,
                     duration_s=duration, has_audio=has_audio, segments=refs)


def ingest_one(store, path: Path, extractors: tuple[str, ...] = ("interest",)) -> int:
    """Catalogue one real file through the real ingest (scan, plan, runner, writer) with
    the given extractors; returns its asset id."""
    from sqlalchemy import select

    from indexer.ingest import ingest
    from indexer.scan import normalise

    report = ingest(store, [path], workers=1, extractors=list(extractors))
    assert not report.failed, report.failed
    with store.session() as s:
        return s.execute(select(Asset.id).where(Asset.path == str(normalise(path)))).scalar_one()
