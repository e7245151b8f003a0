"""Persons and faces as users manage them: list, name, merge, split, delete, move a
face, reject a face ("not this person"), purge everything; the ``assets show`` section
and the search filter by person. Users' decisions win over clustering (see
:mod:`assetdb.faces`)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from assetdb import layout
from assetdb.catalogue import resolve_asset
from assetdb.errors import NotFound, QueryError
from assetdb.faces.store import (
    TEXT_SOURCE,
    assets_of_persons,
    drop_empty_persons,
    refresh_texts,
    refresh_texts_for_persons,
    update_representatives,
)
from assetdb.schema import Asset, Face, FaceRejection, Person, TextEntry
from assetdb.schema.faces import ASSIGNED_USER

log = logging.getLogger(__name__)


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
    refresh_texts_for_persons(session, {p.id})
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
    assets = assets_of_persons(session, [target.id])
    session.execute(delete(FaceRejection).where(FaceRejection.person_id.in_(sids)))
    session.execute(delete(Person).where(Person.id.in_(sids)))
    target.is_anchor = True
    session.flush()
    update_representatives(session, {target.id})
    refresh_texts(session, assets)
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
    update_representatives(session, {p.id, new.id})
    refresh_texts(session, {f.asset_id for f in faces} | assets_of_persons(session, [p.id]))
    return new


def delete_person(session: Session, ref: str | int) -> int:
    """Delete a person; its faces become unassigned. Returns their count."""
    p = get_person(session, ref)
    assets = assets_of_persons(session, [p.id])
    n = session.execute(
        update(Face)
        .where(Face.person_id == p.id)
        .values(person_id=None, assignment=None, confidence=None)
    ).rowcount
    session.execute(delete(Person).where(Person.id == p.id))
    session.flush()
    refresh_texts(session, assets)
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
    drop_empty_persons(session, {old} if old else set())
    update_representatives(session, touched)
    refresh_texts(session, {f.asset_id})
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
    update_representatives(session, {p.id})
    refresh_texts(session, {f.asset_id})


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
        shutil.rmtree(layout.faces_root(data_dir), ignore_errors=True)
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
        q = q.where(Face.asset_id == resolve_asset(session, asset).id)
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


def segment_ids_for_persons(session: Session, names: list[str], *, mode: str = "all") -> set[int]:
    """Segments where the named persons appear (case-insensitive names, or ids
    as ``#12``). ``mode="all"`` (the search filter): all of them together, as
    objects are; ``"any"``: any of them."""
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


