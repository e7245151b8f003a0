"""Persons: faces grouped by identity, and what users do with them.

Clustering runs on the stored embeddings (``assetdb.clustering``):
``assign_new_faces`` at ingest (Immich's core-point rule: a new face with enough
close neighbours joins the person of its nearest assigned neighbour, or starts
a person; other faces wait until they have enough neighbours or join as
border faces) and ``recluster`` over everything. Users' decisions win:
faces they assigned (``assignment == "user"``) and every face of a named or
user-made person stay put, rejections ("not this person") are never undone,
and two faces of one frame never end up in one person.

Person names are written as ``texts`` rows with source ``"person"`` on the
segments where the person appears, so free-text search finds them.
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from assetdb.clustering import (
    EPS,
    EPS_SAME_ASSET,
    MIN_SAMPLES,
    Constraints,
    assign_incremental,
    cluster,
)
from assetdb.errors import NotFound, QueryError
from assetdb.records import TextRow, bytes_to_vector, replace_texts, vector_to_bytes
from assetdb.schema import Asset, Face, FaceRejection, Person, Segment, TextEntry
from assetdb.schema.faces import ASSIGNED_AUTO, ASSIGNED_USER, FACE_DIM

log = logging.getLogger(__name__)

TEXT_SOURCE = "person"
CONTACT_SHEET_COLS = 8
CONTACT_SHEET_CELL_PX = 128
CONTACT_SHEET_MAX = 64


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
    _drop_empty_persons(session, pids)
    _update_representatives(session, pids)


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


def _anchor_ids(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(Person.id).where(or_(Person.name.is_not(None), Person.is_anchor.is_(True)))
        )
    )


# --------------------------------------------------------------------------- clustering


@dataclass
class AssignStats:
    faces: int = 0
    assigned: int = 0
    new_persons: int = 0
    unassigned: int = 0


def assign_new_faces(
    session: Session,
    face_ids: Iterable[int] | None = None,
    *,
    eps: float = EPS,
    min_samples: int = MIN_SAMPLES,
    eps_same_asset: float = EPS_SAME_ASSET,
) -> AssignStats:
    """Incremental assignment of unassigned faces (default: all of them).

    The new faces are clustered together with their neighbours within ``eps``
    (``clustering.assign_incremental``): a face linked to an existing person's
    faces joins that person (never one with a face in the same frame, never one
    it was rejected for), new faces that only group among themselves start a
    person when they hold a core point (quality above the floor, ``min_samples``
    neighbours), and the rest stay unassigned until more neighbours arrive.
    Existing persons are never merged here; ``recluster`` may.
    """
    table = load_faces(session)
    stats = AssignStats()
    n = len(table.ids)
    if n == 0:
        return stats
    row_of = {int(f): i for i, f in enumerate(table.ids)}
    wanted = set(row_of) if face_ids is None else {int(f) for f in face_ids}
    todo = np.array(
        [
            row_of[f]
            for f in sorted(wanted)
            if f in row_of and table.person[row_of[f]] < 0 and not table.user[row_of[f]]
        ],
        np.int64,
    )
    stats.faces = len(todo)
    if not len(todo):
        return stats
    # Labels are person ids; new persons get labels above the largest id.
    base = max(int(table.person.max()), int(session.scalar(select(func.max(Person.id))) or 0))
    person = table.person.copy()
    cons = Constraints(
        frame_key=table.frame_key,
        fixed=np.full(n, -1, np.int64),
        seedable=~table.low,
        forbidden=table.forbidden,
        group=table.asset,
    )
    labels, conf, _ = assign_incremental(
        table.x,
        person,
        todo,
        cons,
        eps=eps,
        min_samples=min_samples,
        first_label=base + 1,
        eps_group=eps_same_asset,
    )
    new_ids: dict[int, int] = {}
    changed: set[int] = set()
    # New faces, and older unassigned faces their arrival gave enough neighbours.
    for i in np.flatnonzero((labels >= 0) & (table.person < 0)):
        lab = int(labels[i])
        if lab > base and lab not in new_ids:
            p = Person()
            session.add(p)
            session.flush()
            new_ids[lab] = p.id
            stats.new_persons += 1
        pid = new_ids.get(lab, lab)
        session.execute(
            update(Face)
            .where(Face.id == int(table.ids[i]))
            .values(person_id=pid, assignment=ASSIGNED_AUTO, confidence=float(conf[i]))
        )
        changed.add(pid)
        stats.assigned += 1
    stats.unassigned = int((labels[todo] < 0).sum())
    _update_representatives(session, changed)
    _refresh_texts_for_persons(session, changed)
    return stats


@dataclass
class ReclusterStats:
    faces: int = 0
    clusters: int = 0
    persons_created: int = 0
    persons_removed: int = 0
    unassigned: int = 0
    kept_user: int = 0


def recluster(
    session: Session,
    *,
    eps: float = EPS,
    min_samples: int = MIN_SAMPLES,
    eps_same_asset: float = EPS_SAME_ASSET,
) -> ReclusterStats:
    """Re-cluster every face. Named/user-made persons keep all their faces and
    gain matching ones; user assignments and rejections are kept; unnamed
    persons are rebuilt (reusing an old id when most of its faces stay together)."""
    table = load_faces(session)
    stats = ReclusterStats(faces=len(table.ids))
    anchors = _anchor_ids(session)
    old_persons = set(session.scalars(select(Person.id)))
    n = len(table.ids)
    fixed = np.full(n, -1, np.int64)
    for i in range(n):
        p = int(table.person[i])
        if p >= 0 and (table.user[i] or p in anchors):
            fixed[i] = p
    stats.kept_user = int((fixed >= 0).sum())
    cons = Constraints(
        frame_key=table.frame_key,
        fixed=fixed,
        seedable=~table.low,
        forbidden=table.forbidden,
        group=table.asset,
    )
    labels, conf = cluster(
        table.x, cons, eps=eps, min_samples=min_samples, eps_group=eps_same_asset
    )
    # Map clusters to persons.
    cluster_person: dict[int, int] = {}
    free_votes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for i in range(n):
        lab = int(labels[i])
        if lab < 0:
            continue
        if fixed[i] >= 0:
            cluster_person[lab] = int(fixed[i])
        elif table.person[i] >= 0 and int(table.person[i]) not in anchors:
            free_votes[lab][int(table.person[i])] += 1
    used = set(cluster_person.values())
    rejecting: dict[int, set[int]] = defaultdict(set)
    for i, ps in table.forbidden.items():
        if labels[i] >= 0:
            rejecting[int(labels[i])] |= ps
    votes = sorted(
        ((c, lab, p) for lab, vs in free_votes.items() for p, c in vs.items()), reverse=True
    )
    for _, lab, p in votes:
        if lab in cluster_person or p in used or p in rejecting[lab]:
            continue
        cluster_person[lab] = p
        used.add(p)
    for lab in sorted(set(labels[labels >= 0].tolist())):
        if lab not in cluster_person:
            person = Person()
            session.add(person)
            session.flush()
            cluster_person[lab] = person.id
            stats.persons_created += 1
    stats.clusters = len(cluster_person)
    changed: set[int] = set(used) | set(cluster_person.values())
    for i in range(n):
        if fixed[i] >= 0:
            continue
        lab = int(labels[i])
        p = cluster_person.get(lab) if lab >= 0 else None
        old = int(table.person[i])
        if old >= 0:
            changed.add(old)
        session.execute(
            update(Face)
            .where(Face.id == int(table.ids[i]))
            .values(
                person_id=p,
                assignment=ASSIGNED_AUTO if p is not None else None,
                confidence=float(conf[i]) if p is not None else None,
            )
        )
        if p is None:
            stats.unassigned += 1
    stats.persons_removed = _drop_empty_persons(session, old_persons)
    _update_representatives(session, changed)
    _refresh_texts_for_persons(session, changed, all_assets=True)
    return stats


# --------------------------------------------------------------------------- persons


@dataclass
class PersonInfo:
    id: int
    name: str | None
    faces: int
    shots: int
    assets: int
    is_anchor: bool
    representative_face_id: int | None
    thumbnail: str | None  # absolute path of the representative face crop

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def get_person(session: Session, ref: str | int) -> Person:
    """A person by id (digits or ``#12``) or by name (exact, then case-insensitive)."""
    s = str(ref).strip()
    s = s.removeprefix("#")
    if s.isdigit():
        p = session.get(Person, int(s))
        if p is not None:
            return p
    p = session.scalars(select(Person).where(Person.name == str(ref))).first()
    if p is None:
        p = session.scalars(
            select(Person).where(func.lower(Person.name) == str(ref).strip().lower())
        ).first()
    if p is None:
        raise NotFound(f"no person {ref!r}")
    return p


def get_face(session: Session, face_id: int) -> Face:
    f = session.get(Face, int(face_id))
    if f is None:
        raise NotFound(f"no face {face_id}")
    return f


def list_persons(
    session: Session, data_dir: Path | None = None, *, include_unnamed: bool = True
) -> list[PersonInfo]:
    counts = {
        pid: (nf, ns, na)
        for pid, nf, ns, na in session.execute(
            select(
                Face.person_id,
                func.count(Face.id),
                func.count(func.distinct(Face.segment_id)),
                func.count(func.distinct(Face.asset_id)),
            )
            .where(Face.person_id.is_not(None))
            .group_by(Face.person_id)
        )
    }
    crops = dict(
        session.execute(
            select(Person.id, Face.crop_path).join(Face, Face.id == Person.representative_face_id)
        ).all()
    )
    out = []
    q = select(Person).order_by(Person.id)
    if not include_unnamed:
        q = q.where(Person.name.is_not(None))
    for p in session.scalars(q):
        nf, ns, na = counts.get(p.id, (0, 0, 0))
        crop = crops.get(p.id)
        out.append(
            PersonInfo(
                id=p.id,
                name=p.name,
                faces=int(nf),
                shots=int(ns),
                assets=int(na),
                is_anchor=bool(p.is_anchor or p.name),
                representative_face_id=p.representative_face_id,
                thumbnail=str(Path(data_dir) / crop) if crop and data_dir else crop,
            )
        )
    out.sort(key=lambda i: (i.name is None, -i.faces, i.id))
    return out


def _check_name(session: Session, name: str, person_id: int | None) -> str:
    name = name.strip()
    if not name:
        raise QueryError("a person's name cannot be empty")
    if name.isdigit() or name.startswith("#"):
        raise QueryError(f"{name!r} looks like an id; a name needs a letter")
    other = session.scalars(
        select(Person).where(func.lower(Person.name) == name.lower(), Person.id != person_id)
    ).first()
    if other is not None:
        raise QueryError(f"person #{other.id} is already named {other.name!r} (merge them instead)")
    return name


def name_person(session: Session, ref: str | int, name: str) -> Person:
    """Name (or rename) a person; it becomes an anchor."""
    p = get_person(session, ref)
    p.name = _check_name(session, name, p.id)
    p.is_anchor = True
    session.flush()
    _refresh_texts_for_persons(session, {p.id})
    return p


def merge_persons(
    session: Session, target_ref: str | int, source_refs: Sequence[str | int]
) -> Person:
    """Move every face of the sources into the target and delete the sources.
    Faces become user-assigned (a merge is a user's decision)."""
    target = get_person(session, target_ref)
    sources = [get_person(session, r) for r in source_refs]
    if any(s.id == target.id for s in sources):
        raise QueryError("cannot merge a person into itself")
    sids = [s.id for s in sources]
    if target.name is None:
        named = [s for s in sources if s.name]
        if len(named) == 1:
            name = named[0].name
            named[0].name = None
            session.flush()
            target.name = name
    session.execute(
        update(Face)
        .where(Face.person_id.in_(sids))
        .values(person_id=target.id, assignment=ASSIGNED_USER, confidence=1.0)
    )
    session.execute(
        update(Face).where(Face.person_id == target.id).values(assignment=ASSIGNED_USER)
    )
    # A rejection of a source now means the face is not the merged person.
    for fid, pid in session.execute(
        select(FaceRejection.face_id, FaceRejection.person_id).where(
            FaceRejection.person_id.in_(sids)
        )
    ).all():
        if session.get(FaceRejection, (fid, target.id)) is None:
            session.add(FaceRejection(face_id=fid, person_id=target.id))
    session.flush()
    assets = _assets_of_persons(session, [target.id])
    session.execute(delete(FaceRejection).where(FaceRejection.person_id.in_(sids)))
    session.execute(delete(Person).where(Person.id.in_(sids)))
    target.is_anchor = True
    session.flush()
    _update_representatives(session, {target.id})
    _refresh_texts(session, assets)
    return target


def split_person(
    session: Session, ref: str | int, face_ids: Sequence[int], name: str | None = None
) -> Person:
    """Move the given faces of a person into a new person (named if given). Both
    sides become user decisions: the moved faces are rejected for the old person."""
    p = get_person(session, ref)
    faces = [get_face(session, f) for f in face_ids]
    if not faces:
        raise QueryError("split needs at least one face id")
    for f in faces:
        if f.person_id != p.id:
            raise QueryError(f"face {f.id} is not in person #{p.id}")
    remaining = session.scalar(
        select(func.count(Face.id)).where(
            Face.person_id == p.id, Face.id.not_in([f.id for f in faces])
        )
    )
    if not remaining:
        raise QueryError("split would leave the person empty; rename it instead")
    new = Person(is_anchor=True)
    if name:
        new.name = _check_name(session, name, None)
    session.add(new)
    session.flush()
    for f in faces:
        f.person_id = new.id
        f.assignment = ASSIGNED_USER
        f.confidence = 1.0
        if session.get(FaceRejection, (f.id, p.id)) is None:
            session.add(FaceRejection(face_id=f.id, person_id=p.id))
    session.execute(update(Face).where(Face.person_id == p.id).values(assignment=ASSIGNED_USER))
    p.is_anchor = True
    session.flush()
    _update_representatives(session, {p.id, new.id})
    _refresh_texts(session, {f.asset_id for f in faces} | _assets_of_persons(session, [p.id]))
    return new


def delete_person(session: Session, ref: str | int) -> int:
    """Delete a person; its faces become unassigned. Returns their count."""
    p = get_person(session, ref)
    assets = _assets_of_persons(session, [p.id])
    n = session.execute(
        update(Face)
        .where(Face.person_id == p.id)
        .values(person_id=None, assignment=None, confidence=None)
    ).rowcount
    session.execute(delete(Person).where(Person.id == p.id))
    session.flush()
    _refresh_texts(session, assets)
    return int(n or 0)


def move_face(
    session: Session, face_id: int, person_ref: str | int, *, create: bool = True
) -> Person:
    """Assign a face to a person by a user's decision. An unknown name creates
    a named person when ``create``."""
    f = get_face(session, face_id)
    try:
        p = get_person(session, person_ref)
    except NotFound:
        if not create or str(person_ref).strip().lstrip("#").isdigit():
            raise
        p = Person(name=_check_name(session, str(person_ref), None), is_anchor=True)
        session.add(p)
        session.flush()
    old = f.person_id
    clash = session.scalar(
        select(func.count(Face.id)).where(
            Face.person_id == p.id,
            Face.asset_id == f.asset_id,
            Face.t_ms == f.t_ms,
            Face.id != f.id,
        )
    )
    if clash:
        raise QueryError(f"person #{p.id} already has a face in the same frame as face {f.id}")
    f.person_id = p.id
    f.assignment = ASSIGNED_USER
    f.confidence = 1.0
    session.execute(
        delete(FaceRejection).where(FaceRejection.face_id == f.id, FaceRejection.person_id == p.id)
    )
    if old is not None and old != p.id and session.get(FaceRejection, (f.id, old)) is None:
        session.add(FaceRejection(face_id=f.id, person_id=old))
    session.flush()
    if old is not None and old != p.id:
        # The user has curated the old person too: re-clustering keeps its faces.
        left = session.scalar(select(func.count(Face.id)).where(Face.person_id == old))
        if left:
            session.get(Person, old).is_anchor = True
    touched = {p.id} | ({old} if old else set())
    _drop_empty_persons(session, {old} if old else set())
    _update_representatives(session, touched)
    _refresh_texts(session, {f.asset_id})
    return p


def reject_face(session: Session, face_id: int, person_ref: str | int) -> None:
    """Record that a face is not this person; it leaves the person (unassigned)."""
    f = get_face(session, face_id)
    p = get_person(session, person_ref)
    if session.get(FaceRejection, (f.id, p.id)) is None:
        session.add(FaceRejection(face_id=f.id, person_id=p.id))
    if f.person_id == p.id:
        f.person_id = None
        f.assignment = None
        f.confidence = None
    # The user has curated this person: re-clustering keeps its faces, and the
    # rejection then binds (rejections are checked against anchors).
    p.is_anchor = True
    session.flush()
    _update_representatives(session, {p.id})
    _refresh_texts(session, {f.asset_id})


def purge_faces(session: Session, data_dir: Path | None = None) -> dict[str, int]:
    """Privacy wipe: every face, person, rejection, person text and face crop."""
    n_faces = session.scalar(select(func.count(Face.id))) or 0
    n_persons = session.scalar(select(func.count(Person.id))) or 0
    session.execute(delete(FaceRejection))
    session.execute(delete(Face))
    session.execute(delete(Person))
    session.execute(delete(TextEntry).where(TextEntry.source == TEXT_SOURCE))
    # Stage records so a later ingest with faces enabled extracts them again.
    from assetdb.schema import StageRun

    session.execute(delete(StageRun).where(StageRun.stage == "faces"))
    if data_dir is not None:
        shutil.rmtree(Path(data_dir) / "faces", ignore_errors=True)
    return {"faces": int(n_faces), "persons": int(n_persons)}


@dataclass
class FaceInfo:
    id: int
    asset_id: int
    path: str
    segment_id: int | None
    segment_index: int | None
    t_s: float
    box: list[int]
    det_score: float
    quality: float
    low_quality: bool
    person_id: int | None
    person: str | None
    assignment: str | None
    confidence: float | None
    crop: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_faces(
    session: Session,
    *,
    person: str | int | None = None,
    asset: str | int | None = None,
    data_dir: Path | None = None,
    limit: int | None = None,
) -> list[FaceInfo]:
    q = (
        select(Face, Asset.path, Person.name)
        .join(Asset, Asset.id == Face.asset_id)
        .outerjoin(Person, Person.id == Face.person_id)
        .order_by(Face.asset_id, Face.t_ms, Face.id)
    )
    if person is not None:
        q = q.where(Face.person_id == get_person(session, person).id)
    if asset is not None:
        a = str(asset)
        if a.isdigit():
            q = q.where(Face.asset_id == int(a))
        else:
            aid = session.scalar(select(Asset.id).where(Asset.path == str(Path(a).resolve())))
            if aid is None:
                aid = session.scalar(select(Asset.id).where(Asset.path == a))
            if aid is None:
                raise NotFound(f"no asset {asset!r}")
            q = q.where(Face.asset_id == aid)
    if limit:
        q = q.limit(limit)
    out = []
    for f, path, pname in session.execute(q):
        out.append(
            FaceInfo(
                id=f.id,
                asset_id=f.asset_id,
                path=path,
                segment_id=f.segment_id,
                segment_index=f.segment_index,
                t_s=f.t_s,
                box=[f.box_x, f.box_y, f.box_w, f.box_h],
                det_score=round(f.det_score, 3),
                quality=round(f.quality, 3),
                low_quality=f.low_quality,
                person_id=f.person_id,
                person=pname,
                assignment=f.assignment,
                confidence=None if f.confidence is None else round(f.confidence, 3),
                crop=str(Path(data_dir) / f.crop_path) if f.crop_path and data_dir else f.crop_path,
            )
        )
    return out


def contact_sheet(
    session: Session, ref: str | int, data_dir: Path, dest: Path | None = None
) -> Path:
    """A grid image of a person's face crops (best quality first)."""
    from PIL import Image, ImageDraw

    p = get_person(session, ref)
    crops = session.execute(
        select(Face.id, Face.crop_path)
        .where(Face.person_id == p.id, Face.crop_path.is_not(None))
        .order_by(Face.quality.desc(), Face.id)
        .limit(CONTACT_SHEET_MAX)
    ).all()
    if not crops:
        raise NotFound(f"person #{p.id} has no face images")
    cell = CONTACT_SHEET_CELL_PX
    cols = min(CONTACT_SHEET_COLS, len(crops))
    rows = (len(crops) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * cell), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for k, (fid, rel) in enumerate(crops):
        src = Path(data_dir) / rel
        x0, y0 = (k % cols) * cell, (k // cols) * cell
        try:
            with Image.open(src) as im:
                im = im.convert("RGB")
                im.thumbnail((cell, cell))
                sheet.paste(im, (x0 + (cell - im.width) // 2, y0 + (cell - im.height) // 2))
        except OSError:
            log.warning("face crop %s is missing", src)
        draw.text((x0 + 3, y0 + 2), str(fid), fill=(255, 255, 0))
    if dest is None:
        dest = Path(data_dir) / "faces" / "sheets" / f"person-{p.id}.jpg"
    dest.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dest, quality=88)
    return dest


# --------------------------------------------------------------------------- search


def asset_details(session: Session, asset_id: int) -> dict[str, Any]:
    """The ``assets show`` section (a ``DETAIL_PROVIDERS`` entry): every face found in
    the asset, in time order, with its shot and person."""
    rows = session.execute(
        select(Face, Person.name)
        .outerjoin(Person, Person.id == Face.person_id)
        .where(Face.asset_id == asset_id)
        .order_by(Face.t_ms, Face.id)
    ).all()
    return {"faces": [
        {"face": f.id, "shot": f.segment_index, "t_s": round(f.t_ms / 1000.0, 3),
         "person_id": f.person_id, "person": name, "size_px": f.size_px,
         "quality": round(f.quality, 3), "low_quality": f.low_quality}
        for f, name in rows
    ]} if rows else {}


def segment_ids_for_persons(session: Session, names: list[str], *, mode: str = "any") -> set[int]:
    """Segments where the named persons appear (case-insensitive names, or ids
    as ``#12``). ``mode="any"``: any of them; ``"all"``: all of them together."""
    sets = []
    for name in names:
        p = get_person(session, name)
        sets.append(
            set(
                session.scalars(
                    select(Face.segment_id)
                    .where(Face.person_id == p.id, Face.segment_id.is_not(None))
                    .distinct()
                )
            )
        )
    if not sets:
        return set()
    if mode == "all":
        return set.intersection(*sets)
    return set.union(*sets)


# --------------------------------------------------------------------------- upkeep


def _assets_of_persons(session: Session, pids: Iterable[int]) -> set[int]:
    pids = [p for p in pids if p is not None]
    if not pids:
        return set()
    return set(session.scalars(select(Face.asset_id).where(Face.person_id.in_(pids)).distinct()))


def _refresh_texts_for_persons(
    session: Session, pids: Iterable[int], *, all_assets: bool = False
) -> None:
    pids = set(pids)
    named = set(
        session.scalars(select(Person.id).where(Person.id.in_(pids), Person.name.is_not(None)))
    )
    if all_assets:
        assets = set(
            session.scalars(select(TextEntry.asset_id).where(TextEntry.source == TEXT_SOURCE))
        ) | _assets_of_persons(session, _anchor_ids(session))
    else:
        assets = _assets_of_persons(session, named)
    _refresh_texts(session, assets)


def _refresh_texts(session: Session, asset_ids: Iterable[int]) -> None:
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


def _drop_empty_persons(session: Session, pids: Iterable[int]) -> int:
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


def _update_representatives(session: Session, pids: Iterable[int]) -> None:
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
