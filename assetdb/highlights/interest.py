"""Default label-free interestingness score, per shot and per second.

Inputs are the signals the "interest" extractor measured from the media
(``interest_curves`` / ``interest_shots``) plus, only when their tables exist and hold
rows for the asset, what other extractors stored: faces (``faces``), speech
(``texts`` source "transcript"), objects (``texts`` source "objects"), visual
embeddings (``vectors`` space "concepts:..." or "clip:...") audio features
(``vectors`` space "audio:mfcc180@1") and sound events (``sound_events``).

Formula (every term is reported by ``explain``)::

    components c_i in [0, 1], squashed on fixed (absolute) scales so scores compare
    across assets:
      motion          = 1 - exp(-motion / 0.03)          mean abs luma diff, 4 fps
      change          = 1 - exp(-change / 0.05)          RGB-histogram change inside the shot
      novelty         = min(1, novelty / 0.5)            histogram distance to the rest of the clip
      loudness        = clip((LUFS + 50) / 35, 0, 1)     -50 LUFS -> 0, -15 LUFS -> 1
      onset           = 1 - exp(-flux / 0.2)             spectral-flux onset activity
      speech          = fraction of the shot covered by transcript segments
      faces           = 0.5 min(1, count / 3) + 0.5 min(1, largest face size)
      objects         = min(1, distinct object labels / 5)
      visual_novelty  = min(1, (1 - cos(shot embedding, mean of the other shots)) / 0.5)
      audio_novelty   = same on the audio:mfcc180@1 vectors
      laughter        = peak YAMNet score in the shot of Laughter, Baby laughter, Giggle,
                        Snicker, Belly laugh, Chuckle (table ``sound_events``)
      applause        = same for Applause, Clapping
      cheering        = same for Cheering, Whoop
      crowd           = same for Crowd, Hubbub (speech babble)
      music_onset     = largest rise of the Music score within 2 s (5 patches), the
                        previous shot's last value included: music starting at a cut
    weights w: motion .20, change .05, novelty .10, loudness .15, onset .10,
               speech .10, faces .10, objects .05, visual_novelty .10, audio_novelty .05,
               laughter .10, applause .10, cheering .05, crowd .05, music_onset .05
               (audience reactions weigh like speech or faces: an editor cuts to them;
               crowd and music starts are weaker hints)
    base   = sum(w_i c_i) / sum(w_i)     over the components available for this asset
    gate   = (1 - blank) * (0.5 + 0.5 sharp) * exposure
             blank    = fraction of black / white / flat samples
             sharp    = clip((log10(1 + Laplacian variance) - 1) / 1.5, 0, 1)
             exposure = 1 - clip((|brightness - 0.5| - 0.3) / 0.2, 0, 1)
    length = 0.5 + 0.5 min(1, shot duration / 2 s)   (very short shots count less)
    score  = gate * base * length

Per second inside a shot the same formula runs on that second's curves (speech by
overlap with that second; faces, objects and embedding novelty are the shot's).
Missing components (no audio track, no faces table, ...) drop out of both sums, so
any subset of features works.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from assetdb.errors import NotFound
from assetdb.highlights.source import SourceTimecode, source_timecode
from assetdb.schema import Asset, Segment, TextEntry, Vector
from assetdb.schema.interest import InterestCurve, InterestShot

log = logging.getLogger(__name__)

WEIGHTS: dict[str, float] = {
    "motion": 0.20,
    "change": 0.05,
    "novelty": 0.10,
    "loudness": 0.15,
    "onset": 0.10,
    "speech": 0.10,
    "faces": 0.10,
    "objects": 0.05,
    "visual_novelty": 0.10,
    "audio_novelty": 0.05,
    "laughter": 0.10,
    "applause": 0.10,
    "cheering": 0.05,
    "crowd": 0.05,
    "music_onset": 0.05,
}
# AudioSet class indexes (YAMNet output order) behind each sound-event component
SOUND_COMPONENTS: dict[str, tuple[int, ...]] = {
    "laughter": (13, 14, 15, 16, 17, 18),
    "applause": (62, 58),
    "cheering": (61, 8),
    "crowd": (64, 65),
}
MUSIC_CLASS = 132
MUSIC_RISE_PATCHES = 5  # 0.48 s apart: a rise within ~2 s
VISUAL_SPACE_PREFIXES = ("concepts:", "clip:")
AUDIO_SPACE = "audio:mfcc180@1"
SHORT_SHOT_S = 2.0


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def squash(name: str, raw: float | None) -> float | None:
    """Map one raw signal onto [0, 1] (the fixed scales documented above)."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if name == "motion":
        return 1.0 - math.exp(-raw / 0.03)
    if name == "change":
        return 1.0 - math.exp(-raw / 0.05)
    if name == "novelty":
        return _clip01(raw / 0.5)
    if name == "loudness":
        return _clip01((raw + 50.0) / 35.0)
    if name == "onset":
        return 1.0 - math.exp(-raw / 0.2)
    return _clip01(raw)


