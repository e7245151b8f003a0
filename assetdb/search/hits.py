"""Search hits: what a hit says about its segment (path, times, timecodes, thumbnail),
and the request's per-segment filters (kind, path glob, dates, duration)."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import Float, cast, func, literal, or_, select

from assetdb.schema import Asset, Keyframe, Segment
from assetdb.search.request import SearchRequest
from assetdb.search.sources import chunks
from assetdb.timecode import range_timecodes


@dataclass
class SourceScore:
    rank: int  # 1-based, after filtering
    score: float  # the source's own score (cosine, text relevance, bm25 under rrf ...)
    contribution: float  # weight x relevance (calibrated); weight / (RRF_K + rank) (rrf)
    relevance: float | None = None  # the calibrated relevance in [0, 1]


@dataclass
class SearchHit:
    asset_id: int
    path: str
    kind: str
    segment_id: int
    segment_index: int
    start_s: float
    end_s: float
    tc_in: str | None  # see assetdb.timecode: in inclusive, out exclusive; None for stills
    tc_out: str | None
    score: float
    thumbnail: str | None
    sources: dict[str, SourceScore] = field(default_factory=dict)
    snippet: str | None = None
    # grouped results (the default): other matching shots of the same file; None when
    # every shot is listed (all_shots)
    other_shots: int | None = None
    # below the cutoff: returned only when nothing reaches it (SearchRequest.weak)
    weak: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)



@dataclass(slots=True)
class SegInfo:
    id: int
    asset_id: int
    index: int
    path: str
    kind: str
    created_at: datetime | None
    start_s: float
    end_s: float
    # filled by describe_segments, for the hits shown only
    tc_in: str | None = None
    tc_out: str | None = None
    keyframes: list[tuple[float, str]] = field(default_factory=list)  # (time s, absolute path)


def segment_facts(store, ids: list[int]) -> dict[int, SegInfo]:
    """What the filters and the grouping need of each candidate segment (asset, path,
    kind, creation time, start and end): plain columns, no timecodes or keyframes. A
    search has thousands of candidates and shows a few of them (describe_segments)."""
    out: dict[int, SegInfo] = {}
    with store.session() as s:
        for chunk in chunks(sorted(set(ids))):
            for sid, aid, index, a, b, num, den, path, kind, created in s.execute(
                select(Segment.id, Segment.asset_id, Segment.index, Segment.start_ts,
                       Segment.end_ts, Segment.time_base_num, Segment.time_base_den,
                       Asset.path, Asset.kind, Asset.created_at)
                .join(Asset, Asset.id == Segment.asset_id)
                .where(Segment.id.in_(chunk))
            ):
                # int / int is correctly rounded: the same float as Segment.start_s
                out[sid] = SegInfo(sid, aid, index, path, kind or "", created,
                                   (a * num) / den, (b * num) / den)
    return out


def describe_segments(store, infos: list[SegInfo]) -> None:
    """Fill in the timecodes and keyframes of the segments a search shows."""
    data_dir = Path(store.settings.data_dir)
    by_id = {i.id: i for i in infos}
    with store.session() as s:
        for chunk in chunks(sorted(by_id)):
            rows = s.execute(
                select(Segment, Asset.frame_rate_num, Asset.frame_rate_den,
                       Asset.start_tc_frames, Asset.tc_drop)
                .join(Asset, Asset.id == Segment.asset_id)
                .where(Segment.id.in_(chunk))
            ).all()
            kfs: dict[int, list[tuple[float, str]]] = defaultdict(list)
            for sid, ts, p, num, den in s.execute(
                select(Keyframe.segment_id, Keyframe.ts, Keyframe.path, Segment.time_base_num,
                       Segment.time_base_den)
                .join(Segment, Segment.id == Keyframe.segment_id)
                .where(Keyframe.segment_id.in_(chunk))
                .order_by(Keyframe.segment_id, Keyframe.ts)
            ):
                kfs[sid].append((float(ts * Fraction(num, den)), str(data_dir / p)))
            for seg, rnum, rden, tc0, tc_drop in rows:
                rate = seg.rate or (Fraction(rnum, rden) if rnum and rden else None)
                info = by_id[seg.id]
                info.tc_in, info.tc_out = range_timecodes(
                    seg.start_ts * seg.time_base, seg.end_ts * seg.time_base, rate, seg.kind,
                    start_tc_frames=tc0 or 0, drop=bool(tc_drop),
                )
                info.keyframes = kfs.get(seg.id, [])


def segment_info(store, ids: list[int]) -> dict[int, SegInfo]:
    """Everything a hit says about each of ``ids`` (facts, timecodes, keyframes)."""
    out = segment_facts(store, ids)
    describe_segments(store, list(out.values()))
    return out


def passes(info: SegInfo, req: SearchRequest) -> bool:
    if req.kind and info.kind != req.kind:
        return False
    if req.path and not fnmatch.fnmatchcase(info.path, req.path) and not fnmatch.fnmatchcase(
        Path(info.path).name, req.path
    ):
        return False
    if req.after and (info.created_at is None or info.created_at < req.after):
        return False
    if req.before and (info.created_at is None or info.created_at >= req.before):
        return False
    dur = info.end_s - info.start_s
    if req.min_duration is not None and dur < req.min_duration:
        return False
    return not (req.max_duration is not None and dur > req.max_duration)


def _like_pattern(glob: str) -> str:
    """A glob with only ``*`` and ``?`` as the equivalent LIKE pattern (escape ``\\``)."""
    out = []
    for ch in glob:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def segment_conditions(req: SearchRequest, dialect: str) -> list | None:
    """:func:`passes` as SQL conditions over ``segments`` joined to ``assets``, true of
    exactly the same segments; None when a filter has no exact SQL form here: a path
    glob with a ``[set]`` (fnmatch's sets differ from GLOB's and LIKE has none), or a
    time zone on after/before (the stored times are naive; passes() refuses to
    compare them)."""
    conds: list = []
    if req.kind:
        conds.append(Asset.kind == req.kind)
    if req.path:
        if "[" in req.path:
            return None
        # the name: what follows the last "/" (asset paths are normalised file paths, so
        # this is Path(path).name)
        if dialect == "sqlite":
            name = func.substr(Asset.path, func.length(
                func.rtrim(Asset.path, func.replace(Asset.path, "/", ""))) + 1)
            # without sets GLOB is fnmatchcase: "*", "?", case-sensitive, no escapes
            conds.append(or_(Asset.path.op("GLOB")(req.path), name.op("GLOB")(req.path)))
        else:
            name = func.regexp_replace(Asset.path, "^.*/", "")
            like = _like_pattern(req.path)
            conds.append(or_(Asset.path.like(like, escape="\\"),
                             name.like(like, escape="\\")))
    for when in (req.after, req.before):
        if when is not None and (not isinstance(when, datetime) or when.tzinfo is not None):
            return None
    if req.after:
        conds.append(Asset.created_at.is_not(None))
        conds.append(Asset.created_at >= req.after)
    if req.before:
        conds.append(Asset.created_at.is_not(None))
        conds.append(Asset.created_at < req.before)
    if req.min_duration is not None or req.max_duration is not None:
        # the same float as SegInfo's: start_ts * num and end_ts * num are exact doubles
        # (below 2**53), and IEEE division and subtraction round as Python's do
        def secs(ts):
            return cast(ts * Segment.time_base_num, Float) / Segment.time_base_den

        dur = secs(Segment.end_ts) - secs(Segment.start_ts)
        if req.min_duration is not None:
            conds.append(dur >= literal(float(req.min_duration), Float))
        if req.max_duration is not None:
            conds.append(dur <= literal(float(req.max_duration), Float))
    return conds


def thumbnail(info: SegInfo, t: float | None) -> str | None:
    if not info.keyframes:
        return None
    if t is None:
        return info.keyframes[0][1]
    return min(info.keyframes, key=lambda k: abs(k[0] - t))[1]
