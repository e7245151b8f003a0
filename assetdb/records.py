"""Helpers extractors use in ``write``: replace one source's text rows or one
space's vectors for an asset, and map segment indexes to SQL ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assetdb.schema import Segment, TextEntry, Vector


@dataclass
class TextRow:
    text: str
    segment_index: int | None = None
    start_s: float | None = None
    end_s: float | None = None


@dataclass
class VectorRow:
    vector: np.ndarray
    segment_index: int | None = None
    t_s: float | None = None


def segment_ids(session: Session, asset_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Segment.index, Segment.id).where(Segment.asset_id == asset_id)
    ).all()
    return {i: sid for i, sid in rows}


def replace_texts(session: Session, asset_id: int, source: str, rows: Iterable[TextRow]) -> int:
    session.execute(
        delete(TextEntry).where(TextEntry.asset_id == asset_id, TextEntry.source == source)
    )
    ids = segment_ids(session, asset_id)
    n = 0
    for r in rows:
        if not r.text or not r.text.strip():
            continue
        session.add(
            TextEntry(
                asset_id=asset_id,
                segment_id=ids.get(r.segment_index) if r.segment_index is not None else None,
                source=source,
                start_s=r.start_s,
                end_s=r.end_s,
                text=r.text.strip(),
            )
        )
        n += 1
    return n


def vector_to_bytes(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype="<f4").tobytes()


def bytes_to_vector(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<f4")


def replace_vectors(session: Session, asset_id: int, space: str, rows: Iterable[VectorRow]) -> int:
    session.execute(delete(Vector).where(Vector.asset_id == asset_id, Vector.space == space))
    ids = segment_ids(session, asset_id)
    n = 0
    for r in rows:
        v = np.asarray(r.vector, dtype=np.float32).ravel()
        session.add(
            Vector(
                space=space,
                asset_id=asset_id,
                segment_id=ids.get(r.segment_index) if r.segment_index is not None else None,
                t_s=r.t_s,
                dim=int(v.shape[0]),
                data=vector_to_bytes(v),
            )
        )
        n += 1
    return n