def gate_terms(
    blank: float | None, sharpness: float | None, brightness: float | None
) -> dict[str, float]:
    blank = 0.0 if blank is None else blank
    sharp = _clip01(((sharpness or 0.0) - 1.0) / 1.5)
    b = 0.5 if brightness is None else brightness
    exposure = 1.0 - _clip01((abs(b - 0.5) - 0.3) / 0.2)
    gate = (1.0 - blank) * (0.5 + 0.5 * sharp) * exposure
    return {"blank": blank, "sharp": sharp, "exposure": exposure, "gate": gate}


def combine(components: dict[str, float | None], gate: float, length: float) -> tuple[float, float]:
    """(score, base) from components; None components drop out."""
    num = den = 0.0
    for name, w in WEIGHTS.items():
        c = components.get(name)
        if c is None:
            continue
        num += w * c
        den += w
    base = num / den if den > 0 else 0.0
    return gate * base * length, base


@dataclass
class SecondScore:
    t_s: float
    score: float


@dataclass
class ShotScore:
    asset_id: int
    segment_id: int
    index: int
    start_s: float
    end_s: float
    score: float
    base: float
    length: float
    gate: dict[str, float]
    components: dict[str, float | None]
    raw: dict[str, Any]
    seconds: list[SecondScore] = field(default_factory=list)
    signature: np.ndarray | None = None  # diversity vector (embedding or histogram)
    signature_kind: str = "histogram"

    def explain(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "index": self.index,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "score": round(self.score, 4),
            "base": round(self.base, 4),
            "length": round(self.length, 4),
            "gate": {k: round(v, 4) for k, v in self.gate.items()},
            "components": {
                k: (None if v is None else round(v, 4)) for k, v in self.components.items()
            },
            "weights": {k: w for k, w in WEIGHTS.items() if self.components.get(k) is not None},
            "raw": self.raw,
        }


@dataclass
class AssetScores:
    asset_id: int
    path: str
    duration_s: float
    audio_state: str
    audio_error: str | None
    features: list[str]  # optional feature sources that contributed
    shots: list[ShotScore]
    hop_s: float
    t0_s: float
    curves: dict[str, list[float | None]]
    timecode: SourceTimecode = field(default_factory=SourceTimecode)

    def second_scores(self) -> list[SecondScore]:
        return [s for shot in self.shots for s in shot.seconds]


def _has_table(session: Session, name: str) -> bool:
    return inspect(session.connection()).has_table(name)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _speech_intervals(
    session: Session, asset_id: int
) -> list[tuple[float | None, float | None, int | None]]:
    rows = session.execute(
        select(TextEntry.start_s, TextEntry.end_s, TextEntry.segment_id).where(
            TextEntry.asset_id == asset_id, TextEntry.source == "transcript"
        )
    ).all()
    return [tuple(r) for r in rows]


