"""Highlight selection: the most interesting, diverse moments within a duration budget.

Candidates are windows inside shots: one per shot (one per chunk of
``LONG_SHOT_CHUNKS_MAX`` x max clip length inside long shots), of length
min(shot, max clip), placed where the per-second interestingness is highest. A cut
that is not on a shot boundary moves to the quietest 50 ms of audio within
``QUIET_SNAP_S``; every cut then snaps to a real frame boundary of its source.

Selection is greedy MMR: repeatedly take the candidate with the highest
``LAMBDA * value - (1 - LAMBDA) * max_similarity(selected)``, where value is the
window's mean interestingness and similarity is the cosine between shot signatures
(visual embeddings when stored, else the colour-histogram signature); candidates with
similarity >= ``DUPLICATE_SIM`` to a selected one are near-duplicates and never taken.
When no candidate fits the remaining budget, selected clips grow inside their shots
(towards their better neighbouring second), so the reel meets the budget to within
one frame. Ties break chronologically: the same inputs give the same reel.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assetdb.errors import AssetdbError, MediaError, QueryError
from assetdb.highlights.interest import AssetScores, ShotScore, load_asset, score_asset
from assetdb.highlights.reel import Candidate, Reel, crossfades, to_frames
from assetdb.schema import Asset, Segment

log = logging.getLogger(__name__)

LAMBDA = 0.7
DUPLICATE_SIM = 0.985
QUIET_SNAP_S = 0.5
BOUNDARY_SNAP_S = 1.0
LONG_SHOT_CHUNKS_MAX = 3.0
DEFAULT_FADE_S = 0.25
DEFAULT_MAX_CLIP_S = 5.0
MIN_VALUE = 0.05  # windows scoring below this (black, blank, flat) are never cut in
WINDOW_STEP_S = 0.25

def _score_fn(shot: ShotScore):
    """Piecewise-constant per-second score inside the shot as (times, values)."""
    if not shot.seconds:
        return np.array([shot.start_s]), np.array([shot.score])
    return (
        np.array([s.t_s for s in shot.seconds]),
        np.array([s.score for s in shot.seconds]),
    )


def _window_mean(times: np.ndarray, vals: np.ndarray, a: float, b: float, end: float) -> float:
    edges = np.append(times, max(end, times[-1]))
    total = 0.0
    for i in range(vals.size):
        total += vals[i] * max(0.0, min(b, edges[i + 1]) - max(a, edges[i]))
    return total / max(b - a, 1e-9)


def _best_window(shot: ShotScore, lo: float, hi: float, length: float) -> tuple[float, float]:
    times, vals = _score_fn(shot)
    best_a, best_v = lo, -1.0
    n = max(1, math.floor((hi - lo - length) / WINDOW_STEP_S + 1e-9) + 1)
    for i in range(n):
        a = lo + i * WINDOW_STEP_S
        v = _window_mean(times, vals, a, a + length, shot.end_s)
        if v > best_v + 1e-12:
            best_a, best_v = a, v
    return best_a, best_v


class _Quiet:
    """Short-time audio energy of one asset, decoded on demand (cached)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}

    def energy(self, path: str) -> tuple[np.ndarray, np.ndarray] | None:
        if path not in self._cache:
            self._cache[path] = _audio_energy(Path(path))
        return self._cache[path]

    def snap(self, path: str, t: float, lo: float, hi: float) -> float:
        e = self.energy(path)
        if e is None:
            return t
        times, rms = e
        sel = (times >= max(lo, t - QUIET_SNAP_S)) & (times <= min(hi, t + QUIET_SNAP_S))
        if not sel.any():
            return t
        idx = np.flatnonzero(sel)
        # quietest 50 ms; ties -> nearest to the wanted time
        best = idx[np.lexsort((np.abs(times[idx] - t), np.round(rms[idx], 6)))[0]]
        return float(times[best])


