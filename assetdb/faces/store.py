"""Stored faces: inserting the extractor's rows, removing an asset's faces, loading
embeddings for clustering, and the upkeep after any change (person texts for
free-text search, empty persons, representative faces)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from assetdb.records import TextRow, bytes_to_vector, replace_texts, vector_to_bytes
from assetdb.schema import Face, FaceRejection, Person, Segment, TextEntry
from assetdb.schema.faces import ASSIGNED_USER, FACE_DIM

log = logging.getLogger(__name__)

TEXT_SOURCE = "person"


# --------------------------------------------------------------------------- storing


def store_faces(session: Session, asset_id: int, rows: Sequence[Any]) -> list[int]:
    """Insert the extractor's FaceRows for one asset; returns the new face ids."""
    seg_ids = dict(
        session.execute(select(Segment.index, Segment.id).where(Segment.asset_id == asset_id)).all()
    )
    faces = []
    for r in rows:
        emb = np.asarray(r.embedding, np.float32).ravel()
        if emb.shape[0] != FACE_DIM:
            raise ValueError(f"face embedding has {emb.shape[0]} dimensions, not {FACE_DIM}")
        x, y, w, h = r.box
        f = Face(
            asset_id=asset_id,
            segment_id=seg_ids.get(r.segment_index),
            segment_index=r.segment_index,
            t_ms=int(r.t_ms),
            frame_ts=r.frame_ts,
            frame_width=int(r.frame_width),
            frame_height=int(r.frame_height),
            box_x=int(x),
            box_y=int(y),
            box_w=int(w),
            box_h=int(h),
            detector=r.detector,
            det_score=float(r.det_score),
            size_px=int(r.size_px),
            sharpness=float(r.sharpness),
            frontalness=float(r.frontalness),
            quality=float(r.quality),
            low_quality=bool(r.low_quality),
            frames_seen=int(r.frames_seen),
            crop_path=r.crop_path,
            embedding=vector_to_bytes(emb),
        )
        session.add(f)
        faces.append(f)
    session.flush()
    return [f.id for f in faces]


def delete_asset_faces(session: Session, asset_id: int) -> None:
    """Remove an asset's faces (re-extraction); persons left empty go unless named."""
    pids = set(
        session.scalars(
            select(Face.person_id).where(Face.asset_id == asset_id, Face.person_id.is_not(None))
        )
    )
    session.execute(delete(Face).where(Face.asset_id == asset_id))
    replace_texts(session, asset_id, TEXT_SOURCE, [])
    drop_empty_persons(session, pids)
    update_representatives(session, pids)


# --------------------------------------------------------------------------- loading


@dataclass
class FaceTable:
    """Embeddings and clustering facts of a set of faces, row-aligned."""

    ids: np.ndarray
    x: np.ndarray
    person: np.ndarray  # -1 when unassigned
    user: np.ndarray  # bool: assigned by a user
    low: np.ndarray  # bool: below the quality floor
    frame_key: np.ndarray
    asset: np.ndarray
    forbidden: dict[int, set[int]]  # row -> person ids rejected


def load_faces(session: Session, where: Any = None) -> FaceTable:
    q = select(
        Face.id,
        Face.embedding,
        Face.person_id,
        Face.assignment,
        Face.low_quality,
        Face.asset_id,
        Face.t_ms,
    ).order_by(Face.id)
    if where is not None:
        q = q.where(where)
    rows = session.execute(q).all()
    n = len(rows)
    x = np.empty((n, FACE_DIM), np.float32)
    for i, r in enumerate(rows):
        x[i] = bytes_to_vector(r[1])
    ids = np.array([r[0] for r in rows], np.int64)
    asset = np.array([r[5] for r in rows], np.int64)
    t_ms = np.array([r[6] for r in rows], np.int64)
    frames: dict[tuple[int, int], int] = {}
    frame_key = np.array(
        [
            frames.setdefault((int(a), int(t)), len(frames))
            for a, t in zip(asset, t_ms, strict=True)
        ],
        np.int64,
    )
    row_of = {int(f): i for i, f in enumerate(ids)}
    forbidden: dict[int, set[int]] = defaultdict(set)
    for fid, pid in session.execute(select(FaceRejection.face_id, FaceRejection.person_id)):
        if fid in row_of:
            forbidden[row_of[fid]].add(int(pid))
    return FaceTable(
        ids=ids,
        x=x,
        person=np.array([r[2] if r[2] is not None else -1 for r in rows], np.int64),
        user=np.array([r[3] == ASSIGNED_USER for r in rows], bool),
        low=np.array([bool(r[4]) for r in rows], bool),
        frame_key=frame_key,
        asset=asset,
        forbidden=dict(forbidden),
    )


