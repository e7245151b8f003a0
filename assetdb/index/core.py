"""FAISS vector indexes over SQL rows.

A :class:`VectorIndex` holds the vectors of one space (one model) under their SQL
primary keys. Vectors are L2-normalised float32 and compared by inner product
(cosine). Kinds:

``flat``    exact search (``IndexIDMap2(IndexFlatIP)``).
``hnsw``    graph search (``IndexIDMap2(IndexHNSWFlat)``); FAISS cannot delete from
            HNSW, so removed ids are tombstones filtered at search time and the graph
            is rebuilt from its own stored vectors once they pass ``COMPACT_FRACTION``.
``ivf``     ``IVF<nlist>,Flat`` (ids kept in the inverted lists).
``ivfpq``   ``IVF<nlist>,PQ<m>x<nbits>``: compressed codes in RAM, and the
            ``k * k_factor`` candidates re-ranked exactly with full vectors from a
            ``refine`` callable (ids -> vectors; a disk memmap or SQL). PQ scores alone
            lose too much recall on cross-modal (text->image) queries.
``auto``    by size: flat below ``FLAT_MAX`` vectors, hnsw up to ``HNSW_MAX``,
            ivfpq above (see :func:`auto_kind`).

IVF kinds are trained on the vectors given to :meth:`VectorIndex.build` (a sample of
at most ``train_size`` of them); :meth:`VectorIndex.add` then only assigns and
encodes, so build from a representative first batch. ``open_index`` rebuilds from
SQL whenever the size crosses an ``auto`` threshold.

Files: ``<index_dir>/<slug of space>.faiss`` plus a sidecar ``.json`` recording the
space, dimension, metric, kind, parameters, id statistics and the database id;
:meth:`VectorIndex.load` refuses an index whose sidecar does not match.

faiss is imported inside functions so that ``import assetdb`` stays light.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assetdb.errors import IndexMismatch, NotFound
from assetdb.records import bytes_to_vector

log = logging.getLogger(__name__)

KINDS = ("flat", "hnsw", "ivf", "ivfpq")
METRIC = "inner_product"
FORMAT_VERSION = 1

# auto_kind thresholds (vectors). Flat costs ~0.1 ms per 1k vectors per query on
# 2 cores (numpy/BLAS scan), so it stays under ~5 ms up to 50k. HNSW keeps full
# float32 vectors plus ~2*M*4 bytes of graph per vector in RAM (~2.3 KB at 512-d),
# fine up to a few million; beyond that ivfpq keeps ~72 bytes per vector in RAM.
FLAT_MAX = 50_000
HNSW_MAX = 2_000_000

COMPACT_FRACTION = 0.1  # hnsw: rebuild once tombstones exceed this share
GPU_MAX_K = 2048  # FAISS GPU indexes return at most this many neighbours
CHUNK_ROWS = 20_000  # rows per chunk read from SQL
IN_CHUNK = 900  # ids per IN (...) clause (SQLite variable limits)

# Defaults measured with bench/search.py (clustered 512-d vectors, 2 shared cores; see
# notes/vectors.md). At 1M: hnsw efSearch 128 recall@10 0.949 at 0.31 ms p50 (64: 0.937);
# ivf 2048 lists nprobe 16 recall 1.000 at 1.3 ms; ivfpq 2048 lists PQ64x8 nprobe 16 with
# 100 candidates re-ranked recall 0.993 at 0.56 ms (2M, re-ranked from disk: 0.983, 1 ms);
# at 10M 100 candidates give 0.914 and 200 give 0.964 (4 ms), hence k_factor 20.
DEFAULTS: dict[str, dict[str, Any]] = {
    "flat": {},
    "hnsw": {"M": 32, "efConstruction": 40, "efSearch": 128},
    "ivf": {"nlist": None, "nprobe": 16},
    "ivfpq": {"nlist": None, "nprobe": 16, "m": 64, "nbits": 8, "k_factor": 20},
}
TRAIN_PER_LIST = 40  # training sample per inverted list (faiss warns below 39)

Refine = Callable[[np.ndarray], np.ndarray]


def auto_kind(n: int) -> str:
    if n <= FLAT_MAX:
        return "flat"
    if n <= HNSW_MAX:
        return "hnsw"
    return "ivfpq"


def default_nlist(n: int) -> int:
    """~2*sqrt(n) inverted lists (2048 at 1M, as measured), a power of two, with at
    least 39 training points each."""
    if n <= 0:
        return 1
    nlist = 2 ** round(math.log2(max(1.0, 2 * math.sqrt(n))))
    return int(max(1, min(nlist, 65536, n // 39)))


def normalise(x: np.ndarray, dim: int | None = None) -> np.ndarray:
    """A C-contiguous float32 copy of ``x`` (2-d) with unit rows (zero rows stay zero)."""
    a = np.array(x, dtype=np.float32, copy=True, order="C")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise IndexMismatch(f"vectors must be a 2-d array, got shape {a.shape}")
    if dim is not None and a.shape[1] != dim:
        raise IndexMismatch(f"vectors have dimension {a.shape[1]}, the index has {dim}")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    np.divide(a, norms, out=a, where=norms > 0)
    return a


def _as_ids(ids: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).ravel())


# id statistics: a cheap fingerprint of an id set, computed alike in numpy and SQL
_HASH_MUL = 2654435761
_HASH_MOD = 4294967311


@dataclass(frozen=True)
class IdStats:
    count: int
    max_id: int
    id_sum: int
    id_hash: int

    @classmethod
    def of(cls, ids: np.ndarray) -> IdStats:
        ids = _as_ids(ids)
        if ids.size == 0:
            return cls(0, -1, 0, 0)
        return cls(
            count=int(ids.size),
            max_id=int(ids.max()),
            id_sum=int(ids.sum(dtype=np.int64)),
            id_hash=int(((ids * _HASH_MUL) % _HASH_MOD).sum(dtype=np.int64)),
        )


# ---------------------------------------------------------------------------
# The index


class VectorIndex:
    """A FAISS index of one vector space whose ids are SQL primary keys."""

    def __init__(
        self,
        index: Any,
        *,
        space: str,
        dim: int,
        kind: str,
        params: dict[str, Any],
        db_id: str | None = None,
        device: str = "cpu",
        refine: Refine | None = None,
        tombstones: np.ndarray | None = None,
    ):
        self._index = index  # always the CPU index; the GPU copy is derived
        self.space = space
        self.dim = dim
        self.kind = kind
        self.params = dict(params)
        self.db_id = db_id
        self.device = device
        self.refine = refine
        self._tombstones = _as_ids(tombstones) if tombstones is not None else np.empty(0, np.int64)
        self._gpu: Any = None
        self._gpu_stale = True
        self._warned_no_refine = False
        self.saved_stats: IdStats | None = None  # id statistics of the file it was loaded from
        self._apply_search_params()

    # -- construction -------------------------------------------------------

    @classmethod
    def build(
        cls,
        ids: Any,
        vectors: Any,
        *,
        space: str,
        kind: str = "auto",
        device: str = "cpu",
        db_id: str | None = None,
        refine: Refine | None = None,
        **params: Any,
    ) -> VectorIndex:
        """Build an index of ``kind`` over ``vectors`` (n, dim) under ``ids``.

        IVF kinds are trained here on (a sample of) these vectors. ``params``
        override :data:`DEFAULTS` (``nlist``, ``nprobe``, ``M``, ``efConstruction``,
        ``efSearch``, ``m``, ``nbits``, ``k_factor``, ``train_size``)."""
        x = normalise(vectors)
        ids = _as_ids(ids)
        if ids.size != x.shape[0]:
            raise IndexMismatch(f"{ids.size} ids for {x.shape[0]} vectors")
        n, dim = x.shape
        index = cls.empty(
            dim,
            space=space,
            kind=kind,
            n_hint=n,
            device=device,
            db_id=db_id,
            refine=refine,
            **params,
        )
        if index.kind in ("ivf", "ivfpq"):
            index.train(x)
        index.add(ids, x)
        return index

    @classmethod
    def empty(
        cls,
        dim: int,
        *,
        space: str,
        kind: str = "auto",
        n_hint: int = 0,
        device: str = "cpu",
        db_id: str | None = None,
        refine: Refine | None = None,
        **params: Any,
    ) -> VectorIndex:
        """An untrained, empty index; IVF kinds need :meth:`train` before :meth:`add`.
        ``n_hint`` (expected size) picks the ``auto`` kind and the default ``nlist``."""
        import faiss

        if kind == "auto":
            kind = auto_kind(n_hint)
        if kind not in KINDS:
            raise IndexMismatch(f"unknown index kind {kind!r}; expected one of {', '.join(KINDS)}")
        unknown = set(params) - set(DEFAULTS[kind]) - {"train_size"}
        if unknown:
            raise IndexMismatch(f"unknown parameters for a {kind} index: {sorted(unknown)}")
        p = {**DEFAULTS[kind], **params}
        metric = faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        elif kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, int(p["M"]), metric)
            inner.hnsw.efConstruction = int(p["efConstruction"])
            index = faiss.IndexIDMap2(inner)
        else:
            if p.get("nlist") is None:
                p["nlist"] = default_nlist(n_hint)
            nlist = int(p["nlist"])
            # a flat coarse quantizer costs nlist*dim per query and per added vector;
            # past 4096 lists an HNSW over the centroids is much cheaper
            coarse = f"IVF{nlist}_HNSW32" if nlist > 4096 else f"IVF{nlist}"
            if kind == "ivf":
                codec = "Flat"
            else:
                if "m" not in params:  # the largest sub-quantizer count <= 64 dividing dim
                    p["m"] = max(d for d in range(1, int(p["m"]) + 1) if dim % d == 0)
                m, nbits = int(p["m"]), int(p["nbits"])
                if dim % m:
                    raise IndexMismatch(f"PQ m={m} must divide the dimension {dim}")
                codec = f"PQ{m}x4fs" if nbits == 4 else f"PQ{m}x{nbits}"
            index = faiss.index_factory(dim, f"{coarse},{codec}", metric)
            ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
            ivf.cp.niter = 10
            if kind == "ivfpq" and nbits != 4:
                # the factory turns on polysemous training (Hamming-ordered codes we never
                # use); it multiplies training time by ~10
                ivf.do_polysemous_training = False
                ivf.pq.cp.niter = 10
        return cls(
            index,
            space=space,
            dim=dim,
            kind=kind,
            params=p,
            db_id=db_id,
            device=device,
            refine=refine,
        )

    def train(self, vectors: Any) -> None:
        """Train an IVF kind's quantizers on a sample of ``vectors`` (a no-op otherwise)."""
        if self.kind not in ("ivf", "ivfpq") or self._index.is_trained:
            return
        x = (
            vectors
            if (
                isinstance(vectors, np.ndarray)
                and vectors.dtype == np.float32
                and vectors.flags.c_contiguous
            )
            else normalise(vectors, self.dim)
        )
        nlist = int(self.params["nlist"])
        size = self.train_size()
        if x.shape[0] > size:
            rng = np.random.default_rng(0)
            x = x[np.sort(rng.choice(x.shape[0], size, replace=False))]
        need = max(nlist, 2 ** int(self.params.get("nbits", 0)))
        if x.shape[0] < need:
            raise IndexMismatch(
                f"cannot train a {self.kind} index ({nlist} lists) on {x.shape[0]} vectors; "
                f"it needs at least {need}: use fewer lists (nlist=) or the flat kind"
            )
        log.info("training %s (nlist=%d) on %d vectors", self.kind, nlist, x.shape[0])
        self._index.train(x)
        self._apply_search_params()
        self._gpu_stale = True

    def train_size(self) -> int:
        """How many vectors :meth:`train` uses (a random sample when given more)."""
        size = int(self.params.get("train_size") or TRAIN_PER_LIST * int(self.params["nlist"]))
        if self.kind == "ivfpq":
            size = max(size, 64 * 2 ** int(self.params["nbits"]))  # PQ codebooks
        return size

    # -- mutation -----------------------------------------------------------

    def add(self, ids: Any, vectors: Any) -> None:
        """Add vectors under new ids. Ids must not be in the index already (remove
        them first): checking would cost a scan of the index per call."""
        ids = _as_ids(ids)
        x = normalise(vectors, self.dim)
        if ids.size != x.shape[0]:
            raise IndexMismatch(f"{ids.size} ids for {x.shape[0]} vectors")
        if ids.size == 0:
            return
        if not self._index.is_trained:
            raise IndexMismatch(f"the {self.kind} index is not trained; build it first")
        if self.kind == "hnsw" and np.isin(ids, self._tombstones).any():
            self._compact()  # a tombstoned id coming back: drop the old vector for good
        self._index.add_with_ids(x, ids)
        self._gpu_stale = True

    def remove(self, ids: Any) -> int:
        """Remove ids (missing ones are ignored); returns how many were removed."""
        import faiss

        ids = np.unique(_as_ids(ids))
        if ids.size == 0:
            return 0
        if self.kind == "hnsw":
            live = self.ids()
            gone = ids[np.isin(ids, live)]
            self._tombstones = np.union1d(self._tombstones, gone)
            if self._tombstones.size > COMPACT_FRACTION * max(1, self._index.ntotal):
                self._compact()
            self._gpu_stale = True
            return int(gone.size)
        n = int(self._index.remove_ids(faiss.IDSelectorBatch(ids.size, faiss.swig_ptr(ids))))
        self._gpu_stale = True
        return n

    def _compact(self) -> None:
        """Rebuild the HNSW graph from its stored vectors without the tombstones."""
        import faiss

        all_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        keep = ~np.isin(all_ids, self._tombstones)
        inner = faiss.downcast_index(self._index.index)
        x = inner.reconstruct_n(0, inner.ntotal)[keep] if inner.ntotal else None
        fresh = VectorIndex.empty(
            self.dim, space=self.space, kind="hnsw", **{k: self.params[k] for k in DEFAULTS["hnsw"]}
        )
        if x is not None and x.shape[0]:
            fresh._index.add_with_ids(x, all_ids[keep])
        log.info("compacted hnsw index: %d -> %d vectors", all_ids.size, int(keep.sum()))
        self._index = fresh._index
        self._tombstones = np.empty(0, np.int64)
        self._apply_search_params()
        self._gpu_stale = True

    # -- queries ------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal) - int(self._tombstones.size)

    def ids(self) -> np.ndarray:
        """All ids in the index, sorted."""
        import faiss

        if self.kind in ("flat", "hnsw"):
            all_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            if self._tombstones.size:
                all_ids = all_ids[~np.isin(all_ids, self._tombstones)]
            return np.sort(all_ids)
        ivf = faiss.extract_index_ivf(self._index)
        invlists = ivf.invlists
        parts = []
        for lst in range(ivf.nlist):
            size = invlists.list_size(lst)
            if size:
                ptr = invlists.get_ids(lst)
                parts.append(faiss.rev_swig_ptr(ptr, size).copy())
                invlists.release_ids(lst, ptr)
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def id_stats(self) -> IdStats:
        return IdStats.of(self.ids())

    def set_search_params(self, **params: Any) -> None:
        """Change search-time parameters (``nprobe``, ``efSearch``, ``k_factor``)."""
        allowed = {"nprobe", "efSearch", "k_factor"} & set(DEFAULTS[self.kind])
        unknown = set(params) - allowed
        if unknown:
            raise IndexMismatch(f"not search parameters of a {self.kind} index: {sorted(unknown)}")
        self.params.update(params)
        self._apply_search_params()
        self._gpu_stale = True

    def _apply_search_params(self) -> None:
        import faiss

        if self.kind == "hnsw":
            faiss.downcast_index(self._index.index).hnsw.efSearch = int(self.params["efSearch"])
        elif self.kind in ("ivf", "ivfpq"):
            ivf = faiss.extract_index_ivf(self._index)
            ivf.nprobe = int(self.params["nprobe"])
            quantizer = faiss.downcast_index(ivf.quantizer)
            if isinstance(quantizer, faiss.IndexHNSW):
                quantizer.hnsw.efSearch = max(64, 2 * ivf.nprobe)

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best ids per query, best first: ``(scores, ids)``, both (nq, k).
        Scores are inner products (cosine); missing results have id -1 and score -inf.
        ivfpq re-ranks ``k * k_factor`` candidates with exact scores from ``refine``
        (without one the PQ estimates are returned)."""
        q = normalise(queries, self.dim)
        k = int(k)
        if k <= 0:
            raise ValueError("k must be positive")
        kk = k * int(self.params.get("k_factor", 1)) if self.refine is not None else k
        if self.kind == "ivfpq" and self.refine is None and not self._warned_no_refine:
            log.warning("ivfpq index of %s searched without re-ranking: recall suffers", self.space)
            self._warned_no_refine = True
        if self.device in ("cuda", "gpu"):
            kk = min(kk, max(k, GPU_MAX_K))
        scores, ids = self._raw_search(q, kk)
        if self.kind == "ivfpq" and self.refine is not None:
            scores, ids = self._rerank(q, ids, k)
        scores = scores[:, :k].astype(np.float32)
        ids = ids[:, :k].astype(np.int64)
        scores[ids < 0] = -np.inf
        return scores, ids

    def _raw_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        gpu = self._gpu_index()
        if gpu is not None:
            scores, labels = gpu.search(q, k)
            if self.kind == "flat":  # the GPU copy holds the inner index: map rows to ids
                id_map = faiss.vector_to_array(self._index.id_map).astype(np.int64)
                labels = np.where(labels >= 0, id_map[np.maximum(labels, 0)], -1)
            return scores, labels
        if self.kind == "hnsw" and self._tombstones.size:
            self._tomb_sel = faiss.IDSelectorBatch(
                self._tombstones.size, faiss.swig_ptr(self._tombstones)
            )
            self._not_sel = faiss.IDSelectorNot(self._tomb_sel)
            sp = faiss.SearchParametersHNSW()
            sp.efSearch = int(self.params["efSearch"])
            sp.sel = self._not_sel
            return self._index.search(q, k, params=sp)
        return self._index.search(q, k)

    def _rerank(self, q: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self.refine is not None
        uniq = np.unique(cand[cand >= 0])
        out_s = np.full((q.shape[0], k), -np.inf, np.float32)
        out_i = np.full((q.shape[0], k), -1, np.int64)
        if uniq.size == 0:
            return out_s, out_i
        full = normalise(self.refine(uniq), self.dim)
        if full.shape[0] != uniq.size:
            raise IndexMismatch(f"refine returned {full.shape[0]} vectors for {uniq.size} ids")
        rows = np.searchsorted(uniq, np.maximum(cand, 0))
        for i in range(q.shape[0]):
            valid = cand[i] >= 0
            ci, ri = cand[i][valid], rows[i][valid]
            s = full[ri] @ q[i]
            top = np.argsort(-s, kind="stable")[:k]
            out_s[i, : top.size] = s[top]
            out_i[i, : top.size] = ci[top]
        return out_s, out_i

    # -- GPU ----------------------------------------------------------------

    def _gpu_index(self) -> Any:
        """The GPU copy of the index (made lazily), or None to search on the CPU."""
        if self.device not in ("cuda", "gpu"):
            return None
        if self._gpu is not None and not self._gpu_stale:
            return self._gpu
        import faiss

        self._gpu = None
        if faiss.get_num_gpus() == 0:
            log.warning("device %r asked for but FAISS sees no GPU; searching on CPU", self.device)
            self.device = "cpu"
            return None
        if self.kind == "hnsw" or (self.kind == "ivfpq" and int(self.params["nbits"]) == 4):
            log.warning("FAISS has no GPU version of this %s index; searching on CPU", self.kind)
            self.device = "cpu"
            return None
        inner = self._index.index if self.kind == "flat" else self._index
        try:
            co = faiss.GpuMultipleClonerOptions()
            co.useFloat16 = True  # fp16 storage / lookup tables: half the memory, same ranking
            self._gpu = faiss.index_cpu_to_all_gpus(inner, co)
            self._apply_gpu_params()
        except Exception as exc:  # noqa: BLE001 - any FAISS GPU failure falls back to CPU
            log.warning(
                "cannot move the %s index to the GPU (%s); searching on CPU", self.kind, exc
            )
            self.device = "cpu"
            self._gpu = None
            return None
        self._gpu_stale = False
        return self._gpu

    def _apply_gpu_params(self) -> None:
        import faiss

        if self.kind in ("ivf", "ivfpq"):
            faiss.GpuParameterSpace().set_index_parameter(
                self._gpu, "nprobe", int(self.params["nprobe"])
            )

    # -- persistence --------------------------------------------------------

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
            tmp_side.write_text(json.dumps(self.sidecar(), indent=1))
            os.replace(tmp_index, path)
            os.replace(tmp_side, side)
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
    return Path(path).with_suffix(".json")


def memmap_refine(path: str | Path, dim: int) -> Refine:
    """A refine source over a float32 (n, dim) file whose row numbers are the ids."""
    mm = np.memmap(path, dtype=np.float32, mode="r").reshape(-1, dim)

    def fetch(ids: np.ndarray) -> np.ndarray:
        return np.asarray(mm[np.asarray(ids, dtype=np.int64)])

    return fetch


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

    def _filtered(self, stmt: Any) -> Any:
        return stmt if self.where is None else stmt.where(self.where)

    def stats(self, session: Session) -> IdStats:
        ic = self.id_col
        row = session.execute(
            self._filtered(
                select(
                    func.count(ic),
                    func.max(ic),
                    func.sum(ic),
                    func.sum((ic * literal(_HASH_MUL)) % literal(_HASH_MOD)),
                )
            )
        ).one()
        count = int(row[0] or 0)
        if count == 0:
            return IdStats(0, -1, 0, 0)
        return IdStats(count, int(row[1]), int(row[2]), int(row[3]))

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
            ids = np.unique(_as_ids(ids))
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
        name=space, id_col=Vector.id, vector_col=Vector.data, where=Vector.space == space
    )


def sql_refine(store: Any, source: VectorSource) -> Refine:
    """A refine callable reading full vectors of candidate ids from SQL."""

    def fetch(ids: np.ndarray) -> np.ndarray:
        ids = _as_ids(ids)
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
    """The index file of a space: a readable slug plus a short hash (slugs can collide)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:80] or "index"
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return Path(store.settings.index_dir) / f"{slug}-{digest}.faiss"


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


