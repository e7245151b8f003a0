"""Saving and loading a :class:`~assetdb.index.core.VectorIndex`: the FAISS file plus a
sidecar JSON (space, dimension, metric, kind, parameters, id statistics, database id),
written atomically; loading refuses a file whose sidecar does not match."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assetdb import layout
from assetdb.errors import IndexMismatch, NotFound
from assetdb.index.params import FORMAT_VERSION, KINDS, METRIC, IdStats, Refine

if TYPE_CHECKING:
    from assetdb.index.core import VectorIndex


class Persistent:
    """The persistence half of VectorIndex (a mixin over its FAISS index and tombstones)."""

    _index: Any
    _tombstones: np.ndarray
    space: str
    dim: int
    kind: str
    params: dict[str, Any]
    db_id: str | None
    saved_stats: IdStats | None
    id_stats: Callable[[], IdStats]  # VectorIndex's

    def sidecar(self) -> dict[str, Any]:
        import faiss

        st = self.id_stats()
        return {
            "format": FORMAT_VERSION,
            "space": self.space,
            "dim": self.dim,
            "metric": METRIC,
            "kind": self.kind,
            "params": self.params,
            "count": st.count,
            "max_id": st.max_id,
            "id_sum": st.id_sum,
            "id_hash": st.id_hash,
            "stored": int(self._index.ntotal),
            "tombstones": self._tombstones.tolist(),
            "db_id": self.db_id,
            "faiss_version": faiss.__version__,
        }

    def save(self, path: str | Path) -> None:
        """Write the index and its sidecar atomically (temp files + os.replace)."""
        import faiss

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        side = sidecar_path(path)
        tmp_index = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp_side = side.with_name(f".{side.name}.{os.getpid()}.tmp")
        try:
            faiss.write_index(self._index, str(tmp_index))  # always the CPU index
            meta = self.sidecar()
            tmp_side.write_text(json.dumps(meta, indent=1))
            os.replace(tmp_index, path)
            os.replace(tmp_side, side)
            self.saved_stats = IdStats(meta["count"], meta["max_id"], meta["id_sum"],
                                       meta["id_hash"])
        finally:
            for t in (tmp_index, tmp_side):
                t.unlink(missing_ok=True)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        space: str,
        dim: int | None = None,
        db_id: str | None = None,
        device: str = "cpu",
        refine: Refine | None = None,
    ) -> VectorIndex:
        """Load an index saved by :meth:`save`; raises IndexMismatch when its sidecar
        names another space, dimension or database, or does not match the file."""
        import faiss

        path = Path(path)
        side = sidecar_path(path)
        if not path.is_file():
            raise NotFound(f"no vector index at {path}")
        try:
            meta = json.loads(side.read_text())
        except (OSError, ValueError) as exc:
            raise IndexMismatch(
                f"the index {path} has no readable sidecar {side.name}: {exc}"
            ) from exc
        if meta.get("format") != FORMAT_VERSION or meta.get("metric") != METRIC:
            raise IndexMismatch(f"the index {path} has an unknown format or metric; rebuild it")
        if meta.get("space") != space:
            raise IndexMismatch(
                f"the index {path} holds vectors of {meta.get('space')!r}, not {space!r}; "
                f"mixing models is refused (rebuild the index for {space!r})"
            )
        if dim is not None and meta.get("dim") != dim:
            raise IndexMismatch(
                f"the index {path} has dimension {meta.get('dim')}, the vectors have {dim}"
            )
        if db_id is not None and meta.get("db_id") != db_id:
            raise IndexMismatch(
                f"the index {path} belongs to database {meta.get('db_id')}, not {db_id}"
            )
        if meta.get("kind") not in KINDS:
            raise IndexMismatch(f"the index {path} has an unknown kind {meta.get('kind')!r}")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexMismatch(f"cannot read the index {path}: {exc}") from exc
        if index.d != meta["dim"] or index.ntotal != meta.get("stored"):
            raise IndexMismatch(
                f"the index {path} ({index.ntotal} vectors, dimension {index.d}) does not match "
                f"its sidecar ({meta.get('stored')} vectors, dimension {meta['dim']})"
            )
        loaded = cls(
            index,
            space=space,
            dim=int(meta["dim"]),
            kind=meta["kind"],
            params=meta["params"],
            db_id=meta.get("db_id"),
            device=device,
            refine=refine,
            tombstones=np.asarray(meta.get("tombstones", []), np.int64),
        )
        loaded.saved_stats = IdStats(
            int(meta["count"]), int(meta["max_id"]), int(meta["id_sum"]), int(meta["id_hash"])
        )
        return loaded


def sidecar_path(path: Path) -> Path:
    return layout.faiss_sidecar(Path(path))


def memmap_refine(path: str | Path, dim: int) -> Refine:
    """A refine source over a float32 (n, dim) file whose row numbers are the ids."""
    mm = np.memmap(path, dtype=np.float32, mode="r").reshape(-1, dim)

    def fetch(ids: np.ndarray) -> np.ndarray:
        return np.asarray(mm[np.asarray(ids, dtype=np.int64)])

    return fetch