def _objects_per_segment(session: Session, asset_id: int) -> dict[int, int]:
    rows = session.execute(
        select(TextEntry.segment_id, TextEntry.text).where(
            TextEntry.asset_id == asset_id, TextEntry.source == "objects"
        )
    ).all()
    labels: dict[int, set[str]] = {}
    for sid, text in rows:
        if sid is None:
            continue
        for tok in text.replace(",", " ").split():
            labels.setdefault(sid, set()).add(tok.lower())
    return {sid: len(v) for sid, v in labels.items()}


def _faces_per_segment(
    session: Session, segment_ids: list[int], frame_h: int | None
) -> dict[int, tuple[int, float]]:
    """segment id -> (face count, largest face height as a fraction of the frame height)."""
    if not segment_ids or not _has_table(session, "faces"):
        return {}
    from assetdb.schema.faces import Face

    out: dict[int, tuple[int, float]] = {}
    rows = session.execute(
        select(Face.segment_id, Face.box_h, Face.frame_height).where(Face.segment_id.in_(segment_ids))
    )
    for sid, box_h, fh in rows:
        height = fh or frame_h or 0
        size = float(box_h) / height if height and box_h else 0.0
        n, best = out.get(sid, (0, 0.0))
        out[sid] = (n + 1, max(best, min(size, 1.0)))
    return out


def _sound_components(session: Session, segs: list[Segment]) -> dict[int, dict[str, float]]:
    """segment id -> the sound-event components (empty when the asset has no sound
    events: the components then drop out)."""
    if not segs or not _has_table(session, "sound_events"):
        return {}
    from assetdb.schema import SoundEvent

    wanted = sorted({c for cs in SOUND_COMPONENTS.values() for c in cs} | {MUSIC_CLASS})
    asset_id = segs[0].asset_id
    if session.execute(select(SoundEvent.id).where(SoundEvent.asset_id == asset_id).limit(1)
                       ).first() is None:
        return {}
    rows = session.execute(
        select(SoundEvent.segment_id, SoundEvent.class_index, SoundEvent.max_score,
               SoundEvent.curve).where(SoundEvent.asset_id == asset_id,
                                       SoundEvent.class_index.in_(wanted))
    ).all()
    peak: dict[tuple[int, int], float] = {}
    music: dict[int, list[float]] = {}
    for sid, c, score, curve in rows:
        peak[(sid, c)] = max(peak.get((sid, c), 0.0), float(score))
        if c == MUSIC_CLASS:
            music[sid] = [float(x) for x in curve or []]
    out: dict[int, dict[str, float]] = {}
    prev_last = 0.0
    for seg in segs:
        comps = {name: max((peak.get((seg.id, c), 0.0) for c in cs), default=0.0)
                 for name, cs in SOUND_COMPONENTS.items()}
        m = [prev_last, *music.get(seg.id, [])]
        rise = 0.0
        for i in range(1, len(m)):
            rise = max(rise, m[i] - min(m[max(0, i - MUSIC_RISE_PATCHES) : i]))
        comps["music_onset"] = _clip01(rise)
        prev_last = m[-1] if len(m) > 1 else 0.0
        out[seg.id] = comps
    return out


def _mean_vectors(
    session: Session, asset_id: int, spaces: Iterable[str]
) -> tuple[str | None, dict[int, np.ndarray]]:
    for space in spaces:
        rows = session.execute(
            select(Vector.segment_id, Vector.data).where(
                Vector.asset_id == asset_id, Vector.space == space, Vector.segment_id.is_not(None)
            )
        ).all()
        if not rows:
            continue
        acc: dict[int, list[np.ndarray]] = {}
        for sid, data in rows:
            acc.setdefault(sid, []).append(np.frombuffer(data, dtype="<f4"))
        return space, {sid: np.mean(v, axis=0) for sid, v in acc.items()}
    return None, {}