def open_index(
    store: Any,
    space: str,
    *,
    source: VectorSource | None = None,
    kind: str = "auto",
    device: str = "cpu",
) -> VectorIndex:
    """The index of ``space``, in step with its SQL rows.

    Loads the saved index and compares id statistics (count, max id, id checksum)
    with SQL; on a difference adds the missing rows and removes the deleted ones
    incrementally, then saves. Rebuilds when the sidecar does not match (other
    model, dimension or database), when ``kind`` asks for another kind, or when
    ``auto`` would now pick another kind for the size. Raises NotFound when the
    space has no vectors."""
    source = source or vectors_source(space)
    path = index_path(store, space)
    with store.session() as s:
        sql = source.stats(s)
        dim = source.dim(s)
    if sql.count == 0 or dim is None:
        raise NotFound(f"no vectors in {source.name!r}; index some media first")
    dbid = db_id(store)
    refine = sql_refine(store, source)
    try:
        index = VectorIndex.load(
            path, space=space, dim=dim, db_id=dbid, device=device, refine=refine
        )
    except NotFound:
        log.info("no index for %s yet; building it", space)
        return rebuild_index(store, space, source=source, kind=kind, device=device)
    except IndexMismatch as exc:
        log.warning("%s; rebuilding", exc)
        return rebuild_index(store, space, source=source, kind=kind, device=device)
    wanted = auto_kind(sql.count) if kind == "auto" else kind
    if index.kind != wanted:
        log.info(
            "%s index of %s: %d vectors now call for %s; rebuilding",
            index.kind,
            space,
            sql.count,
            wanted,
        )
        return rebuild_index(store, space, source=source, kind=kind, device=device)
    if index.saved_stats == sql:  # the sidecar's stats describe the file (load checked it)
        return index
    with store.session() as s:
        sql_ids = source.ids(s)
        have = index.ids()
        deleted = np.setdiff1d(have, sql_ids, assume_unique=True)
        missing = np.setdiff1d(sql_ids, have, assume_unique=True)
        index.remove(deleted)
        for ids, vecs in source.iter_rows(s, ids=missing):
            index.add(ids, vecs)
    log.info("synced index of %s: +%d -%d vectors", space, missing.size, deleted.size)
    index.save(path)
    return index
