"""Catalogue a real video for the highlights tests: main's ``indexer.ingest.ingest`` when
it exists, else a hand-built catalogue (PyAV frame grid + PySceneDetect cuts) and the
real "interest" extractor."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

from sqlalchemy import select

from assetdb.db import Store
from assetdb.schema import Asset, Segment


def catalogue(store: Store, path: Path) -> int:
    path = path.resolve()
    import indexer

    ingest = None
    # only this checkout's pipeline (the editable install would leak another checkout's)
    if (Path(indexer.__file__).parent / "ingest.py").is_file():
        from indexer.ingest import ingest
    if ingest is not None:
        ingest(store, [path], workers=1, extractors=["interest"])
        with store.session() as s:
            return s.execute(select(Asset.id).where(Asset.path == str(path))).scalar_one()
    return _hand_catalogue(store, path)


def _hand_catalogue(store: Store, path: Path) -> int:
    import av
    from scenedetect import AdaptiveDetector, detect

    from assetdb.media.grid import frame_grid
    from indexer.extractors.interest import InterestExtractor
    from indexer.work import AssetWork, SegmentRef

    g = frame_grid(path)
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        w, h = v.codec_context.width, v.codec_context.height
        audio = [{"index": a.index, "codec": a.codec_context.name} for a in c.streams.audio]
    scenes = detect(str(path), AdaptiveDetector())
    cuts = sorted({sc[0].frame_num for sc in scenes[1:]}) if scenes else []
    bounds = [0] + [f for f in cuts if 0 < f < g.n] + [g.n]
    segs = []
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        segs.append(
            SegmentRef(
                index=i,
                kind="shot",
                time_base=g.time_base,
                start_ts=int(g.pts[a]),
                end_ts=int(g.pts[b]) if b < g.n else g.end_pts,
                start_frame=a,
                end_frame=b,
                rate=g.rate,
            )
        )
    with store.session() as s:
        asset = Asset(
            path=str(path),
            kind="video",
            size=path.stat().st_size,
            duration_s=float(g.time(g.n) - g.time(0)),
            frame_rate_num=g.rate.numerator,
            frame_rate_den=g.rate.denominator,
            variable_frame_rate=g.variable,
            frame_count=g.n,
            width=w,
            height=h,
            audio_streams=audio,
            state="indexed",
        )
        s.add(asset)
        s.flush()
        for sg in segs:
            s.add(
                Segment(
                    asset_id=asset.id,
                    index=sg.index,
                    kind="shot",
                    time_base_num=sg.time_base.numerator,
                    time_base_den=sg.time_base.denominator,
                    start_ts=sg.start_ts,
                    end_ts=sg.end_ts,
                    start_frame=sg.start_frame,
                    end_frame=sg.end_frame,
                    rate_num=g.rate.numerator,
                    rate_den=g.rate.denominator,
                )
            )
        aid = asset.id
    work = AssetWork(
        asset_id=aid,
        path=path,
        kind="video",
        data_dir=store.settings.data_dir,
        duration_s=float(g.time(g.n) - g.time(0)),
        frame_rate=Fraction(g.rate),
        width=w,
        height=h,
        has_audio=bool(audio),
        segments=segs,
    )
    ex = InterestExtractor()
    (res,) = ex.run([work])
    with store.session() as s:
        ex.write(s, work, res)
    return aid
