"""Querying the sound events the "sound_events" extractor stored (AudioSet classes
per segment, YAMNet): the ``--sound LABEL`` filter, the "sound_events" search
source that matches a query's meaning against the class names, and the
``assets show`` section.

Label names (``--sound``): an AudioSet display name or any comma-separated part of
it, case-insensitive, singular or plural: ``dog``, ``Bark``, ``car horn`` (part of
"Vehicle horn, car horn, honking"), ``thunderstorm``. A segment has a sound when the
class's peak score there reached ``LABEL_MIN``; several ``--sound`` are ANDed.

The "sound_events" source: the query is embedded by all-MiniLM-L6-v2 and compared
with the 521 class names (embedded once per data dir, cached in its model folder);
the classes whose cosine reaches ``SIM_MIN`` (at most ``TOP_CLASSES``) are looked up
and a segment scores ``max over those classes of (peak score x cosine)``. So
"thunder during a storm" finds the Thunderstorm and Thunder segments with no word
in common with their file names.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assetdb.models.sound_events import LABEL_MIN
from assetdb.models.yamnet import resolve_sounds
from assetdb.schema import SoundEvent

log = logging.getLogger(__name__)

# Measured on the class names: the intended class of 8 typed sound queries scored
# 0.54-0.82 ("a dog barking" -> Bark 0.69, Dog 0.54); loosely related ones reach 0.47
# ("birds singing" -> Singing), unrelated ones stay below 0.35.
SIM_MIN = 0.5
TOP_CLASSES = 8


def segment_sound_scores(session: Session, names: list[str]) -> dict[int, float]:
    """Segments holding every named sound (peak >= LABEL_MIN), scored by the smallest
    over the names of the best class peak."""
    result: dict[int, float] | None = None
    for group in resolve_sounds(names):
        best: dict[int, float] = {}
        for sid, score in session.execute(
            select(SoundEvent.segment_id, SoundEvent.max_score).where(
                SoundEvent.class_index.in_(sorted(group)), SoundEvent.max_score >= LABEL_MIN,
                SoundEvent.segment_id.is_not(None),
            )
        ):
            best[sid] = max(best.get(sid, 0.0), float(score))
        result = best if result is None else {
            s: min(result[s], v) for s, v in best.items() if s in result
        }
        if not result:
            return {}
    return result or {}


def class_name_embeddings(cache_dir: Path | None = None) -> np.ndarray:
    """(521, 384) unit MiniLM embeddings of the class names; cached as .npy in
    ``cache_dir`` (7 s to compute on one core, 2 ms to load)."""
    from assetdb.models.text import SentenceEncoder
    from assetdb.models.yamnet import class_names

    names = list(class_names())
    enc = SentenceEncoder.shared()
    tag = hashlib.sha1(("\n".join(names) + "|" + enc.model_id).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"audioset-names-{tag}.npy" if cache_dir else None
    if path is not None and path.is_file():
        try:
            return np.load(path)
        except (OSError, ValueError):
            log.warning("ignoring unreadable %s", path)
    emb = np.asarray(enc.encode(names), dtype=np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, emb)
            tmp.replace(path)
        except OSError as exc:
            log.warning("cannot cache the sound label embeddings: %s", exc)
    return emb


def matching_classes(query: str, cache_dir: Path | None = None) -> list[tuple[int, float]]:
    """(class index, cosine) of the classes whose name means what ``query`` says."""
    from assetdb.models.text import SentenceEncoder

    q = np.asarray(SentenceEncoder.shared().encode([query])[0], dtype=np.float32)
    sims = class_name_embeddings(cache_dir) @ q
    order = np.argsort(-sims)[:TOP_CLASSES]
    return [(int(c), float(sims[c])) for c in order if sims[c] >= SIM_MIN]


def semantic_scores(session: Session, query: str, cache_dir: Path | None = None
                    ) -> dict[int, tuple[float, str]]:
    """segment id -> (score, "Label 0.87") for the "sound_events" search source."""
    classes = dict(matching_classes(query, cache_dir))
    if not classes:
        return {}
    out: dict[int, tuple[float, str]] = {}
    for sid, c, label, peak in session.execute(
        select(SoundEvent.segment_id, SoundEvent.class_index, SoundEvent.label,
               SoundEvent.max_score).where(SoundEvent.class_index.in_(sorted(classes)),
                                           SoundEvent.segment_id.is_not(None))
    ):
        score = float(peak) * classes[c]
        if sid not in out or score > out[sid][0]:
            out[sid] = (score, f"{label} {float(peak):.2f}")
    return out


def has_sound_events(session: Session) -> bool:
    return session.execute(select(SoundEvent.id).limit(1)).first() is not None


def asset_details(session: Session, asset_id: int) -> dict[str, Any]:
    """``assets show`` section: per segment, the sounds heard (peak >= LABEL_MIN), in
    the order they start."""
    from assetdb.schema import Segment

    rows = session.execute(
        select(Segment.index, SoundEvent.label, SoundEvent.max_score, SoundEvent.start_ms,
               SoundEvent.end_ms)
        .join(Segment, Segment.id == SoundEvent.segment_id)
        .where(SoundEvent.asset_id == asset_id, SoundEvent.max_score >= LABEL_MIN)
        .order_by(Segment.index, SoundEvent.start_ms, SoundEvent.max_score.desc())
    ).all()
    if not rows:
        return {}
    return {"sound_events": [
        {"segment": idx, "label": label, "score": round(score, 2), "start_s": a / 1000.0,
         "end_s": b / 1000.0} for idx, label, score, a, b in rows
    ]}
