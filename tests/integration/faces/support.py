"""Cataloguing by hand for the faces tests: an Asset and its segments written
directly, keyframe JPEGs decoded with PyAV and shots cut with PySceneDetect,
until the project's catalogue stage (indexer.catalogue.catalogue_asset) is used."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from assetdb.db import Store
from assetdb.schema import Asset, Segment
from indexer.work import AssetWork, KeyframeRef, SegmentRef


def catalogue_image(store: Store, path: Path) -> AssetWork:
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
    with store.session() as s:
        a = Asset(path=str(path), kind="image", width=w, height=h, state="indexed")
        s.add(a)
        s.flush()
        s.add(Segment(asset_id=a.id, index=0, kind="still", start_ts=0, end_ts=1))
        aid = a.id
    seg = SegmentRef(index=0, kind="still", time_base=Fraction(1), start_ts=0, end_ts=1)
    return AssetWork(
        asset_id=aid,
        path=path,
        kind="image",
        data_dir=store.settings.data_dir,
        width=w,
        height=h,
        segments=[seg],
    )


def catalogue_video(store: Store, path: Path, max_shots: int = 40) -> AssetWork:
    """Shots by PySceneDetect's ContentDetector, one keyframe per shot (middle)."""
    import av
    from PIL import Image
    from scenedetect import ContentDetector, detect

    scenes = detect(str(path), ContentDetector())
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        rate = Fraction(st.average_rate)
        dur = float(st.duration * st.time_base) if st.duration else c.duration / 1e6
        tb = Fraction(st.time_base)
        w, h = st.width, st.height
    bounds = [(a.seconds, b.seconds) for a, b in scenes] or [(0.0, dur)]
    bounds = bounds[:max_shots]
    segs: list[SegmentRef] = []
    kdir = store.settings.keyframe_dir
    kdir.mkdir(parents=True, exist_ok=True)
    with store.session() as s:
        a = Asset(
            path=str(path),
            kind="video",
            width=w,
            height=h,
            duration_s=dur,
            frame_rate_num=rate.numerator,
            frame_rate_den=rate.denominator,
            state="indexed",
        )
        s.add(a)
        s.flush()
        aid = a.id
        for i, (t0, t1) in enumerate(bounds):
            s.add(
                Segment(
                    asset_id=aid,
                    index=i,
                    kind="shot",
                    time_base_num=tb.numerator,
                    time_base_den=tb.denominator,
                    start_ts=int(t0 / tb),
                    end_ts=int(t1 / tb),
                )
            )
            segs.append(
                SegmentRef(
                    index=i,
                    kind="shot",
                    time_base=tb,
                    start_ts=int(t0 / tb),
                    end_ts=int(t1 / tb),
                    rate=rate,
                )
            )
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        # PySceneDetect counts from the first frame; seek in stream time.
        off = st.start_time or 0
        for seg in segs:
            mid = (seg.start_s + seg.end_s) / 2
            c.seek(int(mid / tb) + off, stream=st, backward=True)
            for fr in c.decode(st):
                if fr.pts is not None and float((fr.pts - off) * tb) + 1e-3 >= mid:
                    break
            p = kdir / f"{aid}_{seg.index}.jpg"
            img = Image.fromarray(fr.to_ndarray(format="rgb24"))
            img.save(p, quality=90)
            seg.keyframes.append(
                KeyframeRef(
                    segment_index=seg.index,
                    ts=int(fr.pts - off),
                    time_s=float((fr.pts - off) * tb),
                    frame=0,
                    path=p,
                    width=img.width,
                    height=img.height,
                )
            )
    return AssetWork(
        asset_id=aid,
        path=path,
        kind="video",
        data_dir=store.settings.data_dir,
        duration_s=dur,
        frame_rate=rate,
        width=w,
        height=h,
        segments=segs,
    )


def ingest_faces(store: Store, works: list[AssetWork], extractor=None):
    from indexer.extractors.faces import FacesExtractor
    from indexer.writer import store_result

    ex = extractor or FacesExtractor()
    results = []
    for w in works:
        r = ex.run([w])[0]
        store_result(store, w, ex, r)
        results.append(r)
    return results


def labels_array(values: list) -> np.ndarray:
    return np.array([-1 if v is None else int(v) for v in values], np.int64)
