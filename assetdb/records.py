"""Helpers extractors use in ``write``: replace one source's text rows or one
space's vectors for an asset, and map segment indexes to SQL ids.

Rows go in as one multi-row Core INSERT per call (not one ORM object each): the
writer serves every worker of an ingest, and building ORM objects was most of its
time (bench/scale.py). The ORM DELETE before it flushes what the session holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, insert, select
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


def _opt_float(x) -> float | None:
    return None if x is None else float(x)


def segment_ids(session: Session, asset_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Segment.index, Segment.id).where(Segment.asset_id == asset_id)
    ).all()
    return {i: sid for i, sid in rows}


IN_CHUNK = 500  # asset ids per IN (...) list


def replace_texts_many(
    session: Session,
    sources: list[str],
    items: Iterable[tuple[int, str, list[TextRow], dict[int, int]]],
) -> int:
    """``replace_texts`` for many assets at once: every (asset, source) of ``sources``
    loses its rows, then each item's (asset_id, source, rows, segment ids) go in, in
    one DELETE per chunk of assets and one INSERT."""
    items = list(items)
    aids = sorted({it[0] for it in items})
    for i in range(0, len(aids), IN_CHUNK):
        session.execute(delete(TextEntry).where(TextEntry.asset_id.in_(aids[i:i + IN_CHUNK]),
                                                TextEntry.source.in_(sources)))
    values = [
        {"asset_id": aid, "source": source, "start_s": _opt_float(r.start_s),
         "end_s": _opt_float(r.end_s),
         "segment_id": None if r.segment_index is None else ids.get(r.segment_index),
         "text": r.text.strip()}
        for aid, source, rows, ids in items for r in rows if r.text and r.text.strip()
    ]  # fmt: skip
    if values:
        session.execute(insert(TextEntry.__table__), values)
    return len(values)


def replace_vectors_many(
    session: Session,
    space: str,
    items: Iterable[tuple[int, list[VectorRow], dict[int, int]]],
) -> int:
    """``replace_vectors`` for many assets at once: (asset_id, rows, segment ids) each."""
    items = list(items)
    aids = sorted({it[0] for it in items})
    for i in range(0, len(aids), IN_CHUNK):
        session.execute(delete(Vector).where(Vector.asset_id.in_(aids[i:i + IN_CHUNK]),
                                             Vector.space == space))
    values = [_vector_values(space, aid, r, ids) for aid, rows, ids in items for r in rows]
    if values:
        session.execute(insert(Vector.__table__), values)
    return len(values)


def _vector_values(space: str, asset_id: int, r: VectorRow, ids: dict[int, int] | None) -> dict:
    v = np.asarray(r.vector, dtype=np.float32).ravel()
    return {"space": space, "asset_id": asset_id, "t_s": _opt_float(r.t_s),
            "dim": int(v.shape[0]),
            "segment_id": None if r.segment_index is None else (ids or {}).get(r.segment_index),
            "data": vector_to_bytes(v)}  # fmt: skip


def replace_texts(
    session: Session,
    asset_id: int,
    source: str,
    rows: Iterable[TextRow],
    ids: dict[int, int] | None = None,
) -> int:
    """Replace the asset's ``source`` texts with ``rows`` (blank ones skipped).
    ``ids``: the asset's segment index -> id map, when the caller has it."""
    rows = list(rows)
    ids = _resolved(session, asset_id, rows, ids)
    return replace_texts_many(session, [source], [(asset_id, source, rows, ids)])


def vector_to_bytes(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype="<f4").tobytes()


def bytes_to_vector(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<f4")


def replace_vectors(
    session: Session,
    asset_id: int,
    space: str,
    rows: Iterable[VectorRow],
    ids: dict[int, int] | None = None,
) -> int:
    """Replace the asset's vectors in ``space`` with ``rows`` (float32, little-endian).
    ``ids``: the asset's segment index -> id map, when the caller has it."""
    rows = list(rows)
    return replace_vectors_many(session, space,
                                [(asset_id, rows, _resolved(session, asset_id, rows, ids))])


def _resolved(session: Session, asset_id: int, rows: list, ids: dict[int, int] | None
              ) -> dict[int, int]:
    """``ids``, or the asset's segment ids read when a row needs them."""
    if ids is None and any(r.segment_index is not None for r in rows):
        return segment_ids(session, asset_id)
    return ids or {}