def _audio_energy(path: Path, hop_s: float = 0.05) -> tuple[np.ndarray, np.ndarray] | None:
    from assetdb.media.audio import STATUS_NO_AUDIO, STATUS_UNDECODABLE, decode_audio

    sr = 8000
    try:
        dec = decode_audio(path, sr)
    except MediaError as exc:
        log.info("%s: no usable audio for quiet-point snapping: %s", path, exc)
        return None
    if dec.status in (STATUS_NO_AUDIO, STATUS_UNDECODABLE) or not dec.samples.size:
        return None
    y, start = dec.samples, dec.origin_s  # container time of sample 0
    hop = int(sr * hop_s)
    n = y.size // hop
    if n == 0:
        return None
    rms = np.sqrt((y[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    times = (start or 0.0) + np.arange(n) * hop_s
    return times, rms


def _sim(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None or a.shape != b.shape:
        return 0.0
    return float(a @ b)


def _usable(shot: ShotScore, runs: list[list[float]]) -> list[tuple[float, float]]:
    """The parts of a shot outside runs of black / white / flat frames."""
    parts = [(shot.start_s, shot.end_s)]
    for a, b in runs:
        nxt = []
        for lo, hi in parts:
            if b <= lo or a >= hi:
                nxt.append((lo, hi))
                continue
            if a > lo:
                nxt.append((lo, a))
            if b < hi:
                nxt.append((b, hi))
        parts = nxt
    return [(lo, hi) for lo, hi in parts if hi - lo > 1e-3]


def _candidates(
    scores: list[AssetScores], min_clip: float, max_clip: float, quiet: _Quiet
) -> list[Candidate]:
    out: list[Candidate] = []
    for sc in scores:
        runs = sc.curves.get("blank_runs") or []
        for shot in sc.shots:
            for p_lo, p_hi in _usable(shot, runs):
                d = p_hi - p_lo
                n_chunks = max(1, math.floor(d / (LONG_SHOT_CHUNKS_MAX * max_clip)))
                chunk = d / n_chunks
                for j in range(n_chunks):
                    lo = p_lo + j * chunk
                    hi = p_hi if j == n_chunks - 1 else lo + chunk
                    out.append(_window_in(sc, shot, lo, hi, min_clip, max_clip, quiet))
    return out


def _window_in(
    sc: AssetScores,
    shot: ShotScore,
    lo: float,
    hi: float,
    min_clip: float,
    max_clip: float,
    quiet: _Quiet,
) -> Candidate:
    length = min(hi - lo, max_clip)
    a, v = _best_window(shot, lo, hi, length)
    b = a + length
    # snap to the shot (or usable part) boundary when close, else to quiet audio
    if a - lo < BOUNDARY_SNAP_S:
        a, b = lo, lo + length
    elif hi - b < BOUNDARY_SNAP_S:
        a, b = hi - length, hi
    elif sc.audio_state == "ok":
        a2 = quiet.snap(sc.path, a, lo, hi - min(min_clip, length))
        b = min(hi, a2 + length)
        a = a2
    return Candidate(shot, sc, lo, hi, a, b, v if v >= 0 else shot.score)


def _order_key(c: Candidate) -> tuple:
    return (c.shot.asset_id, c.start_s)


def select_clips(
    scores: list[AssetScores],
    duration_s: float,
    *,
    min_clip_s: float = 1.5,
    max_clip_s: float | None = None,
    order: str = "chrono",
    fades: bool = False,
    fade_s: float = DEFAULT_FADE_S,
    crossfade_s: float = 0.0,
    lambda_: float = LAMBDA,
    warnings: list[str] | None = None,
) -> Reel:
    """Pick clips from scored assets (all their shots are eligible)."""
    if order not in ("chrono", "score"):
        raise AssetdbError(f"order must be 'chrono' or 'score', not {order!r}")
    if duration_s <= 0:
        raise AssetdbError("the duration must be positive")
    if max_clip_s is None:
        # a reel of several shots: about four clips, none longer than 5 s
        max_clip_s = min(DEFAULT_MAX_CLIP_S, max(min_clip_s, duration_s / 4.0))
    if min_clip_s > max_clip_s:
        raise AssetdbError("--min-clip must not exceed --max-clip")
    warnings = list(warnings or [])
    scores = [s for s in scores if s.shots]
    if not scores:
        raise AssetdbError("no scored shots to choose from")
    for s in scores:
        if s.audio_state == "none":
            warnings.append(f"{s.path}: no audio track; audio terms left out of its scores")
        elif s.audio_state == "failed":
            warnings.append(f"{s.path}: audio track failed to decode ({s.audio_error}); left out")
    material = sum(sh.end_s - sh.start_s for s in scores for sh in s.shots)
    quiet = _Quiet()
    if material <= duration_s:
        warnings.append(
            f"the material ({material:.2f} s) is not longer than the requested {duration_s:g} s;"
            " returning all of it"
        )
        chosen = [
            Candidate(sh, s, sh.start_s, sh.end_s, sh.start_s, sh.end_s, sh.score)
            for s in scores
            for sh in s.shots
        ]
    else:
        if all(len(s.shots) == 1 for s in scores) and len(scores) == 1:
            warnings.append("the clip is a single shot; clips are windows inside it")
        longest = max(sh.end_s - sh.start_s for s in scores for sh in s.shots)
        min_clip = min(min_clip_s, longest, duration_s)
        chosen = _greedy(
            _candidates(scores, min_clip, max_clip_s, quiet),
            duration_s,
            min_clip,
            max_clip_s,
            lambda_,
        )
    clips = to_frames(chosen, duration_s if material > duration_s else None)
    if order == "chrono":
        pairs = sorted(zip(clips, chosen, strict=True), key=lambda p: (p[0].asset_id, p[0].start_s))
    else:
        pairs = sorted(
            zip(clips, chosen, strict=True),
            key=lambda p: (-p[1].value, p[0].asset_id, p[0].start_s),
        )
    clips = [p[0] for p in pairs]
    if fades:
        for c in clips:
            f = min(fade_s, float(c.duration_s) / 4)
            c.fade_in_s = c.fade_out_s = round(f, 4)
    if crossfade_s > 0 and len(clips) > 1:
        crossfades(clips, crossfade_s, warnings)
    explain = []
    for clip, cand in pairs:
        e = cand.shot.explain()
        e["clip"] = {
            "start_s": float(clip.start_s),
            "end_s": float(clip.end_s),
            "value": round(cand.value, 4),
        }
        e["path"] = cand.scores.path
        e["signature"] = cand.shot.signature_kind
        explain.append(e)
    return Reel(clips=clips, target_s=duration_s, order=order, warnings=warnings, explain=explain)


def _greedy(
    cands: list[Candidate], budget: float, min_clip: float, max_clip: float, lam: float
) -> list[Candidate]:
    remaining = budget
    chosen: list[Candidate] = []
    pool = sorted(cands, key=_order_key)
    while remaining > 1e-6:
        best, best_m = None, -math.inf
        for c in pool:
            if c in chosen or any(_overlaps(c, s) for s in chosen):
                continue
            length = min(c.length, remaining)
            if length < min_clip - 1e-9 or c.value < MIN_VALUE:
                continue
            sim = max((_sim(c.shot.signature, s.shot.signature) for s in chosen), default=0.0)
            if sim >= DUPLICATE_SIM:
                continue
            m = lam * c.value - (1.0 - lam) * max(sim, 0.0)
            if m > best_m + 1e-12:
                best, best_m = c, m
        if best is None:
            break
        if best.length > remaining:
            # trim to the best sub-window of the remaining length
            a, _ = _best_window(best.shot, best.start_s, best.end_s, remaining)
            best = Candidate(best.shot, best.scores, best.lo_s, best.hi_s, a, a + remaining, best.value)
        chosen.append(best)
        remaining -= best.length
    # grow selected clips inside their shots to fill what is left
    for cap in (max_clip, math.inf):
        for c in sorted(chosen, key=lambda c: (-c.value, _order_key(c))):
            if remaining <= 1e-6:
                break
            remaining = _grow(c, remaining, cap, chosen)
    if remaining > 1e-6:
        # last resort: take near-duplicates / short candidates that were skipped
        for c in sorted(cands, key=lambda c: (-c.value, _order_key(c))):
            if remaining <= 1e-6:
                break
            if c in chosen or any(_overlaps(c, s) for s in chosen):
                continue
            take = min(c.length, remaining)
            if take < min(min_clip, remaining) - 1e-9 or c.value < MIN_VALUE:
                continue
            chosen.append(
                Candidate(c.shot, c.scores, c.lo_s, c.hi_s, c.start_s, c.start_s + take, c.value)
            )
            remaining -= take
            remaining = _grow(chosen[-1], remaining, math.inf, chosen)
    return chosen


def _overlaps(a: Candidate, b: Candidate) -> bool:
    return (
        a.shot.asset_id == b.shot.asset_id
        and a.start_s < b.end_s - 1e-9
        and b.start_s < a.end_s - 1e-9
    )


def _grow(c: Candidate, remaining: float, cap: float, chosen: list[Candidate]) -> float:
    """Extend ``c`` inside its shot by up to ``remaining`` s (total length <= cap)."""
    times, vals = _score_fn(c.shot)
    limit_lo, limit_hi = c.lo_s, c.hi_s
    for o in chosen:
        if o is c or o.shot.asset_id != c.shot.asset_id:
            continue
        if o.end_s <= c.start_s + 1e-9:
            limit_lo = max(limit_lo, o.end_s)
        elif o.start_s >= c.end_s - 1e-9:
            limit_hi = min(limit_hi, o.start_s)
    while remaining > 1e-6 and c.length < cap - 1e-9:
        room_l, room_r = c.start_s - limit_lo, limit_hi - c.end_s
        if room_l <= 1e-9 and room_r <= 1e-9:
            break
        step = min(WINDOW_STEP_S, remaining, cap - c.length)
        vl = (
            _window_mean(times, vals, c.start_s - step, c.start_s, c.shot.end_s)
            if room_l > 1e-9
            else -1
        )
        vr = (
            _window_mean(times, vals, c.end_s, c.end_s + step, c.shot.end_s)
            if room_r > 1e-9
            else -1
        )
        if vr >= vl:
            d = min(step, room_r)
            c.end_s += d
        else:
            d = min(step, room_l)
            c.start_s -= d
        remaining -= d
    return remaining


def highlights_for_asset(
    session: Session, asset_ref: int | str, duration_s: float, **kw: Any
) -> Reel:
    asset = load_asset(session, asset_ref)
    if asset.kind != "video":
        raise AssetdbError(
            f"{asset.path} is {'an' if (asset.kind or '').startswith(('a', 'i')) else 'a'} "
            f"{asset.kind or 'unknown'} asset; highlights are cut from video only"
        )
    return select_clips([score_asset(session, asset)], duration_s, **kw)


# Dense sources rank every shot for any query, so "the shots a search matches" are those
# whose fused relevance (search's calibrated, absolute score) reaches this; without it a
# reel for "cars on a road" opened on Chaplin.
QUERY_CUTOFF = 0.1  # search's DEFAULT_CUTOFF


def highlights_for_query(
    store: Any, query: str, duration_s: float, *, limit: int = 200,
    cutoff: float = QUERY_CUTOFF, **kw: Any
) -> Reel:
    """A reel across the archive from the shots a search matches."""
    from assetdb.search import SearchRequest, search

    hits = search(store, SearchRequest(query=query, kind="video", limit=limit, cutoff=cutoff,
                                         all_shots=True))
    seg_ids = {h.segment_id for h in hits}
    asset_ids: set[int] = set()
    if not seg_ids and not asset_ids:
        raise QueryError(f"no shots match {query!r}; nothing to cut a reel from")
    warnings: list[str] = []
    with store.session() as session:
        seg_assets = _assets_of(seg_ids, session) if seg_ids else set()
        asset_ids |= seg_assets
        scored: list[AssetScores] = []
        skipped_images = 0
        for aid in sorted(asset_ids):
            asset = session.get(Asset, aid)
            if asset is None:
                continue
            if asset.kind != "video":
                skipped_images += 1
                continue
            try:
                sc = score_asset(session, asset)
            except AssetdbError as exc:
                warnings.append(str(exc))
                continue
            if aid in seg_assets:
                sc.shots = [s for s in sc.shots if s.segment_id in seg_ids]
            scored.append(sc)
        if skipped_images:
            warnings.append(f"{skipped_images} matching image/audio asset(s) excluded (video only)")
        if not any(s.shots for s in scored):
            raise QueryError(f"no video shots with interest scores match {query!r}")
        return select_clips(scored, duration_s, warnings=warnings, **kw)


def _assets_of(seg_ids: set[int], session: Session) -> set[int]:
    return set(session.execute(select(Segment.asset_id).where(Segment.id.in_(seg_ids))).scalars())
