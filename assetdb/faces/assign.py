"""Grouping faces into persons over the stored embeddings: ``assign_new_faces`` at
ingest and ``recluster`` over everything (see :mod:`assetdb.faces`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assetdb.faces.clustering import (
    EPS,
    EPS_SAME_ASSET,
    MIN_SAMPLES,
    Constraints,
    assign_incremental,
    cluster,
)
from assetdb.faces.store import (
    anchor_ids,
    drop_empty_persons,
    load_faces,
    refresh_texts_for_persons,
    update_representatives,
)
from assetdb.schema import Face, Person
from assetdb.schema.faces import ASSIGNED_AUTO

log = logging.getLogger(__name__)


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
    update_representatives(session, changed)
    refresh_texts_for_persons(session, changed)
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
    anchors = anchor_ids(session)
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
    stats.persons_removed = drop_empty_persons(session, old_persons)
    update_representatives(session, changed)
    refresh_texts_for_persons(session, changed, all_assets=True)
    return stats