def _visual_spaces(session: Session, asset_id: int) -> list[str]:
    spaces = (
        session.execute(select(Vector.space).where(Vector.asset_id == asset_id).distinct())
        .scalars()
        .all()
    )
    # concepts first (the default model), then clip; sorted for determinism
    return sorted(
        (s for s in spaces if s.startswith(VISUAL_SPACE_PREFIXES)),
        key=lambda s: (not s.startswith("concepts:"), s),
    )


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _embedding_novelty(vecs: dict[int, np.ndarray]) -> dict[int, float]:
    if len(vecs) < 2:
        return {sid: 0.0 for sid in vecs}
    units = {sid: _unit(v.astype(np.float64)) for sid, v in vecs.items()}
    total = sum(units.values())
    out = {}
    for sid, u in units.items():
        rest = _unit(total - u)
        out[sid] = _clip01((1.0 - float(u @ rest)) / 0.5)
    return out


def load_asset(session: Session, asset_ref: int | str) -> Asset:
    """An asset by id or path; a clear error telling to ingest it when it is not there."""
    from assetdb.catalogue import resolve_asset

    try:
        return resolve_asset(session, asset_ref)
    except NotFound as exc:
        raise NotFound(f"{exc}; ingest it first (`assetdb ingest {asset_ref}`)") from None


def media_path(asset: Asset) -> str:
    from assetdb.paths import fs_path

    return str(fs_path(asset.path, asset.path_bytes))