def anchor_ids(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(Person.id).where(or_(Person.name.is_not(None), Person.is_anchor.is_(True)))
        )
    )



# --------------------------------------------------------------------------- upkeep


def assets_of_persons(session: Session, pids: Iterable[int]) -> set[int]:
    pids = [p for p in pids if p is not None]
    if not pids:
        return set()
    return set(session.scalars(select(Face.asset_id).where(Face.person_id.in_(pids)).distinct()))


def refresh_texts_for_persons(
    session: Session, pids: Iterable[int], *, all_assets: bool = False
) -> None:
    pids = set(pids)
    named = set(
        session.scalars(select(Person.id).where(Person.id.in_(pids), Person.name.is_not(None)))
    )
    if all_assets:
        assets = set(
            session.scalars(select(TextEntry.asset_id).where(TextEntry.source == TEXT_SOURCE))
        ) | assets_of_persons(session, anchor_ids(session))
    else:
        assets = assets_of_persons(session, named)
    refresh_texts(session, assets)


def refresh_texts(session: Session, asset_ids: Iterable[int]) -> None:
    """Rewrite the "person" texts of these assets: one row per segment listing
    the names of the named persons seen in it."""
    for aid in sorted(set(asset_ids)):
        rows = session.execute(
            select(
                Face.segment_index,
                Segment.start_ts,
                Segment.end_ts,
                Segment.time_base_num,
                Segment.time_base_den,
                Person.name,
            )
            .join(Person, Person.id == Face.person_id)
            .outerjoin(Segment, Segment.id == Face.segment_id)
            .where(Face.asset_id == aid, Person.name.is_not(None))
            .distinct()
        ).all()
        per_seg: dict[int | None, list] = {}
        for si, s0, s1, tbn, tbd, name in rows:
            entry = per_seg.setdefault(si, [None, None, set()])
            if s0 is not None and tbd:
                entry[0] = s0 * tbn / tbd
                entry[1] = s1 * tbn / tbd
            entry[2].add(name)
        replace_texts(
            session,
            aid,
            TEXT_SOURCE,
            [
                TextRow(text=", ".join(sorted(v[2])), segment_index=si, start_s=v[0], end_s=v[1])
                for si, v in sorted(per_seg.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
            ],
        )


def drop_empty_persons(session: Session, pids: Iterable[int]) -> int:
    """Delete unnamed, non-anchor persons that have no faces left."""
    pids = [p for p in pids if p is not None]
    if not pids:
        return 0
    session.flush()
    empty = [
        pid
        for pid in session.scalars(
            select(Person.id).where(
                Person.id.in_(pids), Person.name.is_(None), Person.is_anchor.is_(False)
            )
        )
        if not session.scalar(select(func.count(Face.id)).where(Face.person_id == pid))
    ]
    if empty:
        session.execute(delete(FaceRejection).where(FaceRejection.person_id.in_(empty)))
        session.execute(delete(Person).where(Person.id.in_(empty)))
    return len(empty)


def update_representatives(session: Session, pids: Iterable[int]) -> None:
    for pid in {p for p in pids if p is not None}:
        person = session.get(Person, pid)
        if person is None:
            continue
        best = session.scalar(
            select(Face.id)
            .where(Face.person_id == pid)
            .order_by(Face.low_quality, Face.quality.desc(), Face.id)
            .limit(1)
        )
        person.representative_face_id = best
    session.flush()
