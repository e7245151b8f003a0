"""The index of a vector space kept in step with its SQL rows: where the vectors live
(:class:`VectorSource`), the index file of a space, building from SQL and opening with
an incremental sync."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assetdb import layout
from assetdb.errors import IndexMismatch, NotFound
from assetdb.index.core import VectorIndex
from assetdb.index.params import (
    CHUNK_ROWS,
    HASH_MOD,
    HASH_MUL,
    IN_CHUNK,
    IdStats,
    Refine,
    as_ids,
    auto_kind,
    normalise,
)
from assetdb.records import bytes_to_vector

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# SQL sources


@dataclass(frozen=True)
class VectorSource:
    """Where the vectors of one index live in SQL: a table's id and vector columns,
    optionally filtered (e.g. ``Vector.space == space``). ``decode`` turns one
    stored value into a float32 vector (default: float32 little-endian bytes)."""

    name: str
    id_col: Any
    vector_col: Any
    where: Any = None
    decode: Callable[[Any], np.ndarray] = bytes_to_vector
    # the ``vector_stats`` row kept by triggers for this space of the ``vectors`` table
    # (migration 0011): statistics in one row read instead of a scan of the space
    counted_space: str | None = None

    def _filtered(self, stmt: Any) -> Any:
        return stmt if self.where is None else stmt.where(self.where)

    def stats(self, session: Session) -> IdStats:
        """count, max id, id sum, id checksum of the rows (max id -1 when read from the
        counted statistics, which do not keep it; see IdStats.same_ids)."""
        if self.counted_space is not None:
            row = session.execute(
                text("SELECT count, id_sum, id_hash FROM vector_stats WHERE space = :s"),
                {"s": self.counted_space},
            ).first()
            if row is None or not row[0]:
                return IdStats(0, -1, 0, 0)
            return IdStats(int(row[0]), -1, int(row[1]), int(row[2]))
        return self.stats_after(session, None)

    def stats_after(self, session: Session, after_id: int | None) -> IdStats:
        """The statistics of the rows (those with an id above ``after_id``), aggregated."""
        ic = self.id_col
        stmt = self._filtered(
            select(
                func.count(ic),
                func.max(ic),
                func.sum(ic),
                func.sum((ic * literal(HASH_MUL)) % literal(HASH_MOD)),
            )
        )
        if after_id is not None:
            stmt = stmt.where(ic > after_id)
        row = session.execute(stmt).one()
        count = int(row[0] or 0)
        if count == 0:
            return IdStats(0, -1, 0, 0)
        return IdStats(count, int(row[1]), int(row[2]), int(row[3]))

    def ids_after(self, session: Session, after_id: int) -> np.ndarray:
        rows = session.execute(self._filtered(select(self.id_col).where(self.id_col > after_id)
                                              .order_by(self.id_col)))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def ids(self, session: Session) -> np.ndarray:
        rows = session.execute(self._filtered(select(self.id_col).order_by(self.id_col)))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def dim(self, session: Session) -> int | None:
        row = session.execute(self._filtered(select(self.vector_col)).limit(1)).first()
        return None if row is None else int(self.decode(row[0]).shape[0])

    def iter_rows(
        self, session: Session, *, ids: np.ndarray | None = None, chunk: int = CHUNK_ROWS
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) chunks in id order: all rows, or only those of ``ids``."""
        if ids is not None:
            ids = np.unique(as_ids(ids))
            for start in range(0, ids.size, chunk):
                part = ids[start : start + chunk]
                got = self.fetch_rows(session, part)
                if got[0].size:
                    yield got
            return
        last = None
        while True:
            stmt = self._filtered(select(self.id_col, self.vector_col))
            if last is not None:
                stmt = stmt.where(self.id_col > last)
            rows = session.execute(stmt.order_by(self.id_col).limit(chunk)).all()
            if not rows:
                return
            yield self._decode_rows(rows)
            last = rows[-1][0]

    def fetch_rows(self, session: Session, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = []
        for start in range(0, len(ids), IN_CHUNK):
            part = [int(i) for i in ids[start : start + IN_CHUNK]]
            rows += session.execute(
                self._filtered(select(self.id_col, self.vector_col).where(self.id_col.in_(part)))
            ).all()
        rows.sort(key=lambda r: r[0])
        return self._decode_rows(rows)

    def _decode_rows(self, rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        if not rows:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = [self.decode(r[1]) for r in rows]
        if len({v.shape[0] for v in vecs}) != 1:
            raise IndexMismatch(f"{self.name}: stored vectors have different dimensions")
        return ids, np.stack(vecs).astype(np.float32, copy=False)


def vectors_source(space: str) -> VectorSource:
    """The rows of the ``vectors`` table in ``space``."""
    from assetdb.schema import Vector

    return VectorSource(
        name=space, id_col=Vector.id, vector_col=Vector.data, where=Vector.space == space,
        counted_space=space,
    )


def sql_refine(store: Any, source: VectorSource) -> Refine:
    """A refine callable reading full vectors of candidate ids from SQL."""

    def fetch(ids: np.ndarray) -> np.ndarray:
        ids = as_ids(ids)
        with store.session() as s:
            got_ids, vecs = source.fetch_rows(s, ids)
        if got_ids.size != ids.size:  # a row deleted since the index was synced
            out = np.zeros((ids.size, vecs.shape[1] if vecs.size else 1), np.float32)
            pos = np.searchsorted(ids, got_ids)
            out[pos] = vecs
            return out
        return vecs  # sorted by id, like the (unique, sorted) ids asked for

    return fetch


# ---------------------------------------------------------------------------
# Store integration


def index_path(store: Any, name: str) -> Path:
    """The index file of a space (see ``assetdb.layout.faiss_index``)."""
    return layout.faiss_index(store.settings.data_dir, name)


def db_id(store: Any) -> str:
    """This database's id (``meta`` key "db_id"), created on first use."""
    from assetdb.schema import Meta

    with store.session() as s:
        row = s.get(Meta, "db_id")
        if row is not None:
            return str(row.value)
    new = uuid.uuid4().hex
    try:
        with store.session() as s:
            s.add(Meta(key="db_id", value=new))
    except IntegrityError:  # another process made it first
        pass
    with store.session() as s:
        return str(s.get(Meta, "db_id").value)


def rebuild_index(
    store: Any,
    space: str,
    *,
    source: VectorSource | None = None,
    kind: str = "auto",
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    **params: Any,
) -> VectorIndex:
    """Build the index of ``space`` from its SQL rows, save it and return it.
    ``progress(done, total)`` is called after each chunk."""
    source = source or vectors_source(space)
    with store.session() as s:
        total = source.stats(s).count
        dim = source.dim(s)
    if total == 0 or dim is None:
        raise NotFound(f"no vectors in {source.name!r}; index some media first")
    dbid = db_id(store)
    index = VectorIndex.empty(
        dim, space=space, kind=kind, n_hint=total, device=device, db_id=dbid, **params
    )
    if index.kind == "ivfpq":
        index.refine = sql_refine(store, source)
    done = 0
    pending: list[tuple[np.ndarray, np.ndarray]] = []
    with store.session() as s:
        for ids, vecs in source.iter_rows(s):
            if not index._index.is_trained:
                # IVF: hold chunks until the training sample is complete, train, then add
                pending.append((ids, vecs))
                held = sum(p[0].size for p in pending)
                if held < min(total, index.train_size()):
                    continue
                index.train(normalise(np.concatenate([p[1] for p in pending])))
                batch, pending = pending, []
            else:
                batch = [(ids, vecs)]
            for b_ids, b_vecs in batch:
                index.add(b_ids, b_vecs)
                done += b_ids.size
                if progress is not None:
                    progress(done, total)
    index.save(index_path(store, space))
    log.info("built %s index of %s: %d vectors", index.kind, space, index.ntotal)
    return index


# Loaded indexes kept per process (a server, a benchmark, a session of searches):
# reading the file back costs its size (2 KB a vector at 512-d) on every search
# otherwise. An entry is used only while the index file is the one it was read from
# (size, mtime, inode of index and sidecar) and SQL's id statistics still match; a sync
# works on a fresh copy and replaces the entry, so a search running on the cached
# index in another thread never sees it change.
OPEN_CACHE_MAX = 8
_open_cache: OrderedDict[tuple[str, str, str, str], tuple[tuple, VectorIndex]] = OrderedDict()
_open_lock = threading.Lock()


def _file_signature(path: Path) -> tuple | None:
    try:
        a, b = path.stat(), layout.faiss_sidecar(path).stat()
    except OSError:
        return None
    return (a.st_size, a.st_mtime_ns, a.st_ino, b.st_size, b.st_mtime_ns, b.st_ino)


def _remember(key: tuple[str, str, str, str], path: Path, index: VectorIndex) -> VectorIndex:
    sig = _file_signature(path)
    with _open_lock:
        if sig is None:
            _open_cache.pop(key, None)
            return index
        _open_cache[key] = (sig, index)
        _open_cache.move_to_end(key)
        while len(_open_cache) > OPEN_CACHE_MAX:
            _open_cache.popitem(last=False)
    return index


def _cached(key: tuple[str, str, str, str], path: Path) -> VectorIndex | None:
    with _open_lock:
        entry = _open_cache.get(key)
    if entry is None or entry[0] != _file_signature(path):
        return None
    return entry[1]


def forget_open_indexes() -> None:
    """Drop the indexes kept in memory (the next open reads the files again)."""
    with _open_lock:
        _open_cache.clear()


def open_index(
    store: Any,
    space: str,
    *,
    source: VectorSource | None = None,
    kind: str = "auto",
    device: str = "cpu",
) -> VectorIndex:
    """The index of ``space``, in step with its SQL rows.

    Loads the saved index (or takes the one this process loaded from the same file)
    and compares id statistics (count, max id, id checksum) with SQL; on a difference
    adds the missing rows and removes the deleted ones incrementally, then saves.
    Rebuilds when the sidecar does not match (other model, dimension or database),
    when ``kind`` asks for another kind, or when ``auto`` would now pick another kind
    for the size. Raises NotFound when the space has no vectors."""
    source = source or vectors_source(space)
    path = index_path(store, space)
    with store.session() as s:
        sql = source.stats(s)
        dim = source.dim(s)
    if sql.count == 0 or dim is None:
        raise NotFound(f"no vectors in {source.name!r}; index some media first")
    dbid = db_id(store)
    refine = sql_refine(store, source)
    key = (str(path), space, dbid, device)
    wanted = auto_kind(sql.count) if kind == "auto" else kind
    index = _cached(key, path)
    if (index is not None and sql.same_ids(index.saved_stats) and index.kind == wanted
            and index.dim == dim):
        index.refine = refine if index.refine is not None else None
        return index
    try:
        index = VectorIndex.load(
            path, space=space, dim=dim, db_id=dbid, device=device, refine=refine
        )
    except NotFound:
        log.info("no index for %s yet; building it", space)
        return _remember(key, path, rebuild_index(store, space, source=source, kind=kind,
                                                  device=device))
    except IndexMismatch as exc:
        log.warning("%s; rebuilding", exc)
        return _remember(key, path, rebuild_index(store, space, source=source, kind=kind,
                                                  device=device))
    if index.kind != wanted:
        log.info(
            "%s index of %s: %d vectors now call for %s; rebuilding",
            index.kind,
            space,
            sql.count,
            wanted,
        )
        return _remember(key, path, rebuild_index(store, space, source=source, kind=kind,
                                                  device=device))
    saved = index.saved_stats  # the sidecar's stats describe the file (load checked it)
    if sql.same_ids(saved):
        return _remember(key, path, index)
    with store.session() as s:
        newer = source.stats_after(s, saved.max_id) if saved is not None else None
        if (newer is not None and newer.count and sql.same_ids(IdStats(
                saved.count + newer.count, newer.max_id, saved.id_sum + newer.id_sum,
                saved.id_hash + newer.id_hash))):
            # rows were only added (an ingest beside a server): read just those
            missing = source.ids_after(s, saved.max_id)
            deleted = np.empty(0, np.int64)
        else:
            sql_ids = source.ids(s)
            have = index.ids()
            deleted = np.setdiff1d(have, sql_ids, assume_unique=True)
            missing = np.setdiff1d(sql_ids, have, assume_unique=True)
        index.remove(deleted)
        for ids, vecs in source.iter_rows(s, ids=missing):
            index.add(ids, vecs)
    log.info("synced index of %s: +%d -%d vectors", space, missing.size, deleted.size)
    index.save(path)
    return _remember(key, path, index)