def score_asset(session: Session, asset: Asset) -> AssetScores:
    """Score every shot of one asset (and every second inside each shot)."""
    curve = session.execute(
        select(InterestCurve).where(InterestCurve.asset_id == asset.id)
    ).scalar_one_or_none()
    if curve is None:
        raise NotFound(
            f"asset {asset.id} ({asset.path}) has no interest signals; run the 'interest' "
            "extractor (`assetdb ingest --extractors interest`)"
        )
    segs = (
        session.execute(select(Segment).where(Segment.asset_id == asset.id).order_by(Segment.index))
        .scalars()
        .all()
    )
    shot_rows = {
        r.segment_id: r
        for r in session.execute(
            select(InterestShot).where(InterestShot.asset_id == asset.id)
        ).scalars()
    }
    seg_ids = [s.id for s in segs]
    features: list[str] = []

    speech = _speech_intervals(session, asset.id)
    if speech:
        features.append("speech")
    objects = _objects_per_segment(session, asset.id)
    if objects:
        features.append("objects")
    faces = _faces_per_segment(session, seg_ids, asset.height)
    if faces:
        features.append("faces")
    vspace, vvecs = _mean_vectors(session, asset.id, _visual_spaces(session, asset.id))
    if vspace:
        features.append(vspace)
    aspace, avecs = _mean_vectors(session, asset.id, [AUDIO_SPACE])
    if aspace:
        features.append(aspace)
    sounds = _sound_components(session, list(segs))
    if sounds:
        features.append("sound_events")
    vnov = _embedding_novelty(vvecs)
    anov = _embedding_novelty(avecs)
    has_audio = curve.audio_state == "ok"
    sig = curve.signals

    def curve_at(name: str, k: int) -> float | None:
        v = sig.get(name) or []
        return v[k] if 0 <= k < len(v) else None

    def speech_frac(t0: float, t1: float, sid: int) -> float | None:
        if not speech:
            return None
        covered = 0.0
        for s0, s1, ssid in speech:
            if s0 is not None and s1 is not None:
                covered += _overlap(t0, t1, s0, s1)
            elif ssid == sid:
                return 1.0
        return _clip01(covered / max(t1 - t0, 1e-6))

    shots: list[ShotScore] = []
    for seg in segs:
        row = shot_rows.get(seg.id)
        if row is None:
            continue
        s = row.summary
        t0, t1 = seg.start_s, seg.end_s
        extra: dict[str, float | None] = {
            "speech": speech_frac(t0, t1, seg.id),
            "faces": None,
            "objects": None,
            "visual_novelty": vnov.get(seg.id) if vspace else None,
            "audio_novelty": anov.get(seg.id) if aspace else None,
        }
        for name in (*SOUND_COMPONENTS, "music_onset"):
            extra[name] = sounds[seg.id][name] if sounds and seg.id in sounds else None
        if faces:
            n, size = faces.get(seg.id, (0, 0.0))
            extra["faces"] = 0.5 * min(1.0, n / 3.0) + 0.5 * size
        if objects:
            extra["objects"] = min(1.0, objects.get(seg.id, 0) / 5.0)
        comps = {
            "motion": squash("motion", s.get("motion")),
            "change": squash("change", s.get("change")),
            "novelty": squash("novelty", s.get("novelty")),
            "loudness": squash("loudness", s.get("loudness_lufs")) if has_audio else None,
            "onset": squash("onset", s.get("onset")) if has_audio else None,
            **extra,
        }
        gate = gate_terms(s.get("blank"), s.get("sharpness"), s.get("brightness"))
        length = 0.5 + 0.5 * min(1.0, (t1 - t0) / SHORT_SHOT_S)
        score, base = combine(comps, gate["gate"], length)
        seconds: list[SecondScore] = []
        k0 = max(0, math.floor((t0 - curve.t0_s) / curve.hop_s))
        k1 = max(k0 + 1, math.ceil((t1 - curve.t0_s) / curve.hop_s))
        for k in range(k0, k1):
            b0 = curve.t0_s + k * curve.hop_s
            lo, hi = max(b0, t0), min(b0 + curve.hop_s, t1)
            if hi <= lo and k > k0:
                continue
            c2 = {
                "motion": squash("motion", curve_at("motion", k)),
                "change": squash("change", curve_at("change", k)),
                "novelty": squash("novelty", curve_at("novelty", k)),
                "loudness": squash("loudness", curve_at("loudness_lufs", k)) if has_audio else None,
                "onset": squash("onset", curve_at("onset", k)) if has_audio else None,
                **extra,
                "speech": speech_frac(lo, hi, seg.id),
            }
            if curve_at("motion", k) is None:
                c2 = comps
            g2 = gate_terms(
                curve_at("blank", k) if curve_at("blank", k) is not None else s.get("blank"),
                curve_at("sharpness", k)
                if curve_at("sharpness", k) is not None
                else s.get("sharpness"),
                curve_at("brightness", k)
                if curve_at("brightness", k) is not None
                else s.get("brightness"),
            )
            sc, _ = combine(c2, g2["gate"], length)
            seconds.append(SecondScore(t_s=max(b0, t0), score=sc))
        if vspace and seg.id in vvecs:
            signature, skind = _unit(vvecs[seg.id].astype(np.float64)), vspace
        else:
            signature = _unit(np.sqrt(np.asarray(row.signature, dtype=np.float64)))
            skind = "histogram"
        shots.append(
            ShotScore(
                asset_id=asset.id,
                segment_id=seg.id,
                index=seg.index,
                start_s=t0,
                end_s=t1,
                score=score,
                base=base,
                length=length,
                gate=gate,
                components=comps,
                raw={k: s.get(k) for k in sorted(s)},
                seconds=seconds,
                signature=signature,
                signature_kind=skind,
            )
        )
    return AssetScores(
        asset_id=asset.id,
        path=media_path(asset),
        duration_s=float(asset.duration_s or (segs[-1].end_s if segs else 0.0)),
        audio_state=curve.audio_state,
        audio_error=curve.audio_error,
        features=features,
        shots=shots,
        hop_s=curve.hop_s,
        t0_s=curve.t0_s,
        curves=sig,
        timecode=source_timecode(asset),
    )


def shot_scores(session: Session, asset_id: int) -> dict[int, float]:
    """segment id -> default interestingness score (for `assetdb assets show`); empty when
    the asset has no interest signals."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"no asset with id {asset_id}")
    try:
        scores = score_asset(session, asset)
    except NotFound:
        return {}
    return {s.segment_id: s.score for s in scores.shots}


def detail_rows(session: Session, asset_id: int) -> dict[str, Any]:
    """`assetdb assets show` section: each shot's default interestingness score."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.kind != "video":
        return {}
    try:
        scores = score_asset(session, asset)
    except NotFound:
        return {}
    return {
        "interest": [
            {
                "segment": sh.index,
                "start_s": round(sh.start_s, 3),
                "end_s": round(sh.end_s, 3),
                "score": round(sh.score, 4),
            }
            for sh in scores.shots
        ]
    }
